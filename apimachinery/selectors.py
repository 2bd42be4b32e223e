"""Label and field selectors, parsed and matched the way kube-apiserver does.

Why: ``?labelSelector=`` / ``?fieldSelector=`` on list and watch, Service
``spec.selector`` and metav1.LabelSelector objects all decide which objects a
client sees, and kubectl users compare both the results and the error text
with a real cluster.  The grammar, the canonical ``String()`` form, the
matching rules (``!=`` and ``notin`` match a missing key) and every error
message follow k8s.io/apimachinery ``pkg/labels``, ``pkg/fields`` and
``pkg/util/validation`` as shipped with Kubernetes v1.32 (the version kubelite
reports).

Invariants:
- Selectors are immutable; the requirements are compiled once at
  construction so ``matches()`` (run for every watch event) is a tight loop
  over tuples with no parsing or allocation.
- Parse failures raise ``errors.bad_request`` carrying the exact message
  kube-apiserver sends (it passes the parser's error text through
  unchanged).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from apimachinery import errors

# ---------------------------------------------------------------------------
# Operators (k8s.io/apimachinery/pkg/selection)

DOES_NOT_EXIST = "!"
EQUALS = "="
DOUBLE_EQUALS = "=="
IN = "in"
NOT_EQUALS = "!="
NOT_IN = "notin"
EXISTS = "exists"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_UNARY_OPERATORS = (EXISTS, DOES_NOT_EXIST)
_VALID_OPERATORS = _BINARY_OPERATORS + _UNARY_OPERATORS

# metav1.LabelSelectorOperator -> selection.Operator
_OBJECT_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}

# ---------------------------------------------------------------------------
# Label key / value validation (k8s.io/apimachinery/pkg/util/validation)

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QNAME_MAX = 63
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MAX = 63
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MAX = 253

_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, including its odd ``',  or '`` spacing."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def _byte_len(s: str) -> int:
    """Go's len(): bytes, not characters."""
    return len(s.encode("utf-8", "surrogatepass"))


def _dns1123_subdomain_errors(value: str) -> list[str]:
    errs: list[str] = []
    if _byte_len(value) > _DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len_error(_DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def label_key_errors(key: str) -> list[str]:
    """validation.IsQualifiedName: the details for an invalid label key, [] if valid."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in _dns1123_subdomain_errors(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > _QNAME_MAX:
        errs.append("name part " + _max_len_error(_QNAME_MAX))
    if not _QNAME_RE.fullmatch(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue: the details for an invalid label value, [] if valid."""
    errs: list[str] = []
    if _byte_len(value) > _LABEL_VALUE_MAX:
        errs.append(_max_len_error(_LABEL_VALUE_MAX))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote(s: str) -> str:
    """strconv.Quote (%q): printable runes kept, the rest escaped Go-style."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x80 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _go_slice(values: tuple[str, ...]) -> str:
    """%#v of the []string handed to NewRequirement (nil when empty)."""
    if not values:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_go_quote(v) for v in values) + "}"


def _invalid(path: str, rendered_value: str, detail: str) -> str:
    """field.Invalid(...).Error()."""
    return f"{path}: Invalid value: {rendered_value}: {detail}"


def _aggregate(msgs: list[str]) -> str:
    """ErrorList.ToAggregate().Error(): one message, or ``[a, b]`` without duplicates."""
    unique = list(dict.fromkeys(msgs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _parse_int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): optional sign, ASCII digits, int64 range."""
    if not _INT64_RE.fullmatch(s):
        return None
    n = int(s)
    return n if _INT64_MIN <= n <= _INT64_MAX else None


# ---------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True, slots=True)
class Requirement:
    """One labels.Requirement: ``key operator values``.

    ``values`` keeps NewRequirement's order (sorted for parsed selectors);
    ``str()`` sorts them like Go's String().
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({vals})"
        sym = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{sym}{vals}"


def new_requirement(key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
    """labels.NewRequirement: validate and build; raises bad_request with Go's aggregate message."""
    vals = tuple(values)
    errs = _requirement_errors(key, operator, vals)
    if errs:
        raise errors.bad_request(_aggregate(errs))
    return Requirement(key, operator, vals)


def _requirement_errors(key: str, op: str, vals: tuple[str, ...]) -> list[str]:
    errs: list[str] = []
    key_errs = label_key_errors(key)
    if key_errs:
        errs.append(_invalid("key", _go_quote(key), "; ".join(key_errs)))
    if op in (IN, NOT_IN):
        if not vals:
            errs.append(_invalid("values", _go_slice(vals), "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_invalid("values", _go_slice(vals), "exact-match compatibility requires one single value"))
    elif op in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(
                _invalid("values", _go_slice(vals), "values set must be empty for exists and does not exist")
            )
    elif op in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(
                _invalid("values", _go_slice(vals), "for 'Gt', 'Lt' operators, exactly one value is required")
            )
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(
                    _invalid(f"values[{i}]", _go_quote(v), "for 'Gt', 'Lt' operators, the value must be an integer")
                )
    else:
        supported = ", ".join(_go_quote(o) for o in _VALID_OPERATORS)
        errs.append(f"operator: Unsupported value: {_go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(vals):
        value_errs = label_value_errors(v)
        if value_errs:
            errs.append(_invalid(f"values[{i}][{key}]", _go_quote(v), "; ".join(value_errs)))
    return errs


# compiled opcodes, checked in matches() in rough order of frequency
_OP_EQ, _OP_IN, _OP_NOTIN, _OP_EXISTS, _OP_NOT_EXISTS, _OP_GT, _OP_LT = range(7)
_OPCODES = {
    EQUALS: _OP_EQ,
    DOUBLE_EQUALS: _OP_EQ,
    IN: _OP_IN,
    NOT_EQUALS: _OP_NOTIN,
    NOT_IN: _OP_NOTIN,
    EXISTS: _OP_EXISTS,
    DOES_NOT_EXIST: _OP_NOT_EXISTS,
    GREATER_THAN: _OP_GT,
    LESS_THAN: _OP_LT,
}

_Compiled = tuple[int, str, frozenset[str], str, int]


def _compile(r: Requirement) -> _Compiled:
    code = _OPCODES.get(r.operator)
    if code is None:
        raise ValueError(f"unknown label selector operator {r.operator!r}")
    single = r.values[0] if len(r.values) == 1 else ""
    num = 0
    if code in (_OP_GT, _OP_LT):
        parsed = _parse_int64(single) if len(r.values) == 1 else None
        if parsed is None:
            raise ValueError(f"invalid {r.operator} requirement {r}")
        num = parsed
    if code == _OP_EQ and len(r.values) != 1:
        code = _OP_IN
    return (code, r.key, frozenset(r.values), single, num)


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """An AND of requirements (labels.internalSelector), or labels.Nothing().

    ``LabelSelector()`` selects everything; ``LabelSelector(selects_nothing=True)``
    selects nothing (metav1.LabelSelectorAsSelector(nil)).
    """

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False
    _compiled: tuple[_Compiled, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(_compile(r) for r in self.requirements))

    @property
    def empty(self) -> bool:
        """Selector.Empty(): true when it does not restrict (Nothing is not empty)."""
        return not self.requirements and not self.selects_nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.selects_nothing:
            return False
        if not labels:
            labels = {}
        get = labels.get
        for code, key, values, single, num in self._compiled:
            v = get(key)
            if code == _OP_EQ:
                if v is None or v != single:
                    return False
            elif code == _OP_IN:
                if v is None or v not in values:
                    return False
            elif code == _OP_NOTIN:
                if v is not None and v in values:
                    return False
            elif code == _OP_EXISTS:
                if v is None:
                    return False
            elif code == _OP_NOT_EXISTS:
                if v is not None:
                    return False
            else:
                n = _parse_int64(v) if isinstance(v, str) else None
                if n is None or (n <= num if code == _OP_GT else n >= num):
                    return False
        return True

    def exact_values(self, key: str) -> frozenset[str] | None:
        """Values ``key`` must take, from its =, == and in requirements (intersected).

        None when no such requirement names ``key`` (no index shortcut);
        an empty set when nothing can match.
        """
        if self.selects_nothing:
            return frozenset()
        result: frozenset[str] | None = None
        for code, k, values, _single, _num in self._compiled:
            if k == key and code in (_OP_EQ, _OP_IN):
                result = values if result is None else result & values
        return result

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> LabelSelector:
    """labels.Everything()."""
    return LabelSelector()


def nothing() -> LabelSelector:
    """labels.Nothing(): matches no labels, renders as ''."""
    return LabelSelector(selects_nothing=True)


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """labels.SelectorFromSet: ``k=v`` for each entry, no validation.

    A None or empty map selects EVERYTHING (Go semantics).  Callers with
    Service semantics, where an absent/empty ``spec.selector`` means "manage
    no endpoints", must check for that themselves before calling this.
    """
    if not labels:
        return LabelSelector()
    return LabelSelector(tuple(Requirement(k, EQUALS, (labels[k],)) for k in sorted(labels)))


def from_label_selector_object(obj: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, ``{}`` everything.

    Raises bad_request with Go's message for an unknown operator or an
    invalid key/value.
    """
    if obj is None:
        return LabelSelector(selects_nothing=True)
    match_labels = obj.get("matchLabels") or {}
    match_expressions = obj.get("matchExpressions") or []
    if not match_labels and not match_expressions:
        return LabelSelector()
    reqs: list[Requirement] = []
    for k in sorted(match_labels):
        reqs.append(new_requirement(k, EQUALS, (_require_str(match_labels[k], "matchLabels"),)))
    for expr in match_expressions:
        raw_op = _require_str(expr.get("operator") or "", "operator")
        op = _OBJECT_OPERATORS.get(raw_op)
        if op is None:
            raise errors.bad_request(f"{_go_quote(raw_op)} is not a valid label selector operator")
        key = _require_str(expr.get("key") or "", "key")
        values = tuple(_require_str(v, "values") for v in expr.get("values") or ())
        reqs.append(new_requirement(key, op, values))
    reqs.sort(key=lambda r: r.key)
    return LabelSelector(tuple(reqs))


def _require_str(value: Any, where: str) -> str:
    """JSON decoding would have refused a non-string here; say so instead of crashing."""
    if not isinstance(value, str):
        raise errors.bad_request(f"json: cannot unmarshal {type(value).__name__} into Go value of type string ({where})")
    return value


# --- the label selector lexer/parser (labels.Lexer / labels.Parser) ---------

_T_ERROR, _T_EOS, _T_CLOSE, _T_COMMA, _T_NOT, _T_DEQ, _T_EQ, _T_GT, _T_IDENT, _T_IN, _T_LT, _T_NEQ, _T_NOTIN, _T_OPEN = (
    range(14)
)
_STRING_TO_TOKEN = {
    ")": _T_CLOSE,
    ",": _T_COMMA,
    "!": _T_NOT,
    "==": _T_DEQ,
    "=": _T_EQ,
    ">": _T_GT,
    "in": _T_IN,
    "<": _T_LT,
    "!=": _T_NEQ,
    "notin": _T_NOTIN,
    "(": _T_OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_END = "\x00"  # Go's lexer reads byte 0 both past the end and for a literal NUL


def _lex(s: str) -> list[tuple[int, str]]:
    """Tokenize like labels.Lexer, including its NUL-as-end quirk."""
    items: list[tuple[int, str]] = []
    pos = 0
    n = len(s)

    def read() -> str:
        nonlocal pos
        if pos < n:
            pos += 1
            return s[pos - 1]
        return _END

    while True:
        ch = read()
        while ch in _WHITESPACE:
            ch = read()
        if ch == _END:
            items.append((_T_EOS, ""))
            return items
        pos -= 1
        buf: list[str] = []
        if ch in _SPECIAL:
            last: tuple[int, str] | None = None
            while True:
                c = read()
                if c == _END:
                    break
                if c in _SPECIAL:
                    buf.append(c)
                    tok = _STRING_TO_TOKEN.get("".join(buf))
                    if tok is not None:
                        last = (tok, "".join(buf))
                    elif last is not None:
                        pos -= 1
                        break
                else:
                    pos -= 1
                    break
            items.append(last if last is not None else (_T_ERROR, f"error expected: keyword found '{''.join(buf)}'"))
        else:
            while True:
                c = read()
                if c == _END:
                    break
                if c in _SPECIAL or c in _WHITESPACE:
                    pos -= 1
                    break
                buf.append(c)
            word = "".join(buf)
            items.append((_STRING_TO_TOKEN.get(word, _T_IDENT), word))


class _ParseError(Exception):
    pass


class _Parser:
    """labels.Parser over pre-scanned tokens; ``values`` context turns in/notin into identifiers."""

    def __init__(self, items: list[tuple[int, str]]) -> None:
        self.items = items
        self.pos = 0

    def lookahead(self, *, values: bool) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_T_IN, _T_NOTIN):
            tok = _T_IDENT
        return tok, lit

    def consume(self, *, values: bool) -> tuple[int, str]:
        item = self.lookahead(values=values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(values=True)
            if tok in (_T_IDENT, _T_NOT):
                try:
                    reqs.append(self.parse_requirement())
                except _ParseError as e:
                    raise _ParseError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.consume(values=True)
                if t == _T_EOS:
                    return reqs
                if t == _T_COMMA:
                    t2, lit3 = self.lookahead(values=True)
                    if t2 not in (_T_IDENT, _T_NOT):
                        raise _ParseError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise _ParseError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _T_EOS:
                return reqs
            else:
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, op = self.parse_key_and_infer_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return self.build(key, op, ())
        op = self.parse_operator()
        vals = self.parse_values() if op in (IN, NOT_IN) else self.parse_exact_value()
        return self.build(key, op, tuple(sorted(vals)))

    @staticmethod
    def build(key: str, op: str, vals: tuple[str, ...]) -> Requirement:
        errs = _requirement_errors(key, op, vals)
        if errs:
            raise _ParseError(_aggregate(errs))
        return Requirement(key, op, vals)

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume(values=True)
        if tok == _T_NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.consume(values=True)
        if tok != _T_IDENT:
            raise _ParseError(f"found '{lit}', expected: identifier")
        key_errs = label_key_errors(lit)
        if key_errs:
            # the parser validates with a nil *field.Path, which prints as <nil>
            raise _ParseError(_invalid("<nil>", _go_quote(lit), "; ".join(key_errs)))
        if self.lookahead(values=True)[0] in (_T_EOS, _T_COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def parse_operator(self) -> str:
        tok, lit = self.consume(values=False)
        op = {
            _T_IN: IN,
            _T_EQ: EQUALS,
            _T_DEQ: DOUBLE_EQUALS,
            _T_GT: GREATER_THAN,
            _T_LT: LESS_THAN,
            _T_NOTIN: NOT_IN,
            _T_NEQ: NOT_EQUALS,
        }.get(tok)
        if op is None:
            raise _ParseError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return op

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(values=True)
        if tok != _T_OPEN:
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(values=True)
        if tok in (_T_IDENT, _T_COMMA):
            vals = self.parse_identifiers_list()
            if self.consume(values=True)[0] != _T_CLOSE:  # unreachable in Go too
                raise _ParseError(f"found '{lit}', expected: ')'")
            return vals
        if tok == _T_CLOSE:
            self.consume(values=True)
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        """Kubernetes <= 1.34 behaviour: ``,,`` consumes the second comma, so ``(a,,)`` fails."""
        vals: set[str] = set()
        while True:
            tok, lit = self.consume(values=True)
            if tok == _T_IDENT:
                vals.add(lit)
                tok2, lit2 = self.lookahead(values=True)
                if tok2 == _T_COMMA:
                    continue
                if tok2 == _T_CLOSE:
                    return vals
                raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _T_COMMA:
                if not vals:
                    vals.add("")
                tok2 = self.lookahead(values=True)[0]
                if tok2 == _T_CLOSE:
                    vals.add("")
                    return vals
                if tok2 == _T_COMMA:
                    self.consume(values=True)
                    vals.add("")
            else:
                raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        if self.lookahead(values=True)[0] in (_T_EOS, _T_COMMA):
            return {""}
        tok, lit = self.consume(values=True)
        if tok == _T_IDENT:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


def parse_label_selector(s: str) -> LabelSelector:
    """labels.Parse: '' (or only whitespace) selects everything; errors -> 400 BadRequest."""
    try:
        reqs = _Parser(_lex(s)).parse()
    except _ParseError as e:
        raise errors.bad_request(str(e)) from None
    reqs.sort(key=lambda r: r.key)
    return LabelSelector(tuple(reqs))


# ---------------------------------------------------------------------------
# Field selectors (k8s.io/apimachinery/pkg/fields)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One fields term; ``operator`` is ``=`` (also for ``==``) or ``!=``."""

    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """An AND of field terms; a missing field reads as '' (fields.Set.Get)."""

    requirements: tuple[FieldRequirement, ...] = ()
    _compiled: tuple[tuple[str, str, bool], ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_compiled", tuple((r.field, r.value, r.operator == EQUALS) for r in self.requirements)
        )

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        get = fields.get
        for name, value, equal in self._compiled:
            if (get(name, "") == value) is not equal:
                return False
        return True

    def exact(self, field_name: str) -> str | None:
        """RequiresExactMatch: the value the first ``=``/``==`` term pins ``field_name`` to."""
        for name, value, equal in self._compiled:
            if equal and name == field_name:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    """fields.UnescapeValue, with its error messages (rune printed as a number, as %v does)."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise errors.bad_request(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            raise errors.bad_request(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise errors.bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_field_terms(s: str) -> list[str]:
    """splitTerms: split on commas not preceded by a backslash (the backslash stays)."""
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, c in enumerate(s):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def parse_field_selector(s: str) -> FieldSelector:
    """fields.ParseSelector: terms sorted, split at the first ``!=``/``==``/``=``; no whitespace trimming."""
    if not s:
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for part in sorted(_split_field_terms(s)):
        if not part:
            continue
        for i in range(len(part)):
            rest = part[i:]
            if rest.startswith("!="):
                op, width = NOT_EQUALS, 2
            elif rest.startswith("=="):
                op, width = EQUALS, 2
            elif rest.startswith("="):
                op, width = EQUALS, 1
            else:
                continue
            reqs.append(FieldRequirement(part[:i], op, _unescape_field_value(part[i + width :])))
            break
        else:
            raise errors.bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
    return FieldSelector(tuple(reqs))


def check_fields(sel: FieldSelector, allowed: Iterable[str]) -> None:
    """The apiserver's field label conversion: reject a term naming an unsupported field."""
    ok = set(allowed)
    for r in sel.requirements:
        if r.field not in ok:
            raise errors.bad_request(f"field label not supported: {r.field}")


#: Reads one selectable field of an object as the string a field selector compares
#: (a kind's GetAttrs / ToSelectableFields entry).
FieldReader = Callable[[Mapping[str, Any]], str]


def _dig(obj: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    cur: Any = obj
    for part in parts:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def field_string(value: Any) -> str:
    """How a field's value reads in a fields.Set: strings as-is, bools true/false, numbers decimal, else ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ""


def field_at(path: str) -> FieldReader:
    """A reader for the scalar at dotted ``path``: missing or non-scalar reads ''."""
    parts = tuple(path.split("."))

    def read(obj: Mapping[str, Any]) -> str:
        return field_string(_dig(obj, parts))

    return read


def bool_field_at(path: str) -> FieldReader:
    """A reader for a Go plain-bool field (``strconv.FormatBool``): absent reads ``false``, not ''."""
    parts = tuple(path.split("."))

    def read(obj: Mapping[str, Any]) -> str:
        value = _dig(obj, parts)
        return field_string(False if value is None else value)

    return read


#: generic.ObjectMetaFieldsSet: what every kind can be selected by.
OBJECT_META_FIELDS: Mapping[str, FieldReader] = MappingProxyType(
    {"metadata.name": field_at("metadata.name"), "metadata.namespace": field_at("metadata.namespace")}
)


def selectable_fields(declared: Iterable[tuple[str, FieldReader]]) -> dict[str, FieldReader]:
    """The fields a kind can be selected by: ObjectMeta's, then the kind's declared ones."""
    return {**OBJECT_META_FIELDS, **dict(declared)}


def object_fields(obj: Mapping[str, Any], readers: Mapping[str, FieldReader]) -> dict[str, str]:
    """The fields.Set a field selector is matched against (the registries' ToSelectableFields)."""
    return {name: read(obj) for name, read in readers.items()}


@dataclass(frozen=True, slots=True)
class FieldMatcher:
    """A field selector bound to one kind's readers: each term is (reader, value, is ``=``).

    Why: matched for every watch event, so it reads only the fields the
    selector names, each through its kind's reader directly (no fields.Set
    built, no lookup by name per event).
    """

    terms: tuple[tuple[FieldReader, str, bool], ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for read, value, equal in self.terms:
            if (read(obj) == value) is not equal:
                return False
        return True


def field_matcher(sel: FieldSelector | None, readers: Mapping[str, FieldReader]) -> FieldMatcher | None:
    """Bind ``sel`` to a kind's readers (from selectable_fields); None when it selects everything.

    A term naming a field the kind does not declare is the apiserver's 400
    ``field label not supported`` (check_fields).
    """
    if sel is None or sel.empty:
        return None
    check_fields(sel, readers)
    return FieldMatcher(tuple((readers[r.field], r.value, r.operator == EQUALS) for r in sel.requirements))
