"""core/v1 Events, pure: the reference to the object, the Event body, and the fold of repeats.

Why one home: the API server (the scheduler's ``Scheduled``) and the controllers record Events through
different writers (registry vs. HTTP client), but what they write must be one shape, so ``kubectl
describe`` and ``kubectl get events`` list them alike. Repeats of one (object, type, reason, message,
component) fold into one Event whose ``count`` and ``lastTimestamp`` grow, as client-go's correlator
does; ``Seen`` remembers the Events written, bounded, so a retry loop does not flood the server.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Generic, TypeVar

NORMAL = "Normal"
WARNING = "Warning"
CACHE_SIZE = 4096

V = TypeVar("V")


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """The ObjectReference an Event's ``involvedObject`` holds (kind, namespace, name, uid, apiVersion, rv)."""
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {"kind": obj.get("kind", "")}
    for src in ("namespace", "name", "uid"):
        if meta.get(src):
            ref[src] = meta[src]
    ref["apiVersion"] = obj.get("apiVersion", "")
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref


def event_namespace(ref: dict[str, Any]) -> str:
    """Events about cluster-scoped objects live in ``default``, as client-go puts them."""
    return str(ref.get("namespace") or "default")


def event_name(ref: dict[str, Any]) -> str:
    """client-go's ``<object name>.<unique hex>``."""
    return f"{ref.get('name', '')}.{time.time_ns():x}"


def correlation_key(ref: dict[str, Any], *, type_: str, reason: str, message: str, component: str) -> tuple[str, ...]:
    """What makes two Events one (their count grows instead of a new object)."""
    return (str(ref.get("kind", "")), event_namespace(ref), str(ref.get("name", "")), str(ref.get("uid", "")),
            type_, reason, message, component)


def event_object(ref: dict[str, Any], *, type_: str, reason: str, message: str, component: str, host: str,
                 now: str, name: str, reporting_instance: str | None = None) -> dict[str, Any]:
    """A core/v1 Event as client-go's recorder writes it (count 1, first = last timestamp).

    ``reporting_instance`` defaults to ``<component>-<host>``.
    """
    if reporting_instance is None:
        reporting_instance = f"{component}-{host}" if host else component
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": event_namespace(ref)},
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": {"component": component, "host": host} if host else {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": reporting_instance,
    }


class Seen(Generic[V]):
    """The Events a recorder wrote, by correlation key, least recently used dropped past ``size``."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, ...], V] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> V | None:
        return self._items.get(key)

    def remember(self, key: tuple[str, ...], value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
