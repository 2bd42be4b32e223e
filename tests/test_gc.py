"""controllers.gc: how a dependent's owners decide its fate (attemptToDeleteItem's classification)."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.gc import (
    DANGLING,
    SOLID,
    UNKNOWN,
    WAITING,
    classify,
    owner_refs,
    owner_type,
    propagation_for,
)


@pytest.mark.parametrize(
    ("states", "verdict"),
    [
        ({}, "keep"),
        ({"a": SOLID}, "keep"),
        ({"a": SOLID, "b": DANGLING}, "prune"),
        ({"a": SOLID, "b": WAITING}, "prune"),
        ({"a": DANGLING}, "delete"),
        ({"a": DANGLING, "b": DANGLING}, "delete"),
        ({"a": DANGLING, "b": WAITING}, "delete-foreground"),
        ({"a": WAITING}, "delete-foreground"),
        ({"a": DANGLING, "b": UNKNOWN}, "keep"),  # an owner we cannot look up is never presumed gone
    ],
)
def test_classify(states: dict[str, str], verdict: str) -> None:
    assert classify(states) == verdict


@pytest.mark.parametrize(
    ("finalizers", "policy"),
    [(None, "Background"), (["orphan"], "Orphan"), (["foregroundDeletion", "x"], "Foreground"), (["x"], "Background")],
)
def test_propagation_for(finalizers: list[str] | None, policy: str) -> None:
    obj: dict[str, Any] = {"metadata": {"finalizers": finalizers} if finalizers else {}}
    assert propagation_for(obj) == policy


def test_owner_refs_and_types() -> None:
    obj = {"metadata": {"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1"},
        {"apiVersion": "v1", "kind": "Service", "name": "svc", "uid": "u2"},
        {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "u3"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "no-uid"},
    ]}}
    refs = owner_refs(obj)
    assert [r["uid"] for r in refs] == ["u1", "u2", "u3"]
    types = [owner_type(r) for r in refs]
    assert [t.key if t else None for t in types] == ["replicasets.apps", "services", None]
