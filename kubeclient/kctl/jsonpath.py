"""kubectl's JSONPath templates (``-o jsonpath=...``, ``wait --for=jsonpath=...``).

Why: the template language is k8s.io/client-go/util/jsonpath, not the
JSONPath of other tools: text outside ``{}`` is copied, ``{range ...}{end}``
loops, ``{"\\n"}`` prints a literal, several results of one expression are
joined by a space, maps and lists print as compact JSON and missing keys
print nothing (kubectl sets AllowMissingKeys).

Supported: ``$``/``@``, ``.field``, ``['field']``, ``*``, ``..field``,
``[n]``, ``[a:b:s]``, ``['a','b']`` unions, ``[?(@.x == "y")]`` filters
(``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, bare existence), range/end.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from kubeclient.kctl.encoding import go_json


class JSONPathError(ValueError):
    """A template that does not parse."""


@dataclass
class _Node:
    kind: str  # text | literal | path | range | end
    value: Any = None
    steps: list[tuple[str, Any]] = field(default_factory=list)


_STEP_FIELD = re.compile(r"\.([A-Za-z0-9_\-/$]+|\*)")


def _parse_literal(s: str) -> Any:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        return s


def _split_top(s: str, sep: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote = ""
    cur = ""
    for ch in s:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    parts.append(cur)
    return parts


def _parse_path(expr: str) -> list[tuple[str, Any]]:
    """A path expression into steps: (field|recurse|wild|index|slice|union|filter, arg)."""
    s = expr.strip()
    if s.startswith(("$", "@")):
        s = s[1:]
    steps: list[tuple[str, Any]] = []
    i = 0
    while i < len(s):
        if s.startswith("..", i):
            m = re.compile(r"[A-Za-z0-9_\-/$]+|\*").match(s, i + 2)
            if m:
                steps.append(("recurse", m.group(0)))
                i = m.end()
                continue
            steps.append(("recurse", None))
            i += 2
            continue
        if s[i] == ".":
            m = _STEP_FIELD.match(s, i)
            if not m:
                if i + 1 == len(s):
                    i += 1
                    continue
                raise JSONPathError(f"unrecognized character in action: {s[i + 1:i + 2]!r}")
            steps.append(("wild", None) if m.group(1) == "*" else ("field", m.group(1)))
            i = m.end()
            continue
        if s[i] == "[":
            depth, j, quote = 0, i, ""
            while j < len(s):
                ch = s[j]
                if quote:
                    if ch == quote:
                        quote = ""
                elif ch in "'\"":
                    quote = ch
                elif ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(s):
                raise JSONPathError("unterminated array")
            inner = s[i + 1:j].strip()
            i = j + 1
            if inner.startswith("?(") and inner.endswith(")"):
                steps.append(("filter", inner[2:-1]))
            elif inner == "*":
                steps.append(("wild", None))
            elif ":" in inner and not inner.startswith(("'", '"')):
                parts = [p.strip() for p in inner.split(":")]
                steps.append(("slice", [int(p) if p else None for p in parts]))
            else:
                items = [p.strip() for p in _split_top(inner, ",")]
                if len(items) == 1 and items[0][:1] not in "'\"":
                    try:
                        steps.append(("index", int(items[0])))
                    except ValueError as e:
                        raise JSONPathError(f"invalid array index {items[0]}") from e
                elif len(items) == 1:
                    steps.append(("field", items[0][1:-1]))
                else:
                    steps.append(("union", [_parse_literal(p) for p in items]))
            continue
        if s[i].isspace():
            i += 1
            continue
        raise JSONPathError(f"unrecognized character in action: {s[i]!r}")
    return steps


def parse(template: str) -> list[_Node]:
    nodes: list[_Node] = []
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            nodes.append(_Node("text", template[i:]))
            break
        if start > i:
            nodes.append(_Node("text", template[i:start]))
        end, quote = start + 1, ""
        while end < len(template):
            ch = template[end]
            if quote:
                if ch == "\\":
                    end += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "}":
                break
            end += 1
        if end >= len(template):
            raise JSONPathError(f"unclosed action in {template!r}")
        action = template[start + 1:end].strip()
        i = end + 1
        if action == "end":
            nodes.append(_Node("end"))
        elif action.startswith("range "):
            nodes.append(_Node("range", steps=_parse_path(action[6:])))
        elif action[:1] in "'\"":
            nodes.append(_Node("literal", _unquote(action[1:-1]) if action[0] == '"' else action[1:-1]))
        elif action:
            nodes.append(_Node("path", steps=_parse_path(action)))
    return nodes


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(s: str) -> str:
    """strconv.Unquote's common escapes (a template's ``{"\\n"}``)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), s)


_FILTER_OPS = ("==", "!=", "<=", ">=", "<", ">")


def _compare(a: Any, op: str, b: Any) -> bool:
    if isinstance(a, int | float) and not isinstance(a, bool) and isinstance(b, str):
        try:
            b = float(b)
        except ValueError:
            return op == "!="
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False


def _filter(items: list[Any], cond: str) -> list[Any]:
    for op in _FILTER_OPS:
        left, sep, right = cond.partition(f" {op} ") if f" {op} " in cond else cond.partition(op)
        if sep:
            lsteps = _parse_path(left)
            rs = right.strip()
            out = []
            for it in items:
                lv = _walk([it], lsteps)
                rv = _walk([it], _parse_path(rs)) if rs.startswith("@") else [_parse_literal(rs)]
                if lv and rv and _compare(lv[0], op, rv[0]):
                    out.append(it)
            return out
    steps = _parse_path(cond)
    return [it for it in items if _walk([it], steps)]


def _recurse(v: Any) -> list[Any]:
    out = [v]
    if isinstance(v, dict):
        for x in v.values():
            out.extend(_recurse(x))
    elif isinstance(v, list):
        for x in v:
            out.extend(_recurse(x))
    return out


def _walk(values: list[Any], steps: list[tuple[str, Any]]) -> list[Any]:
    cur = values
    for kind, arg in steps:
        nxt: list[Any] = []
        if kind == "recurse":
            expanded = [x for v in cur for x in _recurse(v)]
            if arg is None:
                cur = expanded
                continue
            for v in expanded:
                if isinstance(v, dict):
                    if arg == "*":
                        nxt.extend(v.values())
                    elif arg in v:
                        nxt.append(v[arg])
            cur = nxt
            continue
        for v in cur:
            if kind == "field":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "wild":
                if isinstance(v, dict):
                    nxt.extend(v[k] for k in sorted(v))
                elif isinstance(v, list):
                    nxt.extend(v)
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "slice":
                if isinstance(v, list):
                    nxt.extend(v[slice(*arg)])
            elif kind == "union":
                for a in arg:
                    if isinstance(a, int) and isinstance(v, list) and -len(v) <= a < len(v):
                        nxt.append(v[a])
                    elif isinstance(v, dict) and a in v:
                        nxt.append(v[a])
            elif kind == "filter":
                if isinstance(v, list):
                    nxt.extend(_filter(v, arg))
        cur = nxt
    return cur


def text_of(v: Any) -> str:
    if isinstance(v, dict | list):
        return go_json(v, indent=None)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


def find(template: str, data: Any) -> list[list[Any]]:
    """The results of every action, in template order (for ``wait --for=jsonpath``)."""
    return [_walk([data], n.steps) for n in parse(template) if n.kind == "path"]


def execute(template: str, data: Any) -> str:
    """Render ``template`` against ``data`` as kubectl's JSONPath printer does."""
    nodes = parse(template)
    out: list[str] = []
    _run(nodes, 0, len(nodes), data, out)
    return "".join(out)


def _matching_end(nodes: list[_Node], start: int, stop: int) -> int:
    depth = 0
    for k in range(start, stop):
        if nodes[k].kind == "range":
            depth += 1
        elif nodes[k].kind == "end":
            if depth == 0:
                return k
            depth -= 1
    raise JSONPathError("not in range, nothing to end")


def _run(nodes: list[_Node], i: int, stop: int, data: Any, out: list[str]) -> None:
    while i < stop:
        n = nodes[i]
        if n.kind == "text" or n.kind == "literal":
            out.append(str(n.value))
        elif n.kind == "path":
            out.append(" ".join(text_of(v) for v in _walk([data], n.steps)))
        elif n.kind == "range":
            end = _matching_end(nodes, i + 1, stop)
            for v in _walk([data], n.steps):
                _run(nodes, i + 1, end, v, out)
            i = end
        elif n.kind == "end":
            raise JSONPathError("not in range, nothing to end")
        i += 1
