"""The namespace controller's pure parts: conditions, their merge, the grace estimate, what is deletable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apimachinery.resources import BY_KEY, ResourceType
from controllers.namespace import Remaining, conditions, deletable, grace_estimate, merged_conditions

NOW = "2026-01-01T00:00:00Z"


def by_type(conds: list[dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in conds}


def test_nothing_left_is_all_false_with_kube_reasons() -> None:
    got = by_type(conditions(Remaining(), now=NOW))
    assert got == {
        "NamespaceDeletionDiscoveryFailure": ("False", "ResourcesDiscovered", "All resources successfully discovered"),
        "NamespaceDeletionGroupVersionParsingFailure": ("False", "ParsedGroupVersions",
                                                        "All legacy kube types successfully parsed"),
        "NamespaceDeletionContentFailure": ("False", "ContentDeleted",
                                            "All content successfully deleted, may be waiting on finalization"),
        "NamespaceContentRemaining": ("False", "ContentRemoved", "All content successfully removed"),
        "NamespaceFinalizersRemaining": ("False", "ContentHasNoFinalizers",
                                         "All content-preserving finalizers finished"),
    }


def test_remaining_content_and_finalizers_are_named_sorted() -> None:
    left = Remaining(counts={"pods.": 2, "configmaps.": 1}, finalizers={"b/x": 1, "a/y": 3},
                     failures=["z failed", "a failed"])
    got = by_type(conditions(left, now=NOW))
    assert got["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain",
        "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances")
    assert got["NamespaceFinalizersRemaining"] == (
        "True", "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: a/y in 3 resource instances, b/x in 1 resource "
        "instances")
    assert got["NamespaceDeletionContentFailure"] == (
        "True", "ContentDeletionFailed", "Failed to delete all resource types, 2 remaining: a failed, z failed")


def test_merge_writes_only_differences_and_moves_transition_time_on_flips() -> None:
    first = conditions(Remaining(counts={"pods.": 1}), now="2026-01-01T00:00:00Z")
    assert merged_conditions([], first) == first
    assert merged_conditions(first, conditions(Remaining(counts={"pods.": 1}), now="2026-01-01T00:00:09Z")) is None
    merged = merged_conditions(first, conditions(Remaining(), now="2026-01-01T00:00:09Z"))
    assert merged is not None
    times = {c["type"]: c["lastTransitionTime"] for c in merged}
    assert times["NamespaceContentRemaining"] == "2026-01-01T00:00:09Z"  # True -> False
    assert times["NamespaceDeletionDiscoveryFailure"] == "2026-01-01T00:00:00Z"  # unchanged


def pod(phase: str, grace: int | None) -> dict[str, Any]:
    spec = {} if grace is None else {"terminationGracePeriodSeconds": grace}
    return {"spec": spec, "status": {"phase": phase}}


NOW_DT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("items", "graceful", "deleted_ago", "want"), [
    ([pod("Running", 30), pod("Running", 5)], True, 0, 30),
    ([pod("Succeeded", 30), pod("Running", 5)], True, 0, 5),  # finished Pods need no time
    ([pod("Running", 30)], True, 31, 0),  # the grace has passed
    ([pod("Running", 30)], False, 0, 0),  # not a gracefully deleted kind
    ([pod("Running", None)], True, 0, 0),
])
def test_grace_estimate(items: list[dict[str, Any]], graceful: bool, deleted_ago: int, want: int) -> None:
    got = grace_estimate(items, graceful=graceful, deleted_at=NOW_DT - timedelta(seconds=deleted_ago), now=NOW_DT)
    assert got == want


def test_deletable_are_namespaced_listable_deletable_once_per_resource() -> None:
    pods = BY_KEY["pods"]
    older = ResourceType("apps", "v1beta1", "Deployment", "deployments", "deployment", True)
    newer = BY_KEY["deployments.apps"]
    readonly = ResourceType("x.io", "v1", "Report", "reports", "report", True, verbs=("get", "list"))
    got = deletable([pods, BY_KEY["nodes"], newer, older, readonly])
    assert got == [pods, newer]
