"""Live-process tests: API server, node agents and the endpoints controller as separate processes.

What is checked is the issue's contract: after churn settles, every Endpoints
and EndpointSlice equals what ``desired.plan`` computes from the API's own
state (a fixpoint: nothing left to write), no update was wasted on an
unchanged object (the controller's /metrics), and a controller killed with
SIGKILL converges after a restart, deleting what belonged to Services
deleted meanwhile. Node agents: IPs survive a restart, graceful deletion,
and a silent node's Pods leave the ready addresses.

Every test starts its own API server (nodes and leases are cluster-wide)
and stays well under a minute.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from apimachinery.labels import LABEL_MANAGED_BY, LABEL_SERVICE_NAME
from controllers.endpoints import desired
from controllers.endpoints.compare import same_endpoints, same_slice
from controllers.endpoints.pods import MANAGED_BY
from tests.conftest import ApiServerProcess, free_port, start_apiserver

Obj = dict[str, Any]
pytestmark = pytest.mark.slow

SLICES_PATH = "/apis/discovery.k8s.io/v1"


# ---------------------------------------------------------------------------
# process harness
# ---------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    metrics_port: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.proc = subprocess.Popen(self.argv, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Cluster:
    api: ApiServerProcess
    dir: Path
    procs: list[Proc] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def _spawn(self, name: str, args: list[str], *, metrics: bool = True) -> Proc:
        port = free_port() if metrics else None
        argv = [sys.executable, "-m", "kubelite.cli", *args, "--server", self.url, "--log-level", "INFO"]
        if port is not None:
            argv += ["--metrics-port", str(port)]
        p = Proc(name, argv, self.dir / f"{name}.log", port).start()
        self.procs.append(p)
        if port is not None:
            wait_for(lambda: _healthy(port, p), 20, f"{name} to serve /healthz")
        return p

    def node(self, i: int, *extra: str) -> Proc:
        return self._spawn(f"node-{i}", [
            "node", "--name", f"node-{i}", "--pod-cidr", f"10.85.{i}.0/24", "--node-ip", f"127.0.0.{i + 1}",
            "--zone", f"zone-{i % 2}", "--max-pods", "250",
            "--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
            "--leader-elect-retry-period", "0.5s", *extra])

    def controller(self) -> Proc:
        return self._spawn("endpoints", ["controller", "endpoints", "--no-leader-elect"])

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        self.api.stop()


def _healthy(port: int, p: Proc) -> bool:
    assert p.proc is not None
    if p.proc.poll() is not None:
        raise AssertionError(f"{p.name} exited with {p.proc.returncode}:\n{p.tail()}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(cond: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    api = start_apiserver(tmp_path / "api")
    c = Cluster(api, tmp_path)
    try:
        yield c
    finally:
        c.stop()


# ---------------------------------------------------------------------------
# API helpers
# ---------------------------------------------------------------------------


def items(api: httpx.Client, path: str) -> list[Obj]:
    r = api.get(path)
    r.raise_for_status()
    return list(r.json().get("items") or [])


def create(api: httpx.Client, path: str, body: Obj) -> Obj:
    r = api.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def namespace(api: httpx.Client, name: str) -> None:
    create(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def service(name: str, app: str, *, named: bool = False, publish: bool = False, headless: bool = False) -> Obj:
    spec: Obj = {"selector": {"app": app},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http" if named else 8080}]}
    if publish:
        spec["publishNotReadyAddresses"] = True
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def pod(name: str, app: str, *, ready: bool = True) -> Obj:
    meta: Obj = {"name": name, "labels": {"app": app}}
    if not ready:
        meta["annotations"] = {"kubelite.io/ready": "false"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "nginx",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]}}


def create_many(url: str, path: str, bodies: list[Obj], *, concurrency: int = 16) -> None:
    """Create objects with a few requests in flight (the API server group-commits concurrent writes)."""

    async def go() -> None:
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            async def one(body: Obj) -> None:
                async with sem:
                    r = await client.post(path, json=body)
                    assert r.status_code == 201, r.text

            await asyncio.gather(*(one(b) for b in bodies))

    asyncio.run(go())


def patch(api: httpx.Client, path: str, body: Obj) -> None:
    r = api.patch(path, json=body, headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code in (200, 404), r.text


def running(api: httpx.Client, ns: str, count: int) -> bool:
    pods = items(api, f"/api/v1/namespaces/{ns}/pods")
    return len(pods) == count and all((p.get("status") or {}).get("podIP") for p in pods)


def divergence(api: httpx.Client, ns: str) -> list[str]:
    """What differs between the API's Endpoints/slices and ``desired.plan`` of the API's state (empty: converged)."""
    services = {s["metadata"]["name"]: s for s in items(api, f"/api/v1/namespaces/{ns}/services")}
    pods = items(api, f"/api/v1/namespaces/{ns}/pods")
    nodes = items(api, "/api/v1/nodes")
    endpoints = {e["metadata"]["name"]: e for e in items(api, f"/api/v1/namespaces/{ns}/endpoints")}
    slices: dict[str, list[Obj]] = {}
    for s in items(api, f"{SLICES_PATH}/namespaces/{ns}/endpointslices"):
        if (s["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == MANAGED_BY:
            slices.setdefault(s["metadata"]["labels"].get(LABEL_SERVICE_NAME, ""), []).append(s)
    problems: list[str] = []
    for name in sorted(set(endpoints) - set(services)):
        problems.append(f"Endpoints {name} of a missing Service")
    for name in sorted(set(slices) - set(services)):
        problems.append(f"EndpointSlices of missing Service {name}")
    for name, svc in sorted(services.items()):
        d = desired.plan(svc, pods, nodes, existing_endpoints=endpoints.get(name), existing_slices=slices.get(name, []))
        if d.missing_nodes:
            problems.append(f"{name}: Pods on missing nodes {d.missing_nodes}")
        if d.endpoints is not None:
            have = endpoints.get(name)
            if have is None or not same_endpoints(d.endpoints, have):
                problems.append(f"{name}: Endpoints differ")
        have_slices = {s["metadata"]["name"]: s for s in slices.get(name, [])}
        want_names = {str(s["metadata"].get("name") or "") for s in d.slices}
        if want_names != set(have_slices):
            problems.append(f"{name}: slices {sorted(have_slices)} should be {sorted(want_names)}")
        for s in d.slices:
            current = have_slices.get(str(s["metadata"].get("name") or ""))
            if current is not None and not same_slice(s, current):
                problems.append(f"{name}: slice {s['metadata']['name']} differs")
    return problems


def ready_ips(api: httpx.Client, ns: str, name: str) -> list[str]:
    r = api.get(f"/api/v1/namespaces/{ns}/endpoints/{name}")
    if r.status_code != 200:
        return []
    return sorted(a["ip"] for s in r.json().get("subsets") or [] for a in s.get("addresses") or [])


def writes(ctl: Proc) -> dict[str, float]:
    m = ctl.metrics()
    out: dict[str, float] = {}
    for (name, labels), value in m.items():
        lab = dict(labels)
        if name == "kubelite_endpoints_writes_total":
            out[f"{lab['resource']}/{lab['verb']}"] = value
        elif name == "kubelite_endpoints_noop_writes_total":
            out[f"noop/{lab['resource']}"] = value
    return out


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------


def test_churn_converges_without_wasted_writes(cluster: Cluster) -> None:
    """3 node agents, 20 Services, 300 Pods; random relabels, readiness flips, deletions and re-creations."""
    rng = random.Random(5)
    for i in range(3):
        cluster.node(i)
    ctl = cluster.controller()
    ns = "churn"
    with httpx.Client(base_url=cluster.url, timeout=20) as api:
        namespace(api, ns)
        for i in range(20):
            create(api, f"/api/v1/namespaces/{ns}/services",
                   service(f"svc-{i}", f"app-{i}", named=i % 3 == 0, publish=i == 7, headless=i == 11))
        names = [f"pod-{j}" for j in range(300)]
        create_many(cluster.url, f"/api/v1/namespaces/{ns}/pods",
                    [pod(name, f"app-{j % 20}", ready=j % 10 != 0) for j, name in enumerate(names)])
        wait_for(lambda: running(api, ns, 300), 45, "300 Pods to run")
        wait_for(lambda: not divergence(api, ns), 20, "first convergence")

        created = len(names)
        deadline = time.monotonic() + 10
        ops = 0
        while time.monotonic() < deadline:
            op = rng.random()
            target = rng.choice(names)
            path = f"/api/v1/namespaces/{ns}/pods/{target}"
            if op < 0.35:
                patch(api, path, {"metadata": {"labels": {"app": f"app-{rng.randrange(22)}"}}})
            elif op < 0.7:
                patch(api, path, {"metadata": {"annotations": {"kubelite.io/ready": rng.choice(["true", "false"])}}})
            elif op < 0.9:
                api.delete(path)
                names.remove(target)
                new = f"pod-{created}"
                created += 1
                create(api, f"/api/v1/namespaces/{ns}/pods", pod(new, f"app-{rng.randrange(20)}"))
                names.append(new)
            else:
                i = rng.randrange(20)
                api.delete(f"/api/v1/namespaces/{ns}/services/svc-{i}")
                create(api, f"/api/v1/namespaces/{ns}/services", service(f"svc-{i}", f"app-{i}", named=i % 3 == 0))
            ops += 1
        assert ops > 100

        wait_for(lambda: running(api, ns, 300), 30, "terminating Pods to go and replacements to run")
        try:
            wait_for(lambda: not divergence(api, ns), 20, "convergence after churn")
        except AssertionError:
            raise AssertionError(f"{divergence(api, ns)}\n{ctl.tail()}") from None

        final = items(api, f"/api/v1/namespaces/{ns}/pods")
        ips = [p["status"]["podIP"] for p in final]
        assert len(set(ips)) == len(ips)  # no address held twice
        assert all(p["status"]["podIP"].startswith(f"10.85.{p['spec']['nodeName'][-1]}.") for p in final)
        assert {p["spec"]["nodeName"] for p in final} == {"node-0", "node-1", "node-2"}

        counts = writes(ctl)
        assert counts["noop/endpoints"] == 0 and counts["noop/endpointslices"] == 0, counts
        assert counts["endpoints/update"] > 0 and counts["endpointslices/update"] > 0
        time.sleep(1.5)  # quiet cluster: no write at all
        assert writes(ctl) == counts


def test_controller_restart_converges(cluster: Cluster) -> None:
    """kill -9 the controller, change Pods and Services while it is down, start it: it converges."""
    cluster.node(1)
    ctl = cluster.controller()
    ns = "restart"
    with httpx.Client(base_url=cluster.url, timeout=20) as api:
        namespace(api, ns)
        for i in range(4):
            create(api, f"/api/v1/namespaces/{ns}/services", service(f"svc-{i}", f"app-{i}"))
        for j in range(40):
            create(api, f"/api/v1/namespaces/{ns}/pods", pod(f"pod-{j}", f"app-{j % 4}"))
        wait_for(lambda: running(api, ns, 40), 30, "40 Pods to run")
        wait_for(lambda: not divergence(api, ns), 20, "convergence")
        gone_slices = [s["metadata"]["name"] for s in items(api, f"{SLICES_PATH}/namespaces/{ns}/endpointslices")
                       if s["metadata"]["labels"].get(LABEL_SERVICE_NAME) == "svc-3"]
        assert gone_slices

        ctl.kill9()
        for j in range(0, 40, 4):
            patch(api, f"/api/v1/namespaces/{ns}/pods/pod-{j}", {"metadata": {"labels": {"app": "app-1"}}})
        for j in range(1, 40, 8):
            patch(api, f"/api/v1/namespaces/{ns}/pods/pod-{j}", {"metadata": {"annotations": {
                "kubelite.io/ready": "false"}}})
        api.delete(f"/api/v1/namespaces/{ns}/pods/pod-2")
        api.delete(f"/api/v1/namespaces/{ns}/services/svc-3")
        create(api, f"/api/v1/namespaces/{ns}/services", service("svc-new", "app-2"))
        wait_for(lambda: running(api, ns, 39), 20, "pod-2 to be deleted")
        assert api.get(f"/api/v1/namespaces/{ns}/endpoints/svc-3").status_code == 200  # nobody cleaned it yet
        assert divergence(api, ns)

        ctl2 = cluster.controller()
        try:
            wait_for(lambda: not divergence(api, ns), 20, "convergence after restart")
        except AssertionError:
            raise AssertionError(f"{divergence(api, ns)}\n{ctl2.tail()}") from None
        assert api.get(f"/api/v1/namespaces/{ns}/endpoints/svc-3").status_code == 404
        for name in gone_slices:
            assert api.get(f"{SLICES_PATH}/namespaces/{ns}/endpointslices/{name}").status_code == 404
        assert len(ready_ips(api, ns, "svc-new")) == len(ready_ips(api, ns, "svc-2"))
        counts = writes(ctl2)
        assert counts["noop/endpoints"] == 0 and counts["noop/endpointslices"] == 0, counts
        assert counts["endpoints/delete"] == 1


def test_label_removal_leaves_service_within_a_second(cluster: Cluster) -> None:
    cluster.node(1)
    cluster.controller()
    with httpx.Client(base_url=cluster.url, timeout=20) as api:
        namespace(api, "shield")
        create(api, "/api/v1/namespaces/shield/services", service("the-bus", "marvel"))
        for name in ("triskelion", "coulson"):
            create(api, "/api/v1/namespaces/shield/pods", pod(name, "marvel"))
        wait_for(lambda: ready_ips(api, "shield", "the-bus") == ["10.85.1.2", "10.85.1.3"], 20, "both addresses")
        t0 = time.monotonic()
        patch(api, "/api/v1/namespaces/shield/pods/triskelion", {"metadata": {"labels": {"app": None}}})
        wait_for(lambda: len(ready_ips(api, "shield", "the-bus")) == 1, 5, "the Pod to leave", interval=0.02)
        assert time.monotonic() - t0 < 1.0
        slices_path = f"{SLICES_PATH}/namespaces/shield/endpointslices?labelSelector={LABEL_SERVICE_NAME}%3Dthe-bus"
        wait_for(lambda: [[e["addresses"] for e in s["endpoints"]] for s in items(api, slices_path)] == [[["10.85.1.3"]]],
                 1, "the slice to follow", interval=0.02)
        assert time.monotonic() - t0 < 1.0


def test_node_agent_restart_graceful_deletion_and_silent_node(cluster: Cluster) -> None:
    """IPs survive an agent restart; deletion waits out the grace period; a silent node's Pods go not ready."""
    n1 = cluster.node(1, "--node-monitor-grace-period", "3s", "--node-monitor-period", "0.5s",
                      "--node-lease-duration-seconds", "2")
    cluster.node(2, "--node-monitor-grace-period", "3s", "--node-monitor-period", "0.5s",
                 "--node-lease-duration-seconds", "2")
    cluster.controller()
    ns = "nodes"
    with httpx.Client(base_url=cluster.url, timeout=20) as api:
        namespace(api, ns)
        create(api, f"/api/v1/namespaces/{ns}/services", service("web", "web"))
        for j in range(6):
            create(api, f"/api/v1/namespaces/{ns}/pods", pod(f"web-{j}", "web"))
        wait_for(lambda: len(ready_ips(api, ns, "web")) == 6, 20, "6 ready addresses")
        before = {p["metadata"]["name"]: (p["spec"]["nodeName"], p["status"]["podIP"])
                  for p in items(api, f"/api/v1/namespaces/{ns}/pods")}
        assert {n for n, _ in before.values()} == {"node-1", "node-2"}
        assert len({ip for _, ip in before.values()}) == 6

        # graceful deletion: terminating (not ready) for the grace period, then gone
        t0 = time.monotonic()
        api.delete(f"/api/v1/namespaces/{ns}/pods/web-0")
        wait_for(lambda: before["web-0"][1] not in ready_ips(api, ns, "web"), 5, "web-0 to leave", interval=0.05)
        assert api.get(f"/api/v1/namespaces/{ns}/pods/web-0").status_code == 200
        wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/web-0").status_code == 404, 10, "web-0 deleted")
        assert time.monotonic() - t0 >= 0.9

        # the agent of node-1 restarts: its Pods keep their IPs, a new Pod gets a fresh one
        n1.kill9()
        on_node1 = sorted(n for n, (node, _) in before.items() if node == "node-1" and n != "web-0")
        wait_for(lambda: not set(before[n][1] for n in on_node1) & set(ready_ips(api, ns, "web")), 15,
                 "node-1's Pods to go not ready once its Lease is stale")
        node1 = api.get("/api/v1/nodes/node-1").json()
        ready = next(c for c in node1["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        cluster.node(1, "--node-monitor-grace-period", "3s", "--node-monitor-period", "0.5s",
                     "--node-lease-duration-seconds", "2")
        wait_for(lambda: len(ready_ips(api, ns, "web")) == 5, 15, "all 5 Pods ready again")
        after = {p["metadata"]["name"]: (p["spec"]["nodeName"], p["status"]["podIP"])
                 for p in items(api, f"/api/v1/namespaces/{ns}/pods")}
        assert after == {k: v for k, v in before.items() if k != "web-0"}
        create(api, f"/api/v1/namespaces/{ns}/pods", {**pod("web-new", "web"),
                                                      "spec": {**pod("x", "web")["spec"],
                                                               "nodeSelector": {"kubernetes.io/hostname": "node-1"}}})
        wait_for(lambda: len(ready_ips(api, ns, "web")) == 6, 15, "web-new ready")
        new_ip = api.get(f"/api/v1/namespaces/{ns}/pods/web-new").json()["status"]["podIP"]
        assert new_ip.startswith("10.85.1.") and new_ip not in {ip for _, ip in after.values()}
