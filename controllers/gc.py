"""The garbage collector: objects whose owners are all gone are deleted (pkg/controller/garbagecollector).

Why a controller: ``kubectl delete deployment`` deletes only the
Deployment (propagationPolicy Background); its ReplicaSets, and their Pods,
name it in ownerReferences and are deleted here once it is gone. The API
server adds the ``orphan`` / ``foregroundDeletion`` finalizer for the
Orphan / Foreground policies (kinds declaring ResourceType.gc_finalizers), and
this controller carries them out:
- Orphan: every dependent loses its reference to the owner, then the
  finalizer is removed (the owner disappears, the dependents stay).
- Foreground: every dependent is deleted (in the foreground too), and the
  finalizer is removed only when none is left.

Dependents are classified as kube's attemptToDeleteItem does: an owner is
"solid" when it exists with the uid named, "dangling" when it is gone (a
live read confirms what the cache says before anything is deleted), and
"waiting" when it is being deleted in the foreground. A dependent with a
solid owner only loses its dangling references; one with none is deleted,
uid-preconditioned, with the propagation its own finalizers ask for.

Keys are ``<resource key>|<namespace>/<name>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from apimachinery.objects import meta_of
from apimachinery.resources import BY_GROUP_KIND, BY_KEY, ResourceType
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import EventRecorder
from controllers.runtime.informer import Informer, object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
DEFAULT_RESOURCES = ("deployments.apps", "replicasets.apps", "replicationcontrollers", "pods", "jobs.batch",
                     "cronjobs.batch")
SOLID, DANGLING, WAITING, UNKNOWN = "solid", "dangling", "waiting", "unknown"
FOREGROUND_RECHECK = 2.0


def owner_refs(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for r in meta_of(obj).get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]


def owner_type(ref: Mapping[str, Any]) -> ResourceType | None:
    """The served resource an ownerReference's apiVersion/kind names, if any."""
    api_version = str(ref.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    return BY_GROUP_KIND.get((group, str(ref.get("kind") or "")))


def propagation_for(obj: Mapping[str, Any]) -> str:
    """The policy a dependent is deleted with: what its own finalizers ask, else Background."""
    finalizers = meta_of(obj).get("finalizers") or []
    if ORPHAN in finalizers:
        return "Orphan"
    if FOREGROUND in finalizers:
        return "Foreground"
    return "Background"


def classify(states: Mapping[str, str]) -> str:
    """attemptToDeleteItem's switch over the owners' states (uid -> state): keep, prune, delete or wait."""
    values = list(states.values())
    if not values or UNKNOWN in values:
        return "keep"
    if SOLID in values:
        return "prune" if any(v != SOLID for v in values) else "keep"
    if WAITING in values:
        return "delete-foreground"
    return "delete"


class GarbageCollector(Controller):
    """Reconciles ``<resource key>|ns/name`` keys of owners and dependents."""

    name = "garbage-collector"

    def __init__(self, client: Client, *, resources: Iterable[str] = DEFAULT_RESOURCES, workers: int = 2,
                 metrics: RuntimeMetrics | None = None) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "garbage-collector-controller")  # the component name kube-controller-manager uses
        self.watched: dict[str, Informer] = {}
        for key in resources:
            rt = BY_KEY[key]
            inf = self.informer(rt)
            inf.cache.add_index("uid", lambda o: [str(meta_of(o).get("uid") or "")])
            inf.cache.add_index("owner", lambda o: [str(r["uid"]) for r in owner_refs(o)])
            inf.add_handler(on_add=self._changed(rt), on_update=self._updated(rt), on_delete=self._deleted(rt))
            self.watched[rt.key] = inf

    # ---- keys and lookups ---------------------------------------------------------

    @staticmethod
    def key_of(rt: ResourceType, obj: Mapping[str, Any]) -> str:
        return f"{rt.key}|{object_key(dict(obj))}"

    def _get(self, key: str) -> tuple[ResourceType, Obj | None]:
        rkey, _, okey = key.partition("|")
        rt = BY_KEY[rkey]
        ns, name = split_key(okey)
        return rt, self.watched[rkey].cache.get(ns or None, name)

    def involved_object(self, key: str) -> dict[str, Any] | None:
        try:
            return self._get(key)[1]
        except KeyError:
            return None

    def start_keys(self) -> list[str]:
        keys: list[str] = []
        for rkey, inf in self.watched.items():
            rt = BY_KEY[rkey]
            for obj in inf.cache.list():
                if owner_refs(obj) or self._has_gc_finalizer(obj):
                    keys.append(self.key_of(rt, obj))
        return keys

    def dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        return [(BY_KEY[rkey], o) for rkey, inf in self.watched.items() for o in inf.cache.by_index("owner", uid)]

    def _cached_owner(self, rt: ResourceType, uid: str) -> Obj | None:
        inf = self.watched.get(rt.key)
        if inf is None:
            return None
        found = inf.cache.by_index("uid", uid)
        return found[0] if found else None

    @staticmethod
    def _has_gc_finalizer(obj: Mapping[str, Any]) -> bool:
        meta = meta_of(obj)
        return meta.get("deletionTimestamp") is not None and bool(
            {ORPHAN, FOREGROUND} & set(meta.get("finalizers") or []))

    # ---- events -----------------------------------------------------------------------

    def _changed(self, rt: ResourceType) -> Any:
        def handler(obj: Obj) -> None:
            if self._has_gc_finalizer(obj) or self._may_be_garbage(obj):
                self.queue.add(self.key_of(rt, obj))
        return handler

    def _updated(self, rt: ResourceType) -> Any:
        changed = self._changed(rt)

        def handler(old: Obj, new: Obj) -> None:
            changed(new)
        return handler

    def _deleted(self, rt: ResourceType) -> Any:
        def handler(obj: Obj) -> None:
            uid = str(meta_of(obj).get("uid") or "")
            for dep_rt, dep in self.dependents(uid):
                self.queue.add(self.key_of(dep_rt, dep))
            # a foreground owner waits for its dependents: one less may be the last
            for ref in owner_refs(obj):
                ort = owner_type(ref)
                owner = self._cached_owner(ort, str(ref["uid"])) if ort is not None else None
                if owner is not None and self._has_gc_finalizer(owner) and ort is not None:
                    self.queue.add(self.key_of(ort, owner))
        return handler

    def _may_be_garbage(self, obj: Mapping[str, Any]) -> bool:
        """Cheap filter: some owner is missing from (or being deleted in) the caches, or not watched."""
        for ref in owner_refs(obj):
            ort = owner_type(ref)
            if ort is None or ort.key not in self.watched:
                return True
            owner = self._cached_owner(ort, str(ref["uid"]))
            if owner is None or FOREGROUND in (meta_of(owner).get("finalizers") or []):
                return True
        return False

    # ---- reconcile ----------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        rt, obj = self._get(key)
        if obj is None:
            return
        meta = meta_of(obj)
        if meta.get("deletionTimestamp") is not None:
            finalizers = meta.get("finalizers") or []
            if ORPHAN in finalizers:
                await self._orphan_dependents(rt, obj)
                return
            if FOREGROUND in finalizers:
                await self._delete_dependents(rt, obj)
                return
        refs = owner_refs(obj)
        if not refs:
            return
        states = {str(ref["uid"]): await self._owner_state(ref, str(meta.get("namespace") or "")) for ref in refs}
        verdict = classify(states)
        if verdict == "prune":
            gone = [uid for uid, state in states.items() if state != SOLID]
            await self._remove_refs(rt, obj, gone)
        elif verdict in ("delete", "delete-foreground"):
            policy = "Foreground" if verdict == "delete-foreground" else propagation_for(obj)
            await self._delete(rt, obj, policy)

    async def _owner_state(self, ref: Mapping[str, Any], namespace: str) -> str:
        """solid / dangling / waiting for one ownerReference; a cache miss is confirmed by a live read."""
        ort = owner_type(ref)
        if ort is None:
            return UNKNOWN
        uid = str(ref["uid"])
        owner = self._cached_owner(ort, uid)
        if owner is None:
            try:
                owner = await self.client.get(ort, str(ref.get("name") or ""),
                                              namespace=namespace if ort.namespaced else None)
            except errors.NotFound:
                return DANGLING
            if str(meta_of(owner).get("uid") or "") != uid:
                return DANGLING
        if owner is not None and FOREGROUND in (meta_of(owner).get("finalizers") or []) and \
                meta_of(owner).get("deletionTimestamp") is not None:
            return WAITING
        return SOLID

    async def _delete(self, rt: ResourceType, obj: Obj, policy: str) -> None:
        meta = meta_of(obj)
        if meta.get("deletionTimestamp") is not None:
            return  # already on its way out
        try:
            await self.client.delete(rt, str(meta.get("name")), namespace=meta.get("namespace"),
                                     propagation_policy=policy, preconditions={"uid": str(meta.get("uid") or "")})
        except (errors.NotFound, errors.Conflict):
            return
        self.count("delete")
        self.log.info("%s: deleted %s %s/%s (owners gone, propagation %s)", self.name, rt.kind,
                      meta.get("namespace"), meta.get("name"), policy)

    async def _remove_refs(self, rt: ResourceType, obj: Obj, uids: list[str]) -> None:
        """Drop the named ownerReferences (strategic merge ``$patch: delete`` by uid)."""
        meta = meta_of(obj)
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid} for uid in uids],
                              "uid": meta.get("uid")}}
        try:
            await self.client.patch(rt, str(meta.get("name")), patch, namespace=meta.get("namespace"),
                                    patch_type="strategic")
        except (errors.NotFound, errors.Conflict, errors.Invalid):
            return
        self.count("remove_reference")

    async def _orphan_dependents(self, rt: ResourceType, owner: Obj) -> None:
        uid = str(meta_of(owner).get("uid") or "")
        for dep_rt, dep in self.dependents(uid):
            await self._remove_refs(dep_rt, dep, [uid])
        await self._remove_finalizer(rt, owner, ORPHAN)

    async def _delete_dependents(self, rt: ResourceType, owner: Obj) -> None:
        uid = str(meta_of(owner).get("uid") or "")
        remaining = self.dependents(uid)
        for dep_rt, dep in remaining:
            if meta_of(dep).get("deletionTimestamp") is None:
                await self._delete(dep_rt, dep, "Foreground" if dep_rt.key in ("deployments.apps",
                                                                               "replicasets.apps") else "Background")
        if remaining:
            raise RequeueAfter(FOREGROUND_RECHECK)  # their deletion events also wake the owner
        await self._remove_finalizer(rt, owner, FOREGROUND)

    async def _remove_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        meta = meta_of(obj)
        finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"finalizers": finalizers or None,
                              "resourceVersion": str(meta.get("resourceVersion") or "")}}
        try:
            await self.client.patch(rt, str(meta.get("name")), patch, namespace=meta.get("namespace"),
                                    patch_type="merge")
        except errors.NotFound:
            return
        except errors.Conflict as e:
            raise RequeueAfter(0.0, "finalizer conflict") from e
        self.log.info("%s: removed finalizer %s from %s %s/%s", self.name, finalizer, rt.kind,
                      meta.get("namespace"), meta.get("name"))


def build_gc_parser() -> argparse.ArgumentParser:
    p = build_parser("gc", "Delete objects whose owners are gone (ownerReferences), carry out Orphan/Foreground.")
    p.add_argument("--resources", default=",".join(DEFAULT_RESOURCES),
                   help="resource keys to watch as owners and dependents (default: %(default)s)")
    return p


async def main(argv: list[str]) -> int:
    """``kubelite controller gc [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        keys = [k.strip() for k in str(args.resources).split(",") if k.strip()]
        return GarbageCollector(client, resources=keys, workers=args.workers, metrics=metrics)

    return await run_controller_process("gc", argv, factory, parser=build_gc_parser())


__all__ = ["GarbageCollector", "classify", "main", "owner_refs", "owner_type", "propagation_for"]
