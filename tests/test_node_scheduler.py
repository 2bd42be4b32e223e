"""agents.node.scheduler and lifecycle: which node a Pod goes to, when a node is stale."""

from __future__ import annotations

from typing import Any

import pytest

from agents.node.lifecycle import is_stale
from agents.node.scheduler import needs_scheduling, pick_node
from agents.node.status import node_object
from apimachinery.pods import tolerates

Obj = dict[str, Any]


def node(name: str, *, ready: bool = True, unschedulable: bool = False, taints: list[Obj] | None = None,
         zone: str | None = None, max_pods: int = 110) -> Obj:
    n = node_object(name, pod_cidr="10.85.0.0/24", address="127.0.0.1", now="2024-01-01T00:00:00Z", zone=zone,
                    max_pods=max_pods, version="v1.32.4")
    if not ready:
        for c in n["status"]["conditions"]:
            if c["type"] == "Ready":
                c["status"] = "Unknown"
    if unschedulable:
        n["spec"]["unschedulable"] = True
    if taints:
        n["spec"]["taints"] = taints
    return n


def pod(**spec: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "c"}], **spec},
            "status": {"phase": "Pending"}}


NOSCHED = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("pod_spec", "nodes", "load", "expected"),
    [
        ({}, [node("a"), node("b")], {}, "a"),
        ({}, [node("a"), node("b")], {"a": 3, "b": 1}, "b"),
        ({}, [node("a", ready=False), node("b")], {"b": 50}, "b"),
        ({}, [node("a", unschedulable=True)], {}, None),
        ({}, [node("a", max_pods=2), node("b", max_pods=2)], {"a": 2, "b": 2}, None),
        ({"nodeSelector": {"topology.kubernetes.io/zone": "z2"}}, [node("a", zone="z1"), node("b", zone="z2")],
         {"b": 9}, "b"),
        ({}, [node("a", taints=[NOSCHED]), node("b")], {"b": 9}, "b"),
        ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]},
         [node("a", taints=[NOSCHED]), node("b")], {"b": 9}, "a"),
        ({"tolerations": [{"operator": "Exists"}]}, [node("a", taints=[NOSCHED])], {}, "a"),
        ({}, [node("a", taints=[{"key": "x", "effect": "PreferNoSchedule"}])], {}, "a"),
        ({}, [], {}, None),
    ],
    ids=["tie-by-name", "least-loaded", "skip-not-ready", "unschedulable", "full", "node-selector",
         "taint-avoided", "taint-tolerated", "exists-tolerates-all", "prefer-is-soft", "no-nodes"],
)
def test_pick_node(pod_spec: Obj, nodes: list[Obj], load: dict[str, int], expected: str | None) -> None:
    assert pick_node(pod(**pod_spec), nodes, load) == expected


@pytest.mark.parametrize(("toleration", "ok"), [
    ({"key": "dedicated", "operator": "Exists"}, True),
    ({"key": "dedicated", "value": "web", "effect": "NoSchedule"}, False),
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
], ids=["exists-key", "value-mismatch", "key-mismatch", "effect-mismatch"])
def test_tolerates(toleration: Obj, ok: bool) -> None:
    assert tolerates(pod(tolerations=[toleration]), NOSCHED) is ok


@pytest.mark.parametrize(("p", "needed"), [
    (pod(), True),
    (pod(nodeName="a"), False),
    (pod(schedulerName="other"), False),
    (pod(schedulingGates=[{"name": "wait"}]), False),
    ({**pod(), "metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"}}, False),
], ids=["pending", "bound", "other-scheduler", "gated", "deleting"])
def test_needs_scheduling(p: Obj, needed: bool) -> None:
    assert needs_scheduling(p) is needed


@pytest.mark.parametrize(("seen", "now", "grace", "stale"), [(0.0, 40.0, 40.0, False), (0.0, 40.1, 40.0, True),
                                                              (10.0, 12.0, 1.0, True)])
def test_is_stale(seen: float, now: float, grace: float, stale: bool) -> None:
    assert is_stale(seen, now, grace) is stale
