"""Endpoints benchmark: Pod Ready -> address in Endpoints and EndpointSlice; convergence of 1,000 Pods.

``python -m bench.endpoints [--services 100] [--pods 1000] [--nodes 5] [--flips 300]`` starts
``kubelite apiserver``, ``--nodes`` node agents and the endpoints controller
(``kubelite node``, ``kubelite controller endpoints``) on free 127.0.0.1
ports, then:

1. creates the Services and the Pods (16 in flight, spread evenly over the
   Services) and measures the time until every Pod is a ready address of
   its Service in both the Endpoints and the EndpointSlices (convergence);
2. flips readiness (``kubelite.io/ready``) of ``--flips`` Pods, paced, half
   to not ready and back, and measures, from the moment the Pod's Ready
   condition changes on a watch to the moment the address moves on the
   Endpoints / EndpointSlice watches, the latency p50 and p99.

Printed on stdout, one JSON line per figure (as bench/api.py):
``{"figure", "value", "unit", "baseline", "ratio"}``; the convergence rate
and the controller's write rate are printed beside the API write rate of the
same run (revisions per second of the API server's store) as baseline.
Target: p99 under 200 ms at 1,000 Pods / 100 Services. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from apimachinery.resources import BY_KEY
from bench.allocators import ROOT, figure, free_port, log, percentile, start_apiserver
from kubeclient import errors
from kubeclient.client import Client

PODS = BY_KEY["pods"]
SERVICES = BY_KEY["services"]
ENDPOINTS = BY_KEY["endpoints"]
SLICES = BY_KEY["endpointslices.discovery.k8s.io"]
NAMESPACES = BY_KEY["namespaces"]
NS = "bench-ep"
READY = "kubelite.io/ready"


def start(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": "/nonexistent"}
    return subprocess.Popen([sys.executable, "-m", "kubelite.cli", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log_path.open("wb"))


def scrape(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for s in fam.samples:
            out[s.name + str(sorted(s.labels.items()))] = s.value
    return out


def revision(api_url: str) -> float:
    return scrape(api_url + "/metrics").get("kubelite_storage_revision[]", 0.0)


def controller_writes(metrics_url: str) -> float:
    return sum(v for k, v in scrape(metrics_url).items() if k.startswith("kubelite_endpoints_writes_total"))


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class Observer:
    """Follows Pods, Endpoints and EndpointSlices of the namespace; records when each address changes state."""

    def __init__(self) -> None:
        self.pod_ip: dict[str, str] = {}
        self.pod_ready: dict[str, bool] = {}
        self.pod_changed: dict[str, float] = {}  # ip -> when its Ready condition last changed
        self.ep_ready: dict[str, set[str]] = {}  # service -> ready IPs in Endpoints
        self.slice_ready: dict[str, set[str]] = {}  # slice name -> ready IPs
        self.ep_seen: dict[str, float] = {}  # ip -> when it last changed readiness in Endpoints
        self.slice_seen: dict[str, float] = {}
        self.changed = asyncio.Event()

    def ready_in_endpoints(self) -> set[str]:
        return set().union(*self.ep_ready.values()) if self.ep_ready else set()

    def ready_in_slices(self) -> set[str]:
        return set().union(*self.slice_ready.values()) if self.slice_ready else set()

    async def pods(self, c: Client, rv: str) -> None:
        async for etype, pod in c.watch(PODS, namespace=NS, resource_version=rv):
            name = (pod.get("metadata") or {}).get("name")
            ip = (pod.get("status") or {}).get("podIP")
            if not name or not ip or etype == "BOOKMARK":
                continue
            now = time.perf_counter()
            ready = _ready(pod) and etype != "DELETED"
            if self.pod_ready.get(name) != ready:
                self.pod_ready[name] = ready
                self.pod_changed[ip] = now
            self.pod_ip[name] = ip

    async def endpoints(self, c: Client, rv: str) -> None:
        async for etype, ep in c.watch(ENDPOINTS, namespace=NS, resource_version=rv):
            name = (ep.get("metadata") or {}).get("name")
            if not name or etype == "BOOKMARK":
                continue
            now = time.perf_counter()
            ips = set() if etype == "DELETED" else {
                a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}
            old = self.ep_ready.get(name, set())
            for ip in ips ^ old:
                self.ep_seen[ip] = now
            self.ep_ready[name] = ips
            self.changed.set()

    async def slices(self, c: Client, rv: str) -> None:
        async for etype, s in c.watch(SLICES, namespace=NS, resource_version=rv):
            name = (s.get("metadata") or {}).get("name")
            if not name or etype == "BOOKMARK":
                continue
            now = time.perf_counter()
            ips = set() if etype == "DELETED" else {
                a for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
                for a in e.get("addresses") or []}
            old = self.slice_ready.get(name, set())
            for ip in ips ^ old:
                self.slice_seen[ip] = now
            self.slice_ready[name] = ips
            self.changed.set()


async def wait_until(obs: Observer, cond: Any, timeout: float) -> bool:
    end = time.perf_counter() + timeout
    while not cond():
        remaining = end - time.perf_counter()
        if remaining <= 0:
            return False
        obs.changed.clear()
        try:
            await asyncio.wait_for(obs.changed.wait(), timeout=min(remaining, 0.5))
        except TimeoutError:
            pass
    return True


async def run(url: str, metrics_url: str, *, services: int, pods: int, flips: int, inflight: int,
              rate: float) -> None:
    async with Client(url, max_connections=inflight + 8) as c:
        try:
            await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        except errors.AlreadyExists:
            pass
        obs = Observer()
        rv = (await c.list(PODS, namespace=NS, limit=1))["metadata"]["resourceVersion"]
        watchers = [asyncio.create_task(obs.pods(c, rv)), asyncio.create_task(obs.endpoints(c, rv)),
                    asyncio.create_task(obs.slices(c, rv))]
        await asyncio.sleep(0.2)
        sem = asyncio.Semaphore(inflight)

        async def make(rt: Any, body: dict[str, Any]) -> None:
            async with sem:
                await c.create(rt, body, namespace=NS)

        # 1. convergence of all Pods across all Services
        rev0, writes0, t0 = revision(url), controller_writes(metrics_url), time.perf_counter()
        await asyncio.gather(*(make(SERVICES, {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
            "spec": {"selector": {"app": f"app-{i}"}, "ports": [{"port": 80, "targetPort": 8080}]}})
            for i in range(services)))
        log(f"creating {pods} Pods over {services} Services, {inflight} in flight")
        await asyncio.gather(*(make(PODS, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{j}", "labels": {"app": f"app-{j % services}"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 8080}]}]}})
            for j in range(pods)))
        t_created = time.perf_counter()
        ok = await wait_until(obs, lambda: len(obs.ready_in_endpoints()) >= pods and len(obs.ready_in_slices()) >= pods,
                              timeout=max(120.0, pods / 5))
        t_conv = time.perf_counter()
        if not ok:
            log(f"timed out: {len(obs.ready_in_endpoints())} addresses in Endpoints, "
                f"{len(obs.ready_in_slices())} in slices of {pods}")
        await asyncio.sleep(1.0)
        api_rate = (revision(url) - rev0) / (time.perf_counter() - t0)
        ctl_rate = (controller_writes(metrics_url) - writes0) / (time.perf_counter() - t0)
        figure(f"convergence time ({pods} pods, {services} services)", t_conv - t0, "s")
        figure("pods converged/s (baseline: pod creates/s)", pods / (t_conv - t0), "1/s", pods / (t_created - t0))
        figure("endpoints controller writes/s (baseline: all API writes/s)", ctl_rate, "1/s", api_rate)

        # 2. readiness flips: Pod Ready changes -> address moves in Endpoints / EndpointSlice
        rng = random.Random(1)
        names = rng.sample(sorted(obs.pod_ip), min(flips, len(obs.pod_ip)))
        log(f"flipping readiness of {len(names)} Pods, {rate:.0f}/s, off then on")
        want = {obs.pod_ip[n] for n in names}
        ep_lat: list[float] = []
        sl_lat: list[float] = []
        for value in ("false", "true"):
            for name in names:
                await c.patch(PODS, name, {"metadata": {"annotations": {READY: value}}}, namespace=NS)
                await asyncio.sleep(1.0 / rate)
            if value == "false":
                await wait_until(obs, lambda: not (want & obs.ready_in_endpoints() or want & obs.ready_in_slices()), 30)
            else:
                await wait_until(obs, lambda: want <= obs.ready_in_endpoints() and want <= obs.ready_in_slices(), 30)
            ep_lat += [(obs.ep_seen[ip] - obs.pod_changed[ip]) * 1000 for ip in want
                       if ip in obs.ep_seen and ip in obs.pod_changed]
            sl_lat += [(obs.slice_seen[ip] - obs.pod_changed[ip]) * 1000 for ip in want
                       if ip in obs.slice_seen and ip in obs.pod_changed]
        for label, lat in (("Endpoints", ep_lat), ("EndpointSlice", sl_lat)):
            figure(f"Pod Ready change -> {label} latency p50", percentile(lat, 50), "ms")
            figure(f"Pod Ready change -> {label} latency p99", percentile(lat, 99), "ms")
        for w in watchers:
            w.cancel()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.endpoints", description=__doc__.split("\n\n")[0])
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--flips", type=int, default=300, help="Pods whose readiness is flipped off and on")
    p.add_argument("--rate", type=float, default=50.0, help="readiness flips per second")
    p.add_argument("--inflight", type=int, default=16, help="creates in flight")
    p.add_argument("--workers", type=int, default=5, help="endpoints controller workers")
    p.add_argument("--batch-period", default=None, help="the controller's --endpoint-updates-batch-period")
    args = p.parse_args(argv)
    procs: list[subprocess.Popen[bytes]] = []
    per_node = -(-args.pods // args.nodes) + 10
    with tempfile.TemporaryDirectory(prefix="bench-ep-") as tmp:
        d = Path(tmp)
        try:
            api, url = start_apiserver(d)
            procs.append(api)
            mport = free_port()
            batch = ["--endpoint-updates-batch-period", args.batch_period] if args.batch_period else []
            procs.append(start(["controller", "endpoints", "--server", url, "--no-leader-elect", "--workers",
                                str(args.workers), "--metrics-port", str(mport), *batch], d / "endpoints.log"))
            for i in range(args.nodes):
                procs.append(start(["node", "--server", url, "--name", f"node-{i}", "--pod-cidr", f"10.{100 + i}.0.0/20",
                                    "--max-pods", str(per_node), "--node-ip", f"127.0.0.{i + 2}"],
                                   d / f"node-{i}.log"))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    nodes = httpx.get(url + "/api/v1/nodes", timeout=2).json().get("items") or []
                    if len(nodes) >= args.nodes and httpx.get(f"http://127.0.0.1:{mport}/healthz",
                                                              timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            log(f"apiserver at {url}; {args.nodes} node agents and the endpoints controller started")
            asyncio.run(run(url, f"http://127.0.0.1:{mport}/metrics", services=args.services, pods=args.pods,
                            flips=args.flips, inflight=args.inflight, rate=args.rate))
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
