"""Table tests of the allocation invariant on Service watch streams."""

from __future__ import annotations

from typing import Any

import pytest

from robustness.allocations import check, held


def svc(name: str, rv: int, ip: str | None = None, node_port: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80, **({"nodePort": node_port} if node_port else {})}]}
    if ip:
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": str(rv)}, "spec": spec}


CASES: list[tuple[str, list[tuple[str, dict[str, Any]]], list[str]]] = [
    ("distinct values", [("ADDED", svc("a", 1, "10.0.0.1", 30001)), ("ADDED", svc("b", 2, "10.0.0.2", 30002))], []),
    ("allocated after the create", [("ADDED", svc("a", 1)), ("MODIFIED", svc("a", 2, "10.0.0.1"))], []),
    ("reused after the holder is deleted",
     [("ADDED", svc("a", 1, "10.0.0.1")), ("DELETED", svc("a", 2, "10.0.0.1")), ("ADDED", svc("b", 3, "10.0.0.1"))],
     []),
    ("same ClusterIP on two live Services",
     [("ADDED", svc("a", 1, "10.0.0.1")), ("ADDED", svc("b", 2)), ("MODIFIED", svc("b", 3, "10.0.0.1"))],
     ["ip 10.0.0.1 held by ns/a and ns/b at resourceVersion 3"]),
    ("same NodePort on two live Services",
     [("ADDED", svc("a", 1, "10.0.0.1", 30001)), ("ADDED", svc("b", 2, "10.0.0.2", 30001))],
     ["port 30001 held by ns/a and ns/b at resourceVersion 2"]),
    ("a headless Service holds no IP", [("ADDED", svc("a", 1, "None")), ("ADDED", svc("b", 2, "None"))], []),
]


@pytest.mark.parametrize(("name", "events", "expected"), CASES, ids=[c[0] for c in CASES])
def test_collisions(name: str, events: list[tuple[str, dict[str, Any]]], expected: list[str]) -> None:
    assert check(events) == expected


def test_held_values() -> None:
    assert held(svc("a", 1, "10.0.0.1", 30001)) == {"ip:10.0.0.1", "port:30001"}
