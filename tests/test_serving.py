"""Serving: SIGTERM drains (in-flight requests finish, watches end cleanly), request heads are bounded."""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from apiserver.serving import MAX_HEADER_BYTES, drain
from tests.conftest import start_apiserver
from tests.secure_server import rss_kib


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def _inflight_writes(url: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith('apiserver_current_inflight_requests{request_kind="mutating"}'):
            return float(line.split()[-1])
    return 0.0


def test_sigterm_finishes_in_flight_writes_and_ends_watches_cleanly(tmp_path: Path) -> None:
    # The writes are held in flight by locking the SQLite file; with the writer thread the event loop
    # stays free meanwhile (inline SQLite writes would block it: see test_faults).
    srv = start_apiserver(tmp_path, env={"KUBELITE_WRITER_THREAD": "1"})
    watch_result: dict[str, Any] = {}

    def watcher() -> None:
        try:
            with httpx.Client(base_url=srv.url, timeout=httpx.Timeout(10, read=60)) as c, \
                    c.stream("GET", "/api/v1/namespaces/default/pods?watch=1") as r:
                watch_result["lines"] = [ln for ln in r.iter_lines() if ln]
                watch_result["clean"] = True
        except httpx.HTTPError as e:
            watch_result["error"] = repr(e)

    wt = threading.Thread(target=watcher)
    wt.start()
    time.sleep(0.3)
    # Hold the database's write lock so the next writes stay in flight.
    lock = sqlite3.connect(str(tmp_path / "kubelite.db"), timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    codes: dict[str, int | str] = {}

    def create(name: str) -> None:
        try:
            codes[name] = httpx.post(srv.url + "/api/v1/namespaces/default/pods", json=pod(name), timeout=30).status_code
        except httpx.HTTPError as e:
            codes[name] = repr(e)

    writers = [threading.Thread(target=create, args=(f"inflight{i}",)) for i in range(3)]
    for t in writers:
        t.start()
    deadline = time.monotonic() + 15
    while _inflight_writes(srv.url) < 3:  # all three are being served (blocked on the database)
        assert time.monotonic() < deadline, "the writes never got in flight"
        time.sleep(0.05)
    srv.proc.send_signal(signal.SIGTERM)
    wt.join(5)
    assert not wt.is_alive(), "the watch did not end on SIGTERM"
    assert watch_result.get("clean"), watch_result  # a terminated chunked body, not a broken connection
    time.sleep(0.5)
    lock.execute("COMMIT")  # the database comes back: the writes in flight complete
    lock.close()
    for t in writers:
        t.join(15)
    assert codes == {f"inflight{i}": 201 for i in range(3)}
    assert srv.proc.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
    assert "running task(s), timeout graceful shutdown exceeded" not in srv.log.read_text()
    srv2 = start_apiserver(tmp_path, port=srv.port)
    try:
        names = {p["metadata"]["name"] for p in httpx.get(srv2.url + "/api/v1/namespaces/default/pods",
                                                          timeout=10).json()["items"]}
        assert {f"inflight{i}" for i in range(3)} <= names
    finally:
        srv2.stop()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out


def test_request_heads_are_bounded(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path)
    try:
        before = rss_kib(srv.proc.pid)
        big = b"a" * (2 * MAX_HEADER_BYTES)
        for data in (
            b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n",
            b"GET /api/v1/pods?labelSelector=" + big + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/v1/" + big + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 200_000 + b"\r\n",
        ):
            reply = _raw(srv.port, data)
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 431 "), reply[:200]
            status = orjson.loads(body)
            assert (status["kind"], status["code"], status["reason"]) == ("Status", 431, "RequestHeaderFieldsTooLarge")
        # a large but reasonable head is fine, and keep-alive still works after it
        ok = _raw(srv.port, b"GET /api/v1/namespaces/default HTTP/1.1\r\nHost: x\r\nX-Mid: " + b"b" * 100_000
                  + b"\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ")
        assert rss_kib(srv.proc.pid) - before < 50_000
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            for _ in range(3):
                assert c.get("/api/v1/namespaces/default").status_code == 200
    finally:
        srv.stop()


async def test_drain_closes_watches_and_reports_not_ready() -> None:
    import migrations
    from apiserver.app import create_app
    from apiserver.settings import Settings
    from apiserver.watchcache import Filter

    with tempfile.TemporaryDirectory() as d:
        settings = Settings(data_dir=Path(d))
        migrations.upgrade(settings.database_url())
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            server = app.state.server
            reg = server.cache.watch("pods", Filter(None, None, None), since=None)
            assert reg is not None
            w, _ = reg
            assert server.ready
            drain(app)
            assert w.closed and not server.ready and app.state.overload.draining
            item = await asyncio.wait_for(w.queue.get(), 1)
            assert item == ("CLOSE", "apiserver is shutting down")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                r = await c.get("/api/v1/pods")
                assert r.status_code == 503 and r.headers["retry-after"] == "1"
                assert (await c.get("/readyz")).status_code == 503


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_idle_server_stops_promptly(sig: signal.Signals, tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path)
    t0 = time.monotonic()
    srv.proc.send_signal(sig)
    # uvicorn re-raises the signal after stopping; click reports a re-raised SIGINT as "Aborted!" (exit 1)
    assert srv.proc.wait(15) in (0, 1, -sig)
    assert time.monotonic() - t0 < 5


def test_an_idle_keep_alive_connection_outlives_a_clients_retry_interval(tmp_path: Path) -> None:
    """kubectl drain retries an eviction POST after 5 s on its kept-alive connection; the server must
    not close that connection first (Go cannot resend a POST that met EOF)."""
    srv = start_apiserver(tmp_path, service_accounts=False)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.request("GET", "/api/v1/namespaces/default")
            first = conn.getresponse()
            assert first.status == 200
            first.read()
            sock = conn.sock
            time.sleep(6.5)  # past uvicorn's default 5 s keep-alive
            conn.request("POST", "/api/v1/namespaces", body=b"{}", headers={"Content-Type": "application/json"})
            second = conn.getresponse()  # RemoteDisconnected here when the server closed the connection
            assert second.status == 422 and conn.sock is sock  # the same connection answered
            second.read()
        finally:
            conn.close()
    finally:
        srv.stop()
