"""The Deployment controller's decisions as pure functions (pkg/controller/deployment and its util).

Why pure: every rollout decision ("how far may the new ReplicaSet grow,
how far may the old ones shrink, what is the status now") is a function of
the Deployment and a snapshot of its ReplicaSets. Keeping it free of I/O
lets the table tests pin every step against Kubernetes' arithmetic, and
the controller only maps objects in and writes the answer out.

Safety margins beyond Kubernetes (the process tests check Pods, not
ReplicaSet specs): a ReplicaSet counts as holding ``max(spec, status)``
Pods until its controller reports the shrink, and as ``min(available,
spec)`` available Pods, so a stale status can never let a step exceed
replicas+maxSurge Pods or fall below replicas-maxUnavailable available.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from apimachinery import labels
from apimachinery.objects import as_map, int_or
from apimachinery.timestamps import parse_time

Obj = dict[str, Any]

# rollout's short names for the deployment annotations (the keys live in apimachinery.labels)
REVISION = labels.ANNOTATION_REVISION
REVISION_HISTORY = labels.ANNOTATION_REVISION_HISTORY
DESIRED_REPLICAS = labels.ANNOTATION_DESIRED_REPLICAS
MAX_REPLICAS = labels.ANNOTATION_MAX_REPLICAS
POD_TEMPLATE_HASH = "pod-template-hash"
LAST_APPLIED = labels.ANNOTATION_LAST_APPLIED
# Deployment annotations never copied to its ReplicaSets (annotationsToSkip).
SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                 "deprecated.daemonset.template.generation"})
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2147483647

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"

# DeploymentCondition types and reasons (deploymentutil)
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
NEW_REPLICA_SET_CREATED = "NewReplicaSetCreated"
FOUND_NEW_REPLICA_SET = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"

_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------------------
# IntOrString arithmetic and the surge/unavailable fenceposts
# ---------------------------------------------------------------------------


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, ``N%`` of ``total`` rounded up or down."""
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        pct = int(value[:-1])
        return math.ceil(pct * total / 100) if round_up else (pct * total) // 100
    raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts: surge rounds up, unavailable down; never both zero."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, round_up=True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def replicas_of(deployment: Mapping[str, Any]) -> int:
    return int_or(as_map(deployment.get("spec")).get("replicas"), 1)


def is_rolling_update(deployment: Mapping[str, Any]) -> bool:
    kind = as_map(as_map(deployment.get("spec")).get("strategy")).get("type") or ROLLING_UPDATE
    return bool(kind == ROLLING_UPDATE)


def _rolling(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return as_map(as_map(as_map(deployment.get("spec")).get("strategy")).get("rollingUpdate"))


def max_surge(deployment: Mapping[str, Any]) -> int:
    """deploymentutil.MaxSurge: 0 unless RollingUpdate."""
    if not is_rolling_update(deployment):
        return 0
    r = _rolling(deployment)
    return resolve_fenceposts(r.get("maxSurge"), r.get("maxUnavailable"), replicas_of(deployment))[0]


def max_unavailable(deployment: Mapping[str, Any]) -> int:
    """deploymentutil.MaxUnavailable: 0 unless RollingUpdate with replicas; never above replicas."""
    replicas = replicas_of(deployment)
    if not is_rolling_update(deployment) or replicas == 0:
        return 0
    r = _rolling(deployment)
    _, unavailable = resolve_fenceposts(r.get("maxSurge"), r.get("maxUnavailable"), replicas)
    return min(unavailable, replicas)


# ---------------------------------------------------------------------------
# ReplicaSets as the step functions see them
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RS:
    """One ReplicaSet: its spec size, what its controller last reported, and its annotations."""

    name: str
    replicas: int
    current: int = 0
    ready: int = 0
    available: int = 0
    created: str = ""
    revision: int = 0
    desired: int | None = None
    max_replicas: int | None = None
    observed: bool = True
    deleting: bool = False

    @property
    def pods(self) -> int:
        """Pods that may exist: the spec, or more while the controller has not reported a shrink."""
        return max(self.replicas, self.current)

    @property
    def avail(self) -> int:
        """Available Pods that will remain: never more than the spec (surplus Pods are going away)."""
        return min(self.available, self.replicas)


def _annotation_int(annotations: Mapping[str, Any], key: str) -> int | None:
    value = annotations.get(key)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def rs_view(obj: Mapping[str, Any]) -> RS:
    """The RS view of a ReplicaSet object."""
    meta, spec, status = as_map(obj.get("metadata")), as_map(obj.get("spec")), as_map(obj.get("status"))
    annotations = as_map(meta.get("annotations"))
    return RS(
        name=str(meta.get("name") or ""),
        replicas=int_or(spec.get("replicas"), 1),
        current=int_or(status.get("replicas")),
        ready=int_or(status.get("readyReplicas")),
        available=int_or(status.get("availableReplicas")),
        created=str(meta.get("creationTimestamp") or ""),
        revision=_annotation_int(annotations, REVISION) or 0,
        desired=_annotation_int(annotations, DESIRED_REPLICAS),
        max_replicas=_annotation_int(annotations, MAX_REPLICAS),
        observed=int_or(status.get("observedGeneration")) >= int_or(meta.get("generation"), 1),
        deleting=meta.get("deletionTimestamp") is not None,
    )


def by_creation(sets: Iterable[RS]) -> list[RS]:
    """ReplicaSetsByCreationTimestamp: oldest first, then by name."""
    return sorted(sets, key=lambda r: (r.created, r.name))


def active(sets: Iterable[RS]) -> list[RS]:
    """FilterActiveReplicaSets: those with a non-zero spec."""
    return [r for r in sets if r.replicas > 0]


# ---------------------------------------------------------------------------
# RollingUpdate
# ---------------------------------------------------------------------------


def new_rs_replicas(*, replicas: int, surge: int, new: RS, all_sets: Sequence[RS]) -> int:
    """NewRSNewReplicas for RollingUpdate: grow the new set up to replicas+surge Pods in total."""
    current = sum(r.pods for r in all_sets)
    limit = replicas + surge
    if current >= limit:
        return new.replicas
    return new.replicas + min(limit - current, replicas - new.replicas)


def rolling_step(*, replicas: int, surge: int, unavailable: int, new: RS, old: Sequence[RS]) -> dict[str, int]:
    """One rolloutRolling step: scale the new set up if it can, else the old sets down.

    ``surge`` and ``unavailable`` are the resolved fenceposts (MaxSurge,
    MaxUnavailable). Returns ``{replica set name: new spec.replicas}`` for
    the sets to resize; empty when nothing may move now (wait for Pods).
    """
    all_sets = [*old, new]
    if new.replicas > replicas:
        return {new.name: replicas}
    if new.replicas < replicas:
        grown = new_rs_replicas(replicas=replicas, surge=surge, new=new, all_sets=all_sets)
        if grown != new.replicas:
            return {new.name: grown}
    return scale_down_old(replicas=replicas, unavailable=unavailable, new=new, old=old)


def scale_down_old(*, replicas: int, unavailable: int, new: RS, old: Sequence[RS]) -> dict[str, int]:
    """reconcileOldReplicaSets: first unhealthy old Pods, then old Pods beyond minAvailable."""
    old_active = [r for r in old if r.replicas > 0]
    if not old_active:
        return {}
    min_available = replicas - unavailable
    all_pods = sum(r.replicas for r in [*old, new])
    new_unavailable = new.replicas - new.avail
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    before = {r.name: r.replicas for r in old}
    sizes = dict(before)
    # cleanupUnhealthyReplicas: oldest first; their not-available Pods cost no availability
    cleaned = 0
    for r in by_creation(old):
        if cleaned >= max_scaled_down:
            break
        unhealthy = r.replicas - r.avail
        if r.replicas == 0 or unhealthy <= 0:
            continue
        n = min(max_scaled_down - cleaned, unhealthy)
        sizes[r.name] = r.replicas - n
        cleaned += n
    # scaleDownOldReplicaSetsForRollingUpdate: available Pods above minAvailable
    available = new.avail + sum(min(r.avail, sizes[r.name]) for r in old)
    budget = available - min_available
    for r in by_creation(old):
        if budget <= 0:
            break
        size = sizes[r.name]
        if size == 0:
            continue
        n = min(size, budget)
        sizes[r.name] = size - n
        budget -= n
    return {name: size for name, size in sizes.items() if size != before[name]}


# ---------------------------------------------------------------------------
# Recreate and proportional scaling
# ---------------------------------------------------------------------------


def recreate_scale_down(old: Sequence[RS]) -> dict[str, int]:
    """scaleDownOldReplicaSetsForRecreate: every old set to zero at once."""
    return {r.name: 0 for r in old if r.replicas != 0}


def find_active_or_latest(new: RS | None, old: Sequence[RS]) -> RS | None:
    """FindActiveOrLatest: the only active set, or the newest one when none is active."""
    if new is None and not old:
        return None
    candidates = [r for r in [*old, new] if r is not None]
    act = active(candidates)
    if len(act) == 1:
        return act[0]
    if not act:
        if new is not None:
            return new
        return by_creation(old)[-1]
    return None


def is_saturated(replicas: int, rs: RS | None) -> bool:
    """IsSaturated: the new set has all the Deployment's replicas, annotated and available."""
    return rs is not None and rs.replicas == replicas and rs.desired == replicas and rs.available == replicas


def proportional_scale(*, replicas: int, surge: int, rolling: bool, new: RS | None, old: Sequence[RS],
                       current_status_replicas: int = 0) -> dict[str, int]:
    """DeploymentController.scale: a replicas change in the middle of a rollout.

    One active set takes the whole count; a saturated new set leaves old
    ones at zero; otherwise (RollingUpdate) every active set grows or
    shrinks in proportion to its size, the leftover going to the largest.
    """
    only = find_active_or_latest(new, old)
    if only is not None:
        return {} if only.replicas == replicas else {only.name: replicas}
    if is_saturated(replicas, new):
        return {r.name: 0 for r in active(old)}
    if not rolling:
        return {}
    sets = active([r for r in [*old, new] if r is not None])
    total = sum(r.replicas for r in sets)
    allowed = replicas + surge if replicas > 0 else 0
    to_add = allowed - total
    if to_add > 0:  # ReplicaSetsBySizeNewer: larger first, then newer first
        sets.sort(key=lambda r: (r.created, r.name), reverse=True)
        sets.sort(key=lambda r: -r.replicas)
    elif to_add < 0:  # ReplicaSetsBySizeOlder: larger first, then older first
        sets.sort(key=lambda r: (-r.replicas, r.created, r.name))
    added = 0
    sizes: dict[str, int] = {}
    for r in sets:
        if to_add != 0:
            proportion = _proportion(r, replicas=replicas, surge=surge, to_add=to_add, added=added,
                                     status_replicas=current_status_replicas)
            sizes[r.name] = r.replicas + proportion
            added += proportion
        else:
            sizes[r.name] = r.replicas
    if sets and to_add != 0:
        first = sets[0].name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return {r.name: sizes[r.name] for r in sets if sizes[r.name] != r.replicas}


def _proportion(rs: RS, *, replicas: int, surge: int, to_add: int, added: int, status_replicas: int) -> int:
    """GetReplicaSetProportion / getReplicaSetFraction."""
    if rs.replicas == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas == 0:
        fraction = -rs.replicas
    else:
        before = rs.max_replicas or status_replicas
        fraction = (_round_half_away(rs.replicas * (replicas + surge) / before) - rs.replicas) if before else 0
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _round_half_away(x: float) -> int:
    """integer.RoundToInt32 (math.Round: halves away from zero)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


# ---------------------------------------------------------------------------
# Templates, hashes, revisions
# ---------------------------------------------------------------------------


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte mapped onto consonants and digits that never spell words."""
    return "".join(_SAFE_CHARS[b % len(_SAFE_CHARS)] for b in text.encode())


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def pod_template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """controller.ComputeHash: FNV-32a of the template (canonical JSON here), then SafeEncodeString.

    The hash of a given template is stable across processes and restarts,
    which is what makes the ReplicaSet name a deterministic lock.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return safe_encode(str(fnv32a(data)))


def template_without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a pod template without the pod-template-hash label (and without an emptied labels map)."""
    t = copy.deepcopy(dict(template))
    meta = as_map(t.get("metadata"))
    labels = as_map(meta.get("labels"))
    if POD_TEMPLATE_HASH in labels:
        labels = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH}
        meta = {**meta, "labels": labels} if labels else {k: v for k, v in meta.items() if k != "labels"}
        t["metadata"] = meta
    return t


def _semantic(value: Any) -> Any:
    """Go's zero values (absent, null, "", 0, false, empty collections) all compare equal."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None} or None
    if isinstance(value, list):
        return [_semantic(v) for v in value] or None
    if value is None or value is False or value == "" or (type(value) is int and value == 0):
        return None
    return value


def equal_ignore_hash(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """EqualIgnoreHash: two pod templates are the same apart from the pod-template-hash label."""
    return bool(_semantic(template_without_hash(a)) == _semantic(template_without_hash(b)))


def revision_of(obj: Mapping[str, Any]) -> int:
    return _annotation_int(as_map(as_map(obj.get("metadata")).get("annotations")), REVISION) or 0


def max_revision(sets: Iterable[Mapping[str, Any]]) -> int:
    return max((revision_of(s) for s in sets), default=0)


def copied_annotations(deployment_annotations: Mapping[str, str], rs_annotations: Mapping[str, str]) -> dict[str, str]:
    """copyDeploymentAnnotationsToReplicaSet: the Deployment's annotations (bar the skipped ones) over the set's."""
    out = dict(rs_annotations)
    for k, v in deployment_annotations.items():
        if k not in SKIPPED_ANNOTATIONS:
            out[k] = v
    return out


def new_rs_annotations(*, deployment: Mapping[str, Any], rs_annotations: Mapping[str, str], new_revision: int,
                       exists: bool) -> dict[str, str]:
    """SetNewReplicaSetAnnotations: copied annotations, the revision (only ever raised), revision history.

    A set that already had a lower revision (a rollback to it) keeps its
    previous revisions in ``deployment.kubernetes.io/revision-history``.
    """
    d_ann = as_map(as_map(deployment.get("metadata")).get("annotations"))
    out = copied_annotations({str(k): str(v) for k, v in d_ann.items()}, rs_annotations)
    old_text = rs_annotations.get(REVISION)
    old = _annotation_int(rs_annotations, REVISION) or 0
    if old < new_revision:
        out[REVISION] = str(new_revision)
        if old_text:
            history = rs_annotations.get(REVISION_HISTORY, "")
            entries = [e for e in history.split(",") if e] if history else []
            entries.append(old_text)
            while len(",".join(entries)) > MAX_REV_HISTORY_CHARS and len(entries) > 1:
                entries.pop(0)
            out[REVISION_HISTORY] = ",".join(entries)
    if not exists:
        out.update(replicas_annotations(deployment))
    return out


def replicas_annotations(deployment: Mapping[str, Any]) -> dict[str, str]:
    """SetReplicasAnnotations: desired-replicas and max-replicas (replicas + surge)."""
    replicas = replicas_of(deployment)
    return {DESIRED_REPLICAS: str(replicas), MAX_REPLICAS: str(replicas + max_surge(deployment))}


def history_to_delete(old: Sequence[RS], limit: int) -> list[str]:
    """cleanupDeployment: the oldest revisions beyond revisionHistoryLimit that hold no Pods."""
    alive = [r for r in old if not r.deleting]
    diff = len(alive) - limit
    if diff <= 0:
        return []
    out: list[str] = []
    for r in sorted(alive, key=lambda r: (r.revision, r.created, r.name))[:diff]:
        if r.current != 0 or r.replicas != 0 or not r.observed:
            continue
        out.append(r.name)
    return out


# ---------------------------------------------------------------------------
# Status and conditions
# ---------------------------------------------------------------------------


def get_condition(status: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def condition(ctype: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {"type": ctype, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """SetDeploymentCondition: same status and reason is a no-op; same status keeps lastTransitionTime."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: dict[str, Any], ctype: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def calculate_status(deployment: Mapping[str, Any], sets: Sequence[RS], new: RS | None, now: str) -> dict[str, Any]:
    """calculateStatus: counts summed over the sets, and the Available condition."""
    old_status = as_map(deployment.get("status"))
    available = sum(r.available for r in sets)
    total = sum(r.replicas for r in sets)
    status: dict[str, Any] = {
        "observedGeneration": int_or(as_map(deployment.get("metadata")).get("generation"), 1),
        "replicas": sum(r.current for r in sets),
        "updatedReplicas": new.current if new is not None else 0,
        "readyReplicas": sum(r.ready for r in sets),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    if old_status.get("collisionCount") is not None:
        status["collisionCount"] = old_status["collisionCount"]
    conds = [copy.deepcopy(c) for c in old_status.get("conditions") or [] if isinstance(c, dict)]
    if conds:
        status["conditions"] = conds
    replicas = replicas_of(deployment)
    if available >= replicas - max_unavailable(deployment):
        set_condition(status, condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE,
                                        "Deployment has minimum availability.", now))
    else:
        set_condition(status, condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE,
                                        "Deployment does not have minimum availability.", now))
    return status


def has_progress_deadline(deployment: Mapping[str, Any]) -> bool:
    deadline = as_map(deployment.get("spec")).get("progressDeadlineSeconds")
    return isinstance(deadline, int) and deadline != MAX_INT32


def deployment_complete(deployment: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    replicas = replicas_of(deployment)
    return (int_or(status.get("updatedReplicas")) == replicas and int_or(status.get("replicas")) == replicas
            and int_or(status.get("availableReplicas")) == replicas
            and int_or(status.get("observedGeneration")) >= int_or(as_map(deployment.get("metadata")).get("generation"), 1))


def deployment_progressing(deployment: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    old = as_map(deployment.get("status"))
    old_old = int_or(old.get("replicas")) - int_or(old.get("updatedReplicas"))
    new_old = int_or(status.get("replicas")) - int_or(status.get("updatedReplicas"))
    return (int_or(status.get("updatedReplicas")) > int_or(old.get("updatedReplicas")) or new_old < old_old
            or int_or(status.get("readyReplicas")) > int_or(old.get("readyReplicas"))
            or int_or(status.get("availableReplicas")) > int_or(old.get("availableReplicas")))


def seconds_until_deadline(deployment: Mapping[str, Any], status: Mapping[str, Any], now: float) -> float | None:
    """Seconds before the Progressing condition's lastUpdateTime + progressDeadlineSeconds; None if none applies."""
    if not has_progress_deadline(deployment):
        return None
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT) or cond.get("status") != "True":
        return None
    updated = parse_time(cond.get("lastUpdateTime"))
    if updated is None:
        return None
    t = updated.timestamp()
    return t + int(as_map(deployment.get("spec")).get("progressDeadlineSeconds") or 0) - now


def rollout_status(deployment: Mapping[str, Any], sets: Sequence[RS], new: RS | None, *, now: str,
                   now_seconds: float, new_name: str | None = None) -> dict[str, Any]:
    """syncRolloutStatus: calculateStatus plus the Progressing condition (progress, completion, timeout)."""
    status = calculate_status(deployment, sets, new, now)
    name = str(as_map(deployment.get("metadata")).get("name") or "")
    rs_name = new_name if new_name is not None else (new.name if new is not None else None)
    if not has_progress_deadline(deployment):
        remove_condition(status, PROGRESSING)
    current = get_condition(as_map(deployment.get("status")), PROGRESSING)
    complete_before = (status["replicas"] == status["updatedReplicas"] and current is not None
                       and current.get("reason") == NEW_RS_AVAILABLE)
    if has_progress_deadline(deployment) and not complete_before:
        if deployment_complete(deployment, status):
            msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name
                   else f'Deployment "{name}" has successfully progressed.')
            set_condition(status, condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now))
        elif deployment_progressing(deployment, status):
            msg = (f'ReplicaSet "{rs_name}" is progressing.' if rs_name else f'Deployment "{name}" is progressing.')
            cond = condition(PROGRESSING, "True", REPLICA_SET_UPDATED, msg, now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif _timed_out(deployment, status, now_seconds):
            msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name
                   else f'Deployment "{name}" has timed out progressing.')
            set_condition(status, condition(PROGRESSING, "False", TIMED_OUT, msg, now))
    return status


def _timed_out(deployment: Mapping[str, Any], status: Mapping[str, Any], now_seconds: float) -> bool:
    """DeploymentTimedOut."""
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    left = seconds_until_deadline(deployment, status, now_seconds)
    return left is not None and left < 0


def same_status(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Status equality as the controller decides whether to write (absent and zero counts are equal)."""
    return bool(_semantic(dict(a)) == _semantic(dict(b)))


def scaled(rs: RS, size: int) -> RS:
    return replace(rs, replicas=size)
