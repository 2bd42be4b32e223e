"""ConfigMaps and Secrets at 1,000: LIST throughput and watch delivery beside Pods' in the same run.

``python -m bench.configdata [--quick]`` starts ``kubelite apiserver`` pinned to
CPU 0 (bench/common.py), pins itself to CPU 1, seeds 1,000 Pods, 1,000
ConfigMaps and 1,000 Secrets of about the same JSON size (one namespace
each), then measures per kind, with the same raw HTTP/1.1 client as
bench/api.py:

1. LIST of the 1,000 objects, req/s with 16 in flight (closed loop);
2. watch delivery, create -> receipt, p50 and p99, with 50 watchers of the
   kind reading in a separate process while objects are created at 50/s.

The baseline of each ConfigMap and Secret figure is the Pod figure of the
same run: the question is whether the two new kinds cost what the API's
existing kind costs (the ratios of bench/api.py's LIST and watch figures
against their bare baselines then carry over). A Secret's LIST pays for
base64 ``data`` the same way as a ConfigMap's strings; with encryption at
rest (``--encryption-provider-config``) only writes and cold reads decrypt,
LIST and watch serve from the watch cache. ``--quick``: 1 s windows, 20
watchers, 100 watched creates. One JSON line per figure on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.api import (
    END,
    MARKER,
    SENT,
    HttpConn,
    Request,
    Server,
    closed_loop,
    one_request,
)
from bench.common import figure, free_port, log, percentile, pin_generator

SIZE = 1000
KINDS = ("pods", "configmaps", "secrets")
PAYLOAD = "x" * 300  # brings a ConfigMap or Secret near a defaulted Pod's JSON size


def body(kind: str, name: str, *, sent: str | None = None) -> bytes:
    meta: dict[str, Any] = {"name": name, "labels": {"app": "bench"}}
    if sent is not None:
        meta["annotations"] = {SENT: sent}
    if kind == "pods":
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    elif kind == "configmaps":
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
               "data": {"app.properties": PAYLOAD, "mode": "bench"}}
    else:
        obj = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
               "data": {"password": base64.b64encode(PAYLOAD.encode()[:225]).decode(), "user": "YmVuY2g="}}
    return orjson.dumps(obj)


def namespace(kind: str) -> str:
    return f"bench-{kind}"


async def seed(port: int) -> dict[str, int]:
    """SIZE objects of each kind in its own namespace; returns the bytes of one LIST of each."""
    sizes: dict[str, int] = {}
    for kind in KINDS:
        ns = namespace(kind)
        await one_request(port, "POST", "/api/v1/namespaces",
                          orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        # no serviceaccount controller runs here: the account the Pods are admitted with
        await one_request(port, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                          orjson.dumps({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}))
        conns = await asyncio.gather(*(HttpConn.open(port) for _ in range(16)))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(SIZE):
            queue.put_nowait(i)
        bad: list[int] = []

        async def worker(conn: HttpConn, kind: str = kind, ns: str = ns, queue: asyncio.Queue[int] = queue,
                         bad: list[int] = bad) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                status, _ = await conn.request("POST", f"/api/v1/namespaces/{ns}/{kind}", body(kind, f"o-{i:04d}"))
                if status != 201:
                    bad.append(status)

        await asyncio.gather(*(worker(c) for c in conns))
        for c in conns:
            c.close()
        if bad:
            raise RuntimeError(f"seeding {kind}: statuses {sorted(set(bad))}")
        status, listed = await one_request(port, "GET", f"/api/v1/namespaces/{ns}/{kind}")
        if status != 200 or len(orjson.loads(listed)["items"]) != SIZE:
            raise RuntimeError(f"LIST of {kind}: {status}")
        sizes[kind] = len(listed)
        log(f"seeded {SIZE} {kind} ({len(listed) / 1e6:.2f} MB per LIST)")
    return sizes


async def watch_delivery(port: int, kind: str, *, watchers: int, count: int, rate: float) -> tuple[list[int], int]:
    """Latencies (us) from each create's send to its receipt on each watcher, and the receipts missed."""
    ns = namespace(kind)
    # From the current revision: a watch from "0" first replays the 1,000 seeded objects to every
    # watcher, and reading that backlog would be measured as the kind's delivery latency.
    _, listed = await one_request(port, "GET", f"/api/v1/namespaces/{ns}/{kind}?limit=1")
    rv = orjson.loads(listed)["metadata"]["resourceVersion"]
    readers: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(watchers):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(f"GET /api/v1/namespaces/{ns}/{kind}?watch=1&resourceVersion={rv}&labelSelector=app%3Dbench "
                "HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode())
        await w.drain()
        readers.append((r, w))
    latencies: list[int] = []
    seen = [0] * watchers
    done = [asyncio.Event() for _ in range(watchers)]

    async def consume(k: int, reader: asyncio.StreamReader) -> None:
        buf = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.monotonic_ns()
            buf += chunk
            while True:
                at = buf.find(MARKER)
                if at < 0:
                    buf = buf[-len(MARKER):]
                    break
                end = buf.find(b'"', at + len(MARKER))
                if end < 0:
                    buf = buf[at:]
                    break
                sent = buf[at + len(MARKER):end]
                buf = buf[end:]
                if sent == END.encode():
                    done[k].set()
                    return
                latencies.append((now - int(sent)) // 1000)
                seen[k] += 1

    tasks = [asyncio.create_task(consume(k, r)) for k, (r, _w) in enumerate(readers)]
    await asyncio.sleep(1.0)  # every watch established and past its initial list
    conn = await HttpConn.open(port)
    tag = uuid.uuid4().hex[:6]
    t0 = time.monotonic()
    for i in range(count):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await conn.request("POST", f"/api/v1/namespaces/{ns}/{kind}",
                           body(kind, f"w-{tag}-{i}", sent=str(time.monotonic_ns())))
    await conn.request("POST", f"/api/v1/namespaces/{ns}/{kind}", body(kind, f"w-{tag}-end", sent=END))
    conn.close()
    try:
        await asyncio.wait_for(asyncio.gather(*(d.wait() for d in done)), 30)
    except TimeoutError:
        log(f"  {kind}: not every watcher saw the end marker within 30 s")
    for t in tasks:
        t.cancel()
    for _r, w in readers:
        w.close()
    missed = sum(max(0, count - s) for s in seen)
    return sorted(latencies), missed


def lister(kind: str) -> Callable[[str, int, int], Request]:
    path = f"/api/v1/namespaces/{namespace(kind)}/{kind}"
    return lambda _tag, _w, _seq: ("GET", path, b"")


async def run(port: int, pid: int, *, window: float, watchers: int, count: int) -> None:
    sizes = await seed(port)
    rates: dict[str, float] = {}
    for kind in KINDS:
        got = await closed_loop(port, pid, lister(kind), ok_status=200, concurrency=16, warmup=0.5, duration=window)
        rates[kind] = got.rate
        log(f"LIST {kind}: {got.describe()}")
    for kind in KINDS[1:]:
        figure(f"LIST of {SIZE} {kind} req/s, 16 in flight (baseline: LIST of {SIZE} pods, same run)", rates[kind],
               "req/s", rates["pods"], bytes=sizes[kind], baseline_bytes=sizes["pods"])
    delivered: dict[str, tuple[list[int], int]] = {}
    await watch_delivery(port, "pods", watchers=watchers, count=20, rate=50.0)  # warm-up: first watch pays for it
    for kind in KINDS:
        delivered[kind] = await watch_delivery(port, kind, watchers=watchers, count=count, rate=50.0)
        lat, missed = delivered[kind]
        log(f"watch {kind}: {len(lat)} receipts, {missed} missed")
    base, _ = delivered["pods"]
    for kind in KINDS[1:]:
        lat, missed = delivered[kind]
        for q in (0.5, 0.99):
            value = percentile(lat, q, presorted=True) / 1000 if lat else None
            b = percentile(base, q, presorted=True) / 1000 if base else None
            figure(f"{kind} watch delivery p{q * 100:g}, {watchers} watchers, 50 creates/s (baseline: pods, same run)",
                   value, "ms", b, missed=missed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.configdata", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 s windows, 20 watchers, 100 watched creates")
    args = p.parse_args(argv)
    window, watchers, count = (1.0, 20, 100) if args.quick else (5.0, 50, 500)
    pin_generator()
    with tempfile.TemporaryDirectory(prefix="bench-configdata-") as tmp:
        work = Path(tmp)
        port = free_port()
        server = Server("kubelite", [sys.executable, "-m", "kubelite.cli", "apiserver", "--port", str(port),
                                     "--data-dir", str(work / "kubelite"), "--log-level", "warning"],
                        port=port, log_path=work / "kubelite.log")
        try:
            server.start()
            asyncio.run(server.wait_ready(timeout=60))
            asyncio.run(run(port, server.pid, window=window, watchers=watchers, count=count))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
