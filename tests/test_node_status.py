"""agents.node.status: the Pod and Node status a kubelet posts."""

from __future__ import annotations

from typing import Any

import pytest

from agents.node.status import (
    mark_pod_not_ready,
    node_object,
    node_ready,
    pod_status,
    same_status,
    unknown_node_conditions,
)

Obj = dict[str, Any]
T0, T1 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"


def pod(*, annotations: dict[str, str] | None = None, gates: list[str] | None = None,
        conditions: list[Obj] | None = None, deleting: bool = False, containers: int = 1,
        init: list[Obj] | None = None) -> Obj:
    meta: Obj = {"name": "p", "namespace": "default", "uid": "u1", "annotations": annotations or {}}
    if deleting:
        meta["deletionTimestamp"] = T0
    spec: Obj = {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]}
    if gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    if init:
        spec["initContainers"] = init
    return {"metadata": meta, "spec": spec, "status": {"phase": "Pending", "qosClass": "BestEffort",
                                                        "conditions": conditions or []}}


def cond(status: Obj, ctype: str) -> Obj:
    return next(c for c in status["conditions"] if c["type"] == ctype)


@pytest.mark.parametrize(
    ("kwargs", "ready", "reason", "message"),
    [
        ({}, "True", None, None),
        ({"annotations": {"kubelite.io/ready": "false"}}, "False", "ContainersNotReady",
         "containers with unready status: [c0 c1]"),
        ({"deleting": True}, "False", "ContainersNotReady", "containers with unready status: [c0 c1]"),
        ({"gates": ["example.com/lb"]}, "False", "ReadinessGatesNotReady",
         'corresponding condition of pod readiness gate "example.com/lb" does not exist.'),
        ({"gates": ["example.com/lb"], "conditions": [{"type": "example.com/lb", "status": "False"}]}, "False",
         "ReadinessGatesNotReady", 'the status of pod readiness gate "example.com/lb" is not "True", but False'),
        ({"gates": ["example.com/lb"], "conditions": [{"type": "example.com/lb", "status": "True"}]}, "True",
         None, None),
    ],
    ids=["ready", "held-by-annotation", "terminating", "gate-missing", "gate-false", "gate-true"],
)
def test_readiness(kwargs: Obj, ready: str, reason: str | None, message: str | None) -> None:
    st = pod_status(pod(containers=2, **kwargs), pod_ip="10.85.0.2", host_ip="127.0.0.1", now=T0)
    r = cond(st, "Ready")
    assert (r["status"], r.get("reason"), r.get("message")) == (ready, reason, message)
    assert cond(st, "ContainersReady")["status"] == ("False" if reason == "ContainersNotReady" else "True")
    assert st["phase"] == "Running" and st["podIP"] == "10.85.0.2" and st["podIPs"] == [{"ip": "10.85.0.2"}]
    assert st["hostIP"] == "127.0.0.1" and st["qosClass"] == "BestEffort"
    assert [c["type"] for c in st["conditions"]][:5] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(s["ready"] == (reason != "ContainersNotReady") for s in st["containerStatuses"])


def test_foreign_conditions_kept_and_transition_times_move_only_on_change() -> None:
    p = pod(gates=["x.io/g"], conditions=[{"type": "x.io/g", "status": "True", "lastTransitionTime": T0}])
    first = pod_status(p, pod_ip="10.85.0.2", host_ip="127.0.0.1", now=T0)
    assert cond(first, "x.io/g") == {"type": "x.io/g", "status": "True", "lastTransitionTime": T0}
    p["status"] = first
    again = pod_status(p, pod_ip="10.85.0.2", host_ip="127.0.0.1", now=T1)
    assert again == first  # nothing changed: same object, same times
    p["metadata"]["annotations"]["kubelite.io/ready"] = "false"
    flipped = pod_status(p, pod_ip="10.85.0.2", host_ip="127.0.0.1", now=T1)
    assert cond(flipped, "Ready")["lastTransitionTime"] == T1
    assert cond(flipped, "PodScheduled")["lastTransitionTime"] == T0
    assert not same_status(flipped, first)


def test_init_containers_completed_and_sidecars_running() -> None:
    p = pod(init=[{"name": "setup", "image": "busybox"},
                  {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}])
    st = pod_status(p, pod_ip="10.85.0.2", host_ip="127.0.0.1", now=T0)
    states = {s["name"]: next(iter(s["state"])) for s in st["initContainerStatuses"]}
    assert states == {"setup": "terminated", "proxy": "running"}
    assert cond(st, "Initialized")["status"] == "True"


def test_same_status_ignores_only_timestamps() -> None:
    a = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": T0}]}
    assert same_status(a, {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": T1}]})
    assert not same_status(a, {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": T0}]})


def test_mark_pod_not_ready() -> None:
    p = pod(conditions=[{"type": "Ready", "status": "True", "lastTransitionTime": T0},
                        {"type": "ContainersReady", "status": "True"}])
    st = mark_pod_not_ready(p, now=T1)
    assert st is not None
    assert cond(st, "Ready") == {"type": "Ready", "status": "False", "lastTransitionTime": T1}
    assert cond(st, "ContainersReady")["status"] == "True"
    p["status"] = st
    assert mark_pod_not_ready(p, now=T1) is None


def test_node_registration_and_unknown() -> None:
    node = node_object("node-1", pod_cidr="10.85.0.0/24", address="127.0.0.2", now=T0, zone="z1", max_pods=50,
                       version="v1.2.3")
    assert node["status"]["nodeInfo"]["kubeletVersion"] == node["status"]["nodeInfo"]["kubeProxyVersion"] == "v1.2.3"
    assert node["spec"] == {"podCIDR": "10.85.0.0/24", "podCIDRs": ["10.85.0.0/24"]}
    assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == "z1"
    assert node["status"]["capacity"]["pods"] == "50"
    assert {"type": "InternalIP", "address": "127.0.0.2"} in node["status"]["addresses"]
    assert node_ready(node)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == ("KubeletReady", "kubelet is posting ready status")
    conds = unknown_node_conditions(node["status"]["conditions"], now=T1)
    assert {c["status"] for c in conds} == {"Unknown"}
    r = next(c for c in conds if c["type"] == "Ready")
    assert (r["reason"], r["message"], r["lastHeartbeatTime"], r["lastTransitionTime"]) == (
        "NodeStatusUnknown", "Kubelet stopped posting node status.", T0, T1)
    node["status"]["conditions"] = conds
    assert not node_ready(node)
