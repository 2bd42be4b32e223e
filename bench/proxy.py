"""Service proxy benchmark: requests through a ClusterIP against the same requests straight to the Pod.

``python -m bench.proxy [--quick] [--seconds 5] [--concurrency 8] [--rounds 5]`` starts an API
server (Service range 127.98.0.0/16), the ipam and endpoints controllers, one
process-runtime node (Pods 127.12.1.0/24, node IP 127.0.4.1) and its proxy,
creates a Service with one ``kubelite/echo`` Pod, then:

1. for ``--seconds`` each, ``--concurrency`` clients send HTTP requests as
   fast as they can, (a) straight to the Pod IP, (b) to the ClusterIP
   through the proxy; once with a new connection per request (curl-like),
   once on kept-alive connections. Figures: requests/s and p99 latency of
   both, and the ratio proxied/direct (the direct run is the baseline);
2. ``--rounds`` times: a second Pod is created while a client sends a
   request every 2 ms to the ClusterIP; the figure is the time from the
   moment the Pod's Ready condition appears on a watch to the first answer
   that Pod gives through the proxy (p50 and max); the baseline is the time
   from the same moment to the Pod's first answer straight at its Pod IP
   (what observing Ready costs, without the proxy). A round that times out
   is counted and fails the target, never turned into a number. (The proxy's own
   ``kubeproxy_network_programming_duration_seconds`` is not used: the
   EndpointSlice trigger-time annotation has one-second resolution.)

Also the proxy's RSS, sampled during the run (peak), beside its RSS once it
was healthy and idle. Every address is on 127.0.0.0/8. The processes are not
pinned to cores. ``--quick``: 1 s per load run, 3 rounds.

Printed on stdout, one JSON line per figure (bench/common.py ``figure``).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    MIB,
    Sampler,
    figure,
    free_port,
    kubelite_argv,
    log,
    percentile,
    start_process,
    stop_processes,
    wait_http_ok,
)

SERVICE_CIDR = "127.98.0.0/16"
POD_CIDR = "127.12.1.0/24"
NODE_IP = "127.0.4.1"
NS = "bench-proxy"


def start(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """A kubelite process, unpinned: the proxy, the node's Pods and the clients share both cores."""
    return start_process(kubelite_argv(*argv), log_path, pin=False)


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


async def pod_ready_to_traffic(api: httpx.AsyncClient, ip: str, *, rounds: int) -> tuple[
        list[float], list[float], int]:
    """Seconds from a new Pod's Ready (seen on a watch) to its first answer through the ClusterIP.

    Returns (through the proxy, straight at the Pod IP, rounds that timed out).
    """
    out: list[float] = []
    direct: list[float] = []
    timeouts = 0
    for i in range(rounds):
        name = f"late-{i}"
        ready_at: float | None = None
        direct_at: float | None = None
        answered_at: float | None = None
        stop = asyncio.Event()

        async def watch(name: str = name, stop: asyncio.Event = stop) -> None:
            nonlocal ready_at, direct_at
            params = {"watch": "1", "fieldSelector": f"metadata.name={name}"}
            pod: dict[str, Any] = {}
            async with api.stream("GET", f"/api/v1/namespaces/{NS}/pods", params=params, timeout=None) as r:
                async for line in r.aiter_lines():
                    if line and ready(pod := json.loads(line)["object"]):
                        ready_at = time.perf_counter()
                        break
            pod_ip = pod["status"]["podIP"]  # 127.12.1.x: loopback
            while not stop.is_set():
                try:
                    if f"from {name} ".encode() in await one_request(pod_ip, 8080):
                        direct_at = time.perf_counter()
                        return
                except (OSError, asyncio.IncompleteReadError):
                    pass
                await asyncio.sleep(0.002)

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
        except TimeoutError:
            pass
        finally:
            stop.set()
        if ready_at is None or answered_at is None or direct_at is None:
            timeouts += 1
            log(f"  round {i + 1}: TIMEOUT after 30 s (Ready seen: {ready_at is not None}, answered directly: "
                f"{direct_at is not None}, through the proxy: {answered_at is not None})")
        else:
            # The proxy may answer before the watch delivers Ready: that is 0, not a negative latency.
            out.append(max(0.0, answered_at - ready_at))
            direct.append(max(0.0, direct_at - ready_at))
            log(f"  round {i + 1}: Ready -> first answer through the proxy {1000 * out[-1]:.1f} ms, "
                f"straight at the Pod {1000 * direct[-1]:.1f} ms")
        await api.delete(f"/api/v1/namespaces/{NS}/pods/{name}")
    return out, direct, timeouts


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        api_port = free_port()
        procs.append(start(["apiserver", "--port", str(api_port), "--data-dir", str(work), "--log-level", "warning",
                            "--service-cluster-ip-range", SERVICE_CIDR], work / "apiserver.log"))
        url = f"http://127.0.0.1:{api_port}"
        wait_http_ok(url + "/readyz", timeout=60, proc=procs[0], log_path=work / "apiserver.log")
        for name in ("ipam", "endpoints"):
            procs.append(start(["controller", name, "--server", url, "--no-leader-elect"], work / f"{name}.log"))
        procs.append(start(["node", "--server", url, "--name", "bench-1", "--pod-cidr", POD_CIDR, "--node-ip", NODE_IP,
                            "--runtime", "process", "--root-dir", str(work / "node"), "--kubelet-port",
                            str(free_port())], work / "node.log"))
        proxy_metrics = free_port()
        procs.append(start(["proxy", "--server", url, "--node", "bench-1", "--cluster-cidr", "127.12.0.0/16",
                            "--metrics-port", str(proxy_metrics)], work / "proxy.log"))
        wait_http_ok(f"http://127.0.0.1:{proxy_metrics}/healthz", timeout=60, proc=procs[-1],
                     log_path=work / "proxy.log")
        sampler = Sampler(pids={"proxy": procs[-1].pid})
        async with httpx.AsyncClient(base_url=url, timeout=10) as api:
            (await api.post("/api/v1/namespaces", json={"metadata": {"name": NS}})).raise_for_status()
            # no serviceaccount controller runs here: the account the Pods are admitted with
            (await api.post(f"/api/v1/namespaces/{NS}/serviceaccounts",
                            json={"metadata": {"name": "default"}})).raise_for_status()
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
            with sampler:
                for keepalive in (False, True):
                    mode = "keepalive" if keepalive else "new_connection"
                    direct_rps, direct = await load(pod_ip, 8080, seconds=args.seconds, concurrency=args.concurrency,
                                                    keepalive=keepalive)
                    proxied_rps, proxied = await load(cluster_ip, 8080, seconds=args.seconds,
                                                      concurrency=args.concurrency, keepalive=keepalive)
                    log(f"{mode}: direct {direct_rps:.0f} req/s, through the proxy {proxied_rps:.0f} req/s")
                    figure(f"proxy_{mode}_requests_per_second (baseline: direct)", proxied_rps, "req/s", direct_rps)
                    for q in (0.99, 0.5):
                        figure(f"proxy_{mode}_p{q * 100:g}_latency (baseline: direct)",
                               1000 * percentile(proxied, q), "ms", 1000 * percentile(direct, q))
                lat, direct_lat, timeouts = await pod_ready_to_traffic(api, cluster_ip, rounds=args.rounds)
            tail = {"rounds": args.rounds, "timeouts": timeouts}
            figure("pod_ready_to_traffic_p50 (baseline: Ready -> first answer at the Pod IP)",
                   1000 * percentile(lat, 0.5) if lat else None, "ms",
                   1000 * percentile(direct_lat, 0.5) if direct_lat else None, **tail)
            figure("pod_ready_to_traffic_max (baseline: Ready -> first answer at the Pod IP)",
                   1000 * max(lat) if lat else None, "ms", 1000 * max(direct_lat) if direct_lat else None,
                   target="<= 100 ms", met=bool(lat) and timeouts == 0 and max(lat) <= 0.1, **tail)
            figure("proxy RSS, peak during the run (baseline: idle after start)", sampler.peak["proxy"] / MIB, "MiB",
                   sampler.first["proxy"] / MIB)
    finally:
        stop_processes(procs, timeout=10)
        if args.keep:
            log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short run: 1 s per load run, 3 rounds")
    p.add_argument("--seconds", type=float, default=None, help="seconds per load run (default 5, 1 with --quick)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=None, help="Pod Ready -> traffic rounds (default 5, 3 with --quick)")
    p.add_argument("--keep", action="store_true", help="keep the processes' logs")
    args = p.parse_args(argv)
    args.seconds = args.seconds or (1.0 if args.quick else 5.0)
    args.rounds = args.rounds or (3 if args.quick else 5)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
