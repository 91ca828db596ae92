import numpy as np
import pytest

from helpers.claims import CLOSE, FAILS, HOLDS, WITHIN_NOISE, Claim, last_digit_unit


def test_last_digit_unit():
    assert last_digit_unit("0.53") == 0.01
    assert last_digit_unit("3.4") == pytest.approx(0.1)
    assert last_digit_unit("41") == 1


def test_hedged_claims_allow_one_unit_of_the_last_digit():
    claim = Claim("w", "around 0.53", "0.53")
    assert claim.tolerance == 0.01
    assert claim.verdict(0.5385) == HOLDS
    assert claim.verdict(0.54) == HOLDS          # exactly on the edge
    assert claim.verdict(0.545) == CLOSE
    assert claim.verdict(0.56) == FAILS


def test_exact_claims_allow_half_a_unit():
    claim = Claim("share", "3.4%", "3.4", kind="exact")
    assert claim.verdict(3.43) == HOLDS
    assert claim.verdict(3.2) == FAILS
    assert claim.rule() == "3.4 ± 0.05"


def test_bounds():
    claim = Claim("lr", "above 40", "40", kind="above")
    assert claim.verdict(39.5) == FAILS and claim.verdict(40.5) == HOLDS


def test_bad_claims():
    with pytest.raises(ValueError, match="^kind must"):
        Claim("x", "y", "1", kind="roughly")
    with pytest.raises(ValueError, match="^stated must"):
        Claim("x", "y", "about one")
    with pytest.raises(ValueError, match="^measured must"):
        Claim("x", "y", "1").verdict(float("nan"))


def test_a_verdict_over_seeds_rests_on_the_median_run():
    from helpers.claims import Claim
    claim = Claim("lr", "above 40", "40", kind="above")
    values = [41.5, 39.5, 41.0, 42.0, 45.0, 47.0, 50.0, 43.0, 44.0, 46.0]
    result = claim.over_seeds(values)
    assert result.verdict == HOLDS and result.median == 43.5
    assert (result.low, result.high) == (41.0, 47.0)         # ranks 2 and 9 of 10
    assert result.counts == {HOLDS: 9, CLOSE: 0, FAILS: 1} and result.share() == "9 of 10"
    # one seed cannot turn it: the claim fails on 39.5 alone, not over the seeds
    assert claim.verdict(39.5) == FAILS
    with pytest.raises(ValueError, match="at least 10 seeds"):
        claim.over_seeds(values[:5])


def test_a_median_within_its_noise_of_a_boundary_is_not_decided():
    claim = Claim("w", "near 0.15", "0.15")                       # holds within 0.14..0.16
    rng = np.random.default_rng(1)
    clear = 0.15 + 0.002 * rng.standard_normal(40)                # far from 0.14 and 0.16
    assert claim.over_seeds(clear).verdict == HOLDS and claim.over_seeds(clear).decided
    edge = 0.14 + 0.01 * rng.standard_normal(40)                  # straddles 0.14
    result = claim.over_seeds(edge)
    assert not result.decided and result.verdict == f"{HOLDS} / {CLOSE}: {WITHIN_NOISE}"
    assert result.low < 0.14 < result.high
    # the interval is the median's distribution-free one: order statistics 14 and 27 of 40
    ordered = np.sort(edge)
    assert (result.low, result.high) == (ordered[13], ordered[26])


def test_an_interval_around_the_stated_value_reaches_holds_even_with_far_ends():
    claim = Claim("ratio", "41x amplified", "41", kind="exact")       # holds within 40.5..41.5
    assert claim.verdicts_between(36.8, 42.6) == [HOLDS, CLOSE, FAILS]
    assert claim.verdicts_between(39.5, 40.2) == [CLOSE, FAILS]          # 40.2 nearest: close
    assert claim.verdicts_between(38.0, 39.5) == [FAILS]
    assert claim.verdicts_between(40.6, 41.4) == [HOLDS]
    values = np.concatenate([np.full(14, 36.8), np.full(12, 39.6), np.full(14, 42.6)])
    assert claim.over_seeds(values).verdict == f"{HOLDS} / {FAILS}: {WITHIN_NOISE}"
    above = Claim("lr", "above 40", "40", kind="above")
    assert above.verdicts_between(38.0, 41.0) == [HOLDS, FAILS]
