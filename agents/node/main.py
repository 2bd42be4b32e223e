"""``kubelite node``: one node (kubelet), plus the elected scheduler and node lifecycle pass.

Process shape: register the Node (retrying until the API answers), then run
three things until SIGTERM/SIGINT: the heartbeat (Lease renewals, Node kept
Ready), the Pod agent for this node, and, only while this process holds the
``kube-system/kube-scheduler`` Lease, the scheduler and the node lifecycle
pass (a fresh instance of each per leadership term). /healthz and /metrics
are served on 127.0.0.1 when ``--metrics-port`` is given; the kubelet API
(``/containerLogs``) on the node IP at ``--kubelet-port``.

``--runtime simulated`` (the default) runs no processes; ``--runtime
process`` runs every container as a local process bound to its Pod IP
(``runtime``). The process runtime refuses to start unless the pod CIDR and
the node IP are loopback addresses: Pods then really listen on them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
from prometheus_client import Counter

from agents.node.agent import PodAgent
from agents.node.heartbeat import NodeHeartbeat, RegistrationError
from agents.node.kubeletserver import KubeletServer
from agents.node.lifecycle import NodeLifecycle
from agents.node.runtime import ProcessRuntime
from agents.node.scheduler import Scheduler
from controllers.runtime.informers import InformerFactory
from controllers.runtime.leaderelection import LeaderElectionConfig, LeaderElector
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import MetricsServer, duration, setup_logging
from controllers.runtime.signals import run_until_stopped, stop_signals
from kubeclient import errors
from kubeclient.client import Client
from kubeclient.kubeconfig import ConfigError, load_config

log = logging.getLogger("agents.node")

SCHEDULER_LEASE = "kube-scheduler"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubelite node", description="Run a simulated node (kubelet) agent.")
    p.add_argument("--server", "-s", help="API server URL (overrides the kubeconfig's server)")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--name", required=True, help="the Node's name")
    p.add_argument("--pod-cidr", required=True, help="the Node's podCIDR; pod IPs come from it (data only)")
    p.add_argument("--node-ip", default="127.0.0.1", help="the Node's InternalIP, also the Pods' hostIP")
    p.add_argument("--zone", default=None, help="topology.kubernetes.io/zone label of the Node")
    p.add_argument("--max-pods", type=int, default=110)
    p.add_argument("--node-lease-duration-seconds", type=int, default=40,
                   help="Lease duration; the Lease is renewed every quarter of it (default 40, renewed every 10s)")
    p.add_argument("--node-monitor-grace-period", type=duration, default=40.0, metavar="DURATION",
                   help="a Node whose Lease is not renewed for this long is marked NotReady (default 40s)")
    p.add_argument("--node-monitor-period", type=duration, default=5.0, metavar="DURATION")
    p.add_argument("--workers", type=int, default=4, help="concurrent Pod reconciles")
    p.add_argument("--runtime", choices=["simulated", "process"], default="simulated",
                   help="simulated: no processes (default); process: containers run as local processes on their "
                        "loopback Pod IPs (needs a loopback --pod-cidr and --node-ip)")
    p.add_argument("--simulated-exit-delay", type=duration, default=1.0, metavar="DURATION",
                   help="simulated runtime: how long a deleted Pod's containers take to exit on SIGTERM (default "
                        "1s; never longer than the grace period). A Pod annotated kubelite.io/ignore-sigterm: "
                        "\"true\" waits out its whole grace period instead")
    p.add_argument("--root-dir", default=None,
                   help="the process runtime's state, sandboxes and container logs "
                        "(default: TMPDIR/kubelite-node-NAME)")
    p.add_argument("--kubelet-port", type=int, default=10250,
                   help="serve the kubelet API (container logs) on NODE_IP:PORT; a taken port falls back to a free one")
    p.add_argument("--restart-backoff", type=duration, default=10.0, metavar="DURATION",
                   help="first CrashLoopBackOff delay, doubling up to --restart-backoff-max (default 10s)")
    p.add_argument("--restart-backoff-max", type=duration, default=300.0, metavar="DURATION")
    p.add_argument("--sync-frequency", type=duration, default=3.0, metavar="DURATION",
                   help="how often a Pod that consumes ConfigMaps, Secrets or downward API volumes is synced again: "
                        "a container waiting for a missing reference retries, volume files follow their sources "
                        "(default 3s; the kubelet's is 1m)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve /healthz and /metrics on 127.0.0.1:PORT")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True,
                   help="run the scheduler and lifecycle pass only while holding kube-system/kube-scheduler")
    p.add_argument("--leader-elect-lease-duration", type=duration, default=15.0, metavar="DURATION")
    p.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0, metavar="DURATION")
    p.add_argument("--leader-elect-retry-period", type=duration, default=2.0, metavar="DURATION")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class NodeMetrics:
    """``kubelite_node_writes_total{what=...}``: every API write the agent makes, by purpose."""

    def __init__(self, metrics: RuntimeMetrics) -> None:
        self.writes = Counter("kubelite_node_writes", "API writes by the node agent.", ["what"],
                              registry=metrics.registry)

    def count(self, what: str) -> None:
        self.writes.labels(what=what).inc()


async def run_all(*coros: Coroutine[Any, Any, None]) -> None:
    """Run coroutines as tasks until one fails or we are cancelled; then stop the rest and wait for them.

    Unlike a bare ``gather``, cancellation returns only once every task has
    finished its cleanup (the elector releases its Lease in a ``finally``),
    and a task already handling its cancellation is not cancelled twice.
    """
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            if not t.done() and t.cancelling() == 0:
                t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


async def _register(heartbeat: NodeHeartbeat) -> None:
    delay = 0.5
    while True:
        try:
            await heartbeat.register()
            return
        except (errors.ConnectionFailed, errors.ServerError, errors.TooManyRequests, errors.Conflict) as e:
            log.warning("registering Node %s failed: %s; retrying in %.1fs", heartbeat.node_name, e, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


def loopback_problem(pod_cidr: str, node_ip: str) -> str:
    """Why the process runtime may not start with these addresses ("" when it may)."""
    net = ipaddress.ip_network(pod_cidr, strict=False)
    if not (net.network_address.is_loopback and net.broadcast_address.is_loopback):
        return (f"--pod-cidr {pod_cidr} is not inside 127.0.0.0/8: the process runtime binds Pods to their IPs, "
                "so it only runs with a loopback pod CIDR (e.g. 127.10.1.0/24)")
    try:
        ip = ipaddress.ip_address(node_ip)
    except ValueError:
        return f"--node-ip {node_ip} is not an IP address"
    if not ip.is_loopback:
        return f"--node-ip {node_ip} is not a loopback address: the process runtime only runs on loopback"
    return ""


async def _serve(args: argparse.Namespace, client: Client, metrics: RuntimeMetrics, counters: NodeMetrics,
                 elector: LeaderElector | None, runtime: ProcessRuntime | None, kubelet_port: int) -> None:
    heartbeat = NodeHeartbeat(client, node_name=args.name, pod_cidr=args.pod_cidr, address=args.node_ip,
                              zone=args.zone, max_pods=args.max_pods, lease_duration=args.node_lease_duration_seconds,
                              on_write=counters.count, kubelet_port=kubelet_port)
    await _register(heartbeat)
    await heartbeat.renew_lease()
    agent = PodAgent(client, node_name=args.name, pod_cidr=args.pod_cidr, host_ip=args.node_ip, metrics=metrics,
                     on_write=counters.count, workers=args.workers, runtime=runtime,
                     exit_after=args.simulated_exit_delay, config_sync=args.sync_frequency,
                     restart_backoff=(args.restart_backoff, args.restart_backoff_max))

    async def lead() -> None:
        # One factory per leadership term: the scheduler and the lifecycle pass share one LIST+WATCH of
        # Pods and of Nodes, and a node that loses the lease stops watching every Pod of the cluster.
        informers = InformerFactory(client)
        scheduler = Scheduler(client, metrics=metrics, informers=informers)
        lifecycle = NodeLifecycle(client, grace=args.node_monitor_grace_period, period=args.node_monitor_period,
                                  metrics=metrics, on_write=counters.count, informers=informers)
        try:
            await run_all(scheduler.run(), lifecycle.run())
        finally:
            await informers.shutdown()

    async def elected() -> None:
        if elector is None:
            await lead()
            return
        while True:
            await elector.run(lead)
            log.info("node %s: scheduler leadership ended; contending again", args.name)

    await run_all(heartbeat.run(), agent.run(), elected())


async def run(argv: list[str]) -> int:
    """``kubelite node [flags]``: run until SIGTERM; returns the exit code."""
    p = build_parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    setup_logging(args.log_level)
    try:
        ipaddress.ip_network(args.pod_cidr, strict=False)
    except ValueError as e:
        log.error("invalid --pod-cidr: %s", e)
        return 2
    runtime: ProcessRuntime | None = None
    if args.runtime == "process":
        problem = loopback_problem(args.pod_cidr, args.node_ip)
        if problem:
            log.error("node %s: refusing to start: %s", args.name, problem)
            return 2
        root = Path(args.root_dir or Path(tempfile.gettempdir()) / f"kubelite-node-{args.name}")
        runtime = ProcessRuntime(root=root, node_name=args.name, on_change=lambda _key: None,
                                 backoff_initial=args.restart_backoff, backoff_max=args.restart_backoff_max)
        killed = runtime.start()
        if killed:
            log.info("node %s: stopped %d container processes left by a previous run", args.name, killed)
    try:
        cfg = load_config(kubeconfig=args.kubeconfig, context=args.context, server=args.server)
    except ConfigError as e:
        log.error("node %s: %s", args.name, e)
        return 1
    client = Client.from_config(cfg)
    metrics = RuntimeMetrics()
    counters = NodeMetrics(metrics)
    elector: LeaderElector | None = None
    if args.leader_elect:
        try:
            le_cfg = LeaderElectionConfig(lease_name=SCHEDULER_LEASE, namespace="kube-system",
                                          identity=args.name,
                                          lease_duration=args.leader_elect_lease_duration,
                                          renew_deadline=args.leader_elect_renew_deadline,
                                          retry_period=args.leader_elect_retry_period)
        except ValueError as e:
            log.error("node %s: %s", args.name, e)
            await client.close()
            return 1
        elector = LeaderElector(client, le_cfg)
        el = elector
        metrics.watch_leader("scheduler", lambda: el.is_leader)
    server: MetricsServer | None = None
    if args.metrics_port is not None:
        server = MetricsServer(metrics)
        port = await server.start(args.metrics_port)
        log.info("node %s: serving /healthz and /metrics on 127.0.0.1:%d", args.name, port)
    kubelet: KubeletServer | None = None
    kubelet_port = args.kubelet_port
    if _is_ip(args.node_ip) and ipaddress.ip_address(args.node_ip).is_loopback:
        lookup = None
        if runtime is not None:
            rt = runtime

            def lookup_fn(ns: str, pod: str, container: str, previous: bool) -> Any:
                return rt.log_source(ns, pod, container, previous=previous)

            lookup = lookup_fn
        kubelet = KubeletServer(lookup, unavailable="container logs are not available: this node runs the "
                                                    "simulated runtime (start it with --runtime process)")
        kubelet_port = await kubelet.start(args.node_ip, args.kubelet_port)
        log.info("node %s: kubelet API on %s:%d", args.name, args.node_ip, kubelet_port)

    async def stop_containers() -> None:
        if runtime is not None:
            await runtime.shutdown()  # first: releasing the Lease may wait on an API server that is gone too

    code = 0
    try:
        with stop_signals() as stop:
            log.info("node %s: starting against %s (podCIDR %s)", args.name, cfg.server, args.pod_cidr)
            exc = await run_until_stopped(_serve(args, client, metrics, counters, elector, runtime, kubelet_port),
                                          stop, name=f"node:{args.name}", label=f"node {args.name}", log=log,
                                          before_cancel=stop_containers)
        if exc is not None:
            log.error("node %s: stopped with error: %s", args.name,
                      exc if isinstance(exc, RegistrationError) else repr(exc))
            code = 1
    finally:
        if server is not None:
            await server.stop()
        if kubelet is not None:
            await kubelet.stop()
        await client.close()
        log.info("node %s: stopped", args.name)
    return code


def command() -> click.Command:
    """The click command the CLI mounts as ``kubelite node`` (flags parsed by argparse)."""

    @click.command(
        name="node",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def node(args: tuple[str, ...]) -> None:
        """Run a simulated node agent (--help for its flags)."""
        sys.exit(asyncio.run(run(list(args))))

    return node


async def main(argv: list[str]) -> int:
    """The entry ``kubelite node`` calls (``kubelite/cli.py`` PROCESSES)."""
    return await run(argv)
