"""resource.Quantity as describe needs it: parse ``100m``/``1Gi``/``2e3``, add, and print canonically.

Why: ``kubectl describe node`` sums Pod requests and limits and prints them
(and their share of the node's allocatable) with Quantity.String(), which
re-canonicalizes (``1Gi + 512Mi`` is ``1536Mi``, ``0.1`` is ``100m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apimachinery import quantity

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SUFFIX_BY_EXP = {v: k for k, v in _DECIMAL.items()}


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    fmt: str = "DecimalSI"  # BinarySI | DecimalSI | DecimalExponent

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.fmt if self.value or not other.value else other.fmt)

    def milli_value(self) -> int:
        return int(-(-self.value * 1000 // 1))  # rounds up, as Quantity.MilliValue

    def int_value(self) -> int:
        return int(-(-self.value // 1))

    def __str__(self) -> str:
        v = self.value
        if v == 0:
            return "0"
        fmt = self.fmt
        if fmt == "BinarySI" and (-1024 < v < 1024 or v != v.to_integral_value()):
            fmt = "DecimalSI"
        if fmt == "BinarySI":
            n, exp = int(v), 0
            while exp < 6 and n % 1024 == 0:
                n //= 1024
                exp += 1
            suffix = next((k for k, e in _BINARY.items() if e == exp), "")
            return f"{n}{suffix}"
        exp = 0
        while exp < 18 and v == v.to_integral_value() and (v / 1000) == (v / 1000).to_integral_value() and v:
            v /= 1000
            exp += 3
        while exp > -9 and v != v.to_integral_value():
            v *= 1000
            exp -= 3
        mantissa = int(v.to_integral_value(rounding="ROUND_CEILING"))
        if fmt == "DecimalExponent":
            return f"{mantissa}" if exp == 0 else f"{mantissa}e{exp}"
        return f"{mantissa}{_SUFFIX_BY_EXP[exp]}"


ZERO = Quantity(Decimal(0))


def parse_quantity(text: str | int | float) -> Quantity:
    """ParseQuantity (apimachinery.quantity) as a Decimal, exact: the value is a whole number of nano units."""
    value, fmt = quantity.parse(str(text))
    return Quantity(Decimal(value.numerator * (quantity.NANO // value.denominator)).scaleb(-9), fmt)
