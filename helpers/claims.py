"""Set a stated claim beside a measured value and give a verdict by a stated rule.

The rule:
- a number stated with a hedge ("around 0.53", "about 15%") holds when the measurement
  is within one unit of the claim's last stated digit;
- a number stated bare ("3.4%", "41x") holds within half a unit of its last digit;
- a bound ("above 40") holds when the measurement is on the stated side;
- "close" means within twice the tolerance: right in spirit, not in the digits.

Over seeds (:meth:`Claim.over_seeds`): a claim about what a method produces is judged on
its *typical* run, the median over the seeds, by the same rule; beside it stand the
share of single runs that would pass and the verdict of the tutorial's own seed, so that
one seed can neither make nor break a verdict. The median is itself a measurement with
noise: when its 95% interval (distribution-free, :func:`helpers.stats.median_interval`)
reaches across a boundary of the rule (say from "holds" into "close"), the verdict is
that pair, marked as within noise ("holds / close: within noise"), not whichever side the
median happened to fall on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from .stats import median_interval
from .validation import check_choice, check_finite, check_real, check_text

HOLDS, CLOSE, FAILS = "holds", "close", "does not hold"
WITHIN_NOISE = "within noise"


def last_digit_unit(stated: str) -> float:
    """The unit of the last digit of a number as written: '0.53' -> 0.01, '41' -> 1."""
    if not isinstance(stated, str):
        raise TypeError(f"stated must be a number as written (a string such as '0.53'), got "
                        f"{stated!r}")
    try:
        number = Decimal(stated.strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValueError(f"stated must be a finite number as written, such as '0.53' or "
                         f"'41', got {stated!r}")
    return float(Decimal(1).scaleb(number.as_tuple().exponent))


@dataclass(frozen=True)
class SeedVerdict:
    """A claim judged over seeds: the verdict on the median run (or the two verdicts its
    95% interval ``low..high`` spans), and how many single runs hold, are close, or
    fail."""

    verdict: str
    median: float
    counts: dict
    n_seeds: int
    low: float = float("nan")
    high: float = float("nan")

    @property
    def decided(self) -> bool:
        """False when the median's interval reaches across a boundary of the rule."""
        return WITHIN_NOISE not in self.verdict

    def share(self, verdict: str = HOLDS) -> str:
        return f"{self.counts[verdict]} of {self.n_seeds}"


@dataclass(frozen=True)
class Claim:
    quantity: str
    says: str              # the claim's words
    stated: str            # the number as written, e.g. "0.53"
    kind: str = "hedged"   # "hedged", "exact" or "above"

    def __post_init__(self):
        check_text("quantity", self.quantity)
        check_text("says", self.says)
        check_choice("kind", self.kind, ("hedged", "exact", "above"))
        last_digit_unit(self.stated)

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

    def verdicts_between(self, low: float, high: float) -> list[str]:
        """Every verdict a measurement anywhere in ``[low, high]`` would get, best first.
        The verdict depends on the distance from the stated value alone (or, for a
        bound, on the side), so the nearest and the farthest point of the interval decide:
        an interval that contains the stated value reaches "holds" even when both its
        ends are far from it."""
        order = (HOLDS, CLOSE, FAILS)
        low, high = check_real("low", low), check_real("high", high)
        if low > high:
            raise ValueError(f"low must not be above high, got low {low!r} and high {high!r}")
        if self.kind == "above":
            found = {self.verdict(low), self.verdict(high)}
        else:
            inside = low <= self.value <= high
            nearest = self.value if inside else min((low, high), key=lambda x: abs(x - self.value))
            farthest = max((low, high), key=lambda x: abs(x - self.value))
            best, worst = order.index(self.verdict(nearest)), order.index(self.verdict(farthest))
            found = set(order[best:worst + 1])
        return sorted(found, key=order.index)

    def over_seeds(self, values) -> SeedVerdict:
        """The verdict on the median of ``values`` (one per seed), with the count of
        single runs for which each verdict holds. If the median's 95% interval spans
        several verdicts, the verdict names the best and the worst, "within noise"."""
        values = check_finite("values", values, min_ndim=1)
        if values.ndim != 1 or values.size < 10:
            raise ValueError(f"a verdict over seeds needs at least 10 seeds (a 1-D list), got "
                             f"shape {values.shape}")
        singles = [self.verdict(v) for v in values]
        median = float(np.median(values))
        low, high, _ = median_interval(values)
        order = (HOLDS, CLOSE, FAILS)
        spanned = self.verdicts_between(low, high)
        verdict = (spanned[0] if len(spanned) == 1
                   else f"{spanned[0]} / {spanned[-1]}: {WITHIN_NOISE}")
        return SeedVerdict(verdict, median, {v: singles.count(v) for v in order},
                           values.size, low, high)

    def rule(self) -> str:
        if self.kind == "above":
            return f"> {self.stated}"
        return f"{self.stated} ± {self.tolerance:g}"
