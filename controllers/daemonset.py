"""The daemonset controller: one Pod per eligible Node, following Nodes as they join and leave.

Rules (pkg/controller/daemon):
- A Node is eligible when the template's nodeSelector and required node
  affinity match it and its NoSchedule/NoExecute taints are tolerated, with
  the tolerations kube adds to every daemon Pod (not-ready, unreachable,
  the pressure conditions, unschedulable). An untolerated NoExecute taint
  also removes a running daemon Pod; an untolerated NoSchedule one only
  stops new ones.
- Pods are bound at creation: ``spec.nodeName`` is the Node (kubelite's
  scheduler does not read node affinity), and the node affinity kube's
  controller writes (``matchFields metadata.name In [node]``) is set too.
- A Pod whose Node is gone is deleted at once (grace 0), as kube's Pod
  garbage collector does: no kubelet is left to finish it.
- History is ControllerRevisions (controllers.history); Pods carry the
  ``controller-revision-hash`` of their revision and
  ``pod-template-generation``. RollingUpdate with maxSurge 0 deletes old
  Pods while at most maxUnavailable Nodes lack an available Pod (old
  unavailable Pods go first, at once); with maxSurge a new Pod starts beside
  the old one on at most maxSurge Nodes, and the old one goes once the new
  one is available. OnDelete replaces only Pods the user deletes.
- Expectations (controllers.replicaset.Expectations): after creating or
  deleting, the set is not acted on again until the informer has seen those
  Pods, so a stale cache never puts two Pods on a Node.
- The plan is a pure function of the set, the Nodes and the Pods (``plan``).
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apimachinery import labels as wellknown
from apimachinery.objects import as_list, as_map, as_str, int_or, labels_of, meta_of
from apimachinery.pods import tolerates
from apimachinery.resources import BY_KEY
from apimachinery.selectors import LabelSelector, from_label_selector_object
from controllers import history
from controllers.ownership import RefManager, controller_ref, is_deleting, uid_of
from controllers.replicaset import Expectations, available_in
from controllers.rollout import scaled_value
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.events import NORMAL, WARNING, EventRecorder
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
NODES = BY_KEY["nodes"]
DAEMONSETS = BY_KEY["daemonsets.apps"]
REVISIONS = BY_KEY["controllerrevisions.apps"]

ROLLING_UPDATE = "RollingUpdate"
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
LABEL_TEMPLATE_GENERATION = "pod-template-generation"
# AddOrUpdateDaemonPodTolerations: daemon Pods stay through node conditions and cordons
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


# ---------------------------------------------------------------------------
# Nodes and Pods (pure)
# ---------------------------------------------------------------------------


def with_daemon_tolerations(tolerations: Any) -> list[Any]:
    out = list(as_list(tolerations))
    for key, effect in DAEMON_TOLERATIONS:
        if not any(as_map(t).get("key") == key and as_map(t).get("effect") == effect for t in out):
            out.append({"key": key, "operator": "Exists", "effect": effect})
    return out


def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    """A NodeSelectorRequirement against one label (or field) value; None when absent."""
    op, values = as_str(req.get("operator")), [str(v) for v in as_list(req.get("values"))]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """The required node affinity: any term whose every expression (labels) and field (metadata.name) matches."""
    required = as_map(as_map(as_map(pod_spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))
    terms = [as_map(t) for t in as_list(required.get("nodeSelectorTerms"))]
    if not required:
        return True
    node_labels = labels_of(node)
    fields = {"metadata.name": str(meta_of(node).get("name") or "")}
    for term in terms:
        exprs, matches = as_list(term.get("matchExpressions")), as_list(term.get("matchFields"))
        if not exprs and not matches:
            continue
        if all(_requirement_matches(as_map(e), node_labels.get(as_str(as_map(e).get("key")))) for e in exprs) and all(
                _requirement_matches(as_map(f), fields.get(as_str(as_map(f).get("key")))) for f in matches):
            return True
    return False


def node_should_run(ds: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (a daemon Pod should be created there, an existing one may keep running)."""
    template_spec = as_map(as_map(as_map(ds.get("spec")).get("template")).get("spec"))
    pod = {"spec": {**template_spec, "tolerations": with_daemon_tolerations(template_spec.get("tolerations"))}}
    node_labels = labels_of(node)
    selector = as_map(template_spec.get("nodeSelector"))
    if any(node_labels.get(k) != v for k, v in selector.items()) or not affinity_matches(template_spec, node):
        return False, False
    should_run = should_continue = True
    for taint in as_list(as_map(node.get("spec")).get("taints")):
        taint = as_map(taint)
        effect = taint.get("effect")
        if effect in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            should_run = False
            if effect == "NoExecute":
                should_continue = False
    return should_run, should_continue


def template_generation(ds: Mapping[str, Any]) -> str:
    return as_str(as_map(meta_of(ds).get("annotations")).get(TEMPLATE_GENERATION))


def new_pod(ds: Mapping[str, Any], revision_hash: str, node_name: str) -> Obj:
    """The daemon Pod for one Node: the template, bound to it, with the daemon tolerations and revision labels."""
    meta = meta_of(ds)
    template = as_map(as_map(ds.get("spec")).get("template"))
    tmeta = as_map(template.get("metadata"))
    pod_labels = {str(k): str(v) for k, v in as_map(tmeta.get("labels")).items()}
    pod_labels[wellknown.LABEL_CONTROLLER_REVISION_HASH] = revision_hash
    generation = template_generation(ds)
    if generation:
        pod_labels[LABEL_TEMPLATE_GENERATION] = generation
    pod_meta: dict[str, Any] = {"generateName": f"{meta.get('name')}-", "namespace": meta.get("namespace"),
                                "labels": pod_labels}
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = copy.deepcopy(tmeta[key])
    pod_meta["ownerReferences"] = [{"apiVersion": DAEMONSETS.api_version, "kind": DAEMONSETS.kind,
                                    "name": meta.get("name"), "uid": meta.get("uid"), "controller": True,
                                    "blockOwnerDeletion": True}]
    spec = copy.deepcopy(as_map(template.get("spec")))
    spec["tolerations"] = with_daemon_tolerations(spec.get("tolerations"))
    affinity = as_map(spec.get("affinity"))
    node_affinity = as_map(affinity.get("nodeAffinity"))
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    spec["affinity"] = {**affinity, "nodeAffinity": node_affinity}
    spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _node_of(pod: Mapping[str, Any]) -> str:
    return as_str(as_map(pod.get("spec")).get("nodeName"))


def _is_updated(pod: Mapping[str, Any], revision_hash: str) -> bool:
    return labels_of(pod).get(wellknown.LABEL_CONTROLLER_REVISION_HASH) == revision_hash


def _oldest_first(pods: Sequence[Obj]) -> list[Obj]:
    return sorted(pods, key=lambda p: (str(meta_of(p).get("creationTimestamp") or ""), str(meta_of(p).get("name"))))


# ---------------------------------------------------------------------------
# The plan (pure)
# ---------------------------------------------------------------------------


@dataclass
class Plan:
    """Nodes to create a daemon Pod on, Pods to delete (``force``: their Node is gone), and the status."""

    create: list[str] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    force: list[Obj] = field(default_factory=list)


def plan(ds: Mapping[str, Any], nodes: Sequence[Obj], pods: Sequence[Obj], *, revision_hash: str,
         now: float) -> Plan:
    """manage + rollingUpdate: the creates and deletes that move the set toward one updated Pod per Node."""
    spec = as_map(ds.get("spec"))
    min_ready = int_or(spec.get("minReadySeconds"))
    out = Plan()
    by_node: dict[str, list[Obj]] = {}
    node_names = {str(meta_of(n).get("name")) for n in nodes}
    for p in pods:
        if is_deleting(p):
            continue
        bound = _node_of(p)
        if bound not in node_names:
            out.force.append(p)
            continue
        by_node.setdefault(bound, []).append(p)
    eligible: list[str] = []
    for node in sorted(nodes, key=lambda n: str(meta_of(n).get("name"))):
        name = str(meta_of(node).get("name"))
        should_run, should_continue = node_should_run(ds, node)
        daemon = by_node.get(name, [])
        failed = [p for p in daemon if as_str(as_map(p.get("status")).get("phase")) == "Failed"]
        out.delete += failed
        daemon = [p for p in daemon if p not in failed]
        if should_run:
            eligible.append(name)
        if should_run and not daemon:
            out.create.append(name)
        elif not should_continue:
            out.delete += daemon
        elif len(daemon) > 1 and not _surging(ds):
            # keep one: the updated one if any, else the oldest
            keep = next((p for p in _oldest_first(daemon) if _is_updated(p, revision_hash)), _oldest_first(daemon)[0])
            out.delete += [p for p in daemon if p is not keep]
    strategy = as_map(spec.get("updateStrategy"))
    if as_str(strategy.get("type")) != ROLLING_UPDATE:
        return out
    rolling = as_map(strategy.get("rollingUpdate"))
    desired = len(eligible)
    try:
        max_surge = scaled_value(rolling.get("maxSurge") or 0, desired, round_up=True)
        max_unavailable = scaled_value(rolling.get("maxUnavailable") or 0, desired, round_up=True)
    except ValueError:
        return out
    if max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1
    deleting = {object_key(p) for p in out.delete}

    def available(p: Obj) -> bool:
        return available_in(p, min_ready, now) == 0.0

    if max_surge == 0:
        unavailable = 0
        old_available: list[Obj] = []
        for name in eligible:
            daemon = [p for p in by_node.get(name, []) if object_key(p) not in deleting]
            if not daemon or not any(available(p) for p in daemon):
                unavailable += 1
            for p in daemon:
                if _is_updated(p, revision_hash):
                    continue
                if available(p):
                    old_available.append(p)
                else:
                    out.delete.append(p)  # an old Pod that is not available anyway goes at once
        budget = max_unavailable - unavailable
        out.delete += old_available[:max(0, budget)]
        return out
    surged = 0
    for name in eligible:
        daemon = [p for p in by_node.get(name, []) if object_key(p) not in deleting]
        old = [p for p in daemon if not _is_updated(p, revision_hash)]
        new = [p for p in daemon if _is_updated(p, revision_hash)]
        if not old:
            continue
        if new:
            if any(available(p) for p in new):
                out.delete += old
            else:
                surged += 1
        elif not any(available(p) for p in old):
            out.delete += old  # nothing to keep available here: replace at once
    for name in eligible:
        daemon = [p for p in by_node.get(name, []) if object_key(p) not in deleting]
        if daemon and all(not _is_updated(p, revision_hash) for p in daemon) and any(available(p) for p in daemon):
            if surged >= max_surge:
                break
            out.create.append(name)
            surged += 1
    return out


def _surging(ds: Mapping[str, Any]) -> bool:
    strategy = as_map(as_map(ds.get("spec")).get("updateStrategy"))
    surge = as_map(strategy.get("rollingUpdate")).get("maxSurge")
    return as_str(strategy.get("type")) == ROLLING_UPDATE and surge not in (None, 0, "0", "0%")


def daemon_set_status(ds: Mapping[str, Any], nodes: Sequence[Obj], pods: Sequence[Obj], *, revision_hash: str,
                      collision_count: int, now: float) -> dict[str, Any]:
    """updateDaemonSetStatus: per Node, its oldest daemon Pod counts."""
    min_ready = int_or(as_map(ds.get("spec")).get("minReadySeconds"))
    by_node: dict[str, list[Obj]] = {}
    for p in pods:
        if not is_deleting(p):
            by_node.setdefault(_node_of(p), []).append(p)
    desired = current = misscheduled = ready = available = updated = 0
    for node in nodes:
        daemon = _oldest_first(by_node.get(str(meta_of(node).get("name")), []))
        should_run, _ = node_should_run(ds, node)
        if not should_run:
            misscheduled += 1 if daemon else 0
            continue
        desired += 1
        if not daemon:
            continue
        current += 1
        wait = available_in(daemon[0], min_ready, now)
        if wait is not None:
            ready += 1
            if wait <= 0:
                available += 1
        if _is_updated(daemon[0], revision_hash):
            updated += 1
    status: dict[str, Any] = {k: v for k, v in as_map(ds.get("status")).items()
                              if k in ("conditions",)}
    status.update(currentNumberScheduled=current, numberMisscheduled=misscheduled, desiredNumberScheduled=desired,
                  numberReady=ready, observedGeneration=int_or(meta_of(ds).get("generation"), 1))
    if updated:
        status["updatedNumberScheduled"] = updated
    if available:
        status["numberAvailable"] = available
    if desired - available:
        status["numberUnavailable"] = desired - available
    status["collisionCount"] = collision_count
    return status


# ---------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------


def _owner_key(obj: Mapping[str, Any]) -> str | None:
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != DAEMONSETS.kind or ref.get("apiVersion") != DAEMONSETS.api_version:
        return None
    return f"{meta_of(obj).get('namespace') or ''}/{ref.get('name')}"


def _hash_of(rev: Mapping[str, Any]) -> str:
    return labels_of(rev).get(wellknown.LABEL_REVISION_HASH) or str(meta_of(rev).get("name")).rpartition("-")[2]


class DaemonSetController(Controller):
    """Reconciles ``ns/name`` DaemonSet keys; any Node change looks at every set again."""

    name = "daemonset"

    def __init__(self, client: Client, *, workers: int = 2, metrics: RuntimeMetrics | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.recorder = EventRecorder(client, "daemonset-controller")  # kube-controller-manager's component name
        self.clock = clock
        self.sets = self.informer(DAEMONSETS, enqueue=True)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.revisions = self.informer(REVISIONS)
        self.expectations = Expectations()
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.revisions.add_handler(on_add=self._child, on_update=lambda _o, n: self._child(n), on_delete=self._child)
        self.nodes.add_handler(on_add=self._all, on_update=self._node_updated, on_delete=self._all)

    # ---- events -------------------------------------------------------------

    def _all(self, _obj: Obj) -> None:
        for ds in self.sets.cache.list():
            self.queue.add(object_key(ds))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        """Only what eligibility reads: labels, taints, and readiness (Pods' availability follows it)."""
        if (labels_of(old) != labels_of(new) or as_map(old.get("spec")) != as_map(new.get("spec"))
                or as_map(old.get("status")).get("conditions") != as_map(new.get("status")).get("conditions")):
            self._all(new)

    def _child(self, obj: Obj) -> None:
        owner = _owner_key(obj)
        if owner is not None:
            self.queue.add(owner)

    def _pod_added(self, pod: Obj) -> None:
        owner = _owner_key(pod)
        if owner is not None:
            self.expectations.creation_observed(owner)
            self.queue.add(owner)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        owner = _owner_key(new)
        if owner is None:
            return
        if is_deleting(new) and not is_deleting(old):
            self.expectations.deletion_observed(owner, object_key(new))
        self.queue.add(owner)
        ns, name = split_key(owner)
        ds = self.sets.cache.get(ns or None, name)
        if ds is not None and not is_deleting(new):
            wait = available_in(new, int_or(as_map(ds.get("spec")).get("minReadySeconds")), self.clock())
            if wait:
                self.queue.add_after(owner, wait + 0.05)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = _owner_key(pod)
        if owner is not None:
            self.expectations.deletion_observed(owner, object_key(pod))
            self.queue.add(owner)

    @staticmethod
    def _selector(ds: Mapping[str, Any]) -> LabelSelector | None:
        try:
            raw = as_map(ds.get("spec")).get("selector")
            return from_label_selector_object(raw if isinstance(raw, dict) else None)
        except Exception:
            return None

    # ---- reconcile ------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        ds = self.sets.cache.get(ns or None, name)
        if ds is None:
            self.expectations.forget(key)
            return
        selector = self._selector(ds)
        if selector is None:
            self.log.error("%s: DaemonSet %s has an invalid selector; skipping", self.name, key)
            return

        def selected(o: Obj) -> bool:
            return not selector.empty and selector.matches(labels_of(o))

        pods = await RefManager(self.client, owner=ds, owner_rt=DAEMONSETS, child_rt=PODS,
                                matches=selected).claim(self.pods.cache.list(ns))
        revisions = history.sort_revisions(await RefManager(
            self.client, owner=ds, owner_rt=DAEMONSETS, child_rt=REVISIONS, matches=selected).claim(
            self.revisions.cache.list(ns)))
        try:
            _, update, collisions = await history.sync_revisions(self.client, ds, DAEMONSETS, revisions)
        except history.TooManyCollisions as e:
            raise RequeueAfter(1.0, str(e)) from e
        revision_hash = _hash_of(update)
        nodes = self.nodes.cache.list()
        now = self.clock()
        error: Exception | None = None
        if self.expectations.satisfied(key) and not is_deleting(ds):
            error = await self._act(key, ds, plan(ds, nodes, pods, revision_hash=revision_hash, now=now),
                                    revision_hash)
        status = daemon_set_status(ds, nodes, pods, revision_hash=revision_hash, collision_count=collisions, now=now)
        await self._write_status(ds, status)
        live = {str(meta_of(update).get("name"))}
        hashes = {labels_of(p).get(wellknown.LABEL_CONTROLLER_REVISION_HASH) for p in pods}
        live.update(str(meta_of(r).get("name")) for r in revisions if _hash_of(r) in hashes)
        limit = int_or(as_map(ds.get("spec")).get("revisionHistoryLimit"), 10)
        for rev in history.history_to_delete(revisions, live=live, limit=limit):
            try:
                await self.client.delete(REVISIONS, str(meta_of(rev).get("name")), namespace=ns,
                                         preconditions={"uid": uid_of(rev)})
            except (errors.NotFound, errors.Conflict):
                continue
        if error is not None:
            raise error

    async def _act(self, key: str, ds: Obj, todo: Plan, revision_hash: str) -> Exception | None:
        """Execute the plan; returns the first error (after recording it) so the status is still written."""
        ns = str(meta_of(ds).get("namespace"))
        first: Exception | None = None
        gone = [*todo.delete, *todo.force]
        if todo.create or gone:
            self.expectations.expect(key, adds=len(todo.create), deletes=[object_key(p) for p in gone])
        for node in todo.create:
            try:
                pod = await self.client.create(PODS, new_pod(ds, revision_hash, node), namespace=ns)
            except errors.ApiError as e:
                self.expectations.creation_observed(key)
                if e.code == 403 and "being terminated" in e.message:
                    continue
                await self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {e.message}")
                first = first or e
                continue
            self.count("create_pod")
            await self.recorder.event(ds, NORMAL, "SuccessfulCreate",
                                      f"Created pod: {meta_of(pod).get('name')}")
        for pod, force in [*((p, False) for p in todo.delete), *((p, True) for p in todo.force)]:
            pod_meta = meta_of(pod)
            try:
                await self.client.delete(PODS, str(pod_meta.get("name")), namespace=ns,
                                         preconditions={"uid": uid_of(pod)}, grace_period_seconds=0 if force else None)
            except (errors.NotFound, errors.Conflict):
                self.expectations.deletion_observed(key, object_key(pod))
                continue
            except errors.ApiError as e:
                self.expectations.deletion_observed(key, object_key(pod))
                await self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {e.message}")
                first = first or e
                continue
            self.count("delete_pod")
            await self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod_meta.get('name')}")
        return first

    async def _write_status(self, ds: Obj, status: dict[str, Any]) -> None:
        if status == as_map(ds.get("status")):
            return
        try:
            await self.client.update_status(DAEMONSETS, {**ds, "status": status})
        except errors.NotFound:
            return
        except errors.Conflict as e:
            raise RequeueAfter(0.0, "status conflict") from e


def build_daemonset_parser() -> argparse.ArgumentParser:
    return build_parser("daemonset", "Keep one Pod of every DaemonSet on each eligible Node, at its revision.")


async def main(argv: list[str]) -> int:
    """``kubelite controller daemonset [flags]``: returns the process exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return DaemonSetController(client, workers=args.workers, metrics=metrics)

    return await run_controller_process("daemonset", argv, factory, parser=build_daemonset_parser())


__all__ = ["DaemonSetController", "Plan", "daemon_set_status", "main", "new_pod", "node_should_run", "plan"]
