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
from apimachinery.errors import StatusError, go_quote
from apimachinery.patch import check_strategic_patch

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


def load_json(raw: bytes, *, kind: str = "") -> Any:
    """JSON body -> data; 400 on syntax errors (see :func:`unrecognized` when ``kind`` is known) or nesting
    deeper than MAX_DEPTH."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if kind:
            raise unrecognized(kind, raw, str(e)) from None
        raise errors.bad_request(f"error decoding request body: {e}") from None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:  # only then can it be too deep
        check_depth(obj)
    return obj


def unrecognized(kind: str, raw: bytes, fallback: str = "") -> StatusError:
    """transformDecodeError for a body kube's JSON serializer cannot even read the kind of: ``the object
    provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: <encoding/json's
    message> (<summarizeData: the first 30 bytes, as text if they start with '{', else hex>)``."""
    why = go_syntax_error(raw) or fallback
    if not raw:
        summary = "<empty>"
    elif raw.startswith(b"{"):
        summary = raw[:30].decode("utf-8", "replace") + (" ..." if len(raw) > 30 else "")
    else:
        summary = raw[:30].hex() + (" ..." if len(raw) > 30 else "")
    return errors.bad_request(f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                              f"version/kind; json parse error: {why} ({summary})")


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


def check_patch(raw: bytes, patch_type: str, *, field_validation: str | None = None) -> None:
    """Screen a PATCH body before the registry decodes it: aliasing and depth, and JSON that kube-apiserver
    refuses before it looks at the object, refused in its words (400).

    A JSON syntax error is encoding/json's message; the strategic-merge path prints it bare, the merge and
    json-patch paths prefix ``error decoding patch: `` (fieldValidation Warn/Strict, the default) or, with
    ``Ignore``, answer what evanphx/json-patch says (``Invalid JSON Patch`` for merge). A strategic merge
    patch must decode into a map (``null`` is the empty patch).
    """
    if patch_type == "apply":
        with contextlib.suppress(yaml.YAMLError):
            _scan_yaml(raw)
        return
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        why = go_syntax_error(raw) or str(e)
        if patch_type == "strategic":
            raise errors.bad_request(why) from None
        if field_validation == "Ignore":
            raise errors.bad_request("Invalid JSON Patch" if patch_type == "merge" else why) from None
        raise errors.bad_request(f"error decoding patch: {why}") from None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        check_depth(obj)
    if patch_type == "strategic" and obj is not None:
        check_strategic_patch(obj)


# --- encoding/json's syntax errors ----------------------------------------------------------------
# The scanner of Go's encoding/json (scanner.go), reduced to finding the first error and its message:
# the states are named after Go's, the stack holds K (object key), V (object value), A (array element).
_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
_LITERALS = {b"t": b"true", b"f": b"false", b"n": b"null"}


def _quote_char(c: int) -> str:
    """quoteChar: a byte as Go names it in 'invalid character ...'."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(c))[1:-1] + "'"


def go_syntax_error(data: bytes) -> str | None:
    """The message of encoding/json's checkValid for ``data``, or None when ``data`` is valid JSON."""
    stack: list[str] = []
    state = "begin_value"
    literal = b""  # the rest of a literal being read
    literal_name = ""

    def invalid(c: int, context: str) -> str:
        return f"invalid character {_quote_char(c)} {context}"

    def end_value(c: int) -> tuple[str, str | None]:
        """stateEndValue: returns the next state or an error."""
        if not stack:
            return ("end_top", None) if c in _SPACE else ("", invalid(c, "after top-level value"))
        if c in _SPACE:
            return "end_value", None
        top = stack[-1]
        if top == "K":
            if c == ord(":"):
                stack[-1] = "V"
                return "begin_value", None
            return "", invalid(c, "after object key")
        if top == "V":
            if c == ord(","):
                stack[-1] = "K"
                return "begin_string", None
            if c == ord("}"):
                stack.pop()
                return ("end_top" if not stack else "end_value"), None
            return "", invalid(c, "after object key:value pair")
        if c == ord(","):
            return "begin_value", None
        if c == ord("]"):
            stack.pop()
            return ("end_top" if not stack else "end_value"), None
        return "", invalid(c, "after array element")

    def begin_value(c: int) -> tuple[str, str | None]:
        nonlocal literal, literal_name
        if c in _SPACE:
            return "begin_value", None
        if c == ord("{"):
            stack.append("K")
            return "begin_string_or_empty", None
        if c == ord("["):
            stack.append("A")
            return "begin_value_or_empty", None
        if c == ord('"'):
            return "in_string", None
        if c == ord("-"):
            return "neg", None
        if c == ord("0"):
            return "zero", None
        if c in b"123456789":
            return "int", None
        word = _LITERALS.get(bytes([c]))
        if word is not None:
            literal, literal_name = word[1:], word.decode()
            return "literal", None
        return "", invalid(c, "looking for beginning of value")

    def number_end(c: int, state: str) -> tuple[str, str | None]:
        """After the digits of a number: a fraction, an exponent, or the end of the value."""
        if state in ("zero", "int") and c == ord("."):
            return "dot", None
        if c in b"eE":
            return "exp", None
        return end_value(c)

    def step(c: int) -> tuple[str, str | None]:
        nonlocal literal
        if state == "begin_value":
            return begin_value(c)
        if state == "begin_value_or_empty":
            if c in _SPACE:
                return state, None
            return end_value(c) if c == ord("]") else begin_value(c)
        if state in ("begin_string_or_empty", "begin_string"):
            if c in _SPACE:
                return state, None
            if c == ord("}") and state == "begin_string_or_empty":
                stack[-1] = "V"
                return end_value(c)
            if c == ord('"'):
                return "in_string", None
            return "", invalid(c, "looking for beginning of object key string")
        if state == "in_string":
            if c == ord('"'):
                return "end_value", None
            if c == ord("\\"):
                return "in_string_esc", None
            if c < 0x20:
                return "", invalid(c, "in string literal")
            return state, None
        if state == "in_string_esc":
            if c in b'bfnrt\\/"':
                return "in_string", None
            if c == ord("u"):
                return "esc_u0", None
            return "", invalid(c, "in string escape code")
        if state.startswith("esc_u"):
            if c not in _HEX:
                return "", invalid(c, "in \\u hexadecimal character escape")
            n = int(state[-1]) + 1
            return ("in_string" if n == 4 else f"esc_u{n}"), None
        if state == "neg":
            if c == ord("0"):
                return "zero", None
            if c in b"123456789":
                return "int", None
            return "", invalid(c, "in numeric literal")
        if state in ("int", "frac", "exp_digits"):
            if c in _DIGITS:
                return state, None
            return end_value(c) if state == "exp_digits" else number_end(c, state)
        if state == "zero":
            return number_end(c, state)
        if state == "dot":
            if c in _DIGITS:
                return "frac", None
            return "", invalid(c, "after decimal point in numeric literal")
        if state in ("exp", "exp_sign"):
            if state == "exp" and c in b"+-":
                return "exp_sign", None
            if c in _DIGITS:
                return "exp_digits", None
            return "", invalid(c, "in exponent of numeric literal")
        if state == "literal":
            if c != literal[0]:
                return "", invalid(c, f"in literal {literal_name} (expecting {_quote_char(literal[0])})")
            literal = literal[1:]
            return ("end_value" if not literal else "literal"), None
        if state == "end_value":
            return end_value(c)
        # end_top
        return ("end_top", None) if c in _SPACE else ("", invalid(c, "after top-level value"))

    for c in data:
        state, err = step(c)
        if err is not None:
            return err
    if state == "end_top":
        return None
    state, err = step(ord(" "))  # scanner.eof(): a number may end the input
    return None if err is None and state == "end_top" else "unexpected end of JSON input"


__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "check_depth", "check_patch", "check_yaml", "go_syntax_error", "load_json",
           "load_yaml", "to_json_data", "unrecognized"]
