"""core/v1 Event (pkg/registry/core/event)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from apimachinery.kinds.base import Column, Kind, Printer, ResourceType
from apimachinery.kinds.printing import D_NAME, as_int, as_text, dig, parse_time, since
from apimachinery.selectors import FieldReader, field_at

_component = field_at("source.component")
_reporting = field_at("reportingComponent")  # ReportingController's core/v1 JSON name


def _source(ev: Mapping[str, Any]) -> str:
    """Event ToSelectableFields' ``source``: source.component, else the reporting controller."""
    return _component(ev) or _reporting(ev)


# ToSelectableFields (pkg/registry/core/event/strategy.go)
_FIELDS: tuple[tuple[str, FieldReader], ...] = (
    *((f"involvedObject.{f}", field_at(f"involvedObject.{f}"))
      for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")),
    ("reason", field_at("reason")),
    ("reportingComponent", _reporting),
    ("source", _source),
    ("type", field_at("type")),
)

_D_EV_FIELD_PATH = (
    "If referring to a piece of an object instead of an entire object, this string should contain a valid "
    "JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object "
    'reference is to a container within a pod, this would take on a value like: "spec.containers{name}" '
    '(where "name" refers to the name of the container that triggered the event) or if no container name is '
    'specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have '
    "some well-defined way of referencing a part of an object."
)


_COLUMNS: tuple[Column, ...] = (
    ("Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0),
    ("Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0),
    (
        "Reason",
        "string",
        "",
        "This should be a short, machine understandable string that gives the reason for the transition "
        "into the object's current status.",
        0,
    ),
    ("Object", "string", "", "The object that this event is about.", 0),
    ("Subobject", "string", "", _D_EV_FIELD_PATH, 1),
    ("Source", "string", "", "The component reporting this event. Should be a short machine understandable string.", 1),
    ("Message", "string", "", "A human-readable description of the status of this operation.", 0),
    ("First Seen", "string", "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
    ("Count", "string", "", "The number of times this event has occurred.", 1),
    ("Name", "string", "name", D_NAME, 1),
)


def _event_cells(ev: dict[str, Any], now: datetime) -> list[Any]:
    first = since(ev.get("firstTimestamp"), now)
    if parse_time(ev.get("firstTimestamp")) is None:
        first = since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now)
    if parse_time(ev.get("lastTimestamp")) is None:
        last = first
    count = as_int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    kind = as_text(dig(ev, "involvedObject", "kind")).lower()
    name = as_text(dig(ev, "involvedObject", "name"))
    target = f"{kind}/{name}" if name else kind
    component = as_text(dig(ev, "source", "component")) or as_text(ev.get("reportingComponent"))
    host = as_text(dig(ev, "source", "host")) or as_text(ev.get("reportingInstance"))
    source = f"{component}, {host}" if host else component
    return [
        last,
        as_text(ev.get("type")),
        as_text(ev.get("reason")),
        target,
        as_text(dig(ev, "involvedObject", "fieldPath")),
        source,
        as_text(ev.get("message")).strip(),
        first,
        count,
        as_text(dig(ev, "metadata", "name")),
    ]


KIND = Kind(
    ResourceType("", "v1", "Event", "events", "event", True, ("ev",), (), (), _FIELDS, allow_create_on_update=True),
    schema="apimachinery.schemas.core.Event",
    zero=MappingProxyType({"involvedObject": {}, "source": {}, "firstTimestamp": None, "lastTimestamp": None,
                           "eventTime": None, "reportingComponent": "", "reportingInstance": ""}),
    printer=Printer(_COLUMNS, _event_cells),
)
