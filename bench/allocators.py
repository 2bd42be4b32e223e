"""Allocator benchmark: Service create -> allocated ClusterIP / NodePort, beside the API create rate.

``python -m bench.allocators [--services 1000] [--workers 8] [--server URL]`` starts
``kubelite apiserver`` (unless --server names a running one, whose
allocators must then be running too) and one ipam and one nodeport
controller process (``kubelite controller ipam|nodeport``) on free 127.0.0.1 ports, waits until both hold their
leases, then creates NodePort Services as fast as it can (16 in flight)
while a watch records when each one first shows a clusterIP and a nodePort.

Printed on stdout, one JSON line per figure (as bench/api.py):
``{"figure", "value", "unit", "baseline", "ratio"}``:
- allocation latency p50 / p99 (create sent -> allocated value seen on the watch);
- allocations per second (Services / (last allocation - first create sent)),
  with the API create rate of the same run as baseline; ratio = alloc/create.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from apimachinery.resources import BY_KEY
from kubeclient import errors
from kubeclient.client import Client

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
SERVICES = BY_KEY["services"]
NAMESPACES = BY_KEY["namespaces"]
LEASES = BY_KEY["leases.coordination.k8s.io"]
NS = "bench-alloc"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (q in [0, 100]); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def figure(name: str, value: float, unit: str, baseline: float | None = None) -> None:
    out: dict[str, Any] = {"figure": name, "value": round(value, 3), "unit": unit}
    if baseline is not None:
        out["baseline"] = round(baseline, 3)
        out["ratio"] = round(value / baseline, 3) if baseline else None
    print(orjson.dumps(out).decode(), flush=True)


def start_apiserver(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubelite.cli", "apiserver", "--port", str(port), "--data-dir", str(data_dir),
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(data_dir / "apiserver.log").open("wb"))
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"apiserver exited: {(data_dir / 'apiserver.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("apiserver did not become ready")


def start_controller(name: str, url: str, log_dir: Path, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": "/nonexistent"}
    return subprocess.Popen([sys.executable, "-m", "kubelite.cli", "controller", name, "--server", url,
                             "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=(log_dir / f"{name}.log").open("wb"))


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


async def run(url: str, n: int, inflight: int) -> None:
    async with Client(url, max_connections=inflight + 8) as c:
        await wait_leases(c, ["kubelite-ipam", "kubelite-nodeport"])
        try:
            await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        except errors.AlreadyExists:
            pass
        rv = (await c.list(SERVICES, namespace=NS, limit=1))["metadata"]["resourceVersion"]
        sent: dict[str, float] = {}
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
                sent[name] = time.perf_counter()
                await c.create(SERVICES, body)

        log(f"creating {n} NodePort Services, {inflight} in flight")
        t0 = time.perf_counter()
        await asyncio.gather(*(make(i) for i in range(n)))
        t_created = time.perf_counter()
        try:
            await asyncio.wait_for(done.wait(), timeout=max(120.0, n / 5))
        except TimeoutError:
            log(f"timed out: {len(ip_at)} ClusterIPs and {len(port_at)} node ports of {n} seen")
        watcher.cancel()
        create_rate = n / (t_created - t0)
        for label, seen in (("clusterIP", ip_at), ("nodePort", port_at)):
            lat = [(seen[k] - sent[k]) * 1000 for k in seen if k in sent]
            if not lat:
                continue
            figure(f"{label} allocation latency p50", percentile(lat, 50), "ms")
            figure(f"{label} allocation latency p99", percentile(lat, 99), "ms")
            rate = len(lat) / (max(seen.values()) - t0)
            figure(f"{label} allocations/s ({n} services; baseline: API creates/s)", rate, "1/s", create_rate)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.allocators", description=__doc__.split("\n\n")[0])
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--inflight", type=int, default=16, help="creates in flight")
    p.add_argument("--workers", type=int, default=8, help="reconcile workers per controller")
    p.add_argument("--server", help="use this API server (its ipam and nodeport controllers must run)")
    args = p.parse_args(argv)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-alloc-") as tmp:
        url = args.server
        try:
            if url is None:
                api, url = start_apiserver(Path(tmp))
                procs.append(api)
                procs += [start_controller(name, url, Path(tmp), args.workers) for name in ("ipam", "nodeport")]
                log(f"apiserver at {url}; ipam and nodeport started")
            asyncio.run(run(url, args.services, args.inflight))
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
