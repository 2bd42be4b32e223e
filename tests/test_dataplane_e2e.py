"""Real traffic on loopback: Pods as processes, three node proxies, NodePorts, ClusterIPs and LoadBalancer IPs.

One cluster per module (API server, ipam, nodeport, endpoints and
loadbalancer controllers, three process-runtime node agents and their
proxies, all separate processes); every test works in its own namespace and
pins its Pods to nodes with ``spec.nodeName`` so placement is known. The
ranges differ from ``kubelite up --data-path``'s (Pods 127.11.0.0/16,
Services 127.97.0.0/16, nodes 127.0.3.N, pool 127.21.0.0/24) so a running
``up`` does not collide with the tests.

Requests are made like curl does: a new TCP connection per request, HTTP/1.1
with ``Connection: close``.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import ApiServerProcess, free_port, start_apiserver

Obj = dict[str, Any]
pytestmark = pytest.mark.slow

SERVICE_CIDR = "127.97.0.0/16"
CLUSTER_CIDR = "127.11.0.0/16"
POOL = "127.21.0.0/24"
NODES = 3


def node_ip(i: int) -> str:
    return f"127.0.3.{i}"


# ---------------------------------------------------------------------------
# the cluster
# ---------------------------------------------------------------------------


@dataclass
class Cluster:
    api: ApiServerProcess
    dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.api.url, timeout=10)

    def spawn(self, name: str, args: list[str], *, metrics: bool = True) -> int | None:
        port = free_port() if metrics else None
        argv = [sys.executable, "-m", "kubelite.cli", *args, "--server", self.api.url, "--log-level", "INFO"]
        if port is not None:
            argv += ["--metrics-port", str(port)]
        log = (self.dir / f"{name}.log").open("ab")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        self.by_name[name], self.argv[name] = self.procs[-1], args
        if port is not None:
            self.metrics_ports[name] = port
        return port

    def counter(self, name: str, sample: str) -> float:
        """A sample of a process's /metrics, e.g. ``kubelite_proxy_connections_total{result="retried"}``."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", timeout=5).text
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.client.close()
        self.api.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-2500:]}" for f in sorted(self.dir.glob("*.log")))


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(cond: Callable[[], Any], timeout: float, what: str, *, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    d = tmp_path_factory.mktemp("dataplane")
    api = start_apiserver(d / "api", extra=["--service-cluster-ip-range", SERVICE_CIDR])
    c = Cluster(api, d)
    try:
        ports = [c.spawn(name, ["controller", name, "--no-leader-elect"]) for name in ("ipam", "nodeport", "endpoints")]
        ports.append(c.spawn("loadbalancer", ["controller", "loadbalancer", "--no-leader-elect", "--pool", POOL]))
        for i in range(1, NODES + 1):
            ports.append(c.spawn(f"node-{i}", [
                "node", "--name", f"dp-{i}", "--pod-cidr", f"127.11.{i}.0/24", "--node-ip", node_ip(i),
                "--runtime", "process", "--root-dir", str(d / f"root-{i}"), "--kubelet-port", str(free_port()),
                "--restart-backoff", "1s", "--leader-elect-lease-duration", "3s",
                "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "0.5s"]))
        for i in range(1, NODES + 1):
            ports.append(c.spawn(f"proxy-{i}", ["proxy", "--node", f"dp-{i}", "--cluster-cidr", CLUSTER_CIDR,
                                                "--bind-retry", "100ms"]))
        for port in ports:
            assert port is not None
            wait_for(functools.partial(_healthy, port), 30, "every process to serve /healthz")
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()


_ns_counter = iter(range(1, 1000))


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    name = f"dp{os.getpid() % 1000}-{next(_ns_counter)}"
    r = cluster.client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    print(f"namespace {name}; process logs in {cluster.dir}")
    yield name
    # Pods are deleted so their processes end with the test (the namespace goes with the API server).
    cluster.client.request("DELETE", f"/api/v1/namespaces/{name}/pods",
                           json={"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})


# ---------------------------------------------------------------------------
# objects and traffic
# ---------------------------------------------------------------------------

READINESS: Obj = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}


def echo_pod(name: str, node: int, *, labels: Obj | None = None, readiness: bool = True, **container: Any) -> Obj:
    c: Obj = {"name": "echo", "image": "kubelite/echo", "ports": [{"containerPort": 8080}], **container}
    if readiness:
        c.setdefault("readinessProbe", READINESS)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": "echo"}},
            "spec": {"nodeName": f"dp-{node}", "containers": [c], "terminationGracePeriodSeconds": 5}}


def service(name: str, *, type_: str = "ClusterIP", port: int = 8080, selector: Obj | None = None,
            protocol: str = "TCP", target: int = 8080, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": selector or {"app": "echo"},
                     "ports": [{"port": port, "targetPort": target, "protocol": protocol}], **spec}}


def create(c: Cluster, ns: str, obj: Obj) -> Obj:
    plural = {"Pod": "pods", "Service": "services"}[obj["kind"]]
    r = c.client.post(f"/api/v1/namespaces/{ns}/{plural}", json=obj)
    assert r.status_code == 201, r.text
    return dict(r.json())


def pod(c: Cluster, ns: str, name: str) -> Obj | None:
    r = c.client.get(f"/api/v1/namespaces/{ns}/pods/{name}")
    return dict(r.json()) if r.status_code == 200 else None


def is_ready(p: Obj | None) -> bool:
    conds = (p or {}).get("status", {}).get("conditions") or []
    return any(x.get("type") == "Ready" and x.get("status") == "True" for x in conds)


def pod_ready(c: Cluster, ns: str, name: str) -> bool:
    return is_ready(pod(c, ns, name))


def pod_gone(c: Cluster, ns: str, name: str) -> bool:
    return pod(c, ns, name) is None


def wait_ready(c: Cluster, ns: str, *names: str, timeout: float = 20) -> None:
    for n in names:
        wait_for(functools.partial(pod_ready, c, ns, n), timeout, f"pod {ns}/{n} to be Ready")


def svc_obj(c: Cluster, ns: str, name: str) -> Obj:
    return dict(c.client.get(f"/api/v1/namespaces/{ns}/services/{name}").json())


def cluster_ip(c: Cluster, ns: str, name: str) -> str:
    return str(wait_for(lambda: svc_obj(c, ns, name)["spec"].get("clusterIP"), 10, "a cluster IP"))


def node_port(c: Cluster, ns: str, name: str) -> int:
    return int(wait_for(lambda: svc_obj(c, ns, name)["spec"]["ports"][0].get("nodePort"), 10, "a node port"))


def ready_endpoints(c: Cluster, ns: str, name: str) -> list[str]:
    r = c.client.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                     params={"labelSelector": f"kubernetes.io/service-name={name}"})
    return sorted(a for s in r.json()["items"] for e in s.get("endpoints") or []
                  if (e.get("conditions") or {}).get("ready") for a in e["addresses"])


def wait_endpoints(c: Cluster, ns: str, name: str, n: int, timeout: float = 15) -> None:
    wait_for(lambda: len(ready_endpoints(c, ns, name)) == n, timeout, f"{n} ready endpoints of {name}")


def http_get(ip: str, port: int, *, source: str | None = None, timeout: float = 3.0) -> str:
    """One request on a fresh connection; the body, or an OSError."""
    with socket.create_connection((ip, port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {ip}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"bad response {data[:80]!r}")
    return body.decode()


def who(body: str) -> str:
    """``hello from echo-a (127.11.1.2)`` -> ``echo-a``."""
    return body.split()[2]


def eventually(ip: str, port: int, timeout: float = 10, **kw: Any) -> str:
    def attempt() -> str:
        try:
            return http_get(ip, port, **kw)
        except OSError:
            return ""
    return str(wait_for(attempt, timeout, f"{ip}:{port} to answer"))


def refused(ip: str, port: int) -> bool:
    try:
        http_get(ip, port, timeout=2)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except OSError:
        return False
    return False


@dataclass
class Load:
    """A client sending requests back to back on fresh connections, counting what happened."""

    ip: str
    port: int
    ok: int = 0
    failed: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)
    answered_by: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                body = http_get(self.ip, self.port, timeout=3)
                self.ok += 1
                self.answered_by[who(body)] += 1
            except OSError as e:
                self.failed += 1
                self.failures.append((time.monotonic(), repr(e)))
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def window(self) -> float:
        return self.failures[-1][0] - self.failures[0][0] if self.failures else 0.0


# ---------------------------------------------------------------------------
# traffic through every kind of address
# ---------------------------------------------------------------------------


def test_clusterip_round_robin_over_every_ready_pod(cluster: Cluster, ns: str) -> None:
    for i in (1, 2, 3):
        create(cluster, ns, echo_pod(f"echo-{i}", i))
    create(cluster, ns, service("web"))
    wait_ready(cluster, ns, "echo-1", "echo-2", "echo-3")
    wait_endpoints(cluster, ns, "web", 3)
    ip = cluster_ip(cluster, ns, "web")
    assert ip.startswith("127.97.")
    eventually(ip, 8080)
    wait_for(lambda: len({who(http_get(ip, 8080)) for _ in range(3)}) == 3, 5, "the proxy to know every endpoint")
    seen = Counter(who(http_get(ip, 8080)) for _ in range(30))
    assert seen == {"echo-1": 10, "echo-2": 10, "echo-3": 10}, seen
    body = http_get(ip, 8080)
    assert body.startswith("hello from echo-") and "(127.11." in body


def test_nodeport_on_each_node_and_a_loadbalancer_ip(cluster: Cluster, ns: str) -> None:
    for i in (1, 2):
        create(cluster, ns, echo_pod(f"echo-{i}", i))
    create(cluster, ns, service("web", type_="LoadBalancer", port=80))
    wait_ready(cluster, ns, "echo-1", "echo-2")
    wait_endpoints(cluster, ns, "web", 2)
    np = node_port(cluster, ns, "web")
    for i in (1, 2, 3):  # node 3 has no Pod: the NodePort still reaches the Service
        answers = {who(eventually(node_ip(i), np)) for _ in range(6)}
        assert answers <= {"echo-1", "echo-2"} and answers
    lb = wait_for(lambda: (svc_obj(cluster, ns, "web")["status"].get("loadBalancer") or {}).get("ingress"), 10,
                  "a load-balancer IP")
    assert lb[0]["ipMode"] == "VIP"
    lb_ip = lb[0]["ip"]
    assert lb_ip.startswith("127.21.0.")
    seen = Counter(who(eventually(lb_ip, 80)) for _ in range(10))
    assert set(seen) == {"echo-1", "echo-2"}
    # back to ClusterIP: the address is released and nobody answers on it any more
    r = cluster.client.patch(f"/api/v1/namespaces/{ns}/services/web", json={"spec": {"type": "ClusterIP"}},
                             headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    wait_for(lambda: not (svc_obj(cluster, ns, "web")["status"].get("loadBalancer") or {}).get("ingress"), 10,
             "the ingress IP to be released")
    wait_for(lambda: refused(lb_ip, 80), 5, "the released LB IP to refuse")


def ingress(c: Cluster, ns: str, name: str) -> list[Obj]:
    return list((svc_obj(c, ns, name)["status"].get("loadBalancer") or {}).get("ingress") or [])


def test_loadbalancer_ips_requested_refused_and_pending(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, service("other", type_="LoadBalancer", port=80, loadBalancerClass="example.com/cloud"))
    create(cluster, ns, service("asked", type_="LoadBalancer", port=81, loadBalancerIP="127.21.0.200"))
    create(cluster, ns, service("outside", type_="LoadBalancer", port=82, loadBalancerIP="127.22.0.1"))
    assert wait_for(lambda: ingress(cluster, ns, "asked"), 10, "the requested IP") == [
        {"ip": "127.21.0.200", "ipMode": "VIP"}]

    def refused_event() -> bool:
        events = cluster.client.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
        return any(e["reason"] == "AllocationFailed" and e["involvedObject"]["name"] == "outside" for e in events)

    wait_for(refused_event, 10, "an AllocationFailed event")
    assert ingress(cluster, ns, "outside") == [] and ingress(cluster, ns, "other") == []
    table = cluster.client.get(f"/api/v1/namespaces/{ns}/services/other",
                               headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    cols = [col["name"] for col in table["columnDefinitions"]]
    assert table["rows"][0]["cells"][cols.index("External-IP")] == "<pending>"


def test_session_affinity_pins_a_client(cluster: Cluster, ns: str) -> None:
    for i in (1, 2, 3):
        create(cluster, ns, echo_pod(f"echo-{i}", i))
    create(cluster, ns, service("sticky", sessionAffinity="ClientIP",
                                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    wait_ready(cluster, ns, "echo-1", "echo-2", "echo-3")
    wait_endpoints(cluster, ns, "sticky", 3)
    ip = cluster_ip(cluster, ns, "sticky")
    eventually(ip, 8080)
    for source in ("127.0.0.1", "127.0.9.9"):
        seen = {who(http_get(ip, 8080, source=source)) for _ in range(12)}
        assert len(seen) == 1, (source, seen)


def test_local_traffic_policies_use_only_local_endpoints(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, echo_pod("a-1", 1))
    create(cluster, ns, echo_pod("b-1", 1))
    create(cluster, ns, echo_pod("c-2", 2))
    create(cluster, ns, service("ext", type_="NodePort", externalTrafficPolicy="Local"))
    create(cluster, ns, service("int", internalTrafficPolicy="Local"))
    wait_ready(cluster, ns, "a-1", "b-1", "c-2")
    wait_endpoints(cluster, ns, "ext", 3)
    wait_endpoints(cluster, ns, "int", 3)
    np = node_port(cluster, ns, "ext")
    eventually(node_ip(1), np)
    assert {who(http_get(node_ip(1), np)) for _ in range(8)} == {"a-1", "b-1"}
    eventually(node_ip(2), np)
    assert {who(http_get(node_ip(2), np)) for _ in range(4)} == {"c-2"}
    assert refused(node_ip(3), np)  # no local endpoint on node 3
    # the client's address is kept with Local: the Pod logged 127.0.0.1, not a node IP
    logs = cluster.client.get(f"/api/v1/namespaces/{ns}/pods/c-2/log").text
    assert "from 127.0.0.1:" in logs and "from 127.0.3." not in logs
    # internalTrafficPolicy Local: a client on node 2 (an address of its pod CIDR) reaches node 2's Pod only
    ip = cluster_ip(cluster, ns, "int")
    eventually(ip, 8080, source="127.11.2.250")
    assert {who(http_get(ip, 8080, source="127.11.2.250")) for _ in range(4)} == {"c-2"}
    assert {who(http_get(ip, 8080, source="127.11.1.250")) for _ in range(6)} == {"a-1", "b-1"}


def test_no_endpoints_refuses_then_serves_when_a_pod_is_ready(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, service("empty", type_="NodePort"))
    ip = cluster_ip(cluster, ns, "empty")
    np = node_port(cluster, ns, "empty")
    time.sleep(0.5)
    assert refused(ip, 8080)
    assert refused(node_ip(1), np)
    create(cluster, ns, echo_pod("late", 2))
    wait_ready(cluster, ns, "late")
    ready_at = time.monotonic()
    eventually(ip, 8080, timeout=5)
    assert time.monotonic() - ready_at < 2
    assert who(http_get(node_ip(1), np)) == "late"


def test_udp_through_a_cluster_ip(cluster: Cluster, ns: str) -> None:
    p = echo_pod("udp", 3, readiness=False, labels={"app": "udp"}, image="kubelite/tcp-echo",
                 ports=[{"containerPort": 9000, "protocol": "UDP"}])
    create(cluster, ns, p)
    create(cluster, ns, service("dgram", selector={"app": "udp"}, protocol="UDP", port=53, target=9000))
    wait_ready(cluster, ns, "udp")
    wait_endpoints(cluster, ns, "dgram", 1)
    ip = cluster_ip(cluster, ns, "dgram")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)

        def echoed() -> bool:
            s.sendto(b"ping", (ip, 53))
            try:
                return s.recvfrom(100)[0] == b"ping"
            except OSError:
                return False

        wait_for(echoed, 10, "a UDP echo through the ClusterIP")


# ---------------------------------------------------------------------------
# the seed's promise: clients keep being answered while Pods are replaced or killed
# ---------------------------------------------------------------------------


def test_every_request_answered_while_every_pod_is_replaced(cluster: Cluster, ns: str) -> None:
    names = ["v1-1", "v1-2", "v1-3"]
    for i, n in enumerate(names, 1):
        create(cluster, ns, echo_pod(n, i))
    create(cluster, ns, service("roll", type_="NodePort"))
    wait_ready(cluster, ns, *names)
    wait_endpoints(cluster, ns, "roll", 3)
    np = node_port(cluster, ns, "roll")
    eventually(node_ip(1), np)
    load = Load(node_ip(1), np).start()
    started = time.monotonic()
    try:
        time.sleep(0.5)
        for i, old in enumerate(names, 1):
            new = f"v2-{i}"
            create(cluster, ns, echo_pod(new, i))
            wait_ready(cluster, ns, new)
            r = cluster.client.delete(f"/api/v1/namespaces/{ns}/pods/{old}")
            assert r.status_code == 200, r.text
            wait_for(functools.partial(pod_gone, cluster, ns, old), 15, f"{old} to be gone")
        time.sleep(0.5)
    finally:
        load.stop()
    took = time.monotonic() - started
    print(f"\nrolling replacement of 3 Pods under load: {load.ok} requests answered, {load.failed} failed, "
          f"in {took:.1f}s; by Pod: {dict(load.answered_by)}")
    assert load.ok > 100
    assert load.failed == 0, load.failures[:5]
    assert {"v2-1", "v2-2", "v2-3"} <= set(load.answered_by)


def _container_pid(root: Path, container_id: str) -> int:
    state = json.loads((root / "containers.json").read_text())
    return int(state[container_id]["pid"])


def test_kill_9_of_a_pod_process(cluster: Cluster, ns: str) -> None:
    for i in (1, 2, 3):
        create(cluster, ns, echo_pod(f"k-{i}", i))
    create(cluster, ns, service("kill", type_="NodePort"))
    wait_ready(cluster, ns, "k-1", "k-2", "k-3")
    wait_endpoints(cluster, ns, "kill", 3)
    np = node_port(cluster, ns, "kill")
    eventually(node_ip(3), np)
    victim = pod(cluster, ns, "k-2")
    assert victim is not None
    cid = victim["status"]["containerStatuses"][0]["containerID"]
    pid = _container_pid(cluster.dir / "root-2", cid)
    retried = 'kubelite_proxy_connections_total{result="retried"}'
    retried_before = cluster.counter("proxy-3", retried)
    load = Load(node_ip(3), np).start()
    try:
        time.sleep(0.5)
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: (pod(cluster, ns, "k-2") or {}).get("status", {}).get("containerStatuses", [{}])[0]
                 .get("restartCount") == 1 and is_ready(pod(cluster, ns, "k-2")), 20, "k-2 to restart")
        back_at = time.monotonic()
        time.sleep(0.5)
    finally:
        load.stop()
    status = (pod(cluster, ns, "k-2") or {})["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 137
    assert status["lastState"]["terminated"]["reason"] == "Error"
    redialled = cluster.counter("proxy-3", retried) - retried_before
    print(f"\nkill -9 of one of 3 Pods under load: {load.ok} answered, {load.failed} failed "
          f"(failure window {load.window():.3f}s); {redialled:.0f} connections were refused by the dead Pod and "
          f"re-dialled to another by the proxy; the Pod was back and Ready after {back_at - killed_at:.2f}s")
    assert load.ok > 50
    assert load.failed <= 3, load.failures


# ---------------------------------------------------------------------------
# the runtime: probes, restarts, termination, environment, logs
# ---------------------------------------------------------------------------


def test_readiness_waits_for_the_http_endpoint(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, echo_pod("slow", 1, args=["--delay", "2"]))
    create(cluster, ns, service("slow"))
    created = time.monotonic()
    ip = cluster_ip(cluster, ns, "slow")
    wait_for(lambda: (pod(cluster, ns, "slow") or {}).get("status", {}).get("phase") == "Running", 10, "Running")
    assert not is_ready(pod(cluster, ns, "slow"))
    assert refused(ip, 8080)  # the Service has no ready endpoint yet
    wait_ready(cluster, ns, "slow")
    assert time.monotonic() - created >= 2.0
    assert who(eventually(ip, 8080, timeout=3)) == "slow"


def test_liveness_failure_restarts_the_container(cluster: Cluster, ns: str) -> None:
    p = echo_pod("live", 2, readiness=False, image="busybox",
                 command=["sh", "-c", "echo run; touch healthy; sleep 1; rm -f healthy; sleep 600"],
                 livenessProbe={"exec": {"command": ["cat", "healthy"]}, "periodSeconds": 1, "failureThreshold": 2})
    p["spec"]["terminationGracePeriodSeconds"] = 1
    create(cluster, ns, p)

    def restarted() -> Obj | None:
        st = ((pod(cluster, ns, "live") or {}).get("status") or {}).get("containerStatuses") or [{}]
        return st[0] if st[0].get("restartCount", 0) >= 1 else None

    status = wait_for(restarted, 30, "a liveness restart")
    assert status["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = cluster.client.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
    reasons = {e["reason"] for e in events}
    assert {"Unhealthy", "Killing"} <= reasons
    assert any("Liveness probe failed" in e["message"] for e in events)
    # the previous run's log is still there
    prev = cluster.client.get(f"/api/v1/namespaces/{ns}/pods/live/log", params={"previous": "true"})
    assert prev.status_code == 200 and prev.text == "run\n"


def test_graceful_termination_sigterm_then_sigkill(cluster: Cluster, ns: str) -> None:
    stubborn = echo_pod("stubborn", 3, readiness=False, image="busybox",
                        command=["sh", "-c", "trap 'echo got TERM' TERM; while true; do sleep 0.1; done"])
    stubborn["spec"]["terminationGracePeriodSeconds"] = 3
    create(cluster, ns, stubborn)
    create(cluster, ns, echo_pod("polite", 3, readiness=False))
    wait_ready(cluster, ns, "stubborn", "polite")
    time.sleep(0.3)
    t0 = time.monotonic()
    cluster.client.delete(f"/api/v1/namespaces/{ns}/pods/polite")
    wait_for(lambda: pod(cluster, ns, "polite") is None, 10, "polite to go")
    polite = time.monotonic() - t0
    t0 = time.monotonic()
    cluster.client.delete(f"/api/v1/namespaces/{ns}/pods/stubborn")
    got_term = wait_for(lambda: "got TERM" in cluster.client.get(f"/api/v1/namespaces/{ns}/pods/stubborn/log").text,
                        5, "the TERM to reach the container")
    wait_for(lambda: pod(cluster, ns, "stubborn") is None, 15, "stubborn to go")
    stubborn_took = time.monotonic() - t0
    assert got_term
    assert polite < 3.0, polite  # exits about 1 s after SIGTERM (its shutdown delay): long before its grace
    assert 2.8 <= stubborn_took < 6.0, stubborn_took  # SIGKILL at the end of its 3 s grace period


def test_environment_is_injected(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, service("backend", port=7000, selector={"app": "none"}))
    cluster_ip(cluster, ns, "backend")
    p = echo_pod("env", 1, readiness=False, image="busybox", command=["sh", "-c", "env | sort; sleep 600"],
                 env=[{"name": "GREETING", "value": "hi $(BACKEND_SERVICE_HOST):$(BACKEND_SERVICE_PORT) $$(x)"},
                      {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                      {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])
    create(cluster, ns, p)
    wait_ready(cluster, ns, "env")
    ip = pod(cluster, ns, "env")["status"]["podIP"]  # type: ignore[index]
    backend = cluster_ip(cluster, ns, "backend")
    text = wait_for(lambda: cluster.client.get(f"/api/v1/namespaces/{ns}/pods/env/log").text, 5, "env output")
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert env["GREETING"] == f"hi {backend}:7000 $(x)"
    assert env["MY_IP"] == ip == env["KUBELITE_POD_IP"] and ip.startswith("127.11.1.")
    assert env["MY_NAME"] == "env" == env["HOSTNAME"]
    assert env["BACKEND_SERVICE_HOST"] == backend and env["BACKEND_PORT_7000_TCP_ADDR"] == backend
    assert env["KUBERNETES_SERVICE_HOST"] == "127.97.0.1" and env["KUBERNETES_SERVICE_PORT"] == "443"


def test_kubectl_logs_follow_tail_and_errors(cluster: Cluster, ns: str) -> None:
    p = echo_pod("talk", 2, readiness=False, image="busybox",
                 command=["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; sleep 1; echo late; sleep 600"])
    create(cluster, ns, p)
    create(cluster, ns, echo_pod("waiting", 2, readiness=False, image="nginx"))
    wait_ready(cluster, ns, "talk")
    base = f"/api/v1/namespaces/{ns}/pods"
    wait_for(lambda: "line 5" in cluster.client.get(f"{base}/talk/log").text, 5, "the first lines")
    assert cluster.client.get(f"{base}/talk/log", params={"tailLines": "2"}).text.splitlines()[-1] in ("line 5", "late")
    with cluster.client.stream("GET", f"{base}/talk/log", params={"follow": "true"}, timeout=10) as r:
        assert r.status_code == 200
        got = b""
        for chunk in r.iter_raw():
            got += chunk
            if b"late" in got:
                break
    assert b"line 1\n" in got and b"late\n" in got
    stamped = cluster.client.get(f"{base}/talk/log", params={"timestamps": "true", "tailLines": "1"}).text
    assert stamped.split(" ", 1)[0].endswith("Z")
    r = cluster.client.get(f"{base}/waiting/log")
    assert r.status_code == 400
    assert r.json()["message"] == 'container "echo" in pod "waiting" is waiting to start: image can\'t be pulled'
    waiting = pod(cluster, ns, "waiting")["status"]["containerStatuses"][0]["state"]["waiting"]  # type: ignore[index]
    assert waiting["reason"] == "ErrImagePull" and "built-in" in waiting["message"]
    r = cluster.client.get(f"{base}/talk/log", params={"container": "nope"})
    assert r.status_code == 400 and r.json()["message"] == "container nope is not valid for pod talk"
    if kubectl := needs.kubectl():
        kcfg = cluster.dir / "kubeconfig"
        kcfg.write_text(
            f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{cluster.api.url}'}}}}]\n"
            "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n")
        out = subprocess.run([kubectl, "--kubeconfig", str(kcfg), "--cache-dir", str(cluster.dir / "kcache"), "-n", ns, "logs", "talk", "--tail", "1"],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "late\n"


def test_another_proxy_takes_over_a_cluster_ip_when_its_owner_dies(cluster: Cluster, ns: str) -> None:
    create(cluster, ns, echo_pod("ha", 1))
    create(cluster, ns, service("ha"))
    wait_ready(cluster, ns, "ha")
    ip = cluster_ip(cluster, ns, "ha")
    eventually(ip, 8080)
    owner = next(name for name in ("proxy-1", "proxy-2", "proxy-3")
                 if f"serving cluster {ip}:8080/TCP" in (cluster.dir / f"{name}.log").read_text())
    cluster.by_name[owner].kill()
    cluster.by_name[owner].wait(10)
    t0 = time.monotonic()
    assert who(eventually(ip, 8080, timeout=5)) == "ha"
    took = time.monotonic() - t0
    print(f"\n{owner} killed: another proxy served {ip}:8080 after {took:.2f}s")
    assert took < 2.0
    port = cluster.spawn(owner, cluster.argv[owner])  # leave the cluster whole
    assert port is not None
    wait_for(functools.partial(_healthy, port), 30, f"{owner} to come back")


def test_nodeport_answers_every_request_during_a_deployment_rolling_update(cluster: Cluster, ns: str) -> None:
    """Issue 11's traffic check: a Deployment's rolling update behind a NodePort loses no request."""
    for name in ("replicaset", "deployment"):
        if name not in cluster.by_name:
            port = cluster.spawn(name, ["controller", name, "--no-leader-elect"])
            assert port is not None
            wait_for(functools.partial(_healthy, port), 30, f"{name} controller")
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"terminationGracePeriodSeconds": 5,
                 "containers": [{"name": "echo", "image": "kubelite/echo", "ports": [{"containerPort": 8080}],
                                 "readinessProbe": READINESS, "env": [{"name": "VERSION", "value": "v1"}]}]},
    }
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template,
                       "strategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}
    r = cluster.client.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deploy)
    assert r.status_code == 201, r.text
    create(cluster, ns, service("web", type_="NodePort", selector={"app": "web"}))

    def rolled_out(generation: int) -> bool:
        d = cluster.client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()
        st = d.get("status") or {}
        return bool(st.get("observedGeneration", 0) >= generation and st.get("updatedReplicas") == 3
                    and st.get("availableReplicas") == 3 and st.get("replicas") == 3)

    wait_for(lambda: rolled_out(1), 60, "the first rollout")
    wait_endpoints(cluster, ns, "web", 3)
    np = node_port(cluster, ns, "web")
    eventually(node_ip(2), np)
    load = Load(node_ip(2), np).start()
    started = time.monotonic()
    try:
        time.sleep(0.5)
        patch = {"spec": {"template": {"spec": {"containers": [
            {"name": "echo", "env": [{"name": "VERSION", "value": "v2"}]}]}}}}
        r = cluster.client.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/web", json=patch,
                                 headers={"Content-Type": "application/strategic-merge-patch+json"})
        assert r.status_code == 200, r.text
        generation = r.json()["metadata"]["generation"]
        wait_for(lambda: rolled_out(generation), 90, "the rolling update")
        time.sleep(0.5)
    finally:
        load.stop()
    print(f"\nrolling update of a 3-replica Deployment behind NodePort {np}: {load.ok} requests answered, "
          f"{load.failed} failed, in {time.monotonic() - started:.1f}s")
    assert load.ok > 100
    assert load.failed == 0, load.failures[:5]
    rs = cluster.client.get(f"/apis/apps/v1/namespaces/{ns}/replicasets").json()["items"]
    assert len(rs) == 2 and sorted(x["spec"]["replicas"] for x in rs) == [0, 3]
