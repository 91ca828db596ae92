"""Statistics over seeds, without SciPy: Student-t intervals for a mean.

:func:`t_quantile` is exact (to about 1e-12) for whole-number degrees of freedom, the
only kind a mean over n seeds has (n - 1): it inverts the closed-form t distribution of
Abramowitz and Stegun (1964), 26.7.3-26.7.4, by bisection. That sum has about df / 2
terms, so above :data:`EXACT_MAX_DF` degrees of freedom both functions use the
Cornish-Fisher expansion of the t quantile in powers of 1 / df around the normal one
(Abramowitz and Stegun 26.7.5, four terms): its first neglected term is of order
df**-5, far below 1e-12 there, and the answer takes microseconds whatever df.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .validation import (check_allocation, check_axis, check_finite, check_int,
                         check_probability, check_real)

EXACT_MAX_DF = 10_000      # above this, the expansion (see the module's docstring)


def _normal_quantile(probability: float) -> float:
    """The standard normal quantile, by bisection on ``math.erfc`` (to a few 1e-16)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        if 0.5 * math.erfc(-middle / math.sqrt(2)) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-15 * max(1.0, abs(middle)):
            break
    return (low + high) / 2


def _cornish_fisher(x: float, df: int) -> tuple[float, float]:
    """The t quantile whose normal quantile is ``x`` (A&S 26.7.5), and its derivative in x."""
    x2 = x * x
    terms = ((x2 + 1) / 4,
             (5 * x2 * x2 + 16 * x2 + 3) / 96,
             (3 * x2 ** 3 + 19 * x2 * x2 + 17 * x2 - 15) / 384,
             (79 * x2 ** 4 + 776 * x2 ** 3 + 1482 * x2 * x2 - 1920 * x2 - 945) / 92160)
    slopes = ((3 * x2 + 1) / 4,
              (25 * x2 * x2 + 48 * x2 + 3) / 96,
              (21 * x2 ** 3 + 95 * x2 * x2 + 51 * x2 - 15) / 384,
              (711 * x2 ** 4 + 5432 * x2 ** 3 + 7410 * x2 * x2 - 5760 * x2 - 945) / 92160)
    value, slope = x, 1.0
    for k, (term, term_slope) in enumerate(zip(terms, slopes), start=1):
        value += x * term / df ** k
        slope += term_slope / df ** k
    return value, slope


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with ``df`` (a whole number >= 1) degrees of freedom."""
    t = check_real("t", t)
    df = check_int("df", df, minimum=1)
    return _t_cdf(t, df)


def _t_cdf(t: float, df: int) -> float:
    if df > EXACT_MAX_DF:
        # The normal quantile x whose expansion gives t (Newton from x = t), then Phi(x).
        x = t
        for _ in range(50):
            value, slope = _cornish_fisher(x, df)
            step = (value - t) / slope
            x -= step
            if abs(step) < 1e-15 * max(1.0, abs(x)):
                break
        return 0.5 * math.erfc(-x / math.sqrt(2))
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:                      # A&S 26.7.3
        total, term = 0.0, c
        for k in range(1, (df - 1) // 2 + 1):
            if k > 1:
                term *= (2 * k - 2) / (2 * k - 1) * c * c
            total += term
        inside = (2 / math.pi) * (theta + s * total) if df > 1 else 2 * theta / math.pi
    else:                                # A&S 26.7.4
        total, term = 1.0, 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c * c
            total += term
        inside = s * total
    # `inside` is P(|T| <= |t|)
    return 0.5 + math.copysign(inside / 2, t)


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom."""
    probability = check_probability("probability", probability)
    df = check_int("df", df, minimum=1)
    if probability == 0.5:
        return 0.0
    if df > EXACT_MAX_DF:
        # From the lower tail, min(p, 1 - p) (exact in floating point): symmetric, and
        # accurate far out in the tails.
        upper = -_cornish_fisher(_normal_quantile(min(probability, 1 - probability)), df)[0]
        return upper if probability > 0.5 else -upper
    target = abs(probability - 0.5) * 2           # P(|T| <= t) for the upper quantile
    low, high = 0.0, math.pi / 2                   # bisect on theta = atan(t / sqrt(df))
    for _ in range(200):
        middle = (low + high) / 2
        if 2 * _t_cdf(math.sqrt(df) * math.tan(middle), df) - 1 < target:
            low = middle
        else:
            high = middle
        if high - low < 1e-15:
            break
    upper = math.sqrt(df) * math.tan((low + high) / 2)
    return upper if probability > 0.5 else -upper


@dataclass(frozen=True)
class Band:
    """Mean over seeds with a confidence interval for that mean (Student t)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    n_seeds: int


def seed_band(values, axis: int = 0, level: float = 0.95) -> Band:
    """Mean of ``values`` over ``axis`` (the seeds) with a ``level`` confidence interval
    for that mean: mean ± t(level, n-1) · sd / sqrt(n). Needs at least two seeds: one
    seed says nothing about the spread, and a band of zero width would claim it did."""
    level = check_probability("level", level)
    values = check_finite("values (a diverged run cannot be averaged)", values, min_ndim=1)
    axis = check_axis("axis", axis, values.ndim)
    n = values.shape[axis]
    if n < 2:
        raise ValueError(f"a band over seeds needs at least 2 seeds along axis {axis}, got {n}")
    mean = values.mean(axis=axis)
    half = t_quantile(0.5 + level / 2, n - 1) * values.std(axis=axis, ddof=1) / np.sqrt(n)
    return Band(mean, mean - half, mean + half, level, n)


def paired_difference(a, b, axis: int = 0, level: float = 0.95) -> Band:
    """Mean of ``a - b`` over ``axis`` (the seeds) with a ``level`` t interval.

    For two optimizers run on the *same* batches of each seed (common random numbers):
    the seed-to-seed noise they share cancels in the difference, so a ranking can rest on
    whether this interval excludes zero, which separate intervals for ``a`` and ``b``
    cannot show."""
    a = check_finite("a", a, min_ndim=1)
    b = check_finite("b", b, min_ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (paired by seed), got {a.shape} "
                         f"and {b.shape}")
    return seed_band(a - b, axis=axis, level=level)


def difference_of_means(a, b, level: float = 0.95) -> Band:
    """Mean of ``a`` minus mean of ``b`` with Welch's ``level`` interval: for two sets of
    runs that do *not* share their random draws (so :func:`paired_difference` does not
    apply), each a 1-D array over seeds. The degrees of freedom (Welch–Satterthwaite)
    are rounded to a whole number for the t quantile."""
    level = check_probability("level", level)
    a = check_finite("a", a, min_ndim=1)
    b = check_finite("b", b, min_ndim=1)
    if a.ndim != 1 or b.ndim != 1 or a.size < 2 or b.size < 2:
        raise ValueError(f"a and b must be 1-D with at least 2 values each, got shapes "
                         f"{a.shape} and {b.shape}")
    var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if var_a + var_b == 0:
        half = 0.0
    else:
        dof = (var_a + var_b) ** 2 / (var_a ** 2 / (a.size - 1) + var_b ** 2 / (b.size - 1))
        half = t_quantile(0.5 + level / 2, max(1, round(dof))) * np.sqrt(var_a + var_b)
    mean = a.mean() - b.mean()
    return Band(mean, mean - half, mean + half, level, min(a.size, b.size))


EXACT_MEDIAN_MAX_N = 2000      # median_interval: exact integer sums up to this many values


def median_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free confidence interval for the median of ``values`` (one value
    per seed): the order statistics ``k`` and ``n + 1 - k``, with ``k`` the largest rank
    whose Binomial(n, 1/2) tail stays within ``(1 - level) / 2``. Returns ``(low, high,
    coverage)``; the coverage is exact and at least ``level``. Needs no resampling, so it
    is the same on every run, and it does not undercover for small n as a bootstrap
    percentile interval of the median does."""
    from math import comb
    level = check_probability("level", level)
    values = check_finite("values", values, min_ndim=1)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D (one value per seed), got shape {values.shape}")
    n = values.size
    if n <= EXACT_MEDIAN_MAX_N:
        tail = np.cumsum([comb(n, j) for j in range(n + 1)]) / 2 ** n  # P(Binomial(n, 1/2) <= j)
    else:
        # Exact sums of binomial coefficients grow as n**2 digit operations; beyond a few
        # thousand values the tail is summed in floating point (log-space terms), to about
        # 1e-12: the same order statistics unless the tail lies that close to the level.
        j = np.arange(n)
        log_pmf = np.concatenate([[0.0], np.cumsum(np.log(n - j) - np.log(j + 1))]) \
            - n * math.log(2)
        tail = np.cumsum(np.exp(log_pmf))
    k = int(np.searchsorted(tail, (1 - level) / 2, side="right"))       # P(Bin <= k - 1) <= ...
    if k < 1:
        raise ValueError(f"a {level:.0%} interval for the median needs more values: with "
                         f"n = {n} even the smallest and largest cover only "
                         f"{1 - 2 / 2 ** n:.1%}")
    ordered = np.sort(values)
    return float(ordered[k - 1]), float(ordered[n - k]), float(1 - 2 * tail[k - 1])


def ratio_of_means(a, b, level: float = 0.95, resamples: int = 4000,
                   seed: int = 0) -> tuple[float, float, float]:
    """``mean(a) / mean(b)`` for paired runs (``a[s]`` and ``b[s]`` on the same batches of
    seed ``s``), with a percentile bootstrap interval that resamples the seeds together.
    Returns ``(ratio, low, high)``; a fixed ``seed`` makes it print the same every run.
    ``resamples`` is at most 1,000,000."""
    level = check_probability("level", level)
    resamples = check_int("resamples", resamples, minimum=100, maximum=1_000_000)
    seed = check_int("seed", seed, minimum=0)
    a = check_finite("a", a, min_ndim=1)
    b = check_finite("b", b, min_ndim=1)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"a and b must be 1-D, paired by seed, with at least 2 seeds; got "
                         f"shapes {a.shape} and {b.shape}")
    check_allocation(f"{resamples:,} resamples of {a.size:,} seeds", 8.0 * 3 * resamples * a.size,
                     advice="use fewer resamples")
    pick = np.random.default_rng(seed).integers(0, a.size, size=(resamples, a.size))
    ratios = a[pick].mean(axis=1) / b[pick].mean(axis=1)
    low, high = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return float(a.mean() / b.mean()), float(low), float(high)
