"""Informer: a watched, indexed local cache of one resource type (client-go's reflector + indexer).

Why: controllers reconcile from memory, not by asking the API server on every
event, and must stay correct across dropped watches and compaction.

Protocol: LIST (paged, ``limit=500``; the pages share the first page's
snapshot through the continue token), then WATCH from the list's
resourceVersion with bookmarks. A watch that ends cleanly (its
``timeoutSeconds`` ran out) is re-opened from the last resourceVersion seen;
a 410 Gone or a broken stream causes a relist, with exponential backoff
(0.8 s doubling to 30 s, as client-go's reflector). A relist replaces the
cache and emits the difference as add/update/delete events, so handlers see
a level-consistent history even across gaps.

Invariant: ``cache`` only ever holds objects as the server sent them; after
``has_synced()`` it reflects a consistent snapshot plus every later event.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("controllers.informer")

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]
Handler = Callable[..., Awaitable[None] | None]

PAGE_SIZE = 500
BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
# client-go's reflector asks for watches that end after 5..10 minutes, so a
# silently dead connection is noticed without a read timeout.
WATCH_TIMEOUT_MIN = 300


def object_key(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for cluster-scoped objects (MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    name = meta.get("name") or ""
    return f"{ns}/{name}" if ns else str(name)


def split_key(key: str) -> tuple[str, str]:
    """Inverse of ``object_key``: ``(namespace, name)``; namespace is "" when cluster-scoped."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)


def resource_version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _namespace_index(obj: Obj) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def _label_index(obj: Obj) -> list[str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return [f"{k}={v}" for k, v in labels.items()]


class Cache:
    """Objects by key, plus named secondary indexes (client-go's thread-safe store + indexer)."""

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self.add_index("namespace", _namespace_index)
        self.add_index("label", _label_index)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Register (or replace) an index; existing objects are indexed at once."""
        self._index_funcs[name] = fn
        idx: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in fn(obj):
                idx.setdefault(value, set()).add(key)
        self._indexes[name] = idx

    def get(self, namespace: str | None, name: str) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index("namespace", namespace)

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        if name not in self._indexes:
            raise KeyError(f"index {name!r} does not exist")
        return [self._items[k] for k in sorted(self._indexes[name].get(value, ()))]

    def index_values(self, name: str) -> builtins.list[str]:
        return [v for v, keys in self._indexes[name].items() if keys]

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._index_funcs.items():
            idx = self._indexes[name]
            for value in fn(obj):
                keys = idx.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del idx[value]

    def put(self, obj: Obj) -> Obj | None:
        """Insert or replace; returns the previous object."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, fn in self._index_funcs.items():
            for value in fn(obj):
                self._indexes[name].setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old


@dataclass(eq=False)
class Registration:
    """One ``add_handler`` call: its callbacks, and the objects it has still to be shown as adds.

    Why a lock: a handler added to a running informer first gets the cache as
    it was at that moment, replayed as adds (client-go's AddEventHandler),
    and only then later events; the replay and the informer's own dispatch
    both deliver under this lock, so the handler never sees an update or a
    delete for an object before its add.
    """

    on_add: Handler | None
    on_update: Handler | None
    on_delete: Handler | None
    pending: list[Obj]
    lock: asyncio.Lock
    replayed: asyncio.Event


class Informer:
    """LIST+WATCH one resource type into ``cache`` and call handlers on every change."""

    def __init__(
        self,
        client: Client,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = PAGE_SIZE,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.client = client
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.cache = Cache()
        self.last_resource_version = ""
        self.relists = 0
        self._handlers: list[Registration] = []
        self._replays: set[asyncio.Task[None]] = set()
        self._synced = asyncio.Event()

    def __repr__(self) -> str:
        return f"Informer({self.rt.key})"

    def add_handler(
        self,
        on_add: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
    ) -> Registration:
        """``on_add(obj)``, ``on_update(old, new)``, ``on_delete(obj)``; plain or async callables.

        Several handlers may be added, at any time (informers are shared by
        the controllers of a process, ``informers.InformerFactory``). A handler
        added before ``run()`` sees the initial list as adds; one added later
        first gets every object already cached replayed as adds, then the
        events that follow. ``remove_handler`` undoes it.
        """
        reg = Registration(on_add, on_update, on_delete, pending=self.cache.list(), lock=asyncio.Lock(),
                           replayed=asyncio.Event())
        self._handlers.append(reg)
        if not reg.pending:
            reg.replayed.set()
            return reg
        try:
            task = asyncio.get_running_loop().create_task(self._flush(reg), name=f"{self!r}:replay")
        except RuntimeError:
            return reg  # no loop yet: the first dispatch (or wait_handler_synced) replays
        self._replays.add(task)
        task.add_done_callback(self._replays.discard)
        return reg

    def remove_handler(self, reg: Registration) -> None:
        """Stop calling ``reg``'s callbacks (a controller whose run ended); unknown registrations are ignored."""
        with contextlib.suppress(ValueError):
            self._handlers.remove(reg)
        reg.pending = []
        reg.replayed.set()

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def wait_handler_synced(self, reg: Registration) -> None:
        """The informer synced and ``reg`` was shown every object cached when it was added (client-go's
        ``ResourceEventHandlerRegistration.HasSynced``)."""
        await self._synced.wait()
        await self._flush(reg)
        await reg.replayed.wait()

    # ---- dispatch -------------------------------------------------------

    async def _call(self, fn: Handler | None, *args: Obj) -> None:
        if fn is None:
            return
        try:
            res = fn(*args)
            if inspect.isawaitable(res):
                await res
        except Exception:
            log.exception("%s: event handler failed", self)

    async def _flush(self, reg: Registration) -> None:
        """Deliver ``reg``'s pending replay (if any) under its lock; the caller must not hold the lock."""
        if not reg.pending:
            return
        async with reg.lock:
            await self._replay(reg)

    async def _replay(self, reg: Registration) -> None:
        pending, reg.pending = reg.pending, []
        for obj in pending:
            await self._call(reg.on_add, obj)
        reg.replayed.set()

    async def _dispatch(self, fn: Callable[[Registration], Handler | None], *args: Obj) -> None:
        """Call ``fn(reg)(*args)`` for every handler registered now; a late handler's replay goes first."""
        for reg in list(self._handlers):
            cb = fn(reg)
            if cb is None and not reg.pending:
                continue
            async with reg.lock:
                if reg.pending:
                    await self._replay(reg)
                await self._call(cb, *args)

    async def _added(self, obj: Obj) -> None:
        old = self.cache.put(obj)
        if old is None:
            await self._dispatch(lambda r: r.on_add, obj)
        else:
            await self._dispatch(lambda r: r.on_update, old, obj)

    async def _modified(self, obj: Obj) -> None:
        await self._added(obj)

    async def _deleted(self, obj: Obj) -> None:
        old = self.cache.remove(object_key(obj))
        await self._dispatch(lambda r: r.on_delete, obj if obj.get("metadata") else (old or obj))

    # ---- list / watch ---------------------------------------------------

    def _typed(self, obj: Obj) -> Obj:
        """List items come without kind/apiVersion; Events and logs need them."""
        if "kind" not in obj:
            obj["kind"] = self.rt.kind
        if "apiVersion" not in obj:
            obj["apiVersion"] = self.rt.api_version
        return obj

    async def _list_all(self) -> tuple[list[Obj], str]:
        """Every object in one consistent snapshot, and the snapshot's resourceVersion."""
        while True:
            items: list[Obj] = []
            cont: str | None = None
            rv = ""
            try:
                while True:
                    page = await self.client.list(
                        self.rt,
                        namespace=self.namespace,
                        label_selector=self.label_selector,
                        field_selector=self.field_selector,
                        limit=self.page_size,
                        continue_=cont,
                    )
                    for item in page.get("items") or []:
                        items.append(self._typed(item))
                    meta = page.get("metadata") or {}
                    rv = str(meta.get("resourceVersion") or rv)
                    cont = meta.get("continue") or None
                    if not cont:
                        return items, rv
            except errors.Gone:
                if cont is None:
                    raise
                log.info("%s: continue token expired during list, restarting list", self)

    async def _replace(self, items: Iterable[Obj], rv: str) -> None:
        """Swap in a fresh snapshot and emit the difference to handlers."""
        fresh = {object_key(o): o for o in items}
        for key in list(self.cache.keys()):
            if key not in fresh:
                old = self.cache.get_by_key(key)
                if old is not None:
                    await self._deleted(old)
        for key, obj in fresh.items():
            old = self.cache.get_by_key(key)
            if old is None:
                await self._added(obj)
            elif resource_version(old) != resource_version(obj) or old != obj:
                await self._modified(obj)
        self.last_resource_version = rv

    async def _watch(self) -> None:
        """Follow the watch stream from ``last_resource_version`` until it fails."""
        loop = asyncio.get_running_loop()
        while True:
            timeout = random.randint(WATCH_TIMEOUT_MIN, 2 * WATCH_TIMEOUT_MIN)
            started = loop.time()
            async for etype, obj in self.client.watch(
                self.rt,
                namespace=self.namespace,
                resource_version=self.last_resource_version,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                timeout_seconds=timeout,
                allow_bookmarks=True,
            ):
                if etype != "BOOKMARK":
                    self._typed(obj)
                if etype == "ADDED":
                    await self._added(obj)
                elif etype == "MODIFIED":
                    await self._modified(obj)
                elif etype == "DELETED":
                    await self._deleted(obj)
                elif etype != "BOOKMARK":
                    log.warning("%s: unknown watch event type %r", self, etype)
                    continue
                rv = resource_version(obj)
                if rv:
                    self.last_resource_version = rv
            if loop.time() - started < 1.0:
                # a server that ends watches at once must not make us spin
                await asyncio.sleep(self.backoff_initial)

    async def run(self) -> None:
        """List, then watch; relist with backoff on 410 or a broken stream. Runs until cancelled."""
        delay = self.backoff_initial
        while True:
            try:
                items, rv = await self._list_all()
                self.relists += 1
                await self._replace(items, rv)
                if not self._synced.is_set():
                    log.info("%s: synced %d objects at resourceVersion %s", self, len(self.cache), rv)
                    self._synced.set()
                else:
                    log.info("%s: relisted %d objects at resourceVersion %s", self, len(self.cache), rv)
                delay = self.backoff_initial
                await self._watch()
            except errors.Gone as e:
                log.info("%s: watch expired (%s), relisting", self, e.message)
                await asyncio.sleep(random.uniform(0, min(delay, 1.0)))
                continue
            except (errors.ConnectionFailed, errors.ApiError) as e:
                log.warning("%s: list/watch failed: %s; retrying in %.1fs", self, e, delay)
            await asyncio.sleep(delay * random.uniform(1.0, 1.5))
            delay = min(delay * 2, self.backoff_max)
