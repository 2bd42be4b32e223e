"""The statefulset controller: ordinal Pods with stable identities, rolled through ControllerRevisions.

Rules (pkg/controller/statefulset):
- A StatefulSet ``web`` with replicas N owns Pods ``web-0`` .. ``web-(N-1)``
  (from ``spec.ordinals.start``). Each Pod's hostname is its name and its
  subdomain ``spec.serviceName``, so a headless Service of that name gives
  it the DNS record ``web-0.nginx.<ns>.svc.cluster.local``; labels
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index``
  and ``controller-revision-hash`` (the revision it was made from).
- OrderedReady (the default): one Pod at a time in ordinal order, each
  Running and Ready (and available for minReadySeconds) before the next is
  created; scaling down deletes the highest ordinal first, one at a time,
  only while every other Pod is healthy. Parallel: all at once.
- History: every template the set has had is an apps/v1 ControllerRevision
  (controllers.history); ``status.updateRevision`` is the current
  template's, ``status.currentRevision`` the one the Pods had before the
  update. RollingUpdate replaces Pods whose revision is not the update
  revision, highest ordinal first, one at a time, waiting for each to be
  healthy, never below ``partition`` (those keep the current revision).
  OnDelete replaces nothing: a Pod the user deletes comes back at the
  update revision.
- volumeClaimTemplates: before each Pod, the claims kube would make
  (``<template>-<set>-<ordinal>``, kept: the Retain policy whatever the
  spec says) are created and mounted in the Pod by name; kubelite binds and
  provisions no volumes, so they stay Pending and the Pod runs without that
  storage; a Warning Event ``ClaimsNotProvisioned`` on the StatefulSet says
  so for every Pod created (docs/architecture.md).
- Writes are idempotent: Pod names are fixed, so a create of a Pod the
  cache has not seen yet answers AlreadyExists and is taken as done;
  deletes carry the Pod's uid. The plan is a pure function (``plan``) of
  the set, its revisions and its Pods; the controller only executes it.
"""

from __future__ import annotations

import argparse
import copy
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apimachinery import labels as wellknown
from apimachinery.objects import as_list, as_map, as_str, int_or, labels_of, meta_of
from apimachinery.pods import ready_condition
from apimachinery.resources import BY_KEY
from apimachinery.selectors import LabelSelector, from_label_selector_object
from apimachinery.timestamps import parse_time
from controllers import history
from controllers.ownership import RefManager, controller_ref, is_deleting, uid_of
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
STATEFULSETS = BY_KEY["statefulsets.apps"]
REVISIONS = BY_KEY["controllerrevisions.apps"]
CLAIMS = BY_KEY["persistentvolumeclaims"]

PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
CLAIMS_NOT_PROVISIONED = "ClaimsNotProvisioned"
_ORDINAL_RE = re.compile(r"^(.*)-([0-9]+)$")


# ---------------------------------------------------------------------------
# Identity (pure)
# ---------------------------------------------------------------------------


def parent_and_ordinal(pod: Mapping[str, Any]) -> tuple[str, int]:
    """getParentNameAndOrdinal: ``web-3`` -> (``web``, 3); ("", -1) for a name without an ordinal."""
    m = _ORDINAL_RE.match(str(meta_of(pod).get("name") or ""))
    if m is None:
        return "", -1
    return m.group(1), int(m.group(2))


def start_ordinal(sts: Mapping[str, Any]) -> int:
    return int_or(as_map(as_map(sts.get("spec")).get("ordinals")).get("start"))


def replicas_of(sts: Mapping[str, Any]) -> int:
    return max(0, int_or(as_map(sts.get("spec")).get("replicas"), 1))


def partition_of(sts: Mapping[str, Any]) -> int:
    strategy = as_map(as_map(sts.get("spec")).get("updateStrategy"))
    return max(0, int_or(as_map(strategy.get("rollingUpdate")).get("partition")))


def strategy_of(sts: Mapping[str, Any]) -> str:
    return as_str(as_map(as_map(sts.get("spec")).get("updateStrategy")).get("type")) or ROLLING_UPDATE


def is_member(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """isMemberOf: the Pod's name is ``<set>-<ordinal>``."""
    parent, ordinal = parent_and_ordinal(pod)
    return ordinal >= 0 and parent == meta_of(sts).get("name")


def claim_name(template: Mapping[str, Any], sts: Mapping[str, Any], ordinal: int) -> str:
    """getPersistentVolumeClaimName: ``<template>-<set>-<ordinal>``."""
    return f"{meta_of(template).get('name')}-{meta_of(sts).get('name')}-{ordinal}"


def revision_of_pod(pod: Mapping[str, Any]) -> str:
    return labels_of(pod).get(wellknown.LABEL_CONTROLLER_REVISION_HASH, "")


def new_pod(sts: Mapping[str, Any], template: Mapping[str, Any], revision: str, ordinal: int) -> Obj:
    """newStatefulSetPod + updateIdentity + updateStorage + setPodRevision."""
    meta = meta_of(sts)
    spec = as_map(sts.get("spec"))
    name = f"{meta.get('name')}-{ordinal}"
    tmeta = as_map(template.get("metadata"))
    pod_labels = {str(k): str(v) for k, v in as_map(tmeta.get("labels")).items()}
    pod_labels[wellknown.LABEL_STATEFULSET_POD_NAME] = name
    pod_labels[wellknown.LABEL_POD_INDEX] = str(ordinal)
    pod_labels[wellknown.LABEL_CONTROLLER_REVISION_HASH] = revision
    pod_meta: dict[str, Any] = {"name": name, "namespace": meta.get("namespace"), "labels": pod_labels}
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = copy.deepcopy(tmeta[key])
    pod_meta["ownerReferences"] = [{"apiVersion": STATEFULSETS.api_version, "kind": STATEFULSETS.kind,
                                    "name": meta.get("name"), "uid": meta.get("uid"), "controller": True,
                                    "blockOwnerDeletion": True}]
    pod_spec = copy.deepcopy(as_map(template.get("spec")))
    pod_spec["hostname"] = name
    service = as_str(spec.get("serviceName"))
    if service:
        pod_spec["subdomain"] = service
    else:
        pod_spec.pop("subdomain", None)
    claims = [c for c in as_list(spec.get("volumeClaimTemplates")) if isinstance(c, dict)]
    if claims:
        claimed = {str(meta_of(c).get("name")) for c in claims}
        volumes = [v for v in as_list(pod_spec.get("volumes")) if as_map(v).get("name") not in claimed]
        for c in claims:
            volumes.append({"name": meta_of(c).get("name"),
                            "persistentVolumeClaim": {"claimName": claim_name(c, sts, ordinal)}})
        pod_spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}


def persistent_volume_claims(sts: Mapping[str, Any], ordinal: int) -> list[Obj]:
    """getPersistentVolumeClaims: one claim per template, named for the Pod, labelled with the set's selector."""
    meta = meta_of(sts)
    spec = as_map(sts.get("spec"))
    selector_labels = {str(k): str(v) for k, v in as_map(as_map(spec.get("selector")).get("matchLabels")).items()}
    out = []
    for template in as_list(spec.get("volumeClaimTemplates")):
        if not isinstance(template, dict):
            continue
        tmeta = meta_of(template)
        claim_meta: dict[str, Any] = {"name": claim_name(template, sts, ordinal), "namespace": meta.get("namespace"),
                                      "labels": {**as_map(tmeta.get("labels")), **selector_labels}}
        if tmeta.get("annotations"):
            claim_meta["annotations"] = copy.deepcopy(tmeta["annotations"])
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                    "spec": copy.deepcopy(as_map(template.get("spec")))})
    return out


def identity_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """identityMatches: name, namespace and the pod-name label are the set's for the Pod's ordinal."""
    meta, pod_meta = meta_of(sts), meta_of(pod)
    return (is_member(sts, pod) and pod_meta.get("namespace") == meta.get("namespace")
            and labels_of(pod).get(wellknown.LABEL_STATEFULSET_POD_NAME) == pod_meta.get("name"))


def with_identity(pod: Mapping[str, Any]) -> Obj:
    """updateIdentity on a copy, for an adopted Pod: the identity labels (a Pod's hostname cannot change)."""
    out = copy.deepcopy(dict(pod))
    meta = out.setdefault("metadata", {})
    _, ordinal = parent_and_ordinal(pod)
    meta["labels"] = {**as_map(meta.get("labels")), wellknown.LABEL_STATEFULSET_POD_NAME: str(meta.get("name")),
                      wellknown.LABEL_POD_INDEX: str(ordinal)}
    return out


# ---------------------------------------------------------------------------
# Health (pure)
# ---------------------------------------------------------------------------


def _phase(pod: Mapping[str, Any]) -> str:
    return as_str(as_map(pod.get("status")).get("phase"))


def running_and_ready(pod: Mapping[str, Any]) -> bool:
    """isRunningAndReady: phase Running and the Ready condition True."""
    cond = ready_condition(pod)
    return _phase(pod) == "Running" and cond is not None and cond.get("status") == "True"


def available_in(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a running and ready Pod counts as available (0 when it does); None if it is not ready."""
    if not running_and_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    if since is None:
        return 0.0
    return max(0.0, since.timestamp() + min_ready_seconds - now)


def healthy(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """isHealthy (isRunningAndAvailable and not terminating)."""
    return not is_deleting(pod) and available_in(pod, min_ready_seconds, now) == 0.0


# ---------------------------------------------------------------------------
# The plan (pure)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One write: ``create`` (pod is the new Pod), ``delete`` or ``update`` (pod is the new body)."""

    action: str
    pod: Obj


def plan(sts: Mapping[str, Any], pods: Sequence[Obj], *, current: Mapping[str, Any], update: Mapping[str, Any],
         now: float) -> list[Step]:
    """updateStatefulSet: the next writes for the set, given its claimed Pods and its two revisions.

    ``current`` and ``update`` are the ControllerRevisions of status.currentRevision and of the
    set's template. With OrderedReady the answer has at most one write.
    """
    spec = as_map(sts.get("spec"))
    monotonic = as_str(spec.get("podManagementPolicy")) != PARALLEL
    min_ready = int_or(spec.get("minReadySeconds"))
    start, count = start_ordinal(sts), replicas_of(sts)
    rolling = strategy_of(sts) == ROLLING_UPDATE
    partition = partition_of(sts)
    current_name, update_name = str(meta_of(current).get("name")), str(meta_of(update).get("name"))
    by_ordinal: dict[int, Obj] = {}
    condemned: list[tuple[int, Obj]] = []
    for p in pods:
        _, ordinal = parent_and_ordinal(p)
        if start <= ordinal < start + count:
            by_ordinal[ordinal] = p
        else:
            condemned.append((ordinal, p))
    condemned.sort(key=lambda t: -t[0])
    steps: list[Step] = []

    def versioned(ordinal: int) -> Obj:
        """newVersionedStatefulSetPod: below the partition a Pod keeps the current revision."""
        if rolling and ordinal < start + partition:
            return new_pod(sts, history.template_of(current), current_name, ordinal)
        return new_pod(sts, history.template_of(update), update_name, ordinal)

    for ordinal in range(start, start + count):
        pod = by_ordinal.get(ordinal)
        if pod is None:
            steps.append(Step("create", versioned(ordinal)))
            if monotonic:
                return steps
            continue
        if is_deleting(pod):
            if monotonic:
                return steps
            continue
        if _phase(pod) in ("Failed", "Succeeded"):
            steps.append(Step("delete", pod))  # recreated once it is gone
            if monotonic:
                return steps
            continue
        if not healthy(pod, min_ready, now) and monotonic:
            return steps
        if not identity_matches(sts, pod):
            steps.append(Step("update", with_identity(pod)))
            if monotonic:
                return steps
    for _, pod in condemned:
        if is_deleting(pod):
            if monotonic:
                return steps
            continue
        steps.append(Step("delete", pod))
        if monotonic:
            return steps
    if steps or not rolling:
        return steps
    for ordinal in range(start + count - 1, start + partition - 1, -1):
        pod = by_ordinal[ordinal]
        if revision_of_pod(pod) != update_name and not is_deleting(pod):
            return [Step("delete", pod)]
        if not healthy(pod, min_ready, now):
            return []
    return []


def stateful_set_status(sts: Mapping[str, Any], pods: Sequence[Obj], *, current: str, update: str,
                        collision_count: int, now: float) -> dict[str, Any]:
    """updateStatefulSetStatus: counts over the claimed Pods, the revisions, completeRollingUpdate."""
    min_ready = int_or(as_map(sts.get("spec")).get("minReadySeconds"))
    replicas = ready = available = current_n = updated = 0
    for p in pods:
        replicas += 1
        wait = available_in(p, min_ready, now)
        if wait is not None:
            ready += 1
            if wait <= 0:
                available += 1
        if not is_deleting(p):
            rev = revision_of_pod(p)
            if rev == current:
                current_n += 1
            if rev == update:
                updated += 1
    status: dict[str, Any] = {k: v for k, v in as_map(sts.get("status")).items()
                              if k not in ("currentReplicas", "updatedReplicas", "readyReplicas")}
    status.update(observedGeneration=int_or(meta_of(sts).get("generation"), 1), replicas=replicas,
                  currentRevision=current, updateRevision=update, collisionCount=collision_count,
                  availableReplicas=available)
    if ready:
        status["readyReplicas"] = ready
    if current_n:
        status["currentReplicas"] = current_n
    if updated:
        status["updatedReplicas"] = updated
    if strategy_of(sts) == ROLLING_UPDATE and updated == replicas and ready == replicas:
        status["currentRevision"] = update
        if updated:
            status["currentReplicas"] = updated
        else:
            status.pop("currentReplicas", None)
    return status


def next_availability_check(sts: Mapping[str, Any], pods: Sequence[Obj], now: float) -> float | None:
    min_ready = int_or(as_map(sts.get("spec")).get("minReadySeconds"))
    if min_ready <= 0:
        return None
    waits = [w for p in pods if (w := available_in(p, min_ready, now)) is not None and w > 0]
    return min(waits) if waits else None


# ---------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------


def _owner_key(obj: Mapping[str, Any]) -> str | None:
    """``ns/name`` of the StatefulSet an object's controller reference names, if it names one."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != STATEFULSETS.kind or ref.get("apiVersion") != STATEFULSETS.api_version:
        return None
    return f"{meta_of(obj).get('namespace') or ''}/{ref.get('name')}"


class StatefulSetController(Controller):
    """Reconciles ``ns/name`` StatefulSet keys."""

    name = "statefulset"

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "statefulset-controller")  # kube-controller-manager's component name
        self.clock = clock
        self.sets = self.informer(STATEFULSETS, enqueue=True)
        self.pods = self.informer(PODS)
        self.revisions = self.informer(REVISIONS)
        self.pods.add_handler(on_add=self._child_changed, on_update=self._child_updated,
                              on_delete=self._child_changed)
        self.revisions.add_handler(on_add=self._child_changed, on_update=self._child_updated,
                                   on_delete=self._child_changed)

    # ---- events -------------------------------------------------------------

    @staticmethod
    def _selector(sts: Mapping[str, Any]) -> LabelSelector | None:
        try:
            raw = as_map(sts.get("spec")).get("selector")
            return from_label_selector_object(raw if isinstance(raw, dict) else None)
        except Exception:
            return None

    def _matching(self, obj: Mapping[str, Any]) -> list[str]:
        """Keys of the sets in the object's namespace whose selector matches it (orphans)."""
        obj_labels = labels_of(obj)
        out = []
        for sts in self.sets.cache.list(str(meta_of(obj).get("namespace") or "")):
            sel = self._selector(sts)
            if sel is not None and not sel.empty and sel.matches(obj_labels):
                out.append(object_key(sts))
        return out

    def _child_changed(self, obj: Obj) -> None:
        owner = _owner_key(obj)
        if owner is not None:
            self.queue.add(owner)
        elif controller_ref(obj) is None:
            for key in self._matching(obj):
                self.queue.add(key)

    def _child_updated(self, old: Obj, new: Obj) -> None:
        old_owner = _owner_key(old)
        if old_owner is not None and old_owner != _owner_key(new):
            self.queue.add(old_owner)
        self._child_changed(new)
        if _owner_key(new) is not None and not is_deleting(new):
            wait = available_in(new, self._min_ready(str(_owner_key(new))), self.clock())
            if wait:
                self.queue.add_after(str(_owner_key(new)), wait + 0.05)

    def _min_ready(self, key: str) -> int:
        ns, name = split_key(key)
        return int_or(as_map(as_map(self.sets.cache.get(ns or None, name) or {}).get("spec")).get("minReadySeconds"))

    # ---- reconcile ------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        sts = self.sets.cache.get(ns or None, name)
        if sts is None:
            return
        selector = self._selector(sts)
        if selector is None:
            self.log.error("%s: StatefulSet %s has an invalid selector; skipping", self.name, key)
            return

        def selected(o: Obj) -> bool:
            return not selector.empty and selector.matches(labels_of(o))

        pod_manager = RefManager(self.client, owner=sts, owner_rt=STATEFULSETS, child_rt=PODS,
                                 matches=lambda p: selected(p) and is_member(sts, p))
        pods = await pod_manager.claim(self.pods.cache.list(ns))
        rev_manager = RefManager(self.client, owner=sts, owner_rt=STATEFULSETS, child_rt=REVISIONS, matches=selected)
        revisions = history.sort_revisions(await rev_manager.claim(self.revisions.cache.list(ns)))
        try:
            current, update, collisions = await history.sync_revisions(self.client, sts, STATEFULSETS, revisions)
        except history.TooManyCollisions as e:
            raise RequeueAfter(1.0, str(e)) from e
        now = self.clock()
        error: Exception | None = None
        if not is_deleting(sts):
            for step in plan(sts, pods, current=current, update=update, now=now):
                try:
                    await self._execute(sts, step)
                except errors.ApiError as e:
                    error = error or e
        status = stateful_set_status(sts, pods, current=str(meta_of(current).get("name")),
                                     update=str(meta_of(update).get("name")), collision_count=collisions, now=now)
        await self._write_status(sts, status)
        await self._truncate_history(sts, revisions, pods, status)
        if error is not None:
            raise error
        wait = next_availability_check(sts, pods, now)
        if wait is not None:
            raise RequeueAfter(wait + 0.05)

    async def _execute(self, sts: Obj, step: Step) -> None:
        meta = meta_of(sts)
        pod_meta = meta_of(step.pod)
        pod_name, ns = str(pod_meta.get("name")), str(meta.get("namespace"))
        if step.action == "create":
            await self._create_claims(sts, step.pod)
            try:
                await self.client.create(PODS, step.pod, namespace=ns)
            except errors.AlreadyExists:
                return  # made by an earlier sync the cache has not shown yet
            except errors.ApiError as e:
                if e.code == 403 and "being terminated" in e.message:
                    return
                await self.recorder.event(sts, WARNING, "FailedCreate",
                                          f"create Pod {pod_name} in StatefulSet {meta.get('name')} failed error: "
                                          f"{e.message}")
                raise
            self.count("create_pod")
            await self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                      f"create Pod {pod_name} in StatefulSet {meta.get('name')} successful")
            claims = [claim_name(c, sts, parent_and_ordinal(step.pod)[1])
                      for c in as_list(as_map(sts.get("spec")).get("volumeClaimTemplates")) if isinstance(c, dict)]
            if claims:
                await self.recorder.event(sts, WARNING, CLAIMS_NOT_PROVISIONED,
                                          f"Pod {pod_name} runs without its claims' storage ({', '.join(claims)}): "
                                          "kubelite binds and provisions no volumes")
        elif step.action == "delete":
            try:
                await self.client.delete(PODS, pod_name, namespace=ns, preconditions={"uid": uid_of(step.pod)})
            except (errors.NotFound, errors.Conflict):
                return
            except errors.ApiError as e:
                await self.recorder.event(sts, WARNING, "FailedDelete",
                                          f"delete Pod {pod_name} in StatefulSet {meta.get('name')} failed error: "
                                          f"{e.message}")
                raise
            self.count("delete_pod")
            await self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                                      f"delete Pod {pod_name} in StatefulSet {meta.get('name')} successful")
        else:
            try:
                await self.client.update(PODS, step.pod)
            except (errors.NotFound, errors.Conflict, errors.Invalid):
                return  # gone, changed meanwhile (the next sync sees it), or not ours to fix
            self.count("update_pod")

    async def _create_claims(self, sts: Obj, pod: Obj) -> None:
        """createPersistentVolumeClaims: each claim template's claim for this Pod, unless it exists."""
        meta = meta_of(sts)
        _, ordinal = parent_and_ordinal(pod)
        for claim in persistent_volume_claims(sts, ordinal):
            name = str(claim["metadata"]["name"])
            try:
                await self.client.create(CLAIMS, claim, namespace=str(meta.get("namespace")))
            except errors.AlreadyExists:
                continue
            except errors.ApiError as e:
                await self.recorder.event(sts, WARNING, "FailedCreate",
                                          f"create Claim {name} for Pod {meta_of(pod).get('name')} in StatefulSet "
                                          f"{meta.get('name')} failed error: {e.message}")
                raise
            await self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                      f"create Claim {name} Pod {meta_of(pod).get('name')} in StatefulSet "
                                      f"{meta.get('name')} success")

    async def _write_status(self, sts: Obj, status: dict[str, Any]) -> None:
        if status == as_map(sts.get("status")):
            return
        try:
            await self.client.update_status(STATEFULSETS, {**sts, "status": status})
        except errors.NotFound:
            return
        except errors.Conflict as e:
            raise RequeueAfter(0.0, "status conflict") from e

    async def _truncate_history(self, sts: Obj, revisions: list[Obj], pods: list[Obj], status: Mapping[str, Any]) -> None:
        """truncateHistory: keep revisionHistoryLimit revisions besides those in use."""
        live = {as_str(status.get("currentRevision")), as_str(status.get("updateRevision"))}
        live.update(revision_of_pod(p) for p in pods)
        limit = int_or(as_map(sts.get("spec")).get("revisionHistoryLimit"), 10)
        for rev in history.history_to_delete(revisions, live=live, limit=limit):
            rmeta = meta_of(rev)
            try:
                await self.client.delete(REVISIONS, str(rmeta.get("name")), namespace=str(rmeta.get("namespace")),
                                         preconditions={"uid": uid_of(rev)})
            except (errors.NotFound, errors.Conflict):
                continue


def build_statefulset_parser() -> argparse.ArgumentParser:
    return build_parser("statefulset", "Keep every StatefulSet's ordinal Pods, in order, at their revision.")


async def main(argv: list[str]) -> int:
    """``kubelite controller statefulset [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return StatefulSetController(client, workers=args.workers, metrics=metrics)

    return await run_controller_process("statefulset", argv, factory, parser=build_statefulset_parser())


__all__ = [
    "StatefulSetController",
    "Step",
    "identity_matches",
    "main",
    "new_pod",
    "parent_and_ordinal",
    "plan",
    "stateful_set_status",
]
