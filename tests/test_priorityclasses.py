"""PriorityClasses (scheduling.k8s.io/v1, pc) and the Priority admission of Pods, as a user sees them:
HTTP answers with kube-apiserver's messages, kubectl, and the official Python client.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess, run_kubectl

PC = "/apis/scheduling.k8s.io/v1/priorityclasses"
PODS = "/api/v1/namespaces/{ns}/pods"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
RESERVED = "priority class names with 'system-' prefix are reserved for system use only. error: "


def _pc(name: str, value: int, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, **fields}


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def _unique(base: str) -> str:
    """PriorityClasses are cluster-scoped and the server is shared: a name per test run."""
    return f"{base}-{os.getpid()}"


def test_system_classes_exist(api: httpx.Client) -> None:
    items = {i["metadata"]["name"]: i for i in api.get(PC).json()["items"]}
    node, cluster = items["system-node-critical"], items["system-cluster-critical"]
    assert (node["value"], cluster["value"]) == (2000001000, 2000000000)
    assert node["description"] == "Used for system critical pods that must not be moved from their current node."
    assert cluster["description"] == ("Used for system critical pods that must run in the cluster, but can be moved "
                                      "to another node if necessary.")
    assert node["preemptionPolicy"] == cluster["preemptionPolicy"] == "PreemptLowerPriority"
    assert "globalDefault" not in node
    r = api.delete(f"{PC}/system-node-critical")
    assert r.status_code == 403
    assert r.json()["message"] == ('priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a '
                                   "system priority class and cannot be deleted")
    assert api.get(f"{PC}/system-node-critical").status_code == 200


def test_create_defaults_and_table(api: httpx.Client) -> None:
    name = _unique("high")
    r = api.post(PC, json=_pc(name, 1000, description="for the important ones"))
    assert r.status_code == 201, r.text
    assert r.json()["preemptionPolicy"] == "PreemptLowerPriority"
    table = api.get(f"{PC}/{name}", headers=TABLE).json()
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0), ("Value", "integer", 0), ("Global-Default", "boolean", 0), ("Age", "string", 0),
        ("PreemptionPolicy", "string", 0)]
    [row] = table["rows"]
    assert row["cells"][:3] == [name, 1000, False] and row["cells"][4] == "PreemptLowerPriority"
    assert api.delete(f"{PC}/{name}").status_code == 200


@pytest.mark.parametrize(("name", "value", "extra", "message"), [
    ("too-high", 1000000001, {}, "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"),
    ("system-mine", 5, {}, f"metadata.name: Forbidden: {RESERVED}system-mine is not a known system priority class"),
    ("system-node-critical", 5, {},
     f"metadata.name: Forbidden: {RESERVED}value of system-node-critical PriorityClass must be 2000001000"),
    ("bad-policy", 5, {"preemptionPolicy": "Sometimes"},
     'preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"'),
])
def test_validation(api: httpx.Client, name: str, value: int, extra: dict[str, Any], message: str) -> None:
    r = api.post(PC, json=_pc(name, value, **extra))
    assert r.status_code == 422, r.text
    assert r.json()["message"] == f'PriorityClass.scheduling.k8s.io "{name}" is invalid: {message}'
    assert r.json()["details"]["group"] == "scheduling.k8s.io"


def test_value_and_policy_are_immutable(api: httpx.Client) -> None:
    name = _unique("fixed")
    created = api.post(PC, json=_pc(name, 10)).json()
    r = api.put(f"{PC}/{name}", json={**created, "value": 11, "preemptionPolicy": "Never"})
    assert r.status_code == 422
    assert r.json()["message"] == (f'PriorityClass.scheduling.k8s.io "{name}" is invalid: [value: Forbidden: may '
                                   'not be changed in an update., preemptionPolicy: Invalid value: "Never": field is immutable]')
    r = api.put(f"{PC}/{name}", json={**created, "description": "now described"})
    assert r.status_code == 200 and r.json()["description"] == "now described"
    api.delete(f"{PC}/{name}")


def test_pods_get_priority_from_their_class(api: httpx.Client, ns: str) -> None:
    name = _unique("batch")
    api.post(PC, json=_pc(name, 7, preemptionPolicy="Never"))
    try:
        r = api.post(PODS.format(ns=ns), json=_pod("classy", priorityClassName=name))
        assert r.status_code == 201, r.text
        spec = r.json()["spec"]
        assert (spec["priority"], spec["preemptionPolicy"], spec["priorityClassName"]) == (7, "Never", name)
        # an update that leaves out what admission set keeps it
        stored = r.json()
        del stored["spec"]["priority"], stored["spec"]["preemptionPolicy"]
        r = api.put(PODS.format(ns=ns) + "/classy", json={**stored, "metadata": {**stored["metadata"],
                                                                                  "labels": {"a": "b"}}})
        assert r.status_code == 200, r.text
        assert (r.json()["spec"]["priority"], r.json()["spec"]["preemptionPolicy"]) == (7, "Never")
        r = api.post(PODS.format(ns=ns), json=_pod("system", priorityClassName="system-node-critical"))
        assert r.json()["spec"]["priority"] == 2000001000
        # no class and no global default: priority 0
        r = api.post(PODS.format(ns=ns), json=_pod("plain"))
        assert (r.json()["spec"]["priority"], r.json()["spec"]["preemptionPolicy"]) == (0, "PreemptLowerPriority")
        assert "priorityClassName" not in r.json()["spec"]
        # the priority the class gives may be spelled out; another may not
        assert api.post(PODS.format(ns=ns), json=_pod("same", priorityClassName=name, priority=7)).status_code == 201
        r = api.post(PODS.format(ns=ns), json=_pod("own", priority=5))
        assert r.status_code == 403
        assert r.json()["message"] == (
            'pods "own" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority '
            "admission controller computed 0 from the given PriorityClass name")
        r = api.post(PODS.format(ns=ns), json=_pod("policy", priorityClassName=name,
                                                   preemptionPolicy="PreemptLowerPriority"))
        assert (r.status_code, r.json()["message"]) == (403, (
            'pods "policy" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be '
            "provided in pod spec; priority admission controller computed Never from the given PriorityClass name"))
        r = api.post(PODS.format(ns=ns), json=_pod("unknown", priorityClassName="nope"))
        assert r.status_code == 403
        assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": 'pods "unknown" is forbidden: no PriorityClass with name nope was found',
                            "reason": "Forbidden", "details": {"name": "unknown", "kind": "pods"}, "code": 403}
    finally:
        api.delete(f"{PC}/{name}")


@pytest.fixture
def default_class(api: httpx.Client) -> Iterator[str]:
    name = _unique("everyone")
    r = api.post(PC, json=_pc(name, 42, globalDefault=True))
    assert r.status_code == 201, r.text
    yield name
    api.delete(f"{PC}/{name}")


def test_one_global_default(api: httpx.Client, ns: str, default_class: str) -> None:
    r = api.post(PC, json=_pc(_unique("second"), 1, globalDefault=True))
    assert r.status_code == 403
    assert r.json()["message"] == (f'priorityclasses.scheduling.k8s.io "{_unique("second")}" is forbidden: '
                                   f"PriorityClass {default_class} is already marked as default. "
                                   "Only one default can exist")
    other = api.post(PC, json=_pc(_unique("other"), 2)).json()
    try:
        r = api.put(f"{PC}/{_unique('other')}", json={**other, "globalDefault": True})
        assert r.status_code == 403
        # the default itself may be written again
        current = api.get(f"{PC}/{default_class}").json()
        assert api.put(f"{PC}/{default_class}", json={**current, "description": "d"}).status_code == 200
        r = api.post(PODS.format(ns=ns), json=_pod("defaulted"))
        assert r.status_code == 201, r.text
        assert (r.json()["spec"]["priority"], r.json()["spec"]["priorityClassName"]) == (42, default_class)
    finally:
        api.delete(f"{PC}/{_unique('other')}")


# --- kubectl and the Python client ------------------------------------------------------------------


def test_kubectl_create_and_get_pc(kubectl_env: dict[str, str], tmp_path: Path) -> None:
    name = _unique("kc")
    r = run_kubectl(kubectl_env, tmp_path, "create", "priorityclass", name, "--value=100", "--description=k",
                 "--preemption-policy=Never")
    assert (r.returncode, r.stdout) == (0, f"priorityclass.scheduling.k8s.io/{name} created\n"), r.stderr
    try:
        r = run_kubectl(kubectl_env, tmp_path, "get", "pc", name, "system-node-critical")
        assert r.returncode == 0, r.stderr
        header, *rows = r.stdout.splitlines()
        assert header.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
        assert re.fullmatch(rf"{name}\s+100\s+false\s+\d+s\s+Never", rows[0]), rows
        assert re.fullmatch(r"system-node-critical\s+2000001000\s+false\s+\S+\s+PreemptLowerPriority", rows[1]), rows
        r = run_kubectl(kubectl_env, tmp_path, "create", "priorityclass", _unique("sys"), "--value=2000000000")
        assert r.returncode == 1
        assert r.stderr == (f'error: failed to create priorityclass: PriorityClass.scheduling.k8s.io "{_unique("sys")}" '
                            "is invalid: value: Forbidden: maximum allowed value of a user defined priority is "
                            "1000000000\n")
        r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=scheduling.k8s.io", "--no-headers")
        assert r.stdout.split() == ["priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"]
    finally:
        run_kubectl(kubectl_env, tmp_path, "delete", "pc", name)


def test_python_client_create_list_delete(apiserver: ApiServerProcess) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    k8s = kubernetes.client
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    name = _unique("py")
    with k8s.ApiClient(cfg) as api_client:
        sched = k8s.SchedulingV1Api(api_client)
        created = sched.create_priority_class(k8s.V1PriorityClass(metadata=k8s.V1ObjectMeta(name=name), value=3))
        assert (created.value, created.preemption_policy) == (3, "PreemptLowerPriority")
        names = [p.metadata.name for p in sched.list_priority_class().items]
        assert {name, "system-cluster-critical", "system-node-critical"} <= set(names)
        sched.delete_priority_class(name)
        assert name not in [p.metadata.name for p in sched.list_priority_class().items]
