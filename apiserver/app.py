"""The FastAPI application: Kubernetes URL scheme, content negotiation, Status errors.

``create_app(settings)`` builds everything (database, store, watch cache,
registry) with no state at import time. Requests under /api and /apis are
parsed once (apiserver.requestinfo) and dispatched through a table of handlers
per method and subresource (ApiServer._handlers) to the generic registry; this
module only translates HTTP <-> registry calls. docs/architecture.md, "A
request's path", follows one request through the filters and here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from apimachinery import errors
from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY, ResourceType
from apimachinery.selectors import parse_field_selector, parse_label_selector
from apiserver import (
    accessreview,
    apply,
    auth,
    bodies,
    discovery,
    eviction,
    faults,
    openapi,
    overload,
    podlogs,
    scale,
    serviceproxy,
    tables,
)
from apiserver.admission.priorityclass import PriorityPlugin, refuse_system_class_delete
from apiserver.admission.serviceaccount import ServiceAccountPlugin
from apiserver.allocationwait import AllocationWait
from apiserver.bootstrap import bootstrap
from apiserver.events import Recorder
from apiserver.ledger import Ledger
from apiserver.metrics import Metrics
from apiserver.registry import Registry
from apiserver.requestinfo import Target, target_of
from apiserver.selfendpoints import SelfEndpoints
from apiserver.settings import Settings
from apiserver.storage.database import Database, make_engine
from apiserver.storage.encryption import load_config as load_encryption_config
from apiserver.storage.store import Store
from apiserver.watchcache import Entry, Event, WatchCache

log = logging.getLogger("kubelite.apiserver")
SERVICE_ACCOUNTS = BY_KEY["serviceaccounts"]
PRIORITY_CLASSES = BY_KEY["priorityclasses.scheduling.k8s.io"]

JSON = "application/json"
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str | None, name: str) -> bool:
    """Go's strconv.ParseBool, as the Python client 33.x sends ``watch=True``."""
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'invalid boolean value "{value}" for query parameter {name}')


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value "{value}" for query parameter {name}: must be an integer') from None


def header_value(text: str) -> str:
    """``text`` as a header value: control characters (CR/LF could split the header) become spaces and
    non-Latin-1 text goes out as its UTF-8 bytes, as Go's net/http writes it (Starlette encodes Latin-1)."""
    safe = "".join(" " if c < " " or c == "\x7f" else c for c in text)
    return safe.encode("utf-8").decode("latin-1")


def status_response(e: StatusError, request: Request | None = None) -> Response:
    """The one HTTP form of an error: kube-apiserver's exact Status bytes (apimachinery.errors.encode_status),
    indented when the request asks for it as kube-apiserver understands it (:func:`wants_pretty`)."""
    pretty = request is not None and wants_pretty(request)
    return Response(e.encode(pretty=pretty), status_code=e.code, media_type=JSON, headers=e.headers or None)


_PRETTY_AGENTS = ("curl", "Wget", "Mozilla/5.0")


def wants_pretty(request: Request) -> bool:
    """negotiation.isPrettyPrint: ``?pretty=`` (Go's ParseBool, a bad value is false) decides; without it,
    curl, Wget and browsers get indented JSON; so does an Accept of ``application/json;pretty=1``."""
    flag = request.query_params.get("pretty")
    if flag:
        return flag in _TRUE
    if request.headers.get("user-agent", "").startswith(_PRETTY_AGENTS):
        return True
    return "pretty=1" in request.headers.get("accept", "").replace(" ", "")


def _discovery_response(request: Request, aggregated: dict[str, Any], legacy: dict[str, Any]) -> Response:
    if discovery.wants_aggregated(request.headers.get("accept", "")):
        return Response(orjson.dumps(aggregated), media_type=discovery.AGGREGATED_CONTENT_TYPE)
    return Response(orjson.dumps(legacy), media_type=JSON)


def api_root(request: Request) -> Response:
    """GET /api (and /api/): APIVersions, or the aggregated discovery document when asked for."""
    return _discovery_response(request, discovery.aggregated_api(), discovery.api_versions())


def apis_root(request: Request) -> Response:
    """GET /apis (and /apis/): APIGroupList, or the aggregated discovery document when asked for."""
    return _discovery_response(request, accessreview.add_to_aggregated(discovery.aggregated_apis()),
                               accessreview.add_to_group_list(discovery.api_group_list()))


class Handler(Protocol):
    """One entry of ApiServer's handler tables: answers a parsed request (see ApiServer.handle)."""

    def __call__(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Awaitable[Response]: ...


def _patch_type(request: Request) -> str:
    """The patch strategy the Content-Type names; go-restful answers 415 for a type no patch route consumes."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    ptype = PATCH_TYPES.get(ctype)
    if ptype is None:
        raise errors.generic_response(415)
    return ptype


def _list_kind(rt: ResourceType) -> str:
    return rt.kind + "List"


def encode_list(rt: ResourceType, entries: list[Entry], rv: int, token: str | None) -> bytes:
    """The List body, spliced from each object's cached encoding (one copy of the items)."""
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if token:
        meta["continue"] = token
    parts = [b'{"kind":"', _list_kind(rt).encode(), b'","apiVersion":"', rt.api_version.encode(), b'","metadata":',
             orjson.dumps(meta), b',"items":[']
    for i, e in enumerate(entries):
        if i:
            parts.append(b",")
        parts.append(e.body)
    parts.append(b"]}")
    return b"".join(parts)


class ApiServer:
    """Per-app state: settings, store, cache, registry, metrics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = WatchCache(history_size=settings.keep_changes, max_queue=settings.watch_queue)
        transformer = load_encryption_config(settings.encryption_provider_config) \
            if settings.encryption_provider_config else None
        self.db = Database(make_engine(settings.database_url()), transformer=transformer)
        self.store = Store(self.db, self.cache, keep_changes=settings.keep_changes,
                           compact_interval=settings.compact_interval)
        self.registry = Registry(self.store, self.cache)
        self.events = Recorder(self.registry)
        self.ledger = Ledger(self.cache, node_port_range=settings.service_node_port_range)
        self.registry.write_hooks["services"] = self.ledger.service_ops
        self.registry.create_settlers["services"] = AllocationWait(self.cache, bound=settings.allocation_wait).settle
        self._admission_plugins()
        self.metrics = Metrics(revision=lambda: self.cache.revision, transactions=lambda: self.store.transactions)
        self.self_endpoints = SelfEndpoints(self.registry, settings)
        self.collection_handlers, self.named_handlers = self._handlers()
        self.ready = False

    def _admission_plugins(self) -> None:
        """kube-apiserver's ServiceAccount and Priority plugins, reading the watch cache."""
        cache = self.cache

        def account(namespace: str, name: str) -> dict[str, Any] | None:
            e = cache.get(SERVICE_ACCOUNTS.key, namespace, name)
            return None if e is None else e.obj

        def classes() -> list[dict[str, Any]]:
            return [e.obj for e in cache.resource(PRIORITY_CLASSES.key).items.values()]

        priority = PriorityPlugin(classes)
        self.registry.plugins["pods"] = [ServiceAccountPlugin(account), priority.pods]
        self.registry.plugins[PRIORITY_CLASSES.key] = [priority.priority_classes]
        self.registry.delete_guards[PRIORITY_CLASSES.key] = refuse_system_class_delete

    async def start(self) -> None:
        await self.store.start()
        await bootstrap(self.registry, self.settings)
        await self.self_endpoints.start()
        if self.settings.tune_gc:
            gc.collect()
            gc.freeze()  # objects loaded at start are never collected: keep them out of every pass
            gc.set_threshold(50_000, 20, 100)
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await self.self_endpoints.stop()
        await self.store.stop()

    # -- request helpers -----------------------------------------------------
    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        cl = request.headers.get("content-length")
        if cl and cl.isdigit() and int(cl) > limit:
            raise errors.too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def decode_body(self, request: Request, *, kind: str = "") -> Any:
        """The request's object. With ``kind`` (the type the URL expects), JSON that does not parse is refused
        as kube-apiserver's create/update handlers refuse it (bodies.unrecognized)."""
        raw = await self.read_body(request)
        ctype = (request.headers.get("content-type") or JSON).split(";")[0].strip().lower()
        if not raw:
            if kind and ctype in (JSON, "", "*/*", "text/plain"):
                raise bodies.unrecognized(kind, raw)
            raise errors.bad_request("the request body is empty")
        try:
            if ctype in (JSON, "", "*/*", "text/plain"):
                return bodies.load_json(raw, kind=kind)
            if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
                return bodies.load_yaml(raw)
            if ctype == "application/vnd.kubernetes.protobuf":
                from apiserver.protobuf import decode_protobuf

                return decode_protobuf(raw)
        except StatusError:
            raise
        except Exception as e:
            raise errors.bad_request(f"error decoding request body: {e}") from None
        # go-restful refuses a body whose type no route consumes before kube's handler sees it
        raise errors.generic_response(415)

    def respond(self, request: Request, rt: ResourceType, obj: dict[str, Any], code: int = 200,
                warnings: tuple[str, ...] = ()) -> Response:
        headers = {"Warning": header_value(", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"'
                                                     for w in warnings))} if warnings else None
        want_table, _ = tables.wants_table(request.headers.get("accept", ""))
        if want_table and obj.get("kind") == rt.kind:
            include = request.query_params.get("includeObject") or "Metadata"
            return Response(orjson.dumps(tables.to_table(rt, [obj], include_object=include)), status_code=code,
                            media_type=JSON, headers=headers)
        if obj.get("kind") == "Status":  # a delete's Success Status: the same bytes as every Status
            return Response(errors.encode_status(obj, pretty=wants_pretty(request)), status_code=code,
                            media_type=JSON, headers=headers)
        return Response(orjson.dumps(obj), status_code=code, media_type=JSON, headers=headers)

    # -- dispatch --------------------------------------------------------------
    # One handler per (method, subresource) of a named object, one per method of a collection: the table
    # is the whole routing (kube-apiserver registers a handler per verb and subresource the same way); a
    # pair not in it is 405. Every handler takes (request, target) and the request's dry-run and field
    # manager, validated once in handle() before any handler runs.
    def _handlers(self) -> tuple[dict[str, Handler], dict[tuple[str, str | None], Handler]]:
        collection: dict[str, Handler] = {
            "GET": self._list_or_watch,
            "POST": self._create,
            "DELETE": self._delete_collection,
        }
        named: dict[tuple[str, str | None], Handler] = {
            ("GET", None): self._get, ("GET", "status"): self._get,
            ("PUT", None): self._update, ("PUT", "status"): self._update, ("PUT", "finalize"): self._update,
            ("PATCH", None): self._patch, ("PATCH", "status"): self._patch,
            ("DELETE", None): self._delete,
            ("GET", "scale"): self._get_scale, ("PUT", "scale"): self._update_scale,
            ("PATCH", "scale"): self._patch_scale,
            ("GET", "log"): self._log,
            ("POST", "binding"): self._binding,
            ("POST", "eviction"): self._eviction,
        }
        return collection, named

    def handle(self, request: Request, prefix: str, path: str) -> Awaitable[Response]:
        """The handler's answer to a resource request, to await (not a coroutine itself: the handler's
        coroutine is the only one, as before the table). Parse and option errors raise here."""
        t = target_of(request.scope, prefix, path)
        request.state.resource = t.rt.plural
        q = request.query_params
        method = request.method
        dry_run = q.get("dryRun") == "All"
        if q.get("dryRun") not in (None, "", "All"):
            raise errors.bad_request(f'unsupported dry run directive "{q.get("dryRun")}"')
        manager = ""
        if method != "GET":
            apply.check_manager(q.get("fieldManager"))
            manager = apply.manager_name(q.get("fieldManager"), request.headers.get("user-agent"))
        if t.name is None:
            handler = self.collection_handlers.get(method)
        else:
            request.state.verb = method.lower()
            handler = self.named_handlers.get((method, t.subresource))
        if handler is None:
            raise errors.method_not_allowed()
        return handler(request, t, dry_run=dry_run, manager=manager)

    # -- collection handlers ----------------------------------------------------
    async def _list_or_watch(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        if parse_bool(request.query_params.get("watch"), "watch"):
            request.state.verb = "watch"
            return await self.watch(request, t)
        request.state.verb = "list"
        return self.list_objects(request, t)

    async def _create(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        request.state.verb = "create"
        rt = t.rt
        if rt.namespaced and t.namespace is None:
            raise errors.method_not_allowed()
        body = await self.decode_body(request, kind=rt.kind)
        await self._consistent()
        res = await self.registry.create(rt, t.namespace, body, dry_run=dry_run,
                                         field_validation=request.query_params.get("fieldValidation"),
                                         manager=manager)
        return self.respond(request, rt, res.obj, res.code, res.warnings)

    async def _delete_collection(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        request.state.verb = "deletecollection"
        rt = t.rt
        q = request.query_params
        opts = await self._delete_options(request)
        await self._consistent()
        items = await self.registry.delete_collection(
            rt, t.namespace, label_selector=parse_label_selector(q.get("labelSelector") or ""),
            field_selector=parse_field_selector(q.get("fieldSelector") or ""), options=opts,
            dry_run=dry_run,
        )
        body = {"kind": _list_kind(rt), "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.cache.revision)}, "items": items}
        return Response(orjson.dumps(body), media_type=JSON)

    async def _consistent(self) -> None:
        """With API servers sharing a database: this server's cache has caught up with it before a write acts.

        A write's checks (does the object exist, at which version, is its namespace there) read the
        cache; after another server acknowledged a write, they must see it, as a GET does (kube reads
        etcd). Found by bench/robustness.py: a CAS answered 404 for an object another server had
        just created.
        """
        if self.store.shared:
            await self.store.fresh_revision()

    # -- named-object handlers (no subresource, or status) ---------------------------
    async def _get(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        assert t.name is not None
        if self.store.shared:
            await self.store.fresh_revision()
        e = self.registry.get_entry(t.rt, t.namespace, t.name)
        if t.subresource is None and not tables.wants_table(request.headers.get("accept", ""))[0]:
            return Response(e.body, media_type=JSON)
        return self.respond(request, t.rt, e.obj)

    async def _update(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        rt = t.rt
        assert t.name is not None
        body = await self.decode_body(request, kind=rt.kind)
        await self._consistent()
        res = await self.registry.update(rt, t.namespace, t.name, body, subresource=t.subresource,
                                         dry_run=dry_run, field_validation=request.query_params.get("fieldValidation"),
                                         manager=manager)
        return self.respond(request, rt, res.obj, res.code, res.warnings)

    async def _patch(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        q = request.query_params
        assert t.name is not None
        ptype = _patch_type(request)
        if ptype == "apply" and not q.get("fieldManager"):  # ValidatePatchOptions
            raise errors.invalid_object("PatchOptions", "", [errors.required(
                "fieldManager", "is required for apply patch")], group="meta.k8s.io")
        raw = await self.read_body(request)
        bodies.check_patch(raw, ptype, field_validation=q.get("fieldValidation"))
        await self._consistent()
        res = await self.registry.patch(t.rt, t.namespace, t.name, ptype, raw, subresource=t.subresource,
                                        dry_run=dry_run, field_validation=q.get("fieldValidation"),
                                        force=parse_bool(q.get("force"), "force"), manager=manager)
        return self.respond(request, t.rt, res.obj, res.code, res.warnings)

    async def _delete(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        assert t.name is not None
        opts = await self._delete_options(request)
        await self._consistent()
        res = await self.registry.delete(t.rt, t.namespace, t.name, opts, dry_run=dry_run)
        return self.respond(request, t.rt, res.obj, res.code)

    # -- subresources with their own handlers: scale, log, binding, eviction ------------
    async def _get_scale(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        """GET .../scale: an autoscaling/v1 Scale of the parent (apiserver.scale)."""
        assert t.name is not None
        obj = scale.get_scale(self.registry, t.rt, t.namespace, t.name)
        return Response(orjson.dumps(obj), media_type=JSON)

    async def _update_scale(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        assert t.name is not None
        body = await self.decode_body(request)
        await self._consistent()
        obj = await scale.update_scale(self.registry, t.rt, t.namespace, t.name, body, dry_run=dry_run)
        return Response(orjson.dumps(obj), media_type=JSON)

    async def _patch_scale(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        assert t.name is not None
        ptype = _patch_type(request)
        raw = await self.read_body(request)
        bodies.check_patch(raw, ptype, field_validation=request.query_params.get("fieldValidation"))
        await self._consistent()
        obj = await scale.patch_scale(self.registry, t.rt, t.namespace, t.name, ptype, raw, dry_run=dry_run)
        return Response(orjson.dumps(obj), media_type=JSON)

    async def _log(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        assert t.name is not None
        pod = self.registry.get_entry(t.rt, t.namespace, t.name).obj
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        node = self.cache.get(BY_KEY["nodes"].key, "", node_name) if node_name else None
        return await podlogs.stream_log(pod, node.obj if node else None,
                                        podlogs.log_options(request.query_params, t.name))

    async def _binding(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        assert t.name is not None
        body = await self.decode_body(request)
        await self._consistent()
        res = await self.registry.bind(t.namespace or "", t.name, body, dry_run=dry_run)
        if res.code == 201 and not dry_run:
            pod = self.registry.get_entry(t.rt, t.namespace, t.name).obj
            await self.events.scheduled(pod, str((pod.get("spec") or {}).get("nodeName") or ""))
        return self.respond(request, t.rt, res.obj, res.code)

    async def _eviction(self, request: Request, t: Target, *, dry_run: bool, manager: str) -> Response:
        """POST pods/NAME/eviction: the Pod deleted if its PodDisruptionBudget allows (apiserver.eviction)."""
        assert t.name is not None
        request.state.verb = "create"
        body = await self.decode_body(request, kind="Eviction")
        if self.store.shared:
            await self.store.fresh_revision()
        status = await eviction.evict(self.registry, t.namespace or "", t.name, body, dry_run=dry_run)
        return self.respond(request, t.rt, status, 201)

    async def _delete_options(self, request: Request) -> dict[str, Any]:
        raw = await self.read_body(request)
        opts: dict[str, Any] = {}
        if raw.strip():
            try:
                loaded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise errors.bad_request("invalid DeleteOptions body") from None
            if isinstance(loaded, dict):
                opts = loaded
        q = request.query_params
        g = _int_param(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        if g is not None:
            opts["gracePeriodSeconds"] = g
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q.get("propagationPolicy")
        return opts

    def _selectors(self, request: Request) -> tuple[Any, Any]:
        q = request.query_params
        return parse_label_selector(q.get("labelSelector") or ""), parse_field_selector(q.get("fieldSelector") or "")

    def list_objects(self, request: Request, t: Target) -> Response:
        q = request.query_params
        labels, fields = self._selectors(request)
        limit = _int_param(q.get("limit"), "limit") or 0
        entries, rv, token = self.registry.list_entries(t.rt, t.namespace, label_selector=labels, field_selector=fields,
                                                limit=max(0, limit), continue_token=q.get("continue"))
        want_table, _ = tables.wants_table(request.headers.get("accept", ""))
        if want_table:
            list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if token:
                list_meta["continue"] = token
            table = tables.to_table(t.rt, [e.obj for e in entries],
                                    include_object=q.get("includeObject") or "Metadata", list_meta=list_meta)
            return Response(orjson.dumps(table), media_type=JSON)
        return Response(encode_list(t.rt, entries, rv, token), media_type=JSON)

    async def watch(self, request: Request, t: Target) -> Response:
        q = request.query_params
        if self.store.shared:
            await self.store.fresh_revision()
        labels, fields = self._selectors(request)
        filt = self.registry.filter(t.rt, t.namespace, labels, fields)
        rv_param = q.get("resourceVersion") or ""
        send_initial = q.get("sendInitialEvents")
        initial_events = parse_bool(send_initial, "sendInitialEvents") if send_initial else None
        since: int | None
        if initial_events is True or (rv_param in ("", "0") and initial_events is None):
            since = None
        elif rv_param in ("", "0"):
            since = self.cache.revision
        else:
            try:
                since = int(rv_param)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{rv_param}"') from None
        timeout = _int_param(q.get("timeoutSeconds"), "timeoutSeconds")
        bookmarks = parse_bool(q.get("allowWatchBookmarks"), "allowWatchBookmarks")
        table, _ = tables.wants_table(request.headers.get("accept", ""))
        include = q.get("includeObject") or "Metadata"
        reg = self.cache.watch(t.rt.key, filt, since=since)
        rt = t.rt
        if reg is None:
            rc = self.cache.resource(rt.key)
            err = errors.gone(f"too old resource version: {since} ({rc.oldest})")
            line = errors.go_json({"type": "ERROR", "object": err.status}) + b"\n"
            return Response(line, media_type=JSON)
        watcher, initial = reg
        limit = float(timeout) if timeout is not None else self.settings.min_request_timeout
        self.metrics.watch_started(rt)

        def encode(item: tuple[str, Any]) -> bytes:
            typ, ev = item
            assert isinstance(ev, Event)
            if table:
                tbl = tables.to_table(rt, [ev.obj], include_object=include)
                return orjson.dumps({"type": typ, "object": tbl}) + b"\n"
            return ev.line(typ)

        def bookmark(rv: int, *, initial_end: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return orjson.dumps({"type": "BOOKMARK",
                                 "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}}) + b"\n"

        cache = self.cache
        interval = self.settings.bookmark_interval

        async def stream() -> AsyncIterator[bytes]:
            # Timers put markers into the watcher's queue, so the loop is one plain
            # queue.get() per wake-up (no per-event timeout task).
            loop = asyncio.get_running_loop()
            timers: list[asyncio.TimerHandle] = [loop.call_later(limit, watcher.put, ("END", None))]

            def tick() -> None:
                watcher.put(("TICK", None))
                timers.append(loop.call_later(interval, tick))

            if bookmarks:
                timers.append(loop.call_later(interval, tick))
            try:
                if initial:
                    yield b"".join(encode(i) for i in initial)
                if initial_events and bookmarks:
                    yield bookmark(watcher.since, initial_end=True)
                elif not initial:
                    yield b""
                queue = watcher.queue
                while True:
                    items = [await queue.get()]
                    while not queue.empty() and len(items) < 512:
                        items.append(queue.get_nowait())
                    out: list[bytes] = []
                    done = False
                    for it in items:
                        kind = it[0]
                        if kind in ("CLOSE", "END"):
                            done = True
                            break
                        if kind == "TICK":
                            out.append(bookmark(cache.revision))
                        else:
                            out.append(encode(it))
                    if out:
                        yield b"".join(out)
                    if done:
                        return
            finally:
                for t in timers:
                    t.cancel()
                cache.unwatch(rt.key, watcher)
                self.metrics.watch_stopped(rt)

        return StreamingResponse(stream(), media_type=JSON, headers={"Cache-Control": "no-cache, private"})


def create_app(settings: Settings) -> FastAPI:
    """Build the API server app; storage opens in the lifespan (start/stop)."""
    server = ApiServer(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(title="kubelite", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server
    # Filters, outermost installed last: authentication + authorization (auth.py), overload caps
    # (overload.py), then the review endpoints (accessreview.py, need the user) and the services/pods
    # proxy subresource (serviceproxy.py).
    security = auth.Security.from_settings(settings)
    serviceproxy.install(app)
    accessreview.install(app, security.authorizer)
    overload.install(app, overload.Limits.from_settings(settings), registry=server.metrics.registry)
    auth.install(app, security)

    async def resource(request: Request) -> Response:
        # A plain Starlette route: FastAPI's dependency solving costs more than a GET from the cache.
        path: str = request.path_params["path"]
        prefix = "api" if request.scope["path"].startswith("/api/") else "apis"
        start = time.perf_counter()
        request.state.verb = request.method.lower()
        request.state.resource = ""
        resp: Response
        try:
            parts = [p for p in path.split("/") if p]
            if not parts:  # /api/ and /apis/: go-restful matches them to the root's route
                if request.method != "GET":
                    raise errors.method_not_allowed()
                resp = api_root(request) if prefix == "api" else apis_root(request)
            elif prefix == "api" and len(parts) == 1:
                resp = JSONResponse(discovery.api_resource_list("", parts[0]))
            elif prefix == "apis" and len(parts) == 2:
                resp = JSONResponse(discovery.api_resource_list(parts[0], parts[1]))
            else:
                resp = await server.handle(request, prefix, path)
        except StatusError as e:
            resp = status_response(e, request)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer, nothing went wrong here
            server.metrics.client_disconnected(request)
            log.debug("client disconnected during %s %s", request.method, request.url.path)
            return Response(status_code=499)
        except faults.STORAGE_FAILURES as e:  # a locked or unreachable database: 503/504, not 500
            resp = status_response(faults.storage_status(e, verb=request.state.verb, resource=request.state.resource),
                                   request)
        except Exception as e:  # never a crash: a 500 Status naming the failure
            log.exception("internal error on %s %s", request.method, request.url.path)
            resp = status_response(errors.internal(str(e)), request)
        server.metrics.observe(request, resp.status_code, time.perf_counter() - start)
        return resp

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    # First in the route list: most requests are resource requests.
    app.router.routes.insert(0, Route("/apis/{path:path}", resource, methods=methods))
    app.router.routes.insert(0, Route("/api/{path:path}", resource, methods=methods))

    @app.get("/api", include_in_schema=False)
    async def api_root_route(request: Request) -> Response:
        return api_root(request)

    @app.get("/apis", include_in_schema=False)
    async def apis_root_route(request: Request) -> Response:
        return apis_root(request)

    # /version/ too: kube-apiserver serves it from a go-restful route, which ignores a trailing slash
    # (kr8s asks for /version/ first). /healthz/, /livez/, /readyz/ are not routes there: 404 below.
    @app.get("/version", include_in_schema=False)
    @app.get("/version/", include_in_schema=False)
    async def version() -> Response:
        return Response(orjson.dumps(discovery.version_info()), media_type=JSON)

    @app.get("/openapi/v3", include_in_schema=False)
    async def openapi_index() -> Response:
        return Response(openapi.index(), media_type=JSON)

    @app.get("/openapi/v3/{path:path}", include_in_schema=False)
    async def openapi_document(request: Request, path: str) -> Response:
        found = openapi.document(path)
        if found is None:  # kube-aggregator's handleGroupVersion: a bare 404 (so /openapi/v3/ too)
            return Response(status_code=404)
        body, digest = found
        headers = {"Etag": f'"{digest}"'}
        if request.query_params.get("hash") == digest:
            headers["Cache-Control"] = "public, immutable"
        return Response(body, media_type=JSON, headers=headers)

    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz() -> PlainTextResponse:
        if not server.ready:
            return PlainTextResponse("not ready", status_code=503)
        return PlainTextResponse("ok")

    app.add_api_route("/healthz", health, include_in_schema=False)
    app.add_api_route("/livez", health, include_in_schema=False)
    app.add_api_route("/readyz", readyz, include_in_schema=False)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, ctype = server.metrics.render()
        return Response(body, media_type=ctype)

    @app.api_route("/{path:path}", methods=methods, include_in_schema=False)
    async def not_found(request: Request) -> Response:
        return status_response(errors.path_not_found(), request)

    return app


__all__ = ["BY_KEY", "ApiServer", "create_app", "parse_bool"]
