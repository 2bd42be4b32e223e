"""controllers.replicaset: which Pods go first, what the status says, slow start and expectations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from controllers.replicaset import (
    Expectations,
    available_in,
    deletion_order,
    is_pod_active,
    pod_from_template,
    replica_set_status,
    slow_start_batch,
)

NOW = 1735732800.0  # 2025-01-01T12:00:00Z


def at(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready: bool = True, ready_for: float = 100,
        created: float = 200, restarts: int = 0, deleting: bool = False, labels: dict[str, str] | None = None
        ) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "creationTimestamp": at(created),
                            "labels": labels if labels is not None else {"app": "web", "tier": "front"}}
    if deleting:
        meta["deletionTimestamp"] = at(0)
    status: dict[str, Any] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": at(ready_for)}],
        "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([pod("sched"), pod("unsched", node="")], ["unsched", "sched"]),
        ([pod("running"), pod("pending", phase="Pending"), pod("unknown", phase="Unknown")],
         ["pending", "unknown", "running"]),
        ([pod("ready"), pod("notready", ready=False)], ["notready", "ready"]),
        ([pod("long", ready_for=500), pod("recent", ready_for=5)], ["recent", "long"]),
        ([pod("calm", restarts=0), pod("crashy", restarts=4)], ["crashy", "calm"]),
        ([pod("old", created=900, ready_for=100), pod("new", created=10, ready_for=100)], ["new", "old"]),
        # crowded node first: two related Pods on n1, one on n2
        ([pod("alone", node="n2"), pod("crowded", node="n1")], ["crowded", "alone"]),
    ],
)
def test_deletion_order(pods: list[dict[str, Any]], expected: list[str]) -> None:
    related = [*pods, pod("other", node="n1")]
    assert names(deletion_order(pods, related)) == expected


def test_active_and_available() -> None:
    assert is_pod_active(pod("a")) and not is_pod_active(pod("b", deleting=True))
    assert not is_pod_active(pod("c", phase="Succeeded"))
    assert available_in(pod("r", ready_for=10), 0, NOW) == 0.0
    assert available_in(pod("r", ready_for=10), 30, NOW) == pytest.approx(20)
    assert available_in(pod("r", ready_for=40), 30, NOW) == 0.0
    assert available_in(pod("n", ready=False), 0, NOW) is None


RS: dict[str, Any] = {
    "metadata": {"name": "web-abc", "namespace": "default", "uid": "rs-uid", "generation": 7},
    "spec": {"replicas": 3, "minReadySeconds": 30, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web", "tier": "front"}, "annotations": {"a": "b"}},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    "status": {"replicas": 1},
}


def test_status_counts_pods() -> None:
    pods = [pod("a", ready_for=60), pod("b", ready_for=10), pod("c", ready=False),
            pod("d", labels={"app": "web"})]
    assert replica_set_status(RS, pods, now=NOW) == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                                                     "availableReplicas": 2, "observedGeneration": 7}


def test_status_failure_condition_comes_and_goes() -> None:
    failed = replica_set_status(RS, [], now=NOW, failure=("FailedCreate", "pods is forbidden"), now_text="T")
    assert failed["conditions"] == [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "T",
                                     "reason": "FailedCreate", "message": "pods is forbidden"}]
    healed = replica_set_status({**RS, "status": failed}, [], now=NOW)
    assert "conditions" not in healed


def test_pod_from_template() -> None:
    assert pod_from_template(RS) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "web-abc-", "labels": {"app": "web", "tier": "front"}, "annotations": {"a": "b"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                          "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


@pytest.mark.parametrize(
    ("count", "fail_at", "successes", "batches"),
    [
        (0, None, 0, []),
        (1, None, 1, [1]),
        (10, None, 10, [1, 2, 4, 3]),
        (50, None, 50, [1, 2, 4, 8, 16, 19]),
        (10, 2, 2, [1, 2]),  # one call of the batch of two fails: that batch is the last
        (10, 5, 6, [1, 2, 4]),
    ],
)
async def test_slow_start_batch(count: int, fail_at: int | None, successes: int, batches: list[int],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    sizes: list[int] = []

    async def fn() -> None:
        nonlocal calls
        calls += 1
        if fail_at is not None and calls == fail_at:
            raise RuntimeError("quota")

    real_gather = asyncio.gather

    async def counting_gather(*aws: Any, **kw: Any) -> Any:
        sizes.append(len(aws))
        return await real_gather(*aws, **kw)

    monkeypatch.setattr(asyncio, "gather", counting_gather)
    done, err = await slow_start_batch(count, 1, fn)
    monkeypatch.undo()
    assert (done, sizes) == (successes, batches)
    assert (err is None) == (fail_at is None)


def test_expectations() -> None:
    clock = [0.0]
    exp = Expectations(timeout=10, clock=lambda: clock[0])
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", adds=2, deletes=["ns/p1"])
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs")
    exp.deletion_observed("ns/rs", "ns/p1")
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", adds=1)
    clock[0] = 11.0
    assert exp.satisfied("ns/rs"), "expectations expire"
