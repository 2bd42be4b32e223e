"""Endpoints benchmark: Pod Ready -> address in Endpoints and EndpointSlice; convergence of 1,000 Pods.

``python -m bench.endpoints [--quick] [--services 100] [--pods 1000] [--nodes 5] [--flips 300]`` starts
``kubelite apiserver``, ``--nodes`` node agents and the endpoints controller
(``kubelite node``, ``kubelite controller endpoints``) on free 127.0.0.1
ports, then:

1. creates the Services and the Pods (16 in flight, spread evenly over the
   Services) and measures the time until every Pod is a ready address of
   its Service in both the Endpoints and the EndpointSlices (convergence);
2. flips readiness (``kubelite.io/ready``) of ``--flips`` Pods, paced, half
   to not ready and back, and measures, from the moment the Pod's Ready
   condition changes on a watch to the moment the address moves on the
   Endpoints / EndpointSlice watches, the latency p50 and p99. The baseline
   is the hop before it in the same run: from sending the Pod's patch to its
   Ready condition changing on the watch (the node agent's write). An address
   that did not move before the wait timed out is counted as a timeout, fails
   the target and is never turned into a number.

Printed on stdout, one JSON line per figure (bench/common.py ``figure``):
``{"figure", "value", "unit", "baseline", "ratio"}`` (+ ``target``, ``met``);
the convergence rate and the controller's write rate are printed beside the
API write rate of the same run (revisions per second of the API server's
store) as baseline; RSS of the API server and the controller and the size of
the SQLite database with its WAL are sampled during the run (peak, beside the
value right after start). Target: p99 under 200 ms at 1,000 Pods / 100
Services. The processes are not pinned to cores. ``--quick``: 10 Services,
100 Pods, 2 nodes, 40 flips. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from apimachinery.resources import BY_KEY
from bench.common import (
    MIB,
    Sampler,
    figure,
    free_port,
    kubelite_argv,
    log,
    percentile,
    start_apiserver,
    start_process,
    stop_processes,
)
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
    """A kubelite process, unpinned: five node agents, the controller and the API server share both cores."""
    return start_process(kubelite_argv(*argv), log_path, pin=False)


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


async def wait_until(obs: Observer, cond: Callable[[], bool], timeout: float) -> bool:
    """Whether ``cond`` became true within ``timeout`` seconds (re-checked on every watch event)."""
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


def _moved(seen: dict[str, float], changed: dict[str, float], sent: dict[str, float],
           ips: set[str]) -> tuple[list[float], list[float], int]:
    """(controller latencies ms, node-agent latencies ms, addresses that never moved) of one flip direction.

    Why so careful: an address whose move was not seen before the wait ended
    still has the time of its previous move, and subtracting would give a
    negative latency; such an address is a timeout, not a number.
    """
    lat: list[float] = []
    base: list[float] = []
    missed = 0
    for ip in ips:
        if ip not in changed or ip not in seen or seen[ip] < changed[ip] or changed[ip] < sent[ip]:
            missed += 1
            continue
        lat.append((seen[ip] - changed[ip]) * 1000)
        base.append((changed[ip] - sent[ip]) * 1000)
    return lat, base, missed


async def run(url: str, metrics_url: str, *, services: int, pods: int, flips: int, inflight: int,
              rate: float) -> None:
    async with Client(url, max_connections=inflight + 8) as c:
        try:
            await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        except errors.AlreadyExists:
            pass
        try:  # no serviceaccount controller runs here: the account the Pods are admitted with
            await c.create(BY_KEY["serviceaccounts"], {"apiVersion": "v1", "kind": "ServiceAccount",
                                                       "metadata": {"name": "default"}}, namespace=NS)
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
        converged: dict[str, Any] = {"converged": ok, "addresses_in_endpoints": len(obs.ready_in_endpoints()),
                     "addresses_in_slices": len(obs.ready_in_slices()), "pods": pods}
        if not ok:
            log(f"TIMEOUT: {len(obs.ready_in_endpoints())} addresses in Endpoints, "
                f"{len(obs.ready_in_slices())} in slices of {pods}")
        await asyncio.sleep(1.0)
        api_rate = (revision(url) - rev0) / (time.perf_counter() - t0)
        ctl_rate = (controller_writes(metrics_url) - writes0) / (time.perf_counter() - t0)
        figure(f"convergence time ({pods} pods, {services} services; baseline: time to send the creates)",
               t_conv - t0 if ok else None, "s", t_created - t0, **converged)
        figure("pods converged/s (baseline: pod creates/s)", pods / (t_conv - t0) if ok else None, "1/s",
               pods / (t_created - t0), **converged)
        figure("endpoints controller writes/s (baseline: all API writes/s)", ctl_rate, "1/s", api_rate)

        # 2. readiness flips: Pod Ready changes -> address moves in Endpoints / EndpointSlice
        rng = random.Random(1)
        names = rng.sample(sorted(obs.pod_ip), min(flips, len(obs.pod_ip)))
        log(f"flipping readiness of {len(names)} Pods, {rate:.0f}/s, off then on")
        want = {obs.pod_ip[n] for n in names}
        lat: dict[str, list[float]] = {"Endpoints": [], "EndpointSlice": []}
        base: dict[str, list[float]] = {"Endpoints": [], "EndpointSlice": []}
        missed = {"Endpoints": 0, "EndpointSlice": 0}
        for value in ("false", "true"):
            sent: dict[str, float] = {}
            for name in names:
                sent[obs.pod_ip[name]] = time.perf_counter()
                await c.patch(PODS, name, {"metadata": {"annotations": {READY: value}}}, namespace=NS)
                await asyncio.sleep(1.0 / rate)
            if value == "false":
                done = await wait_until(
                    obs, lambda: not (want & obs.ready_in_endpoints() or want & obs.ready_in_slices()), 30)
            else:
                done = await wait_until(
                    obs, lambda: want <= obs.ready_in_endpoints() and want <= obs.ready_in_slices(), 30)
            if not done:
                log(f"TIMEOUT: not every address moved within 30 s after the readiness={value} flips")
            for label, seen in (("Endpoints", obs.ep_seen), ("EndpointSlice", obs.slice_seen)):
                got, node, miss = _moved(seen, obs.pod_changed, sent, want)
                lat[label] += got
                base[label] += node
                missed[label] += miss
        for label in ("Endpoints", "EndpointSlice"):
            counts: dict[str, Any] = {"flips": 2 * len(want), "timeouts": missed[label]}
            for q, target in ((0.5, None), (0.99, "<= 200 ms")):
                v = percentile(lat[label], q) if lat[label] else None
                b = percentile(base[label], q) if base[label] else None
                figure(f"Pod Ready change -> {label} latency p{q * 100:g} (baseline: Pod patch -> Ready change)",
                       v, "ms", b, target=target, met=v is not None and v <= 200 and missed[label] == 0, **counts)
        for w in watchers:
            w.cancel()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.endpoints", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short run: 10 Services, 100 Pods, 2 nodes, 40 flips")
    p.add_argument("--services", type=int, default=None, help="default 100 (10 with --quick)")
    p.add_argument("--pods", type=int, default=None, help="default 1000 (100 with --quick)")
    p.add_argument("--nodes", type=int, default=None, help="default 5 (2 with --quick)")
    p.add_argument("--flips", type=int, default=None, help="Pods whose readiness is flipped off and on "
                   "(default 300, 40 with --quick)")
    p.add_argument("--rate", type=float, default=50.0, help="readiness flips per second")
    p.add_argument("--inflight", type=int, default=16, help="creates in flight")
    p.add_argument("--workers", type=int, default=5, help="endpoints controller workers")
    p.add_argument("--batch-period", default=None, help="the controller's --endpoint-updates-batch-period")
    args = p.parse_args(argv)
    for name, full, quick in (("services", 100, 10), ("pods", 1000, 100), ("nodes", 5, 2), ("flips", 300, 40)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    procs: list[subprocess.Popen[bytes]] = []
    per_node = -(-args.pods // args.nodes) + 10
    with tempfile.TemporaryDirectory(prefix="bench-ep-") as tmp:
        d = Path(tmp)
        try:
            api, url = start_apiserver(d / "api", pin=False)
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
            with Sampler(pids={"apiserver": api.pid, "controller": procs[1].pid}, dbs={"db": d / "api"}) as sampled:
                asyncio.run(run(url, f"http://127.0.0.1:{mport}/metrics", services=args.services, pods=args.pods,
                                flips=args.flips, inflight=args.inflight, rate=args.rate))
            for key, what in (("apiserver", "API server RSS"), ("controller", "endpoints controller RSS"),
                              ("db", "SQLite db + WAL")):
                figure(f"{what}, peak during the run (baseline: right after start)", sampled.peak[key] / MIB, "MiB",
                       sampled.first[key] / MIB)
        finally:
            stop_processes(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
