"""The replicaset controller: keeps spec.replicas Pods of each ReplicaSet, and reports how they do.

Rules (pkg/controller/replicaset):
- Pods are the ReplicaSet's when their controller ownerReference names it
  by uid; matching orphans are adopted, owned Pods that stop matching are
  released (``ownership``).
- Too few Pods: create the difference (at most ``burst`` per sync) from the
  template, named ``<rs>-<5 chars>`` by generateName, in slow-start batches
  of 1, 2, 4, ... so a failing create stops the batch instead of repeating.
- Too many: delete the difference, least valuable first (unscheduled,
  pending, not ready, crowded nodes, recently ready, restarting, newest).
- Expectations: after acting, the ReplicaSet is not acted on again until
  the informer has seen the Pods it created and deleted (or a timeout), so
  a stale cache never causes a second round of creates or deletes.
- Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
  and observedGeneration, counted over the Pods that remain after this
  sync's deletions (so the Deployment controller never sees deleted Pods
  as available), and a ReplicaFailure condition while creates or deletes fail.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apimachinery.objects import as_map, int_or
from apimachinery.pods import is_pod_ready, is_pod_terminal, ready_condition
from apimachinery.resources import BY_KEY, ResourceType
from apimachinery.selectors import LabelSelector, from_label_selector_object
from apimachinery.timestamps import format_time, parse_time
from controllers.ownership import RefManager, controller_ref, is_deleting, uid_of
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, duration, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
REPLICASETS = BY_KEY["replicasets.apps"]

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
EXPECTATIONS_TIMEOUT = 300.0
REPLICA_FAILURE = "ReplicaFailure"
# the controller rate limiter's per-item exponential backoff (5 ms doubling, at most 1000 s)
REFUSED_BASE_DELAY = 0.005
REFUSED_MAX_DELAY = 1000.0
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _time(value: Any) -> float | None:
    t = parse_time(value)
    return t.timestamp() if t is not None else None


# ---------------------------------------------------------------------------
# Pods (pure)
# ---------------------------------------------------------------------------


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """controller.IsPodActive: not terminal and not being deleted."""
    return not is_pod_terminal(pod) and not is_deleting(pod)


def available_in(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a ready Pod counts as available (0 when it is); None when it is not ready."""
    cond = ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = _time(cond.get("lastTransitionTime"))
    if since is None:
        return 0.0
    return max(0.0, since + min_ready_seconds - now)


def _max_restarts(pod: Mapping[str, Any]) -> int:
    return max((int_or(as_map(cs).get("restartCount")) for cs in as_map(pod.get("status")).get("containerStatuses") or []),
               default=0)


def deletion_order(pods: Sequence[Obj], related: Sequence[Obj]) -> list[Obj]:
    """ActivePodsWithRanks: the Pods sorted so the first are the cheapest to delete.

    Unassigned < assigned; Pending < Unknown < Running; not ready < ready;
    more related Pods on the same node first; ready more recently first;
    more restarts first; created more recently first.
    """
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = str(as_map(p.get("spec")).get("nodeName") or "")
            on_node[node] = on_node.get(node, 0) + 1

    def key(p: Obj) -> tuple[Any, ...]:
        node = str(as_map(p.get("spec")).get("nodeName") or "")
        ready = is_pod_ready(p)
        cond = ready_condition(p) or {}
        ready_at = _time(cond.get("lastTransitionTime")) if ready else None
        created = _time(as_map(p.get("metadata")).get("creationTimestamp"))
        return (
            1 if node else 0,
            _PHASE_ORDER.get(str(as_map(p.get("status")).get("phase") or ""), 0),
            1 if ready else 0,
            -on_node.get(node, 0),
            -(ready_at if ready_at is not None else float("inf")) if ready else 0.0,
            -_max_restarts(p),
            -(created if created is not None else float("inf")),
        )

    return sorted(pods, key=key)


def pod_from_template(rs: Mapping[str, Any], owner_rt: ResourceType = REPLICASETS) -> Obj:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec of the template; owned by ``rs``
    (a ReplicaSet, or another kind of ``owner_rt`` with the same spec, a ReplicationController)."""
    meta = as_map(rs.get("metadata"))
    template = as_map(as_map(rs.get("spec")).get("template"))
    tmeta = as_map(template.get("metadata"))
    pod_meta: dict[str, Any] = {"generateName": f"{meta.get('name')}-"}
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = tmeta[key]
    pod_meta["ownerReferences"] = [{"apiVersion": owner_rt.api_version, "kind": owner_rt.kind,
                                    "name": meta.get("name"), "uid": meta.get("uid"), "controller": True,
                                    "blockOwnerDeletion": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": as_map(template.get("spec"))}


def replica_set_status(rs: Mapping[str, Any], pods: Sequence[Obj], *, now: float,
                       failure: tuple[str, str] | None = None, now_text: str = "") -> dict[str, Any]:
    """calculateStatus: counts over the owned active Pods, and the ReplicaFailure condition."""
    spec = as_map(rs.get("spec"))
    template_labels = {str(k): str(v) for k, v in as_map(as_map(as_map(spec.get("template")).get("metadata")).get(
        "labels")).items()}
    min_ready = int_or(spec.get("minReadySeconds"))
    status = dict(as_map(rs.get("status")))
    fully = ready = available = 0
    for p in pods:
        labels = as_map(as_map(p.get("metadata")).get("labels"))
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully += 1
        wait = available_in(p, min_ready, now)
        if wait is not None:
            ready += 1
            if wait <= 0:
                available += 1
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    has_failure = any(c.get("type") == REPLICA_FAILURE for c in conds)
    if failure is not None and not has_failure:
        conds.append({"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": now_text or format_time(),
                      "reason": failure[0], "message": failure[1]})
    elif failure is None and has_failure:
        conds = [c for c in conds if c.get("type") != REPLICA_FAILURE]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
    status.update(replicas=len(pods), fullyLabeledReplicas=fully, readyReplicas=ready, availableReplicas=available,
                  observedGeneration=int_or(as_map(rs.get("metadata")).get("generation"), 1))
    return status


def next_availability_check(rs: Mapping[str, Any], pods: Sequence[Obj], now: float) -> float | None:
    """Seconds until the next owned ready Pod becomes available (minReadySeconds), if any."""
    min_ready = int_or(as_map(rs.get("spec")).get("minReadySeconds"))
    if min_ready <= 0:
        return None
    waits = [w for p in pods if (w := available_in(p, min_ready, now)) is not None and w > 0]
    return min(waits) if waits else None


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """slowStartBatch: run ``fn`` count times in batches of initial, 2*initial, ...; stop after a failing batch.

    Returns (successes, first error).
    """
    remaining, successes = count, 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errs = [r for r in results if isinstance(r, BaseException)]
        for r in errs:
            if not isinstance(r, Exception):
                raise r
        successes += batch - len(errs)
        if errs:
            first = errs[0]
            assert isinstance(first, Exception)
            return successes, first
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# ---------------------------------------------------------------------------
# Expectations
# ---------------------------------------------------------------------------


@dataclass
class _Expectation:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    deadline: float = 0.0


class Expectations:
    """ControllerExpectations: creations (a count) and deletions (Pod keys) not yet seen by the informer."""

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.clock = clock
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        e = self._by_key.get(key)
        if e is None:
            return True
        if (e.adds <= 0 and not e.deletes) or self.clock() > e.deadline:
            del self._by_key[key]
            return True
        return False

    def expect(self, key: str, *, adds: int = 0, deletes: Sequence[str] = ()) -> None:
        e = self._by_key.setdefault(key, _Expectation())
        e.adds += adds
        e.deletes.update(deletes)
        e.deadline = self.clock() + self.timeout

    def creation_observed(self, key: str) -> None:
        e = self._by_key.get(key)
        if e is not None and e.adds > 0:
            e.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.deletes.discard(pod_key)

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)


# ---------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------


def _owner_key(pod: Mapping[str, Any], owner_rt: ResourceType = REPLICASETS) -> str | None:
    """``ns/name`` of the ``owner_rt`` object (a ReplicaSet) a Pod's controller reference names, if it names one."""
    ref = controller_ref(pod)
    if ref is None or ref.get("kind") != owner_rt.kind or ref.get("apiVersion") != owner_rt.api_version:
        return None
    ns = str(as_map(pod.get("metadata")).get("namespace") or "")
    return f"{ns}/{ref.get('name')}"


class ReplicaSetController(Controller):
    """Reconciles ``ns/name`` ReplicaSet keys.

    The seam for ReplicationControllers (controllers.replicationcontroller, kube's
    ReplicationManager, which is this same manager): a subclass sets ``owner_rt``, ``component``
    and ``parse_selector``; everything else is shared.
    """

    name = "replicaset"
    #: The kind kept (its spec: replicas, minReadySeconds, selector, template; its status subresource).
    owner_rt: ResourceType = REPLICASETS
    #: The component its Events are reported by (kube-controller-manager's name).
    component = "replicaset-controller"

    @staticmethod
    def parse_selector(raw: Any) -> LabelSelector:
        """spec.selector as a selector: a metav1.LabelSelector here. Raises when it does not parse."""
        return from_label_selector_object(raw if isinstance(raw, dict) else None)

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 burst: int = BURST_REPLICAS, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, self.component)
        self.burst = burst
        self.clock = clock
        self.sets = self.informer(self.owner_rt, enqueue=True)
        self.pods = self.informer(PODS)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.expectations = Expectations()
        self._selectors: dict[str, tuple[Any, LabelSelector | None]] = {}
        self._refusals: dict[str, int] = {}  # key -> consecutive syncs whose creates or deletes were refused

    # ---- events -------------------------------------------------------------

    def _selector(self, rs: Mapping[str, Any]) -> LabelSelector | None:
        """The parsed spec.selector (cached per ReplicaSet and selector value); None if it does not parse."""
        key = object_key(dict(rs))
        raw = as_map(rs.get("spec")).get("selector")
        cached = self._selectors.get(key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        try:
            sel: LabelSelector | None = self.parse_selector(raw)
        except Exception:
            sel = None
        self._selectors[key] = (raw, sel)
        return sel

    def _matching_sets(self, pod: Mapping[str, Any]) -> list[str]:
        """Keys of the ReplicaSets in the Pod's namespace whose selector matches it (orphan handling)."""
        meta = as_map(pod.get("metadata"))
        labels = {str(k): str(v) for k, v in as_map(meta.get("labels")).items()}
        out = []
        for rs in self.sets.cache.list(str(meta.get("namespace") or "")):
            sel = self._selector(rs)
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(object_key(rs))
        return out

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        owner = _owner_key(pod, self.owner_rt)
        if owner is not None:
            self.expectations.creation_observed(owner)
            self.queue.add(owner)
        elif controller_ref(pod) is None:
            for key in self._matching_sets(pod):
                self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if is_deleting(new) and not is_deleting(old):
            owner = _owner_key(new, self.owner_rt)
            if owner is not None:
                self.expectations.deletion_observed(owner, object_key(new))
        old_owner, new_owner = _owner_key(old, self.owner_rt), _owner_key(new, self.owner_rt)
        if old_owner is not None and old_owner != new_owner:
            self.queue.add(old_owner)
        if new_owner is not None:
            self.queue.add(new_owner)
            if not is_deleting(new):
                wait = available_in(new, self._min_ready(new_owner), self.clock())
                if wait:
                    self.queue.add_after(new_owner, wait + 0.05)
        elif controller_ref(new) is None:
            keys = set(self._matching_sets(new))
            if as_map(old.get("metadata")).get("labels") != as_map(new.get("metadata")).get("labels"):
                keys.update(self._matching_sets(old))
            for key in keys:
                self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = _owner_key(pod, self.owner_rt)
        if owner is not None:
            self.expectations.deletion_observed(owner, object_key(pod))
            self.queue.add(owner)

    def _min_ready(self, key: str) -> int:
        ns, name = split_key(key)
        rs = self.sets.cache.get(ns or None, name)
        return int_or(as_map(as_map(rs or {}).get("spec")).get("minReadySeconds"))

    # ---- reconcile ------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        rs = self.sets.cache.get(ns or None, name)
        if rs is None:
            self.expectations.forget(key)
            self._selectors.pop(key, None)
            self._refusals.pop(key, None)
            return
        needs_sync = self.expectations.satisfied(key)
        selector = self._selector(rs)
        if selector is None:
            self.log.error("%s: ReplicaSet %s has an invalid selector; skipping", self.name, key)
            return
        candidates = [p for p in self.pods.cache.list(ns) if is_pod_active(p)]
        manager = RefManager(self.client, owner=rs, owner_rt=self.owner_rt, child_rt=PODS,
                             matches=lambda p: not selector.empty and selector.matches(
                                 {str(k): str(v) for k, v in as_map(as_map(p.get("metadata")).get("labels")).items()}))
        pods = await manager.claim(candidates)
        failure: tuple[str, str] | None = None
        error: Exception | None = None
        gone: set[str] = set()
        if needs_sync and not is_deleting(rs):
            failure, error, gone = await self._manage(key, rs, pods, candidates)
        remaining = [p for p in pods if object_key(p) not in gone]
        now = self.clock()
        status = replica_set_status(rs, remaining, now=now, failure=failure, now_text=format_time())
        await self._write_status(rs, status)
        if error is not None:
            if errors.is_retryable(error):
                raise error
            # kube's manager requeues every failed sync, rate limited: a refused create (403 while
            # the namespace's ServiceAccount is not made yet, say) may succeed later with no change
            # to the object, so it is not dropped as the runtime drops other refusals
            n = self._refusals.get(key, 0)
            self._refusals[key] = n + 1
            raise RequeueAfter(min(REFUSED_BASE_DELAY * 2 ** n, REFUSED_MAX_DELAY), str(error))
        self._refusals.pop(key, None)
        wait = next_availability_check(rs, remaining, now)
        if wait is not None:
            raise RequeueAfter(wait + 0.05)

    async def _manage(self, key: str, rs: Obj, pods: list[Obj],
                      related: list[Obj]) -> tuple[tuple[str, str] | None, Exception | None, set[str]]:
        """manageReplicas: create or delete the difference. Returns (failure condition, error, deleted keys)."""
        want = max(0, int_or(as_map(rs.get("spec")).get("replicas"), 1))
        diff = len(pods) - want
        if diff < 0:
            n = min(-diff, self.burst)
            self.expectations.expect(key, adds=n)
            self.log.info("%s: too few replicas for %s: need %d, creating %d", self.name, key, want, n)
            successes, err = await slow_start_batch(n, SLOW_START_INITIAL_BATCH, lambda: self._create_pod(rs))
            for _ in range(n - successes):
                self.expectations.creation_observed(key)
            if err is not None:
                return ("FailedCreate", str(err)), err, set()
            return None, None, set()
        if diff > 0:
            n = min(diff, self.burst)
            victims = deletion_order(pods, [p for p in related if _owner_key(p, self.owner_rt) == key])[:n]
            keys = [object_key(p) for p in victims]
            self.expectations.expect(key, deletes=keys)
            self.log.info("%s: too many replicas for %s: need %d, deleting %d", self.name, key, want, n)
            results = await asyncio.gather(*(self._delete_pod(rs, p) for p in victims), return_exceptions=True)
            gone: set[str] = set()
            first: Exception | None = None
            for pod_key, res in zip(keys, results, strict=True):
                if isinstance(res, BaseException):
                    if not isinstance(res, Exception):
                        raise res
                    self.expectations.deletion_observed(key, pod_key)
                    first = first or res
                else:
                    gone.add(pod_key)
            if first is not None:
                return ("FailedDelete", str(first)), first, gone
            return None, None, gone
        return None, None, set()

    async def _create_pod(self, rs: Obj) -> None:
        ns = str(as_map(rs.get("metadata")).get("namespace") or "")
        try:
            pod = await self.client.create(PODS, pod_from_template(rs, self.owner_rt), namespace=ns)
        except errors.ApiError as e:
            if e.code == 403 and "being terminated" in e.message:
                return  # the namespace is going away: nothing to create
            await self.recorder.event(rs, WARNING, "FailedCreate", f"Error creating: {e.message}")
            raise
        self.count("create_pod")
        await self.recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: {as_map(pod.get('metadata')).get('name')}")

    async def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        meta = as_map(pod.get("metadata"))
        try:
            await self.client.delete(PODS, str(meta.get("name")), namespace=str(meta.get("namespace")),
                                     preconditions={"uid": uid_of(pod)})
        except (errors.NotFound, errors.Conflict):
            return  # already gone (a Conflict here is the uid precondition: a new Pod took the name)
        except errors.ApiError as e:
            await self.recorder.event(rs, WARNING, "FailedDelete", f"Error deleting: {e.message}")
            raise
        self.count("delete_pod")
        await self.recorder.event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta.get('name')}")

    async def _write_status(self, rs: Obj, status: dict[str, Any]) -> None:
        """updateReplicaSetStatus, written only on a difference.

        On a conflict the ReplicaSet changed meanwhile: its update event has
        queued it again, and that sync computes the status against the new spec.
        """
        if status == as_map(rs.get("status")):
            return
        try:
            await self.client.update_status(self.owner_rt, {**rs, "status": status})
        except errors.NotFound:
            return
        except errors.Conflict as e:
            raise RequeueAfter(0.0, "status conflict") from e


def build_replicaset_parser(name: str = "replicaset",
                            description: str = "Keep the Pods of every ReplicaSet at spec.replicas.",
                            ) -> argparse.ArgumentParser:
    """The replicaset process's flags (also the replicationcontroller process's, under its own name)."""
    p = build_parser(name, description)
    p.add_argument("--burst-replicas", type=int, default=BURST_REPLICAS,
                   help="most Pods created or deleted per sync (default 500)")
    p.add_argument("--expectations-timeout", type=duration, default=EXPECTATIONS_TIMEOUT, metavar="DURATION",
                   help=argparse.SUPPRESS)
    return p


async def main(argv: list[str]) -> int:
    """``kubelite controller replicaset [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        ctl = ReplicaSetController(client, workers=args.workers, metrics=metrics, burst=args.burst_replicas)
        ctl.expectations.timeout = args.expectations_timeout
        return ctl

    return await run_controller_process("replicaset", argv, factory, parser=build_replicaset_parser())


__all__ = [
    "Expectations",
    "ReplicaSetController",
    "available_in",
    "deletion_order",
    "is_pod_active",
    "is_pod_ready",
    "main",
    "pod_from_template",
    "replica_set_status",
    "slow_start_batch",
]

