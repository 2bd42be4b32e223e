"""core/v1 Events the API server records itself.

Why: ``kubectl describe`` lists the Events whose ``involvedObject`` is the
object described. kube-apiserver's own writes record almost none; the one
kubelite does in the server is the scheduler's ``Scheduled`` event, because
here the pods/binding subresource is where a pod gets its node. Controllers
record theirs through controllers.runtime.events.

Repeats of one (object, type, reason, message) fold into one Event whose
``count`` and ``lastTimestamp`` grow, as client-go's correlator does.
Recording never raises: an Event is best effort and must not fail the write
it describes.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import OrderedDict
from typing import Any

from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY
from apiserver.apply import now_rfc3339
from apiserver.registry import Registry

log = logging.getLogger("kubelite.apiserver.events")

EVENTS = BY_KEY["events"]
NORMAL = "Normal"
WARNING = "Warning"
SCHEDULER = "default-scheduler"
_CACHE_SIZE = 4096


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


def event_object(ref: dict[str, Any], *, type_: str, reason: str, message: str, component: str, host: str,
                 now: str, name: str) -> dict[str, Any]:
    """A core/v1 Event as client-go's recorder writes it (count 1, first = last timestamp)."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ref.get("namespace") or "default"},
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": {"component": component, "host": host} if host else {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": f"{component}-{host}" if host else component,
    }


class Recorder:
    """Writes Events through the registry, folding repeats into a count."""

    def __init__(self, registry: Registry, *, host: str | None = None) -> None:
        self.registry = registry
        self.host = host if host is not None else socket.gethostname()
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str]] = OrderedDict()

    async def record(self, obj: dict[str, Any], *, type_: str, reason: str, message: str, component: str) -> None:
        """Record (or bump the count of) one Event about ``obj``; never raises."""
        ref = object_reference(obj)
        ns = ref.get("namespace") or "default"
        key = (ref["kind"], ns, str(ref.get("name", "")), str(ref.get("uid", "")), type_, reason, message, component)
        now = now_rfc3339()
        try:
            seen = self._seen.get(key)
            if seen is not None:
                name, ev_ns = seen
                current = self.registry.cache.get(EVENTS.key, ev_ns, name)
                if current is not None:
                    bumped = {**current.obj, "count": int(current.obj.get("count") or 1) + 1, "lastTimestamp": now}
                    await self.registry.update(EVENTS, ev_ns, name, bumped, manager=component)
                    self._remember(key, seen)
                    return
            name = f"{ref.get('name', '')}.{time.time_ns():x}"
            body = event_object(ref, type_=type_, reason=reason, message=message, component=component,
                                host=self.host, now=now, name=name)
            await self.registry.create(EVENTS, ns, body, manager=component)
            self._remember(key, (name, ns))
        except StatusError as e:
            log.warning("could not record event %s on %s %s: %s", reason, ref["kind"], ref.get("name"), e.message)

    async def scheduled(self, pod: dict[str, Any], node: str) -> None:
        """The scheduler's event for a bound pod: ``Successfully assigned <ns>/<name> to <node>``."""
        meta = pod.get("metadata") or {}
        await self.record(pod, type_=NORMAL, reason="Scheduled", component=SCHEDULER,
                          message=f"Successfully assigned {meta.get('namespace', '')}/{meta.get('name', '')} to {node}")

    def _remember(self, key: tuple[str, ...], value: tuple[str, str]) -> None:
        self._seen[key] = value
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
