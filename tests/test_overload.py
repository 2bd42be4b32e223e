"""Overload: in-flight caps answer 429 + Retry-After, watches have their own cap, the client retries."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from apimachinery.resources import BY_KEY
from apiserver.auth import USER_KEY, UserInfo
from apiserver.overload import Limits, Overload, OverloadMiddleware, request_kind
from kubeclient.client import Client
from tests.conftest import ApiServerProcess, start_apiserver
from tests.secure_server import rss_kib


@pytest.mark.parametrize(
    ("method", "path", "query", "kind"),
    [
        ("GET", "/api/v1/pods", b"", "readonly"),
        ("HEAD", "/api/v1/pods", b"", "readonly"),
        ("GET", "/api/v1/pods", b"watch=true", "watch"),
        ("GET", "/api/v1/namespaces/a/pods", b"resourceVersion=1&watch=1", "watch"),
        ("GET", "/apis/coordination.k8s.io/v1/leases", b"watch=yes", "watch"),
        ("GET", "/api/v1/pods", b"watch=false", "readonly"),
        ("GET", "/api/v1/pods", b"watch=0", "readonly"),
        ("GET", "/api/v1/pods", b"watch=", "readonly"),
        ("GET", "/api/v1/pods", b"nowatch=1", "readonly"),
        ("GET", "/metrics", b"watch=1", "readonly"),
        ("POST", "/api/v1/namespaces/a/pods", b"", "mutating"),
        ("PUT", "/api/v1/namespaces/a/pods/p", b"", "mutating"),
        ("PATCH", "/api/v1/namespaces/a/pods/p", b"", "mutating"),
        ("DELETE", "/api/v1/namespaces/a/pods/p", b"", "mutating"),
        ("OPTIONS", "/api/v1/pods", b"", "mutating"),  # kube: not get/list/watch
    ],
)
def test_request_kind(method: str, path: str, query: bytes, kind: str) -> None:
    assert request_kind(method, path, query) == kind


# -- the filter in process ----------------------------------------------------------------------


class Blocking:
    """An ASGI app whose requests wait for ``release``; watches stream until cancelled."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.entered += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if b"watch" in scope.get("query_string", b""):
            await send({"type": "http.response.body", "body": b"{}\n", "more_body": True})
            await asyncio.Event().wait()
        await self.release.wait()
        await send({"type": "http.response.body", "body": b"ok"})


class Slow:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(30)


async def call(app: Any, method: str, path: str, *, query: bytes = b"",
               user: UserInfo | None = None) -> tuple[int, dict[str, str], bytes]:
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "query_string": query, "headers": []}
    if user is not None:
        scope[USER_KEY] = user
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], headers, b"".join(m.get("body", b"") for m in messages[1:])


def assert_429(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 429
    assert headers["retry-after"] == "1"
    assert orjson.loads(body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
        "details": {"retryAfterSeconds": 1}, "code": 429,
    }


async def test_read_and_write_caps_are_separate_and_watches_exempt() -> None:
    inner = Blocking()
    ov = Overload(Limits(max_requests_inflight=2, max_mutating_requests_inflight=1))
    mw = OverloadMiddleware(inner, overload=ov)
    reads = [asyncio.create_task(call(mw, "GET", "/api/v1/pods")) for _ in range(2)]
    write = asyncio.create_task(call(mw, "POST", "/api/v1/namespaces/a/pods"))
    await asyncio.sleep(0.05)
    assert (ov.readonly, ov.mutating) == (2, 1)
    assert_429(*await call(mw, "GET", "/api/v1/pods"))
    assert_429(*await call(mw, "DELETE", "/api/v1/namespaces/a/pods/x"))
    # a watch is long-running: it is not counted against the read cap
    watch = asyncio.create_task(call(mw, "GET", "/api/v1/pods", query=b"watch=1"))
    await asyncio.sleep(0.05)
    assert len(ov.streams) == 1 and inner.entered == 4
    # system:masters is never refused
    masters = UserInfo("admin", "", ("system:masters",))
    privileged = asyncio.create_task(call(mw, "GET", "/api/v1/pods", user=masters))
    await asyncio.sleep(0.05)
    assert inner.entered >= 5
    inner.release.set()
    for t in [*reads, write, privileged]:
        assert (await t)[0] == 200
    assert (ov.readonly, ov.mutating) == (0, 0)
    assert ov.dropped == {"readOnly": 1, "mutating": 1, "watch": 0}
    watch.cancel()


async def test_deadline_gives_504() -> None:
    mw = OverloadMiddleware(Slow(), overload=Overload(Limits(request_timeout=0.2)))
    t0 = time.monotonic()
    status, _, body = await call(mw, "POST", "/api/v1/namespaces/a/pods")
    assert status == 504 and time.monotonic() - t0 < 2
    assert orjson.loads(body)["message"] == ("Timeout: request did not complete within requested timeout - "
                                             "context deadline exceeded")
    assert orjson.loads(body)["reason"] == "Timeout"


async def test_draining_refuses_new_requests_but_not_probes() -> None:
    inner = Blocking()
    inner.release.set()
    ov = Overload(Limits())
    mw = OverloadMiddleware(inner, overload=ov)
    ov.drain()
    status, headers, body = await call(mw, "GET", "/api/v1/pods")
    assert (status, headers["retry-after"]) == (503, "1")
    assert orjson.loads(body)["message"] == "apiserver is shutting down"
    assert (await call(mw, "GET", "/readyz"))[0] == 200


async def test_watch_cap_drops_the_oldest_slow_watch() -> None:
    inner = Blocking()
    ov = Overload(Limits(max_watchers=2, slow_after=1.0))
    mw = OverloadMiddleware(inner, overload=ov)
    first = asyncio.create_task(call(mw, "GET", "/api/v1/pods", query=b"watch=1"))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(call(mw, "GET", "/api/v1/pods", query=b"watch=1"))
    await asyncio.sleep(0.02)
    assert len(ov.streams) == 2
    assert_429(*await call(mw, "GET", "/api/v1/pods", query=b"watch=1"))  # nobody is slow: the newcomer waits
    assert ov.dropped["watch"] == 1
    now = asyncio.get_running_loop().time()
    by_age = sorted(ov.streams, key=lambda s: s.started)
    for s in by_age:  # both stopped reading; the older one goes first
        s.sending_since = now - 5
    third = asyncio.create_task(call(mw, "GET", "/api/v1/pods", query=b"watch=1"))
    await asyncio.sleep(0.05)
    assert first.done() and not first.cancelled()  # ended by the filter, not an error for the server
    assert not second.done() and not third.done()
    assert ov.evicted == 1 and len(ov.streams) == 2
    for t in (second, third):
        t.cancel()


# -- against a real server ----------------------------------------------------------------------


def pod(name: str, *, annotation: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotation:
        meta["annotations"] = {"filler": annotation}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


async def raw_request(port: int, method: str, path: str, *, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection (a "client"); the full reply or an exception."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        writer.write(head + body)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head_raw, _, payload = data.partition(b"\r\n\r\n")
    lines = head_raw.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", payload
        while rest:
            size_raw, _, rest = rest.partition(b"\r\n")
            size = int(size_raw, 16)
            if not size:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        payload = out
    return status, headers, payload


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[ApiServerProcess]:
    # no serviceaccount controller beside it: its two watches would take both watch slots the tests
    # count on; the fixture makes the default account Pods are admitted with instead
    srv = start_apiserver(tmp_path, extra=["--max-mutating-requests-inflight", "5", "--max-requests-inflight", "5",
                                           "--max-watchers", "2"], service_accounts=False)
    try:
        r = httpx.post(srv.url + "/api/v1/namespaces/default/serviceaccounts", json={"metadata": {"name": "default"}},
                       timeout=10)
        assert r.status_code == 201, r.text
        yield srv
    finally:
        srv.stop()


async def test_1000_concurrent_clients_get_429_not_timeouts(capped: ApiServerProcess) -> None:
    pid = capped.proc.pid
    rss_before = rss_kib(pid)

    async def client(i: int) -> tuple[int, dict[str, str], bytes] | BaseException:
        try:
            return await asyncio.wait_for(
                raw_request(capped.port, "POST", "/api/v1/namespaces/default/pods", body=orjson.dumps(pod(f"p{i}"))), 60)
        except Exception as e:
            return e

    t0 = time.monotonic()
    results = await asyncio.gather(*(client(i) for i in range(1000)))
    elapsed = time.monotonic() - t0
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} clients failed, e.g. {failures[:3]!r}"
    statuses = [r[0] for r in results if not isinstance(r, BaseException)]
    assert set(statuses) <= {201, 429}, set(statuses)
    refused = [r for r in results if not isinstance(r, BaseException) and r[0] == 429]
    assert len(refused) >= 100, f"only {len(refused)} of 1000 were refused with a cap of 5"
    for r in refused[:20]:
        assert_429(*r)
    rss_after = rss_kib(pid)
    assert rss_after - rss_before < 150_000, f"RSS grew {rss_before} -> {rss_after} KiB"
    assert elapsed < 60
    # ... and then normal service: everything acknowledged is there, and new work is done
    created = {f"p{i}" for i, r in enumerate(results) if not isinstance(r, BaseException) and r[0] == 201}
    with httpx.Client(base_url=capped.url, timeout=10) as c:
        items = c.get("/api/v1/namespaces/default/pods").json()["items"]
        assert created <= {p["metadata"]["name"] for p in items}
        assert c.post("/api/v1/namespaces/default/pods", json=pod("after")).status_code == 201
        metrics = c.get("/metrics").text
    assert 'apiserver_dropped_requests_total{request_kind="mutating"}' in metrics


async def test_client_library_retries_429(capped: ApiServerProcess) -> None:
    pods = BY_KEY["pods"]
    async with Client(capped.url) as c:
        done = await asyncio.gather(*(c.create(pods, pod(f"r{i}"), namespace="default") for i in range(60)))
    assert len(done) == 60  # every create made it, none surfaced a 429
    dropped = 0.0
    for line in httpx.get(capped.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith('apiserver_dropped_requests_total{request_kind="mutating"}'):
            dropped = float(line.split()[-1])
    assert dropped > 0, "the cap never triggered, so retries were not exercised"


def test_retry_delay_honours_retry_after() -> None:
    def resp(code: int, retry_after: str | None) -> httpx.Response:
        return httpx.Response(code, headers={"Retry-After": retry_after} if retry_after is not None else {})

    assert Client._retry_delay(resp(429, None), 0) is None
    assert Client._retry_delay(resp(404, "1"), 0) is None
    assert Client._retry_delay(resp(429, "soon"), 0) is None
    assert Client._retry_delay(resp(429, "1"), Client.RETRY_LIMIT) is None
    for attempt in range(Client.RETRY_LIMIT):
        d = Client._retry_delay(resp(429, "1"), attempt)
        assert d is not None and 1.0 <= d <= 12.5
    d = Client._retry_delay(resp(503, "3"), 0)
    assert d is not None and 3.0 <= d <= 3.75
    assert Client._retry_delay(resp(500, "0"), 9) is not None


def _watch_socket(port: int, path: str, *, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def test_watch_cap_drops_a_client_that_never_reads(capped: ApiServerProcess) -> None:
    path = "/api/v1/namespaces/default/pods?watch=1&resourceVersion=0"
    stuck = _watch_socket(capped.port, path, rcvbuf=4096)  # connects, never reads
    time.sleep(0.3)
    received: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=capped.url, timeout=httpx.Timeout(60, read=120)) as c, \
                c.stream("GET", path) as r:
            for line in r.iter_lines():
                if line:
                    received.append(orjson.loads(line)["object"]["metadata"]["name"])
                if stop.is_set():
                    return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.3)
    r = httpx.get(capped.url + path + "&timeoutSeconds=1", timeout=10)
    assert r.status_code == 429, "both watch slots are taken and no one is slow yet"
    filler = "x" * 100_000
    with httpx.Client(base_url=capped.url, timeout=30) as c:
        for i in range(100):  # ~10 MB of events: more than any socket buffer between us and the stuck client
            assert c.post("/api/v1/namespaces/default/pods", json=pod(f"big{i}", annotation=filler)).status_code == 201
    time.sleep(1.5)  # the stuck watch has now been blocked on its socket for longer than slow_after
    with httpx.Client(base_url=capped.url, timeout=10) as c, \
            c.stream("GET", path + "&timeoutSeconds=2") as r:
        assert r.status_code == 200  # admitted: the stuck one was dropped for it
        names = [orjson.loads(line)["object"]["metadata"]["name"] for line in r.iter_lines() if line]
    assert len(names) == 100
    deadline = time.monotonic() + 30
    while len(received) < 100 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    assert received[:100] == [f"big{i}" for i in range(100)]  # the reading watcher was not disturbed
    stuck.settimeout(10)
    closed = False
    try:
        while stuck.recv(1 << 20):
            pass
        closed = True
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        closed = False
    finally:
        stuck.close()
    assert closed
    metrics = httpx.get(capped.url + "/metrics", timeout=10).text
    assert "kubelite_evicted_watches_total 1.0" in metrics
