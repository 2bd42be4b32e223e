"""Decode a request body like kube-apiserver's strict JSON decoder.

Why: every write passes through here, so it must be cheap on the common
path (one pydantic-core validation and one dump) and faithful on the error
path: a wrong JSON type fails the request with Go's message, e.g.

    Service in version "v1" cannot be handled as a Service: json: cannot
    unmarshal string into Go struct field ServicePort.spec.ports.port of type int32

and unknown fields are returned (``spec.ports[0].foo``) for the caller to
reject, warn about or ignore per ``fieldValidation``; they never reach
storage.

Invariant: the returned object is exactly what model_dump prints: aliases,
no null or unset fields, no unknown fields, fields in Go struct order,
quantities and timestamps canonical.
"""

from __future__ import annotations

import copy
import functools
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from apimachinery.errors import StatusError, bad_request
from apimachinery.schemas.base import GO_ERROR, GoType, Schema, built

_INT_TYPES = frozenset({"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64"})


def decode(
    model: type[BaseModel], body: dict[str, Any], *, kind: str, version: str
) -> tuple[dict[str, Any], list[str]]:
    """Validate ``body``; return (normalized object, unknown field paths).

    ``kind``/``version`` are the resource's; the body's own ``kind`` and
    ``apiVersion`` win in the error message, as in kube-apiserver.
    """
    validator = built(model).__pydantic_validator__
    try:
        obj = validator.validate_python(body, by_name=False)
    except ValidationError as e:
        errors = sorted(e.errors(include_url=False), key=lambda err: _position(body, err["loc"]))
        unknown = [err["loc"] for err in errors if err["type"] == "extra_forbidden"]
        if len(unknown) != len(errors):
            raise _type_error(model, body, errors, kind=kind, version=version) from None
        obj = validator.validate_python(_without(body, unknown), by_name=False)
        return _dump(obj), [field_path(loc) for loc in unknown]
    return _dump(obj), []


def _dump(obj: BaseModel) -> dict[str, Any]:
    return obj.model_dump(by_alias=True, exclude_none=True)


def field_path(loc: tuple[int | str, ...]) -> str:
    """Kubernetes' rendering of a field path: ``spec.ports[0].foo``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _without(body: dict[str, Any], locs: list[tuple[int | str, ...]]) -> dict[str, Any]:
    """A copy of ``body`` minus the fields at ``locs`` (the rare, unknown-field path)."""
    out = copy.deepcopy(body)
    for loc in locs:
        node: Any = out
        for part in loc[:-1]:
            node = node[part]
        del node[loc[-1]]
    return out


# --- errors -------------------------------------------------------------------


def _position(body: Any, loc: tuple[int | str, ...]) -> tuple[int, ...]:
    """Where ``loc`` sits in the document, so errors come out in Go's (document) order."""
    out: list[int] = []
    node = body
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        else:
            break
    return tuple(out)


def _type_error(
    model: type[BaseModel], body: dict[str, Any], errors: list[Any], *, kind: str, version: str
) -> StatusError:
    """errors.NewBadRequest of the first type error, worded like Go's json decoder."""
    err = next(e for e in errors if e["type"] != "extra_forbidden")
    if err["type"] == GO_ERROR:
        reason = str(err["ctx"]["message"])
    else:
        struct, path, go_type = describe(model, err["loc"])
        value = _json_kind(err["input"], go_type)
        if path:
            reason = f"json: cannot unmarshal {value} into Go struct field {struct}.{'.'.join(path)} of type {go_type}"
        else:
            reason = f"json: cannot unmarshal {value} into Go value of type {go_type}"
    head = body if isinstance(body, dict) else {}
    body_kind = head.get("kind")
    body_version = head.get("apiVersion")
    shown_kind = body_kind if isinstance(body_kind, str) and body_kind else kind
    shown_version = body_version.rsplit("/", 1)[-1] if isinstance(body_version, str) and body_version else version
    return bad_request(f'{shown_kind} in version "{shown_version}" cannot be handled as a {kind}: {reason}')


def _json_kind(value: Any, go_type: str) -> str:
    """UnmarshalTypeError.Value: the JSON kind, or ``number <literal>`` when a number does not fit."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value!r}" if go_type in _INT_TYPES else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@functools.cache
def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {wire_name(name, f): f for name, f in model.model_fields.items()}


def wire_name(name: str, field: FieldInfo) -> str:
    """The JSON name of a field: its validation alias, alias, or attribute name."""
    if isinstance(field.validation_alias, str):
        return field.validation_alias
    return field.alias or name


def _strip(tp: Any, meta: list[Any]) -> tuple[Any, list[Any]]:
    """Remove ``| None`` and ``Annotated`` layers, collecting annotation metadata."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            meta = [*meta, *tp.__metadata__]
            tp = tp.__origin__
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, meta
            tp = args[0]
        else:
            return tp, meta


def go_type_name(tp: Any, meta: list[Any] | None = None) -> str:
    """The Go type name of an annotation, as ``reflect.Type.String()`` prints it."""
    tp, meta = _strip(tp, meta or [])
    for m in meta:
        if isinstance(m, GoType):
            return m.name
    origin = typing.get_origin(tp)
    if origin is list:
        return "[]" + go_type_name(typing.get_args(tp)[0])
    if origin is dict:
        return "map[string]" + go_type_name(typing.get_args(tp)[1])
    if isinstance(tp, type) and issubclass(tp, Schema):
        return f"v1.{tp.go_struct()}"
    return {str: "string", bool: "bool", int: "int64", float: "float64"}.get(tp, "interface {}")


def describe(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, list[str], str]:
    """(innermost Go struct, JSON field path without indexes, Go type) for an error location.

    This mirrors Go's errorContext: the struct is the one that declares the
    last field, the path is every struct field name from the root (list
    indexes and map keys are not part of it).
    """
    struct = model.go_struct() if issubclass(model, Schema) else model.__name__
    path: list[str] = []
    tp: Any = model
    meta: list[Any] = []
    for part in loc:
        tp, meta = _strip(tp, meta)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _fields(tp).get(part) if isinstance(part, str) else None
            if field is None:
                break
            struct = tp.go_struct() if issubclass(tp, Schema) else tp.__name__
            path.append(str(part))
            tp, meta = field.annotation, list(field.metadata)
        elif origin is list and isinstance(part, int):
            tp, meta = typing.get_args(tp)[0], []
        elif origin is dict:
            tp, meta = typing.get_args(tp)[1], []
        else:
            break
    return struct, path, go_type_name(tp, meta)
