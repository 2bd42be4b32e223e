"""``kctl why`` end to end: the seed's manifests on a live cluster, then one deliberate mistake per cause.

A real API server, the ipam, nodeport and endpoints controllers (with leader election, so their
Leases exist) and one node agent run as processes; kctl runs as the user runs it. Every check
waits for its finding (generous timeouts, no timing asserts); the controllers are stopped last.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeclient.kctl.cli import main
from tests.allocator_procs import FAST_ELECTION
from tests.conftest import free_port, start_apiserver
from tests.test_deployments_e2e import Cluster
from tests.test_kctl import Result, Runner, _runner

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("why")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("ipam", "nodeport", "endpoints"):
            c.spawn(name, "controller", name, *FAST_ELECTION)
        c.spawn("node-1", "node", "--name", "node-1", "--pod-cidr", "10.87.1.0/24", "--kubelet-port",
                str(free_port()), *FAST_ELECTION)
        yield c
    finally:
        c.stop()


@dataclass(frozen=True)
class Kctl:
    """kctl as a process (``kctl(...)``), and its kubeconfig for in-process polls."""

    run: Runner
    kubeconfig: Path

    def __call__(self, *args: str) -> Result:
        return self.run(*args)


@pytest.fixture(scope="module")
def kctl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kctl:
    home = tmp_path_factory.mktemp("home")
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {cluster.url}\n"
        "users:\n- name: k\n  user: {}\n"
        "contexts:\n- name: k\n  context:\n    cluster: k\n    user: k\n"
        "current-context: k\n")
    return Kctl(_runner([sys.executable, "-m", "kubeclient.kctl.cli"], home), home / ".kube" / "config")


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as c:
        yield c


def in_process(kubeconfig: Path, *args: str) -> Result:
    """kctl's own entry point in this process: the same code and output, without a Python start per poll."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--kubeconfig", str(kubeconfig), *args])
        except SystemExit as e:
            code = int(e.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def findings(kctl: Kctl, target: str, ns: str = "shield") -> list[Obj]:
    r = in_process(kctl.kubeconfig, "why", target, "-n", ns, "-o", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["object"]["name"] == target.partition("/")[2]
    return list(doc["findings"])


def wait_finding(kctl: Kctl, target: str, reason: str, *, text: str = "", ns: str = "shield",
                 timeout: float = 45) -> tuple[Obj, list[Obj]]:
    """Ask again until a finding with ``reason`` (and ``text`` in its message) appears; it and all findings."""
    deadline = time.monotonic() + timeout
    while True:
        got = findings(kctl, target, ns)
        for f in got:
            if f["reason"] == reason and text in f["message"]:
                return f, got
        if time.monotonic() > deadline:
            raise AssertionError(f"no {reason} {text!r} for {target}: {json.dumps(got, indent=1)}")
        time.sleep(0.5)


def create(http: httpx.Client, body: Obj, ns: str = "shield") -> None:
    plural = {"Service": "services", "Pod": "pods", "Endpoints": "endpoints", "Namespace": "namespaces"}[body["kind"]]
    path = "/api/v1/namespaces" if plural == "namespaces" else f"/api/v1/namespaces/{ns}/{plural}"
    r = http.post(path, json=body)
    assert r.status_code == 201, r.text


def svc(name: str, *, selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 8080, "targetPort": 8080}])
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def pod(name: str, labels: dict[str, str], **extra: Any) -> Obj:
    meta: Obj = {"name": name, "labels": labels, **extra.pop("meta", {})}
    spec: Obj = {"terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "kubelite/echo", "ports": [{"containerPort": 8080}]}], **extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def test_seed_manifests_healthy_answer(kctl: Kctl) -> None:
    r = kctl("apply", "-f", str(ROOT / "examples" / "shield-app.yml"))
    assert r.code == 0, r.err
    f, _ = wait_finding(kctl, "svc/the-bus", "ServiceHasEndpoints", text="2 Ready endpoints")
    assert f["severity"] == "Info"
    assert f["message"].startswith("the-bus selects 2 Pods; 2 Ready endpoints: ")
    assert "(triskelion)" in f["message"] and "(zephyr-one)" in f["message"]
    text = kctl("why", "svc/the-bus", "-n", "shield")
    assert text.code == 0
    assert text.out.startswith("Info: the-bus selects 2 Pods; 2 Ready endpoints: "), text.out
    yaml_out = kctl("why", "svc/the-bus", "-n", "shield", "-o", "yaml")
    assert "reason: ServiceHasEndpoints" in yaml_out.out
    f, _ = wait_finding(kctl, "pod/triskelion", "ServiceSelectsPod")
    assert f["message"].startswith("the-bus selects triskelion; it is a Ready endpoint: 10.87.1.")


def test_unknown_object_is_not_found(kctl: Kctl) -> None:
    r: Result = kctl("why", "svc/nope", "-n", "shield")
    assert (r.code, r.err.strip()) == (1, 'Error from server (NotFound): services "nope" not found')
    r = kctl("why", "po/nope", "-n", "shield")
    assert (r.code, r.err.strip()) == (1, 'Error from server (NotFound): pods "nope" not found')


def test_selector_matches_no_pods(kctl: Kctl, http: httpx.Client) -> None:
    create(http, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})
    create(http, pod("stray", {"env": "marvel"}), ns="elsewhere")
    for name in ("triskelion", "zephyr-one"):
        assert kctl("label", f"pod/{name}", "-n", "shield", "env=shield", "--overwrite").code == 0
    try:
        f, got = wait_finding(kctl, "svc/the-bus", "SelectorMatchesNoPods")
        assert got[0] == f and f["severity"] == "Error"
        assert f["message"] == "selector env=marvel of the-bus matches no Pod in namespace shield"
        mismatch = [x for x in got if x["reason"] == "PodLabelMismatch"]
        assert mismatch[0]["message"] == "triskelion has env=shield; the-bus wants env=marvel"
        assert mismatch[0]["fix"] == "kctl label pod/triskelion -n shield env=marvel --overwrite"
        other = [x for x in got if x["reason"] == "PodMatchesInOtherNamespace"]
        assert other and other[0]["message"].startswith("stray in namespace elsewhere matches")
        f, got = wait_finding(kctl, "pod/triskelion", "NoServiceSelectsPod")
        assert any(x["reason"] == "PodLabelMismatch" and x["message"] == "triskelion has env=shield; the-bus wants "
                   "env=marvel" for x in got)
    finally:
        for name in ("triskelion", "zephyr-one"):
            assert kctl("label", f"pod/{name}", "-n", "shield", "env=marvel", "--overwrite").code == 0
    wait_finding(kctl, "svc/the-bus", "ServiceHasEndpoints", text="2 Ready endpoints")


def test_pods_not_ready_unscheduled_terminating(kctl: Kctl, http: httpx.Client) -> None:
    create(http, pod("sleepy", {"app": "sleepy"}, meta={"annotations": {"kubelite.io/ready": "false"}}))
    create(http, svc("sleepy", selector={"app": "sleepy"}))
    create(http, pod("stuck", {"app": "stuck"}, nodeSelector={"disk": "none-such"}))
    create(http, svc("stuck", selector={"app": "stuck"}))
    create(http, pod("leaving", {"app": "leaving"}, meta={"finalizers": ["example.com/hold"]}))
    create(http, svc("leaving", selector={"app": "leaving"}))

    f, _ = wait_finding(kctl, "svc/sleepy", "PodNotReady", text="Ready=False")
    assert f["severity"] == "Error" and f["message"].startswith("sleepy is not Ready (Ready=False, ContainersNotReady")
    f, _ = wait_finding(kctl, "pod/sleepy", "PodNotInEndpoints")
    assert f["message"].startswith("sleepy selects sleepy, but its endpoints list it not Ready")

    f, _ = wait_finding(kctl, "svc/stuck", "PodUnscheduled", text="Unschedulable")
    assert f["message"].startswith("stuck is not scheduled (Unschedulable: ")

    wait_finding(kctl, "svc/leaving", "ServiceHasEndpoints")
    r = http.delete("/api/v1/namespaces/shield/pods/leaving")
    assert r.status_code == 200, r.text
    f, _ = wait_finding(kctl, "svc/leaving", "PodTerminating")
    assert f["message"].startswith("leaving is terminating")
    r = http.patch("/api/v1/namespaces/shield/pods/leaving", json={"metadata": {"finalizers": None}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text


def test_target_ports_and_protocols(kctl: Kctl, http: httpx.Client) -> None:
    marvel = {"env": "marvel"}
    create(http, svc("named-port", selector=marvel, ports=[{"port": 80, "targetPort": "web"}]))
    create(http, svc("odd-port", selector=marvel, ports=[{"port": 80, "targetPort": 9090}]))
    create(http, svc("udp-port", selector=marvel, ports=[{"port": 8080, "protocol": "UDP", "targetPort": 8080}]))
    f, _ = wait_finding(kctl, "svc/named-port", "TargetPortNameNotFound")
    assert f["severity"] == "Error"
    assert f["message"] == ("named-port port 80/TCP targets the named port web, which no container of triskelion, "
                            "zephyr-one declares (declared: 8080/TCP)")
    f, _ = wait_finding(kctl, "svc/odd-port", "TargetPortNotDeclared")
    assert f["severity"] == "Warning" and "traffic is sent anyway" in f["message"]
    f, _ = wait_finding(kctl, "svc/odd-port", "ServiceHasEndpoints", text="9090")
    f, _ = wait_finding(kctl, "svc/udp-port", "ProtocolMismatch")
    assert f["message"].startswith("udp-port port 8080/UDP targets 8080/UDP, but triskelion, zephyr-one ")


def test_selectorless_external_name_headless(kctl: Kctl, http: httpx.Client) -> None:
    create(http, svc("by-hand", ports=[{"port": 80}]))
    create(http, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "by-hand"},
                  "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]})
    create(http, svc("outside", type="ExternalName", externalName="example.com", ports=[]))
    create(http, svc("bus-headless", selector={"env": "marvel"}, clusterIP="None"))
    f, _ = wait_finding(kctl, "svc/by-hand", "SelectorlessService")
    assert f["message"] == "by-hand has no selector; its Endpoints are written by hand: 10.1.2.3:80"
    f, got = wait_finding(kctl, "svc/outside", "ExternalNameService")
    assert "CNAME to example.com" in f["message"] and len(got) == 1
    wait_finding(kctl, "svc/bus-headless", "HeadlessService")
    wait_finding(kctl, "svc/bus-headless", "ServiceHasEndpoints", text="2 Ready endpoints")


def test_controllers_not_running(kctl: Kctl, http: httpx.Client, cluster: Cluster) -> None:
    for name, proc, _ in cluster.procs:
        if name in ("ipam", "nodeport", "endpoints"):
            proc.terminate()  # SIGTERM: each releases its Lease on the way out
    for name, proc, _ in cluster.procs:
        if name in ("ipam", "nodeport", "endpoints"):
            proc.wait(30)
    create(http, svc("late", selector={"env": "marvel"}, type="NodePort"))
    f, got = wait_finding(kctl, "svc/late", "EndpointsControllerNotRunning")
    assert "kube-system/kubelite-endpoints" in f["message"] and f["objects"] == [
        {"kind": "Lease", "namespace": "kube-system", "name": "kubelite-endpoints"}]
    reasons = [x["reason"] for x in got]
    for reason in ("IPAMControllerNotRunning", "ClusterIPNotAllocated", "NodePortControllerNotRunning",
                   "NodePortNotAllocated"):
        assert reason in reasons, got
    assert reasons.index("IPAMControllerNotRunning") < reasons.index("ClusterIPNotAllocated")
    text = kctl("why", "svc/late", "-n", "shield")
    assert "fix: start it: kubelite controller ipam (kubelite up runs it)" in text.out
