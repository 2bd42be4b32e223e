"""Robustness: random traffic against kubelite under faults, every history checked for linearizability and watches.

``python -m bench.robustness [--quick] [--scenario NAME] [--seconds N] [--seed N]`` runs each scenario
for a bounded time: several clients create / get / CAS-update / update / delete a few ConfigMaps
(conflicts are frequent), watchers resume after every break; robustness/ records every operation
(an unanswered write is UNKNOWN: it may or may not have happened) and checks the history
(robustness/linearizable.py) and the watch streams (robustness/watches.py).

Scenarios:
- ``steady``: one API server on SQLite, no faults;
- ``kill9-apiserver``: the SQLite API server is killed with SIGKILL at random moments under load and
  restarted on the same data directory and port (acknowledged writes must survive; the writes in
  flight are UNKNOWN);
- ``pg-two-apiservers``: two API servers on one new PostgreSQL database (KUBELITE_TEST_PG_URL;
  skipped without it), clients and watchers spread over both, while faults alternate: every
  connection of this database terminated (pg_terminate_backend), and one API server killed with
  SIGKILL and restarted. The PostgreSQL server itself is never restarted: it is shared (CI's);
- ``sigstop-ipam``: two ipam controllers (4 s Lease) while Services are created and deleted; the
  Lease holder is stopped with SIGSTOP for twice the Lease duration, then continued. The check is
  the allocation invariant (robustness/allocations.py) on a watch of the Services, and that every
  Service got a ClusterIP.

Figures (bench/common.py ``figure``, one JSON line each on stdout) per scenario: operations checked, watch events checked,
faults injected, the verdict (1 = linearizable and every watch guarantee held, target
"linearizable"), and for kill9 the worst time to recover (kill to ready). A failing history is saved
as JSON (the whole run, and a minimal failing sub-history with one readable line per operation) in a
temporary directory whose path is printed; the exit code is 1 if any scenario failed.
``--quick``: 5 seconds per scenario. Servers are not pinned to cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common import (
    HOST,
    figure,
    free_port,
    kubelite_argv,
    log,
    start_process,
    stop_processes,
    wait_http_ok,
)
from robustness import linearizable, watches
from robustness.traffic import Run, run_traffic

SCENARIOS = ("steady", "kill9-apiserver", "pg-two-apiservers", "sigstop-ipam")


@dataclass(slots=True)
class Outcome:
    """What one scenario run found."""

    scenario: str
    operations: int = 0
    unknown: int = 0
    faults: int = 0
    watch_sessions: int = 0
    watch_events: int = 0
    linearizable: bool | None = None
    watch_problems: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recover_seconds: list[float] = field(default_factory=list)
    saved: Path | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.linearizable is True and not self.watch_problems


class ApiServer:
    """``kubelite apiserver`` on a fixed port, so that clients reach it again after a restart."""

    def __init__(self, data_dir: Path, *, extra: tuple[str, ...] = (), port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra = extra
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 120.0) -> float:
        """Start and wait until ready; returns the seconds it took."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / "apiserver.log"
        t = time.monotonic()
        self.proc = start_process(kubelite_argv("apiserver", "--port", str(self.port), "--data-dir",
                                                str(self.data_dir), "--log-level", "warning", *self.extra),
                                  log_path, pin=False)
        wait_http_ok(self.url + "/readyz", timeout=timeout, proc=self.proc, log_path=log_path)
        return time.monotonic() - t

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_processes([self.proc])


def evaluate(run: Run, outcome: Outcome, *, minimize_seconds: float = 20.0) -> None:
    """Check ``run``'s history and watch streams into ``outcome``."""
    result = linearizable.check(run.ops, minimize_seconds=minimize_seconds)
    outcome.operations = len(run.ops)
    outcome.unknown = sum(1 for o in run.ops if o.outcome == "unknown")
    outcome.linearizable = result.linearizable
    outcome.problems = result.problems
    outcome.watch_sessions = len(run.sessions)
    outcome.watch_events = sum(len(s.events) for s in run.sessions)
    outcome.watch_problems = watches.check(run.sessions, run.writes, through=run.through)
    if not outcome.ok:
        outcome.saved = save_failure(run, result, outcome)


def save_failure(run: Run, result: linearizable.Result, outcome: Outcome) -> Path:
    """The whole history and a minimal failing one, as JSON, in a new temporary directory."""
    out = Path(tempfile.mkdtemp(prefix=f"kubelite-robustness-{outcome.scenario}-"))
    (out / "history.json").write_bytes(orjson.dumps(run.to_json()))
    (out / "failure.json").write_bytes(orjson.dumps({
        "scenario": outcome.scenario, "problems": result.problems, "watch_problems": outcome.watch_problems,
        "minimal": [o.to_json() for o in result.minimal],
        "minimal_readable": [o.describe() for o in sorted(result.minimal, key=lambda o: o.call)],
    }, option=orjson.OPT_INDENT_2))
    return out


def steady(work: Path, *, seconds: float, seed: int | None) -> Outcome:
    outcome = Outcome("steady")
    srv = ApiServer(work / "steady")
    try:
        srv.start()
        run, _ = asyncio.run(run_traffic(srv.url, seconds=seconds, seed=seed))
    finally:
        srv.stop()
    evaluate(run, outcome)
    return outcome


def kill9_apiserver(work: Path, *, seconds: float, seed: int | None, kills: int | None = None) -> Outcome:
    """SIGKILL the SQLite API server at random moments (about every 2-4 s, or ``kills`` times), restart it."""
    outcome = Outcome("kill9-apiserver")
    srv = ApiServer(work / "kill9")
    rng = random.Random(seed)
    planned = kills if kills is not None else max(1, int(seconds / 3))
    # the kill moments, spread over the run, none in its first or last second
    moments = sorted(rng.uniform(1.0, max(1.5, seconds - 1.0)) for _ in range(planned))

    async def faults(stop: asyncio.Event) -> int:
        start = time.monotonic()
        done = 0
        for at in moments:
            await asyncio.sleep(max(0.0, at - (time.monotonic() - start)))
            if stop.is_set():
                break
            t = time.monotonic()
            srv.kill9()
            await asyncio.to_thread(srv.start)
            outcome.recover_seconds.append(time.monotonic() - t)
            done += 1
            log(f"kill9-apiserver: kill {done} recovered in {outcome.recover_seconds[-1]:.2f}s")
        return done

    try:
        srv.start()
        run, outcome.faults = asyncio.run(run_traffic(srv.url, seconds=seconds, seed=seed, faults=faults))
    finally:
        srv.stop()
    evaluate(run, outcome)
    return outcome


def _pg_admin(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (psycopg connects with it)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_two_apiservers(work: Path, *, seconds: float, seed: int | None) -> Outcome:
    """Two API servers on one PostgreSQL database; backends terminated and servers killed in turn."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    outcome = Outcome("pg-two-apiservers")
    pg_url = os.environ.get("KUBELITE_TEST_PG_URL")
    if not pg_url:
        outcome.skipped = "KUBELITE_TEST_PG_URL is not set (source .ci/postgres to start a PostgreSQL)"
        return outcome
    admin = _pg_admin(pg_url)
    name = "kl_robust_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    db = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    servers = [ApiServer(work / f"pg-{i}", extra=("--db", db)) for i in range(2)]
    rng = random.Random(seed)
    planned = max(2, int(seconds / 3))
    moments = sorted(rng.uniform(1.0, max(1.5, seconds - 1.0)) for _ in range(planned))

    def terminate() -> int:
        with psycopg.connect(admin, autocommit=True) as conn:
            rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
        return len(rows)

    def serving(srv: ApiServer) -> None:
        """Until a consistent list (which reads the database's revision) answers 200."""
        wait_http_ok(f"{srv.url}/api/v1/namespaces/default/configmaps?limit=1", timeout=120)

    async def faults(stop: asyncio.Event) -> int:
        start = time.monotonic()
        done = 0
        for n, at in enumerate(moments):
            await asyncio.sleep(max(0.0, at - (time.monotonic() - start)))
            if stop.is_set():
                break
            t = time.monotonic()
            if n % 2 == 0:
                killed = await asyncio.to_thread(terminate)
                for srv in servers:
                    await asyncio.to_thread(serving, srv)
                what = f"{killed} database connections terminated"
            else:
                victim = servers[rng.randrange(len(servers))]
                victim.kill9()
                await asyncio.to_thread(victim.start)
                what = f"API server on port {victim.port} killed"
            outcome.recover_seconds.append(time.monotonic() - t)
            done += 1
            log(f"pg-two-apiservers: fault {done} ({what}) recovered in {outcome.recover_seconds[-1]:.2f}s")
        return done

    try:
        for srv in servers:
            srv.start()
        run, outcome.faults = asyncio.run(run_traffic([s.url for s in servers], seconds=seconds, seed=seed,
                                                      faults=faults))
    finally:
        for srv in servers:
            srv.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    evaluate(run, outcome)
    return outcome


def sigstop_ipam(work: Path, *, seconds: float, seed: int | None) -> Outcome:
    """Two ipam controllers; the Lease holder is paused past its Lease while Services come and go."""
    from apimachinery.leases import LEASE_NAMESPACE, controller_lease_name
    from kubeclient import errors
    from kubeclient.client import Client
    from robustness import allocations
    from robustness.traffic import NAMESPACE, ensure_namespace

    outcome = Outcome("sigstop-ipam")
    lease_seconds = 4.0
    srv = ApiServer(work / "sigstop")
    ipams: dict[str, subprocess.Popen[bytes]] = {}
    rng = random.Random(seed)
    services: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []

    async def lease_holder(c: Client) -> str:
        try:
            lease = await c.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/"
                                    f"{controller_lease_name('ipam')}")
        except errors.ApiError:
            return ""
        return str((orjson.loads(lease.content).get("spec") or {}).get("holderIdentity") or "")

    async def watch_services(c: Client, rv: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async for etype, obj in c.watch(services_rt, namespace=NAMESPACE, resource_version=rv,
                                                timeout_seconds=5, allow_bookmarks=False):
                    events.append((etype, obj))
                    rv = str(obj["metadata"]["resourceVersion"])
            except errors.Gone:
                outcome.watch_problems.append("the Service watch got 410: the invariant was not checked to the end")
                return
            except (errors.ApiError, errors.ConnectionFailed):
                await asyncio.sleep(0.2)

    async def main() -> None:
        async with Client(srv.url) as c:
            await ensure_namespace(c)
            stop = asyncio.Event()
            listed = await c.list(services_rt, namespace=NAMESPACE)
            watcher = asyncio.create_task(watch_services(c, str(listed["metadata"]["resourceVersion"]), stop))
            start = time.monotonic()

            async def pause() -> None:
                await asyncio.sleep(seconds / 4)
                holder = await lease_holder(c)
                if holder not in ipams:
                    outcome.problems.append(f"no ipam held the Lease ({holder!r}) when it was to be stopped")
                    return
                t = time.monotonic()
                os.killpg(ipams[holder].pid, signal.SIGSTOP)
                log(f"sigstop-ipam: {holder} (the Lease holder) stopped")
                try:
                    while time.monotonic() - t < 2 * lease_seconds:
                        if not outcome.recover_seconds and await lease_holder(c) not in ("", holder):
                            outcome.recover_seconds.append(time.monotonic() - t)
                        await asyncio.sleep(0.2)
                finally:
                    os.killpg(ipams[holder].pid, signal.SIGCONT)
                log(f"sigstop-ipam: {holder} continued")
                outcome.faults += 1

            pauser = asyncio.create_task(pause())
            n = 0
            while time.monotonic() - start < seconds or not pauser.done():
                n += 1
                name = f"svc-{n}"
                try:
                    await c.create(services_rt, {"apiVersion": "v1", "kind": "Service",
                                                 "metadata": {"name": name, "namespace": NAMESPACE},
                                                 "spec": {"ports": [{"port": 80}], "selector": {"app": name}}})
                    services.append({"name": name})
                    outcome.operations += 1
                    if rng.random() < 0.3 and len(services) > 1:
                        gone = services.pop(rng.randrange(len(services) - 1))
                        await c.delete(services_rt, gone["name"], namespace=NAMESPACE)
                        outcome.operations += 1
                except errors.ApiError as e:
                    outcome.problems.append(f"{name}: {e}")
            await pauser
            # every Service gets its ClusterIP (the ipam that kept or took the Lease fills it)
            deadline = time.monotonic() + 60
            missing: list[str] = []
            while time.monotonic() < deadline:
                items = (await c.list(services_rt, namespace=NAMESPACE))["items"]
                missing = [i["metadata"]["name"] for i in items if not (i.get("spec") or {}).get("clusterIP")]
                if not missing:
                    break
                await asyncio.sleep(0.5)
            if missing:
                outcome.problems.append(f"Services without a ClusterIP after 60 s: {missing[:5]}")
            await asyncio.sleep(1.0)
            stop.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    from apimachinery.resources import lookup

    rt = lookup("", "v1", "services")
    assert rt is not None
    services_rt = rt
    try:
        srv.start()
        for ident in ("ipam-a", "ipam-b"):
            ipams[ident] = start_process(kubelite_argv(
                "controller", "ipam", "--server", srv.url, "--leader-elect-identity", ident,
                "--leader-elect-lease-duration", f"{lease_seconds:g}s", "--leader-elect-renew-deadline", "3s",
                "--leader-elect-retry-period", "500ms", "--log-level", "WARNING"), work / f"{ident}.log", pin=False)
        asyncio.run(main())
    finally:
        for p in ipams.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGCONT)
        stop_processes(list(ipams.values()))
        srv.stop()
    collisions = allocations.check(events)
    outcome.watch_events = len(events)
    outcome.linearizable = not collisions and not outcome.problems
    outcome.problems = collisions + outcome.problems
    if not outcome.ok:
        out = Path(tempfile.mkdtemp(prefix="kubelite-robustness-sigstop-ipam-"))
        (out / "services.json").write_bytes(orjson.dumps({"problems": outcome.problems, "events": events}))
        outcome.saved = out
    return outcome


def run_scenario(name: str, work: Path, *, seconds: float, seed: int) -> Outcome:
    if name == "steady":
        return steady(work, seconds=seconds, seed=seed)
    if name == "kill9-apiserver":
        return kill9_apiserver(work, seconds=seconds, seed=seed)
    if name == "pg-two-apiservers":
        return pg_two_apiservers(work, seconds=seconds, seed=seed)
    if name == "sigstop-ipam":
        return sigstop_ipam(work, seconds=seconds, seed=seed)
    raise ValueError(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})")


def report(outcome: Outcome, *, seed: int) -> None:
    s = outcome.scenario
    if outcome.skipped:
        log(f"{s}: skipped: {outcome.skipped}")
        figure(f"robustness {s} verdict", None, "bool", None, target="linearizable", met=False,
               skipped=outcome.skipped)
        return
    figure(f"robustness {s} operations checked", outcome.operations, "ops", None, unknown=outcome.unknown,
           seed=seed)
    figure(f"robustness {s} watch events checked", outcome.watch_events, "events", None,
           sessions=outcome.watch_sessions)
    figure(f"robustness {s} faults injected", outcome.faults, "faults", None)
    if outcome.recover_seconds:
        figure(f"robustness {s} time to recover (max)", max(outcome.recover_seconds), "s", None,
               all=[round(x, 3) for x in outcome.recover_seconds])
    target = "no collision" if s == "sigstop-ipam" else "linearizable"
    figure(f"robustness {s} verdict", 1.0 if outcome.ok else 0.0, "bool", None, target=target,
           met=outcome.ok, linearizable=outcome.linearizable, watch_problems=outcome.watch_problems[:5],
           problems=outcome.problems[:5], saved=str(outcome.saved) if outcome.saved else None)
    if outcome.saved:
        log(f"{s}: FAILED; history and minimal reproduction saved in {outcome.saved}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 seconds per scenario")
    ap.add_argument("--scenario", choices=SCENARIOS, action="append", help="run only these (repeatable)")
    ap.add_argument("--seconds", type=float, default=None, help="seconds of traffic per scenario (default 30)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else 5.0 if args.quick else 30.0
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    failed = False
    with tempfile.TemporaryDirectory(prefix="kubelite-robustness-work-") as tmp:
        for name in args.scenario or SCENARIOS:
            log(f"{name}: {seconds:.0f}s of traffic, seed {seed}")
            outcome = run_scenario(name, Path(tmp), seconds=seconds, seed=seed)
            report(outcome, seed=seed)
            failed |= outcome.skipped is None and not outcome.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
