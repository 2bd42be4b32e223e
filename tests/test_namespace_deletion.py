"""Deleting a namespace as Kubernetes does: Terminating while its Pods terminate gracefully, then gone.

Why: kube-controller-manager's namespace controller deletes a namespace's
contents as a client would (a graceful delete of each Pod, which its node's
kubelet finishes), reports what remains in the namespace's status conditions
(NamespaceContentRemaining, NamespaceDeletionContentFailure, ...), and only
when nothing is left removes the ``kubernetes`` finalizer, which deletes the
namespace. Live processes: an API server, ``kubelite controller namespace`` and one
``kubelite node`` agent.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.allocator_procs import start_controller
from tests.conftest import ApiServerProcess, free_port, start_apiserver
from tests.test_kubectl_e2e import Kubectl

NODE = "ns-node"


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    tmp = tmp_path_factory.mktemp("ns-deletion")
    api = start_apiserver(tmp / "api")
    controller = start_controller("namespace", api.url, tmp / "logs", "--no-leader-elect")
    log = (tmp / "node.log").open("ab")
    node = subprocess.Popen([sys.executable, "-m", "kubelite.cli", "node", "--server", api.url, "--name", NODE,
                             "--pod-cidr", "10.87.0.0/24", "--kubelet-port", str(free_port()),
                             "--leader-elect-retry-period", "0.5s"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            assert node.poll() is None, (tmp / "node.log").read_text()[-3000:]
            r = httpx.get(f"{api.url}/api/v1/nodes/{NODE}")
            conds = r.json().get("status", {}).get("conditions", []) if r.status_code == 200 else []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

        wait_for(ready, 30, "the node agent's Node to be Ready")
        yield api
    finally:
        node.terminate()
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(10)
        controller.stop()
        api.stop()


@pytest.fixture
def http(cluster: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=10) as c:
        yield c


def _namespace(http: httpx.Client, name: str) -> None:
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text


def _pod(name: str, *, node: str | None, grace: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}],
                            "terminationGracePeriodSeconds": grace}
    if node:
        spec["nodeName"] = node
    else:  # never scheduled: the node agent's scheduler finds no node with this label
        spec["nodeSelector"] = {"kubelite.io/test-nowhere": "true"}
    # The simulated container ignores SIGTERM: it terminates for its whole (short) grace period.
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": {"kubelite.io/ignore-sigterm": "true"}}, "spec": spec}


def _conditions(ns: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ns.get("status", {}).get("conditions") or []}


def test_namespace_waits_for_its_pods_to_terminate_gracefully(cluster: ApiServerProcess, http: httpx.Client,
                                                              tmp_path: Path) -> None:
    ns = "graceful-ns"
    _namespace(http, ns)
    grace = 4
    assert http.post(f"/api/v1/namespaces/{ns}/pods", json=_pod("web", node=NODE, grace=grace)).status_code == 201
    pod_url = f"/api/v1/namespaces/{ns}/pods/web"
    wait_for(lambda: http.get(pod_url).json().get("status", {}).get("phase") == "Running", 30, "the Pod to run")

    r = http.delete(f"/api/v1/namespaces/{ns}")
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Terminating"
    deleted = time.monotonic()

    # The namespace controller deletes the Pod gracefully: it gets a deletionTimestamp and its grace period.
    pod = wait_for(lambda: (p := http.get(pod_url).json()).get("metadata", {}).get("deletionTimestamp") and p,
                   10, "the Pod to be terminating")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == grace
    ns_obj = wait_for(lambda: (o := http.get(f"/api/v1/namespaces/{ns}").json())
                      .get("status", {}).get("conditions") and o, 10, "the namespace's conditions")
    assert ns_obj["status"]["phase"] == "Terminating"
    conds = _conditions(ns_obj)
    assert conds["NamespaceContentRemaining"]["status"] == "True"
    assert conds["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conds["NamespaceContentRemaining"]["message"] == "Some resources are remaining: pods. has 1 resource instances"
    assert conds["NamespaceDeletionContentFailure"] == {
        **conds["NamespaceDeletionContentFailure"], "status": "False", "reason": "ContentDeleted",
        "message": "All content successfully deleted, may be waiting on finalization"}
    assert {t: c["status"] for t, c in conds.items()} == {
        "NamespaceDeletionDiscoveryFailure": "False", "NamespaceDeletionGroupVersionParsingFailure": "False",
        "NamespaceDeletionContentFailure": "False", "NamespaceContentRemaining": "True",
        "NamespaceFinalizersRemaining": "False"}
    kubectl = Kubectl(cluster, tmp_path)
    assert kubectl.ok("get", "namespace", ns, "--no-headers").out.split()[1] == "Terminating"
    # Nothing new may be created meanwhile.
    r = http.post(f"/api/v1/namespaces/{ns}/pods", json=_pod("late", node=None, grace=0))
    assert r.status_code == 403
    assert r.json()["message"].endswith(f"unable to create new content in namespace {ns} because it is being "
                                        "terminated")

    # The node agent finishes the Pod after its grace period; only then does the namespace go.
    pod_gone = ns_gone = 0.0
    end = time.monotonic() + grace + 20
    while time.monotonic() < end and not ns_gone:
        now = time.monotonic()
        if not pod_gone and http.get(pod_url).status_code == 404:
            pod_gone = now
        if http.get(f"/api/v1/namespaces/{ns}").status_code == 404:
            ns_gone = now
        time.sleep(0.05)
    assert pod_gone and ns_gone, (pod_gone, ns_gone)
    assert pod_gone <= ns_gone
    assert pod_gone - deleted >= grace - 1.5, "the Pod was not given its grace period"


def test_namespace_without_running_pods_goes_at_once(http: httpx.Client) -> None:
    ns = "quick-ns"
    _namespace(http, ns)
    assert http.post(f"/api/v1/namespaces/{ns}/pods", json=_pod("pending", node=None, grace=30)).status_code == 201
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"ports": [{"port": 80}]}}
    assert http.post(f"/api/v1/namespaces/{ns}/services", json=svc).status_code == 201
    start = time.monotonic()
    assert http.delete(f"/api/v1/namespaces/{ns}").status_code == 200
    wait_for(lambda: http.get(f"/api/v1/namespaces/{ns}").status_code == 404, 10, "the namespace to be gone")
    assert time.monotonic() - start < 5
    assert http.get(f"/api/v1/namespaces/{ns}/pods/pending").status_code == 404
    assert http.get(f"/api/v1/namespaces/{ns}/services/web").status_code == 404


def test_a_foreign_spec_finalizer_holds_the_namespace_until_finalize_removes_it(
        cluster: ApiServerProcess, http: httpx.Client, tmp_path: Path) -> None:
    """The controller removes only its own ``kubernetes`` finalizer; PUT .../finalize is how anyone else does."""
    ns = "held-ns"
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                              "spec": {"finalizers": ["example.com/hold"]}})
    assert r.status_code == 201 and r.json()["spec"]["finalizers"] == ["example.com/hold", "kubernetes"]
    assert http.delete(f"/api/v1/namespaces/{ns}").status_code == 200
    held = wait_for(lambda: (o := http.get(f"/api/v1/namespaces/{ns}").json())["spec"]["finalizers"]
                    == ["example.com/hold"] and o, 15, "the controller to remove its finalizer")
    assert held["status"]["phase"] == "Terminating"
    assert _conditions(held)["NamespaceContentRemaining"]["status"] == "False"

    bad = {**held, "spec": {"finalizers": ["not a name"]}}
    r = http.put(f"/api/v1/namespaces/{ns}/finalize", json=bad)
    assert r.status_code == 422, r.text
    assert r.json()["details"]["causes"][0]["field"] == "spec.finalizers"
    assert http.get(f"/api/v1/namespaces/{ns}/finalize").status_code == 405

    body = tmp_path / "finalize.json"
    body.write_text(httpx.Response(200, json={**held, "spec": {"finalizers": []}}).text)
    kubectl = Kubectl(cluster, tmp_path)
    out = kubectl.ok("replace", "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", str(body)).out
    assert '"finalizers":[]' in out.replace(" ", "")
    wait_for(lambda: http.get(f"/api/v1/namespaces/{ns}").status_code == 404, 10, "the namespace to be gone")


def test_finalize_is_listed_in_discovery(http: httpx.Client) -> None:
    resources = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
    assert resources["namespaces/finalize"]["verbs"] == ["update"]
    assert resources["namespaces/finalize"]["kind"] == "Namespace"
