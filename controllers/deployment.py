"""The deployment controller: rolls a Deployment's template out through ReplicaSets.

Rules (pkg/controller/deployment; the arithmetic is in ``rollout``):
- Each template is one ReplicaSet named ``<deployment>-<pod-template-hash>``
  whose selector, template labels and Pods carry the ``pod-template-hash``
  label; a hash collision bumps ``status.collisionCount``.
- The ReplicaSet with the current template is the new one; it gets the
  next revision (``deployment.kubernetes.io/revision``, copied to the
  Deployment), so a rollback revives an old set with a new revision and
  its old revisions in ``revision-history``.
- RollingUpdate grows the new set and shrinks old ones one step at a time
  within replicas+maxSurge Pods and replicas-maxUnavailable available Pods;
  Recreate scales old sets to zero, waits for their Pods to be gone, then
  scales the new one up.
- A replicas change mid-rollout is spread over the active sets in
  proportion (``desired-replicas``/``max-replicas`` annotations tell it).
- Paused Deployments only scale; the Progressing condition says
  DeploymentPaused / DeploymentResumed, NewReplicaSetCreated,
  ReplicaSetUpdated, NewReplicaSetAvailable or ProgressDeadlineExceeded,
  and Available whether replicas-maxUnavailable Pods are available.
- Old sets beyond revisionHistoryLimit with no Pods are deleted.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from apimachinery.objects import as_map, int_or, labels_of, meta_of, name_of
from apimachinery.pods import is_pod_terminal
from apimachinery.resources import BY_KEY
from apimachinery.selectors import LabelSelector, from_label_selector_object
from apimachinery.timestamps import format_time
from controllers import rollout
from controllers.ownership import RefManager, controller_ref, is_deleting, owner_reference, uid_of
from controllers.rollout import RS, rs_view
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
DEPLOYMENTS = BY_KEY["deployments.apps"]
REPLICASETS = BY_KEY["replicasets.apps"]
PODS = BY_KEY["pods"]


def _owner_key(obj: Mapping[str, Any]) -> str | None:
    """``ns/name`` of the Deployment a ReplicaSet's controller reference names."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != DEPLOYMENTS.kind or ref.get("apiVersion") != DEPLOYMENTS.api_version:
        return None
    return f"{meta_of(obj).get('namespace') or ''}/{ref.get('name')}"


def new_replica_set(deployment: Mapping[str, Any], *, hash_: str, replicas: int, revision: int) -> Obj:
    """The ReplicaSet for the Deployment's current template (getNewReplicaSet's newRS)."""
    meta, spec = meta_of(deployment), as_map(deployment.get("spec"))
    template = copy.deepcopy(as_map(spec.get("template")))
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**as_map(tmeta.get("labels")), rollout.POD_TEMPLATE_HASH: hash_}
    selector = copy.deepcopy(as_map(spec.get("selector")))
    selector["matchLabels"] = {**as_map(selector.get("matchLabels")), rollout.POD_TEMPLATE_HASH: hash_}
    annotations = rollout.new_rs_annotations(deployment=deployment, rs_annotations={}, new_revision=revision,
                                             exists=False)
    rs_spec: dict[str, Any] = {"replicas": replicas, "selector": selector, "template": template}
    if int_or(spec.get("minReadySeconds")):
        rs_spec["minReadySeconds"] = int_or(spec.get("minReadySeconds"))
    return {
        "apiVersion": REPLICASETS.api_version,
        "kind": REPLICASETS.kind,
        "metadata": {
            "name": f"{meta.get('name')}-{hash_}",
            "namespace": meta.get("namespace"),
            "labels": dict(tmeta["labels"]),
            "annotations": annotations,
            "ownerReferences": [owner_reference(deployment, api_version=DEPLOYMENTS.api_version,
                                                kind=DEPLOYMENTS.kind)],
        },
        "spec": rs_spec,
    }


def find_new(deployment: Mapping[str, Any], sets: Sequence[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest set whose template equals the Deployment's (ignoring the hash label)."""
    template = as_map(as_map(deployment.get("spec")).get("template"))
    same = [s for s in sets if rollout.equal_ignore_hash(as_map(as_map(s.get("spec")).get("template")), template)]
    if not same:
        return None
    return min(same, key=lambda s: (str(meta_of(s).get("creationTimestamp") or ""), str(meta_of(s).get("name"))))


class DeploymentController(Controller):
    """Reconciles ``ns/name`` Deployment keys."""

    name = "deployment"

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 clock: Any = time.time) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "deployment-controller")  # the component name kube-controller-manager uses
        self.clock = clock
        self.deployments = self.informer(DEPLOYMENTS, enqueue=True)
        self.sets = self.informer(REPLICASETS)
        self.pods = self.informer(PODS)
        self.sets.add_handler(on_add=self._rs_added, on_update=self._rs_updated, on_delete=self._rs_deleted)
        self.pods.add_handler(on_delete=self._pod_deleted)
        self.sets.cache.add_index("uid", lambda o: [uid_of(o)])

    # ---- events ---------------------------------------------------------------

    def _selector(self, d: Mapping[str, Any]) -> LabelSelector | None:
        try:
            return from_label_selector_object(as_map(d.get("spec")).get("selector"))
        except Exception:
            return None

    def _matching(self, rs: Mapping[str, Any]) -> list[str]:
        labels = labels_of(rs)
        out = []
        for d in self.deployments.cache.list(str(meta_of(rs).get("namespace") or "")):
            sel = self._selector(d)
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(object_key(d))
        return out

    def _rs_added(self, rs: Obj) -> None:
        owner = _owner_key(rs)
        if owner is not None:
            self.queue.add(owner)
        elif controller_ref(rs) is None:
            for key in self._matching(rs):
                self.queue.add(key)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        old_owner, new_owner = _owner_key(old), _owner_key(new)
        if old_owner is not None and old_owner != new_owner:
            self.queue.add(old_owner)
        if new_owner is not None:
            self.queue.add(new_owner)
        elif controller_ref(new) is None:
            for key in set(self._matching(new)) | set(self._matching(old)):
                self.queue.add(key)

    def _rs_deleted(self, rs: Obj) -> None:
        owner = _owner_key(rs)
        if owner is not None:
            self.queue.add(owner)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old Pods to be gone: a Pod's deletion wakes its Deployment."""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != REPLICASETS.kind:
            return
        for rs in self.sets.cache.by_index("uid", str(ref.get("uid") or "")):
            owner = _owner_key(rs)
            if owner is not None:
                self.queue.add(owner)

    # ---- writes -----------------------------------------------------------------

    async def _update(self, d: Obj) -> Obj:
        return await self.client.update(DEPLOYMENTS, d)

    async def _update_status(self, d: Obj, status: dict[str, Any]) -> Obj:
        return await self.client.update_status(DEPLOYMENTS, {**d, "status": status})

    async def _scale(self, d: Obj, rs: Obj, size: int) -> Obj:
        """scaleReplicaSetAndRecordEvent: resize, refresh the replicas annotations, event on a size change."""
        meta, spec = meta_of(rs), as_map(rs.get("spec"))
        before = int_or(spec.get("replicas"), 1)
        annotations = {str(k): str(v) for k, v in as_map(meta.get("annotations")).items()}
        wanted = {**annotations, **rollout.replicas_annotations(d)}
        if before == size and wanted == annotations:
            return rs
        new = {**rs, "metadata": {**meta, "annotations": wanted}, "spec": {**spec, "replicas": size}}
        written = await self.client.update(REPLICASETS, new)
        self.sets.cache.put(written)  # read-your-writes for the rest of this sync
        if before != size:
            direction = "up" if size > before else "down"
            self.count(f"scale_{direction}")
            await self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                      f"Scaled {direction} replica set {meta.get('name')} from {before} to {size}")
        return written

    # ---- reconcile ----------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.deployments.cache.get(ns or None, name)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        spec = as_map(d.get("spec"))
        selector = self._selector(d)
        if selector is None:
            self.log.error("%s: Deployment %s has an invalid selector", self.name, key)
            return
        if selector.empty:
            await self.recorder.event(d, WARNING, "SelectingAll",
                                      "This deployment is selecting all pods. A non-empty selector is required.")
            status = as_map(d.get("status"))
            if int_or(status.get("observedGeneration")) < int_or(meta_of(d).get("generation"), 1):
                await self._update_status(d, {**status, "observedGeneration": int_or(meta_of(d).get("generation"), 1)})
            return
        manager = RefManager(self.client, owner=d, owner_rt=DEPLOYMENTS, child_rt=REPLICASETS,
                             matches=lambda rs: selector.matches(labels_of(rs)))
        sets = await manager.claim(self.sets.cache.list(ns))
        if is_deleting(d):
            await self._sync_status_only(d, sets)
            return
        d = await self._check_paused_conditions(d)
        if spec.get("paused") is True:
            await self._sync(d, sets)
            return
        if self._is_scaling_event(d, sets):
            await self._sync(d, sets)
            return
        strategy = as_map(spec.get("strategy")).get("type") or rollout.ROLLING_UPDATE
        if strategy == rollout.RECREATE:
            await self._rollout_recreate(d, sets)
        else:
            await self._rollout_rolling(d, sets)

    # ---- new ReplicaSet and revisions ------------------------------------------------

    async def _get_all(self, d: Obj, sets: list[Obj], *, create: bool) -> tuple[Obj, Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: (Deployment, new set or None, old sets)."""
        new = find_new(d, sets)
        old = [s for s in sets if s is not new]
        d, new = await self._get_new(d, new, old, create=create)
        return d, new, old

    async def _get_new(self, d: Obj, existing: Obj | None, old: list[Obj], *,
                       create: bool) -> tuple[Obj, Obj | None]:
        revision = rollout.max_revision(old) + 1
        if existing is not None:
            meta, rs_spec = meta_of(existing), as_map(existing.get("spec"))
            annotations = {str(k): str(v) for k, v in as_map(meta.get("annotations")).items()}
            wanted = rollout.new_rs_annotations(deployment=d, rs_annotations=annotations, new_revision=revision,
                                                exists=True)
            min_ready = int_or(as_map(d.get("spec")).get("minReadySeconds"))
            if wanted != annotations or int_or(rs_spec.get("minReadySeconds")) != min_ready:
                new_spec = {**rs_spec, "minReadySeconds": min_ready} if min_ready else {
                    k: v for k, v in rs_spec.items() if k != "minReadySeconds"}
                existing = await self.client.update(REPLICASETS, {**existing, "metadata": {**meta, "annotations": wanted},
                                                                  "spec": new_spec})
                self.sets.cache.put(existing)
                return d, existing
            d = await self._set_revision(d, str(as_map(meta_of(existing).get("annotations")).get(rollout.REVISION) or ""))
            status = as_map(d.get("status"))
            if rollout.has_progress_deadline(d) and rollout.get_condition(status, rollout.PROGRESSING) is None:
                status = copy.deepcopy(status)
                rollout.set_condition(status, rollout.condition(
                    rollout.PROGRESSING, "True", rollout.FOUND_NEW_REPLICA_SET,
                    f'Found new replica set "{meta.get("name")}"', format_time()))
                d = await self._update_status(d, status)
            return d, existing
        if not create:
            return d, None
        status = as_map(d.get("status"))
        collisions = status.get("collisionCount")
        template = as_map(as_map(d.get("spec")).get("template"))
        hash_ = rollout.pod_template_hash(template, collisions if isinstance(collisions, int) else None)
        views = [rs_view(s) for s in old]
        probe = RS(name="", replicas=0)
        if rollout.is_rolling_update(d):
            replicas = rollout.new_rs_replicas(replicas=rollout.replicas_of(d), surge=rollout.max_surge(d), new=probe,
                                               all_sets=[*views, probe])
        else:
            replicas = rollout.replicas_of(d)
        body = new_replica_set(d, hash_=hash_, replicas=replicas, revision=revision)
        name = str(body["metadata"]["name"])
        ns = str(meta_of(d).get("namespace") or "")
        already = False
        try:
            created = await self.client.create(REPLICASETS, body, namespace=ns)
        except errors.AlreadyExists:
            found = self.sets.cache.get(ns, name)
            if found is None:
                found = await self.client.get(REPLICASETS, name, namespace=ns)
            ref = controller_ref(found)
            if ref is not None and ref.get("uid") == uid_of(d) and rollout.equal_ignore_hash(
                    as_map(as_map(found.get("spec")).get("template")), template):
                created, already = found, True
            else:
                # A different template hashed to this name: try the next name (collisionCount).
                status = {**status, "collisionCount": (collisions if isinstance(collisions, int) else 0) + 1}
                await self._update_status(d, status)
                raise RequeueAfter(0.0, f"hash collision on ReplicaSet {name}") from None
        except errors.ApiError as e:
            if rollout.has_progress_deadline(d):
                status = copy.deepcopy(status)
                rollout.set_condition(status, rollout.condition(rollout.PROGRESSING, "False", rollout.FAILED_RS_CREATE,
                                                                e.message, format_time()))
                await self._update_status(d, status)
            await self.recorder.event(d, WARNING, rollout.FAILED_RS_CREATE,
                                      f'Failed to create new replica set "{name}": {e.message}')
            raise
        self.sets.cache.put(created)
        if not already and replicas > 0:
            await self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                      f"Scaled up replica set {name} from 0 to {replicas}")
        d = await self._set_revision(d, str(revision))
        if not already and rollout.has_progress_deadline(d):
            status = copy.deepcopy(as_map(d.get("status")))
            rollout.set_condition(status, rollout.condition(rollout.PROGRESSING, "True",
                                                            rollout.NEW_REPLICA_SET_CREATED,
                                                            f'Created new replica set "{name}"', format_time()))
            d = await self._update_status(d, status)
        return d, created

    async def _set_revision(self, d: Obj, revision: str) -> Obj:
        """SetDeploymentRevision: the Deployment's revision annotation follows its new ReplicaSet's."""
        annotations = {str(k): str(v) for k, v in as_map(meta_of(d).get("annotations")).items()}
        if not revision or annotations.get(rollout.REVISION) == revision:
            return d
        annotations[rollout.REVISION] = revision
        return await self._update({**d, "metadata": {**meta_of(d), "annotations": annotations}})

    # ---- strategies ---------------------------------------------------------------------

    def _is_scaling_event(self, d: Obj, sets: list[Obj]) -> bool:
        """isScalingEvent: an active set was sized for a different replicas count."""
        replicas = rollout.replicas_of(d)
        for rs in sets:
            view = rs_view(rs)
            if view.replicas > 0 and view.desired is not None and view.desired != replicas:
                return True
        return False

    async def _sync(self, d: Obj, sets: list[Obj]) -> None:
        """sync: proportional scaling (scaling events, paused Deployments), then status.

        Every active set is rewritten when its size or its replicas
        annotations are stale, which is what ends the scaling event.
        """
        d, new, old = await self._get_all(d, sets, create=False)
        changes = rollout.proportional_scale(
            replicas=rollout.replicas_of(d), surge=rollout.max_surge(d), rolling=rollout.is_rolling_update(d),
            new=rs_view(new) if new is not None else None, old=[rs_view(s) for s in old],
            current_status_replicas=int_or(as_map(d.get("status")).get("replicas")))

        async def resize(rs: Obj) -> Obj:
            view = rs_view(rs)
            if view.replicas > 0 or view.name in changes:
                return await self._scale(d, rs, changes.get(view.name, view.replicas))
            return rs

        old = [await resize(s) for s in old]
        if new is not None:
            new = await resize(new)
        if as_map(d.get("spec")).get("paused") is True:
            await self._cleanup(d, old)
        await self._sync_status(d, [*old, *([new] if new else [])], new, progress=False)

    async def _rollout_rolling(self, d: Obj, sets: list[Obj]) -> None:
        d, new, old = await self._get_all(d, sets, create=True)
        assert new is not None
        replicas = rollout.replicas_of(d)
        surge = rollout.max_surge(d)
        unavailable = rollout.max_unavailable(d)
        changes = rollout.rolling_step(replicas=replicas, surge=surge, unavailable=unavailable, new=rs_view(new),
                                       old=[rs_view(s) for s in old])
        current = [*old, new]
        if changes:
            current = [await self._scale(d, s, changes[name_of(s)]) if name_of(s) in changes else s for s in current]
            new = current[-1]
            await self._sync_status(d, current, new, progress=True)
            return
        if rollout.deployment_complete(d, as_map(d.get("status"))):
            await self._cleanup(d, old)
        await self._sync_status(d, current, new, progress=True)

    async def _rollout_recreate(self, d: Obj, sets: list[Obj]) -> None:
        d, new, old = await self._get_all(d, sets, create=False)
        downs = rollout.recreate_scale_down([rs_view(s) for s in old])
        if downs:
            scaled = [await self._scale(d, s, downs[name_of(s)]) if name_of(s) in downs else s for s in old]
            await self._sync_status(d, [*scaled, *([new] if new else [])], new, progress=True)
            return
        if self._old_pods_running(d, new, old):
            await self._sync_status(d, [*old, *([new] if new else [])], new, progress=True)
            return
        if new is None:
            d, new, old = await self._get_all(d, sets, create=True)
            assert new is not None
        new = await self._scale(d, new, rollout.replicas_of(d))
        if rollout.deployment_complete(d, as_map(d.get("status"))):
            await self._cleanup(d, old)
        await self._sync_status(d, [*old, new], new, progress=True)

    def _old_pods_running(self, d: Obj, new: Obj | None, old: list[Obj]) -> bool:
        """oldPodsRunning: old sets report Pods, or Pods of old sets are not terminal yet."""
        if any(rs_view(s).current > 0 for s in old):
            return True
        old_uids = {uid_of(s) for s in old}
        new_uid = uid_of(new) if new is not None else None
        for pod in self.pods.cache.list(str(meta_of(d).get("namespace") or "")):
            ref = controller_ref(pod)
            if ref is None or ref.get("uid") == new_uid or ref.get("uid") not in old_uids:
                continue
            if not is_pod_terminal(pod):
                return True
        return False

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        """cleanupDeployment: delete the oldest empty sets beyond revisionHistoryLimit."""
        limit = as_map(d.get("spec")).get("revisionHistoryLimit")
        if not isinstance(limit, int):
            return
        for name in rollout.history_to_delete([rs_view(s) for s in old], limit):
            try:
                await self.client.delete(REPLICASETS, name, namespace=str(meta_of(d).get("namespace")))
                self.log.info("%s: deleted old ReplicaSet %s/%s (revisionHistoryLimit %d)", self.name,
                              meta_of(d).get("namespace"), name, limit)
            except errors.NotFound:
                pass

    # ---- status -------------------------------------------------------------------------

    async def _check_paused_conditions(self, d: Obj) -> Obj:
        """checkPausedConditions: Progressing Unknown with DeploymentPaused / DeploymentResumed."""
        if not rollout.has_progress_deadline(d):
            return d
        status = as_map(d.get("status"))
        cond = rollout.get_condition(status, rollout.PROGRESSING)
        if cond is not None and cond.get("reason") == rollout.TIMED_OUT:
            return d
        paused = as_map(d.get("spec")).get("paused") is True
        paused_cond = cond is not None and cond.get("reason") == rollout.PAUSED
        if paused and not paused_cond:
            new = rollout.condition(rollout.PROGRESSING, "Unknown", rollout.PAUSED, "Deployment is paused", format_time())
        elif not paused and paused_cond:
            new = rollout.condition(rollout.PROGRESSING, "Unknown", rollout.RESUMED, "Deployment is resumed",
                                    format_time())
        else:
            return d
        status = copy.deepcopy(status)
        rollout.set_condition(status, new)
        return await self._update_status(d, status)

    async def _sync_status_only(self, d: Obj, sets: list[Obj]) -> None:
        d, new, old = await self._get_all(d, sets, create=False)
        await self._sync_status(d, [*old, *([new] if new else [])], new, progress=False)

    async def _sync_status(self, d: Obj, sets: Sequence[Obj], new: Obj | None, *, progress: bool) -> None:
        """syncRolloutStatus (progress=True) or syncDeploymentStatus; requeue before the progress deadline."""
        views = [rs_view(s) for s in sets]
        new_view = rs_view(new) if new is not None else None
        now_seconds = self.clock()
        if progress:
            status = rollout.rollout_status(d, views, new_view, now=format_time(), now_seconds=now_seconds)
        else:
            status = rollout.calculate_status(d, views, new_view, format_time())
        if not rollout.same_status(status, as_map(d.get("status"))):
            try:
                d = await self._update_status(d, status)
            except errors.Conflict as e:
                raise RequeueAfter(0.0, "status conflict") from e
            except errors.NotFound:
                return
        if progress and not rollout.deployment_complete(d, status):
            left = rollout.seconds_until_deadline(d, status, now_seconds)
            if left is not None:
                raise RequeueAfter(max(left, 0.0) + 1.0)


def build_deployment_parser() -> argparse.ArgumentParser:
    return build_parser("deployment", "Roll Deployments out through ReplicaSets.")


async def main(argv: list[str]) -> int:
    """``kubelite controller deployment [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return DeploymentController(client, workers=args.workers, metrics=metrics)

    return await run_controller_process("deployment", argv, factory, parser=build_deployment_parser())


__all__ = ["DeploymentController", "find_new", "main", "new_replica_set"]
