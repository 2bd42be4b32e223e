"""The namespace controller: a deleted namespace is emptied, then finalized and removed.

Why a process of its own: as in kube-controller-manager, the API server only
marks a deleted namespace Terminating (deletionTimestamp, status.phase) and
refuses new content in it; this controller does the rest through the API,
as any client could (pkg/controller/namespace/deletion):

1. Discover every namespaced resource that can be deleted (``/api`` and
   ``/apis``, so kinds the server adds later are covered too).
2. Per resource: delete what is in the namespace (propagationPolicy
   Background; Pods gracefully, so their node agents finish them), then list
   again and count what remains, and which finalizers hold it.
3. Write the five NamespaceDeletion*/Namespace*Remaining conditions to the
   namespace's status, only when they differ from what is there.
4. With nothing left: PUT ``/api/v1/namespaces/NAME/finalize`` without the
   ``kubernetes`` finalizer; the API server deletes the namespace once its
   last finalizer is gone (a final DELETE covers the case it was not).

Invariant: nothing is written for a namespace that is not being deleted, and
the ``kubernetes`` finalizer is removed only after a pass that found nothing
left. Keys are namespace names.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apimachinery.objects import as_list, as_map, meta_of
from apimachinery.pods import is_pod_terminal
from apimachinery.resources import BY_KEY, ResourceType
from apimachinery.timestamps import format_time, parse_time
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, duration, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]


def spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return as_map(obj.get("spec"))


NAMESPACES = BY_KEY["namespaces"]
FINALIZER = "kubernetes"
# kube's namespaceDeletionGracePeriod is 5 s (HA API servers and late creates); one process and
# one store here, so a moment is enough for a client deleting the contents itself to meet them.
DEFAULT_DELETION_DELAY = 1.0
# How soon a namespace with content left is looked at again (its Pods terminating, finalizers pending).
DEFAULT_RESYNC = 1.0

# The condition types, with their "all is well" reasons and messages.
CONDITIONS_OK: tuple[tuple[str, str, str], ...] = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)


@dataclass
class Remaining:
    """What one deletion pass left behind: per resource, and per finalizer, and what failed."""

    counts: dict[str, int] = field(default_factory=dict)  # "plural.group" -> items left
    finalizers: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    discovery_failure: str = ""


def conditions(left: Remaining, *, now: str) -> list[Obj]:
    """The controller's five conditions after one pass: True when something is wrong or left."""
    bad: dict[str, tuple[str, str]] = {}
    if left.discovery_failure:
        bad["NamespaceDeletionDiscoveryFailure"] = ("DiscoveryFailed", left.discovery_failure)
    if left.failures:
        bad["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(left.failures)} remaining: {', '.join(sorted(left.failures))}")
    if left.counts:
        items = sorted(f"{res} has {n} resource instances" for res, n in left.counts.items())
        bad["NamespaceContentRemaining"] = ("SomeResourcesRemain", f"Some resources are remaining: {', '.join(items)}")
    if left.finalizers:
        fins = sorted(f"{f} in {n} resource instances" for f, n in left.finalizers.items())
        bad["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: {', '.join(fins)}")
    out: list[Obj] = []
    for ctype, ok_reason, ok_message in CONDITIONS_OK:
        status, (reason, message) = ("True", bad[ctype]) if ctype in bad else ("False", (ok_reason, ok_message))
        out.append({"type": ctype, "status": status, "lastTransitionTime": now, "reason": reason,
                    "message": message})
    return out


def merged_conditions(current: Iterable[Any], wanted: list[Obj]) -> list[Obj] | None:
    """updateConditions: ``current`` with each wanted type set; None when nothing would change.

    A condition's lastTransitionTime moves only when its status flips.
    """
    out = [dict(c) for c in current if isinstance(c, Mapping)]
    changed = False
    for want in wanted:
        have = next((c for c in out if c.get("type") == want["type"]), None)
        if have is None:
            out.append(dict(want))
            changed = True
        elif (have.get("status"), have.get("reason"), have.get("message")) != (
                want["status"], want["reason"], want["message"]):
            if have.get("status") != want["status"]:
                have["lastTransitionTime"] = want["lastTransitionTime"]
            have.update(status=want["status"], reason=want["reason"], message=want["message"])
            changed = True
    return out if changed else None


def grace_estimate(items: Iterable[Obj], *, graceful: bool, deleted_at: datetime | None, now: datetime) -> int:
    """estimateGracefulTermination: seconds the namespace's unfinished Pods may still take (0 once passed).

    While it runs, Pods still terminating are expected; after it, an item left
    without finalizers is reported as a content deletion failure.
    """
    if not graceful:
        return 0
    estimate = 0
    for obj in items:
        if is_pod_terminal(obj):
            continue
        grace = spec_of(obj).get("terminationGracePeriodSeconds")
        if isinstance(grace, int) and grace > estimate:
            estimate = grace
    if deleted_at is not None and (now - deleted_at).total_seconds() >= estimate:
        return 0
    return estimate


def deletable(resources: Iterable[ResourceType]) -> list[ResourceType]:
    """Namespaced resources that can be listed and deleted, one version per group/resource."""
    seen: set[tuple[str, str]] = set()
    out: list[ResourceType] = []
    for rt in resources:
        if not rt.namespaced or not {"list", "delete"} <= set(rt.verbs) or (rt.group, rt.plural) in seen:
            continue
        seen.add((rt.group, rt.plural))
        out.append(rt)
    return out


def is_graceful(rt: ResourceType) -> bool:
    """Whether items of ``rt`` terminate gracefully (the kind's declaration; unknown kinds do not)."""
    declared = BY_KEY.get(rt.key)
    return declared is not None and declared.graceful_deletion


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, client: Client, *, deletion_delay: float = DEFAULT_DELETION_DELAY,
                 resync: float = DEFAULT_RESYNC, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.namespaces = self.informer(NAMESPACES)
        self.deletion_delay = deletion_delay
        self.resync = resync
        self.handle(self.namespaces, on_add=self._deleted, on_update=lambda _old, new: self._deleted(new))

    def _deleted(self, ns: Obj) -> None:
        """Only namespaces being deleted are keys, after the deletion delay."""
        if meta_of(ns).get("deletionTimestamp"):
            self.queue.add_after(str(meta_of(ns).get("name")), self.deletion_delay)

    def start_keys(self) -> Iterable[str]:
        return [str(meta_of(ns).get("name")) for ns in self.namespaces.cache.list()
                if meta_of(ns).get("deletionTimestamp")]

    async def reconcile(self, key: str) -> None:
        ns = self.namespaces.cache.get(None, key)
        if ns is None or not meta_of(ns).get("deletionTimestamp"):
            return
        if FINALIZER in as_list(spec_of(ns).get("finalizers")):
            left, estimate = await self._delete_content(ns)
            ns = await self._write_conditions(ns, conditions(left, now=format_time()))
            if left.counts or left.discovery_failure:
                raise RequeueAfter(min(self.resync, estimate) if estimate else self.resync, "content remaining")
            finalized = await self._finalize(ns)
            if finalized is None:
                return
            ns = finalized
        if not as_list(spec_of(ns).get("finalizers")):
            # Removing the last finalizer deleted it already, unless metadata.finalizers (the GC's)
            # remain: this DELETE then answers the object as it is, as kube's controller does.
            try:
                await self.client.delete(NAMESPACES, key, preconditions={"uid": str(meta_of(ns).get("uid"))})
            except (errors.NotFound, errors.Conflict):
                pass

    async def _delete_content(self, ns: Obj) -> tuple[Remaining, int]:
        """One deleteAllContent pass over every deletable namespaced resource."""
        name = str(meta_of(ns).get("name"))
        left = Remaining()
        try:
            resources = deletable(await self.client.discover())
        except errors.ClientError as e:
            left.discovery_failure = f"Discovery failed for some groups, 1 failing: {e}"
            return left, 0
        deleted_at = parse_time(meta_of(ns).get("deletionTimestamp"))
        now = datetime.now(UTC)
        longest = 0
        for rt in resources:
            items = await self._list(rt, name)
            estimate = grace_estimate(items, graceful=is_graceful(rt), deleted_at=deleted_at, now=now)
            longest = max(longest, estimate)
            for obj in items:
                if meta_of(obj).get("deletionTimestamp"):
                    continue  # already being deleted: a second delete changes nothing
                try:
                    await self.client.delete(rt, str(meta_of(obj).get("name")), namespace=name,
                                             propagation_policy="Background")
                    self.count("delete")
                except errors.NotFound:
                    pass
                except errors.ApiError as e:
                    left.failures.append(str(e))
            remaining = await self._list(rt, name) if items else []
            if not remaining:
                continue
            left.counts[f"{rt.plural}.{rt.group}"] = len(remaining)
            held = 0
            for obj in remaining:
                fins = as_list(meta_of(obj).get("finalizers"))
                held += bool(fins)
                for f in fins:
                    left.finalizers[str(f)] = left.finalizers.get(str(f), 0) + 1
            if not estimate and not held:
                left.failures.append(f"unexpected items still remain in namespace: {name} for gvr: "
                                     f"{rt.group}/{rt.version}, Resource={rt.plural}")
        return left, longest

    async def _list(self, rt: ResourceType, namespace: str) -> list[Obj]:
        try:
            return [i for i in (await self.client.list(rt, namespace=namespace))["items"] if isinstance(i, dict)]
        except (errors.NotFound, errors.MethodNotAllowed):
            return []

    async def _write_conditions(self, ns: Obj, wanted: list[Obj]) -> Obj:
        merged = merged_conditions(as_list(as_map(ns.get("status")).get("conditions")), wanted)
        if merged is None:
            return ns
        body = {**ns, "status": {**as_map(ns.get("status")), "conditions": merged}}
        out: Obj = await self.client.update_status(NAMESPACES, body)
        return out

    async def _finalize(self, ns: Obj) -> Obj | None:
        """PUT /finalize without our finalizer; None when the namespace is gone already."""
        spec = {**spec_of(ns), "finalizers": [f for f in as_list(spec_of(ns).get("finalizers")) if f != FINALIZER]}
        try:
            out: Obj = await self.client.update(NAMESPACES, {**ns, "spec": spec}, subresource="finalize")
        except errors.NotFound:
            return None
        self.count("finalize")
        return out


def build_namespace_parser() -> argparse.ArgumentParser:
    p = build_parser("namespace", "Empty deleted namespaces, then finalize and remove them.")
    p.add_argument("--namespace-deletion-delay", type=duration, default=DEFAULT_DELETION_DELAY, metavar="DURATION",
                   help="wait this long after a namespace is deleted before emptying it (default 1s)")
    return p


async def main(argv: list[str]) -> int:
    """The entry ``kubelite controller namespace`` calls (``kubelite/cli.py`` CONTROLLERS)."""

    def factory(client: Client, metrics: RuntimeMetrics, a: argparse.Namespace) -> Controller:
        return NamespaceController(client, deletion_delay=a.namespace_deletion_delay, metrics=metrics,
                                   workers=a.workers)

    return await run_controller_process("namespace", argv, factory, parser=build_namespace_parser())
