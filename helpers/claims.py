"""Set a stated claim beside a measured value and give a verdict by a fixed rule.

The rule, decided before looking at any measurement:
- a number stated with a hedge ("around 0.53", "about 15%") holds when the measurement
  is within one unit of the claim's last stated digit;
- a number stated bare ("3.4%", "41x") holds within half a unit of its last digit;
- a bound ("above 40") holds when the measurement is on the stated side;
- "close" means within twice the tolerance: right in spirit, not in the digits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .validation import check_choice, check_finite

HOLDS, CLOSE, FAILS = "holds", "close", "does not hold"


def last_digit_unit(stated: str) -> float:
    """The unit of the last digit of a number as written: '0.53' -> 0.01, '41' -> 1."""
    exponent = Decimal(stated).as_tuple().exponent
    return float(Decimal(1).scaleb(exponent))


@dataclass(frozen=True)
class Claim:
    quantity: str
    says: str              # the claim's words
    stated: str            # the number as written, e.g. "0.53"
    kind: str = "hedged"   # "hedged", "exact" or "above"

    def __post_init__(self):
        check_choice("kind", self.kind, ("hedged", "exact", "above"))
        try:
            last_digit_unit(self.stated)
        except ArithmeticError:
            raise ValueError(f"stated must be a number as written, got {self.stated!r}") from None

    @property
    def value(self) -> float:
        return float(self.stated)

    @property
    def tolerance(self) -> float:
        unit = last_digit_unit(self.stated)
        return {"hedged": unit, "exact": unit / 2, "above": 0.0}[self.kind]

    def verdict(self, measured: float) -> str:
        measured = float(check_finite("measured", measured, shape=()))
        if self.kind == "above":
            return HOLDS if measured > self.value else FAILS
        # Compare in Decimal-rounded form so 0.5385 vs 0.53 +- 0.01 is not decided by
        # binary floating-point noise at the edge.
        gap = round(abs(measured - self.value), 12)
        if gap <= self.tolerance:
            return HOLDS
        return CLOSE if gap <= 2 * self.tolerance else FAILS

    def rule(self) -> str:
        if self.kind == "above":
            return f"> {self.stated}"
        return f"{self.stated} ± {self.tolerance:g}"
