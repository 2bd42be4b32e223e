"""Process plumbing shared by every controller process.

Why: each controller is its own OS process (as kube-controller-manager's
loops would be), and they must all behave the same way to an operator: the
same flags (``--server``, ``--kubeconfig``/KUBECONFIG, ``--context``,
``--metrics-port``, ``--leader-elect``...), one log line per action,
/healthz and /metrics on 127.0.0.1, and a clean stop on SIGTERM/SIGINT
(the leading term is cancelled and the lease released before exit).

With leader election on, a fresh controller is built for every leadership
term: a term that ended (lease lost) leaves no half-used cache or queue
behind, and the process goes back to contending for the lease.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apimachinery.leases import controller_lease_name
from controllers.runtime.controller import Controller
from controllers.runtime.leaderelection import LeaderElectionConfig, LeaderElector
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.signals import run_until_stopped, stop_signals
from kubeclient.client import Client
from kubeclient.kubeconfig import ConfigError, load_config

log = logging.getLogger("controllers.process")

ControllerFactory = Callable[[Client, RuntimeMetrics, argparse.Namespace], Controller]

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h)?)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """Seconds from ``15s``, ``1.5s``, ``500ms``, ``2m`` or a bare number (Go duration subset)."""
    m = _DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def build_parser(name: str, description: str = "") -> argparse.ArgumentParser:
    """The flags every controller process accepts; add controller-specific ones to the result."""
    p = argparse.ArgumentParser(prog=f"kubelite controller {name}", description=description)
    p.add_argument("--server", "-s", help="API server URL (overrides the kubeconfig's server)")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use (default: current-context)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve /healthz and /metrics on 127.0.0.1:PORT (0 picks a free port)")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True,
                   help="run only while holding a coordination.k8s.io/v1 Lease (default: on)")
    p.add_argument("--leader-elect-lease-duration", type=duration, default=15.0, metavar="DURATION")
    p.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0, metavar="DURATION")
    p.add_argument("--leader-elect-retry-period", type=duration, default=2.0, metavar="DURATION")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--leader-elect-resource-name", default=controller_lease_name(name))
    p.add_argument("--leader-elect-identity", default=None, metavar="ID",
                   help="this process's holder identity (default: hostname_pid_random, unique per process); a "
                        "supervisor that restarts a crashed process gives it the same one, so the successor "
                        "takes its predecessor's lease at once instead of waiting it out")
    p.add_argument("--workers", type=int, default=2, help="concurrent reconciles")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


class MetricsServer:
    """A minimal HTTP/1.1 endpoint for /healthz and /metrics (one request per connection)."""

    def __init__(self, metrics: RuntimeMetrics, *, healthy: Callable[[], bool] = lambda: True) -> None:
        self.metrics = metrics
        self.healthy = healthy
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, port: int, host: str = "127.0.0.1") -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            while True:
                h = await asyncio.wait_for(reader.readline(), timeout=10)
                if h in (b"\r\n", b"\n", b""):
                    break
            parts = line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else "/"
            if path == "/healthz":
                ok = self.healthy()
                status, ctype, body = ("200 OK" if ok else "500 Internal Server Error"), "text/plain", (
                    b"ok" if ok else b"unhealthy")
            elif path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.metrics.registry)
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"404 page not found\n"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _serve(name: str, args: argparse.Namespace, client: Client, metrics: RuntimeMetrics,
                 factory: ControllerFactory, elector: LeaderElector | None) -> None:
    if elector is None:
        log.info("%s: leader election disabled; starting", name)
        await factory(client, metrics, args).run()
        return
    while True:
        ctl = factory(client, metrics, args)
        await elector.run(ctl.run)
        log.info("%s: leadership ended; contending again", name)


async def run_controller_process(
    name: str,
    argv: list[str],
    factory: ControllerFactory,
    *,
    parser: argparse.ArgumentParser | None = None,
) -> int:
    """Parse flags, connect, serve metrics, (elect and) run until SIGTERM/SIGINT. Returns the exit code."""
    p = parser or build_parser(name)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    setup_logging(args.log_level)
    try:
        cfg = load_config(kubeconfig=args.kubeconfig, context=args.context, server=args.server)
    except ConfigError as e:
        log.error("%s: %s", name, e)
        return 1
    client = Client.from_config(cfg)
    metrics = RuntimeMetrics()
    elector: LeaderElector | None = None
    if args.leader_elect:
        try:
            le_cfg = LeaderElectionConfig(
                lease_name=args.leader_elect_resource_name,
                namespace=args.leader_elect_resource_namespace,
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period,
                **({"identity": args.leader_elect_identity} if args.leader_elect_identity else {}),
            )
        except ValueError as e:
            log.error("%s: %s", name, e)
            await client.close()
            return 1
        elector = LeaderElector(client, le_cfg)
        el = elector
        metrics.watch_leader(name, lambda: el.is_leader)
    server: MetricsServer | None = None
    if args.metrics_port is not None:
        server = MetricsServer(metrics)
        port = await server.start(args.metrics_port)
        log.info("%s: serving /healthz and /metrics on 127.0.0.1:%d", name, port)

    code = 0
    try:
        with stop_signals() as stop:
            log.info("%s: starting against %s", name, cfg.server)
            exc = await run_until_stopped(_serve(name, args, client, metrics, factory, elector), stop,
                                          name=f"{name}:main", label=name, log=log)
        if exc is not None:
            log.error("%s: stopped with error: %r", name, exc)
            code = 1
    finally:
        if server is not None:
            await server.stop()
        await client.close()
        log.info("%s: stopped", name)
    return code
