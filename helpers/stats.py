"""Statistics over seeds, without SciPy: Student-t intervals for a mean.

:func:`t_quantile` is exact (to about 1e-12) for whole-number degrees of freedom, the
only kind a mean over n seeds has (n - 1): it inverts the closed-form t distribution of
Abramowitz and Stegun (1964), 26.7.3-26.7.4, by bisection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .validation import check_finite, check_int, check_probability


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with ``df`` (a whole number >= 1) degrees of freedom."""
    df = check_int("df", df, minimum=1)
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
    target = abs(probability - 0.5) * 2           # P(|T| <= t) for the upper quantile
    low, high = 0.0, math.pi / 2                   # bisect on theta = atan(t / sqrt(df))
    for _ in range(200):
        middle = (low + high) / 2
        if 2 * t_cdf(math.sqrt(df) * math.tan(middle), df) - 1 < target:
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
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or \
            not -values.ndim <= axis < values.ndim:
        raise ValueError(f"axis must be an axis of values (shape {values.shape}), got {axis!r}")
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
    tail = np.cumsum([comb(n, j) for j in range(n + 1)]) / 2 ** n      # P(Binomial(n, 1/2) <= j)
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
    Returns ``(ratio, low, high)``; a fixed ``seed`` makes it print the same every run."""
    level = check_probability("level", level)
    a = check_finite("a", a, min_ndim=1)
    b = check_finite("b", b, min_ndim=1)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"a and b must be 1-D, paired by seed, with at least 2 seeds; got "
                         f"shapes {a.shape} and {b.shape}")
    pick = np.random.default_rng(seed).integers(0, a.size, size=(resamples, a.size))
    ratios = a[pick].mean(axis=1) / b[pick].mean(axis=1)
    low, high = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return float(a.mean() / b.mean()), float(low), float(high)
