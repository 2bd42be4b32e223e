"""Service proxy benchmark: requests through a ClusterIP against the same requests straight to the Pod.

``python -m bench.proxy [--seconds 5] [--concurrency 8] [--rounds 5]`` starts an API
server (Service range 127.98.0.0/16), the ipam and endpoints controllers, one
process-runtime node (Pods 127.12.1.0/24, node IP 127.0.4.1) and its proxy,
creates a Service with one ``kubelite/echo`` Pod, then:

1. for ``--seconds`` each, ``--concurrency`` clients send HTTP requests as
   fast as they can, (a) straight to the Pod IP, (b) to the ClusterIP
   through the proxy; once with a new connection per request (curl-like),
   once on kept-alive connections. Figures: requests/s and p99 latency of
   both, and the ratio proxied/direct;
2. ``--rounds`` times: a second Pod is created while a client sends a
   request every 2 ms to the ClusterIP; the figure is the time from the
   moment the Pod's Ready condition appears on a watch to the first answer
   that Pod gives through the proxy (p50 and max). (The proxy's own
   ``kubeproxy_network_programming_duration_seconds`` is not used: the
   EndpointSlice trigger-time annotation has one-second resolution.)

Printed on stdout, one JSON line per figure (as bench/api.py). Progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.allocators import ROOT, figure, free_port, log, percentile

SERVICE_CIDR = "127.98.0.0/16"
POD_CIDR = "127.12.1.0/24"
NODE_IP = "127.0.4.1"
NS = "bench-proxy"


def start(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KUBECONFIG": "/nonexistent"}
    return subprocess.Popen([sys.executable, "-m", "kubelite.cli", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log_path.open("wb"))


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def echo_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"nodeName": "bench-1", "terminationGracePeriodSeconds": 2, "containers": [{
                "name": "echo", "image": "kubelite/echo", "ports": [{"containerPort": 8080}],
                "args": ["--shutdown-delay", "0"],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}]}}


def ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
REQUEST_CLOSE = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


async def one_request(ip: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(ip, port)
    try:
        writer.write(REQUEST_CLOSE)
        return await _read_response(reader)
    finally:
        writer.close()


async def load(ip: str, port: int, *, seconds: float, concurrency: int, keepalive: bool) -> tuple[float, list[float]]:
    """(requests per second, latencies in seconds) of ``concurrency`` clients for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                if keepalive:
                    if conn is None:
                        conn = await asyncio.open_connection(ip, port)
                    conn[1].write(REQUEST)
                    await _read_response(conn[0])
                else:
                    await one_request(ip, port)
                latencies.append(time.perf_counter() - t0)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                conn = None
        if conn is not None:
            conn[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    took = time.perf_counter() - started
    if errors:
        log(f"  {errors} requests failed")
    return len(latencies) / took, latencies


async def pod_ready_to_traffic(api: httpx.AsyncClient, ip: str, *, rounds: int) -> list[float]:
    """Seconds from a new Pod's Ready (seen on a watch) to its first answer through the ClusterIP."""
    out: list[float] = []
    for i in range(rounds):
        name = f"late-{i}"
        ready_at: float | None = None
        answered_at: float | None = None
        stop = asyncio.Event()

        async def watch(name: str = name) -> None:
            nonlocal ready_at
            params = {"watch": "1", "fieldSelector": f"metadata.name={name}"}
            async with api.stream("GET", f"/api/v1/namespaces/{NS}/pods", params=params, timeout=None) as r:
                async for line in r.aiter_lines():
                    if line and ready(json.loads(line)["object"]):
                        ready_at = time.perf_counter()
                        return

        async def hammer(name: str = name, stop: asyncio.Event = stop) -> None:
            nonlocal answered_at
            while not stop.is_set():
                try:
                    body = await one_request(ip, 8080)
                    if f"from {name} ".encode() in body:
                        answered_at = time.perf_counter()
                        return
                except (OSError, asyncio.IncompleteReadError):
                    pass
                await asyncio.sleep(0.002)

        w = asyncio.create_task(watch())
        h = asyncio.create_task(hammer())
        r = await api.post(f"/api/v1/namespaces/{NS}/pods", json=echo_pod(name))
        r.raise_for_status()
        try:
            await asyncio.wait_for(asyncio.gather(w, h), 30)
        finally:
            stop.set()
        assert ready_at is not None and answered_at is not None
        out.append(max(0.0, answered_at - ready_at))
        log(f"  round {i + 1}: Ready -> first answer through the proxy {1000 * out[-1]:.1f} ms")
        await api.delete(f"/api/v1/namespaces/{NS}/pods/{name}")
    return out


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        api_port = free_port()
        procs.append(start(["apiserver", "--port", str(api_port), "--data-dir", str(work), "--log-level", "warning",
                            "--service-cluster-ip-range", SERVICE_CIDR], work / "apiserver.log"))
        url = f"http://127.0.0.1:{api_port}"
        wait_http(url + "/readyz")
        for name in ("ipam", "endpoints"):
            procs.append(start(["controller", name, "--server", url, "--no-leader-elect"], work / f"{name}.log"))
        procs.append(start(["node", "--server", url, "--name", "bench-1", "--pod-cidr", POD_CIDR, "--node-ip", NODE_IP,
                            "--runtime", "process", "--root-dir", str(work / "node"), "--kubelet-port",
                            str(free_port())], work / "node.log"))
        proxy_metrics = free_port()
        procs.append(start(["proxy", "--server", url, "--node", "bench-1", "--cluster-cidr", "127.12.0.0/16",
                            "--metrics-port", str(proxy_metrics)], work / "proxy.log"))
        wait_http(f"http://127.0.0.1:{proxy_metrics}/healthz")
        async with httpx.AsyncClient(base_url=url, timeout=10) as api:
            (await api.post("/api/v1/namespaces", json={"metadata": {"name": NS}})).raise_for_status()
            (await api.post(f"/api/v1/namespaces/{NS}/services", json={
                "metadata": {"name": "bench"},
                "spec": {"selector": {"app": "bench"}, "ports": [{"port": 8080}]}})).raise_for_status()
            (await api.post(f"/api/v1/namespaces/{NS}/pods", json=echo_pod("steady"))).raise_for_status()
            deadline = time.monotonic() + 30
            pod: dict[str, Any] = {}
            svc: dict[str, Any] = {}
            while time.monotonic() < deadline:
                pod = (await api.get(f"/api/v1/namespaces/{NS}/pods/steady")).json()
                svc = (await api.get(f"/api/v1/namespaces/{NS}/services/bench")).json()
                if ready(pod) and svc["spec"].get("clusterIP"):
                    break
                await asyncio.sleep(0.1)
            pod_ip, cluster_ip = pod["status"]["podIP"], svc["spec"]["clusterIP"]
            while True:
                try:
                    await one_request(cluster_ip, 8080)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            log(f"Pod {pod_ip}, ClusterIP {cluster_ip}; {args.concurrency} clients, {args.seconds:g}s per run")
            for keepalive in (False, True):
                mode = "keepalive" if keepalive else "new_connection"
                direct_rps, direct = await load(pod_ip, 8080, seconds=args.seconds, concurrency=args.concurrency,
                                                keepalive=keepalive)
                proxied_rps, proxied = await load(cluster_ip, 8080, seconds=args.seconds,
                                                  concurrency=args.concurrency, keepalive=keepalive)
                log(f"{mode}: direct {direct_rps:.0f} req/s, through the proxy {proxied_rps:.0f} req/s")
                figure(f"proxy_{mode}_requests_per_second", proxied_rps, "req/s", direct_rps)
                figure(f"proxy_{mode}_p99_latency", 1000 * percentile(proxied, 0.99), "ms",
                       1000 * percentile(direct, 0.99))
                figure(f"proxy_{mode}_p50_latency", 1000 * percentile(proxied, 0.50), "ms",
                       1000 * percentile(direct, 0.50))
            lat = await pod_ready_to_traffic(api, cluster_ip, rounds=args.rounds)
            figure("pod_ready_to_traffic_p50", 1000 * percentile(lat, 0.5), "ms")
            figure("pod_ready_to_traffic_max", 1000 * max(lat), "ms")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep:
            log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--keep", action="store_true", help="keep the processes' logs")
    asyncio.run(run(p.parse_args(argv)))


if __name__ == "__main__":
    main()
