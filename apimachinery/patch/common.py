"""Shared by every patch type: kube's patch vocabulary, PatchError, the patch metadata
(patchStrategy / patchMergeKey struct tags) per resource, and Go's value semantics and text
(what the messages kube-apiserver writes are made of)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from apimachinery.errors import StatusError, bad_request, generic_response
from apimachinery.kinds import KINDS
from apimachinery.kinds.base import MERGE as MERGE  # re-exported by apimachinery.patch
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
