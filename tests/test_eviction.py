"""The pods/eviction subresource: what kubectl drain and the Python client see.

Through HTTP against a live API server (budgets' status written through their
status subresource, as the disruption controller would): kube-apiserver's
exact Status bytes for an eviction a budget refuses (429), for a Pod no budget
covers (201 Success), for a Pod two budgets cover (500) and for a missing Pod
(404); the budget spent atomically with the delete (disruptionsAllowed - 1 and
the Pod in status.disruptedPods); DeleteOptions honoured. End to end with real
processes (API server, replicaset, deployment, gc and disruption controllers,
two node agents): ``kubectl drain`` cordons, is held back by a budget, reports
kubectl's retry line, and finishes once the Deployment is scaled up.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiserver import protobuf
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import ApiServerProcess, start_apiserver
from tests.test_deployments_e2e import Cluster

PODS = "/api/v1/namespaces/{ns}/pods"
PDBS = "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
SUCCESS = b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}\n'


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _eviction(name: str, ns: str = "", api_version: str = "policy/v1", **delete_options: Any) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    body: dict[str, Any] = {"apiVersion": api_version, "kind": "Eviction", "metadata": meta}
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


def _pod(api: httpx.Client, ns: str, name: str, labels: dict[str, str], *, ready: bool = True,
         node: str = "") -> dict[str, Any]:
    """A Running Pod (Ready or not), optionally bound to ``node`` (then its deletion is graceful)."""
    r = api.post(PODS.format(ns=ns), json={"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"name": name, "labels": labels},
                                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    assert r.status_code == 201, r.text
    if node:
        b = api.post(PODS.format(ns=ns) + f"/{name}/binding",
                     json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                           "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
        assert b.status_code == 201, b.text
    s = api.patch(PODS.format(ns=ns) + f"/{name}/status",
                  headers={"Content-Type": "application/merge-patch+json"},
                  json={"status": {"phase": "Running", "conditions": [
                      {"type": "Ready", "status": "True" if ready else "False"}]}})
    assert s.status_code == 200, s.text
    return dict(s.json())


def _budget(api: httpx.Client, ns: str, name: str, selector: dict[str, str], *, allowed: int, current: int,
            desired: int, observed: int = 1, **spec: Any) -> dict[str, Any]:
    """A PodDisruptionBudget whose status says what the disruption controller would have computed."""
    r = api.post(PDBS.format(ns=ns), json={"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                           "metadata": {"name": name},
                                           "spec": {"minAvailable": desired, "selector": {"matchLabels": selector},
                                                    **spec}})
    assert r.status_code == 201, r.text
    pdb = r.json()
    pdb["status"] = {"observedGeneration": observed, "disruptionsAllowed": allowed, "currentHealthy": current,
                     "desiredHealthy": desired, "expectedPods": current}
    u = api.put(PDBS.format(ns=ns) + f"/{name}/status", json=pdb)
    assert u.status_code == 200, u.text
    return dict(u.json())


def _evict(api: httpx.Client, ns: str, name: str, body: dict[str, Any] | None = None,
           **params: str) -> httpx.Response:
    return api.post(PODS.format(ns=ns) + f"/{name}/eviction", json=body or _eviction(name), params=params)


# ---------------------------------------------------------------------------
# HTTP: the Status bytes
# ---------------------------------------------------------------------------


def test_a_pod_no_budget_covers_is_deleted_with_a_success_status(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "free", {"app": "free"})
    r = _evict(api, ns, "free")
    assert (r.status_code, r.content) == (201, SUCCESS)
    assert api.get(PODS.format(ns=ns) + "/free").status_code == 404


def test_a_budget_with_no_disruption_left_answers_429(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "web-1", {"app": "web"})
    _budget(api, ns, "web-pdb", {"app": "web"}, allowed=0, current=2, desired=2)
    r = _evict(api, ns, "web-1")
    assert r.status_code == 429
    assert "retry-after" not in r.headers
    assert r.content == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Cannot evict pod as it '
        b"would violate the pod's disruption budget.\",\"reason\":\"TooManyRequests\",\"details\":{\"causes\":"
        b'[{"reason":"DisruptionBudget","message":"The disruption budget web-pdb needs 2 healthy pods and has 2 '
        b'currently"}]},"code":429}\n')
    assert api.get(PODS.format(ns=ns) + "/web-1").status_code == 200


def test_a_budget_not_yet_observed_asks_to_come_back_in_10s(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "web-1", {"app": "web"})
    _budget(api, ns, "fresh", {"app": "web"}, allowed=1, current=2, desired=1, observed=0)
    r = _evict(api, ns, "web-1")
    assert (r.status_code, r.headers.get("retry-after")) == (429, "10")
    assert r.json()["details"] == {"causes": [{"reason": "DisruptionBudget", "message":
                                               "The disruption budget fresh is still being processed by the "
                                               "server."}], "retryAfterSeconds": 10}


def test_an_allowed_eviction_spends_the_budget_with_the_delete(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "web-1", {"app": "web"})
    _pod(api, ns, "web-2", {"app": "web"})
    _budget(api, ns, "web-pdb", {"app": "web"}, allowed=1, current=2, desired=1)
    r = _evict(api, ns, "web-1")
    assert (r.status_code, r.content) == (201, SUCCESS)
    assert api.get(PODS.format(ns=ns) + "/web-1").status_code == 404
    status = api.get(PDBS.format(ns=ns) + "/web-pdb").json()["status"]
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["web-1"]
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "False", "InsufficientPods")
    # the second one is refused: the budget is spent
    r2 = _evict(api, ns, "web-2")
    assert r2.status_code == 429
    assert r2.json()["details"]["causes"][0]["message"] == (
        "The disruption budget web-pdb needs 1 healthy pods and has 2 currently")


def test_a_pod_two_budgets_cover_answers_kubes_500(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "web-1", {"app": "web", "tier": "front"})
    _budget(api, ns, "one", {"app": "web"}, allowed=1, current=2, desired=1)
    _budget(api, ns, "two", {"tier": "front"}, allowed=1, current=2, desired=1)
    r = _evict(api, ns, "web-1")
    assert (r.status_code, r.content) == (500, (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"This pod has more than '
        b'one PodDisruptionBudget, which the eviction subresource does not support.","code":500}\n'))
    assert api.get(PODS.format(ns=ns) + "/web-1").status_code == 200


def test_a_missing_pod_is_404(api: httpx.Client, ns: str) -> None:
    r = _evict(api, ns, "ghost")
    assert (r.status_code, r.content) == (404, (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"ghost\\" not '
        b'found","reason":"NotFound","details":{"name":"ghost","kind":"pods"},"code":404}\n'))


def test_the_name_must_match_the_url(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "web-1", {"app": "web"})
    r = _evict(api, ns, "web-1", _eviction("other"))
    assert (r.status_code, r.json()["message"]) == (400, "name in URL does not match name in Eviction object")


@pytest.mark.parametrize(("options", "field", "go_type", "json_type"), [
    ({"gracePeriodSeconds": "30"}, "gracePeriodSeconds", "int64", "string"),
    ({"preconditions": {"uid": 7}}, "preconditions.uid", "string", "number"),
    ({"dryRun": "All"}, "dryRun", "[]string", "string"),
])
def test_delete_options_of_the_wrong_type_are_400(api: httpx.Client, ns: str, options: dict[str, Any], field: str,
                                                  go_type: str, json_type: str) -> None:
    _pod(api, ns, "typed", {"app": "typed"})
    r = _evict(api, ns, "typed", _eviction("typed", **options))
    assert (r.status_code, r.json()["message"]) == (400, (
        f'Eviction in version "v1" cannot be handled as a Eviction: json: cannot unmarshal {json_type} into Go '
        f"struct field Eviction.deleteOptions.{field} of type {go_type}"))
    assert api.get(PODS.format(ns=ns) + "/typed").status_code == 200


def test_a_policy_v1beta1_eviction_is_accepted(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "old", {"app": "old"})
    r = _evict(api, ns, "old", _eviction("old", ns, api_version="policy/v1beta1"))
    assert (r.status_code, r.content) == (201, SUCCESS)


def test_an_unready_pod_is_evicted_without_spending_a_healthy_budget(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "sick", {"app": "web"}, ready=False)
    _budget(api, ns, "web-pdb", {"app": "web"}, allowed=0, current=2, desired=2)
    assert _evict(api, ns, "sick").status_code == 201
    assert api.get(PDBS.format(ns=ns) + "/web-pdb").json()["status"]["disruptionsAllowed"] == 0


def test_always_allow_evicts_unready_pods_of_an_unhealthy_budget(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "sick", {"app": "web"}, ready=False)
    _budget(api, ns, "strict", {"app": "web"}, allowed=0, current=0, desired=2)
    assert _evict(api, ns, "sick").status_code == 429  # IfHealthyBudget (the default): the budget is unhealthy
    _pod(api, ns, "sick2", {"app": "db"}, ready=False)
    _budget(api, ns, "lenient", {"app": "db"}, allowed=0, current=0, desired=2,
            unhealthyPodEvictionPolicy="AlwaysAllow")
    assert _evict(api, ns, "sick2").status_code == 201


def test_dry_run_deletes_nothing_and_spends_nothing(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "web-1", {"app": "web"})
    _budget(api, ns, "web-pdb", {"app": "web"}, allowed=1, current=2, desired=1)
    assert _evict(api, ns, "web-1", dryRun="All").status_code == 201
    assert _evict(api, ns, "web-1", _eviction("web-1", dryRun=["All"])).status_code == 201
    assert api.get(PODS.format(ns=ns) + "/web-1").status_code == 200
    assert api.get(PDBS.format(ns=ns) + "/web-pdb").json()["status"]["disruptionsAllowed"] == 1


def test_delete_options_grace_period_and_preconditions(api: httpx.Client, ns: str) -> None:
    _pod(api, ns, "slow", {"app": "slow"}, node="node-x")
    # a bound Pod is deleted gracefully: it stays, terminating, with the Pod's default grace
    assert _evict(api, ns, "slow").status_code == 201
    meta = api.get(PODS.format(ns=ns) + "/slow").json()["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30 and meta["deletionTimestamp"]
    _pod(api, ns, "fast", {"app": "fast"}, node="node-x")
    assert _evict(api, ns, "fast", _eviction("fast", gracePeriodSeconds=0)).status_code == 201
    assert api.get(PODS.format(ns=ns) + "/fast").status_code == 404
    pod = _pod(api, ns, "pinned", {"app": "pinned"})
    r = _evict(api, ns, "pinned", _eviction("pinned", preconditions={"uid": "not-the-uid"}))
    assert (r.status_code, r.json()["message"]) == (409, (
        'Operation cannot be fulfilled on pods "pinned": Precondition failed: UID in precondition: not-the-uid, '
        f'UID in object meta: {pod["metadata"]["uid"]}'))
    ok = _evict(api, ns, "pinned", _eviction("pinned", preconditions={"uid": pod["metadata"]["uid"]}))
    assert ok.status_code == 201


def test_a_protobuf_eviction_as_kubectl_sends_it(api: httpx.Client, ns: str) -> None:
    """kubectl's typed client POSTs the Eviction as protobuf."""
    _pod(api, ns, "pb", {"app": "pb"})
    cls = protobuf.message_class("k8s.io.api.policy.v1.Eviction")
    msg = cls()
    msg.metadata.name, msg.metadata.namespace = "pb", ns
    msg.deleteOptions.gracePeriodSeconds = 0
    envelope = protobuf.message_class("k8s.io.apimachinery.pkg.runtime.Unknown")()
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = "policy/v1", "Eviction"
    envelope.raw = msg.SerializeToString()
    r = api.post(PODS.format(ns=ns) + "/pb/eviction", content=protobuf.MAGIC + envelope.SerializeToString(),
                 headers={"Content-Type": protobuf.PROTOBUF_CONTENT_TYPE})
    assert (r.status_code, r.content) == (201, SUCCESS)


def test_discovery_names_the_eviction_kind(api: httpx.Client) -> None:
    """kubectl drain evicts only when discovery lists pods/eviction with kind Eviction and its group-version."""
    entries = {e["name"]: e for e in api.get("/api/v1").json()["resources"]}
    assert entries["pods/eviction"] == {"name": "pods/eviction", "singularName": "", "namespaced": True,
                                        "group": "policy", "version": "v1", "kind": "Eviction",
                                        "verbs": ["create"]}


# ---------------------------------------------------------------------------
# the official Python client
# ---------------------------------------------------------------------------


def test_python_client_create_namespaced_pod_eviction(apiserver: ApiServerProcess, api: httpx.Client,
                                                      ns: str) -> None:
    k8s = pytest.importorskip("kubernetes.client")
    from kubernetes.client.rest import ApiException

    _pod(api, ns, "web-1", {"app": "web"})
    _pod(api, ns, "web-2", {"app": "web"})
    _budget(api, ns, "web-pdb", {"app": "web"}, allowed=1, current=2, desired=1)
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as client:
        core = k8s.CoreV1Api(client)
        body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name="web-1", namespace=ns))
        core.create_namespaced_pod_eviction("web-1", ns, body)
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod_eviction("web-2", ns, k8s.V1Eviction(
                metadata=k8s.V1ObjectMeta(name="web-2", namespace=ns)))
        assert refused.value.status == 429
        names = [p.metadata.name for p in core.list_namespaced_pod(ns).items]
        assert names == ["web-2"]
        pdb = k8s.PolicyV1Api(client).read_namespaced_pod_disruption_budget("web-pdb", ns)
        assert pdb.status.disruptions_allowed == 0 and list(pdb.status.disrupted_pods) == ["web-1"]


# ---------------------------------------------------------------------------
# kubectl drain, end to end with real processes
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("drain")
    c = Cluster(start_apiserver(base / "api"), base)
    try:
        for name in ("replicaset", "deployment", "gc", "disruption"):
            c.spawn(name, "controller", name, "--no-leader-elect")
        for i in (1, 2):
            c.spawn(f"node-{i}", "node", "--name", f"node-{i}", "--pod-cidr", f"10.87.{i}.0/24")
        (base / "kubeconfig").write_text(render_kubeconfig(c.url))
        yield c
    finally:
        c.stop()


def _kubectl(cluster: Cluster, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([needs.kubectl(), "--cache-dir", str(cluster.dir / "kcache"), *args], capture_output=True,
                         text=True, timeout=timeout, env={**os.environ, "KUBECONFIG": str(cluster.dir / "kubeconfig")})
    if check:
        assert out.returncode == 0, out.stderr + cluster.logs()
    return out


def _wait(what: str, cond: Callable[[], bool], cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{cluster.logs()}")


@pytest.mark.slow
def test_kubectl_drain_is_held_by_a_budget_until_the_deployment_grows(cluster: Cluster, tmp_path: Path) -> None:
    ns = "drain"
    _kubectl(cluster, "create", "namespace", ns)
    _kubectl(cluster, "-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    _kubectl(cluster, "-n", ns, "create", "pdb", "web", "--selector=app=web", "--min-available=2")
    api = httpx.Client(base_url=cluster.url, timeout=10)

    def pdb_status() -> dict[str, Any]:
        return dict(api.get(PDBS.format(ns=ns) + "/web").json().get("status") or {})

    _wait("2 healthy Pods counted by the budget", lambda: pdb_status().get("currentHealthy") == 2, cluster)
    status = pdb_status()
    assert (status["desiredHealthy"], status["expectedPods"], status["disruptionsAllowed"]) == (2, 2, 0)
    table = _kubectl(cluster, "-n", ns, "get", "pdb").stdout.splitlines()
    assert table[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert table[1].split()[:4] == ["web", "2", "N/A", "0"]

    pods = api.get(PODS.format(ns=ns)).json()["items"]
    node = pods[0]["spec"]["nodeName"]
    log = tmp_path / "drain.log"
    with log.open("w") as out:
        drain = subprocess.Popen([needs.kubectl(), "--cache-dir", str(cluster.dir / "kcache"), "drain", node,
                                  "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s"],
                                 stdout=out, stderr=subprocess.STDOUT, text=True,
                                 env={**os.environ, "KUBECONFIG": str(cluster.dir / "kubeconfig")})
        try:
            _wait("kubectl drain to report the budget", lambda: VIOLATION in log.read_text(), cluster)
            text = log.read_text()
            assert f"node/{node} cordoned" in text
            assert "(will retry after 5s): " + VIOLATION in text
            assert drain.poll() is None  # still retrying
            node_obj = api.get(f"/api/v1/nodes/{node}").json()
            assert node_obj["spec"]["unschedulable"] is True
            # more replicas: the new Pods land on the other node, the budget allows a disruption, drain finishes
            _kubectl(cluster, "-n", ns, "scale", "deployment", "web", "--replicas=4")
            assert drain.wait(100) == 0, log.read_text() + cluster.logs()
        finally:
            if drain.poll() is None:
                drain.kill()
                drain.wait(10)
    text = log.read_text()
    assert f"node/{node} drained" in text and "evicted" in text
    left = [p for p in api.get(PODS.format(ns=ns)).json()["items"]
            if p["spec"].get("nodeName") == node and not p["metadata"].get("deletionTimestamp")]
    assert left == []
    _kubectl(cluster, "uncordon", node)
    assert not api.get(f"/api/v1/nodes/{node}").json()["spec"].get("unschedulable")
    api.close()
