"""Scale benchmark: 1,000 Services and 10,000 Pods on one machine, with every process's memory and the disk.

``python -m bench.scale [--quick] [--services 1000] [--pods 10000] [--nodes 5] [--clients 32]
[--series FILE]`` starts ``kubelite apiserver`` (SQLite), the ipam, nodeport and
endpoints controllers and ``--nodes`` simulated node agents on free
127.0.0.1 ports (unpinned: they are the system under test and share both
cores, as a user's machine would run them), then:

1. creates the NodePort Services (``--clients`` in flight) and waits until
   each has its ClusterIP and node port;
2. creates the Pods, ``pods / services`` per Service, and follows Pods,
   Endpoints and EndpointSlices on watches until every Pod is Running and a
   ready address of its Service in both (the end-to-end figure);
3. LISTs every Pod (three times; the median), and times ``kubectl get pods
   -A`` when kubectl is installed;
4. deletes a tenth of the Pods and times until the Endpoints have settled;
5. stops the API server and starts it again on the same data, timing /readyz.

Every process's resident memory and the SQLite database and WAL sizes are
sampled during the whole run (bench/common.py ``Sampler``) and printed as
peaks beside their value right after start. Each figure is printed beside a
baseline measured in the same run (the time to send the writes, a fresh
server's start, the empty server's memory...) and the issue's target.
``--series FILE`` writes the time series (seconds since the first Pod create
-> Pods Running, addresses in Endpoints, in EndpointSlices, WAL bytes, API
server RSS) as JSON lines. ``--quick``: a tenth of the size (100 Services,
1,000 Pods, 2 nodes). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from apimachinery.resources import BY_KEY
from bench.common import (
    MIB,
    Sampler,
    figure,
    free_port,
    kubelite_argv,
    log,
    rss_bytes,
    sqlite_bytes,
    start_apiserver,
    start_process,
    stop_processes,
    wait_http_ok,
)
from kubeclient import errors
from kubeclient.client import Client

PODS = BY_KEY["pods"]
SERVICES = BY_KEY["services"]
ENDPOINTS = BY_KEY["endpoints"]
SLICES = BY_KEY["endpointslices.discovery.k8s.io"]
NAMESPACES = BY_KEY["namespaces"]
NS = "bench-scale"
# The goals for the full size (10,000 Pods, 1,000 Services, 2 cores).
TARGET_E2E_S = 30.0
TARGET_SERVICES_S = 5.0
TARGET_APISERVER_MIB = 200.0
TARGET_CONTROLLER_MIB = 100.0
TARGET_WAL_MIB = 64.0
TARGET_KUBECTL_S = 2.0
TARGET_RESTART_S = 10.0


class Observer:
    """Counts, from watch streams, Pods Running and ready addresses in Endpoints and EndpointSlices."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.ep: dict[str, int] = {}
        self.slices: dict[str, int] = {}
        self.relists = 0

    @property
    def in_endpoints(self) -> int:
        return sum(self.ep.values())

    @property
    def in_slices(self) -> int:
        return sum(self.slices.values())

    async def follow(self, c: Client, rt: Any, rv: str) -> None:
        while True:
            try:
                async for etype, obj in c.watch(rt, namespace=NS, resource_version=rv):
                    meta = obj.get("metadata") or {}
                    if etype == "BOOKMARK":
                        rv = str(meta.get("resourceVersion") or rv)
                        continue
                    rv = str(meta.get("resourceVersion") or rv)
                    self._apply(rt, etype, obj)
            except errors.Gone:
                self.relists += 1
                rv = str((await c.list(rt, namespace=NS, limit=1))["metadata"]["resourceVersion"])
            except (errors.ClientError, httpx.HTTPError):
                await asyncio.sleep(0.2)

    def _apply(self, rt: Any, etype: str, obj: dict[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        if rt is PODS:
            if etype != "DELETED" and (obj.get("status") or {}).get("phase") == "Running":
                self.running.add(name)
            else:
                self.running.discard(name)
        elif rt is ENDPOINTS:
            self.ep[name] = 0 if etype == "DELETED" else sum(
                len(s.get("addresses") or []) for s in obj.get("subsets") or [])
        else:
            self.slices[name] = 0 if etype == "DELETED" else sum(
                len(e.get("addresses") or []) for e in obj.get("endpoints") or []
                if (e.get("conditions") or {}).get("ready"))


async def wait_for(cond: Any, *, timeout: float, what: str, every: float = 0.2) -> float | None:
    """Seconds until ``cond()`` held, or None (logged) when ``timeout`` passed first."""
    t0 = time.perf_counter()
    last = t0
    while not cond():
        now = time.perf_counter()
        if now - t0 > timeout:
            log(f"TIMEOUT after {timeout:.0f}s waiting for {what}")
            return None
        if now - last > 5:
            log(f"  ... still waiting for {what} ({now - t0:.0f}s)")
            last = now
        await asyncio.sleep(every)
    return time.perf_counter() - t0


async def run(url: str, api_pid: int, db: Path, *, services: int, pods: int, clients: int,
              series: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with Client(url, max_connections=clients + 8, timeout=60) as c:
        try:
            await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        except errors.AlreadyExists:
            pass
        # Pods are admitted with the namespace's `default` ServiceAccount, which the controller makes
        while True:
            try:
                await c.get(BY_KEY["serviceaccounts"], "default", namespace=NS)
                break
            except errors.NotFound:
                await asyncio.sleep(0.1)
        sem = asyncio.Semaphore(clients)
        failures = 0

        async def make(rt: Any, body: dict[str, Any]) -> None:
            nonlocal failures
            async with sem:
                for _ in range(5):
                    try:
                        await c.create(rt, body, namespace=NS)
                        return
                    except errors.AlreadyExists:
                        return
                    except (errors.TooManyRequests, errors.ServerError, errors.ConnectionFailed):
                        await asyncio.sleep(0.5)
                failures += 1

        # 1. Services, with their allocations
        log(f"creating {services} NodePort Services, {clients} in flight")
        t0 = time.perf_counter()
        await asyncio.gather(*(make(SERVICES, {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
            "spec": {"type": "NodePort", "selector": {"app": f"app-{i}"},
                     "ports": [{"port": 80, "targetPort": 8080}]}}) for i in range(services)))
        sent = time.perf_counter() - t0

        async def allocated() -> int:
            items = (await c.list(SERVICES, namespace=NS))["items"]
            return sum(1 for s in items if (s.get("spec") or {}).get("clusterIP")
                       and all(p.get("nodePort") for p in (s.get("spec") or {}).get("ports") or []))

        done = 0
        while time.perf_counter() - t0 < max(120.0, services / 5):
            done = await allocated()
            if done >= services:
                break
            await asyncio.sleep(0.2)
        took = time.perf_counter() - t0
        ok = done >= services
        figure(f"{services} Service creates until every ClusterIP and NodePort is allocated (baseline: time to "
               "send the creates)", took if ok else None, "s", sent, target=f"< {TARGET_SERVICES_S:g} s at 1,000",
               met=ok and took < TARGET_SERVICES_S, allocated=done, failed_creates=failures)
        figure("Service creates/s while allocating (baseline: none, the rate is the figure)", services / sent, "1/s",
               None)

        # 2. Pods, end to end
        obs = Observer()
        rv = str((await c.list(PODS, namespace=NS, limit=1))["metadata"]["resourceVersion"])
        watchers = [asyncio.create_task(obs.follow(c, rt, rv)) for rt in (PODS, ENDPOINTS, SLICES)]
        await asyncio.sleep(0.3)
        rows: list[dict[str, Any]] = []
        t_pods = time.perf_counter()

        async def sample_series() -> None:
            while True:
                rows.append({"t": round(time.perf_counter() - t_pods, 2), "running": len(obs.running),
                             "endpoints": obs.in_endpoints, "slices": obs.in_slices,
                             "db_bytes": sqlite_bytes(db), "apiserver_rss": rss_bytes(api_pid)})
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample_series())
        log(f"creating {pods} Pods over {services} Services, {clients} in flight")
        await asyncio.gather(*(make(PODS, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{j}", "labels": {"app": f"app-{j % services}"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 8080}]}]}})
            for j in range(pods)))
        created = time.perf_counter() - t_pods
        log(f"  {pods} Pod creates sent in {created:.1f}s; waiting for Running and endpoints")
        waited = await wait_for(lambda: len(obs.running) >= pods and obs.in_endpoints >= pods
                                and obs.in_slices >= pods, timeout=max(300.0, pods / 10),
                                what="every Pod Running and in its endpoints")
        e2e = None if waited is None else time.perf_counter() - t_pods
        scale = pods / 10_000
        figure(f"{pods} Pods over {services} Services: first create -> all Running and in Endpoints and "
               "EndpointSlices (baseline: time to send the creates)", e2e, "s", created,
               target=f"< {TARGET_E2E_S:g} s at 10,000 Pods" + ("" if scale == 1 else f" ({TARGET_E2E_S * scale:g} s "
                                                                                        "pro rata)"),
               met=e2e is not None and e2e < TARGET_E2E_S * scale, running=len(obs.running),
               in_endpoints=obs.in_endpoints, in_slices=obs.in_slices, failed_creates=failures,
               watch_relists=obs.relists)
        figure("Pod creates/s while the system reacts (baseline: none, the rate is the figure)", pods / created,
               "1/s", None)

        # 3. reads at this size
        times = []
        size = 0
        async with httpx.AsyncClient(base_url=url, timeout=60) as raw:
            for _ in range(3):
                t = time.perf_counter()
                r = await raw.get("/api/v1/pods")
                times.append(time.perf_counter() - t)
                size = len(r.content)
            t = time.perf_counter()
            await raw.get("/api/v1/namespaces/kube-system/pods")
            small = time.perf_counter() - t
        figure(f"LIST of all {pods} Pods, median of 3 (baseline: LIST of an empty namespace)", statistics.median(times),
               "s", small, bytes=size)
        kubectl = shutil.which("kubectl")
        if kubectl:
            t = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                kubectl, "--server", url, "get", "pods", "-A", "--no-headers",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "KUBECONFIG": "/nonexistent"})
            stdout, _ = await proc.communicate()
            took = time.perf_counter() - t
            t = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                kubectl, "--server", url, "get", "pods", "-n", "kube-system", "--no-headers",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "KUBECONFIG": "/nonexistent"})
            await proc.wait()
            empty = time.perf_counter() - t
            figure(f"kubectl get pods -A with {pods} Pods (baseline: kubectl get pods of an empty namespace)", took,
                   "s", empty, target=f"< {TARGET_KUBECTL_S:g} s at 10,000", met=took < TARGET_KUBECTL_S,
                   lines=stdout.count(b"\n"))

        # 4. churn: delete a tenth, endpoints settle
        gone = [f"pod-{j}" for j in range(0, pods, 10)]
        log(f"deleting {len(gone)} Pods")
        t = time.perf_counter()

        async def delete(name: str) -> None:
            async with sem:
                try:
                    await c.delete(PODS, name, namespace=NS)
                except errors.NotFound:
                    pass

        await asyncio.gather(*(delete(n) for n in gone))
        sent_del = time.perf_counter() - t
        left = pods - len(gone)
        settled = await wait_for(lambda: obs.in_endpoints <= left and obs.in_slices <= left and len(obs.running) <= left,
                                 timeout=120, what="endpoints to settle after the deletes")
        figure(f"delete {len(gone)} Pods -> Endpoints and EndpointSlices settled (baseline: time to send the "
               "deletes)", None if settled is None else sent_del + settled, "s", sent_del)
        sampler.cancel()
        for w in watchers:
            w.cancel()
        out["rows"] = rows
    if series is not None:
        series.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in out["rows"]))
        log(f"time series written to {series}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a tenth of the size: 100 Services, 1,000 Pods, 2 nodes")
    p.add_argument("--services", type=int, default=None, help="default 1000 (100 with --quick)")
    p.add_argument("--pods", type=int, default=None, help="default 10000 (1000 with --quick)")
    p.add_argument("--nodes", type=int, default=None, help="simulated node agents, default 5 (2 with --quick)")
    p.add_argument("--clients", type=int, default=32, help="requests in flight")
    p.add_argument("--series", type=Path, default=None, help="write the time series here (JSON lines)")
    args = p.parse_args(argv)
    for name, full, quick in (("services", 1000, 100), ("pods", 10000, 1000), ("nodes", 5, 2)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    per_node = -(-args.pods // args.nodes) + 10
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        d = Path(tmp)
        try:
            t = time.perf_counter()
            api, url = start_apiserver(d / "api", pin=False)
            fresh_start = time.perf_counter() - t
            procs["apiserver"] = api
            for name in ("ipam", "nodeport", "endpoints", "serviceaccount"):
                procs[name] = start_process(kubelite_argv("controller", name, "--server", url, "--no-leader-elect",
                                                          "--log-level", "WARNING"), d / f"{name}.log", pin=False)
            for i in range(args.nodes):
                procs[f"node-{i}"] = start_process(kubelite_argv(
                    "node", "--server", url, "--name", f"node-{i}", "--pod-cidr", f"10.{100 + i}.0.0/16",
                    "--max-pods", str(per_node), "--node-ip", f"127.0.0.{i + 2}", "--log-level", "WARNING"),
                    d / f"node-{i}.log", pin=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                nodes = httpx.get(url + "/api/v1/nodes", timeout=5).json().get("items") or []
                if len(nodes) >= args.nodes:
                    break
                time.sleep(0.2)
            log(f"apiserver at {url}; ipam, nodeport, endpoints, serviceaccount and {args.nodes} node agents started")
            time.sleep(1.0)
            pids = {name: proc.pid for name, proc in procs.items()}
            # sqlite_bytes(FILE) counts FILE and FILE-wal: given the WAL itself, it is the WAL alone
            wal_file = d / "api" / "kubelite.db-wal"
            with Sampler(pids=pids, dbs={"db": d / "api", "wal": wal_file}, interval=0.25) as sampled:
                asyncio.run(run(url, api.pid, d / "api", services=args.services, pods=args.pods,
                                clients=args.clients, series=args.series))
            for name in pids:
                target = TARGET_APISERVER_MIB if name == "apiserver" else (
                    TARGET_CONTROLLER_MIB if not name.startswith("node-") else None)
                peak = sampled.peak[name] / MIB
                figure(f"{name} RSS, peak during the run (baseline: right after start)", peak, "MiB",
                       sampled.first[name] / MIB, target=f"< {target:g} MiB at full size" if target else None,
                       met=target is not None and peak < target)
            figure("SQLite db + WAL, peak during the run (baseline: right after start)", sampled.peak["db"] / MIB, "MiB",
                   sampled.first["db"] / MIB)
            wal_peak = sampled.peak["wal"] / MIB
            figure("SQLite WAL, peak during the run (baseline: right after start)", wal_peak, "MiB",
                   sampled.first["wal"] / MIB, target=f"< {TARGET_WAL_MIB:g} MiB at any time",
                   met=wal_peak < TARGET_WAL_MIB, at_end_mib=round(sampled.last["wal"] / MIB, 1))

            # 5. restart with these objects
            stop_processes([api])
            t = time.perf_counter()
            port = free_port()
            procs["apiserver"] = start_process(kubelite_argv(
                "apiserver", "--port", str(port), "--data-dir", str(d / "api"), "--log-level", "warning"),
                d / "api" / "apiserver-restart.log", pin=False)
            wait_http_ok(f"http://127.0.0.1:{port}/readyz", timeout=120, proc=procs["apiserver"],
                         log_path=d / "api" / "apiserver-restart.log")
            restart = time.perf_counter() - t
            figure(f"API server restart with {args.pods + args.services * 3} objects until /readyz (baseline: a fresh "
                   "server's start)", restart, "s", fresh_start, target=f"< {TARGET_RESTART_S:g} s at full size",
                   met=restart < TARGET_RESTART_S)
        finally:
            stop_processes(list(procs.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
