"""Recording core/v1 Events about objects (client-go's EventRecorder, simplified).

Why: a controller's failures must be visible where users look
(``kubectl describe``, ``kubectl get events``), not only in its log.

Repeats of the same (object, type, reason, message) are folded into one Event
whose ``count`` and ``lastTimestamp`` grow, as client-go's correlator does,
so a retry loop does not flood the API server with new objects. Recording
never raises: an Event is best effort and must not fail a reconcile.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

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
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("controllers.events")

EVENTS = BY_KEY["events"]


class EventRecorder:
    """Writes Events on behalf of one component (a controller name)."""

    def __init__(self, client: Client, component: str, *, host: str | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host or socket.gethostname()
        self._seen: Seen[tuple[str, str, int]] = Seen()

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record (or bump the count of) one Event about ``obj``; never raises."""
        ref = object_reference(obj)
        ns = event_namespace(ref)
        ckey = correlation_key(ref, type_=type_, reason=reason, message=message, component=self.component)
        now = format_time()
        log.info("event %s %s %s/%s: %s", type_, reason, ref["kind"], ref.get("name", ""), message)
        try:
            seen = self._seen.get(ckey)
            if seen is not None:
                name, ev_ns, count = seen
                try:
                    await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now}, namespace=ev_ns)
                    self._seen.remember(ckey, (name, ev_ns, count + 1))
                    return
                except errors.NotFound:
                    pass
            name = event_name(ref)
            body = event_object(ref, type_=type_, reason=reason, message=message, component=self.component,
                                host=self.host, now=now, name=name, reporting_instance=self.host)
            await self.client.create(EVENTS, body, namespace=ns)
            self._seen.remember(ckey, (name, ns, 1))
        except (errors.ClientError, ValueError) as e:
            log.warning("could not record event %s on %s/%s: %s", reason, ref["kind"], ref.get("name", ""), e)


__all__ = ["NORMAL", "WARNING", "EventRecorder", "object_reference"]
