"""``kubelite``: the server-side processes (API server, migrations, controllers, DNS, node agents)."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from apiserver.settings import Settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group()
@click.version_option(package_name="kubelite")
def main() -> None:
    """kubelite: a small, real, Kubernetes-compatible control plane for Services."""


F = TypeVar("F", bound=Callable[..., Any])


def _db_option(f: F) -> F:
    return click.option("--db", "db", envvar="KUBELITE_DB", default="",
                        help="SQLAlchemy URL (default: sqlite under --data-dir).")(f)


@main.command()
@click.option("--bind-address", envvar="KUBELITE_BIND_ADDRESS", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="KUBELITE_PORT", default=8080, show_default=True, type=int)
@click.option("--data-dir", envvar="KUBELITE_DATA_DIR", default="./.kubelite", show_default=True,
              type=click.Path(file_okay=False))
@_db_option
@click.option("--service-cluster-ip-range", envvar="KUBELITE_SERVICE_CLUSTER_IP_RANGE", default="10.96.0.0/12",
              show_default=True)
@click.option("--service-node-port-range", envvar="KUBELITE_SERVICE_NODE_PORT_RANGE", default="30000-32767",
              show_default=True)
@click.option("--keep-changes", envvar="KUBELITE_KEEP_CHANGES", default=10000, show_default=True, type=int,
              help="Changes kept for watch resumption before compaction.")
@click.option("--compact-interval", envvar="KUBELITE_COMPACT_INTERVAL", default=30.0, show_default=True,
              type=float, help="Seconds between compactions of the change log.")
@click.option("--log-level", default="info", show_default=True)
def apiserver(bind_address: str, port: int, data_dir: str, db: str, service_cluster_ip_range: str,
              service_node_port_range: str, keep_changes: int, compact_interval: float, log_level: str) -> None:
    """Run the API server (migrates the database to head first)."""
    import uvicorn

    import migrations
    from apiserver.app import create_app

    _setup_logging(log_level)
    if not _is_loopback(bind_address):
        raise click.UsageError(
            f"refusing to bind {bind_address}: without authentication and TLS the API server only listens on "
            "loopback (use --bind-address 127.0.0.1)"
        )
    settings = Settings(bind_address=bind_address, port=port, data_dir=Path(data_dir), db_url=db,
                        service_cluster_ip_range=service_cluster_ip_range,
                        service_node_port_range=service_node_port_range, keep_changes=keep_changes,
                        compact_interval=compact_interval)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.database_url()
    migrations.upgrade(url)
    app = create_app(settings)
    config = uvicorn.Config(app, host=bind_address, port=port, log_level=log_level, access_log=False,
                            loop="uvloop", http="httptools", timeout_graceful_shutdown=3)
    uvicorn.Server(config).run()


@main.command()
@click.option("--data-dir", envvar="KUBELITE_DATA_DIR", default="./.kubelite", show_default=True)
@_db_option
def migrate(data_dir: str, db: str) -> None:
    """Run the database migrations to head and exit."""
    import migrations

    settings = Settings(data_dir=Path(data_dir), db_url=db)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url())
    click.echo(f"database at head: {settings.database_url()}")


@main.command()
@click.option("--server", default="http://127.0.0.1:8080", show_default=True)
def kubeconfig(server: str) -> None:
    """Print a kubeconfig that points kubectl (and kctl) at the server."""
    from kubeclient.kubeconfig import render_kubeconfig

    click.echo(render_kubeconfig(server), nl=False)


# Processes that parse their own flags (argparse): NAME -> "module:function(argv) -> int" (sync or async).
CONTROLLERS = {
    "ipam": "controllers.ipam:main",
    "nodeport": "controllers.nodeport:main",
    "endpoints": "controllers.endpoints.controller:main",
}
PROCESSES = {
    "dns": "controllers.dns.main:main",
    "node": "controllers.node.agent:main",
}
_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _run_entry(target: str, argv: list[str]) -> int:
    import asyncio
    import importlib
    import inspect

    module, _, func = target.partition(":")
    fn = getattr(importlib.import_module(module), func)
    result = fn(argv)
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    return int(result or 0)


@main.command(context_settings=_PASSTHROUGH)
@click.argument("name", type=click.Choice(sorted(CONTROLLERS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def controller(name: str, args: tuple[str, ...]) -> None:
    """Run one controller process: ipam, nodeport or endpoints (``kubelite controller NAME --help``)."""
    sys.exit(_run_entry(CONTROLLERS[name], list(args)))


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dns(args: tuple[str, ...]) -> None:
    """Run the cluster DNS server (``kubelite dns --help``)."""
    sys.exit(_run_entry(PROCESSES["dns"], list(args)))


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def node(args: tuple[str, ...]) -> None:
    """Run a node agent: registers a Node, schedules and runs its Pods (``kubelite node --help``)."""
    sys.exit(_run_entry(PROCESSES["node"], list(args)))


@main.command()
@click.option("--data-dir", envvar="KUBELITE_DATA_DIR", default="./.kubelite", show_default=True)
@click.option("--bind-address", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int, help="first API server's port")
@click.option("--dns-port", default=5353, show_default=True, type=int)
@click.option("--nodes", default=3, show_default=True, type=int, help="simulated nodes (node agents)")
@_db_option
@click.option("--apiservers", default=1, show_default=True, type=int, help="API servers (PostgreSQL for > 1)")
@click.option("--ready-timeout", default=30.0, show_default=True, type=float)
def up(data_dir: str, bind_address: str, port: int, dns_port: int, nodes: int, db: str, apiservers: int,
       ready_timeout: float) -> None:
    """Start the whole control plane as supervised processes; Ctrl-C stops it."""
    from kubelite.up import run_up

    sys.exit(run_up(data_dir=Path(data_dir), bind_address=bind_address, port=port, dns_port=dns_port,
                    nodes=nodes, db=db, apiservers=apiservers, ready_timeout=ready_timeout))


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
