"""The base model and the primitive field types every schema is built from.

Why: the schemas exist to decode request bodies the way kube-apiserver's
Go decoder does (strict JSON types, unknown fields reported, canonical
quantities and timestamps) and to describe the kinds in OpenAPI. Each
primitive therefore carries its Go type name (``GoType``) so a decode
error can say ``of type int32`` or ``of type []v1.Container`` as Go would.

Invariants:
- every field is optional and defaults to None (Go's zero value is
  "absent" for us: an explicit ``null`` is accepted and dropped);
- JSON names come from ``alias_generator=to_camel`` unless Kubernetes
  spells them otherwise (``podIP``, ``clusterIPs``), then ``Field(alias=)``;
- ``extra="forbid"`` makes pydantic report unknown fields in the same pass
  that checks types; ``codec`` turns those errors into Kubernetes' warnings.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from apimachinery import quantity, timestamps

GO_ERROR = "go_error"  # pydantic error type whose message is Go's error text, verbatim


@dataclass(frozen=True)
class GoType:
    """Annotation marker: the Go type name printed in decode errors."""

    name: str


class Schema(BaseModel):
    """Base of every Kubernetes struct.

    ``go_package`` is the OpenAPI definition prefix (``io.k8s.api.core.v1``);
    ``go_name`` overrides the Go struct name when the Python class differs.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        strict=True,
        alias_generator=to_camel,
        defer_build=True,  # built on first use: importing the package stays cheap
    )

    go_package: ClassVar[str] = "io.k8s.api.core.v1"
    go_name: ClassVar[str] = ""

    @classmethod
    def go_struct(cls) -> str:
        return cls.go_name or cls.__name__


def built(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with its validator built (models use defer_build to keep imports cheap)."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    return model


class MetaSchema(Schema):
    go_package: ClassVar[str] = "io.k8s.apimachinery.pkg.apis.meta.v1"


def json_name(name: str) -> Any:
    """Default-None field whose JSON name is not to_camel of the attribute (``podIP``, ``Port``).

    validation_alias + serialization_alias rather than alias, so type
    checkers still take the Python name in constructors (populate_by_name).
    """
    return Field(default=None, validation_alias=name, serialization_alias=name)


def _go_error(message: str) -> PydanticCustomError:
    return PydanticCustomError(GO_ERROR, "{message}", {"message": message})


def _time(value: str) -> str:
    try:
        return timestamps.normalize_time(value)
    except timestamps.TimeError as e:
        raise _go_error(str(e)) from None


def _micro_time(value: str) -> str:
    try:
        return timestamps.normalize_micro_time(value)
    except timestamps.TimeError as e:
        raise _go_error(str(e)) from None


def _quantity(value: Any) -> str:
    """resource.Quantity.UnmarshalJSON: a JSON string or a bare number; anything else is a format error."""
    try:
        if isinstance(value, str):
            return quantity.canonical(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return quantity.from_number(value)
    except quantity.QuantityError as e:
        raise _go_error(str(e)) from None
    raise _go_error(quantity.FORMAT_WRONG)


_I32 = 2**31
_I64 = 2**63


def _int_or_string(value: Any) -> int | str:
    """intstr.IntOrString: a string, or a number that fits an int32."""
    t = type(value)
    if t is str or (t is int and -_I32 <= value < _I32):
        return value  # type: ignore[no-any-return]
    raise PydanticCustomError("int_or_string_type", "Input should be an int32 or a string")


def _base64_bytes(value: str) -> str:
    """encoding/json's []byte: standard base64 (CR/LF ignored), re-encoded canonically as Go would.

    Errors are base64.CorruptInputError's text, at the offset Go's decoder reports.
    """
    offset = _base64_error(value)
    if offset is not None:
        raise _go_error(f"illegal base64 data at input byte {offset}")
    return base64.b64encode(base64.b64decode(value.replace("\r", "").replace("\n", ""))).decode()


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_error(src: str) -> int | None:
    """Where base64.StdEncoding.Decode fails (its decodeQuantum, quantum by quantum), or None."""
    si, n = 0, len(src)
    while si < n:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in "\r\n":
                continue
            if c != "=" or j < 2:
                return si - 1
            if j == 2:  # "==" expected: the first "=" is consumed
                while si < n and src[si] in "\r\n":
                    si += 1
                if si == n:
                    return n
                if src[si] != "=":
                    return si - 1
                si += 1
            while si < n and src[si] in "\r\n":
                si += 1
            return si if si < n else None
    return None


String = Annotated[str, GoType("string")]
Bool = Annotated[bool, GoType("bool")]
Int32 = Annotated[
    int, Interval(ge=-_I32, lt=_I32), GoType("int32"), WithJsonSchema({"type": "integer", "format": "int32"})
]
Int64 = Annotated[
    int, Interval(ge=-_I64, lt=_I64), GoType("int64"), WithJsonSchema({"type": "integer", "format": "int64"})
]
UID = Annotated[str, GoType("types.UID")]
Time = Annotated[
    str, AfterValidator(_time), GoType("string"), WithJsonSchema({"type": "string", "format": "date-time"})
]
MicroTime = Annotated[
    str, AfterValidator(_micro_time), GoType("string"), WithJsonSchema({"type": "string", "format": "date-time"})
]
IntOrString = Annotated[
    int | str,
    PlainValidator(_int_or_string),
    GoType("int32"),
    WithJsonSchema(
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    ),
]
Quantity = Annotated[
    str,
    PlainValidator(_quantity),
    GoType("resource.Quantity"),
    WithJsonSchema({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
]
StringList = list[str]
StringMap = dict[str, str]
Bytes = Annotated[
    str, AfterValidator(_base64_bytes), GoType("[]uint8"), WithJsonSchema({"type": "string", "format": "byte"})
]
ResourceList = Annotated[dict[str, Quantity], GoType("v1.ResourceList")]
Object = dict[str, Any]
"""A struct we do not model field by field: any JSON object passes, unchanged."""

# named string types of core/v1 (Go prints these in type errors)
Protocol = Annotated[str, GoType("v1.Protocol")]
ConditionStatus = Annotated[str, GoType("v1.ConditionStatus")]
ResourceName = Annotated[str, GoType("v1.ResourceName")]
