"""The node lifecycle pass: Nodes whose agent went silent become NotReady, and so do their Pods.

Why Leases and local clocks (as kube-controller-manager's node lifecycle
controller): a Node is healthy while its kube-node-lease Lease keeps being
renewed. We record *when we observed* each renewal on our own monotonic
clock and never compare the renewTime itself with our wall clock, so clock
skew between agents cannot mark a live node dead. A leader that just took
over treats every Node as seen at that moment (a full grace period before
any verdict).

A Node not renewed for ``grace`` seconds gets every kubelet condition set to
Unknown (reason NodeStatusUnknown, "Kubelet stopped posting node status."),
which kubectl shows as NotReady, and each of its Ready Pods gets Ready
"False" (MarkPodsNotReady): the endpoints controller then moves them out of
the Services' ready addresses. A returning agent posts Ready again itself.
Only the elected agent runs this pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from agents.node import status as nodestatus
from agents.node.heartbeat import NODE_LEASE_NAMESPACE
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from controllers.runtime.controller import Controller
from controllers.runtime.informer import object_key
from controllers.runtime.informers import InformerFactory
from controllers.runtime.metrics import RuntimeMetrics
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
NODES = BY_KEY["nodes"]
PODS = BY_KEY["pods"]
LEASES = BY_KEY["leases.coordination.k8s.io"]
POD_NODE_INDEX = "node"


def is_stale(observed_at: float, now: float, grace: float) -> bool:
    """No renewal observed for longer than the grace period."""
    return now - observed_at > grace


def _pod_node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def _renew_time(lease: Obj) -> str:
    return str((lease.get("spec") or {}).get("renewTime") or "")


class NodeLifecycle(Controller):
    name = "node-lifecycle"

    def __init__(
        self,
        client: Client,
        *,
        grace: float = 40.0,
        period: float = 5.0,
        metrics: RuntimeMetrics | None = None,
        on_write: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        informers: InformerFactory | None = None,
    ) -> None:
        super().__init__(client, workers=1, metrics=metrics, informers=informers)
        self.grace = grace
        self.period = period
        self.clock = clock
        self.on_write = on_write or (lambda _what: None)
        self.nodes = self.informer(NODES, enqueue=True)
        self.leases = self.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pods = self.informer(PODS)
        self.pods.cache.add_index(POD_NODE_INDEX, _pod_node_index)
        self.observed: dict[str, tuple[str, float]] = {}
        self._started = self.clock()
        self.handle(self.leases, on_add=self._lease_seen, on_update=lambda _o, n: self._lease_seen(n))

    def _lease_seen(self, lease: Obj) -> None:
        name = str((lease.get("metadata") or {}).get("name") or "")
        renew = _renew_time(lease)
        seen = self.observed.get(name)
        if seen is None or seen[0] != renew:
            self.observed[name] = (renew, self.clock())

    async def on_synced(self) -> None:
        now = self.clock()
        self._started = now
        for name in list(self.observed):
            self.observed[name] = (self.observed[name][0], now)

    async def run(self) -> None:
        ticker = asyncio.create_task(self._tick(), name=f"{self.name}:tick")
        try:
            await super().run()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            for key in self.nodes.cache.keys():
                self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        node = self.nodes.cache.get(None, key)
        if node is None:
            self.observed.pop(key, None)
            return
        seen_at = self.observed.get(key, ("", self._started))[1]
        if not is_stale(seen_at, self.clock(), self.grace):
            return
        now = format_time()
        ready = nodestatus.condition((node.get("status") or {}).get("conditions"), "Ready") or {}
        if ready.get("status") != "Unknown":
            self.log.info("%s: Node %s has not renewed its lease for %.0fs: marking it NotReady", self.name, key,
                          self.clock() - seen_at)
            body = dict(node)
            status = dict(node.get("status") or {})
            status["conditions"] = nodestatus.unknown_node_conditions(status.get("conditions"), now=now)
            body["status"] = status
            with contextlib.suppress(errors.NotFound):
                await self.client.update_status(NODES, body)
                self.on_write("node_unknown")
        for pod in self.pods.cache.by_index(POD_NODE_INDEX, key):
            new = nodestatus.mark_pod_not_ready(pod, now=now)
            if new is None:
                continue
            body = dict(pod)
            body["status"] = new
            try:
                await self.client.update_status(PODS, body)
                self.on_write("pod_not_ready")
            except errors.NotFound:
                pass
            except errors.Conflict:
                self.queue.add_after(key, 0.5)
                self.log.info("%s: Pod %s changed meanwhile; will look again", self.name, object_key(pod))
