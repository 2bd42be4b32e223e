"""The job controller: runs each Job's Pods to completion and records how they ended (pkg/controller/job).

Rules, as kube-controller-manager 1.32 applies them:
- Pods are the Job's when their controller ownerReference names it (matching orphans are adopted through
  the generated selector). Each is created from the template with the ``batch.kubernetes.io/job-tracking``
  finalizer, named ``<job>-<random>`` (Indexed: ``<job>-<index>-<random>``, hostname ``<job>-<index>``,
  the index in the ``batch.kubernetes.io/job-completion-index`` annotation and label and in the
  ``JOB_COMPLETION_INDEX`` environment variable of every container).
- Counting with finalizers (trackJobStatusWithFinalizers): a finished Pod (Succeeded, Failed, or being
  deleted: that counts as a failure) is first recorded by UID in ``status.uncountedTerminatedPods``, then
  loses its finalizer, then moves from there into ``status.succeeded``/``status.failed`` (Indexed: into
  ``status.completedIndexes``). So every Pod is counted exactly once, even when it is deleted meanwhile
  or this process restarts between the steps; the UIDs whose finalizer this process removed are skipped
  until the informer shows the change (finalizer expectations).
- Active Pods: ``min(parallelism, completions - succeeded)`` (no completions: parallelism until a first
  success); excess active Pods are deleted. With podReplacementPolicy Failed, terminating Pods count as
  active. After failures, a new Pod waits ``pod_failure_backoff * 2^(failures-1)`` (capped at 10 min).
- Finishing: succeeded reaching completions -> SuccessCriteriaMet, then (once no Pod is active or
  terminating) Complete, reason CompletionsReached; failed > backoffLimit (or, for restartPolicy
  OnFailure, the restarts of the Pending/Running Pods reaching it) -> FailureTarget then Failed,
  reason BackoffLimitExceeded; past activeDeadlineSeconds -> reason DeadlineExceeded. Active Pods of a
  finished Job are deleted. startTime is set when the Job first runs, completionTime with Complete.
- suspend: active Pods are deleted, condition Suspended True (JobSuspended), startTime cleared; resuming
  sets it False (JobResumed).
- ttlSecondsAfterFinished (the TTL-after-finished controller, here): the finished Job is deleted with
  propagationPolicy Foreground that long after its Complete/Failed condition; the garbage collector
  (controllers/gc.py) deletes its Pods through their ownerReferences, then lets the Job go.

Not acted on (accepted by the API, reported with a Warning Event): podFailurePolicy, successPolicy and
backoffLimitPerIndex; a Job whose ``spec.managedBy`` names another controller is left to it.

The decision is ``sync_job``, a pure function of the Job, its Pods, the clock and the failure backoff;
``reconcile`` writes only what differs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apimachinery.kinds.job import has_condition
from apimachinery.labels import (
    ANNOTATION_JOB_COMPLETION_INDEX,
    FINALIZER_JOB_TRACKING,
    LABEL_JOB_COMPLETION_INDEX,
)
from apimachinery.objects import as_list, as_map, int_or, meta_of
from apimachinery.pods import is_pod_ready
from apimachinery.resources import BY_KEY
from apimachinery.selectors import LabelSelector, from_label_selector_object
from apimachinery.timestamps import format_time, parse_time
from controllers.ownership import RefManager, controller_ref, is_deleting, uid_of
from controllers.replicaset import Expectations
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, duration, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
JOBS = BY_KEY["jobs.batch"]

CONTROLLER_NAME = "kubernetes.io/job-controller"  # spec.managedBy values this controller reconciles
MAX_POD_CREATE_DELETE_PER_SYNC = 500
DEFAULT_POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0
INDEX_ENV = "JOB_COMPLETION_INDEX"

COMPLETE, FAILED, SUSPENDED = "Complete", "Failed", "Suspended"
FAILURE_TARGET, SUCCESS_CRITERIA_MET = "FailureTarget", "SuccessCriteriaMet"
REASON_COMPLETIONS_REACHED = "CompletionsReached"
MESSAGE_COMPLETIONS_REACHED = "Reached expected number of succeeded pods"
REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
MESSAGE_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"


# ---------------------------------------------------------------------------
# Pods (pure)
# ---------------------------------------------------------------------------


def _phase(pod: Mapping[str, Any]) -> str:
    return str(as_map(pod.get("status")).get("phase") or "")


def is_active(pod: Mapping[str, Any]) -> bool:
    """Neither finished nor being deleted."""
    return _phase(pod) not in ("Succeeded", "Failed") and not is_deleting(pod)


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return is_deleting(pod) and _phase(pod) not in ("Succeeded", "Failed")


def has_tracking_finalizer(pod: Mapping[str, Any]) -> bool:
    return FINALIZER_JOB_TRACKING in (meta_of(pod).get("finalizers") or [])


def completion_index(pod: Mapping[str, Any]) -> int | None:
    """getCompletionIndex: the annotation (or label) as a non-negative int, else None."""
    meta = meta_of(pod)
    for source in (meta.get("annotations"), meta.get("labels")):
        text = as_map(source).get(ANNOTATION_JOB_COMPLETION_INDEX)
        if isinstance(text, str) and text.isdigit():
            return int(text)
    return None


def format_indexes(indexes: Sequence[int]) -> str:
    """The completedIndexes text: sorted, three or more consecutive numbers as ``first-last``."""
    out: list[str] = []
    ordered = sorted(set(indexes))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{ordered[i]}-{ordered[j]}")
        else:
            out.extend(str(x) for x in ordered[i:j + 1])
        i = j + 1
    return ",".join(out)


def parse_indexes(text: Any, completions: int) -> set[int]:
    """parseIndexesFromString: the indexes below ``completions`` a completedIndexes text names."""
    out: set[int] = set()
    for part in str(text or "").split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            continue
        out.update(x for x in range(int(lo), int(hi or lo) + 1) if x < completions)
    return out


def pod_from_template(job: Mapping[str, Any], index: int | None) -> Obj:
    """The Pod to create: the template's labels, annotations, finalizers (+ job-tracking) and spec."""
    meta = meta_of(job)
    name = str(meta.get("name") or "")
    template = as_map(as_map(job.get("spec")).get("template"))
    tmeta = as_map(template.get("metadata"))
    labels = dict(as_map(tmeta.get("labels")))
    annotations = dict(as_map(tmeta.get("annotations")))
    finalizers = [f for f in as_list(tmeta.get("finalizers")) if f != FINALIZER_JOB_TRACKING]
    finalizers.append(FINALIZER_JOB_TRACKING)
    spec = dict(as_map(template.get("spec")))
    generate = f"{name}-"
    if index is not None:
        generate = f"{name}-{index}-"
        annotations[ANNOTATION_JOB_COMPLETION_INDEX] = str(index)
        labels[LABEL_JOB_COMPLETION_INDEX] = str(index)
        if not spec.get("hostname"):
            spec["hostname"] = f"{name}-{index}"
        env_var = {"name": INDEX_ENV, "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{ANNOTATION_JOB_COMPLETION_INDEX}']"}}}
        for key in ("initContainers", "containers"):
            if key in spec:
                spec[key] = [
                    {**as_map(c), "env": [*as_list(as_map(c).get("env")), env_var]}
                    if not any(as_map(e).get("name") == INDEX_ENV for e in as_list(as_map(c).get("env"))) else c
                    for c in as_list(spec[key])
                ]
    pod_meta: Obj = {"generateName": generate, "labels": labels}
    if annotations:
        pod_meta["annotations"] = annotations
    pod_meta["finalizers"] = finalizers
    pod_meta["ownerReferences"] = [{"apiVersion": JOBS.api_version, "kind": JOBS.kind, "name": name,
                                    "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


# ---------------------------------------------------------------------------
# The decision (pure)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """The Job's failure back-off record: failures since the last success and when the last one was seen."""

    failures: int = 0
    last_failure: float = 0.0

    def remaining(self, now: float, base: float) -> float:
        if self.failures <= 0 or base <= 0:
            return 0.0
        wait = min(MAX_POD_FAILURE_BACKOFF, base * float(2 ** min(self.failures - 1, 32)))
        return max(0.0, self.last_failure + wait - now)


@dataclass
class Plan:
    """What one sync decided. ``status`` is the status once the finalizers in ``unfinalize`` are gone."""

    status: Obj
    uncounted: Obj  # status.uncountedTerminatedPods to record before any finalizer is removed
    unfinalize: list[Obj] = field(default_factory=list)
    create: list[int | None] = field(default_factory=list)  # one entry per Pod: its index, or None
    delete: list[Obj] = field(default_factory=list)
    requeue: float | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    backoff: Backoff = field(default_factory=Backoff)  # the failure back-off record after this sync


def _condition(ctype: str, status: str, reason: str, message: str, now_text: str) -> Obj:
    return {"type": ctype, "status": status, "lastProbeTime": now_text, "lastTransitionTime": now_text,
            "reason": reason, "message": message}


def _find(conditions: list[Obj], ctype: str) -> Obj | None:
    for c in conditions:
        if c.get("type") == ctype:
            return c
    return None


def _set_condition(conditions: list[Obj], ctype: str, status: str, reason: str, message: str,
                   now_text: str) -> bool:
    """Add or update a condition; True when anything changed (the transition time moves with status)."""
    c = _find(conditions, ctype)
    if c is None:
        conditions.append(_condition(ctype, status, reason, message, now_text))
        return True
    if (c.get("status"), c.get("reason"), c.get("message")) == (status, reason, message):
        return False
    if c.get("status") != status:
        c["lastTransitionTime"] = now_text
    c.update(status=status, reason=reason, message=message, lastProbeTime=now_text)
    return True


def past_backoff_limit_on_failure(spec: Mapping[str, Any], pods: Sequence[Obj], backoff_limit: int) -> bool:
    """pastBackoffLimitOnFailure: restartPolicy OnFailure, and the restarts of the Pending/Running Pods'
    containers (init containers too) reach backoffLimit (any restart, for a limit of 0)."""
    if as_map(as_map(spec.get("template")).get("spec")).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(int_or(as_map(s).get("restartCount")) for p in pods if _phase(p) in ("Pending", "Running")
                   for key in ("initContainerStatuses", "containerStatuses")
                   for s in as_list(as_map(p.get("status")).get(key)))
    return restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit


def _deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """activePodsForRemoval: unscheduled, pending, not ready first; then the newest."""
    created = parse_time(meta_of(pod).get("creationTimestamp"))
    return (1 if as_map(pod.get("spec")).get("nodeName") else 0,
            {"Pending": 0, "Unknown": 1, "Running": 2}.get(_phase(pod), 0),
            1 if is_pod_ready(pod) else 0,
            -(created.timestamp() if created else 0.0))


def sync_job(job: Mapping[str, Any], pods: Sequence[Obj], *, now: float, backoff: Backoff = Backoff(),
             pod_failure_backoff: float = DEFAULT_POD_FAILURE_BACKOFF,
             expected_removed: frozenset[str] = frozenset()) -> Plan:
    """The Job's next status and the Pods to create, delete and unfinalize (``pods``: the Job's own).

    ``expected_removed``: UIDs whose finalizer was already removed (the cache may not show it yet).
    """
    spec, old_status = as_map(job.get("spec")), as_map(job.get("status"))
    status: Obj = {k: v for k, v in old_status.items() if k != "conditions"}
    conditions = [dict(as_map(c)) for c in as_list(old_status.get("conditions"))]
    now_text = format_time(datetime.fromtimestamp(now, UTC))
    events: list[tuple[str, str, str]] = []
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")
    completions = completions if isinstance(completions, int) and not isinstance(completions, bool) else None
    parallelism = max(0, int_or(spec.get("parallelism"), 1))
    backoff_limit = int_or(spec.get("backoffLimit"), 6)
    suspended = spec.get("suspend") is True
    finished_before = has_condition(job, COMPLETE) or has_condition(job, FAILED)
    interim = _find(conditions, FAILURE_TARGET) or _find(conditions, SUCCESS_CRITERIA_MET)
    interim = interim if interim is not None and interim.get("status") == "True" else None

    # -- counting: uncountedTerminatedPods, then counters ------------------------------------------
    uncounted = as_map(old_status.get("uncountedTerminatedPods"))
    unc_succeeded = [str(u) for u in as_list(uncounted.get("succeeded"))]
    unc_failed = [str(u) for u in as_list(uncounted.get("failed"))]
    done_indexes = parse_indexes(old_status.get("completedIndexes"), completions or 0) if indexed else set()
    new_indexes: set[int] = set()
    unfinalize: list[Obj] = []
    job_ending = interim is not None or finished_before or is_deleting(job)
    for p in pods:
        uid = uid_of(p)
        if indexed and _phase(p) == "Succeeded":
            # calculateSucceededIndexes: every Succeeded Pod's index counts, finalizer or not
            ix = completion_index(p)
            if ix is not None and completions is not None and ix < completions and ix not in done_indexes:
                new_indexes.add(ix)
        if not has_tracking_finalizer(p) or uid in expected_removed:
            continue
        phase = _phase(p)
        if phase in ("Succeeded", "Failed") or is_deleting(p) or job_ending:
            unfinalize.append(p)
        if phase == "Succeeded" and uid not in unc_failed:
            if not indexed and uid not in unc_succeeded:
                unc_succeeded.append(uid)
        elif phase == "Failed" or (is_deleting(p) and phase != "Succeeded"
                                   and spec.get("podReplacementPolicy") != "Failed") or job_ending:
            ix = completion_index(p)
            if uid not in unc_failed and uid not in unc_succeeded and (
                    not indexed or (ix is not None and completions is not None and ix < completions)):
                unc_failed.append(uid)
    recorded = {"succeeded": unc_succeeded, "failed": unc_failed}
    # a UID moves into the counters once its Pod no longer holds the finalizer (or is gone)
    holding = {uid_of(p) for p in pods if has_tracking_finalizer(p) and uid_of(p) not in expected_removed}
    holding -= {uid_of(p) for p in unfinalize}
    moved_s = [u for u in unc_succeeded if u not in holding]
    moved_f = [u for u in unc_failed if u not in holding]
    succeeded = int_or(old_status.get("succeeded")) + len(moved_s)
    failed = int_or(old_status.get("failed")) + len(moved_f)
    if indexed:
        done_indexes |= new_indexes
        succeeded = len(done_indexes)
        if done_indexes or old_status.get("completedIndexes") is not None:
            status["completedIndexes"] = format_indexes(sorted(done_indexes))
    status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", [u for u in unc_succeeded if u not in moved_s]),
                                                           ("failed", [u for u in unc_failed if u not in moved_f]))
                                         if v}
    status["succeeded"], status["failed"] = succeeded, failed
    # the failure back-off counts the failures seen now (a success starts it over)
    if moved_s or new_indexes:
        backoff = Backoff()
    if moved_f:
        backoff = Backoff(backoff.failures + len(moved_f), now)

    active = [p for p in pods if is_active(p)]
    terminating = [p for p in pods if is_terminating(p)]
    delete: list[Obj] = []
    create: list[int | None] = []
    requeue: float | None = None

    # -- the terminal decision ----------------------------------------------------------------------
    finished_cond: tuple[str, str, str] | None = None  # (type, reason, message)
    if interim is not None:
        finished_cond = (FAILED if interim["type"] == FAILURE_TARGET else COMPLETE, str(interim.get("reason") or ""),
                         str(interim.get("message") or ""))
    elif not finished_before and not suspended:
        start = parse_time(old_status.get("startTime"))
        deadline = spec.get("activeDeadlineSeconds")
        past_deadline = (isinstance(deadline, int) and start is not None and now - start.timestamp() >= deadline)
        if failed > backoff_limit or past_backoff_limit_on_failure(spec, pods, backoff_limit):
            finished_cond = (FAILED, REASON_BACKOFF_LIMIT, MESSAGE_BACKOFF_LIMIT)
        elif past_deadline:
            finished_cond = (FAILED, REASON_DEADLINE, MESSAGE_DEADLINE)
        elif (completions is not None and succeeded >= completions) or (completions is None and succeeded > 0
                                                                         and not active):
            finished_cond = (COMPLETE, REASON_COMPLETIONS_REACHED, MESSAGE_COMPLETIONS_REACHED)
        elif isinstance(deadline, int) and start is not None:
            requeue = max(0.0, start.timestamp() + deadline - now)

    if finished_before:
        delete = list(active)
    elif finished_cond is not None:
        ctype, reason, message = finished_cond
        interim_type = FAILURE_TARGET if ctype == FAILED else SUCCESS_CRITERIA_MET
        if _set_condition(conditions, interim_type, "True", reason, message, now_text) and ctype == FAILED:
            events.append((WARNING, reason, message))
        delete = list(active)
        # the terminal condition once no Pod of the Job is left running or holding its finalizer
        if not active and not terminating and not [u for u in holding]:
            _set_condition(conditions, ctype, "True", reason, message, now_text)
            if ctype == COMPLETE:
                status["completionTime"] = now_text
                events.append((NORMAL, "Completed", "Job completed"))
    elif suspended:
        delete = list(active)
        if _set_condition(conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", now_text):
            events.append((NORMAL, "Suspended", "Job suspended"))
        status.pop("startTime", None)
    else:
        if _find(conditions, SUSPENDED) is not None and _set_condition(conditions, SUSPENDED, "False", "JobResumed",
                                                                        "Job resumed", now_text):
            events.append((NORMAL, "Resumed", "Job resumed"))
        if not old_status.get("startTime") or _resumed(old_status, conditions):
            status["startTime"] = now_text
            deadline = spec.get("activeDeadlineSeconds")
            if isinstance(deadline, int):
                requeue = float(deadline)
        # -- how many should run --------------------------------------------------------------------
        if completions is None:
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = max(0, min(parallelism, completions - succeeded))
        counted_active = len(active) + (len(terminating) if spec.get("podReplacementPolicy") == "Failed" else 0)
        if len(active) > want:
            delete = sorted(active, key=_deletion_rank)[:len(active) - want]
        elif counted_active < want:
            wait = backoff.remaining(now, pod_failure_backoff)
            if wait > 0:
                requeue = wait if requeue is None else min(requeue, wait)
            else:
                n = min(want - counted_active, MAX_POD_CREATE_DELETE_PER_SYNC)
                if indexed and completions is not None:
                    busy = {completion_index(p) for p in active} | done_indexes
                    if spec.get("podReplacementPolicy") == "Failed":
                        busy |= {completion_index(p) for p in terminating}
                    free: list[int | None] = [ix for ix in range(completions) if ix not in busy]
                    create = free[:n]
                else:
                    create = [None] * n

    deleted = {uid_of(p) for p in delete}
    running = [p for p in active if uid_of(p) not in deleted]
    status["active"] = len(running) + len(create)
    status["ready"] = sum(1 for p in running if is_pod_ready(p))
    status["terminating"] = len(terminating) + len(delete)
    if conditions:
        status["conditions"] = conditions
    return Plan(status=_clean(status), uncounted=_clean_uncounted(recorded), unfinalize=unfinalize, create=create,
                delete=delete, requeue=requeue, events=events, backoff=backoff)


def _resumed(old_status: Mapping[str, Any], conditions: list[Obj]) -> bool:
    """A Job resumed in this sync: the stored Suspended condition is True, the new one False."""
    old = _find([as_map(c) for c in as_list(old_status.get("conditions"))], SUSPENDED)
    new = _find(conditions, SUSPENDED)
    return old is not None and old.get("status") == "True" and new is not None and new.get("status") == "False"


_STATUS_ORDER = ("conditions", "startTime", "completionTime", "active", "succeeded", "failed", "terminating",
                 "completedIndexes", "failedIndexes", "uncountedTerminatedPods", "ready")


def _clean(status: Obj) -> Obj:
    """Go's omitempty: zero counters dropped (ready and terminating are pointers: kept), JobStatus order."""
    out: Obj = {}
    for key in _STATUS_ORDER:
        if key not in status:
            continue
        value = status[key]
        if key in ("active", "succeeded", "failed") and not value:
            continue
        out[key] = value
    return out


def _clean_uncounted(recorded: Mapping[str, list[str]]) -> Obj:
    return {k: v for k, v in recorded.items() if v}


# ---------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------


def _owner_key(pod: Mapping[str, Any]) -> str | None:
    ref = controller_ref(pod)
    if ref is None or ref.get("kind") != JOBS.kind or ref.get("apiVersion") != JOBS.api_version:
        return None
    return f"{meta_of(pod).get('namespace') or ''}/{ref.get('name')}"


class JobController(Controller):
    """Reconciles ``ns/name`` Job keys; also the TTL-after-finished deletion of finished Jobs."""

    name = "job"

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 clock: Callable[[], float] = time.time,
                 pod_failure_backoff: float = DEFAULT_POD_FAILURE_BACKOFF) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "job-controller")
        self.clock = clock
        self.pod_failure_backoff = pod_failure_backoff
        self.jobs = self.informer(JOBS, enqueue=True)
        self.pods = self.informer(PODS)
        self.handle(self.pods, on_add=self._pod_event, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.expectations = Expectations()
        self._removed: dict[str, set[str]] = {}  # job key -> Pod UIDs whose finalizer we removed
        self._backoff: dict[str, Backoff] = {}
        self._written: dict[str, str] = {}  # job key -> resourceVersion of our last status write
        self._warned: set[str] = set()

    # ---- events -------------------------------------------------------------

    def _pod_event(self, pod: Obj) -> None:
        key = _owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self._observe_finalizer(key, pod)
            self.queue.add(key)
        elif controller_ref(pod) is None:
            for job in self.jobs.cache.list(str(meta_of(pod).get("namespace") or "")):
                sel = _selector(job)
                labels = {str(k): str(v) for k, v in as_map(meta_of(pod).get("labels")).items()}
                if sel is not None and not sel.empty and sel.matches(labels):
                    self.queue.add(object_key(job))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        old_key = _owner_key(old)
        if old_key is not None and old_key != _owner_key(new):
            self.queue.add(old_key)
        key = _owner_key(new)
        if key is not None:
            self._observe_finalizer(key, new)
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = _owner_key(pod)
        if key is not None:
            self._removed.get(key, set()).discard(uid_of(pod))
            self.queue.add(key)

    def _observe_finalizer(self, key: str, pod: Obj) -> None:
        if not has_tracking_finalizer(pod):
            self._removed.get(key, set()).discard(uid_of(pod))

    # ---- reconcile ------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        job = self.jobs.cache.get(ns or None, name)
        if job is None:
            await self._release_orphans(ns, name)
            self.expectations.forget(key)
            self._removed.pop(key, None)
            self._backoff.pop(key, None)
            self._written.pop(key, None)
            return
        managed_by = as_map(job.get("spec")).get("managedBy")
        if managed_by not in (None, CONTROLLER_NAME):
            return
        if await self._expire(key, job):
            return
        if not self.expectations.satisfied(key):
            return  # the informer has not seen our last creates yet: the Pod events queue us again
        if _older(job, self._written.get(key)):
            return  # the informer has not seen our last status write yet: its update event queues us again
        selector = _selector(job)
        if selector is None:
            self.log.error("%s: Job %s has an invalid selector; skipping", self.name, key)
            return
        await self._warn_unsupported(key, job)
        candidates = self.pods.cache.list(ns)
        manager = RefManager(self.client, owner=job, owner_rt=JOBS, child_rt=PODS,
                             matches=lambda p: not selector.empty and selector.matches(
                                 {str(k): str(v) for k, v in as_map(meta_of(p).get("labels")).items()}))
        pods = await manager.claim([p for p in candidates if is_active(p) or has_tracking_finalizer(p)
                                    or controller_ref(p) is not None])
        removed = self._removed.setdefault(key, set())
        plan = sync_job(job, pods, now=self.clock(), backoff=self._backoff.get(key, Backoff()),
                        pod_failure_backoff=self.pod_failure_backoff, expected_removed=frozenset(removed))
        # 1. record the finished Pods by UID before any of them loses its finalizer
        current_uncounted = as_map(as_map(job.get("status")).get("uncountedTerminatedPods"))
        if plan.unfinalize and not _same_uncounted(plan.uncounted, current_uncounted):
            job = await self._write_status(job, {**as_map(job.get("status")), "uncountedTerminatedPods": plan.uncounted})
            if job is None:
                return
        # 2. remove the finalizers
        # (the counters move only after every finalizer is gone: a failure here is retried with backoff)
        for f in await asyncio.gather(*(self._unfinalize(key, p) for p in plan.unfinalize), return_exceptions=True):
            if isinstance(f, BaseException):
                raise f
        # 3. Pods
        error: Exception | None = None
        created = 0
        if plan.delete:
            error = await self._delete_pods(job, plan.delete)
        if plan.create and error is None:
            created, error = await self._create_pods(key, job, plan.create)
        status = dict(plan.status)
        if created < len(plan.create):
            status["active"] = max(0, int_or(status.get("active")) - (len(plan.create) - created))
            if not status["active"]:
                status.pop("active")
        # 4. the status
        for type_, reason, message in plan.events:
            await self.recorder.event(job, type_, reason, message)
        self._backoff[key] = plan.backoff
        if status != as_map(job.get("status")):
            if await self._write_status(job, status) is None:
                return
        if error is not None:
            raise error
        wait = self._ttl_wait(job, status)
        requeue = plan.requeue
        if wait is not None:
            requeue = wait if requeue is None else min(requeue, wait)
        if requeue is not None:
            raise RequeueAfter(requeue + 0.05)

    async def _warn_unsupported(self, key: str, job: Obj) -> None:
        spec = as_map(job.get("spec"))
        names = [k for k in ("podFailurePolicy", "successPolicy", "backoffLimitPerIndex") if spec.get(k) is not None]
        if names and key not in self._warned:
            self._warned.add(key)
            await self.recorder.event(job, WARNING, "NotSupported",
                                      f"kubelite's job controller does not act on {', '.join(names)}")

    # ---- writes ---------------------------------------------------------------

    async def _write_status(self, job: Obj, status: Obj) -> Obj | None:
        try:
            written = await self.client.update_status(JOBS, {**job, "status": status})
        except errors.NotFound:
            return None
        except errors.Conflict as e:
            raise RequeueAfter(0.0, "status conflict") from e
        self._written[object_key(written)] = str(meta_of(written).get("resourceVersion") or "")
        return written

    async def _unfinalize(self, key: str, pod: Obj) -> None:
        meta = meta_of(pod)
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [FINALIZER_JOB_TRACKING], "uid": meta.get("uid")}}
        try:
            await self.client.patch(PODS, str(meta.get("name")), patch, namespace=str(meta.get("namespace")),
                                    patch_type="strategic")
        except errors.NotFound:
            pass
        self._removed.setdefault(key, set()).add(uid_of(pod))

    async def _release_orphans(self, ns: str, name: str) -> None:
        """The Job is gone: its Pods must not keep the tracking finalizer (they could never be removed)."""
        for pod in self.pods.cache.list(ns):
            ref = controller_ref(pod)
            if ref is not None and ref.get("kind") == JOBS.kind and ref.get("name") == name \
                    and has_tracking_finalizer(pod):
                await self._unfinalize(f"{ns}/{name}", pod)

    async def _create_pods(self, key: str, job: Obj, indexes: list[int | None]) -> tuple[int, Exception | None]:
        ns = str(meta_of(job).get("namespace") or "")
        self.expectations.expect(key, adds=len(indexes))

        async def one(index: int | None) -> None:
            try:
                pod = await self.client.create(PODS, pod_from_template(job, index), namespace=ns)
            except errors.ApiError as e:
                self.expectations.creation_observed(key)
                if e.code == 403 and "being terminated" in e.message:
                    return
                await self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {e.message}")
                raise
            self.count("create_pod")
            await self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {meta_of(pod).get('name')}")

        results = await asyncio.gather(*(one(ix) for ix in indexes), return_exceptions=True)
        errs = [r for r in results if isinstance(r, BaseException)]
        for r in errs:
            if not isinstance(r, Exception):
                raise r
        first = errs[0] if errs else None
        assert first is None or isinstance(first, Exception)
        return len(indexes) - len(errs), first

    async def _delete_pods(self, job: Obj, pods: list[Obj]) -> Exception | None:
        async def one(pod: Obj) -> None:
            meta = meta_of(pod)
            try:
                await self.client.delete(PODS, str(meta.get("name")), namespace=str(meta.get("namespace")),
                                         preconditions={"uid": uid_of(pod)})
            except (errors.NotFound, errors.Conflict):
                return
            except errors.ApiError as e:
                await self.recorder.event(job, WARNING, "FailedDelete", f"Error deleting: {e.message}")
                raise
            self.count("delete_pod")
            await self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta.get('name')}")

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                if not isinstance(r, Exception):
                    raise r
                return r
        return None

    # ---- ttlSecondsAfterFinished --------------------------------------------------

    def _ttl_wait(self, job: Obj, status: Obj) -> float | None:
        """Seconds until a finished Job with ttlSecondsAfterFinished expires (None: never)."""
        ttl = as_map(job.get("spec")).get("ttlSecondsAfterFinished")
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            return None
        finished = None
        for c in as_list(status.get("conditions")):
            c = as_map(c)
            if c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True":
                finished = parse_time(c.get("lastTransitionTime"))
        if finished is None:
            return None
        return max(0.0, finished.timestamp() + ttl - self.clock())

    async def _expire(self, key: str, job: Obj) -> bool:
        """The TTL-after-finished controller: delete the Job once its time is up. True when deleted."""
        if is_deleting(job):
            return False
        wait = self._ttl_wait(job, as_map(job.get("status")))
        if wait is None or wait > 0:
            return False
        meta = meta_of(job)
        try:
            await self.client.delete(JOBS, str(meta.get("name")), namespace=str(meta.get("namespace")),
                                     propagation_policy="Foreground", preconditions={"uid": uid_of(job)})
        except (errors.NotFound, errors.Conflict):
            return True
        self.log.info("%s: deleted finished Job %s (ttlSecondsAfterFinished)", self.name, key)
        return True


def _older(job: Mapping[str, Any], written: str | None) -> bool:
    """The cached Job predates our last status write (kubelite's resourceVersions are one global revision
    counter, so they compare as numbers): acting on it would count its Pods against a stale status."""
    if not written:
        return False
    try:
        return int(str(meta_of(job).get("resourceVersion") or "0")) < int(written)
    except ValueError:
        return False


def _same_uncounted(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(sorted(as_list(a.get(k))) == sorted(as_list(b.get(k))) for k in ("succeeded", "failed"))


def _selector(job: Mapping[str, Any]) -> LabelSelector | None:
    raw = as_map(job.get("spec")).get("selector")
    try:
        return from_label_selector_object(raw if isinstance(raw, dict) else None)
    except Exception:
        return None


def build_job_parser() -> argparse.ArgumentParser:
    p = build_parser("job", "Run every Job's Pods to completion and record how they ended.")
    p.add_argument("--pod-failure-backoff", type=duration, default=DEFAULT_POD_FAILURE_BACKOFF, metavar="DURATION",
                   help="the delay before a failed Job Pod is replaced, doubling per failure up to 10m (default 10s)")
    return p


async def main(argv: list[str]) -> int:
    """``kubelite controller job [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return JobController(client, workers=args.workers, metrics=metrics,
                             pod_failure_backoff=args.pod_failure_backoff)

    return await run_controller_process("job", argv, factory, parser=build_job_parser())


__all__ = [
    "Backoff",
    "JobController",
    "Plan",
    "completion_index",
    "format_indexes",
    "main",
    "parse_indexes",
    "pod_from_template",
    "sync_job",
]
