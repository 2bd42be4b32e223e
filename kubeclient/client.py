"""An async client for the Kubernetes REST API.

Why: kctl and every controller process talk to the API server only through
this class, so URLs, verbs, content types and error translation live in one
place and follow kube-apiserver's contract (not our server's internals):
``/api/v1/namespaces/{ns}/{plural}/{name}[/{sub}]`` for the core group,
``/apis/{group}/{version}/...`` otherwise; watch is a chunked stream of
``{"type": ..., "object": ...}`` lines.

Invariants: every non-2xx reply becomes a typed ``errors.ApiError`` (via
``errors.from_response``, the one translation point); every transport
failure becomes ``errors.ConnectionFailed``; objects go in and come out as
plain JSON dicts.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import random
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, Self

import httpx
import orjson

from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.kubeconfig import Config

PatchType = Literal["merge", "strategic", "json", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}

AGGREGATED_DISCOVERY_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)

USER_AGENT = "kubelite/0.1.0"
WatchEvent = tuple[str, dict[str, Any]]


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body)


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _verify(cfg: Config) -> bool | ssl.SSLContext:
    if cfg.insecure:
        return False
    if cfg.ca_data is not None:
        return ssl.create_default_context(cadata=cfg.ca_data.decode())
    if cfg.ca_file is not None:
        return ssl.create_default_context(cafile=cfg.ca_file)
    return True


def _connection_failed(server: str, exc: Exception) -> errors.ConnectionFailed:
    """kubectl's wording, so kctl prints what users already recognise."""
    host = httpx.URL(server).netloc.decode() or server
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            break
        cause = cause.__cause__ or cause.__context__
    if cause is not None or "refused" in str(exc).lower():
        msg = f"The connection to the server {host} was refused - did you specify the right host or port?"
    else:
        msg = f"Unable to connect to the server: {type(exc).__name__}: {exc}".rstrip(": ")
    return errors.ConnectionFailed(msg)


class Client:
    """One pooled HTTP/1.1 connection set to one API server."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        verify: bool | ssl.SSLContext = True,
        timeout: float = 30.0,
        max_connections: int = 100,
        namespace: str = "default",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.namespace = namespace
        self.timeout = timeout
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=self.server,
            headers=headers,
            verify=verify,
            http2=False,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    @classmethod
    def from_config(cls, cfg: Config, **kwargs: Any) -> Self:
        """A client for ``cfg``'s server, CA and namespace (``token=`` overrides the kubeconfig's)."""
        kwargs.setdefault("token", cfg.token)
        return cls(cfg.server, verify=_verify(cfg), namespace=cfg.namespace, **kwargs)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- URLs -----------------------------------------------------------

    def path(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        """The REST path; ``namespace=None`` on a namespaced type means all namespaces (lists only)."""
        p = rt.url_prefix()
        if rt.namespaced and namespace:
            p += f"/namespaces/{namespace}"
        p += f"/{rt.plural}"
        if name is not None:
            if not name:
                raise ValueError(f"resource name may not be empty ({rt.plural})")
            p += f"/{name}"
            if subresource:
                p += f"/{subresource}"
        return p

    def _ns(self, rt: ResourceType, namespace: str | None, obj: Mapping[str, Any] | None = None) -> str | None:
        if not rt.namespaced:
            return None
        if namespace:
            return namespace
        meta = (obj or {}).get("metadata") or {}
        return str(meta.get("namespace") or self.namespace)

    # ---- raw ------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; a non-2xx reply raises its typed error, a 2xx one is returned as is."""
        hdrs = dict(headers or {})
        if body is not None:
            content = _dumps(body)
            hdrs.setdefault("Content-Type", content_type or "application/json")
        elif content is not None and content_type:
            hdrs.setdefault("Content-Type", content_type)
        attempt = 0
        while True:
            try:
                resp = await self._http.request(
                    method,
                    path,
                    params=dict(params or {}),
                    content=content,
                    headers=hdrs,
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)) if timeout else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as e:
                raise _connection_failed(self.server, e) from e
            delay = self._retry_delay(resp, attempt)
            if delay is None:
                break
            attempt += 1
            await asyncio.sleep(delay)
        if resp.status_code >= 400:
            raise self._error(resp.status_code, resp.content)
        return resp

    # How often one request is re-sent when the server answers 429/5xx with Retry-After (client-go: 10).
    RETRY_LIMIT = 10

    @staticmethod
    def _retry_delay(resp: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before re-sending, or None to give the reply to the caller.

        As client-go's checkWait: only 429 and 5xx replies that carry
        Retry-After (the server did not act on the request: overload or
        shutting down) are retried, never sooner than Retry-After says,
        with exponential backoff and jitter so a crowd of clients spreads out.
        """
        code = resp.status_code
        if attempt >= Client.RETRY_LIMIT or not (code == 429 or code >= 500):
            return None
        raw = resp.headers.get("retry-after")
        if raw is None:
            return None
        try:
            seconds = max(0, int(raw.strip()))
        except ValueError:
            return None
        return max(float(seconds), min(10.0, 0.1 * 2.0**attempt)) * (1 + 0.25 * random.random())

    @staticmethod
    def _error(code: int, raw: bytes) -> errors.ApiError:
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        return errors.from_response(code, body, text=raw.decode(errors="replace") if body is None else "")

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        resp = await self.request(method, path, **kwargs)
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError as e:
            raise errors.from_status(
                {"code": 500, "reason": "InternalError", "message": f"invalid JSON in response to {method} {path}: {e}"}
            ) from e
        if not isinstance(data, dict):
            raise errors.from_status(
                {"code": 500, "reason": "InternalError", "message": f"unexpected JSON in response to {method} {path}"}
            )
        return data

    # ---- verbs ----------------------------------------------------------

    async def get(self, rt: ResourceType, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return await self._json("GET", self.path(rt, namespace=self._ns(rt, namespace), name=name))

    async def list(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """One page of a List; ``metadata.continue`` is set when there are more."""
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit:
            params["limit"] = str(limit)
        if continue_:
            params["continue"] = continue_
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        ns = namespace if rt.namespaced else None
        data = await self._json("GET", self.path(rt, namespace=ns), params=params)
        if data.get("items") is None:
            data["items"] = []
        return data

    async def create(self, rt: ResourceType, obj: dict[str, Any], *, namespace: str | None = None,
                     field_manager: str | None = None) -> dict[str, Any]:
        params = {"fieldManager": field_manager} if field_manager else None
        return await self._json("POST", self.path(rt, namespace=self._ns(rt, namespace, obj)), body=obj,
                                params=params)

    def _obj_path(self, rt: ResourceType, obj: Mapping[str, Any], subresource: str | None = None) -> str:
        meta = obj.get("metadata") or {}
        return self.path(rt, namespace=self._ns(rt, None, obj), name=str(meta.get("name") or ""),
                         subresource=subresource)

    async def update(self, rt: ResourceType, obj: dict[str, Any], *,
                     field_manager: str | None = None, subresource: str | None = None) -> dict[str, Any]:
        """PUT; the object's metadata.resourceVersion (if set) is the optimistic-concurrency precondition.

        ``subresource`` PUTs to one (``finalize`` of a namespace); ``update_status`` is the common case.
        """
        params = {"fieldManager": field_manager} if field_manager else None
        return await self._json("PUT", self._obj_path(rt, obj, subresource), body=obj, params=params)

    async def update_status(self, rt: ResourceType, obj: dict[str, Any], *,
                            field_manager: str | None = None) -> dict[str, Any]:
        params = {"fieldManager": field_manager} if field_manager else None
        return await self._json("PUT", self._obj_path(rt, obj, "status"), body=obj, params=params)

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: dict[str, Any] | builtins.list[Any],
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}")
        params: dict[str, str] = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force is not None:
            params["force"] = _bool(force)
        path = self.path(rt, namespace=self._ns(rt, namespace), name=name, subresource=subresource)
        return await self._json("PATCH", path, body=patch, content_type=PATCH_CONTENT_TYPES[patch_type],
                                params=params)

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """DELETE with a DeleteOptions body; returns the deleted object or a Success Status."""
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            opts["preconditions"] = dict(preconditions)
        return await self._json("DELETE", self.path(rt, namespace=self._ns(rt, namespace), name=name), body=opts)

    async def watch(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[WatchEvent]:
        """Yield ``(type, object)`` until the server ends the stream.

        An ERROR event raises its typed error (``Gone`` for a compacted
        resourceVersion); a connection that breaks mid-stream raises
        ``ConnectionFailed``. A clean end (``timeout_seconds`` elapsed) just
        stops the iteration: the caller re-watches from the last
        resourceVersion it saw.
        """
        params: dict[str, str] = {"watch": "true"}
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if timeout_seconds is not None:
            params["timeoutSeconds"] = str(timeout_seconds)
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        ns = namespace if rt.namespaced else None
        read_timeout = None if timeout_seconds is None else timeout_seconds + 30.0
        async for event in self.stream(self.path(rt, namespace=ns), params=params, read_timeout=read_timeout):
            yield event

    async def stream(
        self, path: str, *, params: Mapping[str, str], accept: str | None = None, read_timeout: float | None = None
    ) -> AsyncIterator[WatchEvent]:
        """The watch stream at ``path``, decoded: ``(type, object)`` per event; what ``watch`` reads.

        ``accept`` asks for another event object (kctl sends kubectl's Table Accept). An ERROR event
        raises its typed error; a broken connection or an undecodable line raises ``ConnectionFailed``.
        """
        async with self._streaming(path, params=params, accept=accept, read_timeout=read_timeout) as resp:
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                try:
                    ev = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise errors.ConnectionFailed(f"unable to decode watch event: {line[:200]!r}") from e
                etype = str(ev.get("type") or "")
                obj = ev.get("object") or {}
                if etype == "ERROR":
                    raise errors.from_status(obj)
                yield etype, obj

    async def stream_bytes(self, path: str, *, params: Mapping[str, str]) -> AsyncIterator[bytes]:
        """A plain-text body (``pods/log``) chunk by chunk as it arrives; no read timeout (``logs -f``)."""
        async with self._streaming(path, params=params, accept="*/*", read_timeout=None) as resp:
            async for chunk in resp.aiter_raw():
                yield chunk

    @contextlib.asynccontextmanager
    async def _streaming(self, path: str, *, params: Mapping[str, str], accept: str | None,
                         read_timeout: float | None) -> AsyncIterator[httpx.Response]:
        """A GET whose body is read as it arrives: an error status raises its typed error, a broken
        connection (at the start or mid-stream) ``ConnectionFailed``; the response is closed on leaving."""
        req = self._http.build_request(
            "GET", path, params=dict(params), headers={"Accept": accept} if accept else None,
            timeout=httpx.Timeout(self.timeout, read=read_timeout, connect=min(self.timeout, 10.0)),
        )
        try:
            resp = await self._http.send(req, stream=True)
        except httpx.TransportError as e:
            raise _connection_failed(self.server, e) from e
        try:
            if resp.status_code >= 400:
                raise self._error(resp.status_code, await resp.aread())
            yield resp
        except httpx.TransportError as e:
            raise _connection_failed(self.server, e) from e
        finally:
            await resp.aclose()

    # ---- discovery ------------------------------------------------------

    async def version(self) -> dict[str, Any]:
        return await self._json("GET", "/version")

    async def discover(self) -> builtins.list[ResourceType]:
        """Every resource the server serves, preferred version of each group first.

        Reads aggregated discovery (apidiscovery.k8s.io/v2) from ``/api`` and
        ``/apis``; falls back to the legacy per-group-version documents when
        the server does not speak it.
        """
        out: builtins.list[ResourceType] = []
        for root in ("/api", "/apis"):
            doc = await self._json("GET", root, headers={"Accept": AGGREGATED_DISCOVERY_ACCEPT})
            if doc.get("kind") == "APIGroupDiscoveryList":
                out.extend(parse_aggregated_discovery(doc))
            elif root == "/api":
                for v in doc.get("versions") or []:
                    out.extend(parse_resource_list(await self._json("GET", f"/api/{v}")))
            else:
                for g in doc.get("groups") or []:
                    pref = (g.get("preferredVersion") or {}).get("groupVersion")
                    gvs = [v.get("groupVersion") for v in g.get("versions") or []]
                    ordered = [pref] + [gv for gv in gvs if gv != pref] if pref else gvs
                    for gv in ordered:
                        if gv:
                            out.extend(parse_resource_list(await self._json("GET", f"/apis/{gv}")))
        return out


def parse_aggregated_discovery(doc: Mapping[str, Any]) -> list[ResourceType]:
    """ResourceTypes from an APIGroupDiscoveryList (one per group/version/resource)."""
    out: list[ResourceType] = []
    for item in doc.get("items") or []:
        group = str((item.get("metadata") or {}).get("name") or "")
        for ver in item.get("versions") or []:
            version = str(ver.get("version") or "")
            for r in ver.get("resources") or []:
                kind = str((r.get("responseKind") or {}).get("kind") or "")
                out.append(ResourceType(
                    group=group,
                    version=version,
                    kind=kind,
                    plural=str(r.get("resource") or ""),
                    singular=str(r.get("singularResource") or kind.lower()),
                    namespaced=r.get("scope") == "Namespaced",
                    short_names=tuple(r.get("shortNames") or ()),
                    categories=tuple(r.get("categories") or ()),
                    subresources=tuple(str(s.get("subresource")) for s in r.get("subresources") or ()),
                    verbs=tuple(r.get("verbs") or ()),
                ))
    return out


def parse_resource_list(doc: Mapping[str, Any]) -> list[ResourceType]:
    """ResourceTypes from a legacy APIResourceList (``/api/v1``, ``/apis/g/v``)."""
    gv = str(doc.get("groupVersion") or "")
    group, _, version = gv.rpartition("/")
    subs: dict[str, list[str]] = {}
    mains: list[Mapping[str, Any]] = []
    for r in doc.get("resources") or []:
        name = str(r.get("name") or "")
        if "/" in name:
            parent, _, sub = name.partition("/")
            subs.setdefault(parent, []).append(sub)
        else:
            mains.append(r)
    return [
        ResourceType(
            group=group,
            version=version,
            kind=str(r.get("kind") or ""),
            plural=str(r.get("name")),
            singular=str(r.get("singularName") or str(r.get("kind") or "").lower()),
            namespaced=bool(r.get("namespaced")),
            short_names=tuple(r.get("shortNames") or ()),
            categories=tuple(r.get("categories") or ()),
            subresources=tuple(subs.get(str(r.get("name")), ())),
            verbs=tuple(r.get("verbs") or ()),
        )
        for r in mains
    ]
