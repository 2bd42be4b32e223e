"""The in-memory watch cache: every object of every resource, plus recent history.

It is the store's change sink (storage/records.ChangeSink): the store
publishes committed changes to it and never imports this module.

Why: LIST, GET and WATCH are served from memory (the database is only
written), and the history window lets a watcher resume from any recent
resourceVersion. Invariants:
- ``apply`` is called with changes in strictly increasing revision order,
  on the event loop, and updates state, history and every watcher in one
  synchronous step, so a watcher registered between two applies sees every
  later change exactly once.
- For each resource, every change with revision > ``oldest`` is in
  ``history``; a watch from an older revision gets 410 Expired.
- A watcher whose queue is full is dropped; writers never wait for readers.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from apimachinery.selectors import FieldMatcher, LabelSelector
from apiserver.storage.records import Change, ChangeRow

Key = tuple[str, str]


class Entry:
    """A cached object and its JSON encoding (computed once, lazily)."""

    __slots__ = ("_body", "obj", "revision")

    def __init__(self, obj: dict[str, Any], revision: int, body: bytes | None = None) -> None:
        self.obj = obj
        self.revision = revision
        self._body = body

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = orjson.dumps(self.obj)
        return self._body


class Event:
    """One change as watchers see it; the JSON line is encoded once per type."""

    __slots__ = ("_lines", "body", "name", "namespace", "obj", "prev", "revision", "type")

    def __init__(
        self, revision: int, type_: str, namespace: str, name: str, obj: dict[str, Any],
        prev: dict[str, Any] | None, body: bytes,
    ) -> None:
        self.revision = revision
        self.type = type_
        self.namespace = namespace
        self.name = name
        self.obj = obj
        self.prev = prev
        self.body = body
        self._lines: dict[str, bytes] = {}

    def line(self, type_: str) -> bytes:
        line = self._lines.get(type_)
        if line is None:
            line = b'{"type":"' + type_.encode() + b'","object":' + self.body + b"}\n"
            self._lines[type_] = line
        return line


@dataclass(slots=True)
class Filter:
    namespace: str | None
    labels: LabelSelector | None
    # the field selector bound to the kind's readers (apimachinery.selectors.field_matcher)
    fields: FieldMatcher | None

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        if self.labels is not None and not self.labels.matches(meta.get("labels") or {}):
            return False
        return self.fields is None or self.fields.matches(obj)


# What a watcher's queue carries: (type, event) or ("BOOKMARK", revision) or ("CLOSE", reason)
Item = tuple[str, Any]


class Watcher:
    __slots__ = ("closed", "filter", "queue", "since")

    def __init__(self, filt: Filter, *, since: int, max_queue: int) -> None:
        self.filter = filt
        self.since = since
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=max_queue)
        self.closed = False

    def classify(self, ev: Event) -> str | None:
        """The event type this watcher sees for ``ev`` (selector transitions), or None."""
        f = self.filter
        if ev.type == "MODIFIED":
            new = f.matches(ev.obj)
            old = f.matches(ev.prev) if ev.prev is not None else new
            if new and old:
                return "MODIFIED"
            if new:
                return "ADDED"
            if old:
                return "DELETED"
            return None
        return ev.type if f.matches(ev.obj) else None

    def offer(self, ev: Event) -> bool:
        """Queue ``ev`` as this watcher sees it; False when the watcher must be dropped."""
        if ev.revision <= self.since:
            return True
        t = self.classify(ev)
        return True if t is None else self.put((t, ev))

    def put(self, item: Item) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close("slow consumer")
            return False
        return True

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        # Make room so the reader wakes up and sees the close marker.
        while True:
            try:
                self.queue.put_nowait(("CLOSE", reason))
                return
            except asyncio.QueueFull:
                try:
                    self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    pass


class ResourceCache:
    def __init__(self, history_size: int, oldest: int) -> None:
        self.items: dict[Key, Entry] = {}
        self.history: deque[Event] = deque()
        self.history_size = history_size
        self.oldest = oldest
        self.watchers: set[Watcher] = set()
        self._sorted: list[Key] | None = None
        self._sorted_ns: dict[str, list[Key]] = {}
        # namespace -> keys, for namespaced lists without a scan of everything
        self.by_namespace: dict[str, set[Key]] = {}

    def sorted_keys(self, namespace: str | None = None) -> list[Key]:
        """All keys, or one namespace's, in (namespace, name) order; kept until the key set changes."""
        if namespace is None:
            if self._sorted is None:
                self._sorted = sorted(self.items)
            return self._sorted
        keys = self._sorted_ns.get(namespace)
        if keys is None:
            keys = self._sorted_ns[namespace] = sorted(self.by_namespace.get(namespace, ()))
        return keys

    def put(self, key: Key, entry: Entry) -> dict[str, Any] | None:
        prev = self.items.get(key)
        self.items[key] = entry
        if prev is None:
            self._sorted = None
            self._sorted_ns.pop(key[0], None)
            self.by_namespace.setdefault(key[0], set()).add(key)
            return None
        return prev.obj

    def remove(self, key: Key) -> dict[str, Any] | None:
        prev = self.items.pop(key, None)
        if prev is not None:
            self._sorted = None
            self._sorted_ns.pop(key[0], None)
            ks = self.by_namespace.get(key[0])
            if ks is not None:
                ks.discard(key)
                if not ks:
                    del self.by_namespace[key[0]]
            return prev.obj
        return None

    def record(self, ev: Event) -> None:
        self.history.append(ev)
        while len(self.history) > self.history_size:
            self.oldest = self.history.popleft().revision
        dropped: list[Watcher] = []
        for w in self.watchers:
            if not w.offer(ev):
                dropped.append(w)
        for w in dropped:
            self.watchers.discard(w)


class WatchCache:
    """All resources' current state at ``revision`` and their recent history."""

    def __init__(self, *, history_size: int = 10000, max_queue: int = 2048) -> None:
        self.revision = 0
        self.floor = 0  # every change after this revision is in some resource's history (or trimmed there)
        self.history_size = history_size
        self.max_queue = max_queue
        self.resources: dict[str, ResourceCache] = {}
        self._advanced = asyncio.Event()
        self.listeners: list[Callable[[list[Change]], None]] = []

    def resource(self, key: str) -> ResourceCache:
        rc = self.resources.get(key)
        if rc is None:
            rc = self.resources[key] = ResourceCache(self.history_size, self.floor)
        return rc

    # -- loading and applying --------------------------------------------
    def load(self, revision: int, objects: Iterable[tuple[str, str, str, bytes]]) -> None:
        self.revision = revision
        for resource, ns, name, body in objects:
            obj = orjson.loads(body)
            rv = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
            self.resource(resource).put((ns, name), Entry(obj, rv, body))
        self.floor = revision
        for rc in self.resources.values():
            rc.oldest = revision

    def load_history(self, compacted: int, changes: Iterable[ChangeRow]) -> None:
        """Rebuild the history window from the stored change log at start.

        A MODIFIED change whose previous body fell out of the log has no
        ``prev``; watchers then treat it as matching before iff it matches now.
        """
        last: dict[tuple[str, str, str], dict[str, Any]] = {}
        # The log holds every change after ``compacted``: history is complete from there.
        self.floor = compacted
        for rc in self.resources.values():
            rc.oldest = compacted
        for rev, typ, resource, ns, name, body in changes:
            obj = orjson.loads(body)
            rc = self.resource(resource)
            prev = last.get((resource, ns, name))
            last[(resource, ns, name)] = obj
            rc.history.append(Event(rev, typ, ns, name, obj, prev, body))
            while len(rc.history) > rc.history_size:
                rc.oldest = rc.history.popleft().revision

    def apply(self, changes: Iterable[Change]) -> None:
        applied: list[Change] = []
        for ch in changes:
            if ch.revision <= self.revision:
                continue  # already seen (PostgreSQL: our own commit came back through the poll)
            rc = self.resource(ch.resource)
            key = (ch.namespace, ch.name)
            body = ch.body or orjson.dumps(ch.obj)
            if ch.type == "DELETED":
                prev = rc.remove(key)
            else:
                prev = rc.put(key, Entry(ch.obj, ch.revision, body))
            rc.record(Event(ch.revision, ch.type, ch.namespace, ch.name, ch.obj, prev, body))
            self.revision = ch.revision
            applied.append(ch)
        if applied:
            self._advanced.set()
            self._advanced = asyncio.Event()
            for fn in self.listeners:
                fn(applied)

    async def wait_for(self, revision: int, *, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.revision < revision:
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):  # not wait_for: it can swallow a cancel (3.11)
                    await self._advanced.wait()
            except TimeoutError:
                return False
        return True

    # -- reads -----------------------------------------------------------
    def get(self, resource: str, namespace: str, name: str) -> Entry | None:
        rc = self.resources.get(resource)
        return None if rc is None else rc.items.get((namespace, name))

    def select(
        self, resource: str, filt: Filter, *, start_after: Key | None = None, limit: int = 0
    ) -> tuple[list[Entry], Key | None]:
        """Matching entries in (namespace, name) order; the last key if more remain."""
        rc = self.resources.get(resource)
        if rc is None:
            return [], None
        keys = rc.sorted_keys(filt.namespace)
        if start_after is not None:
            keys = keys[bisect.bisect_right(keys, start_after):]
        out: list[Entry] = []
        plain = filt.labels is None and filt.fields is None
        items = rc.items
        last: Key | None = None
        for k in keys:
            e = items[k]
            if plain or filt.matches(e.obj):
                if limit and len(out) == limit:
                    return out, last
                out.append(e)
                last = k
        return out, None

    def watch(self, resource: str, filt: Filter, *, since: int | None) -> tuple[Watcher, list[Item]] | None:
        """Register a watcher; return it and the events it must get first.

        since=None: synthetic ADDED for the current state. since=N: every
        change after N from history; None when N is older than history.
        Registration and the initial events are one synchronous step.
        """
        rc = self.resource(resource)
        initial: list[Item] = []
        if since is None:
            for k in rc.sorted_keys():
                e = rc.items[k]
                if filt.matches(e.obj):
                    initial.append(("ADDED", Event(e.revision, "ADDED", k[0], k[1], e.obj, None, e.body)))
            w = Watcher(filt, since=self.revision, max_queue=self.max_queue)
        else:
            if since < rc.oldest:
                return None
            w = Watcher(filt, since=max(since, self.revision), max_queue=self.max_queue)
            for ev in rc.history:
                if ev.revision > since:
                    t = w.classify(ev)
                    if t is not None:
                        initial.append((t, ev))
        rc.watchers.add(w)
        return w, initial

    def unwatch(self, resource: str, w: Watcher) -> None:
        rc = self.resources.get(resource)
        if rc is not None:
            rc.watchers.discard(w)
        w.closed = True

    def watcher_count(self) -> int:
        return sum(len(rc.watchers) for rc in self.resources.values())
