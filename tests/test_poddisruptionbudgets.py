"""PodDisruptionBudgets (policy/v1, pdb): what a user sees, and the disruption controller's arithmetic.

Through HTTP and kubectl against a live API server: create/get/list/patch/
delete, the status subresource (reset on create, kept on spec updates),
ValidatePodDisruptionBudget's messages, the Table kubectl prints. The
controller's rules as table tests, and the controller as a process: it
counts Pods through their controllers' scale (ReplicaSets, Deployments)
for percentages and maxUnavailable, and fails safe (SyncFailed, no
disruption allowed) for an owner kind kubelite does not serve.
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

from apimachinery.timestamps import format_time
from controllers.disruption import (
    CountError,
    Scale,
    budget_status,
    count_healthy,
    covered_pods,
    disrupted_pod_map,
    expected_and_desired,
    fail_safe_status,
    status_current,
)
from tests.conftest import ApiServerProcess, free_port, run_kubectl

PDBS = "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
PODS = "/api/v1/namespaces/{ns}/pods"
PERCENT_MSG = ("a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
               "regex used for validation is '[0-9]+%')")


def _pdb(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name}, "spec": spec}


SEL = {"matchLabels": {"app": "web"}}


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


def test_create_get_list_patch_delete(api: httpx.Client, ns: str) -> None:
    body = _pdb("web", minAvailable="50%", selector=SEL, unhealthyPodEvictionPolicy="AlwaysAllow")
    body["status"] = {"disruptionsAllowed": 9}  # a create's status is the server's
    r = api.post(PDBS.format(ns=ns), json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                 "expectedPods": 0}
    assert created["spec"] == {"minAvailable": "50%", "selector": SEL, "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    assert created["metadata"]["generation"] == 1
    assert [i["metadata"]["name"] for i in api.get(PDBS.format(ns=ns)).json()["items"]] == ["web"]
    # policy/v1 budgets are mutable; the spec change bumps the generation, status is kept
    p = api.patch(PDBS.format(ns=ns) + "/web", headers={"Content-Type": "application/merge-patch+json"},
                  json={"spec": {"minAvailable": None, "maxUnavailable": 1}, "status": {"expectedPods": 5}})
    assert p.status_code == 200, p.text
    assert p.json()["spec"]["maxUnavailable"] == 1 and "minAvailable" not in p.json()["spec"]
    assert (p.json()["metadata"]["generation"], p.json()["status"]["expectedPods"]) == (2, 0)
    s = api.patch(PDBS.format(ns=ns) + "/web/status", headers={"Content-Type": "application/merge-patch+json"},
                  json={"status": {"expectedPods": 5, "observedGeneration": 2}})
    assert s.status_code == 200 and s.json()["status"]["expectedPods"] == 5
    assert s.json()["metadata"]["generation"] == 2
    d = api.delete(PDBS.format(ns=ns) + "/web")
    assert d.status_code == 200 and d.json()["details"] == {"name": "web", "group": "policy",
                                                            "kind": "poddisruptionbudgets",
                                                            "uid": created["metadata"]["uid"]}
    assert api.get(PDBS.format(ns=ns) + "/web").status_code == 404


def _invalid(api: httpx.Client, ns: str, body: dict[str, Any]) -> tuple[int, str, list[str]]:
    r = api.post(PDBS.format(ns=ns), json=body)
    causes = r.json().get("details", {}).get("causes", [])
    return r.status_code, r.json()["message"], [c.get("field", "") for c in causes]


def test_min_available_and_max_unavailable_cannot_be_both_set(api: httpx.Client, ns: str) -> None:
    code, message, fields = _invalid(api, ns, _pdb("both", minAvailable=1, maxUnavailable=1, selector=SEL))
    assert (code, fields) == (422, ["spec"])
    assert message.startswith('PodDisruptionBudget.policy "both" is invalid: spec: Invalid value: '
                              "policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(")
    assert message.endswith("}: minAvailable and maxUnavailable cannot be both set")


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minAvailable": "120%"}, 'spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
                               'StrVal:"120%"}: must not be greater than 100%'),
    ({"maxUnavailable": "half"}, 'spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
                                 f'StrVal:"half"}}: {PERCENT_MSG}'),
    ({"minAvailable": -1}, "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"),
    ({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Sometimes"},
     'spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", '
     '"IfHealthyBudget"'),
])
def test_validation_messages(api: httpx.Client, ns: str, spec: dict[str, Any], expected: str) -> None:
    code, message, _ = _invalid(api, ns, _pdb("bad", selector=SEL, **spec))
    assert (code, message) == (422, f'PodDisruptionBudget.policy "bad" is invalid: {expected}')


def test_status_update_validation(api: httpx.Client, ns: str) -> None:
    assert api.post(PDBS.format(ns=ns), json=_pdb("s", minAvailable=1, selector=SEL)).status_code == 201
    r = api.patch(PDBS.format(ns=ns) + "/s/status", headers={"Content-Type": "application/merge-patch+json"},
                  json={"status": {"disruptionsAllowed": -1}})
    assert (r.status_code, r.json()["message"]) == (422, 'PodDisruptionBudget.policy "s" is invalid: '
                                                         "status.disruptionsAllowed: Invalid value: -1: must be "
                                                         "greater than or equal to 0")


def test_table_columns(api: httpx.Client, ns: str) -> None:
    api.post(PDBS.format(ns=ns), json=_pdb("a", minAvailable="30%", selector=SEL))
    api.post(PDBS.format(ns=ns), json=_pdb("b", maxUnavailable=2, selector=SEL))
    table = api.get(PDBS.format(ns=ns), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"), ("Min Available", "string"), ("Max Unavailable", "string"),
        ("Allowed Disruptions", "integer"), ("Age", "string")]
    assert [r["cells"][:4] for r in table["rows"]] == [["a", "30%", "N/A", 0], ["b", "N/A", "2", 0]]


def test_kubectl_create_get_and_api_resources(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "pdb", "web", "--selector=app=web",
                 "--max-unavailable=25%")
    assert (r.returncode, r.stdout) == (0, "poddisruptionbudget.policy/web created\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "pdb", "zero", "--selector=app=db",
                 "--min-available=0")
    assert r.returncode == 0, r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "pdb")
    lines = [line.split() for line in r.stdout.splitlines()]
    assert lines[0] == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert [line[:4] for line in lines[1:]] == [["web", "N/A", "25%", "0"], ["zero", "0", "N/A", "0"]]
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "pdb", "both", "--selector=app=x",
                 "--min-available=1", "--max-unavailable=1")
    assert r.returncode != 0  # kubectl refuses both flags itself
    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=policy", "--no-headers")
    assert r.stdout.split() == ["poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"]


def test_python_client_lists_budgets(apiserver: ApiServerProcess, api: httpx.Client, ns: str) -> None:
    k8s = pytest.importorskip("kubernetes.client")
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as client:
        policy = k8s.PolicyV1Api(client)
        policy.create_namespaced_pod_disruption_budget(ns, k8s.V1PodDisruptionBudget(
            metadata=k8s.V1ObjectMeta(name="py"),
            spec=k8s.V1PodDisruptionBudgetSpec(min_available=2, selector=k8s.V1LabelSelector(
                match_labels={"app": "py"}))))
        [item] = policy.list_namespaced_pod_disruption_budget(ns).items
        assert (item.metadata.name, item.spec.min_available, item.status.disruptions_allowed) == ("py", 2, 0)
        policy.delete_namespaced_pod_disruption_budget("py", ns)
        assert policy.list_namespaced_pod_disruption_budget(ns).items == []


# ---------------------------------------------------------------------------
# the controller's rules (pure)
# ---------------------------------------------------------------------------


def _pod_obj(name: str, *, ready: bool = True, owner: tuple[str, str, str] | None = None,
             deleting: bool = False, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "labels": labels or {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2], "uid": owner[2],
                                    "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"phase": "Running",
                                         "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _budget_obj(generation: int = 1, status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "b", "namespace": "ns", "generation": generation},
            "spec": {"selector": SEL, **spec}, "status": status or {}}


RS = ("apps/v1", "ReplicaSet", "rs-1")


def _finder(scales: dict[str, int]) -> Callable[[Any, str], Scale | None]:
    return lambda ref, _ns: Scale(ref["uid"], scales[ref["uid"]]) if ref["uid"] in scales else None


@pytest.mark.parametrize(("spec", "pods", "scales", "expected"), [
    # an integer minAvailable counts the covered Pods, whatever their controllers
    ({"minAvailable": 2}, 3, {}, (3, 2, [])),
    # a percentage scales the controllers' replicas (each controller once), rounded up
    ({"minAvailable": "50%"}, 3, {"rs-1": 5}, (5, 3, [])),
    ({"maxUnavailable": "25%"}, 2, {"rs-1": 10}, (10, 7, [])),
    ({"maxUnavailable": 3}, 2, {"rs-1": 2}, (2, 0, [])),
    ({}, 2, {"rs-1": 2}, (0, 0, [])),
])
def test_expected_and_desired(spec: dict[str, Any], pods: int, scales: dict[str, int],
                              expected: tuple[int, int, list[str]]) -> None:
    objs = [_pod_obj(f"p{i}", owner=RS) for i in range(pods)]
    assert expected_and_desired(_budget_obj(**spec), objs, [_finder(scales)]) == expected


def test_unmanaged_pods_are_left_out_and_unknown_controllers_fail() -> None:
    objs = [_pod_obj("owned", owner=RS), _pod_obj("bare")]
    assert expected_and_desired(_budget_obj(maxUnavailable=1), objs, [_finder({"rs-1": 4})]) == (4, 3, ["bare"])
    with pytest.raises(CountError, match='found no controllers for pod "owned"'):
        expected_and_desired(_budget_obj(maxUnavailable=1), objs, [_finder({})])


def test_healthy_pods_exclude_unready_terminating_and_recently_evicted() -> None:
    now = time.time()
    recent = format_time()
    pods = [_pod_obj("a"), _pod_obj("b", ready=False), _pod_obj("c", deleting=True), _pod_obj("d")]
    assert count_healthy(pods, {"d": recent}, now) == 1
    assert count_healthy(pods, {}, now) == 2


def test_disrupted_pods_expire_after_two_minutes() -> None:
    now = time.time()
    old = format_time()
    pdb = _budget_obj(status={"disruptedPods": {"a": old, "gone": old, "c": old}})
    pods = [_pod_obj("a"), _pod_obj("c", deleting=True)]
    kept, recheck = disrupted_pod_map(pdb, pods, now)
    assert kept == {"a": old}  # "gone" has no Pod, "c" is already terminating
    assert recheck is not None and 100 < recheck - now <= 121
    assert disrupted_pod_map(pdb, pods, now + 121) == ({}, None)


def test_budget_status_and_its_condition() -> None:
    now = format_time()
    pdb = _budget_obj(generation=3)
    status = budget_status(pdb, current=4, desired=3, expected=4, disrupted={}, now_text=now)
    assert status == {"observedGeneration": 3, "disruptionsAllowed": 1, "currentHealthy": 4, "desiredHealthy": 3,
                      "expectedPods": 4, "conditions": [{"type": "DisruptionAllowed", "status": "True",
                                                         "observedGeneration": 3, "lastTransitionTime": now,
                                                         "reason": "SufficientPods", "message": ""}]}
    assert status_current({**pdb, "status": status}, status)
    # no Pod expected: nothing may be disrupted, whatever the counts say
    empty = budget_status(pdb, current=2, desired=0, expected=0, disrupted={}, now_text=now)
    assert empty["disruptionsAllowed"] == 0
    assert empty["conditions"][0]["reason"] == "InsufficientPods"
    assert not status_current({**pdb, "status": status}, empty)
    failed = fail_safe_status({**pdb, "status": status}, "boom", now)
    assert failed["disruptionsAllowed"] == 0
    assert (failed["conditions"][0]["reason"], failed["conditions"][0]["message"]) == ("SyncFailed", "boom")


def test_policy_v1_selectors() -> None:
    """A nil selector covers nothing, ``{}`` every Pod of the namespace."""
    pods = [_pod_obj("a"), _pod_obj("b", labels={"app": "db"})]
    assert covered_pods({"spec": {}}, pods) == []
    assert [p["metadata"]["name"] for p in covered_pods({"spec": {"selector": {}}}, pods)] == ["a", "b"]
    assert [p["metadata"]["name"] for p in covered_pods({"spec": {"selector": SEL}}, pods)] == ["a"]


# ---------------------------------------------------------------------------
# the controller as a process
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An API server and ``kubelite controller disruption``; no other controller (Pods are made by hand)."""
    from tests.conftest import start_apiserver

    base = tmp_path_factory.mktemp("disruption")
    srv = start_apiserver(base / "api")
    log = base / "disruption.log"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli", "controller", "disruption", "--server", srv.url,
                             "--no-leader-elect", "--metrics-port", str(port)],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        yield srv.url, log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        srv.stop()


def _wait_status(api: httpx.Client, ns: str, name: str, want: dict[str, Any], log: Path,
                 timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = api.get(PDBS.format(ns=ns) + f"/{name}").json().get("status") or {}
        if all(status.get(k) == v for k, v in want.items()):
            return status
        time.sleep(0.2)
    raise AssertionError(f"status {status} never became {want}\n{log.read_text()[-3000:]}")


def _owned_pods(api: httpx.Client, ns: str, owner: dict[str, Any], count: int, *, ready: int) -> None:
    meta = owner["metadata"]
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
           "controller": True}
    for i in range(count):
        r = api.post(PODS.format(ns=ns), json={
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{meta['name']}-{i}", "labels": {"app": "web"}, "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
        assert r.status_code == 201, r.text
        api.patch(PODS.format(ns=ns) + f"/{meta['name']}-{i}/status",
                  headers={"Content-Type": "application/merge-patch+json"},
                  json={"status": {"phase": "Running", "conditions": [
                      {"type": "Ready", "status": "True" if i < ready else "False"}]}})


def _replica_set(api: httpx.Client, ns: str, name: str, replicas: int,
                 owner: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json={
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
        "spec": {"replicas": replicas, "selector": SEL, "template": template}})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _namespace(api: httpx.Client, name: str) -> str:
    assert api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": name}}).status_code == 201
    return name


@pytest.mark.slow
def test_controller_counts_through_the_deployment_scale(controller: tuple[str, Path]) -> None:
    url, log = controller
    with httpx.Client(base_url=url, timeout=10) as api:
        ns = _namespace(api, "by-deployment")
        template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        d = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json={
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 6, "selector": SEL, "template": template}}).json()
        rs = _replica_set(api, ns, "web-abc", 4, owner=d)
        _owned_pods(api, ns, rs, 4, ready=3)
        api.post(PDBS.format(ns=ns), json=_pdb("half", minAvailable="50%", selector=SEL))
        # expected = the Deployment's 6 replicas (not the 4 Pods, not the ReplicaSet's 4); 50% of 6 = 3
        status = _wait_status(api, ns, "half", {"expectedPods": 6, "desiredHealthy": 3, "currentHealthy": 3,
                                                "disruptionsAllowed": 0, "observedGeneration": 1}, log)
        assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
            ("DisruptionAllowed", "False", "InsufficientPods")]
        # the Deployment scales down: 50% of 2 is 1, 3 healthy Pods allow 2 disruptions
        api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale",
                  headers={"Content-Type": "application/merge-patch+json"}, json={"spec": {"replicas": 2}})
        status = _wait_status(api, ns, "half", {"expectedPods": 2, "desiredHealthy": 1, "disruptionsAllowed": 2},
                              log)
        assert status["conditions"][0]["reason"] == "SufficientPods"


@pytest.mark.slow
def test_controller_counts_a_lone_replica_set_and_pods_and_spends_evictions(controller: tuple[str, Path]) -> None:
    url, log = controller
    with httpx.Client(base_url=url, timeout=10) as api:
        ns = _namespace(api, "by-replicaset")
        rs = _replica_set(api, ns, "solo", 5)
        _owned_pods(api, ns, rs, 5, ready=5)
        api.post(PDBS.format(ns=ns), json=_pdb("max", maxUnavailable=2, selector=SEL))
        _wait_status(api, ns, "max", {"expectedPods": 5, "desiredHealthy": 3, "currentHealthy": 5,
                                      "disruptionsAllowed": 2}, log)
        r = api.post(PODS.format(ns=ns) + "/solo-0/eviction",
                     json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "solo-0"}})
        assert r.status_code == 201, r.text
        # the Pod is gone; the controller drops it from disruptedPods and counts 4 healthy
        status = _wait_status(api, ns, "max", {"currentHealthy": 4, "disruptionsAllowed": 1}, log)
        assert "disruptedPods" not in status


@pytest.mark.slow
def test_controller_fails_safe_for_an_owner_kind_not_served(controller: tuple[str, Path]) -> None:
    url, log = controller
    with httpx.Client(base_url=url, timeout=10) as api:
        ns = _namespace(api, "by-custom")
        fake = {"apiVersion": "example.com/v1", "kind": "Database", "metadata": {"name": "db", "uid": "u-db"}}
        _owned_pods(api, ns, fake, 2, ready=2)
        api.post(PDBS.format(ns=ns), json=_pdb("db", maxUnavailable="50%", selector=SEL))
        status = _wait_status(api, ns, "db", {"disruptionsAllowed": 0}, log)
        deadline = time.monotonic() + 30
        while not status.get("conditions") and time.monotonic() < deadline:
            time.sleep(0.2)
            status = api.get(PDBS.format(ns=ns) + "/db").json()["status"]
        [cond] = status["conditions"]
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "False", "SyncFailed", 'no matches for kind "Database" in version "example.com/v1"')
        events = api.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
        assert any(e["reason"] == "CalculateExpectedPodCountFailed" for e in events)
        # an integer minAvailable needs no controller: the same Pods are counted
        api.post(PDBS.format(ns="by-custom"), json=_pdb("db-int", minAvailable=1,
                                                             selector={"matchLabels": {"app": "web"}}))
        _wait_status(api, ns, "db-int", {"expectedPods": 2, "currentHealthy": 2, "disruptionsAllowed": 1}, log)
