"""The Endpoints/EndpointSlice controller: informers, indexes, and the write of the difference.

Why this shape (docs/architecture.md, "Controllers"): event handlers only map events to
Service keys; ``reconcile(namespace/name)`` reads the caches, asks
``desired.plan`` what should exist, and writes only what differs.

Efficiency invariants:
- a Pod event looks up candidate Services through an index on one
  ``key=value`` pair of each selector (never a scan of every Service), then
  checks the full selector; an update enqueues the Services of the old and
  the new labels, and nothing when no field the endpoints depend on changed;
- a Service sync reads only its namespace's Pods carrying one of its
  selector's pairs (an index), never all Pods;
- Pod-driven syncs are delayed by ``--endpoint-updates-batch-period`` so a
  burst of Pod events becomes one sync (the queue keeps the earliest
  deadline and de-duplicates keys);
- a write happens only when the desired object differs from the cached one,
  and never from a cache that has not yet seen our previous write
  (``tracker.WriteTracker``); the echo of our own writes does not cause a
  sync.

Deleted Services: their Endpoints and our slices are deleted; on start every
Endpoints object and every slice we manage enqueues its Service, so objects
of Services deleted while the controller was down are found (Kubernetes'
checkLeftoverEndpoints; slices would be left to the garbage collector there,
which kubelite does not have).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import click
from prometheus_client import Counter

from apimachinery.labels import ANNOTATION_LEADER, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, LABEL_ZONE
from apimachinery.objects import labels_of, meta_of
from apimachinery.pods import is_pod_ready, is_pod_terminal, pod_ips
from apimachinery.resources import BY_KEY
from controllers.endpoints import desired
from controllers.endpoints.compare import same_endpoints, same_slice
from controllers.endpoints.pods import (
    MANAGED_BY,
    MAX_ENDPOINTS_PER_SLICE,
    is_managed,
    selects,
)
from controllers.endpoints.tracker import WriteTracker
from controllers.endpoints.triggertime import TriggerTimeTracker
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.informer import Cache, object_key, split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, duration, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]

SERVICES = BY_KEY["services"]
PODS = BY_KEY["pods"]
ENDPOINTS = BY_KEY["endpoints"]
SLICES = BY_KEY["endpointslices.discovery.k8s.io"]
NODES = BY_KEY["nodes"]

SELECTOR_INDEX = "selector"
POD_LABEL_INDEX = "ns-label"
POD_NODE_INDEX = "node"
SLICE_SERVICE_INDEX = "service"
STALE_RETRY = 0.02
MISSING_NODE_RETRY = 1.0


# ---------------------------------------------------------------------------
# indexes
# ---------------------------------------------------------------------------


def _selector(service: Mapping[str, Any]) -> dict[str, str]:
    sel = (service.get("spec") or {}).get("selector")
    return {str(k): str(v) for k, v in sel.items()} if isinstance(sel, dict) else {}


def selector_index(service: Obj) -> list[str]:
    """One ``ns/key=value`` pair of a managed Service's selector: every Pod it selects carries that pair."""
    if not is_managed(service):
        return []
    sel = _selector(service)
    key = min(sel)
    return [f"{meta_of(service).get('namespace', '')}/{key}={sel[key]}"]


def pod_label_index(pod: Obj) -> list[str]:
    ns = meta_of(pod).get("namespace", "")
    return [f"{ns}/{k}={v}" for k, v in labels_of(pod).items()]


def pod_node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def slice_service_index(slice_: Obj) -> list[str]:
    name = labels_of(slice_).get(LABEL_SERVICE_NAME)
    return [f"{meta_of(slice_).get('namespace', '')}/{name}"] if name else []


def pod_projection(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything of a Pod the endpoints depend on, labels aside (podEndpointsChanged, plus phase and node)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return (
        meta_of(pod).get("deletionTimestamp") is not None,
        is_pod_ready(pod),
        is_pod_terminal(pod),
        tuple(pod_ips(pod)),
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
        status.get("podIP"),
    )


class _NodeView(Mapping[str, Obj]):
    """The Nodes cache as the read-only mapping ``desired.plan`` wants (no copy per sync)."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    def __getitem__(self, name: str) -> Obj:
        node = self._cache.get(None, name)
        if node is None:
            raise KeyError(name)
        return node

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache.keys())

    def __len__(self) -> int:
        return len(self._cache)


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------


class WriteMetrics:
    """``kubelite_endpoints_writes_total`` and friends, registered once per process registry."""

    def __init__(self, metrics: RuntimeMetrics) -> None:
        r = metrics.registry
        self.writes = Counter("kubelite_endpoints_writes", "API writes by the endpoints controller.",
                              ["resource", "verb"], registry=r)
        self.noop_writes = Counter(
            "kubelite_endpoints_noop_writes",
            "Updates the API server found nothing to change in (a wasted write; should stay 0).",
            ["resource"], registry=r)
        self.stale_syncs = Counter("kubelite_endpoints_stale_syncs",
                                   "Syncs postponed because the cache had not seen our last write.", registry=r)
        for resource in ("endpoints", "endpointslices"):
            self.noop_writes.labels(resource=resource)
            for verb in ("create", "update", "delete"):
                self.writes.labels(resource=resource, verb=verb)


# ---------------------------------------------------------------------------
# the controller
# ---------------------------------------------------------------------------


class EndpointsController(Controller):
    """Keeps every selector Service's Endpoints and EndpointSlices equal to ``desired.plan``."""

    name = "endpoints"

    def __init__(
        self,
        client: Client,
        *,
        metrics: RuntimeMetrics | None = None,
        writes: WriteMetrics | None = None,
        workers: int = 5,
        batch_period: float = 0.02,
        max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    ) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.writes = writes
        self.batch_period = batch_period
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.tracker = WriteTracker()
        self.trigger_times = TriggerTimeTracker()

        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.endpoints = self.informer(ENDPOINTS)
        self.slices = self.informer(SLICES, label_selector=f"{LABEL_MANAGED_BY}={MANAGED_BY}")
        self.nodes = self.informer(NODES)
        self.services.cache.add_index(SELECTOR_INDEX, selector_index)
        self.pods.cache.add_index(POD_LABEL_INDEX, pod_label_index)
        self.pods.cache.add_index(POD_NODE_INDEX, pod_node_index)
        self.slices.cache.add_index(SLICE_SERVICE_INDEX, slice_service_index)
        self.node_view = _NodeView(self.nodes.cache)

        self.services.add_handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n),
                                  on_delete=self.enqueue)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_added)
        self.endpoints.add_handler(on_add=self._endpoints_event, on_update=lambda _o, n: self._endpoints_event(n),
                                   on_delete=lambda o: self._endpoints_event(o, deleted=True))
        self.slices.add_handler(on_add=self._slice_event, on_update=lambda _o, n: self._slice_event(n),
                                on_delete=lambda o: self._slice_event(o, deleted=True))
        self.nodes.add_handler(on_add=self._node_changed, on_update=self._node_updated,
                               on_delete=self._node_changed)

    # ---- event handlers: map to Service keys -------------------------------

    def services_for(self, namespace: str, labels: Mapping[str, str]) -> set[str]:
        """Keys of the Services whose selector matches ``labels`` in ``namespace`` (via the selector index)."""
        keys: set[str] = set()
        probe = {"metadata": {"namespace": namespace, "labels": dict(labels)}}
        for k, v in labels.items():
            for svc in self.services.cache.by_index(SELECTOR_INDEX, f"{namespace}/{k}={v}"):
                if selects(svc, probe):
                    keys.add(object_key(svc))
        return keys

    def _enqueue_batched(self, keys: set[str]) -> None:
        for key in keys:
            if self.batch_period > 0:
                self.queue.add_after(key, self.batch_period)
            else:
                self.queue.add(key)

    def _pod_added(self, pod: Obj) -> None:
        self._enqueue_batched(self.services_for(str(meta_of(pod).get("namespace") or ""), labels_of(pod)))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        """GetServicesToUpdateOnPodChange: nothing, the new labels' Services, or both sets."""
        if meta_of(old).get("resourceVersion") == meta_of(new).get("resourceVersion") and old == new:
            return
        ns = str(meta_of(new).get("namespace") or "")
        pod_changed = pod_projection(old) != pod_projection(new)
        labels_changed = labels_of(old) != labels_of(new)
        if not pod_changed and not labels_changed:
            return
        services = self.services_for(ns, labels_of(new))
        if labels_changed:
            previous = self.services_for(ns, labels_of(old))
            services = services | previous if pod_changed else services ^ previous
        self._enqueue_batched(services)

    def _endpoints_event(self, ep: Obj, *, deleted: bool = False) -> None:
        if not self.tracker.observed("endpoints", ep, deleted=deleted):
            self.queue.add(object_key(ep))

    def _slice_event(self, slice_: Obj, *, deleted: bool = False) -> None:
        if self.tracker.observed("endpointslices", slice_, deleted=deleted):
            return
        for key in slice_service_index(slice_):
            self.queue.add(key)

    def _services_on_node(self, node_name: str) -> set[str]:
        keys: set[str] = set()
        for pod in self.pods.cache.by_index(POD_NODE_INDEX, node_name):
            keys |= self.services_for(str(meta_of(pod).get("namespace") or ""), labels_of(pod))
        return keys

    def _node_changed(self, node: Obj) -> None:
        self._enqueue_batched(self._services_on_node(str(meta_of(node).get("name") or "")))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if labels_of(old).get(LABEL_ZONE) != labels_of(new).get(LABEL_ZONE):
            self._node_changed(new)

    # ---- start ---------------------------------------------------------------

    def start_keys(self) -> list[str]:
        """Every Service, plus the owners of every Endpoints and managed slice (to find leftovers)."""
        keys = set(self.services.cache.keys())
        for ep in self.endpoints.cache.list():
            if ANNOTATION_LEADER not in (meta_of(ep).get("annotations") or {}):
                keys.add(object_key(ep))
        for s in self.slices.cache.list():
            keys.update(slice_service_index(s))
        return sorted(keys)

    # ---- reconcile -------------------------------------------------------------

    def _lookup(self, resource: str, namespace: str, name: str) -> Obj | None:
        cache = self.endpoints.cache if resource == "endpoints" else self.slices.cache
        return cache.get(namespace, name)

    def candidate_pods(self, service: Obj) -> list[Obj]:
        """The namespace's Pods carrying the selector pair with the fewest Pods (then filtered by ``plan``)."""
        ns = str(meta_of(service).get("namespace") or "")
        best: list[Obj] | None = None
        for k, v in _selector(service).items():
            pods = self.pods.cache.by_index(POD_LABEL_INDEX, f"{ns}/{k}={v}")
            if best is None or len(pods) < len(best):
                best = pods
            if not best:
                break
        return best or []

    def _count(self, resource: str, verb: str) -> None:
        if self.writes is not None:
            self.writes.writes.labels(resource=resource, verb=verb).inc()
        self.count(f"{verb}_{resource}")

    async def reconcile(self, key: str) -> None:
        if self.tracker.stale(key, self._lookup):
            if self.writes is not None:
                self.writes.stale_syncs.inc()
            raise RequeueAfter(STALE_RETRY)
        ns, name = split_key(key)
        service = self.services.cache.get(ns, name)
        if service is None:
            await self._cleanup(key, ns, name)
            return
        existing_slices = self.slices.cache.by_index(SLICE_SERVICE_INDEX, key)
        if not is_managed(service):
            self.trigger_times.delete(key)
            for s in existing_slices:
                await self._delete_slice(key, s)
            return
        pods = [p for p in self.candidate_pods(service) if selects(service, p)]
        existing_endpoints = self.endpoints.cache.get(ns, name)
        outcome = desired.plan(
            service, pods, self.node_view,
            existing_endpoints=existing_endpoints,
            existing_slices=existing_slices,
            trigger_time=self.trigger_times.compute(key, service, pods),
            max_endpoints_per_slice=self.max_endpoints_per_slice,
        )
        # Endpoints and slices are independent objects: write them concurrently (one round trip, not two)
        writes = [self._write_slices(key, outcome.slices, existing_slices)]
        if outcome.endpoints is not None:
            writes.append(self._write_endpoints(key, outcome.endpoints, existing_endpoints))
        results = await asyncio.gather(*writes, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        if outcome.missing_nodes:
            raise RequeueAfter(MISSING_NODE_RETRY, f"Pods on unknown Nodes left out: {', '.join(outcome.missing_nodes)}")

    async def _write_endpoints(self, key: str, want: Obj, have: Obj | None) -> None:
        if have is not None and same_endpoints(want, have):
            return
        try:
            if have is None:
                body = dict(want)
                body["metadata"] = {k: v for k, v in want["metadata"].items() if k != "resourceVersion"}
                done = await self.client.create(ENDPOINTS, body)
                self._count("endpoints", "create")
            else:
                done = await self.client.update(ENDPOINTS, want)
                self._count("endpoints", "update")
                if meta_of(done).get("resourceVersion") == meta_of(have).get("resourceVersion"):
                    self._noop("endpoints")
        except (errors.AlreadyExists, errors.NotFound) as e:
            raise RequeueAfter(0.1, f"Endpoints {key} changed under us: {e}") from e
        self.tracker.wrote(key, "endpoints", done)

    async def _write_slices(self, key: str, want: list[Obj], have: list[Obj]) -> None:
        by_name = {str(meta_of(s).get("name")): s for s in have}
        wanted = {str(meta_of(s).get("name")) for s in want if meta_of(s).get("name")}
        for s in want:
            name = meta_of(s).get("name")
            if name:
                continue
            done = await self.client.create(SLICES, s)
            self._count("endpointslices", "create")
            self.tracker.wrote(key, "endpointslices", done)
        for s in want:
            name = str(meta_of(s).get("name") or "")
            if not name:
                continue
            current = by_name.get(name)
            if current is None:
                raise RequeueAfter(0.1, f"EndpointSlice {name} vanished from the cache")
            if same_slice(s, current):
                continue
            body = dict(s)
            body["metadata"] = {**s["metadata"], "resourceVersion": meta_of(current).get("resourceVersion")}
            try:
                done = await self.client.update(SLICES, body)
            except errors.NotFound as e:
                raise RequeueAfter(0.1, f"EndpointSlice {name} deleted under us") from e
            self._count("endpointslices", "update")
            if meta_of(done).get("resourceVersion") == meta_of(current).get("resourceVersion"):
                self._noop("endpointslices")
            self.tracker.wrote(key, "endpointslices", done)
        for name, s in sorted(by_name.items()):
            if name not in wanted:
                await self._delete_slice(key, s)

    def _noop(self, resource: str) -> None:
        if self.writes is not None:
            self.writes.noop_writes.labels(resource=resource).inc()
        self.log.warning("%s: an update of %s changed nothing", self.name, resource)

    async def _delete_slice(self, key: str, s: Obj) -> None:
        ns, name = str(meta_of(s).get("namespace") or ""), str(meta_of(s).get("name") or "")
        try:
            await self.client.delete(SLICES, name, namespace=ns)
            self._count("endpointslices", "delete")
        except errors.NotFound:
            pass
        self.tracker.deleted(key, "endpointslices", ns, name)

    async def _cleanup(self, key: str, ns: str, name: str) -> None:
        """The Service is gone: delete its Endpoints and our slices."""
        self.trigger_times.delete(key)
        if self.endpoints.cache.get(ns, name) is not None:
            try:
                await self.client.delete(ENDPOINTS, name, namespace=ns)
                self._count("endpoints", "delete")
            except errors.NotFound:
                pass
            self.tracker.deleted(key, "endpoints", ns, name)
        for s in self.slices.cache.by_index(SLICE_SERVICE_INDEX, key):
            await self._delete_slice(key, s)


# ---------------------------------------------------------------------------
# process entry points
# ---------------------------------------------------------------------------


def build_endpoints_parser() -> argparse.ArgumentParser:
    p = build_parser("endpoints", "Keep Endpoints and EndpointSlices of selector Services in step with their Pods.")
    p.set_defaults(workers=5)
    p.add_argument("--endpoint-updates-batch-period", type=duration, default=0.02, metavar="DURATION",
                   help="delay Pod-driven syncs by this much so bursts of Pod changes are batched (default 20ms; 0 disables)")
    p.add_argument("--max-endpoints-per-slice", type=int, default=MAX_ENDPOINTS_PER_SLICE)
    return p


async def run(argv: list[str]) -> int:
    """``kubelite controller endpoints [flags]``: run until SIGTERM; returns the exit code."""
    registered: dict[int, WriteMetrics] = {}

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        writes = registered.get(id(metrics.registry))
        if writes is None:
            writes = registered[id(metrics.registry)] = WriteMetrics(metrics)
        return EndpointsController(
            client, metrics=metrics, writes=writes, workers=args.workers,
            batch_period=args.endpoint_updates_batch_period,
            max_endpoints_per_slice=args.max_endpoints_per_slice,
        )

    return await run_controller_process("endpoints", argv, factory, parser=build_endpoints_parser())


def command() -> click.Command:
    """The click command the CLI mounts as ``kubelite controller endpoints`` (flags parsed by argparse)."""

    @click.command(
        name="endpoints",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def endpoints(args: tuple[str, ...]) -> None:
        """Run the Endpoints/EndpointSlice controller (--help for its flags)."""
        sys.exit(asyncio.run(run(list(args))))

    return endpoints


async def main(argv: list[str]) -> int:
    """The entry ``kubelite controller endpoints`` calls (``kubelite/cli.py`` CONTROLLERS)."""
    return await run(argv)
