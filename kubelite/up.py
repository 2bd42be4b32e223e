"""``kubelite up``: the whole control plane on one machine, as separate supervised processes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import ssl
import sys
import time
from pathlib import Path

import click

from kubelite.datadir import UP, PidFiles, check_mode, stop_leftovers
from kubelite.supervisor import Child, Supervisor


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


async def dns_synced(host: str, port: int) -> bool:
    """The DNS server answers SERVFAIL until its caches synced; NOERROR means ready."""
    import dns.asyncquery
    import dns.message
    import dns.rcode

    q = dns.message.make_query("dns-version.cluster.local", "TXT")
    r = await dns.asyncquery.udp(q, host, port=port, timeout=0.5)
    return bool(r.rcode() == dns.rcode.NOERROR)


# --data-path: every range is loopback, so Pods, Services and LoadBalancers really answer on this host
DATA_PATH_POD_CIDR = "127.10.0.0/16"  # node i gets 127.10.i.0/24
DATA_PATH_SERVICE_CIDR = "127.96.0.0/16"
DATA_PATH_LB_POOL = "127.20.0.0/24"


def connect_host(bind_address: str) -> str:
    """Where local clients reach a server bound to ``bind_address`` (a wildcard: loopback)."""
    return "127.0.0.1" if bind_address in ("0.0.0.0", "::", "") else bind_address


def leader_identity(data_dir: Path, name: str) -> str:
    """The leader-election identity of the controller ``name`` supervised by an up on ``data_dir``.

    Stable across restarts of that controller, so a restarted one takes its crashed predecessor's Lease
    at once (a Lease held by one's own identity is renewed, not waited out); distinct for controllers of
    another up (another host or data dir), which keep competing for the Lease as replicas should.
    """
    where = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}_kubelite-up-{where}_{name}"


def plan(*, data_dir: Path, bind_address: str, port: int, dns_port: int, nodes: int, db: str,
         apiservers: int, data_path: bool = False, tls: bool = False,
         dns_upstream: str | None = None, console_port: int = 0) -> tuple[list[Child], list[Child], str]:
    """The API server children, the other children, and the server URL controllers use.

    With ``tls`` every client child connects through its own kubeconfig
    (``DIR/auth/<name>.kubeconfig``: the CA and that child's token) instead of ``--server``; the console
    (on loopback ``console_port``, none when 0) reads as the user, with the admin's ``DIR/kubeconfig``.
    """
    py = [sys.executable, "-m", "kubelite.cli"]
    scheme = "https" if tls else "http"
    host = connect_host(bind_address)
    servers: list[Child] = []
    for i in range(apiservers):
        p = port + i
        argv = [*py, "apiserver", "--bind-address", bind_address, "--port", str(p), "--data-dir", str(data_dir)]
        if db:
            argv += ["--db", db]
        if data_path:
            argv += ["--service-cluster-ip-range", DATA_PATH_SERVICE_CIDR]
        servers.append(Child(f"apiserver-{i}" if apiservers > 1 else "apiserver", argv,
                             ready_url=f"{scheme}://{host}:{p}/readyz"))
    server = f"{scheme}://{host}:{port}"

    def conn(name: str) -> list[str]:
        if tls:
            return ["--kubeconfig", str(data_dir / "auth" / f"{name}.kubeconfig")]
        return ["--server", server]

    others: list[Child] = []
    for name in ("ipam", "nodeport", "endpoints", "replicaset", "deployment", "gc", "namespace", "disruption",
                 "job", "cronjob", "serviceaccount", "replicationcontroller"):
        mp = _free_port()
        others.append(Child(name, [*py, "controller", name, *conn(name), "--metrics-port", str(mp),
                                   "--leader-elect-identity", leader_identity(data_dir, name)],
                            ready_url=f"http://127.0.0.1:{mp}/healthz"))
    for i in range(1, nodes + 1):
        mp = _free_port()
        pod_cidr = f"127.10.{i}.0/24" if data_path else f"10.85.{i - 1}.0/24"
        argv = [*py, "node", *conn(f"node-{i}"), "--name", f"node-{i}", "--pod-cidr", pod_cidr,
                "--node-ip", f"127.0.1.{i}", "--metrics-port", str(mp)]
        if data_path:
            argv += ["--runtime", "process", "--root-dir", str(data_dir / "nodes" / f"node-{i}")]
        others.append(Child(f"node-{i}", argv, ready_url=f"http://127.0.0.1:{mp}/healthz"))
    if data_path:
        for i in range(1, nodes + 1):
            mp = _free_port()
            others.append(Child(f"proxy-{i}", [*py, "proxy", *conn(f"proxy-{i}"), "--node", f"node-{i}",
                                               "--cluster-cidr", DATA_PATH_POD_CIDR, "--metrics-port", str(mp)],
                                ready_url=f"http://127.0.0.1:{mp}/healthz"))
        mp = _free_port()
        others.append(Child("loadbalancer", [*py, "controller", "loadbalancer", *conn("loadbalancer"),
                                             "--pool", DATA_PATH_LB_POOL, "--metrics-port", str(mp),
                                             "--leader-elect-identity", leader_identity(data_dir, "loadbalancer")],
                            ready_url=f"http://127.0.0.1:{mp}/healthz"))
    dns_argv = [*py, "dns", *conn("dns"), "--port", str(dns_port), "--bind", bind_address]
    if dns_upstream:
        dns_argv += ["--upstream", dns_upstream]
    others.append(Child("dns", dns_argv, probe=lambda: dns_synced(host, dns_port)))
    if console_port:
        who = ["--kubeconfig", str(data_dir / "kubeconfig")] if tls else ["--server", server]
        others.append(Child("console", [*py, "console", *who, "--port", str(console_port)],
                            ready_url=f"http://127.0.0.1:{console_port}/healthz"))
    return servers, others, server


def secure(data_dir: Path, *, bind_address: str, names: list[str], server: str,
           token_auth_file: Path | None, policy_file: Path | None,
           extra_sans: tuple[str, ...] = ()) -> tuple[list[str], Path]:
    """TLS material, one token per component (and the admin), their kubeconfigs.

    Returns the API servers' extra flags and the CA file. Tokens already
    issued are kept, so kubeconfigs stay valid across restarts.
    """
    from apiserver.auth import ensure_identities
    from apiserver.certificates import ensure_serving_material, serving_hosts
    from kubeclient.kubeconfig import render_kubeconfig

    material = ensure_serving_material(data_dir / "pki", serving_hosts(bind_address, extra=extra_sans))
    auth = data_dir / "auth"
    identities = {"admin": ["system:masters"], **{f"system:kubelite:{n}": ["system:masters"] for n in names}}
    tokens = ensure_identities(auth / "tokens.csv", identities)
    tokens_file = auth / "tokens.csv"
    if token_auth_file is not None:  # the user's identities beside ours, in the one file the servers read
        merged = auth / "all-tokens.csv"
        merged.write_text(token_auth_file.read_text().rstrip("\n") + "\n" + tokens_file.read_text())
        merged.chmod(0o600)
        tokens_file = merged
    ca = material.ca_file.read_text()
    for n in names:
        path = auth / f"{n}.kubeconfig"
        path.write_text(render_kubeconfig(server, token=tokens[f"system:kubelite:{n}"], ca_data=ca))
        path.chmod(0o600)
    (data_dir / "kubeconfig").write_text(render_kubeconfig(server, token=tokens["admin"], ca_data=ca))
    (data_dir / "kubeconfig").chmod(0o600)
    args = ["--tls", "--token-auth-file", str(tokens_file)]
    if policy_file is not None:
        args += ["--authorization-policy-file", str(policy_file)]
    return args, material.ca_file


ENCRYPTION_CONFIG = "encryption-config.yaml"


def run_up(*, data_dir: Path, bind_address: str, port: int, dns_port: int, nodes: int, db: str,
           apiservers: int, ready_timeout: float, data_path: bool = False, tls: bool = False,
           token_auth_file: Path | None = None, policy_file: Path | None = None,
           dns_upstream: str | None = None, console_port: int = 0) -> int:
    import migrations
    from apiserver.settings import Settings
    from apiserver.storage.encryption import generate_config
    from kubeclient.kubeconfig import render_kubeconfig

    if apiservers > 1 and not db.startswith("postgresql"):
        raise click.UsageError("several API servers share one store: pass --db postgresql+psycopg://USER@HOST/DB")
    if (token_auth_file or policy_file) and not tls:
        raise click.UsageError("--token-auth-file and --authorization-policy-file need --tls "
                               "(kubectl sends tokens only over https)")
    settings = Settings(data_dir=data_dir, db_url=db)
    # before anything starts: the data dir's mode must match, and an earlier up's leftovers must go
    check_mode(data_dir, data_path=data_path, database_url=settings.database_url(), external_db=bool(db))
    left = stop_leftovers(data_dir)
    if left:
        click.echo(f"kubelite: stopped {len(left)} processes left running by an earlier kubelite up on {data_dir}: "
                   + ", ".join(f"{r.name} (pid {r.pid})" for r in left), err=True)
    for p in range(port, port + apiservers):
        if _port_in_use(bind_address, p):
            raise click.UsageError(f"port {p} on {bind_address} is in use: is another kubelite running? "
                                   f"(choose another with --port)")
    if console_port and _port_in_use("127.0.0.1", console_port):
        click.echo(f"kubelite: port {console_port} on 127.0.0.1 is in use: not starting the console "
                   "(choose another with --console-port)", err=True)
        console_port = 0
    click.echo(f"kubelite: migrating {settings.database_url()}", err=True)
    migrations.upgrade(settings.database_url())
    servers, others, server = plan(data_dir=data_dir, bind_address=bind_address, port=port, dns_port=dns_port,
                                   nodes=nodes, db=db, apiservers=apiservers, data_path=data_path, tls=tls,
                                   dns_upstream=dns_upstream, console_port=console_port)
    kubeconfig = data_dir / "kubeconfig"
    verify: ssl.SSLContext | bool = True
    if tls:
        args, ca_file = secure(data_dir, bind_address=bind_address,
                               names=[c.name for c in others if c.name != "console"],  # it reads as the admin
                               server=server, token_auth_file=token_auth_file, policy_file=policy_file)
        for c in servers:
            c.argv += args
        verify = ssl.create_default_context(cafile=str(ca_file))
    else:
        kubeconfig.write_text(render_kubeconfig(server))
    # --tls also encrypts Secrets at rest with a key generated once; a data dir that has the key keeps
    # using it (without it, Secrets written encrypted could not be read back).
    encryption = data_dir / "pki" / ENCRYPTION_CONFIG
    if tls and generate_config(encryption):
        click.echo(f"kubelite: Secrets are encrypted at rest with the key in {encryption}", err=True)
    if encryption.exists():
        for c in servers:
            c.argv += ["--encryption-provider-config", str(encryption)]

    pid_files = PidFiles(data_dir)
    pid_files.record(UP, os.getpid())

    async def main() -> int:
        """API servers first, the rest once they are ready: clients never meet a port that refuses them."""
        started = time.monotonic()
        sup = Supervisor([*servers, *others], verify=verify, pid_files=pid_files)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await sup.start(servers)
        try:
            late = await sup.wait_ready(ready_timeout, servers)
            if not late:
                await sup.start(others)
                late = await sup.wait_ready(max(0.0, ready_timeout - (time.monotonic() - started)), others)
            if late:
                click.echo(f"kubelite: not ready after {ready_timeout:.0f}s: {', '.join(late)} "
                           "(see their log lines above)", err=True)
            else:
                click.echo(
                    f"\nkubelite is ready in {time.monotonic() - started:.1f}s\n"
                    f"  API server:  {server}\n"
                    f"  DNS:         {bind_address}:{dns_port} (udp+tcp, zone cluster.local)\n"
                    f"  kubeconfig:  {kubeconfig.resolve()}\n"
                    + (f"  console:     http://127.0.0.1:{console_port}/\n" if console_port else "")
                    + f"  try:         export KUBECONFIG={kubeconfig.resolve()}; kubectl get svc -A\n"
                    + (f"  data path:   Pods {DATA_PATH_POD_CIDR} (node-i: 127.10.i.0/24, run as processes), "
                       f"Services {DATA_PATH_SERVICE_CIDR}, LoadBalancers {DATA_PATH_LB_POOL}, "
                       f"nodes 127.0.1.1-{nodes}; image kubelite/echo answers HTTP\n" if data_path else "")
                    + "Ctrl-C stops everything.\n"
                )
            await stop.wait()
        finally:
            click.echo("kubelite: stopping", err=True)
            with contextlib.suppress(Exception):
                await sup.stop()
        return 0

    try:
        return asyncio.run(main())
    finally:
        pid_files.forget(UP)
