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
from kubelite.datadir import private_dir


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


HELP_OPTIONS = ["-h", "--help"]


class _Command(click.Command):
    """A command that takes -h as well as --help in any context.

    Why on each command, not only on the group: click builds a command's help option once and keeps it,
    from the first context the command is made in; one made without the group (a test, or another
    program calling ``make_context``) would otherwise leave it with --help alone for the process.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {"help_option_names": HELP_OPTIONS, **(kwargs.get("context_settings") or {})}
        super().__init__(*args, **kwargs)


class _Group(click.Group):
    command_class = _Command


@click.group(cls=_Group, context_settings={"help_option_names": HELP_OPTIONS})
@click.version_option(package_name="kubelite")
def main() -> None:
    """kubelite: a small, real, Kubernetes-compatible control plane for Services."""


F = TypeVar("F", bound=Callable[..., Any])


def _db_option(f: F) -> F:
    return click.option("--db", "db", envvar="KUBELITE_DB", default="",
                        help="SQLAlchemy URL (default: sqlite under --data-dir).")(f)


def _duration(_ctx: click.Context, param: click.Parameter, value: str) -> float:
    """A Go-style duration flag (``2s``, ``500ms``, a bare number of seconds) in seconds."""
    from argparse import ArgumentTypeError

    from controllers.runtime.process import duration

    try:
        return duration(value)
    except ArgumentTypeError as e:
        raise click.BadParameter(str(e), param=param) from None


def _security_options(f: F) -> F:
    """kube-apiserver's authentication, authorization, TLS and overload flags (docs/security.md)."""
    file = click.Path(exists=True, dir_okay=False)
    options = [
        click.option("--token-auth-file", type=file, help="Bearer tokens: CSV token,user,uid,\"group1,group2\"."),
        click.option("--authorization-policy-file", type=file, help="ABAC policies, one JSON object a line."),
        click.option("--anonymous-auth", type=click.BOOL, default=False, is_flag=False, flag_value=True,
                     show_default=True, help="Serve requests without a token as system:anonymous."),
        click.option("--tls", is_flag=True, help="Serve HTTPS with a CA and certificate generated under --data-dir."),
        click.option("--tls-cert-file", type=file, help="Serve HTTPS with this certificate (PEM)."),
        click.option("--tls-private-key-file", type=file, help="The private key of --tls-cert-file (PEM)."),
        click.option("--tls-san", multiple=True, help="Extra name or IP for the generated certificate (repeatable)."),
        click.option("--max-requests-inflight", type=int, default=400, show_default=True,
                     help="Read requests served at once (watches excluded); more get 429. 0: no cap."),
        click.option("--max-mutating-requests-inflight", type=int, default=200, show_default=True,
                     help="Write requests served at once; more get 429. 0: no cap."),
        click.option("--max-watchers", type=int, default=10000, show_default=True,
                     help="Open watches; at the cap the oldest slow one is dropped, else 429. 0: no cap."),
        click.option("--request-timeout", type=float, default=60.0, show_default=True,
                     help="Seconds before a non-watch request gets 504."),
        click.option("--shutdown-grace", type=float, default=10.0, show_default=True,
                     help="Seconds in-flight requests get to finish after SIGTERM."),
        click.option("--allocation-wait", default="2s", show_default=True, callback=_duration,
                     help="How long a Service create waits for the running ipam/nodeport controllers to fill its "
                          "ClusterIP and node ports, so it answers with them (0: answer at once)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _security_settings(opts: dict[str, Any]) -> dict[str, Any]:
    """Click values of ``_security_options`` -> Settings fields."""
    if bool(opts.get("tls_cert_file")) != bool(opts.get("tls_private_key_file")):
        raise click.UsageError("--tls-cert-file and --tls-private-key-file must be given together")
    out = dict(opts)
    for k in ("token_auth_file", "authorization_policy_file", "tls_cert_file", "tls_private_key_file"):
        out[k] = Path(out[k]) if out.get(k) else None
    out["tls_sans"] = tuple(out.get("tls_san") or ())
    out.pop("tls_san", None)
    return out


def check_exposure(settings: Settings) -> None:
    """Refuse a non-loopback bind address unless TLS and token authentication are both on."""
    if _is_loopback(settings.bind_address):
        return
    if settings.serves_tls and settings.token_auth_file:
        return
    missing = " and ".join(w for w, ok in (("TLS (--tls or --tls-cert-file)", settings.serves_tls),
                                           ("token authentication (--token-auth-file)",
                                            bool(settings.token_auth_file))) if not ok)
    raise click.UsageError(
        f"refusing to bind {settings.bind_address}: without {missing} the API server only listens on loopback "
        "(use --bind-address 127.0.0.1)"
    )


@main.command()
@click.option("--bind-address", envvar="KUBELITE_BIND_ADDRESS", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="KUBELITE_PORT", default=None, type=int, help="[default: 8080, or 6443 with TLS]")
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
@click.option("--encryption-provider-config", type=click.Path(dir_okay=False), default=None,
              help="kube-apiserver's EncryptionConfiguration: encrypt these resources (e.g. secrets) at rest.")
@_security_options
def apiserver(bind_address: str, port: int | None, data_dir: str, db: str, service_cluster_ip_range: str,
              service_node_port_range: str, keep_changes: int, compact_interval: float, log_level: str,
              encryption_provider_config: str | None, **security: Any) -> None:
    """Run the API server (migrates the database to head first)."""
    import migrations
    from apiserver.app import create_app
    from apiserver.auth import ConfigError
    from apiserver.serving import serve
    from apiserver.storage.encryption import EncryptionConfigError

    _setup_logging(log_level)
    settings = Settings(bind_address=bind_address, port=port or 8080, data_dir=Path(data_dir), db_url=db,
                        service_cluster_ip_range=service_cluster_ip_range,
                        service_node_port_range=service_node_port_range, keep_changes=keep_changes,
                        compact_interval=compact_interval, **_security_settings(security))
    if encryption_provider_config:
        settings.encryption_provider_config = Path(encryption_provider_config)
    if port is None and settings.serves_tls:
        settings.port = 6443
    check_exposure(settings)
    settings.tune_gc = True
    private_dir(settings.data_dir)
    url = settings.database_url()
    migrations.upgrade(url)
    try:
        app = create_app(settings)
    except (ConfigError, EncryptionConfigError) as e:
        raise click.ClickException(str(e)) from None
    serve(app, settings, log_level=log_level)


@main.command()
@click.option("--data-dir", envvar="KUBELITE_DATA_DIR", default="./.kubelite", show_default=True)
@_db_option
def migrate(data_dir: str, db: str) -> None:
    """Run the database migrations to head and exit."""
    import migrations

    settings = Settings(data_dir=Path(data_dir), db_url=db)
    private_dir(settings.data_dir)
    migrations.upgrade(settings.database_url())
    click.echo(f"database at head: {settings.database_url()}")


@main.command()
@click.option("--server", default="http://127.0.0.1:8080", show_default=True)
@click.option("--token", default=None, help="Bearer token to authenticate with.")
@click.option("--certificate-authority", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CA certificate (PEM) that signed the server's certificate, e.g. DATA_DIR/pki/ca.crt.")
def kubeconfig(server: str, token: str | None, certificate_authority: str | None) -> None:
    """Print a kubeconfig that points kubectl (and kctl) at the server."""
    from kubeclient.kubeconfig import render_kubeconfig

    ca = Path(certificate_authority).read_bytes() if certificate_authority else None
    click.echo(render_kubeconfig(server, token=token, ca_data=ca), nl=False)


# Processes that parse their own flags (argparse): NAME -> "module:function(argv) -> int" (sync or async).
CONTROLLERS = {
    "ipam": "controllers.ipam:main",
    "nodeport": "controllers.nodeport:main",
    "endpoints": "controllers.endpoints.controller:main",
    "replicaset": "controllers.replicaset:main",
    "deployment": "controllers.deployment:main",
    "gc": "controllers.gc:main",
    "namespace": "controllers.namespace:main",
    "loadbalancer": "controllers.loadbalancer:main",
    "disruption": "controllers.disruption:main",
    "job": "controllers.job:main",
    "cronjob": "controllers.cronjob:main",
    "serviceaccount": "controllers.serviceaccount:main",
    "replicationcontroller": "controllers.replicationcontroller:main",
}
PROCESSES = {
    "dns": "servers.dns.main:main",
    "node": "agents.node.main:main",
    "proxy": "agents.proxy.main:main",
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


# -h before NAME is ours (which controllers there are); after NAME it is the controller's own
@main.command(context_settings={**_PASSTHROUGH, "help_option_names": ["-h", "--help"],
                                "allow_interspersed_args": False})
@click.argument("name", type=click.Choice(sorted(CONTROLLERS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def controller(name: str, args: tuple[str, ...]) -> None:
    """Run one controller process: ipam, nodeport, endpoints, replicaset, deployment, gc, namespace,
    loadbalancer, disruption, job, cronjob, serviceaccount or replicationcontroller.

    Its flags: kubelite controller NAME --help.
    """
    sys.exit(_run_entry(CONTROLLERS[name], list(args)))


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dns(args: tuple[str, ...]) -> None:
    """Run the cluster DNS server (flags: kubelite dns --help)."""
    sys.exit(_run_entry(PROCESSES["dns"], list(args)))


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def node(args: tuple[str, ...]) -> None:
    """Run a node agent: registers a Node, schedules and runs its Pods (flags: kubelite node --help)."""
    sys.exit(_run_entry(PROCESSES["node"], list(args)))


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def proxy(args: tuple[str, ...]) -> None:
    """Run a node's service proxy, or print its iptables view with --show-rules (flags: kubelite proxy --help)."""
    sys.exit(_run_entry(PROCESSES["proxy"], list(args)))


@main.command()
@click.option("--server", default=None, help="API server URL (overrides the kubeconfig's server)")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="kubeconfig whose credentials the console reads with (default: $KUBECONFIG, ~/.kube/config)")
@click.option("--bind-address", default="127.0.0.1", show_default=True, help="loopback only, for now")
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
def console(server: str | None, kubeconfig: str | None, bind_address: str, port: int, log_level: str) -> None:
    """Serve the live console (Services, selectors, Pods, controllers' health) at http://127.0.0.1:PORT/."""
    from console.main import run
    from kubeclient.kubeconfig import ConfigError

    _setup_logging(log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not _is_loopback(bind_address):
        raise click.UsageError(f"refusing to bind {bind_address}: the console serves loopback only for now "
                               "(it has no TLS or login of its own; reach it through an SSH tunnel)")
    try:
        sys.exit(run(server=server, kubeconfig=kubeconfig, bind_address=bind_address, port=port,
                     log_level=log_level))
    except ConfigError as e:
        raise click.UsageError(str(e)) from None


@main.command()
@click.option("--data-dir", envvar="KUBELITE_DATA_DIR", default="./.kubelite", show_default=True,
              help="where the database (SQLite), kubeconfig, pid files and, with --data-path, the Pods' files live; "
                   "a second up on it keeps every object")
@click.option("--bind-address", default="127.0.0.1", show_default=True,
              help="address the API server(s) and DNS listen on; beyond loopback needs --tls")
@click.option("--port", default=None, type=int, help="first API server's port [default: 8080, or 6443 with --tls]")
@click.option("--dns-port", default=5353, show_default=True, type=int, help="port of the cluster DNS (udp+tcp)")
@click.option("--dns-upstream", default=None, metavar="HOST:PORT",
              help="where the cluster DNS forwards names outside cluster.local [default: none: it answers REFUSED, "
                   "and nothing leaves the machine]")
@click.option("--nodes", default=3, show_default=True, type=int,
              help="nodes, one node agent each: simulated Pods, or Pods run as processes with --data-path")
@_db_option
@click.option("--apiservers", default=1, show_default=True, type=int, help="API servers (PostgreSQL for > 1)")
@click.option("--ready-timeout", default=30.0, show_default=True, type=float,
              help="seconds to wait for every process to be ready before saying which are not")
@click.option("--tls", is_flag=True, help="HTTPS with a generated CA; a token for the admin and each component")
@click.option("--token-auth-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="more users (kube-apiserver CSV format) beside the generated ones; needs --tls")
@click.option("--authorization-policy-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="ABAC policy (one JSON object a line); needs --tls")
@click.option("--data-path", is_flag=True,
              help="carry real traffic on loopback: Pods run as processes (IPs from 127.10.0.0/16), Services get "
                   "127.96.0.0/16, LoadBalancers 127.20.0.0/24, one proxy per node")
@click.option("--console-port", default=8081, show_default=True, type=int,
              help="port of the live console on 127.0.0.1 (0: no console)")
def up(data_dir: str, bind_address: str, port: int | None, dns_port: int, nodes: int, db: str, apiservers: int,
       ready_timeout: float, data_path: bool, tls: bool, token_auth_file: Path | None,
       authorization_policy_file: Path | None, dns_upstream: str | None, console_port: int) -> None:
    """Start the whole control plane as supervised processes; Ctrl-C stops it.

    The API server(s) start first, the rest once they are ready. The processes die with this one even if it
    is killed; an up on a data dir left by a killed one stops what is left, and an up on a data dir made in
    the other mode (with or without --data-path) refuses to start.
    """
    from kubelite.up import run_up

    if not _is_loopback(bind_address) and not tls:
        raise click.UsageError(f"refusing to serve on {bind_address} without --tls (which also issues tokens "
                               "for the admin and every component)")
    sys.exit(run_up(data_dir=Path(data_dir), bind_address=bind_address, port=port or (6443 if tls else 8080),
                    dns_port=dns_port, nodes=nodes, db=db, apiservers=apiservers, ready_timeout=ready_timeout,
                    data_path=data_path, tls=tls, token_auth_file=token_auth_file,
                    policy_file=authorization_policy_file, dns_upstream=dns_upstream, console_port=console_port))


@main.command()
@click.option("--data-dir", default="./.kubelite", show_default=True)
@click.option("--server", required=True, help="the URL components use, e.g. https://apiserver-1:6443")
@click.option("--bind-address", default="0.0.0.0", show_default=True, help="what the API servers bind")
@click.option("--tls-san", multiple=True, help="extra name or IP for the serving certificate (repeatable)")
@click.argument("names", nargs=-1, required=True)
def credentials(data_dir: str, server: str, bind_address: str, tls_san: tuple[str, ...], names: tuple[str, ...]) -> None:
    """Issue the CA, the serving certificate, and a token + kubeconfig per component NAME (for
    deployments that run the processes themselves, e.g. docker compose): DIR/pki, DIR/auth/NAME.kubeconfig,
    DIR/auth/tokens.csv (pass it to the API servers with --tls --token-auth-file), DIR/kubeconfig (admin)."""
    from kubelite.up import secure

    args, ca = secure(Path(data_dir), bind_address=bind_address, names=list(names), server=server,
                      token_auth_file=None, policy_file=None, extra_sans=tls_san)
    click.echo(f"CA: {ca}\nAPI server flags: {' '.join(args)}")


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
