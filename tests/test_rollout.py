"""controllers.rollout: the Deployment controller's arithmetic, step by step, against Kubernetes' rules."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers import rollout as R
from controllers.rollout import RS

NOW = "2025-01-01T12:00:00Z"
NOW_S = 1735732800.0  # NOW as a Unix time


# --- IntOrString and fenceposts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (3, 10, True, 3),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("25%", 4, False, 1),
        ("25%", 3, False, 0),
        ("25%", 3, True, 1),
        ("100%", 7, False, 7),
        ("0%", 7, True, 0),
        ("33%", 20, True, 7),
    ],
)
def test_scaled_value(value: Any, total: int, round_up: bool, expected: int) -> None:
    assert R.scaled_value(value, total, round_up=round_up) == expected


@pytest.mark.parametrize("value", ["25", "x%", True])
def test_scaled_value_rejects_non_percent(value: Any) -> None:
    with pytest.raises(ValueError):
        R.scaled_value(value, 10, round_up=True)


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 20, (5, 5)),
        ("25%", "25%", 1, (1, 0)),
        (0, "25%", 3, (0, 1)),  # both resolve to 0: unavailable becomes 1
        ("10%", "10%", 5, (1, 0)),
        (0, 0, 5, (0, 1)),
        (None, 2, 5, (0, 2)),
    ],
)
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert R.resolve_fenceposts(surge, unavailable, desired) == expected


def deployment(replicas: int = 10, *, surge: Any = "25%", unavailable: Any = "25%", strategy: str = "RollingUpdate",
               generation: int = 1, status: dict[str, Any] | None = None, deadline: int | None = 600) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas, "strategy": {"type": strategy}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    return {"metadata": {"name": "web", "generation": generation}, "spec": spec, "status": status or {}}


@pytest.mark.parametrize(
    ("d", "surge", "unavailable"),
    [
        (deployment(10), 3, 2),
        (deployment(0), 0, 0),  # MaxUnavailable is 0 without replicas; surge rounds up from 0
        (deployment(10, strategy="Recreate"), 0, 0),
        (deployment(2, surge=0, unavailable="100%"), 0, 2),
        (deployment(2, surge=0, unavailable=5), 0, 2),  # never above replicas
    ],
)
def test_max_surge_and_unavailable(d: dict[str, Any], surge: int, unavailable: int) -> None:
    assert (R.max_surge(d), R.max_unavailable(d)) == (surge, unavailable)


# --- the rolling-update step ---------------------------------------------------------------


def rs(name: str, replicas: int, available: int | None = None, *, current: int | None = None,
       created: str = "2025-01-01T10:00:00Z") -> RS:
    available = replicas if available is None else available
    return RS(name=name, replicas=replicas, current=replicas if current is None else current, ready=available,
              available=available, created=created)


OLD1, OLD2 = "2025-01-01T09:00:00Z", "2025-01-01T09:30:00Z"


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "new", "old", "expected"),
    [
        # start: the new set takes the whole surge
        (10, 3, 2, rs("new", 0), [rs("old", 10)], {"new": 3}),
        # surge used up, new Pods not ready: old shrinks by maxUnavailable only
        (10, 3, 2, rs("new", 3, 0), [rs("old", 10)], {"old": 8}),
        # old shrank: the new set grows into the freed room
        (10, 3, 2, rs("new", 3, 3), [rs("old", 8)], {"new": 5}),
        # new Pods partly ready: old shrinks by what is available above minAvailable
        (10, 3, 2, rs("new", 5, 3), [rs("old", 8)], {"old": 5}),
        # old set's controller has not reported its shrink (status still 10 Pods): no growth, no shrink
        (10, 3, 2, rs("new", 3, 0), [rs("old", 8, 10, current=10)], {}),
        # stale status says 10 available on a set now sized 8: only 8 count
        (10, 3, 2, rs("new", 5, 5), [rs("old", 8, 10, current=10)], {"old": 3}),
        # the new set is above the Deployment's replicas: down to it
        (10, 3, 2, rs("new", 12, 12), [rs("old", 0)], {"new": 10}),
        (0, 0, 0, rs("new", 2, 2), [], {"new": 0}),
        # unhealthy old Pods go first, oldest set first, without costing availability
        (10, 0, 2, rs("new", 0), [rs("a", 5, 2, created=OLD1), rs("b", 5, created=OLD2)], {"a": 3}),
        # maxSurge 0: shrink first, then grow
        (3, 0, 1, rs("new", 0), [rs("old", 3)], {"old": 2}),
        (3, 0, 1, rs("new", 0), [rs("old", 2)], {"new": 1}),
        (3, 0, 1, rs("new", 1, 0), [rs("old", 2)], {}),
        (3, 0, 1, rs("new", 1, 1), [rs("old", 2)], {"old": 1}),
        # maxUnavailable 0: only surge moves things
        (4, 1, 0, rs("new", 0), [rs("old", 4)], {"new": 1}),
        (4, 1, 0, rs("new", 1, 0), [rs("old", 4)], {}),
        (4, 1, 0, rs("new", 1, 1), [rs("old", 4)], {"old": 3}),
        # several old sets: the oldest shrinks first
        (10, 2, 0, rs("new", 4, 4), [rs("a", 4, created=OLD1), rs("b", 4, created=OLD2)], {"a": 2}),
        (10, 2, 0, rs("new", 4, 4), [rs("a", 1, created=OLD1), rs("b", 7, created=OLD2)], {"a": 0, "b": 6}),
        # done
        (10, 3, 2, rs("new", 10, 10), [rs("old", 0)], {}),
        (10, 3, 2, rs("new", 10, 10), [], {}),
    ],
)
def test_rolling_step(replicas: int, surge: int, unavailable: int, new: RS, old: list[RS],
                      expected: dict[str, int]) -> None:
    assert R.rolling_step(replicas=replicas, surge=surge, unavailable=unavailable, new=new, old=old) == expected


@dataclass
class SimRS:
    name: str
    spec: int
    pods: list[bool] = field(default_factory=list)  # readiness of each Pod
    status: tuple[int, int] = (0, 0)  # (replicas, available) as last reported

    def report(self) -> None:
        self.status = (len(self.pods), sum(self.pods))

    def view(self, created: str) -> RS:
        return RS(name=self.name, replicas=self.spec, current=self.status[0], ready=self.status[1],
                  available=self.status[1], created=created)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [(20, "25%", "25%"), (10, 0, 1), (10, 3, 0), (7, "50%", "10%"), (3, 1, 1), (1, 0, 1)],
)
def test_rolling_update_never_breaks_its_bounds(replicas: int, surge: Any, unavailable: Any, seed: int) -> None:
    """A simulated cluster: ReplicaSet controllers that act late, Pods that turn ready one at a time.

    At every point: at most replicas+maxSurge Pods, at least replicas-maxUnavailable ready ones.
    """
    rng = random.Random(seed)
    d = deployment(replicas, surge=surge, unavailable=unavailable)
    max_s, max_u = R.max_surge(d), R.max_unavailable(d)
    old = SimRS("old", replicas, [True] * replicas)
    old.report()
    new = SimRS("new", 0)
    sets = {"old": old, "new": new}

    def check() -> None:
        pods = sum(len(s.pods) for s in sets.values())
        ready = sum(sum(s.pods) for s in sets.values())
        assert pods <= replicas + max_s
        assert ready >= replicas - max_u

    for _ in range(2000):
        if new.spec == replicas and all(new.pods) and len(new.pods) == replicas and not old.pods:
            break
        changes = R.rolling_step(replicas=replicas, surge=max_s, unavailable=max_u,
                                 new=new.view("2025-01-01T11:00:00Z"), old=[old.view("2025-01-01T10:00:00Z")])
        for name, size in changes.items():
            sets[name].spec = size
        for s in sets.values():  # the ReplicaSet controllers: each acts (and reports) only now and then
            if rng.random() < 0.5:
                continue
            while len(s.pods) > s.spec:
                s.pods.remove(False) if False in s.pods else s.pods.pop()
                check()
            while len(s.pods) < s.spec:
                s.pods.append(False)
                check()
            s.report()
        waiting = [(s, i) for s in sets.values() for i, r in enumerate(s.pods) if not r]
        if waiting:  # the kubelet: one Pod becomes ready
            s, i = rng.choice(waiting)
            s.pods[i] = True
            check()
    else:
        pytest.fail(f"rollout did not finish: {sets}")


# --- Recreate and proportional scaling --------------------------------------------------------


def test_recreate_scales_every_old_set_down_at_once() -> None:
    assert R.recreate_scale_down([rs("a", 3), rs("b", 0), rs("c", 1)]) == {"a": 0, "c": 0}


def annotated(name: str, replicas: int, *, max_replicas: int | None, desired: int | None = None,
              available: int | None = None, created: str = OLD1) -> RS:
    return RS(name=name, replicas=replicas, current=replicas, available=replicas if available is None else available,
              created=created, max_replicas=max_replicas, desired=desired)


@pytest.mark.parametrize(
    ("replicas", "surge", "new", "old", "expected"),
    [
        # one active set takes the whole count
        (10, 3, annotated("new", 5, max_replicas=8), [annotated("old", 0, max_replicas=8)], {"new": 10}),
        (10, 3, None, [annotated("old", 4, max_replicas=5)], {"old": 10}),
        # no active set: the newest takes it
        (4, 1, annotated("new", 0, max_replicas=1, created=OLD2), [annotated("old", 0, max_replicas=1)],
         {"new": 4}),
        # a saturated new set: old ones to zero
        (10, 3, annotated("new", 10, max_replicas=13, desired=10), [annotated("old", 2, max_replicas=13)],
         {"old": 0}),
        # 10 -> 15 mid-rollout (max-replicas 13 -> 19): 8 -> 12 and 5 -> 7
        (15, 4, annotated("new", 8, max_replicas=13, created=OLD2), [annotated("old", 5, max_replicas=13)],
         {"new": 12, "old": 7}),
        # 10 -> 5 mid-rollout (13 -> 7): the larger set absorbs the leftover
        (5, 2, annotated("new", 8, max_replicas=13, created=OLD2), [annotated("old", 5, max_replicas=13)],
         {"new": 4, "old": 3}),
        # scaled to zero: everything goes
        (0, 0, annotated("new", 8, max_replicas=13, created=OLD2), [annotated("old", 5, max_replicas=13)],
         {"new": 0, "old": 0}),
    ],
)
def test_proportional_scale(replicas: int, surge: int, new: RS | None, old: list[RS], expected: dict[str, int]) -> None:
    assert R.proportional_scale(replicas=replicas, surge=surge, rolling=True, new=new, old=old) == expected


# --- hashes, templates, revisions ---------------------------------------------------------------


TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_pod_template_hash_is_stable_safe_and_sensitive() -> None:
    h = R.pod_template_hash(TEMPLATE)
    assert h == R.pod_template_hash({"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]})
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    other = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    assert R.pod_template_hash(other) != h
    assert R.pod_template_hash(TEMPLATE, 1) not in (h, R.pod_template_hash(TEMPLATE, 2))


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (TEMPLATE, {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": TEMPLATE["spec"]},
         True),
        (TEMPLATE, {"metadata": {"labels": {"app": "web"}, "annotations": {}}, "spec": TEMPLATE["spec"]}, True),
        (TEMPLATE, {"metadata": {"labels": {"app": "api"}}, "spec": TEMPLATE["spec"]}, False),
        (TEMPLATE, {"metadata": TEMPLATE["metadata"], "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}},
         False),
    ],
)
def test_equal_ignore_hash(a: dict[str, Any], b: dict[str, Any], equal: bool) -> None:
    assert R.equal_ignore_hash(a, b) is equal


@pytest.mark.parametrize(
    ("rs_annotations", "new_revision", "exists", "expected"),
    [
        ({}, 1, False, {R.REVISION: "1", R.DESIRED_REPLICAS: "10", R.MAX_REPLICAS: "13", "kubernetes.io/change-cause": "x"}),
        ({R.REVISION: "2"}, 2, True, {R.REVISION: "2", "kubernetes.io/change-cause": "x"}),
        ({R.REVISION: "5"}, 3, True, {R.REVISION: "5", "kubernetes.io/change-cause": "x"}),  # never lowered
        # a rollback to revision 1: it becomes 3 and remembers 1
        ({R.REVISION: "1"}, 3, True, {R.REVISION: "3", R.REVISION_HISTORY: "1", "kubernetes.io/change-cause": "x"}),
        ({R.REVISION: "3", R.REVISION_HISTORY: "1"}, 5, True,
         {R.REVISION: "5", R.REVISION_HISTORY: "1,3", "kubernetes.io/change-cause": "x"}),
    ],
)
def test_new_rs_annotations(rs_annotations: dict[str, str], new_revision: int, exists: bool,
                            expected: dict[str, str]) -> None:
    d = deployment(10)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "x", R.LAST_APPLIED: "{}", R.REVISION: "9"}
    assert R.new_rs_annotations(deployment=d, rs_annotations=rs_annotations, new_revision=new_revision,
                                exists=exists) == expected


def test_history_to_delete_keeps_the_limit_and_sets_with_pods() -> None:
    old = [RS(name=f"r{i}", replicas=0, revision=i, created=OLD1) for i in range(1, 6)]
    assert R.history_to_delete(old, 2) == ["r1", "r2", "r3"]
    busy = [RS(name="r1", replicas=0, current=1, revision=1), *old[1:]]
    assert R.history_to_delete(busy, 2) == ["r2", "r3"]
    assert R.history_to_delete(old, 10) == []


# --- status and conditions ------------------------------------------------------------------------


def progressing(reason: str, *, updated: str = NOW, status: str = "True") -> dict[str, Any]:
    return {"type": "Progressing", "status": status, "lastUpdateTime": updated, "lastTransitionTime": updated,
            "reason": reason, "message": "m"}


def test_calculate_status_counts_and_available_condition() -> None:
    d = deployment(10, generation=4)
    status = R.calculate_status(d, [rs("old", 3, 3), rs("new", 8, 5)], rs("new", 8, 5), NOW)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 4, "replicas": 11, "updatedReplicas": 8, "readyReplicas": 8, "availableReplicas": 8,
        "unavailableReplicas": 3}
    assert status["conditions"] == [{"type": "Available", "status": "True", "lastUpdateTime": NOW,
                                     "lastTransitionTime": NOW, "reason": "MinimumReplicasAvailable",
                                     "message": "Deployment has minimum availability."}]
    low = R.calculate_status(d, [rs("new", 10, 7)], rs("new", 10, 7), NOW)
    assert low["conditions"][0]["reason"] == "MinimumReplicasUnavailable"


@pytest.mark.parametrize(
    ("old_status", "sets", "expected_reason", "expected_status"),
    [
        # everything updated and available: NewReplicaSetAvailable
        ({"conditions": [progressing("ReplicaSetUpdated")]}, [rs("new", 10, 10)], "NewReplicaSetAvailable", "True"),
        # more updated Pods than last time: progressing
        ({"updatedReplicas": 2, "replicas": 10, "conditions": [progressing("NewReplicaSetCreated")]},
         [rs("old", 8), rs("new", 4, 0)], "ReplicaSetUpdated", "True"),
        # no progress for longer than progressDeadlineSeconds: timed out
        ({"updatedReplicas": 4, "replicas": 12, "readyReplicas": 8, "availableReplicas": 8,
          "conditions": [progressing("ReplicaSetUpdated", updated="2025-01-01T11:00:00Z")]},
         [rs("old", 8), rs("new", 4, 0)], "ProgressDeadlineExceeded", "False"),
        # no progress but still within the deadline: unchanged
        ({"updatedReplicas": 4, "replicas": 12, "readyReplicas": 8, "availableReplicas": 8,
          "conditions": [progressing("ReplicaSetUpdated", updated="2025-01-01T11:59:00Z")]},
         [rs("old", 8), rs("new", 4, 0)], "ReplicaSetUpdated", "True"),
    ],
)
def test_rollout_status_progressing(old_status: dict[str, Any], sets: list[RS], expected_reason: str,
                                    expected_status: str) -> None:
    d = deployment(10, status=old_status)
    status = R.rollout_status(d, sets, sets[-1], now=NOW, now_seconds=NOW_S)
    cond = R.get_condition(status, "Progressing")
    assert cond is not None
    assert (cond["reason"], cond["status"]) == (expected_reason, expected_status)
    if expected_reason == "ProgressDeadlineExceeded":
        assert cond["message"] == 'ReplicaSet "new" has timed out progressing.'


def test_rollout_status_without_deadline_drops_progressing() -> None:
    d = deployment(10, deadline=R.MAX_INT32, status={"conditions": [progressing("ReplicaSetUpdated")]})
    status = R.rollout_status(d, [rs("new", 10)], rs("new", 10), now=NOW, now_seconds=NOW_S)
    assert R.get_condition(status, "Progressing") is None


def test_seconds_until_deadline() -> None:
    status = {"conditions": [progressing("ReplicaSetUpdated", updated="2025-01-01T11:59:00Z")]}
    assert R.seconds_until_deadline(deployment(10), status, NOW_S) == pytest.approx(540)
    assert R.seconds_until_deadline(deployment(10), {"conditions": [progressing("NewReplicaSetAvailable")]},
                                    NOW_S) is None


def test_set_condition_keeps_transition_time_when_status_is_unchanged() -> None:
    status: dict[str, Any] = {"conditions": [progressing("ReplicaSetUpdated", updated="2025-01-01T11:00:00Z")]}
    R.set_condition(status, R.condition("Progressing", "True", "NewReplicaSetAvailable", "done", NOW))
    assert status["conditions"][0]["lastTransitionTime"] == "2025-01-01T11:00:00Z"
    assert status["conditions"][0]["lastUpdateTime"] == NOW
    R.set_condition(status, R.condition("Progressing", "True", "NewReplicaSetAvailable", "again", "later"))
    assert status["conditions"][0]["message"] == "done"  # same status and reason: no change


def test_rs_view_reads_spec_status_and_annotations() -> None:
    obj = {"metadata": {"name": "web-1", "generation": 3, "creationTimestamp": OLD1,
                        "annotations": {R.REVISION: "4", R.DESIRED_REPLICAS: "5", R.MAX_REPLICAS: "7"}},
           "spec": {"replicas": 5},
           "status": {"replicas": 6, "readyReplicas": 4, "availableReplicas": 3, "observedGeneration": 2}}
    v = R.rs_view(obj)
    assert (v.replicas, v.current, v.ready, v.available, v.revision, v.desired, v.max_replicas) == (5, 6, 4, 3, 4, 5, 7)
    assert not v.observed and v.pods == 6 and v.avail == 3
