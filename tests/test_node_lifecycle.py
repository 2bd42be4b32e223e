"""A Pod's life on a node agent as a user sees it: deletion time, ``kubectl describe`` Events, the Node's version.

Live processes: an API server, one ``kubelite node`` (the simulated runtime,
or the process runtime on loopback for the probe test) and the real
kubectl. What is checked is what Kubernetes shows: ``kubectl delete pod``
returns within moments because the container exits on SIGTERM, but takes
its grace period when the container ignores SIGTERM; ``kubectl describe
pod`` lists Scheduled (default-scheduler), Pulling, Pulled, Created,
Started (kubelet) in that order, Killing on deletion and Unhealthy for a
failing readiness probe; ``kubectl get nodes -o wide`` shows the API
server's gitVersion in VERSION.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents.node import kubeletevents as kev
from tests import needs
from tests.conftest import ApiServerProcess, free_port, start_apiserver

Obj = dict[str, Any]
pytestmark = pytest.mark.slow
KUBECTL = needs.kubectl(module=True)
NS = "life"


@dataclass
class Cluster:
    api: ApiServerProcess
    dir: Path
    http: httpx.Client
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def node(self, name: str, *extra: str) -> None:
        log = (self.dir / f"{name}.log").open("ab")
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "kubelite.cli", "node", "--server", self.api.url, "--name", name,
             "--kubelet-port", str(free_port()), "--leader-elect-retry-period", "0.5s", *extra],
            stdout=log, stderr=subprocess.STDOUT))
        wait_for(lambda: self._ready(name), 20, f"Node {name} to be Ready")

    def _ready(self, name: str) -> bool:
        for p in self.procs:
            if p.poll() is not None:
                raise AssertionError(f"a node agent exited with {p.returncode}: "
                                     + "".join(f.read_text()[-2000:] for f in self.dir.glob("*.log")))
        r = self.http.get(f"/api/v1/nodes/{name}")
        conds = r.json().get("status", {}).get("conditions", []) if r.status_code == 200 else []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        kubeconfig = self.dir / "kubeconfig"
        if not kubeconfig.exists():
            kubeconfig.write_text(
                "apiVersion: v1\nkind: Config\n"
                f"clusters:\n- name: k\n  cluster:\n    server: {self.api.url}\n"
                "users:\n- name: k\n  user: {}\n"
                "contexts:\n- name: k\n  context:\n    cluster: k\n    user: k\n    namespace: " + NS + "\n"
                "current-context: k\n")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(self.dir)}
        r = subprocess.run([KUBECTL, f"--cache-dir={self.dir / 'kube-cache'}", *args], env=env, text=True,
                           capture_output=True, timeout=timeout)
        assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
        return r

    def create_pod(self, name: str, *, image: str = "nginx:1.27", grace: int | None = None,
                   annotations: Obj | None = None, **container: Any) -> None:
        spec: Obj = {"containers": [{"name": "app", "image": image, **container}]}
        if grace is not None:
            spec["terminationGracePeriodSeconds"] = grace
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}
        r = self.http.post(f"/api/v1/namespaces/{NS}/pods", json=body)
        assert r.status_code == 201, r.text

    def phase(self, name: str) -> str:
        r = self.http.get(f"/api/v1/namespaces/{NS}/pods/{name}")
        return str(r.json().get("status", {}).get("phase") or "") if r.status_code == 200 else ""

    def events(self, pod: str) -> list[Obj]:
        r = self.http.get(f"/api/v1/namespaces/{NS}/events", params={"fieldSelector": f"involvedObject.name={pod}"})
        r.raise_for_status()
        return list(r.json()["items"])


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    api = start_apiserver(tmp_path / "api")
    http = httpx.Client(base_url=api.url, timeout=10)
    c = Cluster(api, tmp_path, http)
    try:
        r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        assert r.status_code == 201, r.text
        yield c
    finally:
        for p in c.procs:
            p.terminate()
        for p in c.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        http.close()
        api.stop()


def event_rows(describe: str) -> list[tuple[str, str, str, str]]:
    """(type, reason, from, message) of each row under ``Events:`` in kubectl describe output."""
    lines = describe.split("\nEvents:", 1)[1].splitlines()
    rows = []
    for line in lines[3:]:  # the header, its dashes
        if not line.startswith("  "):
            break
        type_, reason, _age, source, message = re.split(r"\s{2,}", line.strip(), maxsplit=4)
        rows.append((type_, reason, source, message))
    return rows


def test_kubectl_delete_returns_in_moments_unless_the_container_ignores_sigterm(cluster: Cluster) -> None:
    cluster.node("node-1", "--pod-cidr", "10.88.1.0/24", "--node-ip", "127.0.0.1")
    cluster.create_pod("quick")  # the default grace period: 30 s
    cluster.create_pod("stubborn", grace=3, annotations={"kubelite.io/ignore-sigterm": "true"})
    wait_for(lambda: cluster.phase("quick") == cluster.phase("stubborn") == "Running", 20, "both Pods Running")

    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "quick")
    quick = time.monotonic() - t0
    assert quick < 5, quick  # the container exits on SIGTERM about a second later, long before its 30 s
    assert cluster.http.get(f"/api/v1/namespaces/{NS}/pods/quick").status_code == 404

    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "stubborn")
    stubborn = time.monotonic() - t0
    assert 2.8 <= stubborn < 7, stubborn  # SIGTERM ignored: killed at the end of its 3 s grace period
    for pod in ("quick", "stubborn"):
        killing = [e for e in cluster.events(pod) if e["reason"] == "Killing"]
        assert [(e["type"], e["message"], e["source"]) for e in killing] == [
            ("Normal", "Stopping container app", {"component": "kubelet", "host": "node-1"})]


def test_kubectl_describe_pod_tells_its_life_in_order(cluster: Cluster) -> None:
    cluster.node("node-1", "--pod-cidr", "10.88.1.0/24", "--node-ip", "127.0.0.1")
    cluster.create_pod("web")
    wait_for(lambda: cluster.phase("web") == "Running", 20, "web Running")
    rows = wait_for(lambda: (r := event_rows(cluster.kubectl("describe", "pod", "web").stdout)) and len(r) >= 5
                    and r, 10, "five Events")
    pulled = re.compile(r'Successfully pulled image "nginx:1\.27" in \S+ \(\S+ including waiting\)\. '
                        r"Image size: \d+ bytes\.")
    assert [(t, r, s) for t, r, s, _m in rows] == [
        ("Normal", "Scheduled", "default-scheduler"), ("Normal", "Pulling", "kubelet"),
        ("Normal", "Pulled", "kubelet"), ("Normal", "Created", "kubelet"), ("Normal", "Started", "kubelet")]
    messages = [m for *_x, m in rows]
    assert messages[0] == f"Successfully assigned {NS}/web to node-1"
    assert messages[1] == 'Pulling image "nginx:1.27"'
    assert pulled.fullmatch(messages[2]), messages[2]
    assert messages[3:] == ["Created container: app", "Started container app"]

    # the node has the image now: IfNotPresent does not pull it again; Always (":latest") does
    cluster.create_pod("web-2")
    cluster.create_pod("latest", image="nginx")
    wait_for(lambda: cluster.phase("web-2") == cluster.phase("latest") == "Running", 20, "two more Pods Running")
    reasons = wait_for(lambda: [(r, m) for _t, r, _s, m in event_rows(cluster.kubectl("describe", "pod", "web-2")
                                                                        .stdout)] or None, 10, "web-2's Events")
    assert ("Pulled", 'Container image "nginx:1.27" already present on machine') in reasons
    assert not any(r == "Pulling" for r, _m in reasons)
    latest = [e["reason"] for e in wait_for(lambda: cluster.events("latest") if len(cluster.events("latest")) >= 5
                                            else None, 10, "latest's Events")]
    assert "Pulling" in latest

    # an agent restart does not tell the story of running Pods again
    agent = cluster.procs.pop()
    agent.terminate()
    agent.wait(10)
    before = len(cluster.events("web"))
    cluster.node("node-1", "--pod-cidr", "10.88.1.0/24", "--node-ip", "127.0.0.1")
    time.sleep(1.5)
    assert len(cluster.events("web")) == before


def test_failed_readiness_probe_is_unhealthy_in_describe(cluster: Cluster) -> None:
    cluster.node("life-1", "--pod-cidr", "127.31.1.0/24", "--node-ip", "127.0.31.1", "--runtime", "process",
                 "--root-dir", str(cluster.dir / "root"))
    cluster.create_pod("sick", image="kubelite/echo", grace=1,
                       readinessProbe={"exec": {"command": ["sh", "-c", "echo not yet; exit 1"]},
                                       "periodSeconds": 1})
    wait_for(lambda: cluster.phase("sick") == "Running", 20, "sick Running")

    def unhealthy() -> list[tuple[str, str, str, str]]:
        rows = event_rows(cluster.kubectl("describe", "pod", "sick").stdout)
        return [r for r in rows if r[1] == "Unhealthy"]

    rows = wait_for(unhealthy, 15, "an Unhealthy Event")
    assert rows[0][0] == "Warning" and rows[0][2] == "kubelet"
    assert rows[0][3] == "Readiness probe failed: not yet"
    reasons = [r for _t, r, _s, _m in event_rows(cluster.kubectl("describe", "pod", "sick").stdout)]
    assert reasons[:4] == ["Scheduled", "Pulled", "Created", "Started"]


def test_nodes_report_the_api_servers_version(cluster: Cluster) -> None:
    cluster.node("node-1", "--pod-cidr", "10.88.1.0/24", "--node-ip", "127.0.0.1")
    version = cluster.http.get("/version").json()["gitVersion"]
    assert version.startswith("v1.")
    info = cluster.http.get("/api/v1/nodes/node-1").json()["status"]["nodeInfo"]
    assert info["kubeletVersion"] == info["kubeProxyVersion"] == version
    out = cluster.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    header = re.split(r"\s{2,}", out[0].strip())
    row = dict(zip(header, re.split(r"\s{2,}", out[1].strip()), strict=False))
    assert (row["NAME"], row["STATUS"], row["VERSION"]) == ("node-1", "Ready", version)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (0.0004, "0s"), (0.012, "12ms"), (1.5, "1.5s"),
                                               (10, "10s"), (123.0045, "2m3.004s"), (3600, "1h0m0s")])
def test_pull_durations_read_as_go_prints_them(seconds: float, text: str) -> None:
    assert kev.go_duration(seconds) == text


def test_pull_policy_decides_pulling_as_the_image_manager() -> None:
    have = {"nginx:1.27"}
    assert kev.pull_decision({"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent"}, have) == kev.PRESENT
    assert kev.pull_decision({"image": "redis:7", "imagePullPolicy": "IfNotPresent"}, have) == kev.PULL
    assert kev.pull_decision({"image": "nginx:1.27", "imagePullPolicy": "Always"}, have) == kev.PULL
    assert kev.pull_decision({"image": "redis:7", "imagePullPolicy": "Never"}, have) == kev.PRESENT
    assert kev.pulled("x", seconds=1.2345, waited=2, size=7) == \
        'Successfully pulled image "x" in 1.234s (2s including waiting). Image size: 7 bytes.'
