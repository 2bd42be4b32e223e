"""The built-in images of the process runtime: ``kubelite/echo`` (HTTP) and ``kubelite/tcp-echo``.

Why built in: manifests must run without a registry, so the process runtime
maps these image names to this file, run as ``python echo.py http|tcp``.
The file imports only the standard library (it is the container's whole
filesystem, so to speak) and reads what the runtime tells every container:
``KUBELITE_POD_NAME``, ``KUBELITE_POD_IP`` (the address it binds, always a
loopback address) and ``PORT`` (the container's first containerPort, else
8080 for echo and 9000 for tcp-echo).

``kubelite/echo`` answers every HTTP/1.1 request, on any path and method,
with ``hello from <pod> (<ip>)`` and logs one line per request to stdout
(``kubectl logs``). ``kubelite/tcp-echo`` echoes TCP streams and UDP
datagrams on the same port.

SIGTERM (graceful termination): keep answering for ``--shutdown-delay``
seconds (default 1) with ``Connection: close`` while the Pod's endpoint
leaves the Services (removal propagates asynchronously: clients that were
already routed here must not find the door shut), then stop accepting,
finish what is in flight, close idle keep-alive connections and exit 0;
the kubelet's SIGKILL after the grace period covers anything slower. A
connection that was accepted always gets its answer.

Flags: ``--delay SECONDS`` waits before listening (a slow start, for
readiness probes), ``--shutdown-delay SECONDS``, ``--message TEXT``
replaces the greeting's "hello".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import cast

MAX_HEADER_BYTES = 64 * 1024


def _log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _bind_address() -> str:
    """The pod IP; the loopback default keeps a misconfigured run off every other interface."""
    return os.environ.get("KUBELITE_POD_IP") or os.environ.get("POD_IP") or "127.0.0.1"


class HttpEcho:
    """An HTTP/1.1 server with keep-alive that greets every request."""

    def __init__(self, *, pod: str, ip: str, message: str) -> None:
        self.body = f"{message} from {pod} ({ip})\n".encode()
        self.draining = False
        self.idle: set[asyncio.StreamWriter] = set()
        self.open: set[asyncio.StreamWriter] = set()
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        peer = writer.get_extra_info("peername")
        served = 0
        try:
            while served == 0 or not self.draining:
                self.idle.add(writer)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                finally:
                    self.idle.discard(writer)
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split()
                if len(parts) != 3:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                method, path, version = parts
                headers = {}
                for h in lines[1:]:
                    name, sep, value = h.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                keep = (version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                        and not self.draining)
                body = b"" if method == "HEAD" else self.body
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    + f"Content-Length: {len(self.body)}\r\n".encode()
                    + (b"Connection: keep-alive\r\n\r\n" if keep else b"Connection: close\r\n\r\n")
                    + body
                )
                await writer.drain()
                self.served += 1
                served += 1
                client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
                _log(f"{time.strftime('%H:%M:%S')} {method} {path} from {client} -> 200")
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.open.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def drain(self) -> None:
        """From now on answer with ``Connection: close``."""
        self.draining = True

    def close_idle(self) -> None:
        for w in list(self.idle):
            if w in self.open:
                w.close()


class TcpEcho:
    """Echo bytes back on TCP; the UDP twin below echoes datagrams."""

    def __init__(self) -> None:
        self.draining = False
        self.open: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self.open.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def drain(self) -> None:
        self.draining = True

    def close_idle(self) -> None:
        return None


class UdpEcho(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)


async def serve(kind: str, *, delay: float, message: str, shutdown_delay: float = 1.0) -> int:
    pod = os.environ.get("KUBELITE_POD_NAME") or os.environ.get("HOSTNAME") or "unknown"
    ip = _bind_address()
    port = int(os.environ.get("PORT") or (8080 if kind == "http" else 9000))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if delay > 0:
        _log(f"waiting {delay:g}s before listening")
        try:
            async with asyncio.timeout(delay):  # not wait_for: it can swallow a cancel (3.11)
                await stop.wait()
            return 0
        except TimeoutError:
            pass
    handler: HttpEcho | TcpEcho = HttpEcho(pod=pod, ip=ip, message=message) if kind == "http" else TcpEcho()
    server = await asyncio.start_server(handler.handle, ip, port, limit=MAX_HEADER_BYTES, reuse_address=True)
    udp: asyncio.DatagramTransport | None = None
    if kind == "tcp":
        udp, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=(ip, port))
    _log(f"{pod}: {'echo' if kind == 'http' else 'tcp-echo'} listening on {ip}:{port}")
    await stop.wait()
    handler.drain()
    if shutdown_delay > 0:
        _log(f"received SIGTERM: answering for {shutdown_delay:g}s more while the endpoint is removed")
        await asyncio.sleep(shutdown_delay)
    _log("no new connections; finishing the ones in flight")
    server.close()
    if udp is not None:
        udp.close()
    handler.close_idle()
    while handler.open:
        await asyncio.sleep(0.02)
    _log("all connections closed; exiting")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kubelite/echo")
    p.add_argument("kind", choices=["http", "tcp"])
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before listening")
    p.add_argument("--message", default="hello", help="first word of the HTTP greeting")
    p.add_argument("--shutdown-delay", type=float, default=1.0,
                   help="seconds to keep answering after SIGTERM before closing the listener")
    args = p.parse_args(argv)
    return asyncio.run(serve(args.kind, delay=args.delay, message=args.message, shutdown_delay=args.shutdown_delay))


if __name__ == "__main__":
    sys.exit(main())
