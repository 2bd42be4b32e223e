"""Expectations about our own writes (endpointslice's EndpointSliceTracker, staleEndpointsTracker).

Why: a reconcile computes the change from the informer cache. Right after
this controller wrote an object, the cache may not show that write yet; a
reconcile run then would work from the old object: a 409 on update at best,
a duplicate slice (creates use generateName) at worst. So every write
records the resourceVersion the API answered with; a Service whose cache
lags behind its own writes is retried a moment later instead.

The same records tell event handlers which events are the echo of our own
writes, so those do not cause another (no-op) reconcile.

resourceVersions are compared as integers: kubelite's are the global
revision (as etcd's); a non-numeric one never counts as stale. An
expectation not met within ``ttl`` seconds (the object was changed or
deleted by someone else before we saw our write) is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Lookup = Callable[[str, str, str], Mapping[str, Any] | None]
DELETED = -1


def _rv(obj: Mapping[str, Any] | None) -> int | None:
    value = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    if not isinstance(value, str | int):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class _Expectation:
    rv: int  # DELETED: we deleted it
    since: float


class WriteTracker:
    """Per owner key (the Service), the objects (resource, namespace, name) we wrote and their versions."""

    def __init__(self, *, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._by_owner: dict[str, dict[tuple[str, str, str], _Expectation]] = {}
        self._owner_of: dict[tuple[str, str, str], str] = {}

    def wrote(self, owner: str, resource: str, obj: Mapping[str, Any]) -> None:
        """Record a create or update answered with ``obj``."""
        meta = obj.get("metadata") or {}
        rv = _rv(obj)
        if rv is None:
            return
        self._expect(owner, (resource, str(meta.get("namespace") or ""), str(meta.get("name") or "")), rv)

    def deleted(self, owner: str, resource: str, namespace: str, name: str) -> None:
        self._expect(owner, (resource, namespace, name), DELETED)

    def _expect(self, owner: str, ref: tuple[str, str, str], rv: int) -> None:
        self._by_owner.setdefault(owner, {})[ref] = _Expectation(rv, self.clock())
        self._owner_of[ref] = owner

    def _forget(self, ref: tuple[str, str, str]) -> None:
        owner = self._owner_of.pop(ref, None)
        if owner is None:
            return
        refs = self._by_owner.get(owner)
        if refs is not None:
            refs.pop(ref, None)
            if not refs:
                del self._by_owner[owner]

    def observed(self, resource: str, obj: Mapping[str, Any], *, deleted: bool = False) -> bool:
        """An informer event: True when it is the echo of our own write (and the expectation is met)."""
        meta = obj.get("metadata") or {}
        ref = (resource, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        owner = self._owner_of.get(ref)
        if owner is None:
            return False
        exp = self._by_owner.get(owner, {}).get(ref)
        if exp is None:
            return False
        if deleted:
            self._forget(ref)
            return exp.rv == DELETED
        rv = _rv(obj)
        if exp.rv == DELETED or rv is None:
            return False
        if rv >= exp.rv:
            self._forget(ref)
            return rv == exp.rv
        return False

    def stale(self, owner: str, lookup: Lookup) -> bool:
        """Whether the cache (``lookup(resource, namespace, name)``) has not yet seen all our writes for ``owner``."""
        refs = self._by_owner.get(owner)
        if not refs:
            return False
        now = self.clock()
        lagging = False
        for ref, exp in list(refs.items()):
            cached = lookup(*ref)
            if exp.rv == DELETED:
                met = cached is None
            else:
                rv = _rv(cached)
                met = cached is not None and (rv is None or rv >= exp.rv)
            if met or now - exp.since > self.ttl:
                self._forget(ref)
            else:
                lagging = True
        return lagging

    def forget_owner(self, owner: str) -> None:
        for ref in list(self._by_owner.get(owner, {})):
            self._forget(ref)

    def __len__(self) -> int:
        return len(self._owner_of)
