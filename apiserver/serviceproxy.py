"""The ``proxy`` subresource of Services and Pods: ``/api/v1/namespaces/{ns}/services/{name}[:{port}]/proxy/{path}``.

Why: ``kubectl cluster-info`` prints such URLs (CoreDNS is running at
.../services/kube-dns:dns/proxy) and people open them; kube-apiserver
forwards the request to one ready endpoint of the Service (or to the Pod's IP)
and streams the answer back.

The network rule of this project decides what may be dialled: only loopback
addresses (127.0.0.0/8, where ``kubelite up --data-path`` runs Pods). Any other
address (Pod IPs and ClusterIPs in 10.x are data) is never dialled; the
request gets a 503 Status naming the address instead. Resolution is complete
(and every refusal raised) before any connection is opened.

Messages, codes and the choice of endpoint follow kube-apiserver's
``ResourceLocation`` for Services (``SplitSchemeNamePort``; a port number is
mapped to the Service port's name; ``no endpoints available for service
"<id>"``) and for Pods (first declared container port when none is given).
The client's ``Authorization`` header is not forwarded (kube's authentication
filter removes it), nor are hop-by-hop headers; a request for ``.../proxy``
without a trailing slash is redirected to ``.../proxy/`` as kube-apiserver does.
Connection upgrades (websocket, SPDY) are refused with a 501 Status rather than
half-proxied; the request body is read whole within the server's size limit.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from apimachinery import errors
from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY

log = logging.getLogger("kubelite.serviceproxy")

JSON = "application/json"
_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<kind>services|pods)/(?P<id>[^/]+)/proxy(?P<rest>/.*)?$")
_SCHEMES = ("", "http", "https")
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# RFC 7230 hop-by-hop headers, plus what must not reach the upstream (the caller's credentials, our Host).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                         "transfer-encoding", "upgrade", "proxy-connection"})
_NOT_FORWARDED = _HOP_BY_HOP | {"authorization", "host", "content-length"}
TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=60.0, pool=5.0)


@dataclass(frozen=True)
class Upstream:
    """Where a proxied request goes: scheme, a loopback address and a port."""

    scheme: str
    host: str
    port: int | None

    def url(self, path: str) -> str:
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}{path}"


def split_scheme_name_port(ident: str) -> tuple[str, str, str] | None:
    """utilnet.SplitSchemeNamePort: ``name``, ``name:port`` or ``scheme:name:port``; None if invalid."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in _SCHEMES:
        return None
    return scheme, name, port


def unavailable(message: str) -> StatusError:
    """apierrors.NewServiceUnavailable: 503, reason ServiceUnavailable, no details."""
    return StatusError(503, "ServiceUnavailable", message)


def dialable(ip: str) -> bool:
    """Whether the API server may open a connection to ``ip``: loopback (127.0.0.0/8) only."""
    try:
        return ipaddress.ip_address(ip) in LOOPBACK
    except ValueError:
        return False


def _not_dialled(what: str, address: str) -> StatusError:
    return unavailable(f"{what} {address} is not reachable from the API server: kubelite only dials loopback "
                       f"addresses (127.0.0.0/8), and this one is data")


def locate_service(service: dict[str, Any], endpoints: dict[str, Any] | None, ident: str) -> Upstream:
    """The endpoint a request to ``services/<ident>/proxy`` goes to (kube's service ResourceLocation).

    Among the ready addresses of the subsets carrying the wanted port name, a loopback one is
    chosen at random; if there are ready addresses but none on loopback, a 503 names one.
    """
    parsed = split_scheme_name_port(ident)
    if parsed is None:
        raise errors.bad_request(f'invalid service request "{ident}"')
    scheme, name, port = parsed
    if port.isdigit():
        for p in (service.get("spec") or {}).get("ports") or []:
            if str(p.get("port")) == port:
                port = str(p.get("name") or "")
                break
        else:
            raise unavailable(f'no service port {int(port)} found for service "{name}"')
    if endpoints is None:
        raise errors.not_found("endpoints", name)
    subsets = endpoints.get("subsets") or []
    if not subsets:
        raise unavailable(f'no endpoints available for service "{name}"')
    candidates: list[tuple[str, int]] = []
    for ss in subsets:
        for p in ss.get("ports") or []:
            if str(p.get("name") or "") == port:
                candidates += [(str(a.get("ip") or ""), int(p.get("port") or 0)) for a in ss.get("addresses") or []]
    if not candidates:
        raise unavailable(f'no endpoints available for service "{ident}"')
    reachable = [c for c in candidates if dialable(c[0])]
    if not reachable:
        ip, p = candidates[0]
        raise _not_dialled(f'endpoint of service "{name}" at', f"{ip}:{p}")
    ip, p = random.choice(reachable)
    return Upstream(scheme or "http", ip, p)


def locate_pod(pod: dict[str, Any], ident: str) -> Upstream:
    """The address a request to ``pods/<ident>/proxy`` goes to (kube's pod ResourceLocation)."""
    parsed = split_scheme_name_port(ident)
    if parsed is None:
        raise errors.bad_request(f'invalid pod request "{ident}"')
    scheme, name, port = parsed
    if not port:
        for c in (pod.get("spec") or {}).get("containers") or []:
            if c.get("ports"):
                port = str(c["ports"][0].get("containerPort") or "")
                break
    ip = str((pod.get("status") or {}).get("podIP") or "")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise errors.bad_request("address not allowed") from None
    if not dialable(ip):
        raise _not_dialled(f'pod "{name}" at', ip)
    if port and not port.isdigit():
        raise errors.bad_request(f'invalid pod request "{ident}"')
    return Upstream(scheme or "http", ip, int(port) if port else None)


def _request_headers(request: Request) -> list[tuple[str, str]]:
    hops = {h.strip().lower() for h in (request.headers.get("connection") or "").split(",") if h.strip()}
    out = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED and k.lower() not in hops]
    client = request.client.host if request.client else ""
    if client:
        prior = request.headers.get("x-forwarded-for")
        out = [(k, v) for k, v in out if k.lower() != "x-forwarded-for"]
        out.append(("X-Forwarded-For", f"{prior}, {client}" if prior else client))
    return out


def _response_headers(upstream: httpx.Response) -> dict[str, str]:
    hops = {h.strip().lower() for h in (upstream.headers.get("connection") or "").split(",") if h.strip()}
    return {k: v for k, v in upstream.headers.multi_items() if k.lower() not in _HOP_BY_HOP and k.lower() not in hops}


def _refused(e: BaseException) -> bool:
    """Whether a connect error was a refusal (httpx words it "All connection attempts failed")."""
    seen: BaseException | None = e
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        if isinstance(seen, BaseExceptionGroup):
            return any(_refused(x) for x in seen.exceptions)
        seen = seen.__cause__ or seen.__context__
    return False


def _dial_error(up: Upstream, e: httpx.HTTPError) -> StatusError:
    """kube's proxy transport: ``error trying to reach service: <the dial error>`` (503)."""
    where = f"{up.host}:{up.port}" if up.port is not None else up.host
    if isinstance(e, httpx.ConnectTimeout):
        why = f"dial tcp {where}: i/o timeout"
    elif isinstance(e, httpx.ConnectError):
        why = f"dial tcp {where}: connect: connection refused" if _refused(e) else f"dial tcp {where}: {e}"
    else:
        why = str(e) or type(e).__name__
    return unavailable(f"error trying to reach service: {why}")


def _upgrade_refused(protocol: str) -> StatusError:
    """kube-apiserver would tunnel an upgraded connection (websocket, SPDY); this proxy does not."""
    return errors.not_implemented(f"{protocol} upgrades are not proxied by kubelite; plain HTTP requests are")


class ServiceProxy:
    """ASGI filter serving the ``proxy`` subresource of Services and Pods.

    It sits inside the authentication/authorization filter (which sees these URLs as
    ``get``/``create``/... on ``services/proxy`` or ``pods/proxy``), like the review endpoints.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        m = _PATH.match(scope.get("path", "")) if scope["type"] in ("http", "websocket") else None
        if m is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._refuse_websocket(scope, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._proxy(request, m.group("ns"), m.group("kind"), m.group("id"), m.group("rest"))
        except StatusError as e:
            response = Response(e.encode(), status_code=e.code, media_type=JSON, headers=e.headers or None)
        await response(scope, receive, send)

    @staticmethod
    async def _refuse_websocket(scope: dict[str, Any], send: Any) -> None:
        """A websocket handshake (the server hands it over as a websocket scope): a 501 Status when the
        server can answer a handshake with an HTTP response, else a refused handshake (403)."""
        e = _upgrade_refused("websocket")
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send({"type": "websocket.http.response.start", "status": e.code,
                        "headers": [(b"content-type", JSON.encode())]})
            await send({"type": "websocket.http.response.body", "body": e.encode()})
        else:
            await send({"type": "websocket.close", "code": 1008})

    async def _locate(self, request: Request, namespace: str, kind: str, ident: str) -> Upstream:
        server = request.app.state.server
        if server.store.shared:
            await server.store.fresh_revision()
        registry = server.registry
        parsed = split_scheme_name_port(ident)
        if parsed is None:
            raise errors.bad_request(f'invalid {"service" if kind == "services" else "pod"} request "{ident}"')
        name = parsed[1]
        if kind == "pods":
            return locate_pod(registry.get_entry(BY_KEY["pods"], namespace, name).obj, ident)
        service = registry.get_entry(BY_KEY["services"], namespace, name).obj
        ep = registry.cache.get(BY_KEY["endpoints"].key, namespace, name)
        return locate_service(service, ep.obj if ep is not None else None, ident)

    async def _proxy(self, request: Request, namespace: str, kind: str, ident: str, rest: str | None) -> Response:
        up = await self._locate(request, namespace, kind, ident)
        if request.headers.get("upgrade") and "upgrade" in (request.headers.get("connection") or "").lower():
            raise _upgrade_refused(request.headers["upgrade"])
        if rest is None:  # kube-apiserver: ".../proxy" -> 301 ".../proxy/" (issue 4958)
            query = f"?{request.url.query}" if request.url.query else ""
            return Response(status_code=301, headers={"Location": f"{request.url.path}/{query}"})
        path = quote(rest, safe="/:@!$&'()*+,;=-._~%")
        url = up.url(path) + (f"?{request.url.query}" if request.url.query else "")
        # The body is read whole (within the server's request size limit), so the upstream gets a
        # Content-Length rather than a chunked upload that simple servers refuse.
        content = await request.app.state.server.read_body(request) if request.method not in ("GET", "HEAD") else b""
        # One client per proxied request (these are rare: debugging, cluster-info links), so nothing
        # outlives the request and no pool needs closing at shutdown.
        client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        upstream_request = client.build_request(request.method, url, headers=_request_headers(request),
                                                content=content or None)
        try:
            upstream = await client.send(upstream_request, stream=True)
        except httpx.HTTPError as e:
            await client.aclose()
            raise _dial_error(up, e) from None

        async def close() -> None:
            await upstream.aclose()
            await client.aclose()

        return StreamingResponse(self._relay(upstream, close), status_code=upstream.status_code,
                                 headers=_response_headers(upstream), background=BackgroundTask(close))

    @staticmethod
    async def _relay(upstream: httpx.Response, close: Callable[[], Awaitable[None]]) -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError as e:  # the answer is already under way: end it, as a Go proxy would
            log.info("proxied response from %s ended early: %s", upstream.url, e)
        finally:  # also when the caller went away mid-stream (the background task then may not run)
            await close()


def install(app: Any) -> None:
    """Add the proxy filter; call it before installing the authentication filter (so it runs after)."""
    app.add_middleware(ServiceProxy)


__all__ = ["LOOPBACK", "ServiceProxy", "Upstream", "dialable", "install", "locate_pod", "locate_service",
           "split_scheme_name_port"]
