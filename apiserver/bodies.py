"""Decoding request bodies without letting a hostile one cost unbounded memory or time.

Why: a 3 MiB body is cheap to send, but a YAML alias bomb expands to
billions of nodes when it is serialised, and a deeply nested document blows
Python's recursion limit in every later tree walk (validation, copy, merge
patch), turning into a 500 after seconds of CPU. Both are refused with 400
before anything walks the document, as kube-apiserver refuses them
("yaml: document contains excessive aliasing", "exceeded max depth").

Invariants: every document this module returns is plain JSON data (dicts
with str keys, lists, str, int, float, bool, None) nested at most
``MAX_DEPTH`` deep; YAML is checked from its event stream (iteratively, no
recursion) before it is constructed.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from typing import Any

import orjson
import yaml

from apimachinery import errors
from apimachinery.errors import StatusError

MAX_DEPTH = 100
# Nodes that aliases may add to a YAML document (go-yaml refuses "excessive aliasing" similarly).
MAX_ALIAS_NODES = 10_000
_PYYAML_TOO_DEEP = "exceeded maximum nesting depth"
_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _too_deep() -> StatusError:
    return errors.bad_request(f"error decoding request body: exceeded max depth of {MAX_DEPTH}")


def check_depth(obj: Any, limit: int = MAX_DEPTH) -> None:
    """Raise 400 when ``obj`` nests dicts/lists more than ``limit`` deep (iterative walk)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise _too_deep()
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def load_json(raw: bytes) -> Any:
    """JSON body -> data; 400 on syntax errors or nesting deeper than MAX_DEPTH."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"error decoding request body: {e}") from None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:  # only then can it be too deep
        check_depth(obj)
    return obj


def check_yaml(raw: bytes) -> None:
    """Refuse excessive aliasing and excessive depth from the event stream alone; 400 on syntax errors."""
    try:
        _scan_yaml(raw)
    except yaml.MarkedYAMLError as e:
        # PyYAML >= 6.0.3 has a nesting limit of its own (deeper than ours) that its scanner can hit
        # before our event count does: the same refusal, in our words.
        if e.problem == _PYYAML_TOO_DEEP:
            raise _too_deep() from None
        raise errors.bad_request(f"error converting YAML to JSON: yaml: {e}") from None
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: yaml: {e}") from None


def _scan_yaml(raw: bytes) -> None:
    """Raise 400 for aliasing or depth beyond the limits; yaml.YAMLError for syntax errors."""
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height)
    # Open collections: [anchor, nodes before it, height of its tallest child]
    frames: list[list[Any]] = []
    nodes = alias_nodes = 0
    for ev in yaml.parse(raw, Loader=_Loader):
        if isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            nodes += 1
            frames.append([ev.anchor, nodes, 0])
            if len(frames) > MAX_DEPTH:
                raise _too_deep()
        elif isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            anchor, start, height = frames.pop()
            height += 1
            if anchor:
                anchors[anchor] = (nodes - start + 1, height)
            if frames:
                frames[-1][2] = max(frames[-1][2], height)
        elif isinstance(ev, yaml.ScalarEvent):
            nodes += 1
            if ev.anchor:
                anchors[ev.anchor] = (1, 0)
        elif isinstance(ev, yaml.AliasEvent):
            size, height = anchors.get(ev.anchor or "", (1, 0))
            alias_nodes += size
            nodes += size
            if alias_nodes > MAX_ALIAS_NODES:
                raise errors.bad_request(
                    "error converting YAML to JSON: yaml: document contains excessive aliasing")
            if len(frames) + height > MAX_DEPTH:
                raise _too_deep()
            if frames:
                frames[-1][2] = max(frames[-1][2], height)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    return str(k)


def to_json_data(obj: Any) -> Any:
    """YAML-constructed data -> JSON data (sigs.k8s.io/yaml's YAMLToJSON): keys become strings,
    timestamps RFC 3339 strings, binary base64. Recursion is bounded by check_yaml's depth limit."""
    if isinstance(obj, dict):
        return {_key(k): to_json_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json_data(v) for v in obj]
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=dt.UTC)
        return obj.isoformat().replace("+00:00", "Z")
    if isinstance(obj, dt.date):
        return obj.isoformat() + "T00:00:00Z"
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    return str(obj)


def load_yaml(raw: bytes) -> Any:
    """YAML body -> JSON data; 400 on syntax errors, alias bombs, deep nesting or several documents."""
    check_yaml(raw)
    try:
        return to_json_data(yaml.load(raw, Loader=_Loader))  # a safe loader (CSafeLoader)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: yaml: {e}") from None


def check_patch(raw: bytes, patch_type: str) -> None:
    """Screen a PATCH body for aliasing and depth before the registry decodes it.

    Syntax errors are left to the registry, which reports them in its own words."""
    if patch_type == "apply":
        with contextlib.suppress(yaml.YAMLError):
            _scan_yaml(raw)
        return
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        check_depth(obj)


__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "check_depth", "check_patch", "check_yaml", "load_json", "load_yaml",
           "to_json_data"]
