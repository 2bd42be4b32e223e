"""core/v1 Events the API server records itself.

Why: ``kubectl describe`` lists the Events whose ``involvedObject`` is the
object described. kube-apiserver's own writes record almost none; the one
kubelite does in the server is the scheduler's ``Scheduled`` event, because
here the pods/binding subresource is where a pod gets its node. Controllers
record theirs through controllers.runtime.events.

Repeats of one (object, type, reason, message) fold into one Event whose
``count`` and ``lastTimestamp`` grow, as client-go's correlator does; the
Event's shape and the fold are apimachinery.events', shared with the controllers.
Recording never raises: an Event is best effort and must not fail the write
it describes.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from apimachinery.errors import StatusError
from apimachinery.events import (
    NORMAL,
    WARNING,
    Seen,
    correlation_key,
    event_name,
    event_namespace,
    event_object,
    object_reference,
)
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from apiserver.registry import Registry

log = logging.getLogger("kubelite.apiserver.events")

EVENTS = BY_KEY["events"]
SCHEDULER = "default-scheduler"


class Recorder:
    """Writes Events through the registry, folding repeats into a count."""

    def __init__(self, registry: Registry, *, host: str | None = None) -> None:
        self.registry = registry
        self.host = host if host is not None else socket.gethostname()
        self._seen: Seen[tuple[str, str]] = Seen()

    async def record(self, obj: dict[str, Any], *, type_: str, reason: str, message: str, component: str) -> None:
        """Record (or bump the count of) one Event about ``obj``; never raises."""
        ref = object_reference(obj)
        ns = event_namespace(ref)
        key = correlation_key(ref, type_=type_, reason=reason, message=message, component=component)
        now = format_time()
        try:
            seen = self._seen.get(key)
            if seen is not None:
                name, ev_ns = seen
                current = self.registry.cache.get(EVENTS.key, ev_ns, name)
                if current is not None:
                    bumped = {**current.obj, "count": int(current.obj.get("count") or 1) + 1, "lastTimestamp": now}
                    await self.registry.update(EVENTS, ev_ns, name, bumped, manager=component)
                    self._seen.remember(key, seen)
                    return
            name = event_name(ref)
            body = event_object(ref, type_=type_, reason=reason, message=message, component=component,
                                host=self.host, now=now, name=name)
            await self.registry.create(EVENTS, ns, body, manager=component)
            self._seen.remember(key, (name, ns))
        except StatusError as e:
            log.warning("could not record event %s on %s %s: %s", reason, ref["kind"], ref.get("name"), e.message)

    async def scheduled(self, pod: dict[str, Any], node: str) -> None:
        """The scheduler's event for a bound pod: ``Successfully assigned <ns>/<name> to <node>``."""
        meta = pod.get("metadata") or {}
        await self.record(pod, type_=NORMAL, reason="Scheduled", component=SCHEDULER,
                          message=f"Successfully assigned {meta.get('namespace', '')}/{meta.get('name', '')} to {node}")


__all__ = ["NORMAL", "SCHEDULER", "WARNING", "Recorder", "event_object", "object_reference"]
