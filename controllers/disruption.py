"""The disruption controller: keeps every PodDisruptionBudget's status (what the eviction subresource spends).

Rules (kube-controller-manager's disruption controller):
- The budget covers the Pods of its namespace its selector matches (policy/v1:
  a nil selector matches none, ``{}`` all).
- Expected Pods: with an integer minAvailable, the number of covered Pods;
  with a percentage minAvailable or with maxUnavailable, the sum of the scales
  of the Pods' controllers (each counted once). A ReplicaSet owned by a
  Deployment counts as the Deployment; a ReplicaSet on its own, as itself;
  any other owner kind through its ``scale`` subresource when kubelite serves
  that kind with one. An owner kind kubelite does not serve (a custom
  resource's) or serves without a scale
  fails the sync: the budget then allows no disruption (SyncFailed), as kube
  does for a controller it cannot find. Pods without a controller are left
  out of the count, with an UnmanagedPods Warning.
- desiredHealthy: minAvailable (scaled, rounded up), or expected - maxUnavailable
  (scaled, rounded up), at least 0. currentHealthy: covered Pods that are
  Ready, not terminating and not recorded by an eviction in
  status.disruptedPods within the last two minutes (older entries are
  dropped, and the Pod counts again). disruptionsAllowed: current - desired
  when positive and at least one Pod is expected, else 0.
- Condition DisruptionAllowed: True/SufficientPods or False/InsufficientPods
  (False/SyncFailed with the error when the count cannot be made).
- The status is written only when it differs; observedGeneration records the
  spec it was computed for (evictions answer 429 until it catches up).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from apimachinery.disruption import (
    DELETION_TIMEOUT,
    DISRUPTION_ALLOWED,
    SYNC_FAILED,
    conditions_up_to_date,
    pdb_selector,
    pod_labels,
    scaled_value,
    set_condition,
    update_disruption_allowed_condition,
)
from apimachinery.objects import as_map, int_or
from apimachinery.pods import is_pod_ready
from apimachinery.resources import BY_KEY, RESOURCES
from apimachinery.timestamps import format_time, parse_time
from controllers.ownership import controller_ref, is_deleting, uid_of
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
PDBS = BY_KEY["poddisruptionbudgets.policy"]
REPLICASETS = BY_KEY["replicasets.apps"]
DEPLOYMENTS = BY_KEY["deployments.apps"]
# How soon a budget whose count failed is tried again.
FAILED_SYNC_RETRY = 30.0


class CountError(Exception):
    """The expected Pod count cannot be made (a controller not found, a kind without a scale)."""


@dataclass(frozen=True)
class Scale:
    """A controller's identity and desired replicas (controllerAndScale)."""

    uid: str
    replicas: int


# A finder: (the Pod's controller reference, namespace) -> the controller's scale, None when this finder does not
# know it; raises CountError when the reference can never be resolved.
Finder = Callable[[Mapping[str, Any], str], Scale | None]


# ---------------------------------------------------------------------------
# pure rules
# ---------------------------------------------------------------------------


def covered_pods(pdb: Mapping[str, Any], pods: Sequence[Obj]) -> list[Obj]:
    """getPodsForPdb: the Pods of the budget's namespace its selector matches."""
    sel = pdb_selector(pdb)
    if sel is None:
        return []
    return [p for p in pods if sel.matches(pod_labels(p))]


def _group_of(api_version: Any) -> str:
    text = str(api_version or "")
    return text.rsplit("/", 1)[0] if "/" in text else ""


def expected_scale(pods: Sequence[Obj], finders: Sequence[Finder]) -> tuple[int, list[str]]:
    """getExpectedScale: the sum of the scales of the Pods' controllers, and the Pods that have none."""
    scales: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        ref = controller_ref(pod)
        meta = as_map(pod.get("metadata"))
        if ref is None:
            unmanaged.append(str(meta.get("name") or ""))
            continue
        if str(ref.get("uid") or "") in scales:
            continue
        ns = str(meta.get("namespace") or "")
        for finder in finders:
            found = finder(ref, ns)
            if found is not None:
                scales[found.uid] = found.replicas
                break
        else:
            raise CountError(f'found no controllers for pod "{meta.get("name")}"')
    return sum(scales.values()), unmanaged


def counts_by_scale(pdb: Mapping[str, Any]) -> bool:
    """Whether the expected count comes from the Pods' controllers (maxUnavailable, or a percentage
    minAvailable) rather than from the Pods themselves (an integer minAvailable)."""
    spec = as_map(pdb.get("spec"))
    return spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)


def expected_and_desired(pdb: Mapping[str, Any], pods: Sequence[Obj],
                         finders: Sequence[Finder]) -> tuple[int, int, list[str]]:
    """getExpectedPodCount: (expectedPods, desiredHealthy, unmanaged Pods)."""
    spec = as_map(pdb.get("spec"))
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    try:
        if max_unavailable is not None:
            expected, unmanaged = expected_scale(pods, finders)
            return expected, max(0, expected - scaled_value(max_unavailable, expected, round_up=True)), unmanaged
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available, []
        if isinstance(min_available, str):
            expected, unmanaged = expected_scale(pods, finders)
            return expected, scaled_value(min_available, expected, round_up=True), unmanaged
    except ValueError as e:
        raise CountError(str(e)) from None
    return 0, 0, []


def disrupted_pod_map(pdb: Mapping[str, Any], pods: Sequence[Obj], now: float) -> tuple[dict[str, str], float | None]:
    """buildDisruptedPodMap: status.disruptedPods still pending (Pod present, not terminating, within the
    timeout), and when the earliest of them expires."""
    recorded = as_map(as_map(pdb.get("status")).get("disruptedPods"))
    kept: dict[str, str] = {}
    recheck: float | None = None
    for pod in pods:
        name = str(as_map(pod.get("metadata")).get("name") or "")
        if is_deleting(pod) or name not in recorded:
            continue
        at = parse_time(recorded[name])
        if at is None:
            continue
        expires = at.timestamp() + DELETION_TIMEOUT
        if expires < now:
            continue
        recheck = expires if recheck is None else min(recheck, expires)
        kept[name] = str(recorded[name])
    return kept, recheck


def count_healthy(pods: Sequence[Obj], disrupted: Mapping[str, str], now: float) -> int:
    """countHealthyPods: Ready, not terminating, not about to be deleted by an eviction."""
    n = 0
    for pod in pods:
        if is_deleting(pod):
            continue
        at = parse_time(disrupted.get(str(as_map(pod.get("metadata")).get("name") or "")))
        if at is not None and at.timestamp() + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            n += 1
    return n


def budget_status(pdb: Mapping[str, Any], *, current: int, desired: int, expected: int,
                  disrupted: Mapping[str, str], now_text: str) -> dict[str, Any]:
    """updatePdbStatus' new status, in Go field order (observedGeneration and disruptedPods omitted when empty)."""
    allowed = current - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    status: dict[str, Any] = {}
    generation = int_or(as_map(pdb.get("metadata")).get("generation"))
    if generation:
        status["observedGeneration"] = generation
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    status.update(disruptionsAllowed=allowed, currentHealthy=current, desiredHealthy=desired, expectedPods=expected)
    old_conditions = as_map(pdb.get("status")).get("conditions")
    if old_conditions:
        status["conditions"] = [dict(c) for c in old_conditions if isinstance(c, dict)]
    update_disruption_allowed_condition(status, now_text)
    return status


def status_current(pdb: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """The stored status already says what ``wanted`` says (the counts, the pending evictions, the generation
    and an up-to-date condition): nothing to write."""
    old = as_map(pdb.get("status"))
    keys = ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed")
    return (all(int_or(old.get(k)) == int_or(wanted.get(k)) for k in keys)
            and as_map(old.get("disruptedPods")) == as_map(wanted.get("disruptedPods"))
            and int_or(old.get("observedGeneration")) == int_or(as_map(pdb.get("metadata")).get("generation"))
            and conditions_up_to_date(pdb))


def fail_safe_status(pdb: Mapping[str, Any], message: str, now_text: str) -> dict[str, Any]:
    """failSafe: no disruption allowed, condition False/SyncFailed with the error, the rest as it was."""
    status = dict(as_map(pdb.get("status")))
    status["disruptionsAllowed"] = 0
    set_condition(status, {"type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED,
                           "message": message, "observedGeneration": int_or(status.get("observedGeneration"))},
                  now_text)
    return status


# ---------------------------------------------------------------------------
# the controller
# ---------------------------------------------------------------------------


class DisruptionController(Controller):
    """Reconciles ``ns/name`` PodDisruptionBudget keys."""

    name = "disruption"

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "controllermanager")  # the component kube's disruption controller uses
        self.clock = clock
        self.budgets = self.informer(PDBS, enqueue=True)
        self.pods = self.informer(PODS)
        self.sets = self.informer(REPLICASETS)
        self.deployments = self.informer(DEPLOYMENTS)
        self.handle(self.pods, on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)
        for inf in (self.sets, self.deployments):
            self.handle(inf, on_add=self._owner_changed, on_update=lambda _old, new: self._owner_changed(new),
                        on_delete=self._owner_changed)

    # ---- events -------------------------------------------------------------

    def _budgets_for(self, pod: Mapping[str, Any]) -> list[str]:
        ns = str(as_map(pod.get("metadata")).get("namespace") or "")
        labels = pod_labels(pod)
        out = []
        for pdb in self.budgets.cache.list(ns):
            sel = pdb_selector(pdb)
            if sel is not None and sel.matches(labels):
                out.append(object_key(pdb))
        return out

    def _pod_changed(self, pod: Obj) -> None:
        for key in self._budgets_for(pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        keys = set(self._budgets_for(new))
        if pod_labels(old) != pod_labels(new):
            keys.update(self._budgets_for(old))
        for key in keys:
            self.queue.add(key)

    def _owner_changed(self, owner: Obj) -> None:
        """A scale changed: the budgets of that namespace may count differently (percentages, maxUnavailable)."""
        ns = str(as_map(owner.get("metadata")).get("namespace") or "")
        for pdb in self.budgets.cache.list(ns):
            self.queue.add(object_key(pdb))

    # ---- finders (the order of kube's finders) ---------------------------------

    def _replica_set(self, ref: Mapping[str, Any], ns: str) -> Obj | None:
        if ref.get("kind") != REPLICASETS.kind or _group_of(ref.get("apiVersion")) not in ("apps", "extensions"):
            return None
        rs = self.sets.cache.get(ns or None, str(ref.get("name") or ""))
        if rs is None or uid_of(rs) != ref.get("uid"):
            return None
        return rs

    def _find_deployment(self, ref: Mapping[str, Any], ns: str) -> Scale | None:
        """getPodDeployment: the Pod's ReplicaSet is controlled by a Deployment; the Deployment's replicas."""
        rs = self._replica_set(ref, ns)
        owner = controller_ref(rs) if rs is not None else None
        if owner is None or owner.get("kind") != DEPLOYMENTS.kind or \
                _group_of(owner.get("apiVersion")) not in ("apps", "extensions"):
            return None
        d = self.deployments.cache.get(ns or None, str(owner.get("name") or ""))
        if d is None or uid_of(d) != owner.get("uid"):
            return None
        return Scale(uid_of(d), int_or(as_map(d.get("spec")).get("replicas"), 1))

    def _find_replica_set(self, ref: Mapping[str, Any], ns: str) -> Scale | None:
        """getPodReplicaSet: a ReplicaSet no Deployment controls; its replicas."""
        rs = self._replica_set(ref, ns)
        if rs is None:
            return None
        owner = controller_ref(rs)
        if owner is not None and owner.get("kind") == DEPLOYMENTS.kind:
            return None
        return Scale(uid_of(rs), int_or(as_map(rs.get("spec")).get("replicas"), 1))

    async def _fetch_scales(self, pods: Sequence[Obj]) -> dict[tuple[str, str, str], Scale | None]:
        """getScaleController's reads, made before the pure count: the scale subresource of every owner kind the
        informers do not hold, by (namespace, apiVersion, kind/name)."""
        fetched: dict[tuple[str, str, str], Scale | None] = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None or (ref.get("kind") in (REPLICASETS.kind, DEPLOYMENTS.kind)
                               and _group_of(ref.get("apiVersion")) in ("apps", "extensions")):
                continue
            ns = str(as_map(pod.get("metadata")).get("namespace") or "")
            key = _scale_key(ref, ns)
            if key not in fetched:
                fetched[key] = await self._scale_of(ref, ns)
        return fetched

    async def _scale_of(self, ref: Mapping[str, Any], ns: str) -> Scale | None:
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        rt = next((r for r in RESOURCES if r.api_version == api_version and r.kind == kind), None)
        if rt is None:  # the RESTMapper's NoKindMatchError
            raise CountError(f'no matches for kind "{kind}" in version "{api_version}"')
        if "scale" not in rt.subresources:
            raise CountError(f"{rt.key} does not implement the scale subresource")
        path = self.client.path(rt, namespace=ns, name=str(ref.get("name") or ""), subresource="scale")
        try:
            scale = orjson.loads((await self.client.request("GET", path)).content)
        except errors.NotFound:
            return None
        return Scale(uid_of(scale), int_or(as_map(scale.get("spec")).get("replicas")))

    def finders(self, fetched: Mapping[tuple[str, str, str], Scale | None]) -> list[Finder]:
        """kube's finders in their order: Deployment, ReplicaSet, then any kind through its scale."""

        def by_scale(ref: Mapping[str, Any], ns: str) -> Scale | None:
            found = fetched.get(_scale_key(ref, ns))
            return found if found is not None and found.uid == ref.get("uid") else None

        return [self._find_deployment, self._find_replica_set, by_scale]

    # ---- reconcile ------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        pdb = self.budgets.cache.get(ns or None, name)
        if pdb is None:
            return
        pods = covered_pods(pdb, self.pods.cache.list(ns))
        now = self.clock()
        now_text = format_time(datetime.fromtimestamp(now, UTC))
        try:
            fetched = await self._fetch_scales(pods) if counts_by_scale(pdb) else {}
            expected, desired, unmanaged = expected_and_desired(pdb, pods, self.finders(fetched))
        except CountError as e:
            await self.recorder.event(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                      f"Failed to calculate the number of expected pods: {e}")
            failed = fail_safe_status(pdb, str(e), now_text)
            if failed != as_map(pdb.get("status")):
                await self._write(pdb, failed)
            raise RequeueAfter(FAILED_SYNC_RETRY, f"cannot count the expected pods: {e}") from None
        disrupted, recheck = disrupted_pod_map(pdb, pods, now)
        current = count_healthy(pods, disrupted, now)
        wanted = budget_status(pdb, current=current, desired=desired, expected=expected, disrupted=disrupted,
                               now_text=now_text)
        if not status_current(pdb, wanted):
            if not pods:
                await self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
            if unmanaged:
                await self.recorder.event(
                    pdb, WARNING, "UnmanagedPods",
                    f"Pods selected by this PodDisruptionBudget (selector: {_go_selector(pdb)}) were found to be "
                    "unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result "
                    'in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the '
                    "PDB to an integer value.")
            await self._write(pdb, wanted)
        if recheck is not None:
            raise RequeueAfter(max(0.0, recheck - now) + 0.05)

    async def _write(self, pdb: Obj, status: dict[str, Any]) -> None:
        """UpdateStatus; on a conflict (an eviction spent the budget meanwhile) the update event requeues it."""
        try:
            await self.client.update_status(PDBS, {**pdb, "status": status})
        except errors.NotFound:
            return
        except errors.Conflict as e:
            raise RequeueAfter(0.0, "status conflict") from e
        self.count("update_status")


def _scale_key(ref: Mapping[str, Any], ns: str) -> tuple[str, str, str]:
    return ns, str(ref.get("apiVersion") or ""), f"{ref.get('kind')}/{ref.get('name')}"


def _go_selector(pdb: Mapping[str, Any]) -> str:
    """The selector as the Event prints it (%v of *metav1.LabelSelector): ``&LabelSelector{...}``."""
    sel = as_map(as_map(pdb.get("spec")).get("selector"))
    labels = as_map(sel.get("matchLabels"))
    inner = ",".join(f"{k}: {labels[k]}," for k in sorted(labels))
    return f"&LabelSelector{{MatchLabels:map[string]string{{{inner}}},MatchExpressions:[]LabelSelectorRequirement{{}},}}"


def build_disruption_parser() -> argparse.ArgumentParser:
    return build_parser("disruption", "Keep the status of every PodDisruptionBudget (what evictions spend).")


async def main(argv: list[str]) -> int:
    """``kubelite controller disruption [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return DisruptionController(client, workers=args.workers, metrics=metrics)

    return await run_controller_process("disruption", argv, factory, parser=build_disruption_parser())


__all__ = [
    "CountError",
    "DisruptionController",
    "Scale",
    "budget_status",
    "count_healthy",
    "counts_by_scale",
    "covered_pods",
    "disrupted_pod_map",
    "expected_and_desired",
    "expected_scale",
    "fail_safe_status",
    "main",
    "status_current",
]
