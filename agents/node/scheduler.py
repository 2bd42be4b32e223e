"""A simple scheduler: bind each unscheduled Pod to the least-loaded feasible Node.

Why simple: Services need Pods spread over nodes, not kube-scheduler's
scoring. Feasible means Ready, not ``spec.unschedulable``, the Pod's
nodeSelector matched, NoSchedule/NoExecute taints tolerated, and fewer Pods
than ``allocatable.pods``. Ties go to the node name, so the choice is
deterministic.

Only the elected agent runs this (Lease ``kube-system/kube-scheduler``), so
two schedulers never race for one Pod; a binding is still guarded by the API
(binding a bound Pod is a 409), and a Pod bound by this process counts as
load on its node until the informer shows it there ("assumed" Pods, as
kube-scheduler's cache does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from agents.node import status as nodestatus
from apimachinery import quantity
from apimachinery.objects import as_list, as_map
from apimachinery.pods import tolerates
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.informer import object_key, split_key
from controllers.runtime.informers import InformerFactory
from controllers.runtime.metrics import RuntimeMetrics
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
PODS = BY_KEY["pods"]
NODES = BY_KEY["nodes"]
DEFAULT_SCHEDULER = "default-scheduler"
UNSCHEDULED_INDEX = "unscheduled"
RETRY = 1.0


def node_capacity(node: Mapping[str, Any]) -> int:
    """``allocatable.pods`` (else ``capacity.pods``, else 110), read as a Quantity: 5000 is stored as "5k"."""
    status = as_map(node.get("status"))
    pods = as_map(status.get("allocatable")).get("pods") or as_map(status.get("capacity")).get("pods") or "110"
    value = quantity.value_of(pods)
    return 110 if value is None else int(value)


def feasible(pod: Mapping[str, Any], node: Mapping[str, Any], load: int) -> bool:
    if not nodestatus.node_ready(node) or as_map(node.get("spec")).get("unschedulable"):
        return False
    labels = as_map(as_map(node.get("metadata")).get("labels"))
    selector = as_map(as_map(pod.get("spec")).get("nodeSelector"))
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    for taint in as_list(as_map(node.get("spec")).get("taints")):
        taint = as_map(taint)
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return False
    return load < node_capacity(node)


def pick_node(pod: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]], load: Mapping[str, int]) -> str | None:
    """The least-loaded feasible node's name (ties by name), or None."""
    best: tuple[int, str] | None = None
    for node in nodes:
        name = str(as_map(node.get("metadata")).get("name") or "")
        n = load.get(name, 0)
        if feasible(pod, node, n) and (best is None or (n, name) < best):
            best = (n, name)
    return None if best is None else best[1]


def needs_scheduling(pod: Mapping[str, Any]) -> bool:
    spec = as_map(pod.get("spec"))
    return (not spec.get("nodeName")
            and as_map(pod.get("metadata")).get("deletionTimestamp") is None
            and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
            and not as_list(spec.get("schedulingGates"))
            and as_map(pod.get("status")).get("phase") not in ("Succeeded", "Failed"))


def _unscheduled_index(pod: Obj) -> list[str]:
    return ["yes"] if needs_scheduling(pod) else []


def _node_of(pod: Mapping[str, Any]) -> str:
    return str(as_map(pod.get("spec")).get("nodeName") or "")


class Scheduler(Controller):
    name = "scheduler"

    def __init__(self, client: Client, *, metrics: RuntimeMetrics | None = None, workers: int = 4,
                 informers: InformerFactory | None = None) -> None:
        super().__init__(client, workers=workers, metrics=metrics, informers=informers)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.pods.cache.add_index(UNSCHEDULED_INDEX, _unscheduled_index)
        self.load: Counter[str] = Counter()
        self.assumed: dict[str, str] = {}
        self.bindings = 0
        self.handle(self.pods, on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.handle(self.nodes, on_add=self._node_event, on_update=lambda _o, n: self._node_event(n))

    def _pod_added(self, pod: Obj) -> None:
        node = _node_of(pod)
        if node:
            self.load[node] += 1
            self._unassume(object_key(pod))
        elif needs_scheduling(pod):
            self.queue.add(object_key(pod))

    def _pod_deleted(self, pod: Obj) -> None:
        node = _node_of(pod)
        if node:
            self.load[node] -= 1
        self._unassume(object_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_deleted(old)
        self._pod_added(new)

    def _unassume(self, key: str) -> None:
        node = self.assumed.pop(key, None)
        if node is not None:
            self.load[node] -= 1

    def _node_event(self, node: Obj) -> None:
        if nodestatus.node_ready(node):
            for pod in self.pods.cache.by_index(UNSCHEDULED_INDEX, "yes"):
                self.queue.add(object_key(pod))

    def start_keys(self) -> list[str]:
        return [object_key(p) for p in self.pods.cache.by_index(UNSCHEDULED_INDEX, "yes")]

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        pod = self.pods.cache.get(ns, name)
        if pod is None or not needs_scheduling(pod) or key in self.assumed:
            return
        nodes = self.nodes.cache.list()
        target = pick_node(pod, nodes, self.load)
        if target is None:
            await self._unschedulable(pod, len(nodes))
            raise RequeueAfter(RETRY)
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": name, "namespace": ns, "uid": as_map(pod.get("metadata")).get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": target}}
        # assume first (as kube-scheduler does): concurrent workers see the node's new load at once
        self.assumed[key] = target
        self.load[target] += 1
        try:
            await self.client.request("POST", self.client.path(PODS, namespace=ns, name=name, subresource="binding"),
                                      body=binding)
        except (errors.Conflict, errors.NotFound):
            self._unassume(key)
            return  # bound by someone else, or gone
        except BaseException:
            self._unassume(key)
            raise
        self.bindings += 1
        self.count("bind")

    async def _unschedulable(self, pod: Obj, nodes: int) -> None:
        """PodScheduled False / Unschedulable, written once (not on every retry)."""
        message = f"0/{nodes} nodes are available."
        conds = as_list(as_map(pod.get("status")).get("conditions"))
        current = nodestatus.condition(conds, "PodScheduled")
        if current is not None and current.get("reason") == "Unschedulable" and current.get("message") == message:
            return
        new = [c for c in conds if as_map(c).get("type") != "PodScheduled"]
        new.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                    "lastTransitionTime": format_time()})
        body = dict(pod)
        body["status"] = {**as_map(pod.get("status")), "conditions": new}
        try:
            await self.client.update_status(PODS, body)
        except (errors.Conflict, errors.NotFound):
            pass
