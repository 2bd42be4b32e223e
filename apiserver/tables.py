"""meta.k8s.io/v1 Table responses, cell for cell like kube-apiserver's printers.

Why: ``kubectl get`` asks the server for a Table and prints its cells as
they come; users compare that output with a real cluster's, so the columns
and every cell string follow pkg/printers/internalversion/printers.go
(``<none>``, ``<pending>``, ``80:30080/TCP``, ``10.0.0.1:80 + 1 more...``,
pod status reasons, Age via duration.HumanDuration). Each kind declares its
columns and row (its Printer, in apimachinery/kinds/<kind>.py); this module
assembles the Table and prints kinds without a Printer as kube's default
(NAME, CREATED AT).

Invariants:
- Like kube-apiserver, cells are always generated in wide form (priority-1
  columns included); kubectl hides those columns unless ``-o wide``.
- ``len(row["cells"]) == len(table["columnDefinitions"])`` for every row.
- Each row carries ``object`` per ``includeObject`` (PartialObjectMetadata by
  default), which ``kubectl get --sort-by`` and ``-w`` need.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from apimachinery.errors import bad_request
from apimachinery.kinds import KIND_BY_KEY
from apimachinery.kinds.base import Column, Printer
from apimachinery.kinds.printing import D_AGE, NAME, as_text, dig
from apimachinery.kinds.printing import human_duration as human_duration
from apimachinery.resources import ResourceType
from apimachinery.timestamps import format_time, parse_time

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

# kube-apiserver's default table (DefaultTableConvertor) for a kind without printers
_DEFAULT_COLUMNS: tuple[Column, ...] = (NAME, ("Created At", "date", "", D_AGE, 0))


def _default_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    t = parse_time(dig(obj, "metadata", "creationTimestamp"))
    created = format_time(t) if t else "0001-01-01T00:00:00Z"
    return [as_text(dig(obj, "metadata", "name")), created]


def _printer(rt: ResourceType) -> Printer | None:
    """The kind's declared Printer; None for kube's default columns (also for a type not served)."""
    kind = KIND_BY_KEY.get(rt.key)
    return kind.printer if kind else None


# --- the Table ------------------------------------------------------------------------------------


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """kube-apiserver's TableColumnDefinitions for a kind (all five fields, as Go emits them)."""
    printer = _printer(rt)
    cols = printer.columns if printer else _DEFAULT_COLUMNS
    return [
        {"name": n, "type": t, "format": f, "description": d, "priority": p} for n, t, f, d, p in cols
    ]


def _row_object(rt: ResourceType, obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        full = copy.deepcopy(obj)
        if "apiVersion" not in full or "kind" not in full:
            full = {"apiVersion": rt.api_version, "kind": rt.kind, **full}
        return full
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": copy.deepcopy(obj.get("metadata") or {}),
    }


def to_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of ``objects`` (all of kind ``rt``).

    ``include_object`` is the ``includeObject`` query value: ``Metadata``
    (default, also for ""), ``Object`` or ``None``; anything else is a 400
    like kube-apiserver's. ``list_meta`` becomes the Table's metadata (a
    list's resourceVersion/continue); when omitted for a single object (GET
    or a watch event) the object's resourceVersion is used.
    """
    if include_object == "":
        include_object = "Metadata"
    if include_object not in ("Metadata", "Object", "None"):
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    now = now or datetime.now(UTC)
    if list_meta is None:
        rv = dig(objects[0], "metadata", "resourceVersion") if len(objects) == 1 else None
        list_meta = {"resourceVersion": rv} if isinstance(rv, str) and rv else {}
    rows: list[dict[str, Any]] = []
    printer = _printer(rt)
    row_cells = printer.cells if printer else _default_cells
    row_conditions = printer.conditions if printer else None
    for obj in objects:
        cells = row_cells(obj, now)
        conditions = row_conditions(obj) if row_conditions else None
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        row_object = _row_object(rt, obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta),
        "columnDefinitions": column_definitions(rt),
        "rows": rows,
    }


def wants_table(accept_header: str) -> tuple[bool, str]:
    """(answer a Table?, Content-Type to answer with).

    Only when the FIRST Accept entry is JSON asking
    ``as=Table;v=v1;g=meta.k8s.io`` (in any parameter order): kubectl puts
    that first for human output and plain ``application/json`` first for
    ``-o yaml|json|name``; other clients send plain JSON.
    """
    first = (accept_header or "").split(",")[0]
    pieces = [p.strip() for p in first.split(";")]
    media = pieces[0].lower()
    params: dict[str, str] = {}
    for p in pieces[1:]:
        key, sep, value = p.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    if media in ("application/json", "application/*", "*/*") and (
        params.get("as"),
        params.get("v"),
        params.get("g"),
    ) == ("Table", "v1", "meta.k8s.io"):
        return True, TABLE_CONTENT_TYPE
    return False, "application/json"
