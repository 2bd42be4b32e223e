"""resource.Quantity: parse like k8s.io/apimachinery and print the canonical form; the one quantity parser.

Why: kube-apiserver never stores what the user typed for a quantity; it
stores ``CanonicalizeBytes`` of the parsed value (``1000m`` -> ``1``,
``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``). Controllers compare stored
objects, so two spellings of one amount must end up as one string.

Invariant: ``canonical(canonical(s)) == canonical(s)``; values finer than
a nano unit round up (away from zero) to the next nano, as Go does.
"""

from __future__ import annotations

import functools
from fractions import Fraction

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_WRONG = "unable to parse quantity's suffix"

_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_OUT = {v: k for k, v in _DECIMAL.items()}
_BINARY_OUT = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
NANO = 10**9  # the finest unit a Quantity keeps


class QuantityError(ValueError):
    """ParseQuantity failed; ``str(err)`` is Go's error text."""


def _split(s: str) -> tuple[bool, str, str, str]:
    """parseQuantityString: (positive, integer digits, fraction digits, suffix)."""
    pos, end, positive = 0, len(s), True
    if s[0] in "+-":
        positive = s[0] == "+"
        pos = 1
    while pos < end and s[pos] == "0":
        pos += 1
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, num, denom, s[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, like quantitySuffixer.interpret."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], "DecimalSI"
    if suffix in _BINARY:
        return 2, _BINARY[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        digits = rest[1:] if rest[0] in "+-" else rest
        if digits and all(c in _DIGITS for c in digits):
            return 10, int(rest), "DecimalExponent"
    raise QuantityError(SUFFIX_WRONG)


def _round_nano(v: Fraction) -> Fraction:
    scaled = v * NANO
    if scaled.denominator == 1:
        return v
    magnitude = -(-abs(scaled.numerator) // scaled.denominator)
    return Fraction(magnitude if v > 0 else -magnitude, NANO)


def _decimal(v: Fraction, fmt: str) -> str:
    """AsCanonicalBytes: integer mantissa, exponent a multiple of three."""
    if v == 0:
        return "0"
    exp = 0
    while v.denominator != 1:
        v *= 10
        exp -= 1
    mantissa = v.numerator
    while mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    shift = exp % 3
    mantissa *= 10**shift
    exp -= shift
    if fmt == "DecimalSI" and exp in _DECIMAL_OUT:
        return f"{mantissa}{_DECIMAL_OUT[exp]}"
    return f"{mantissa}e{exp}" if exp else str(mantissa)


def parse(text: str) -> tuple[Fraction, str]:
    """ParseQuantity: the exact value (rounded up to a nano unit, as Go does) and its format
    (``DecimalSI``, ``BinarySI`` or ``DecimalExponent``); raises QuantityError with Go's text."""
    s = text.strip()
    if not s:
        raise QuantityError(FORMAT_WRONG)
    if s == "0":
        return Fraction(0), "DecimalSI"
    positive, num, denom, suffix = _split(s)
    base, exponent, fmt = _interpret(suffix)
    v = Fraction(int(num + denom), 10 ** len(denom))
    v *= Fraction(base) ** exponent
    if not positive:
        v = -v
    return _round_nano(v), fmt


def value_of(value: object) -> Fraction | None:
    """A quantity field as read from a stored object (string or JSON number); None when it does not parse.

    Lenient on purpose: readers (QoS, describe) skip a malformed value rather than fail.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = repr(value)
    if not isinstance(value, str):
        return None
    try:
        return parse(value)[0]
    except QuantityError:
        return None


@functools.lru_cache(maxsize=4096)
def canonical(text: str) -> str:
    """Canonical spelling of a quantity string; raises QuantityError like ParseQuantity."""
    if text.strip() == "0":
        return "0"
    v, fmt = parse(text)
    if fmt == "BinarySI" and abs(v) >= 1024 and v.denominator == 1:
        mantissa, k = v.numerator, 0
        while mantissa % 1024 == 0 and k < 6:
            mantissa //= 1024
            k += 1
        return f"{mantissa}{_BINARY_OUT[k]}"
    return _decimal(v, "DecimalSI" if fmt == "BinarySI" else fmt)


def from_number(value: int | float) -> str:
    """Canonical quantity for a JSON number (its Python repr stands in for the literal)."""
    return canonical(repr(value))
