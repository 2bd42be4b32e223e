"""``kubelite proxy --node NAME``: one node's service proxy; ``kubelite proxy --show-rules``: its iptables view.

Process shape: a controller whose key is a Service. Informers on Services,
EndpointSlices and Nodes; a Service event, or an event of one of its
slices, reconciles that Service: its service ports are recomputed
(``servicemap``) and handed to the ``dataplane``, which opens, retargets or
closes listeners at once (no batching), so an EndpointSlice change is in
effect within milliseconds of the proxy seeing it. Node events refresh
which node a client address belongs to.

Safety, checked at start: every ServiceCIDR, the node's InternalIP and
podCIDR, and ``--cluster-cidr`` must be inside 127.0.0.0/8, else the proxy
refuses to run (exit code 2). ``--show-rules`` only renders text, so it
works with any ranges.

Metrics (``--metrics-port``): connections by outcome, frontends served,
``kubeproxy_sync_proxy_rules_duration_seconds`` (one Service applied) and
``kubeproxy_network_programming_duration_seconds`` (from the slice's
``endpoints.kubernetes.io/last-change-trigger-time`` to applied; that
annotation has one-second resolution, so a value carries up to 1 s of it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.proxy.dataplane import Dataplane
from agents.proxy.iptables import Options, render
from agents.proxy.servicemap import service_ports, slices_of
from apimachinery.labels import ANNOTATION_TRIGGER_TIME, LABEL_SERVICE_NAME
from apimachinery.objects import as_map
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import parse_time
from controllers.runtime.controller import Controller
from controllers.runtime.informer import split_key
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import MetricsServer, duration, setup_logging
from controllers.runtime.signals import run_until_stopped, stop_signals
from kubeclient import errors
from kubeclient.client import Client
from kubeclient.kubeconfig import ConfigError, load_config

log = logging.getLogger("agents.proxy")

Obj = dict[str, Any]
SERVICES = BY_KEY["services"]
SLICES = BY_KEY["endpointslices.discovery.k8s.io"]
NODES = BY_KEY["nodes"]
SERVICECIDRS = BY_KEY["servicecidrs.networking.k8s.io"]
SLICE_SERVICE_INDEX = "service"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubelite proxy",
                                description="Forward Service traffic on loopback addresses (kube-proxy's job).")
    p.add_argument("--server", "-s", help="API server URL (overrides the kubeconfig's server)")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--node", help="the Node this proxy serves (kube-proxy's --hostname-override)")
    p.add_argument("--cluster-cidr", default=None,
                   help="the Pods' range: clients inside it are Pods (no masquerade, Local short-circuit)")
    p.add_argument("--show-rules", action="store_true",
                   help="print the iptables rules kube-proxy would program for the current state, and exit")
    p.add_argument("--bind-retry", type=duration, default=0.2, metavar="DURATION",
                   help="how often to retry addresses another proxy holds (default 200ms)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve /healthz and /metrics on 127.0.0.1:PORT")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def _internal_ip(node: Mapping[str, Any]) -> str:
    for a in as_map(node.get("status")).get("addresses") or []:
        if as_map(a).get("type") == "InternalIP":
            return str(as_map(a).get("address") or "")
    return ""


def _net_is_loopback(cidr: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    return net.network_address.is_loopback and net.broadcast_address.is_loopback


def loopback_problems(*, service_cidrs: list[str], node_ip: str, pod_cidr: str, cluster_cidr: str | None) -> list[str]:
    """Every reason the proxy may not carry traffic with these ranges (empty: it may)."""
    out = []
    for cidr in service_cidrs:
        if not _net_is_loopback(cidr):
            out.append(f"the service range {cidr} is not inside 127.0.0.0/8 (start the API server with "
                       "--service-cluster-ip-range 127.96.0.0/16, or use kubelite up --data-path)")
    if node_ip and not ipaddress.ip_address(node_ip).is_loopback:
        out.append(f"the node's InternalIP {node_ip} is not a loopback address")
    if pod_cidr and not _net_is_loopback(pod_cidr):
        out.append(f"the node's podCIDR {pod_cidr} is not inside 127.0.0.0/8")
    if cluster_cidr and not _net_is_loopback(cluster_cidr):
        out.append(f"--cluster-cidr {cluster_cidr} is not inside 127.0.0.0/8")
    return out


class ProxyMetrics(Collector):
    def __init__(self, metrics: RuntimeMetrics, dp: Dataplane) -> None:
        self.dp = dp
        self.sync = Histogram("kubeproxy_sync_proxy_rules_duration_seconds", "Time to apply one Service's change.",
                              registry=metrics.registry,
                              buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1))
        self.programming = Histogram("kubeproxy_network_programming_duration_seconds",
                                     "From an endpoints change (its trigger time) to the proxy applying it.",
                                     registry=metrics.registry,
                                     buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        metrics.registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = CounterMetricFamily("kubelite_proxy_connections", "Connections by outcome.", labels=["result"])
        counters = self.dp.counters
        for result, value in (("accepted", counters.accepted), ("forwarded", counters.forwarded),
                              ("retried", counters.retried), ("rejected", counters.rejected),
                              ("failed", counters.failed)):
            c.add_metric([result], value)
        yield c
        g = GaugeMetricFamily("kubelite_proxy_frontends", "Service addresses this proxy serves.", labels=["kind"])
        by_kind: dict[str, int] = {}
        for fe in self.dp.bound():
            by_kind[fe.kind] = by_kind.get(fe.kind, 0) + 1
        for kind in ("cluster", "nodeport", "loadbalancer", "external", "healthcheck"):
            g.add_metric([kind], by_kind.get(kind, 0))
        yield g


def _slice_service(slice_: Obj) -> list[str]:
    meta = as_map(slice_.get("metadata"))
    name = as_map(meta.get("labels")).get(LABEL_SERVICE_NAME)
    return [f"{meta.get('namespace', '')}/{name}"] if name else []


class ServiceProxy(Controller):
    name = "proxy"

    def __init__(self, client: Client, *, dataplane: Dataplane, metrics: RuntimeMetrics | None = None,
                 proxy_metrics: ProxyMetrics | None = None, bind_retry: float = 0.2) -> None:
        super().__init__(client, workers=1, metrics=metrics)
        self.dp = dataplane
        self.proxy_metrics = proxy_metrics
        self.bind_retry = bind_retry
        self.services = self.informer(SERVICES, enqueue=True)
        self.slices = self.informer(SLICES)
        self.slices.cache.add_index(SLICE_SERVICE_INDEX, _slice_service)
        self.handle(self.slices, on_add=self._slice_event, on_update=lambda _o, n: self._slice_event(n),
                                on_delete=self._slice_event)
        self.nodes = self.informer(NODES)
        self.handle(self.nodes, on_add=self._node_event, on_update=lambda _o, n: self._node_event(n),
                               on_delete=self._node_event)
        self._seen_triggers: dict[str, str] = {}

    def _slice_event(self, slice_: Obj) -> None:
        for key in _slice_service(slice_):
            self.queue.add(key)

    def _node_event(self, _node: Obj) -> None:
        self.dp.set_nodes((str(as_map(n.get("metadata")).get("name") or ""), _internal_ip(n),
                           str(as_map(n.get("spec")).get("podCIDR") or "")) for n in self.nodes.cache.list())

    def start_keys(self) -> list[str]:
        return sorted(set(self.services.cache.keys()) | set(self.slices.cache.index_values(SLICE_SERVICE_INDEX)))

    async def run(self) -> None:
        retry = asyncio.create_task(self.dp.retry_binds(self.bind_retry), name="proxy:retry-binds")
        try:
            await super().run()
        finally:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
            await self.dp.close()

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.cache.get(ns, name)
        slices = self.slices.cache.by_index(SLICE_SERVICE_INDEX, key)
        ports = [] if svc is None else service_ports(svc, slices)
        started = time.perf_counter()
        await self.dp.update(key, ports)
        done = time.time()
        if self.proxy_metrics is not None:
            self.proxy_metrics.sync.observe(time.perf_counter() - started)
        for s in slices:
            meta = as_map(s.get("metadata"))
            trigger = str(as_map(meta.get("annotations")).get(ANNOTATION_TRIGGER_TIME) or "")
            slice_key = f"{ns}/{meta.get('name')}"
            if trigger and self._seen_triggers.get(slice_key) != trigger:
                self._seen_triggers[slice_key] = trigger
                t = parse_time(trigger)
                if t is not None and self.proxy_metrics is not None:
                    self.proxy_metrics.programming.observe(max(0.0, done - t.timestamp()))


async def _list_all(client: Client, rt: Any) -> list[Obj]:
    items: list[Obj] = []
    cont: str | None = None
    while True:
        page = await client.list(rt, limit=500, continue_=cont)
        items += page.get("items") or []
        cont = as_map(page.get("metadata")).get("continue") or None
        if not cont:
            return items


async def rules_text(client: Client, *, node: str | None, cluster_cidr: str | None) -> str:
    """The rules for the API's current state, as ``--show-rules`` prints them."""
    services = await _list_all(client, SERVICES)
    slices = await _list_all(client, SLICES)
    node_ip = ""
    if node:
        node_ip = _internal_ip(await client.get(NODES, node))
    ports = []
    for svc in services:
        meta = as_map(svc.get("metadata"))
        ports += service_ports(svc, slices_of(slices, str(meta.get("namespace")), str(meta.get("name"))))
    return render(ports, Options(node_name=node or "", node_ip=node_ip, cluster_cidr=cluster_cidr))


async def _own_node(client: Client, name: str, stop: asyncio.Event) -> Obj | None:
    delay = 0.2
    while not stop.is_set():
        try:
            return await client.get(NODES, name)
        except (errors.NotFound, errors.ConnectionFailed, errors.ServerError) as e:
            log.info("proxy: waiting for Node %s (%s)", name, e)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):  # not wait_for: it can swallow a cancel (3.11)
                await stop.wait()
        delay = min(delay * 2, 2.0)
    return None


async def run(argv: list[str]) -> int:
    """``kubelite proxy [flags]``: run until SIGTERM (or print the rules); returns the exit code."""
    p = build_parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    setup_logging(args.log_level)
    if args.cluster_cidr:
        try:
            ipaddress.ip_network(args.cluster_cidr, strict=False)
        except ValueError as e:
            log.error("invalid --cluster-cidr: %s", e)
            return 2
    try:
        cfg = load_config(kubeconfig=args.kubeconfig, context=args.context, server=args.server)
    except ConfigError as e:
        log.error("proxy: %s", e)
        return 1
    client = Client.from_config(cfg)
    try:
        if args.show_rules:
            try:
                sys.stdout.write(await rules_text(client, node=args.node, cluster_cidr=args.cluster_cidr))
            except errors.ApiError as e:
                log.error("proxy: %s", e)
                return 1
            return 0
        if not args.node:
            log.error("proxy: --node is required (or use --show-rules)")
            return 2
        return await _serve(args, client)
    finally:
        await client.close()


async def _serve(args: argparse.Namespace, client: Client) -> int:
    with stop_signals() as stop:
        node = await _own_node(client, args.node, stop)
        if node is None:
            return 0
        try:
            cidrs = [str(c) for sc in await _list_all(client, SERVICECIDRS)
                     for c in as_map(sc.get("spec")).get("cidrs") or []]
        except errors.ApiError as e:
            log.error("proxy: cannot read ServiceCIDRs: %s", e)
            return 1
        node_ip = _internal_ip(node)
        problems = loopback_problems(service_cidrs=cidrs, node_ip=node_ip,
                                     pod_cidr=str(as_map(node.get("spec")).get("podCIDR") or ""),
                                     cluster_cidr=args.cluster_cidr)
        if problems:
            for problem in problems:
                log.error("proxy %s: refusing to start: %s", args.node, problem)
            return 2
        metrics = RuntimeMetrics()
        dp = Dataplane(node_name=args.node, node_ip=node_ip, cluster_cidr=args.cluster_cidr)
        pm = ProxyMetrics(metrics, dp)
        server: MetricsServer | None = None
        if args.metrics_port is not None:
            server = MetricsServer(metrics)
            port = await server.start(args.metrics_port)
            log.info("proxy %s: serving /healthz and /metrics on 127.0.0.1:%d", args.node, port)
        proxy = ServiceProxy(client, dataplane=dp, metrics=metrics, proxy_metrics=pm, bind_retry=args.bind_retry)
        log.info("proxy %s: starting against %s (node IP %s)", args.node, client.server, node_ip)
        code = 0
        try:
            exc = await run_until_stopped(proxy.run(), stop, name=f"proxy:{args.node}", label=f"proxy {args.node}",
                                          log=log)
            if exc is not None:
                log.error("proxy %s: stopped with error: %r", args.node, exc)
                code = 1
        finally:
            if server is not None:
                await server.stop()
            log.info("proxy %s: stopped", args.node)
        return code


async def main(argv: list[str]) -> int:
    """The entry ``kubelite proxy`` calls (``kubelite/cli.py`` PROCESSES)."""
    return await run(argv)
