"""Kubernetes error vocabulary: field errors and Status objects.

Why: kubectl and the official clients render errors from the Status shape
(reason, code, details.causes) and users grep for kube-apiserver's exact
wording, so every message here copies k8s.io/apimachinery's format strings
(pkg/api/errors and pkg/util/validation/field).

Invariant: the API server turns every failure into exactly one StatusError;
``StatusError.status`` is the JSON body it sends, ``StatusError.code`` the
HTTP code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# field.ErrorType -> (Status cause reason, human text)
REQUIRED = ("FieldValueRequired", "Required value")
INVALID = ("FieldValueInvalid", "Invalid value")
NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
FORBIDDEN = ("FieldValueForbidden", "Forbidden")
TOO_LONG = ("FieldValueTooLong", "Too long")
TOO_MANY = ("FieldValueTooMany", "Too many")
INTERNAL = ("InternalError", "Internal error")
TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")

_OMIT = object()


def go_quote(text: str, quote: str = '"') -> str:
    """strconv.Quote (Go's %q): printable characters as they are, the rest escaped as Go escapes them.

    ``quote`` is the delimiter (QuoteRune style callers pass ``'``)."""
    out = [quote]
    for ch in text:
        cp = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_SHORT_ESCAPES:
            out.append(_GO_SHORT_ESCAPES[ch])
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif 0xD800 <= cp < 0xE000:  # a lone surrogate: Go sees its bytes as invalid UTF-8, one \x each
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append(quote)
    return "".join(out)


_GO_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                     "\v": "\\v"}


def go_repr(value: Any) -> str:
    """Render a bad value the way Go's field.Error does (%v / %q / %#v)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return "[]int32{" + ", ".join(str(v) for v in value) + "}"
        return "[]interface {}{" + ", ".join(go_repr(v) for v in value) + "}"
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            inner = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in value.items())
            return "map[string]string{" + inner + "}"
        return "map[string]interface {}{" + ", ".join(f"{go_quote(k)}:{go_repr(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """One field.Error: a path, a type, the bad value and a detail."""

    type: tuple[str, str]
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        _reason, text = self.type
        if self.type in (REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL) or self.value is _OMIT:
            s = text
        else:
            s = f"{text}: {go_repr(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.type[0], "message": self.body(), "field": self.field}


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, field, detail=detail)


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(INVALID, field, value, detail)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported) if supported else ""
    return FieldError(NOT_SUPPORTED, field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, field, value)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, field, detail=detail)


def too_long(field: str, max_length: int) -> FieldError:
    return FieldError(TOO_LONG, field, detail=f"must have at most {max_length} bytes")


def too_many(field: str, actual: int, max_items: int) -> FieldError:
    return FieldError(TOO_MANY, field, actual, f"must have at most {max_items} items")


def aggregate(errs: list[FieldError]) -> str:
    """utilerrors.Aggregate's Error(): one message, or ``[a, b]``."""
    msgs: list[str] = []
    for e in errs:
        m = str(e)
        if m not in msgs:
            msgs.append(m)
    if len(msgs) == 1:
        return msgs[0]
    return "[" + ", ".join(msgs) + "]"


def qualified(name: str, group: str) -> str:
    """GroupResource/GroupKind String(): ``services`` or ``leases.coordination.k8s.io``."""
    return f"{name}.{group}" if group else name


class StatusError(Exception):
    """A failure that carries its own meta/v1 Status body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def status(self) -> dict[str, Any]:
        """The meta/v1 Status, keys in kube-apiserver's order (see :func:`canonical_status`)."""
        body: dict[str, Any] = {"status": "Failure", "message": self.message, "reason": self.reason,
                                "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return canonical_status(body)

    def encode(self, *, pretty: bool = False) -> bytes:
        """The exact response body kube-apiserver writes for this error (see :func:`encode_status`)."""
        return encode_status(self.status, pretty=pretty)

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> StatusError:
        return cls(
            int(status.get("code") or 500),
            str(status.get("reason") or ""),
            str(status.get("message") or ""),
            details=status.get("details"),
        )



# --- the Status wire form -------------------------------------------------------------------------
# metav1.Status / StatusDetails / StatusCause field order; every field but metadata is omitempty.
_STATUS_KEYS = ("status", "message", "reason", "details", "code")
_DETAILS_KEYS = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_KEYS = ("reason", "message", "field")
# encoding/json's HTMLEscape (on by default in json.Encoder) plus its U+2028/U+2029 escapes.
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def canonical_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` as the Go struct serialises it: kind, apiVersion, metadata, status, message, reason,
    details (name, group, kind, uid, causes, retryAfterSeconds), code; empty fields dropped.

    Why: clients (and tests written against kube-apiserver) compare Status bodies byte for byte, and
    Go writes struct fields in declaration order and omits empty ones; fields metav1.Status does not
    have cannot appear on the wire either. A ``details`` that is present but empty stays ``{}`` (a
    non-nil *StatusDetails), as NewGenericServerResponse produces it.
    """
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": dict(status.get("metadata") or {})}
    for key in _STATUS_KEYS:
        value = status.get(key)
        if key == "details":
            if isinstance(value, Mapping):
                out["details"] = _canonical_details(value)
        elif value:
            out[key] = value
    return out


def _canonical_details(details: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _DETAILS_KEYS:
        value = details.get(key)
        if key == "causes" and value:
            out[key] = [{k: c[k] for k in _CAUSE_KEYS if c.get(k)} for c in value]
        elif value:
            out[key] = value
    return out


def go_json(obj: Any, *, indent: bool = False) -> bytes:
    """Compact JSON exactly as Go's encoding/json writes it (HTML characters escaped), no newline;
    with ``indent``, json.MarshalIndent(obj, "", "  ")'s layout.

    Only strings can hold ``<``, ``>``, ``&`` or U+2028/9 in a JSON text, so escaping the encoded bytes is
    the same as escaping every string. A string that is not valid UTF-8 (a lone surrogate) is written with
    U+FFFD in its place, as Go does.
    """
    option = orjson.OPT_INDENT_2 if indent else None
    try:
        raw = orjson.dumps(obj, option=option)
    except orjson.JSONEncodeError:
        raw = orjson.dumps(_valid_utf8(obj), option=option)
    for char, escaped in _GO_ESCAPES:
        if char in raw:
            raw = raw.replace(char, escaped)
    return raw


def _valid_utf8(obj: Any) -> Any:
    if isinstance(obj, str):
        return obj.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(obj, Mapping):
        return {_valid_utf8(k): _valid_utf8(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_valid_utf8(v) for v in obj]
    return obj


def encode_status(status: Mapping[str, Any], *, pretty: bool = False) -> bytes:
    """The response body of a Status: Go's json.Encoder output of the canonical form, newline-terminated;
    ``pretty`` is kube's pretty serializer instead (MarshalIndent, two spaces, no newline), which
    kube-apiserver picks for ``?pretty=true`` and for curl, Wget and browser user agents.

    The single serialiser of Status bodies: every error response, the 431 of the HTTP parser and the
    ERROR event of a watch go through it.
    """
    if pretty:
        return go_json(canonical_status(status), indent=True)
    return go_json(canonical_status(status)) + b"\n"

def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        d["group"] = group
    return d


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        404, "NotFound", f'{qualified(resource, group)} "{name}" not found', details=_details(name, group, resource)
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified(resource, group)} "{name}" already exists',
        details=_details(name, group, resource),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        details=_details(name, group, resource),
    )


def invalid_object(kind: str, name: str, errs: list[FieldError], group: str = "") -> StatusError:
    """errors.NewInvalid: 422 with one cause per field error."""
    msg = f'{qualified(kind, group)} "{name}" is invalid'
    if errs:
        msg += ": " + aggregate(errs)
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errs]
    return StatusError(422, "Invalid", msg, details=details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden_error(resource: str, name: str, message: str, group: str = "") -> StatusError:
    prefix = f'{qualified(resource, group)} "{name}" is forbidden' if name else f"{qualified(resource, group)} is forbidden"
    return StatusError(403, "Forbidden", f"{prefix}: {message}", details=_details(name, group, resource))


def gone(message: str) -> StatusError:
    """410 for a compacted resourceVersion (``too old resource version: 5 (10)``)."""
    return StatusError(410, "Expired", message)


def method_not_allowed(message: str = "") -> StatusError:
    """405. Without a message: go-restful's answer for a path whose routes lack the method, which
    kube-apiserver turns into NewGenericServerResponse(405, ...) (generic message, empty details)."""
    if not message:
        return generic_response(405)
    return StatusError(405, "MethodNotAllowed", message)


# NewGenericServerResponse's (reason, message) by code, for the codes a server answers with.
_GENERIC = {
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    415: ("UnsupportedMediaType", "415: Unsupported Media Type"),  # go-restful's text, kept as the message
    422: ("Invalid", "the server rejected our request due to an error in our request"),
}


def generic_response(code: int) -> StatusError:
    """errors.NewGenericServerResponse(code, "", GroupResource{}, "", msg, 0, false): the server's message
    is dropped (kept for 415), details are present but empty. kube-apiserver answers so when go-restful finds
    no route (404), no method (405) or no route consuming the body's media type (415) under a served
    group-version, and for RFC 6902 operations that fail (422)."""
    reason, message = _GENERIC[code]
    return StatusError(code, reason, message, details={})


def path_not_found() -> StatusError:
    """The 404 of kube-apiserver's last handler (notfoundhandler), for a path no API serves: no details."""
    return StatusError(404, "NotFound", _GENERIC[404][1])


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
    )


def too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def internal(message: str) -> StatusError:
    """errors.NewInternalError: the error's text is also the one cause."""
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       details={"causes": [{"message": message}]})


def timeout(message: str, retry_after_seconds: int = 0) -> StatusError:
    """errors.NewTimeoutError: ``Timeout: <message>``, details carrying the retry hint (``{}`` without one)."""
    details: dict[str, Any] = {"retryAfterSeconds": retry_after_seconds} if retry_after_seconds else {}
    return StatusError(504, "Timeout", f"Timeout: {message}", details=details)


def not_implemented(message: str) -> StatusError:
    return StatusError(501, "NotImplemented", message)
