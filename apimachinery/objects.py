"""Read JSON objects as decoded from the API: typed views that never raise on a missing or ill-typed field.

Why: every reader of stored objects (controllers, node agent, proxy, kctl) walks ``metadata``/``spec``/
``status`` of dicts it did not validate itself; a field of the wrong type must read as absent, not crash
a reconcile loop. One home for that rule, so every package reads a malformed object the same way.

Invariant: the returned dict/list is the object's own (no copy) when the type is right, so a caller that
means to write must copy first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_map(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """``value`` when it is a JSON string, else ``""``."""
    return value if isinstance(value, str) else ""


def int_or(value: Any, default: int = 0) -> int:
    """``value`` when Go would decode it as an int (bools are not), else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def meta_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object's ``metadata`` (empty when absent or not an object)."""
    return as_map(obj.get("metadata"))


def name_of(obj: Mapping[str, Any]) -> str:
    """``metadata.name`` (``""`` when absent or not a string)."""
    return as_str(meta_of(obj).get("name"))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.labels`` as strings (a value that is not a string reads as ``""``)."""
    return {str(k): as_str(v) for k, v in as_map(meta_of(obj).get("labels")).items()}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.annotations`` as strings (a value that is not a string reads as ``""``)."""
    return {str(k): as_str(v) for k, v in as_map(meta_of(obj).get("annotations")).items()}
