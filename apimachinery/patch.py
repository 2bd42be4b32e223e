"""The three PATCH bodies kube-apiserver accepts, and the patch kubectl apply computes.

Why: ``kubectl label``/``annotate`` send JSON merge patches, ``kubectl patch
--type json`` sends RFC 6902 operations, ``kubectl edit`` and client-side
``kubectl apply`` send strategic merge patches. Each must land exactly as on
kube-apiserver, or server-set fields (clusterIP, nodePort) are lost and
scripts that parse errors break.

Sources (read, then rewritten): k8s.io/apimachinery/pkg/util/strategicpatch
(patch.go, v1.32..v1.36), pkg/util/mergepatch/errors.go,
k8s.io/apiserver/pkg/endpoints/handlers/patch.go and gopkg.in/evanphx/json-patch.v4
(what kube-apiserver links for RFC 6902 / RFC 7386).

Invariants:
- no function mutates its arguments and no result shares a container with them;
- server-side functions (:func:`merge_patch`, :func:`json_patch`,
  :func:`strategic_merge_patch`) fail only with :class:`StatusError`, carrying
  the code, reason and message kube-apiserver answers with;
- client-side functions (:func:`three_way_merge_patch`,
  :func:`two_way_merge_patch`) fail with :class:`PatchError` carrying Go's text.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import jsonpatch

from apimachinery.errors import StatusError, bad_request, generic_response, go_json, invalid, invalid_object
from apimachinery.kinds import KINDS
from apimachinery.kinds.base import MERGE as MERGE
from apimachinery.kinds.base import PatchMeta as PatchMeta
from apimachinery.kinds.tags import patch_paths

# --- vocabulary (strategicpatch/patch.go constants) -------------------------

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

#: kube-apiserver's maxJSONPatchOperations.
MAX_JSON_PATCH_OPERATIONS = 10000

# mergepatch/errors.go sentinels
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"

_MAP = "map[string]interface {}"
_SLICE = "[]interface {}"


class PatchError(ValueError):
    """A strategic merge patch failure, worded as strategicpatch's Go error.

    ``kind`` says how kube-apiserver's interpretStrategicMergePatchError maps
    it: ``bad_request`` (400), ``invalid`` (422, generic message) or
    ``internal`` (any other error: 500 with an empty reason).
    """

    def __init__(self, message: str, *, kind: str = "internal") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def status_error(self) -> StatusError:
        if self.kind == "bad_request":
            return bad_request(self.message)
        if self.kind == "invalid":
            return _unprocessable()
        return StatusError(500, "", self.message)


def _unprocessable() -> StatusError:
    """errors.NewGenericServerResponse(422, "", GroupResource{}, "", msg, 0, false): msg is dropped."""
    return generic_response(422)


# --- patch metadata (the patchStrategy / patchMergeKey struct tags) ----------
# The tags live once, per struct field, in apimachinery.kinds.tags (shared with server-side apply);
# each kind says where its structs sit (Kind.structs).

_NO_META = PatchMeta()

#: Patch metadata per resource key (apimachinery.resources), by dotted field
#: path; list items add no path component ("spec.containers.ports"). Paths
#: absent here have no tags. Derived from each kind's declaration.
PATCH_METADATA: Mapping[str, Mapping[str, PatchMeta]] = MappingProxyType(
    {k.resource.key: MappingProxyType(patch_paths(k.structs)) for k in KINDS}
)


@dataclass(frozen=True)
class _Schema:
    """A position in one resource's tag table (LookupPatchMeta)."""

    table: Mapping[tuple[str, ...], PatchMeta]
    path: tuple[str, ...] = ()

    def meta(self, key: str) -> PatchMeta:
        return self.table.get((*self.path, key), _NO_META)

    def child(self, key: str) -> _Schema:
        return _Schema(self.table, (*self.path, key))

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""


def _schema(resource: str) -> _Schema:
    fields = PATCH_METADATA.get(resource)
    if fields is None:
        raise ValueError(f"no strategic merge patch metadata for resource {resource!r}")
    return _Schema({tuple(path.split(".")): meta for path, meta in fields.items()})


# --- Go value semantics ---------------------------------------------------


def _go_type(v: Any) -> str:
    """reflect.TypeOf of a value decoded the way kube-apiserver decodes JSON (ints preserved)."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return _SLICE
    if isinstance(v, dict):
        return _MAP
    return type(v).__name__


def _same(a: Any, b: Any) -> bool:
    """reflect.DeepEqual / Go ``==`` on decoded JSON: true != 1 and 1 != 1.0."""
    if _go_type(a) != _go_type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _contains(items: list[Any], value: Any) -> bool:
    return any(_same(value, x) for x in items)


def _go_float(f: float) -> str:
    """fmt's %v for a float64 (strconv 'g', shortest, exponent from 1e+06 / below 1e-04)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    point = len(digit_tuple) + int(exponent)  # digits before the decimal point
    exp = point - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return neg + digits + "0" * (point - len(digits))
    return f"{neg}{digits[:point]}.{digits[point:]}"


def _go_v(v: Any) -> str:
    """fmt's %v for a decoded JSON value: ``map[a:1 b:[x y]]``."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def _go_s(v: Any) -> str:
    """fmt's %s: strings as-is, other scalars as ``%!s(int64=1)``."""
    if isinstance(v, str):
        return v
    if v is None:
        return "%!s(<nil>)"
    if isinstance(v, list | dict):
        return _go_v(v)
    return f"%!s({_go_type(v)}={_go_v(v)})"


def _bad_arg_type(expected: str, actual: Any) -> PatchError:
    got = "%!s(<nil>)" if actual is None else _go_type(actual)
    return PatchError(f"expected a {expected}, but received a {got}")


def _no_merge_key(m: dict[str, Any], key: str) -> PatchError:
    return PatchError(f"map: {_go_v(m)} does not contain declared merge key: {key}")


def _bad_patch_type(directive: Any, m: dict[str, Any]) -> PatchError:
    return PatchError(f"unknown patch type: {_go_s(directive)} in map: {_go_v(m)}")


def _copy(v: Any) -> Any:
    """Deep copy of a JSON tree (dicts and lists are fresh)."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def _sorted_copy(v: Any) -> Any:
    """Deep copy with keys in Go's json.Marshal order, so a patch serializes as kubectl's does."""
    if isinstance(v, dict):
        return {k: _sorted_copy(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted_copy(x) for x in v]
    return v


def json_type(v: Any) -> str:
    """The JSON kind encoding/json names in an UnmarshalTypeError."""
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    return "number"


# --- JSON merge patch (RFC 7386, as evanphx/json-patch MergePatch) ----------


def merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an ``application/merge-patch+json`` body.

    null deletes a key, an object merges into an object, anything else
    replaces. Like evanphx/json-patch (kube-apiserver's implementation),
    nulls inside a value that lands where there was no object are dropped.
    The body must be an object: kube-apiserver decodes it into a map first.
    """
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        raise bad_request(
            f"error decoding patch: json: cannot unmarshal {json_type(patch)} "
            "into Go value of type map[string]interface {}"
        )
    doc: dict[str, Any] = _copy(original)
    _merge_docs(doc, _copy(patch))
    _check_decodes(doc, original, shown=lambda: _go_text(_merged_as_evanphx(original, patch)))
    return doc


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
            continue
        cur = doc.get(k)
        if cur is None:
            doc[k] = _prune_nulls(v)
        elif not isinstance(cur, dict):
            doc[k] = _prune_nulls(v)
        elif not isinstance(v, dict):
            doc[k] = v
        else:
            _merge_docs(cur, v)


def _prune_nulls(v: Any) -> Any:
    """pruneNulls: drop null members of objects, at any depth (null list items stay)."""
    if isinstance(v, dict):
        return {k: _prune_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [None if x is None else _prune_nulls(x) for x in v]
    return v


def _merged_as_evanphx(original: Any, patch: Any) -> Any:
    """The merge of ``patch`` into ``original`` with keys in the order evanphx/json-patch's MergePatch
    writes them: maps it decoded (the root, each map the patch merged into, whatever the patch added
    where there was no map) sorted, the rest as it came (the original's untouched values, a non-map
    value the patch put over a map)."""
    if not isinstance(original, dict):
        return _sorted_copy(_prune_nulls(patch))
    if not isinstance(patch, dict):
        return patch
    out = dict(original)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif out.get(k) is None:
            out[k] = _sorted_copy(_prune_nulls(v))
        else:
            out[k] = _merged_as_evanphx(out[k], v)
    return {k: out[k] for k in sorted(out)}


def _sorted_top(doc: dict[str, Any]) -> dict[str, Any]:
    """evanphx's Apply decodes the root (written sorted) and leaves most values as they came."""
    return {k: doc[k] for k in sorted(doc)}


def _go_text(obj: Any) -> str:
    return go_json(obj).decode()


def _check_decodes(obj: dict[str, Any], original: dict[str, Any], *, shown: Callable[[], str],
                   strategic: bool = False) -> None:
    """Refuse a patched object that does not decode into its Go type, as kube-apiserver's patch handler does.

    kube-apiserver turns the patched document into the typed object before anything else looks at it;
    when that fails the answer is 422 NewInvalid(GroupKind{}, "", [Invalid("patch", <value>, <err>)])
    (message `` "" is invalid: patch: Invalid value: ...``). The value is the patch (``%+v``) on the
    strategic path, whose error is runtime.DefaultUnstructuredConverter's (``cannot restore map from
    string``), and the patched JSON on the merge and json-patch paths, whose error is encoding/json's
    (``json: cannot unmarshal string into Go struct field ...``). Objects that are not a served kind
    (no matching apiVersion/kind) are not checked. Unknown fields are not errors here: the registry
    applies fieldValidation to them.
    """
    # Imported here: the models cost ~150 ms to import and kctl uses this module without them.
    from pydantic import ValidationError

    from apimachinery import schemas
    from apimachinery.resources import BY_GROUP_KIND
    from apimachinery.schemas.base import built

    api_version = str(original.get("apiVersion") or "")
    rt = BY_GROUP_KIND.get((api_version.rpartition("/")[0], str(original.get("kind") or "")))
    if rt is None or rt.key not in schemas.MODELS:
        return
    model = schemas.MODELS[rt.key]
    try:
        built(model).__pydantic_validator__.validate_python(obj, by_name=False)
        return
    except ValidationError as e:
        errs = [err for err in e.errors(include_url=False) if err["type"] != "extra_forbidden"]
    if not errs:
        return
    if strategic:
        detail = _from_unstructured_error(model, obj, errs)
    else:
        try:
            schemas.decode(rt.key, obj)
            return
        except StatusError as e:
            detail = e.message.removeprefix(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: ')
    raise invalid_object("", "", [invalid("patch", shown(), detail)])


# reflect.Kind of a value decoded from JSON with ints preserved
_GO_KIND = {dict: "map", list: "slice", str: "string", bool: "bool", int: "int64", float: "float64"}
_INT_KINDS = frozenset({"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64"})
_FLOAT_KINDS = frozenset({"float32", "float64"})


def _from_unstructured_error(model: Any, obj: dict[str, Any], errs: list[Any]) -> str:
    """runtime.DefaultUnstructuredConverter's error for the first field (in document order) that does not fit."""
    from apimachinery.schemas.base import GO_ERROR
    from apimachinery.schemas.codec import _position, describe

    err = min(errs, key=lambda e: _position(obj, e["loc"]))
    if err["type"] == GO_ERROR:  # a type with its own unmarshaler (Quantity, Time, IntOrString)
        return str(err["ctx"]["message"])
    src = _GO_KIND.get(type(err["input"]), "interface")
    kind = err["type"]
    if kind == "dict_type":
        return f"cannot restore map from {src}"
    if kind == "list_type":
        return f"cannot restore slice from {src}"
    if kind in ("model_type", "model_attributes_type"):
        return f"cannot restore struct from: {src}"
    _struct, _path, go_type = describe(model, err["loc"])
    dst_kind = {"string_type": "string", "bool_type": "bool", "float_type": "float64"}.get(kind, "")
    if not dst_kind:
        dst_kind = go_type if go_type in _INT_KINDS | _FLOAT_KINDS else "int64"
    numeric_src = src in ("int64", "float64")
    convertible = (numeric_src and (dst_kind in _INT_KINDS | _FLOAT_KINDS or (src == "int64" and dst_kind == "string"))) \
        or (src == dst_kind)
    if convertible:  # a Go conversion exists but JSON forbids it (int64 -> string, 1.5 -> int32)
        return f"cannot convert {src} to {go_type}"
    return f"unrecognized type: {dst_kind}"


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


# --- strategic merge patch: apply (server side) ------------------------------


@dataclass(frozen=True)
class _MergeOptions:
    """MergeOptions: server-side apply merges parallel lists and drops unmatched nulls."""

    merge_parallel_list: bool
    ignore_unmatched_nulls: bool


_SERVER = _MergeOptions(merge_parallel_list=True, ignore_unmatched_nulls=True)
_CLIENT = _MergeOptions(merge_parallel_list=False, ignore_unmatched_nulls=False)


def check_strategic_patch(patch: Any) -> None:
    """kube-apiserver decodes a strategic merge patch into a map first: anything else is a 400."""
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_type(patch)} into Go value of type map[string]interface {{}}")


def strategic_merge_patch(original: dict[str, Any], patch: Any, *, schema: str) -> dict[str, Any]:
    """Apply an ``application/strategic-merge-patch+json`` body to ``original``.

    ``schema`` is a resource key of apimachinery.resources (``services``,
    ``leases.coordination.k8s.io``); it selects the patch metadata.
    Semantics are StrategicMergeMapPatch's; errors are mapped as
    kube-apiserver's interpretStrategicMergePatchError does. Directive keys
    left over in the result (e.g. a ``$setElementOrder/x`` inside a map the
    live object lacked) are dropped, as decoding into the typed object drops
    them on kube-apiserver.
    """
    table = _schema(schema)
    if patch is None:
        patch = {}
    check_strategic_patch(patch)
    try:
        merged = _merge_map(_copy(original), _copy(patch), schema=table, opts=_SERVER)
    except PatchError as err:
        raise err.status_error() from err
    result: dict[str, Any] = _drop_directive_keys(merged)
    _check_decodes(result, original, shown=lambda: _go_v(patch), strategic=True)
    return result


def _is_directive_key(key: str) -> bool:
    return (
        key in (DIRECTIVE, RETAIN_KEYS)
        or key.startswith(SET_ELEMENT_ORDER + "/")
        or key.startswith(DELETE_FROM_PRIMITIVE_LIST + "/")
    )


def _drop_directive_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_directive_keys(x) for k, x in v.items() if not _is_directive_key(k)}
    if isinstance(v, list):
        return [_drop_directive_keys(x) for x in v]
    return v


def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], *, schema: _Schema, opts: _MergeOptions
) -> dict[str, Any]:
    """mergeMap: merge ``patch`` into ``original`` (both are consumed)."""
    if DIRECTIVE in patch:
        return _map_directive(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch, opts=opts)
    _merge_set_element_order(original, patch, schema=schema, opts=opts)
    for key, patch_v in list(patch.items()):
        k = key
        is_delete_list = False
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            if not opts.merge_parallel_list:
                original[key] = patch_v
                continue
            k = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
            is_delete_list = True
        if patch_v is None:
            original.pop(k, None)
            if opts.ignore_unmatched_nulls:
                continue
        if k not in original or _go_type(original[k]) != _go_type(patch_v):
            if not is_delete_list:
                _adopt(original, k, value=patch_v, opts=opts)
            continue
        orig_v = original[k]
        meta = schema.meta(k)
        if isinstance(orig_v, dict):
            if meta.strategy == REPLACE:
                original[k] = patch_v
            else:
                original[k] = _merge_map(orig_v, patch_v, schema=schema.child(k), opts=opts)
        elif isinstance(orig_v, list):
            original[k] = _merge_slice_handler(
                orig_v, patch_v, schema=schema.child(k), meta=meta, is_delete_list=is_delete_list, opts=opts
            )
        else:
            original[k] = patch_v
    return original


def _adopt(original: dict[str, Any], key: str, *, value: Any, opts: _MergeOptions) -> None:
    """Take the patch value where the original has none (or another type)."""
    if opts.ignore_unmatched_nulls:
        _discard_nulls(value)
    kept, keep = _remove_directives(value)
    if keep:
        original[key] = kept
    else:
        original.pop(key, None)


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """handleDirectiveInMergeMap: only replace and delete are valid in a map."""
    if directive == REPLACE:
        del patch[DIRECTIVE]
        return patch
    if directive == DELETE:
        return {}
    raise _bad_patch_type(directive, patch)


def _discard_nulls(v: Any) -> None:
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _discard_nulls(x)
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    """removeDirectives: a map carrying ``$patch`` vanishes; returns (value, keep)."""
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            v, keep = _remove_directives(obj[k])
            if keep:
                obj[k] = v
            else:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        out = []
        for x in obj:
            v, keep = _remove_directives(x)
            if keep:
                out.append(v)
        return out, True
    return obj, True


def _extract_key(s: str, prefix: str) -> str:
    parts = s.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise PatchError(ERR_PRIMITIVE_LIST, kind="bad_request")
        if prefix == SET_ELEMENT_ORDER:
            raise PatchError(ERR_SET_ELEMENT_ORDER, kind="bad_request")
        raise PatchError(f'fail to find unknown prefix "{prefix}" in {s}')
    return parts[1]


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any], *, opts: _MergeOptions) -> None:
    """applyRetainKeysDirective: clear fields of original missing from ``$retainKeys``."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not opts.merge_parallel_list:
        if RETAIN_KEYS in original:
            if not _same(original[RETAIN_KEYS], retain):
                raise PatchError(
                    f"{_go_v(original[RETAIN_KEYS])} and {_go_v(retain)} are not deep equal: "
                    "this may happen when calculating the 3-way diff patch"
                )
        else:
            original[RETAIN_KEYS] = retain
        return
    if not isinstance(retain, list):
        raise PatchError(ERR_RETAIN_KEYS, kind="bad_request")
    allowed = {v for v in retain if isinstance(v, str)}
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_FROM_PRIMITIVE_LIST) or k.startswith(SET_ELEMENT_ORDER):
            continue
        if k not in allowed:
            raise PatchError(ERR_RETAIN_KEYS, kind="bad_request")
    for k in [k for k in original if k not in allowed]:
        del original[k]


def _merge_set_element_order(
    original: dict[str, Any], patch: dict[str, Any], *, schema: _Schema, opts: _MergeOptions
) -> None:
    """mergePatchIntoOriginal: merge each list that has a ``$setElementOrder`` and order it.

    Precedence: the ``$setElementOrder`` list, then the order in the live list.
    """
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not opts.merge_parallel_list:
            if key in original:
                if not _same(original[key], order):
                    raise PatchError(ERR_SET_ELEMENT_ORDER, kind="bad_request")
            else:
                original[key] = order
        if not isinstance(order, list):
            raise _bad_arg_type(_SLICE, order)
        list_key = _extract_key(key, SET_ELEMENT_ORDER)
        found_orig, found_patch = list_key in original, list_key in patch
        orig_list: list[Any] = []
        patch_list: list[Any] = []
        if found_orig:
            if not isinstance(original[list_key], list):
                raise _bad_arg_type(_SLICE, original[list_key])
            orig_list = original[list_key]
        if found_patch:
            if not isinstance(patch[list_key], list):
                raise _bad_arg_type(_SLICE, patch[list_key])
            patch_list = patch[list_key]
        meta = schema.meta(list_key)
        _validate_against_order(patch_list, order, merge_key=meta.merge_key)
        if found_orig and found_patch:
            merged = _merge_slice_handler(
                orig_list, patch_list, schema=schema.child(list_key), meta=meta, is_delete_list=False, opts=opts
            )
        elif found_orig:
            merged = orig_list
        elif found_patch:
            merged = _remove_directives(patch_list)[0]
        else:
            continue
        if meta.merge_key:
            patch_items, server_only = _partition_maps(merged, order, merge_key=meta.merge_key)
        else:
            patch_items, server_only = _partition_primitives(merged, order)
        kind = _element_kind(orig_list, patch_list)
        original[list_key] = _normalize_element_order(
            patch_items, server_only, patch_order=order, server_order=orig_list, merge_key=meta.merge_key, kind=kind
        )
        patch.pop(list_key, None)


def _validate_against_order(patch_list: list[Any], order: list[Any], *, merge_key: str) -> None:
    """validatePatchWithSetOrderList: patch items appear in ``order``, in the same relative order."""
    if not order or not patch_list:
        return
    items = _split_deletions(patch_list)[0] if merge_key else patch_list
    pi = si = 0
    while pi < len(items) and si < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        if _merge_key_equal(items[pi], order[si], merge_key=merge_key):
            pi += 1
        si += 1
    if pi < len(items) and si >= len(order):
        raise PatchError(
            f"the order in patch list:\n{_go_v(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{_go_v(order)}"
        )


def _merge_key_equal(left: Any, right: Any, *, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    if not isinstance(left, dict):
        raise _bad_arg_type(_MAP, left)
    if not isinstance(right, dict):
        raise _bad_arg_type(_MAP, right)
    if merge_key not in left:
        raise _no_merge_key(left, merge_key)
    if merge_key not in right:
        raise _no_merge_key(right, merge_key)
    return _same(left[merge_key], right[merge_key])


def _merge_slice_handler(
    original: list[Any],
    patch: list[Any],
    *,
    schema: _Schema,
    meta: PatchMeta,
    is_delete_list: bool,
    opts: _MergeOptions,
) -> list[Any]:
    """Lists without the merge strategy are replaced by the patch list as sent."""
    if meta.strategy == MERGE or is_delete_list:
        return _merge_slice(
            original, patch, schema=schema, merge_key=meta.merge_key, opts=opts, is_delete_list=is_delete_list
        )
    return patch


def _merge_slice(
    original: list[Any],
    patch: list[Any],
    *,
    schema: _Schema,
    merge_key: str,
    opts: _MergeOptions,
    is_delete_list: bool,
) -> list[Any]:
    """mergeSlice: primitives as a set, maps by merge key; patch order wins, live order fills in."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != _MAP:
        if opts.merge_parallel_list and is_delete_list:
            return [v for v in original if not _contains(patch, v)]
        merged = _dedup_scalars(original + patch)
    else:
        if not merge_key:
            raise PatchError(f"cannot merge lists without merge key for {schema.name}")
        original, patch = _apply_list_directives(original, patch, merge_key=merge_key)
        merged = _merge_list_items(original, patch, merge_key=merge_key, schema=schema, opts=opts)
    if merge_key:
        patch_items, server_only = _partition_maps(merged, patch, merge_key=merge_key)
    else:
        patch_items, server_only = _partition_primitives(merged, patch)
    return _normalize_element_order(
        patch_items, server_only, patch_order=patch, server_order=original, merge_key=merge_key, kind=kind
    )


def _apply_list_directives(
    original: list[Any], patch: list[Any], *, merge_key: str
) -> tuple[list[Any], list[Any]]:
    """mergeSliceWithSpecialElements: ``$patch`` items delete matches or replace the list."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == DELETE:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            value = item[merge_key]
            original = [o for o in original if not (merge_key in o and _same(o[merge_key], value))]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return plain, []
    return original, plain


def _merge_list_items(
    original: list[Any], patch: list[Any], *, merge_key: str, schema: _Schema, opts: _MergeOptions
) -> list[Any]:
    """mergeSliceWithoutSpecialElements: merge into the item with the same key, else append."""
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        idx = _find_by_key(merged, item[merge_key], key=merge_key)
        if idx is None:
            merged.append(item)
        else:
            merged[idx] = _merge_map(merged[idx], item, schema=schema, opts=opts)
    return merged


def _find_by_key(items: list[Any], value: Any, *, key: str) -> int | None:
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise PatchError(f"value for key {i} is not a map")
        if key in v and _same(v[key], value):
            return i
    return None


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: the one Go type of every element (no lists of lists)."""
    prev: str | None = None
    for items in lists:
        for v in items:
            t = _go_type(v)
            if prev is None:
                prev = t
                if t == _SLICE:
                    raise PatchError(ERR_NO_LIST_OF_LISTS, kind="invalid")
            elif prev != t:
                raise PatchError(f"list element types are not identical: {_go_v(list(lists))}")
    if prev is None:
        raise PatchError("no elements in any of the given slices")
    return prev


def _dedup_scalars(items: list[Any]) -> list[Any]:
    """deduplicateScalars, including its order (a duplicate is overwritten by the last item)."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _same(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _partition_primitives(items: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    inside = [v for v in items if _contains(by, v)]
    outside = [v for v in items if not _contains(by, v)]
    return inside, outside


def _partition_maps(items: list[Any], by: list[Any], *, merge_key: str) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (outside if _find_by_key(by, v[merge_key], key=merge_key) is None else inside).append(v)
    return inside, outside


def _index(items: list[Any], value: Any, *, merge_key: str, kind: str) -> int:
    """index(): position of the item with the same merge key (or value), -1 if none."""
    def key_of(item: Any) -> Any:
        if kind != _MAP:
            return item
        return item.get(merge_key) if isinstance(item, dict) else None

    wanted = key_of(value)
    for i, v in enumerate(items):
        if _same(wanted, key_of(v)):
            return i
    return -1


def _split_deletions(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """extractToDeleteItems: (items to keep, ``$patch: delete`` items)."""
    keep: list[Any] = []
    delete: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP, v)
        (delete if v.get(DIRECTIVE) == DELETE else keep).append(v)
    return keep, delete


def _normalize_slice_order(items: list[Any], order: list[Any], *, merge_key: str, kind: str) -> list[Any]:
    """normalizeSliceOrder: stable sort by position in ``order``; delete directives last."""
    deletions: list[Any] = []
    if kind == _MAP:
        for lst in (items, order):
            for v in lst:
                if not isinstance(v, dict):
                    raise _bad_arg_type(_MAP, v)
                if merge_key not in v:
                    raise _no_merge_key(v, merge_key)
        items, deletions = _split_deletions(items)
    positions = [_index(order, v, merge_key=merge_key, kind=kind) for v in items]
    if all(p >= 0 for p in positions):
        ranked = sorted(zip(positions, range(len(items)), strict=True))
        return [items[i] for _, i in ranked] + deletions
    # Go's less() is true whenever either item is missing from order; its
    # insertion sort is what sort.SliceStable does for short lists.
    pairs = list(zip(positions, items, strict=True))
    for i in range(1, len(pairs)):
        j = i
        while j > 0 and (pairs[j][0] < 0 or pairs[j - 1][0] < 0 or pairs[j][0] < pairs[j - 1][0]):
            pairs[j - 1], pairs[j] = pairs[j], pairs[j - 1]
            j -= 1
    return [v for _, v in pairs] + deletions


def _normalize_element_order(
    patch_items: list[Any],
    server_only: list[Any],
    *,
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """normalizeElementOrder + mergeSortedSlice: interleave server-only items by live order."""
    right = _normalize_slice_order(patch_items, patch_order, merge_key=merge_key, kind=kind)
    left = _normalize_slice_order(server_only, server_order, merge_key=merge_key, kind=kind)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key=merge_key, kind=kind)
            ri = _index(server_order, right[j], merge_key=merge_key, kind=kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


# --- strategic merge patch: diff (client side, what kubectl computes) --------


@dataclass(frozen=True)
class _DiffOptions:
    set_element_order: bool = False
    ignore_changes_and_additions: bool = False
    ignore_deletions: bool = False
    build_retain_keys_directive: bool = False


def two_way_merge_patch(original: dict[str, Any], modified: dict[str, Any], *, schema: str) -> dict[str, Any]:
    """CreateTwoWayMergePatch: the strategic merge patch turning ``original`` into ``modified``.

    What ``kubectl edit`` sends. Empty dict when they are equal.
    """
    table = _schema(schema)
    patch = _diff_maps(_copy(original), _copy(modified), schema=table, opts=_DiffOptions(set_element_order=True))
    result: dict[str, Any] = _sorted_copy(patch)
    return result


def three_way_merge_patch(
    original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any], *, schema: str
) -> dict[str, Any]:
    """CreateThreeWayMergePatch with overwrite, as client-side ``kubectl apply`` sends it.

    ``original`` is the last-applied configuration (None when the object has
    none), ``modified`` the new configuration, ``current`` the live object.
    The patch deletes what ``original`` had and ``modified`` dropped (nulls,
    ``{"$patch": "delete", <key>: v}`` items, ``$deleteFromPrimitiveList``),
    adds or changes what differs between ``current`` and ``modified``, and
    orders merge lists with ``$setElementOrder``; fields only the server set
    are left alone. Empty dict when there is nothing to do. Keys are in
    json.Marshal order. Raises PatchError on malformed input.
    """
    table = _schema(schema)
    mod = _copy(modified)
    delta = _diff_maps(
        _copy(current), mod, schema=table, opts=_DiffOptions(set_element_order=True, ignore_deletions=True)
    )
    deletions = _diff_maps(
        _copy(original) if original is not None else {},
        mod,
        schema=table,
        opts=_DiffOptions(set_element_order=True, ignore_changes_and_additions=True),
    )
    patch = _merge_map(deletions, delta, schema=table, opts=_CLIENT)
    result: dict[str, Any] = _sorted_copy(patch)
    return result


def _diff_maps(
    original: dict[str, Any], modified: dict[str, Any], *, schema: _Schema, opts: _DiffOptions
) -> dict[str, Any]:
    """diffMaps: the (recursive) patch that yields ``modified`` from ``original``."""
    patch: dict[str, Any] = {}
    retain: list[Any] = []
    changes = not opts.ignore_changes_and_additions
    for key, mod_v in modified.items():
        if opts.build_retain_keys_directive and mod_v is not None:
            retain.append(key)
        if key not in original:
            if changes:
                patch[key] = mod_v
            continue
        orig_v = original[key]
        if key == DIRECTIVE:
            if not isinstance(orig_v, str) or not isinstance(mod_v, str):
                raise PatchError(f"invalid value for special key: {DIRECTIVE}")
            if mod_v != orig_v:
                patch[key] = mod_v
            continue
        if _go_type(orig_v) != _go_type(mod_v):
            if changes:
                patch[key] = mod_v
            continue
        if isinstance(orig_v, dict):
            _diff_map_field(orig_v, mod_v, key=key, patch=patch, schema=schema, opts=opts)
        elif isinstance(orig_v, list):
            _diff_list_field(orig_v, mod_v, key=key, patch=patch, schema=schema, opts=opts)
        elif changes and not _same(orig_v, mod_v):
            patch[key] = mod_v
    if not opts.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if retain and (patch or any(v is not None and k not in modified for k, v in original.items())):
        patch[RETAIN_KEYS] = sorted(retain, key=_go_v)
    return patch


def _diff_map_field(
    original: dict[str, Any],
    modified: dict[str, Any],
    *,
    key: str,
    patch: dict[str, Any],
    schema: _Schema,
    opts: _DiffOptions,
) -> None:
    """handleMapDiff: recurse, unless the field is replaced whole."""
    meta = schema.meta(key)
    sub = dataclasses.replace(opts, build_retain_keys_directive=meta.retain_keys)
    if meta.strategy == REPLACE:
        if not opts.ignore_changes_and_additions:
            patch[key] = modified
        return
    value = _diff_maps(original, modified, schema=schema.child(key), opts=sub)
    if value:
        patch[key] = value


def _diff_list_field(
    original: list[Any],
    modified: list[Any],
    *,
    key: str,
    patch: dict[str, Any],
    schema: _Schema,
    opts: _DiffOptions,
) -> None:
    """handleSliceDiff: merge lists get item patches and parallel directive lists."""
    meta = schema.meta(key)
    if meta.strategy != MERGE:
        if not opts.ignore_changes_and_additions and not _same(original, modified):
            patch[key] = modified
        return
    sub = dataclasses.replace(opts, build_retain_keys_directive=meta.retain_keys)
    additions, deletions, order = _diff_lists(
        original, modified, schema=schema.child(key), merge_key=meta.merge_key, opts=sub
    )
    if additions:
        patch[key] = additions
    if deletions:
        patch[f"{DELETE_FROM_PRIMITIVE_LIST}/{key}"] = deletions
    if order:
        patch[f"{SET_ELEMENT_ORDER}/{key}"] = order


def _diff_lists(
    original: list[Any], modified: list[Any], *, schema: _Schema, merge_key: str, opts: _DiffOptions
) -> tuple[list[Any], list[Any], list[Any]]:
    """diffLists: (patch list, primitive deletion list, $setElementOrder list)."""
    changes = not opts.ignore_changes_and_additions
    deletes = not opts.ignore_deletions
    if not original:
        if not modified or not changes:
            return [], [], []
        return modified, [], []
    kind = _element_kind(original, modified)
    order: list[Any] = []
    if kind == _MAP:
        items, removed = _diff_lists_of_maps(original, modified, schema=schema, merge_key=merge_key, opts=opts)
        items = _normalize_slice_order(items, modified, merge_key=merge_key, kind=kind)
        same_order = _is_order_same(original, modified, merge_key=merge_key)
        items = items + removed
        if opts.set_element_order and ((changes and (items or not same_order)) or (deletes and items)):
            order = [{merge_key: v[merge_key]} for v in modified]
        return items, [], order
    additions, deletions = _diff_lists_of_scalars(original, modified, opts=opts)
    additions = _normalize_slice_order(additions, modified, merge_key=merge_key, kind=kind)
    # Go sorted ``original`` in place above, so an unsorted but unchanged list
    # still differs here and gets a $setElementOrder (kubectl does the same).
    if opts.set_element_order and ((deletes and deletions) or (changes and not _same(original, modified))):
        order = modified
    return additions, deletions, order


def _is_order_same(original: list[Any], modified: list[Any], *, merge_key: str) -> bool:
    if len(original) != len(modified):
        return False
    return all(_merge_key_equal(o, m, merge_key=merge_key) for o, m in zip(original, modified, strict=True))


def _diff_lists_of_scalars(
    original: list[Any], modified: list[Any], *, opts: _DiffOptions
) -> tuple[list[Any], list[Any]]:
    """diffListsOfScalars: walk both lists sorted by their %v text."""
    original.sort(key=_go_v)  # in place, as Go's sortScalars(original)
    mod = sorted(modified, key=_go_v)
    additions: list[Any] = []
    deletions: list[Any] = []
    oi = mi = 0
    while oi < len(original) or mi < len(mod):
        o_in, m_in = oi < len(original), mi < len(mod)
        o_s = _go_v(original[oi]) if o_in else ""
        m_s = _go_v(mod[mi]) if m_in else ""
        if o_in and m_in and o_s == m_s:
            oi += 1
            mi += 1
        elif not o_in or (m_in and o_s > m_s):
            if not opts.ignore_changes_and_additions:
                additions.append(mod[mi])
            mi += 1
        else:
            if not opts.ignore_deletions:
                deletions.append(original[oi])
            oi += 1
    return additions, _dedup_scalars(deletions)


def _keyed(items: list[Any], index: int, *, merge_key: str) -> tuple[dict[str, Any], Any]:
    item = items[index]
    if not isinstance(item, dict):
        raise _bad_arg_type(_MAP, item)
    if merge_key not in item:
        raise _no_merge_key(item, merge_key)
    return item, item[merge_key]


def _diff_lists_of_maps(
    original: list[Any], modified: list[Any], *, schema: _Schema, merge_key: str, opts: _DiffOptions
) -> tuple[list[Any], list[Any]]:
    """diffListsOfMaps: walk both lists sorted by merge-key text; recurse into matches."""
    def by_key(v: Any) -> str:
        return _go_v(v.get(merge_key)) if isinstance(v, dict) else ""

    orig = sorted(original, key=by_key)
    mod = sorted(modified, key=by_key)
    patch: list[Any] = []
    deletions: list[Any] = []
    oi = mi = 0
    while oi < len(orig) or mi < len(mod):
        o_in, m_in = oi < len(orig), mi < len(mod)
        o_item: dict[str, Any] = {}
        m_item: dict[str, Any] = {}
        o_val = m_val = None
        o_s = m_s = ""
        if o_in:
            o_item, o_val = _keyed(orig, oi, merge_key=merge_key)
            o_s = _go_v(o_val)
        if m_in:
            m_item, m_val = _keyed(mod, mi, merge_key=merge_key)
            m_s = _go_v(m_val)
        if o_in and m_in and o_s == m_s:
            value = _diff_maps(o_item, m_item, schema=schema, opts=opts)
            if value:
                patch.append({merge_key: m_val, **value})
            oi += 1
            mi += 1
        elif not o_in or (m_in and o_s > m_s):
            if not opts.ignore_changes_and_additions:
                patch.append(m_item)
            mi += 1
        else:
            if not opts.ignore_deletions:
                deletions.append({DIRECTIVE: DELETE, merge_key: o_val})
            oi += 1
    return patch, deletions
