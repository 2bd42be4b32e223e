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
import time
from collections import OrderedDict
from typing import Any

from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("controllers.events")

EVENTS = BY_KEY["events"]
NORMAL = "Normal"
WARNING = "Warning"
_CACHE_SIZE = 4096


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """A core/v1 ObjectReference to ``obj`` (kind and apiVersion must be set on it)."""
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "kind": obj.get("kind", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "name": meta.get("name", ""),
    }
    for src, dst in (("namespace", "namespace"), ("uid", "uid"), ("resourceVersion", "resourceVersion")):
        if meta.get(src):
            ref[dst] = meta[src]
    return ref


class EventRecorder:
    """Writes Events on behalf of one component (a controller name)."""

    def __init__(self, client: Client, component: str, *, host: str | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host or socket.gethostname()
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record (or bump the count of) one Event about ``obj``; never raises."""
        ref = object_reference(obj)
        # Events about cluster-scoped objects live in "default", as client-go puts them.
        ns = ref.get("namespace") or "default"
        ckey = (ref["kind"], ns, ref["name"], str(ref.get("uid", "")), type_, reason, message)
        now = format_time()
        log.info("event %s %s %s/%s: %s", type_, reason, ref["kind"], ref["name"], message)
        try:
            seen = self._seen.get(ckey)
            if seen is not None:
                name, ev_ns, count = seen
                try:
                    await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now}, namespace=ev_ns)
                    self._remember(ckey, (name, ev_ns, count + 1))
                    return
                except errors.NotFound:
                    pass
            name = f"{ref['name']}.{time.time_ns():x}"
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": ref,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": self.component, "host": self.host},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "reportingComponent": self.component,
                "reportingInstance": self.host,
            }
            await self.client.create(EVENTS, body, namespace=ns)
            self._remember(ckey, (name, ns, 1))
        except (errors.ClientError, ValueError) as e:
            log.warning("could not record event %s on %s/%s: %s", reason, ref["kind"], ref["name"], e)

    def _remember(self, ckey: tuple[str, ...], value: tuple[str, str, int]) -> None:
        self._seen[ckey] = value
        self._seen.move_to_end(ckey)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
