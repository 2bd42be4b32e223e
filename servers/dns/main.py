"""The DNS process: informers feed the ClusterView, the server answers from it.

Why no workqueue: DNS has nothing to write back.  Each watch event is applied
to the view in the informer's handler, which drops the precomputed answers
that read the changed keys, so an answer follows its Service or endpoint
within one event-loop turn of the watch event (well under 100 ms).

Every replica serves (no leader election).  The server starts before the
informers have listed: until all of them have synced it answers SERVFAIL
for in-zone names, never a false NXDOMAIN.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from apimachinery.resources import BY_KEY
from controllers.runtime.informer import Informer
from controllers.runtime.process import setup_logging
from controllers.runtime.signals import run_until_stopped, stop_signals
from kubeclient.client import Client
from kubeclient.kubeconfig import ConfigError, load_config
from servers.dns.publish import KubeDnsEndpoints
from servers.dns.server import DnsServer
from servers.dns.view import DEFAULT_TTL, DEFAULT_ZONE, PODS_MODES, ClusterView, Obj

log = logging.getLogger("servers.dns")


def informers(client: Client, view: ClusterView) -> list[Informer]:
    """One informer per resource the view indexes, each wired to the view's mutators.

    Pods are watched only in ``verified`` mode, as CoreDNS does.
    """
    wiring: list[tuple[str, Callable[[Obj], None], Callable[[Obj], None]]] = [
        ("namespaces", view.set_namespace, view.delete_namespace),
        ("services", view.set_service, view.delete_service),
        ("endpointslices.discovery.k8s.io", view.set_endpoint_slice, view.delete_endpoint_slice),
    ]
    if view.pods_mode == "verified":
        wiring.append(("pods", view.set_pod, view.delete_pod))
    result = []
    for key, upsert, delete in wiring:
        informer = Informer(client, BY_KEY[key])
        informer.add_handler(on_add=upsert, on_update=_updater(upsert), on_delete=delete)
        result.append(informer)
    return result


def _updater(upsert: Callable[[Obj], None]) -> Callable[[Obj, Obj], None]:
    def on_update(_old: Obj, new: Obj) -> None:
        upsert(new)

    return on_update


async def run(
    *,
    server: str,
    port: int = 53,
    zone: str = DEFAULT_ZONE,
    bind: str = "127.0.0.1",
    upstream: str | None = None,
    pods_mode: str = "verified",
    ttl: int = DEFAULT_TTL,
    kubeconfig: str | None = None,
    context: str | None = None,
    on_ready: Callable[[int], None] | None = None,
    view: ClusterView | None = None,
    publish: bool = False,
) -> None:
    """Serve cluster DNS on ``bind:port`` (UDP and TCP) from the API server at ``server``.

    Runs until cancelled.  ``on_ready(port)`` is called once the sockets are
    bound (port 0 picks a free one); ``view`` lets a caller (tests) look inside. With ``publish``
    this server's address goes into kube-dns's endpoints (servers/dns/publish.py).
    """
    cfg = load_config(kubeconfig=kubeconfig, context=context, server=server)
    view = view or ClusterView(zone=zone, pods_mode=pods_mode, ttl=ttl, nameserver_ips=[bind])
    async with Client.from_config(cfg) as client, DnsServer(view, host=bind, port=port, upstream=upstream) as dns:
        if on_ready is not None:
            on_ready(dns.port)
        feeds = informers(client, view)
        tasks = [asyncio.create_task(i.run(), name=f"dns:{i.rt.key}") for i in feeds]
        published = KubeDnsEndpoints(client, bind=bind, port=dns.port) if publish else None
        try:
            await asyncio.gather(*(i.wait_synced() for i in feeds))
            view.mark_synced()
            log.info("dns: caches synced; answering for %s", view.zone)
            if published is not None:  # only once it answers: the address in kube-dns must work
                tasks.append(asyncio.create_task(published.run(), name="dns:kube-dns-endpoints"))
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if published is not None:
                await published.withdraw()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubelite dns", description="Serve cluster DNS (Kubernetes DNS spec 1.1.0).")
    p.add_argument("--server", "-s", default=None, help="API server URL (overrides the kubeconfig's server)")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--context", default=None)
    p.add_argument("--port", type=int, default=5353, help="UDP and TCP port (default 5353)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--zone", default=DEFAULT_ZONE, help="cluster domain (default cluster.local)")
    p.add_argument("--upstream", default=None, metavar="HOST:PORT",
                   help="forward names outside the zone here (default: answer REFUSED)")
    p.add_argument("--pods", dest="pods_mode", choices=PODS_MODES, default="verified",
                   help="pod records a-b-c-d.<ns>.pod.<zone> (default verified)")
    p.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="record TTL in seconds (default 5)")
    p.add_argument("--publish-endpoints", action=argparse.BooleanOptionalAction, default=True,
                   help="keep kube-system/kube-dns's Endpoints and EndpointSlice listing this server "
                        "(when kube-dns has no selector; default: on)")
    p.add_argument("--log-level", default="INFO", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


async def _main(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT, as every kubelite process stops (controllers.runtime.signals)."""
    with stop_signals() as stop:
        exc = await run_until_stopped(
            run(server=args.server, port=args.port, zone=args.zone, bind=args.bind, upstream=args.upstream,
                pods_mode=args.pods_mode, ttl=args.ttl, kubeconfig=args.kubeconfig, context=args.context,
                publish=args.publish_endpoints),
            stop, name="dns:main", label="dns", log=log)
    if exc is None:
        return 0
    log.error("dns: %s", exc if isinstance(exc, (ConfigError, ValueError, OSError)) else repr(exc))
    return 1


def main(argv: list[str] | None = None) -> int:
    """``python -m servers.dns.main --server http://127.0.0.1:8080 --port 5353``."""
    args = build_parser().parse_args(argv)
    setup_logging(str(args.log_level).upper())
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())

