"""Running the app under uvicorn: TLS, bounded request heads, and a draining shutdown.

Why here and not in the CLI: how the server listens (TLS material, HTTP
parser limits) and how it stops (drain, then close) are API server
behaviour that every entry point (``kubelite apiserver``, ``kubelite up``)
must share.

Invariants:
- A request head (request line + headers) larger than ``MAX_HEADER_BYTES``
  is refused with 431 before it is parsed further, so a client cannot make
  the server buffer an unbounded URL or header (Go's http.Server default
  MaxHeaderBytes is 1 MiB too).
- On SIGTERM/SIGINT: new requests get 503 "apiserver is shutting down",
  /readyz turns 503, every watch stream is ended cleanly (its chunked body
  terminated), requests in flight finish (up to ``shutdown_grace``
  seconds), then storage stops.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from apimachinery.errors import StatusError
from apiserver.certificates import ensure_serving_material, serving_hosts
from apiserver.settings import Settings

log = logging.getLogger("kubelite.serving")

MAX_HEADER_BYTES = 1 << 20
# How long an idle keep-alive connection stays open. Longer than clients keep theirs (Go's transport,
# kubectl's and client-go's, idles 90 s; httpx 5 s), so the client always closes first. Race: with
# uvicorn's default of 5 s, kubectl drain's retry "after 5s" met the server closing the same idle
# connection, and a POST, which Go cannot resend, failed with EOF.
KEEP_ALIVE_SECONDS = 120


def _bounded_protocol() -> Any:
    """uvicorn's httptools protocol with a cap on request-head bytes (or "httptools" if its internals moved)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - uvicorn reorganised: run without the cap
        return "httptools"

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """Counts bytes received while a request head is incomplete; 431 past the cap."""

        max_header_bytes = MAX_HEADER_BYTES

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True
            self._head_bytes = 0

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > self.max_header_bytes:
                    self._refuse()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head = True
            self._head_bytes = 0

        def _refuse(self) -> None:
            if self.transport.is_closing():
                return
            body = StatusError(431, "RequestHeaderFieldsTooLarge",
                               f"request header fields too large: limit is {self.max_header_bytes} bytes").encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
            )
            self.transport.close()

    return BoundedHttpToolsProtocol


class DrainingServer(uvicorn.Server):
    """uvicorn.Server that drains the app before closing connections."""

    def __init__(self, config: uvicorn.Config, *, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: Any = None) -> None:
        try:
            self._on_shutdown()
        except Exception:  # draining is best effort; shutting down is not
            log.exception("draining failed")
        await super().shutdown(sockets)


def drain(app: Any) -> None:
    """Refuse new requests, report not ready and end every watch stream cleanly."""
    state = app.state
    ov = getattr(state, "overload", None)
    if ov is not None:
        ov.drain()
    server = getattr(state, "server", None)
    if server is None:
        return
    server.ready = False
    closed = 0
    for rc in list(server.cache.resources.values()):
        for w in list(rc.watchers):
            w.close("apiserver is shutting down")
            rc.watchers.discard(w)
            closed += 1
    log.info("draining: refusing new requests, ended %d watches", closed)


def _service_ip(cidr: str) -> str | None:
    """The ``kubernetes`` Service's IP: the first address of the service range."""
    with contextlib.suppress(ValueError, IndexError):
        return str(next(ipaddress.ip_network(cidr.split(",")[0].strip(), strict=False).hosts()))
    return None


def tls_files(settings: Settings) -> tuple[Path, Path, Path | None] | None:
    """(cert, key, CA or None) to serve with, generating them under ``data_dir/pki`` for ``--tls``."""
    if settings.tls_cert_file and settings.tls_private_key_file:
        return Path(settings.tls_cert_file), Path(settings.tls_private_key_file), None
    if not settings.tls:
        return None
    hosts = serving_hosts(settings.bind_address, extra=settings.tls_sans,
                          service_ip=_service_ip(settings.service_cluster_ip_range))
    m = ensure_serving_material(settings.data_dir / "pki", hosts)
    return m.cert_file, m.key_file, m.ca_file


def serve(app: Any, settings: Settings, *, log_level: str = "info") -> None:
    """Serve ``app`` until SIGTERM/SIGINT, then drain and stop."""
    files = tls_files(settings)
    kwargs: dict[str, Any] = {}
    if files is not None:
        kwargs = {"ssl_certfile": str(files[0]), "ssl_keyfile": str(files[1])}
        if files[2] is not None:
            log.info("serving TLS; clients verify with the CA at %s", files[2])
    config = uvicorn.Config(app, host=settings.bind_address, port=settings.port, log_level=log_level,
                            access_log=False, loop="uvloop", http=_bounded_protocol(),
                            timeout_keep_alive=KEEP_ALIVE_SECONDS,
                            timeout_graceful_shutdown=int(max(1, settings.shutdown_grace)), **kwargs)
    DrainingServer(config, on_shutdown=lambda: drain(app)).run()


__all__ = ["KEEP_ALIVE_SECONDS", "MAX_HEADER_BYTES", "DrainingServer", "drain", "serve", "tls_files"]
