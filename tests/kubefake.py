"""A tiny in-memory Kubernetes-REST server on 127.0.0.1 for client and controller tests.

Why: the client and the controller runtime are written against the
Kubernetes REST contract, not against our API server, so their tests use an
independent, deliberately small implementation of that contract that can
also misbehave on demand (break watch streams, compact history so watches
get 410, fail the next requests).

Supports: GET/LIST (limit + continue, label equality selectors, metadata.name
/ metadata.namespace field selectors), POST (AlreadyExists, generateName),
PUT (resourceVersion precondition -> Conflict; /status), PATCH (merge patch
for merge and strategic types), DELETE, and WATCH (resourceVersion unset or
"0" -> synthetic ADDED; N -> history after N or an ERROR 410 event;
bookmarks; timeoutSeconds).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from apimachinery import errors as E
from apimachinery.resources import ResourceType, lookup

Obj = dict[str, Any]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


@dataclass
class Change:
    rv: int
    key: str
    namespace: str
    type: str
    obj: Obj


@dataclass
class Watcher:
    rt: ResourceType
    namespace: str
    queue: asyncio.Queue[Change | None] = field(default_factory=asyncio.Queue)
    writer: asyncio.StreamWriter | None = None


class FakeApiServer:
    def __init__(self, *, bookmark_interval: float = 0.5) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.history: list[Change] = []
        self.rv = 100
        self.compacted = 0
        self.bookmark_interval = bookmark_interval
        self.watchers: list[Watcher] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.failures: list[tuple[str, str, int]] = []  # (method, path-substring, code)
        self.port = 0
        self.gone_sent = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    # ---- lifecycle / test hooks -----------------------------------------

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self.break_watches()
        for w in list(self._conns):
            w.transport.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def break_watches(self) -> None:
        """Abort every open watch connection mid-stream (no terminating chunk)."""
        for w in list(self.watchers):
            if w.writer is not None:
                w.writer.transport.abort()
            w.queue.put_nowait(None)

    def end_watches(self) -> None:
        """End every open watch cleanly, as an expired timeoutSeconds would."""
        for w in list(self.watchers):
            w.queue.put_nowait(None)

    def compact(self) -> None:
        """Forget all history: a watch from any older resourceVersion now gets 410."""
        self.compacted = self.rv
        self.history.clear()

    def fail_next(self, method: str, path_part: str, code: int) -> None:
        self.failures.append((method, path_part, code))

    # ---- storage --------------------------------------------------------

    def _emit(self, rt: ResourceType, ns: str, etype: str, obj: Obj) -> None:
        ch = Change(self.rv, rt.key, ns, etype, copy.deepcopy(obj))
        self.history.append(ch)
        for w in self.watchers:
            if w.rt.key == rt.key and (not w.namespace or w.namespace == ns):
                w.queue.put_nowait(ch)

    def put_object(self, rt: ResourceType, obj: Obj) -> Obj:
        """Create or replace directly (test setup / behind-the-back changes)."""
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "") if rt.namespaced else ""
        key = (rt.key, ns, meta["name"])
        etype = "MODIFIED" if key in self.objects else "ADDED"
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        obj.setdefault("kind", rt.kind)
        obj.setdefault("apiVersion", rt.api_version)
        self.objects[key] = obj
        self._emit(rt, ns, etype, obj)
        return obj

    def delete_object(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.objects.pop((rt.key, ns if rt.namespaced else "", name))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit(rt, ns, "DELETED", obj)
        return obj

    def list_objects(self, rt: ResourceType, ns: str = "") -> list[Obj]:
        return [o for (k, n, _), o in sorted(self.objects.items()) if k == rt.key and (not ns or n == ns)]

    # ---- HTTP -------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length") or 0)
                body = await reader.readexactly(n) if n else b""
                url = urlsplit(target)
                query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                path = unquote(url.path)
                self.requests.append((method, path, query))
                if query.get("watch") in ("true", "1") and method == "GET":
                    await self._watch(writer, path, query)
                    return
                code, payload = self._dispatch(method, path, query, body, headers)
                data = json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._conns.discard(writer)
            writer.close()

    def _route(self, path: str) -> tuple[ResourceType, str, str, str]:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise E.StatusError(404, "NotFound", "the server could not find the requested resource")
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        rt = lookup(group, version, rest[0])
        if rt is None:
            raise E.StatusError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        return rt, ns, name, sub

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes,
                  headers: dict[str, str]) -> tuple[int, Obj]:
        for i, (m, part, code) in enumerate(self.failures):
            if m == method and part in path:
                del self.failures[i]
                return code, E.StatusError(code, "InternalError" if code >= 500 else "Conflict", "injected").status
        try:
            rt, ns, name, sub = self._route(path)
            data: Any = json.loads(body) if body else None
            if method == "GET" and not name:
                return 200, self._list(rt, ns, query)
            if method == "GET":
                return 200, self._get(rt, ns, name)
            if method == "POST":
                return 201, self._create(rt, ns, data)
            if method == "PUT":
                return 200, self._update(rt, ns, name, sub, data)
            if method == "PATCH":
                cur = copy.deepcopy(self._get(rt, ns, name))
                new = merge_patch(cur, data)
                new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
                return 200, self._update(rt, ns, name, "", new)
            if method == "DELETE":
                self._get(rt, ns, name)
                return 200, self.delete_object(rt, ns, name)
            raise E.method_not_allowed()
        except E.StatusError as e:
            return e.code, e.status

    def _get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.objects.get((rt.key, ns if rt.namespaced else "", name))
        if obj is None:
            raise E.not_found(rt.plural, name, rt.group)
        return obj

    def _create(self, rt: ResourceType, ns: str, data: Obj) -> Obj:
        meta = data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if rt.namespaced:
            meta["namespace"] = ns or meta.get("namespace") or "default"
        if (rt.key, meta.get("namespace", "") if rt.namespaced else "", meta["name"]) in self.objects:
            raise E.already_exists(rt.plural, meta["name"], rt.group)
        meta.pop("resourceVersion", None)
        return self.put_object(rt, data)

    def _update(self, rt: ResourceType, ns: str, name: str, sub: str, data: Obj) -> Obj:
        cur = self._get(rt, ns, name)
        rv = (data.get("metadata") or {}).get("resourceVersion")
        if rv and rv != cur["metadata"]["resourceVersion"]:
            raise E.conflict(rt.plural, name, rt.group)
        if sub == "status":
            new = copy.deepcopy(cur)
            new["status"] = data.get("status")
        else:
            new = data
            new["metadata"]["uid"] = cur["metadata"]["uid"]
            new["metadata"]["creationTimestamp"] = cur["metadata"]["creationTimestamp"]
        if rt.namespaced:
            new["metadata"]["namespace"] = ns
        return self.put_object(rt, new)

    @staticmethod
    def _matches(obj: Obj, query: dict[str, str]) -> bool:
        meta = obj.get("metadata") or {}
        for term in filter(None, (query.get("labelSelector") or "").split(",")):
            k, _, v = term.partition("=")
            if (meta.get("labels") or {}).get(k) != v:
                return False
        for term in filter(None, (query.get("fieldSelector") or "").split(",")):
            k, _, v = term.partition("=")
            if meta.get(k.removeprefix("metadata.")) != v:
                return False
        return True

    def _list(self, rt: ResourceType, ns: str, query: dict[str, str]) -> Obj:
        items = [o for o in self.list_objects(rt, ns) if self._matches(o, query)]
        rv = self.rv
        start = 0
        if query.get("continue"):
            tok = json.loads(base64.b64decode(query["continue"]))
            if tok["rv"] < self.compacted:
                raise E.gone("The provided continue parameter is too old to display a consistent list result. "
                             "You can start a new list without the continue parameter.")
            rv, start = tok["rv"], tok["start"]
        limit = int(query.get("limit") or 0)
        meta: Obj = {"resourceVersion": str(rv)}
        page = items[start:]
        if limit and len(page) > limit:
            page = page[:limit]
            meta["continue"] = base64.b64encode(json.dumps({"rv": rv, "start": start + limit}).encode()).decode()
        stripped = []
        for o in page:
            o = dict(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            stripped.append(o)
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": meta, "items": stripped}

    async def _watch(self, writer: asyncio.StreamWriter, path: str, query: dict[str, str]) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                     b"Connection: close\r\n\r\n")

        async def send(ev: Obj) -> None:
            data = json.dumps(ev).encode() + b"\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()

        try:
            rt, ns, _, _ = self._route(path)
        except E.StatusError as e:
            await send({"type": "ERROR", "object": e.status})
            return
        w = Watcher(rt, ns, writer=writer)
        self.watchers.append(w)
        try:
            rv = query.get("resourceVersion") or ""
            if rv in ("", "0"):
                for o in self.list_objects(rt, ns):
                    if self._matches(o, query):
                        await send({"type": "ADDED", "object": o})
            else:
                if int(rv) < self.compacted:
                    status = E.gone(f"too old resource version: {rv} ({self.compacted})").status
                    self.gone_sent += 1
                    await send({"type": "ERROR", "object": status})
                    writer.write(b"0\r\n\r\n")
                    return
                for ch in self.history:
                    if ch.rv > int(rv) and ch.key == rt.key and (not ns or ch.namespace == ns):
                        await send({"type": ch.type, "object": ch.obj})
            loop = asyncio.get_running_loop()
            deadline = loop.time() + float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
            bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
            while True:
                wait = self.bookmark_interval
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        writer.write(b"0\r\n\r\n")
                        return
                try:
                    change = await asyncio.wait_for(w.queue.get(), timeout=wait)
                except TimeoutError:
                    if bookmarks:
                        await send({"type": "BOOKMARK", "object": {
                            "kind": rt.kind, "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(self.rv)}}})
                    continue
                if change is None:
                    writer.write(b"0\r\n\r\n")
                    return
                if self._matches(change.obj, query):
                    await send({"type": change.type, "object": change.obj})
        except (ConnectionError, RuntimeError):
            return
        finally:
            self.watchers.remove(w)


@contextlib.asynccontextmanager
async def fake_apiserver(**kwargs: Any) -> AsyncIterator[FakeApiServer]:
    srv = FakeApiServer(**kwargs)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()



def svc(name: str, ns: str = "default", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], **spec}}
