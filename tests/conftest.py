"""Shared fixtures: real API server processes on 127.0.0.1 with free ports, always stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_apiserver(data_dir: Path, *, port: int | None = None, extra: list[str] | None = None,
                    env: dict[str, str] | None = None) -> ApiServerProcess:
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
                return ApiServerProcess(url, port, data_dir, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"apiserver did not become ready: {log.read_text()[-3000:]}")


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
    return name
