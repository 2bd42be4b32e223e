"""The ``endpoints.kubernetes.io/last-change-trigger-time`` value (endpointslice/util TriggerTimeTracker).

Why state: the annotation says when the change that caused a write happened
(the earliest Pod Ready transition or Service creation not seen by the
previous sync), so the tracker remembers, per Service, the trigger times it
saw last. The first sync of a Service reports the Service's creation time.
As in Kubernetes, several changes of one object between two syncs collapse
into the latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apimachinery.pods import ready_condition
from apimachinery.timestamps import format_rfc3339_nano, parse_time


def pod_trigger_time(pod: Mapping[str, Any]) -> datetime | None:
    """getPodTriggerTime: the Ready condition's lastTransitionTime."""
    cond = ready_condition(pod)
    return parse_time(cond.get("lastTransitionTime")) if cond is not None else None


def service_trigger_time(service: Mapping[str, Any]) -> datetime | None:
    return parse_time((service.get("metadata") or {}).get("creationTimestamp"))


@dataclass
class _State:
    service_time: datetime | None = None
    pod_times: dict[str, datetime] = field(default_factory=dict)


class TriggerTimeTracker:
    """Per Service key, the trigger times seen at the previous sync."""

    def __init__(self) -> None:
        self._states: dict[str, _State] = {}

    def compute(self, key: str, service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> str | None:
        """The annotation value for this sync (None: leave it out), and remember what was seen."""
        known = key in self._states
        state = self._states.get(key) or _State()
        earliest: datetime | None = None
        pod_times: dict[str, datetime] = {}
        for pod in pods:
            t = pod_trigger_time(pod)
            if t is None:
                continue
            name = str((pod.get("metadata") or {}).get("name") or "")
            pod_times[name] = t
            last = state.pod_times.get(name)
            if last is None or t > last:
                earliest = t if earliest is None or t < earliest else earliest
        service_time = service_trigger_time(service)
        if service_time is not None and (state.service_time is None or service_time > state.service_time):
            earliest = service_time if earliest is None or service_time < earliest else earliest
        self._states[key] = _State(service_time, pod_times)
        if not known:
            return format_rfc3339_nano(service_time) if service_time is not None else None
        return format_rfc3339_nano(earliest) if earliest is not None else None

    def delete(self, key: str) -> None:
        self._states.pop(key, None)
