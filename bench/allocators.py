"""Allocator benchmark: Service create -> allocated ClusterIP / NodePort, beside the API create rate.

``python -m bench.allocators [--quick] [--services 1000] [--workers 8] [--server URL]`` starts
``kubelite apiserver`` (unless --server names a running one, whose
allocators must then be running too) and one ipam and one nodeport
controller process (``kubelite controller ipam|nodeport``) on free 127.0.0.1 ports, waits until both hold their
leases, then creates NodePort Services as fast as it can (16 in flight)
while a watch records when each one first shows a clusterIP and a nodePort.

The API server and both controllers run on CPU 0 (``taskset -c 0``), this
process (the load generator and the watch) on CPU 1, as bench/api.py does.

Printed on stdout, one JSON line per figure (bench/common.py ``figure``):
``{"figure", "value", "unit", "baseline", "ratio"}``:
- allocation latency p50 / p99 (create sent -> allocated value seen on the
  watch), beside the create request's own latency (sent -> 201) in the same
  run; a Service never seen allocated is a timeout: the figure's value is
  then null with the count, never a number over the others;
- allocations per second (Services / (last allocation - first create sent)),
  with the API create rate of the same run as baseline; ratio = alloc/create;
- RSS of the API server and of each controller, and the SQLite db + WAL
  size, sampled during the run (peak, beside the value right after start).
``--quick``: 200 Services. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from apimachinery.resources import BY_KEY
from bench.common import (
    MIB,
    Sampler,
    figure,
    kubelite_argv,
    log,
    percentile,
    pin_generator,
    start_apiserver,
    start_process,
    stop_processes,
)
from kubeclient import errors
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
NAMESPACES = BY_KEY["namespaces"]
LEASES = BY_KEY["leases.coordination.k8s.io"]
NS = "bench-alloc"


def start_controller(name: str, url: str, log_dir: Path, workers: int) -> subprocess.Popen[bytes]:
    """``kubelite controller NAME`` on the server core."""
    return start_process(kubelite_argv("controller", name, "--server", url, "--workers", str(workers)),
                         log_dir / f"{name}.log")


async def wait_leases(c: Client, names: list[str], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    for name in names:
        while True:
            try:
                lease = await c.get(LEASES, name, namespace="kube-system")
                if (lease.get("spec") or {}).get("holderIdentity"):
                    break
            except errors.NotFound:
                pass
            if time.monotonic() > end:
                raise SystemExit(f"lease {name} never acquired")
            await asyncio.sleep(0.1)


async def wait_controllers(url: str) -> None:
    """Until the ipam and nodeport controllers hold their leases."""
    async with Client(url) as c:
        await wait_leases(c, ["kubelite-ipam", "kubelite-nodeport"])


async def run(url: str, n: int, inflight: int) -> None:
    async with Client(url, max_connections=inflight + 8) as c:
        await wait_leases(c, ["kubelite-ipam", "kubelite-nodeport"])
        try:
            await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        except errors.AlreadyExists:
            pass
        rv = (await c.list(SERVICES, namespace=NS, limit=1))["metadata"]["resourceVersion"]
        sent: dict[str, float] = {}
        created_ms: list[float] = []
        ip_at: dict[str, float] = {}
        port_at: dict[str, float] = {}
        done = asyncio.Event()

        async def watch() -> None:
            async for _, obj in c.watch(SERVICES, namespace=NS, resource_version=rv):
                name = (obj.get("metadata") or {}).get("name")
                spec = obj.get("spec") or {}
                if not name:
                    continue
                now = time.perf_counter()
                if spec.get("clusterIP") and name not in ip_at:
                    ip_at[name] = now
                if any(p.get("nodePort") for p in spec.get("ports") or []) and name not in port_at:
                    port_at[name] = now
                if len(ip_at) >= n and len(port_at) >= n:
                    done.set()
                    return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        sem = asyncio.Semaphore(inflight)
        stamp = time.strftime("%H%M%S")

        async def make(i: int) -> None:
            name = f"s{stamp}-{i:05d}"
            body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
                    "spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}}
            async with sem:
                t = sent[name] = time.perf_counter()
                await c.create(SERVICES, body)
                created_ms.append((time.perf_counter() - t) * 1000)

        log(f"creating {n} NodePort Services, {inflight} in flight")
        t0 = time.perf_counter()
        await asyncio.gather(*(make(i) for i in range(n)))
        t_created = time.perf_counter()
        try:
            await asyncio.wait_for(done.wait(), timeout=max(120.0, n / 5))
        except TimeoutError:
            log(f"TIMEOUT: {len(ip_at)} ClusterIPs and {len(port_at)} node ports of {n} seen")
        watcher.cancel()
        create_rate = n / (t_created - t0)
        for label, seen in (("clusterIP", ip_at), ("nodePort", port_at)):
            lat = [(seen[k] - sent[k]) * 1000 for k in seen if k in sent]
            timeouts = n - len(lat)
            counts: dict[str, Any] = {"services": n, "timeouts": timeouts}
            for q in (0.5, 0.99):
                figure(f"{label} allocation latency p{q * 100:g} (baseline: the create request's latency)",
                       percentile(lat, q) if lat and not timeouts else None, "ms", percentile(created_ms, q),
                       **counts)
            rate = len(lat) / (max(seen.values()) - t0) if lat and not timeouts else None
            figure(f"{label} allocations/s ({n} services; baseline: API creates/s)", rate, "1/s", create_rate,
                   **counts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.allocators", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short run: 200 Services")
    p.add_argument("--services", type=int, default=None, help="default 1000 (200 with --quick)")
    p.add_argument("--inflight", type=int, default=16, help="creates in flight")
    p.add_argument("--workers", type=int, default=8, help="reconcile workers per controller")
    p.add_argument("--server", help="use this API server (its ipam and nodeport controllers must run)")
    args = p.parse_args(argv)
    services = args.services or (200 if args.quick else 1000)
    procs: list[subprocess.Popen[bytes]] = []
    pin_generator()
    with tempfile.TemporaryDirectory(prefix="bench-alloc-") as tmp:
        url = args.server
        try:
            if url is None:
                api, url = start_apiserver(Path(tmp) / "api")
                procs.append(api)
                procs += [start_controller(name, url, Path(tmp), args.workers) for name in ("ipam", "nodeport")]
                log(f"apiserver at {url}; ipam and nodeport started (CPU 0); generator on CPU 1")
                asyncio.run(wait_controllers(url))  # so the memory baseline is that of running controllers
                names = ("apiserver", "ipam", "nodeport")
                with Sampler(pids={k: pr.pid for k, pr in zip(names, procs, strict=True)},
                             dbs={"db": Path(tmp) / "api"}) as sampled:
                    asyncio.run(run(url, services, args.inflight))
                for key, what in (("apiserver", "API server RSS"), ("ipam", "ipam controller RSS"),
                                  ("nodeport", "nodeport controller RSS"), ("db", "SQLite db + WAL")):
                    figure(f"{what}, peak during the run (baseline: right after start)", sampled.peak[key] / MIB,
                           "MiB", sampled.first[key] / MIB)
            else:
                asyncio.run(run(url, services, args.inflight))
        finally:
            stop_processes(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
