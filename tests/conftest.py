"""Shared fixtures: real API server processes on 127.0.0.1 with free ports, always stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs


def pytest_configure(config: pytest.Config) -> None:
    """The run writes nothing outside the repository's own files and the system temp dir.

    HOME points at a temp dir for the whole run, so what tests start (kubectl's ~/.kube/cache, kopf,
    the Python client) neither reads the user's ~/.kube/config nor writes beside it; hypothesis keeps
    its caches there too instead of a .hypothesis/ folder in the repository.
    """
    scratch = Path(tempfile.mkdtemp(prefix="kubelite-tests-"))
    (scratch / "home").mkdir()
    os.environ["HOME"] = str(scratch / "home")
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(scratch / "hypothesis")
    config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServerProcess:
    url: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path
    # controller processes started beside it (the serviceaccount controller), stopped with it
    companions: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._stop_companions()

    def _stop_companions(self) -> None:
        for c in self.companions:
            stop_process(c)
        self.companions.clear()

    def stop(self) -> None:
        self._stop_companions()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; waits for the exit."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def start_serviceaccount_controller(url: str, log: Path) -> subprocess.Popen[bytes]:
    """The serviceaccount controller on ``url`` (no leader election: no Lease writes to count).

    Why every test server has one: as in Kubernetes, a Pod is admitted only when its
    ServiceAccount (``default`` unless it names one) exists, and the controller is what puts
    ``default`` into each namespace.
    """
    cmd = [sys.executable, "-m", "kubelite.cli", "controller", "serviceaccount", "--server", url,
           "--no-leader-elect", "--workers", "1", "--log-level", "WARNING"]
    return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)


SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def wait_for_default_accounts(url: str, namespaces: tuple[str, ...], *, timeout: float = 60) -> None:
    """Until the serviceaccount controller has put ``default`` into each namespace (Pods need it)."""
    deadline = time.monotonic() + timeout
    for ns in namespaces:
        while True:
            try:
                if httpx.get(f"{url}/api/v1/namespaces/{ns}/serviceaccounts/default", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no default ServiceAccount in {ns} after {timeout}s")
            time.sleep(0.05)


def start_apiserver(data_dir: Path, *, port: int | None = None, extra: list[str] | None = None,
                    env: dict[str, str] | None = None, service_accounts: bool = True) -> ApiServerProcess:
    """An API server process on 127.0.0.1, ready; with ``service_accounts``, its serviceaccount controller."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"apiserver-{port}.log"
    cmd = [sys.executable, "-m", "kubelite.cli", "apiserver", "--port", str(port), "--data-dir", str(data_dir),
           "--log-level", "warning", *(extra or [])]
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"apiserver exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                srv = ApiServerProcess(url, port, data_dir, proc, log)
                if service_accounts:
                    srv.companions.append(start_serviceaccount_controller(url, data_dir / f"sa-controller-{port}.log"))
                    wait_for_default_accounts(url, SYSTEM_NAMESPACES)
                return srv
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"apiserver did not become ready: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_apiserver(data_dir: Path, **kwargs: Any) -> Iterator[ApiServerProcess]:
    """``start_apiserver(data_dir, **kwargs)``, stopped (with its companions) when the block ends:
    the body of every module-scoped server fixture."""
    srv = start_apiserver(data_dir, **kwargs)
    try:
        yield srv
    finally:
        srv.stop()


def fresh_pg_database() -> str:
    """A new, empty PostgreSQL database on the test server; its SQLAlchemy URL."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(needs.pg_url())
    name = "kl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on PostgreSQL (skipped without KUBELITE_TEST_PG_URL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'k.db'}"
    needs.pg_url()
    return fresh_pg_database()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def apiserver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """One API server per backend shared by a session's tests (each test uses its own namespace)."""
    extra: list[str] = []
    if request.param == "postgres":
        needs.pg_url()
        extra = ["--db", fresh_pg_database()]
    srv = start_apiserver(tmp_path_factory.mktemp("apiserver"), extra=extra)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def api(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=10) as c:
        yield c


_ns_counter = iter(range(1, 1_000_000))


@pytest.fixture
def ns(api: httpx.Client) -> str:
    """A fresh namespace for one test."""
    name = f"t{os.getpid()}-{next(_ns_counter)}"
    r = api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    wait_for_default_accounts(str(api.base_url).rstrip("/"), (name,))
    return name


@pytest.fixture
def kubectl_env(apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment for real kubectl against the session's API server: its own kubeconfig and HOME."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {apiserver.url}\n"
        "users:\n- name: k\n  user: {}\n"
        "contexts:\n- name: k\n  context:\n    cluster: k\n    user: k\n"
        "current-context: k\n"
    )
    yield {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}


def run_kubectl(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """kubectl ARGS in ``cwd`` with ``env`` (see ``kubectl_env``), its discovery cache under ``cwd``."""
    return subprocess.run([needs.kubectl(), f"--cache-dir={cwd / 'cache'}", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60, check=False, input=stdin)
