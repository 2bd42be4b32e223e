"""The Python ecosystem against kubelite: the official client (the installed one and 33.x) and a kopf operator.

Why subprocesses: two versions of ``kubernetes`` cannot be imported in one
interpreter, and an operator is a separate process anyway. The client
scenario is tests/pyclient_scenario.py. It runs once with the client that
pyproject.toml's range installed (the newest it allows), and once with the
oldest release the range admits (33.x), which ``.ci/run`` installs before the
run into a directory named by KUBELITE_K8S33_PATH, put first on PYTHONPATH
(tests download nothing). The server keeps few changes (``--keep-changes``)
so that a watch from an old resourceVersion gets 410 Gone.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import ApiServerProcess, running_apiserver

HERE = Path(__file__).parent
OLDEST = "33"  # the lower bound of pyproject.toml's kubernetes range
KEEP_CHANGES = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("pyclient"), extra=["--keep-changes", str(KEEP_CHANGES)]) as srv:
        yield srv


@pytest.fixture
def http(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def ns(http: httpx.Client) -> str:
    name = f"py-{os.getpid()}-{next(_counter)}"
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def run_scenario(url: str, ns: str, pythonpath: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, str(HERE / "pyclient_scenario.py"), url, ns, str(KEEP_CHANGES + 5)],
                       capture_output=True, text=True, timeout=180, env=env, check=False)
    assert p.returncode == 0, p.stderr[-4000:]
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.parametrize("release", ["installed", OLDEST])
def test_official_client(server: ApiServerProcess, ns: str, release: str) -> None:
    path = needs.k8s_client(release) if release == OLDEST else None
    out = run_scenario(server.url, ns, path)
    expected = importlib.metadata.version("kubernetes") if path is None else f"{OLDEST}."
    assert out["version"].startswith(expected), (out["version"], expected)
    assert out["create_managers"] == [["OpenAPI-Generator", "Update"]]
    assert out["already_exists"] == [409, "AlreadyExists", 'services "the-bus" already exists']
    assert out["listed"] == ["the-bus"]
    assert out["json_patch_target_port"] == 9090
    assert out["ssa_target_port"] == 7070
    assert out["ssa_managers"] == [["OpenAPI-Generator", "Update"], ["py", "Apply"]]
    assert out["ssa_conflict"] == [409, "Conflict", 'Apply failed with 1 conflict: conflict with "py": '
                                                    '.spec.ports[port=8080,protocol="TCP"].targetPort']
    assert out["ssa_created"] == ["ssa-made", [["py", "Apply"]]]
    assert out["not_found"] == [404, "NotFound", 'services "dict-svc" not found']
    assert out["watch"] == [["ADDED", "w1"], ["MODIFIED", "w1"], ["DELETED", "w1"]]
    assert out["watch_list"] == [["ADDED", "ssa-made"], ["ADDED", "the-bus"],
                                 ["BOOKMARK", {"k8s.io/initial-events-end": "true"}]]
    status, reason = out["gone"]
    assert status == 410 and reason.startswith("Expired: too old resource version: ")
    assert out["after_relist"] == [["ADDED", "after-410"]]


OPERATOR = '''
import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.watching.server_timeout = 30
    settings.posting.level = 100  # no k8s events for handler logs


@kopf.on.create("v1", "services")
def on_create(spec, patch, **_):
    patch.metadata.annotations["kubelite.io/seen-by"] = "kopf"
    patch.metadata.annotations["kubelite.io/ports"] = ",".join(str(p["port"]) for p in spec.get("ports", []))


@kopf.on.update("v1", "services")
def on_update(new, patch, **_):
    patch.metadata.annotations["kubelite.io/tier"] = new["metadata"].get("labels", {}).get("tier", "")
'''


def wait_for(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_kopf_operator_annotates_services(server: ApiServerProcess, http: httpx.Client, ns: str,
                                          tmp_path: Path) -> None:
    pytest.importorskip("kopf")
    (tmp_path / "operator.py").write_text(OPERATOR)
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server.url}\n"
        "users:\n- name: k\n  user: {}\n"
        "contexts:\n- name: k\n  context:\n    cluster: k\n    user: k\n"
        "current-context: k\n"
    )
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}
    log = (tmp_path / "kopf.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", f"--namespace={ns}",
                             str(tmp_path / "operator.py")], stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path)
    path = f"/api/v1/namespaces/{ns}/services/the-bus"

    def annotations() -> dict[str, str]:
        r = http.get(path)
        return dict(r.json()["metadata"].get("annotations") or {}) if r.status_code == 200 else {}

    try:
        r = http.post(f"/api/v1/namespaces/{ns}/services", json={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "the-bus"},
            "spec": {"selector": {"env": "marvel"}, "ports": [{"name": "a", "port": 8080}, {"name": "b", "port": 9090}]}})
        assert r.status_code == 201, r.text
        got = wait_for(lambda: annotations().get("kubelite.io/seen-by") and annotations())
        assert got["kubelite.io/seen-by"] == "kopf" and got["kubelite.io/ports"] == "8080,9090"
        assert "kopf.zalando.org/last-handled-configuration" in got
        r = http.patch(path, json={"metadata": {"labels": {"tier": "web"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
        wait_for(lambda: annotations().get("kubelite.io/tier") == "web")
        mf = {e["manager"] for e in http.get(path).json()["metadata"]["managedFields"]}
        assert "kopf" in mf
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
    text = (tmp_path / "kopf.log").read_text()
    assert "Handler 'on_create' succeeded" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
