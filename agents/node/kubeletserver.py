"""The node agent's small kubelet API: ``/containerLogs`` (what ``pods/log`` proxies to) and ``/healthz``.

Why: ``kubectl logs`` asks the API server, which asks the kubelet of the
Pod's node at its InternalIP and ``daemonEndpoints.kubeletEndpoint.Port``
(10250). The agent serves plain HTTP on its node IP, which is always a
loopback address here, so only processes on this host can reach it.

``GET /containerLogs/{namespace}/{pod}/{container}`` takes the kubelet's
query: ``follow``, ``previous``, ``tailLines``, ``timestamps``,
``sinceSeconds``, ``sinceTime`` (RFC 3339), ``limitBytes``. The body is
``text/plain`` in chunked encoding, streamed while following; failures
are a status code and the kubelet's message as plain text (the API server
turns them into a Status).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from agents.node import containerlogs
from agents.node.runtime import LogError, LogSource
from apimachinery.timestamps import parse_time

log = logging.getLogger("agents.node.kubelet")

LogLookup = Callable[[str, str, str, bool], LogSource]


def _bool(values: dict[str, list[str]], name: str) -> bool:
    v = (values.get(name) or [""])[0]
    return v.lower() in ("1", "t", "true")


def _int(values: dict[str, list[str]], name: str) -> int | None:
    v = (values.get(name) or [""])[0]
    if v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise LogError(400, f'invalid value "{v}" for {name}') from None


def log_options(query: str, *, now: dt.datetime | None = None) -> tuple[bool, containerlogs.LogOptions]:
    """(previous, options) from a /containerLogs query string."""
    values = parse_qs(query, keep_blank_values=True)
    since: dt.datetime | None = None
    seconds = _int(values, "sinceSeconds")
    if seconds is not None:
        since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=seconds)
    elif values.get("sinceTime"):
        since = parse_time(values["sinceTime"][0])
        if since is None:
            raise LogError(400, f'invalid sinceTime "{values["sinceTime"][0]}"')
    opts = containerlogs.LogOptions(
        follow=_bool(values, "follow"),
        tail_lines=_int(values, "tailLines"),
        since=since,
        timestamps=_bool(values, "timestamps"),
        limit_bytes=_int(values, "limitBytes"),
    )
    return _bool(values, "previous"), opts


class KubeletServer:
    def __init__(self, lookup: LogLookup | None, *, unavailable: str = "") -> None:
        """``lookup`` finds a container's log; None (simulated runtime) answers ``unavailable``."""
        self.lookup = lookup
        self.unavailable = unavailable
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; a taken port falls back to a free one (returned)."""
        try:
            self._server = await asyncio.start_server(self._handle, host, port, reuse_address=True)
        except OSError as e:
            log.warning("kubelet port %s:%d unavailable (%s); using a free port", host, port, e.strerror)
            self._server = await asyncio.start_server(self._handle, host, 0, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int, reason: str, body: bytes) -> None:
        writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()

    async def _stream(self, writer: asyncio.StreamWriter, chunks: AsyncIterator[bytes]) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        await writer.drain()
        async for chunk in chunks:
            if chunk:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(parts) < 2 or parts[0] != "GET":
                await self._reply(writer, 405, "Method Not Allowed", b"method not allowed\n")
                return
            url = urlsplit(parts[1])
            segments = [unquote(s) for s in url.path.split("/") if s]
            if segments == ["healthz"]:
                await self._reply(writer, 200, "OK", b"ok")
                return
            if len(segments) != 4 or segments[0] != "containerLogs":
                await self._reply(writer, 404, "Not Found", b"404 page not found\n")
                return
            _, namespace, pod, container = segments
            try:
                if self.lookup is None:
                    raise LogError(400, self.unavailable)
                previous, opts = log_options(url.query)
                source = self.lookup(namespace, pod, container, previous)
            except LogError as e:
                reason = {400: "Bad Request", 404: "Not Found"}.get(e.code, "Error")
                await self._reply(writer, e.code, reason, e.message.encode())
                return
            if opts.follow:
                await self._stream(writer, containerlogs.follow(source.path, opts, running=source.running))
            else:
                data = source.path.read_bytes() if source.path.exists() else b""

                async def once() -> AsyncIterator[bytes]:
                    yield containerlogs.read(data, opts)

                await self._stream(writer, once())
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
