"""Student-t quantiles and seed bands, checked against an independent computation."""

import math

import numpy as np
import pytest

from helpers import seed_band, t_quantile
from helpers.stats import t_cdf


def t_density(t, df):
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm) * (1 + t * t / df) ** (-(df + 1) / 2)


def cdf_by_integration(t, df):
    """P(T <= t) by Simpson's rule on the density over [0, t] (an independent method)."""
    n = 20_000
    xs = np.linspace(0.0, abs(t), n + 1)
    ys = np.array([t_density(x, df) for x in xs])
    h = abs(t) / n
    area = h / 3 * (ys[0] + ys[-1] + 4 * ys[1:-1:2].sum() + 2 * ys[2:-1:2].sum())
    return 0.5 + math.copysign(area, t)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 19, 30, 99])
@pytest.mark.parametrize("t", [-2.5, 0.3, 1.0, 2.1, 4.0])
def test_t_cdf_matches_the_integrated_density(df, t):
    assert t_cdf(t, df) == pytest.approx(cdf_by_integration(t, df), abs=1e-10)


@pytest.mark.parametrize("df", [1, 2, 3, 5, 9, 19, 99])
@pytest.mark.parametrize("probability", [0.9, 0.95, 0.975, 0.995])
def test_t_quantile_inverts_the_cdf_to_1e12(df, probability):
    # df = 3 included: the docstring's "exact for whole-number df" is tested there too
    q = t_quantile(probability, df)
    assert cdf_by_integration(q, df) == pytest.approx(probability, abs=1e-10)
    assert t_quantile(1 - probability, df) == pytest.approx(-q, abs=1e-12)


def test_t_quantile_against_printed_tables():
    # Two-sided 95% critical values as printed in any statistics table (3 decimals).
    for df, printed in ((1, 12.706), (2, 4.303), (3, 3.182), (10, 2.228), (30, 2.042)):
        assert round(t_quantile(0.975, df), 3) == printed


def test_seed_band_is_the_t_interval():
    values = np.array([[1.0, 2.0], [3.0, 4.0], [2.0, 9.0]])
    band = seed_band(values)
    half = t_quantile(0.975, 2) * values.std(axis=0, ddof=1) / math.sqrt(3)
    np.testing.assert_allclose(band.mean, values.mean(axis=0))
    np.testing.assert_allclose(band.high - band.mean, half)
    assert band.n_seeds == 3


@pytest.mark.parametrize("values, kwargs, error, message", [
    ([[1.0, 2.0]], {}, ValueError, "at least 2 seeds"),
    ([3.0], {}, ValueError, "at least 2 seeds"),
    ([1.0, np.nan], {}, ValueError, "diverged run cannot be averaged"),
    ([1.0, 2.0], {"level": 1.5}, ValueError, "^level must lie in"),
    ([1.0, 2.0], {"level": True}, TypeError, "^level must be a number"),
    ([1.0, 2.0], {"axis": 3}, ValueError, "^axis must be an axis"),
    (["a", "b"], {}, TypeError, "must be a number or an array"),
])
def test_seed_band_refuses_what_it_cannot_answer(values, kwargs, error, message):
    with pytest.raises(error, match=message):
        seed_band(values, **kwargs)


@pytest.mark.parametrize("args, error", [((0.0, 3), ValueError), ((0.975, 0), ValueError),
                                         ((0.975, 2.5), TypeError), (("x", 3), TypeError)])
def test_t_quantile_refuses_bad_input(args, error):
    with pytest.raises(error):
        t_quantile(*args)


def test_paired_difference_sees_what_separate_intervals_miss():
    from helpers import paired_difference
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 1.0, 20)               # seed-to-seed noise both runs share
    a, b = shared + 0.1 + rng.normal(0, 0.01, 20), shared + rng.normal(0, 0.01, 20)
    separate_a, separate_b = seed_band(a), seed_band(b)
    assert separate_a.low < separate_b.high       # separate intervals overlap ...
    paired = paired_difference(a, b)
    assert paired.low > 0                         # ... the paired one excludes zero
    np.testing.assert_allclose(paired.mean, (a - b).mean())
    with pytest.raises(ValueError, match="same shape"):
        paired_difference(a, b[:5])


def test_difference_of_means_is_welch():
    from helpers.stats import difference_of_means
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([2.0, 2.5, 3.0, 3.5, 4.0, 4.5])
    band = difference_of_means(a, b)
    # Welch: se^2 = 1.6667/4 + 0.875/6 = 0.5625; dof = 0.5625^2 / (0.4167^2/3 + 0.1458^2/5)
    # = 5.09, rounded to 5
    se = np.sqrt(a.var(ddof=1) / 4 + b.var(ddof=1) / 6)
    assert band.mean == -0.75
    assert np.isclose(band.high - band.mean, t_quantile(0.975, 5) * se)
    with pytest.raises(ValueError, match="1-D with at least 2"):
        difference_of_means(a[:1], b)


def test_median_interval_covers_as_it_says_whatever_the_distribution():
    from helpers.stats import median_interval
    rng = np.random.default_rng(7)
    for n in (10, 21, 40):
        low, high, coverage = median_interval(rng.exponential(size=n))
        assert low <= high and coverage >= 0.95
        # Monte Carlo: a skewed distribution with a known median, ln 2
        hits = [lo <= np.log(2) <= hi for lo, hi, _ in
                (median_interval(rng.exponential(size=n)) for _ in range(3000))]
        assert abs(np.mean(hits) - coverage) < 0.015, (n, np.mean(hits), coverage)
    assert median_interval(np.arange(40.0))[:2] == (13.0, 26.0)     # ranks 14 and 27 of 40
    with pytest.raises(ValueError, match="needs more values"):
        median_interval([1.0, 2.0, 3.0])


def test_ratio_of_means_resamples_seeds_together():
    from helpers.stats import ratio_of_means
    rng = np.random.default_rng(1)
    b = rng.uniform(1, 2, size=40)
    ratio, low, high = ratio_of_means(2 * b, b)          # exactly 2 on every seed
    assert ratio == low == high == 2.0                    # paired: no spread at all
    a = b * rng.uniform(1.5, 2.5, size=40)
    ratio, low, high = ratio_of_means(a, b)
    assert low < ratio < high and ratio_of_means(a, b) == (ratio, low, high)   # repeatable
    with pytest.raises(ValueError, match="paired by seed"):
        ratio_of_means(a, b[:10])
