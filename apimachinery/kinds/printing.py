"""Helpers of kube-apiserver's printers (pkg/printers/internalversion) shared by the kinds' Table printers.

Why: each kind declares its Table columns and row in its own module (apimachinery.kinds.<kind>); the
formatting they share (ages as kubectl shows them, label selectors, "+ N more..." lists) is written once
here. Pure functions of decoded JSON objects: a field of the wrong type reads as absent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from apimachinery.kinds.base import Column
from apimachinery.objects import as_list, as_str, int_or
from apimachinery.selectors import from_label_selector_object
from apimachinery.timestamps import parse_time as parse_time  # re-exported for the kinds' printers

D_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)

D_AGE = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

D_CONTAINERS = "Names of each container in the template."

D_IMAGES = "Images referenced by each container in the template."

NAME: Column = ("Name", "string", "name", D_NAME, 0)

AGE: Column = ("Age", "string", "", D_AGE, 0)

def human_duration(seconds: float) -> str:
    """duration.HumanDuration: ~2-3 significant figures (``45s``, ``5m3s``, ``3h``, ``3d``, ``2y10d``)."""
    secs = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """translateTimestampSince: ``<unknown>`` for a missing time."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def dig(obj: Any, *path: str) -> Any:
    """obj[path0][path1]...; None when any step is missing or not a mapping (kctl's describers read with it too)."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


# the printers' names for apimachinery.objects' readers (a field of the wrong type reads as absent)
as_text = as_str
as_items = as_list
as_int = int_or


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: ``a=1,b=2`` sorted by key, ``<none>`` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: brackets around IPv6 literals."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]:{port}"
    except ValueError:
        if ":" in host:
            return f"[{host}]:{port}"
    return f"{host}:{port}"


def list_with_more(items: list[str], more: bool, *, count: int, limit: int) -> str:
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret or "<unset>"


def container_cells(template: Any) -> list[str]:
    """layoutContainerCells: container names and images, comma-joined."""
    containers = as_items(dig(template, "spec", "containers"))
    return [",".join(as_text(dig(c, "name")) for c in containers), ",".join(as_text(dig(c, "image")) for c in containers)]


def selector_string(selector: Any, *, empty: str) -> str | None:
    """metav1.LabelSelectorAsSelector(...).String(); None when it does not parse."""
    try:
        text = str(from_label_selector_object(selector if isinstance(selector, dict) else None))
    except Exception:
        return None
    return text or empty


def name_age(extra: Callable[[dict[str, Any]], list[Any]]) -> Callable[[dict[str, Any], datetime], list[Any]]:
    """Cells ``[name, *extra(obj), age]`` for the many kinds printed that way."""

    def cells(obj: dict[str, Any], now: datetime) -> list[Any]:
        return [as_text(dig(obj, "metadata", "name")), *extra(obj), since(dig(obj, "metadata", "creationTimestamp"), now)]

    return cells


