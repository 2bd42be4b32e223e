"""JSON patch (RFC 6902 operations), as evanphx/json-patch v4 that kube-apiserver links."""

from __future__ import annotations

from typing import Any

import jsonpatch

from apimachinery.errors import StatusError, bad_request
from apimachinery.patch.common import MAX_JSON_PATCH_OPERATIONS, _copy, _same, _unprocessable, json_type
from apimachinery.patch.merge import _check_decodes, _go_text, _sorted_top

# --- JSON patch (RFC 6902, as evanphx/json-patch v4) -------------------------


def json_patch(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply an ``application/json-patch+json`` body.

    Errors as kube-apiserver's jsonPatcher: a body that does not decode into
    ``[]jsonPatchOp`` is 400 ``error decoding patch: ...``; more than
    MAX_JSON_PATCH_OPERATIONS operations is 413; an operation that cannot be
    applied (unknown op, failed test, missing path) is 422 with the generic
    message (kube-apiserver drops the library's text; it is kept here as the
    exception's ``__cause__``). Like evanphx/json-patch, ``replace`` of a
    missing object member adds it, only ``replace`` and ``test`` may name the
    root, and ``test`` compares JSON types strictly.
    """
    ops = _decode_operations(operations)
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    doc: Any = _copy(original)
    for op in ops:
        try:
            doc = _apply_operation(doc, op)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, LookupError, TypeError) as exc:
            raise _unprocessable() from exc
    if not isinstance(doc, dict):
        raise _unprocessable()
    _check_decodes(doc, original, shown=lambda: _go_text(_sorted_top(doc)))
    return doc


def _decode_operations(operations: Any) -> list[dict[str, Any]]:
    """What kjson.UnmarshalStrict(body, &[]jsonPatchOp) accepts."""
    prefix = "error decoding patch: json: cannot unmarshal"
    if operations is None:
        return []
    if not isinstance(operations, list):
        raise bad_request(f"{prefix} {json_type(operations)} into Go value of type []handlers.jsonPatchOp")
    ops: list[dict[str, Any]] = []
    for op in operations:
        if op is None:
            op = {}
        if not isinstance(op, dict):
            raise bad_request(f"{prefix} {json_type(op)} into Go value of type handlers.jsonPatchOp")
        for field in ("op", "path", "from"):
            value = op.get(field)
            if value is not None and not isinstance(value, str):
                raise bad_request(
                    f"{prefix} {json_type(value)} into Go struct field jsonPatchOp.{field} of type string"
                )
        ops.append(op)
    return ops


class _TestFailed(jsonpatch.JsonPatchTestFailed):
    pass


def _apply_operation(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    path = op.get("path")
    if kind == "test" and isinstance(path, str):
        _test(doc, op, path=path)
        return doc
    if kind in ("add", "remove", "move", "copy") and (path == "" or op.get("from") == ""):
        # evanphx finds no parent for the root: only replace and test may name it
        raise jsonpatch.InvalidJsonPatch(f"{kind} operation does not apply: doc is missing path: \"\"")
    if kind == "replace" and isinstance(path, str) and path:
        parent, last = jsonpatch.JsonPointer(path).to_last(doc)
        if isinstance(parent, dict) and last not in parent:
            op = {**op, "op": "add"}
    return jsonpatch.JsonPatch([op]).apply(doc, in_place=True)


def _test(doc: Any, op: dict[str, Any], *, path: str) -> None:
    """evanphx's test: a missing or null member equals an absent or null value."""
    if path == "":
        actual: Any = doc
    else:
        parent, last = jsonpatch.JsonPointer(path).to_last(doc)
        if isinstance(parent, dict):
            actual = parent.get(last)
        elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            actual = parent[last]
        else:
            raise _TestFailed(f"testing value {path} failed: test failed")
    if actual is None:
        ok = op.get("value") is None
    else:
        ok = "value" in op and _same(actual, op["value"])
    if not ok:
        raise _TestFailed(f"testing value {path} failed: test failed")
