"""``kubelite up`` as a user runs it: everything starts, works, survives a restart and a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

SHIELD = """
apiVersion: v1
kind: Namespace
metadata: {name: shield}
---
apiVersion: v1
kind: Service
metadata: {name: the-bus, namespace: shield}
spec:
  type: NodePort
  selector: {env: marvel}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: triskelion, namespace: shield, labels: {env: marvel}}
spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: playground, namespace: shield, labels: {env: marvel}}
spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]}
"""


class Up:
    def __init__(self, data_dir: Path, port: int, dns_port: int) -> None:
        self.data_dir, self.port, self.dns_port = data_dir, port, dns_port
        self.log = data_dir.parent / f"up-{port}.log"
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(data_dir), "--port", str(port),
             "--dns-port", str(dns_port), "--nodes", "2"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 60) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if "kubelite is ready" in self.log.read_text(errors="replace")[self.offset:]:
                return time.monotonic() - start
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            time.sleep(0.1)
        raise AssertionError("kubelite up not ready: " + self.log.read_text()[-4000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    u = Up(tmp_path / "kl", free_port(), free_port())
    try:
        yield u
    finally:
        u.stop()


def kubectl(up: Up, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(up.data_dir / "kubeconfig")}
    return subprocess.run(["kubectl", "--cache-dir", str(up.data_dir / "kcache"), *args], capture_output=True,
                          text=True, env=env, timeout=60)


def eventually(fn: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = fn()
            if result:
                return result
        except (AssertionError, KeyError, httpx.HTTPError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def dns_a(up: Up, name: str) -> list[str]:
    import dns.message
    import dns.query
    import dns.rdatatype

    q = dns.message.make_query(name, dns.rdatatype.A)
    r = dns.query.udp(q, "127.0.0.1", port=up.dns_port, timeout=2)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


@pytest.mark.skipif(not any((Path(p) / "kubectl").exists() for p in os.environ.get("PATH", "").split(":")),
                    reason="kubectl not installed")
def test_up_runs_the_whole_system_and_keeps_state_across_restarts(up: Up, tmp_path: Path) -> None:
    elapsed = up.wait_ready()
    assert elapsed < 30
    manifest = tmp_path / "shield.yml"
    manifest.write_text(SHIELD)
    r = kubectl(up, "apply", "-f", str(manifest))
    assert r.returncode == 0, r.stderr
    api = httpx.Client(base_url=up.url, timeout=5)

    def allocated() -> dict[str, Any] | None:
        svc = api.get("/api/v1/namespaces/shield/services/the-bus").json()
        ok = svc["spec"].get("clusterIP") and svc["spec"]["ports"][0].get("nodePort")
        return svc if ok else None

    svc = eventually(allocated)
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]

    def endpoints() -> list[str]:
        ep = api.get("/api/v1/namespaces/shield/endpoints/the-bus").json()
        addrs = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
        return addrs if len(addrs) == 2 else []

    addrs = eventually(endpoints)
    assert all(a.startswith("10.85.") for a in addrs)
    assert eventually(lambda: dns_a(up, "the-bus.shield.svc.cluster.local")) == [ip]

    up.stop()
    again = Up(up.data_dir, up.port, up.dns_port)
    try:
        again.wait_ready()
        svc2 = api.get("/api/v1/namespaces/shield/services/the-bus").json()
        assert svc2["spec"]["clusterIP"] == ip and svc2["spec"]["ports"][0]["nodePort"] == node_port
        assert svc2["metadata"]["uid"] == svc["metadata"]["uid"]
        assert sorted(eventually(endpoints)) == sorted(addrs)
    finally:
        again.stop()


def test_supervisor_restarts_a_killed_controller(up: Up) -> None:
    up.wait_ready()
    pattern = f"kubelite.cli controller ipam --server {up.url}"
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert pids
    os.kill(pids[0], signal.SIGKILL)

    def restarted() -> bool:
        out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        new = [int(p) for p in out.stdout.split() if int(p) not in pids]
        return bool(new)

    eventually(restarted, timeout=20)
    assert "exited with code" in up.log.read_text()
    api = httpx.Client(base_url=up.url, timeout=5)
    api.post("/api/v1/namespaces/default/services",
             json={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "after-crash"},
                   "spec": {"ports": [{"port": 80}]}})
    eventually(lambda: api.get("/api/v1/namespaces/default/services/after-crash").json()["spec"].get("clusterIP"),
               timeout=20)


def test_up_with_tls_issues_tokens_and_controllers_still_work(tmp_path: Path) -> None:
    port, dns_port = free_port(), free_port()
    data = tmp_path / "kls"
    log = tmp_path / "up-tls.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(data), "--port", str(port),
         "--dns-port", str(dns_port), "--nodes", "1", "--tls"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "kubelite is ready" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.1)
        url = f"https://127.0.0.1:{port}"
        import ssl

        ca = ssl.create_default_context(cafile=str(data / "pki" / "ca.crt"))
        anonymous = httpx.get(f"{url}/api/v1/namespaces", verify=ca)
        assert anonymous.status_code == 401 and anonymous.json()["reason"] == "Unauthorized"
        import yaml

        token = yaml.safe_load((data / "kubeconfig").read_text())["users"][0]["user"]["token"]
        api = httpx.Client(base_url=url, verify=ca, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        r = api.post("/api/v1/namespaces/default/services",
                     json={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "secure"},
                           "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
        assert r.status_code == 201, r.text
        # the controllers authenticate with their own tokens: the Service gets its IP and port
        svc = eventually(lambda: (lambda s: s if s["spec"].get("clusterIP") and
                                  s["spec"]["ports"][0].get("nodePort") else None)(
            api.get("/api/v1/namespaces/default/services/secure").json()), timeout=20)
        assert svc["spec"]["clusterIP"].startswith("10.")
        tokens = (data / "auth" / "tokens.csv").read_text()
        assert "system:kubelite:ipam" in tokens and "admin" in tokens
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
