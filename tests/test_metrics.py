import numpy as np
import pytest

from helpers import (REFERENCE_WORLD, expected_sgd_weight, loglog_slope, make_rng, sgd,
                     steps_to_reach, train)
from helpers.metrics import final_error


def test_steps_to_reach():
    trajectory = np.array([[0.1, 0.0], [0.4, 0.2], [0.6, 0.3], [0.45, 0.3]])
    np.testing.assert_array_equal(steps_to_reach(trajectory, 0.5), [3, np.inf])
    assert steps_to_reach(trajectory[:, 0], 0.05) == 1


def test_loglog_slope_recovers_a_power_law():
    x = np.array([0.001, 0.01, 0.1, 1.0])
    assert loglog_slope(x, 3 * x ** -0.5) == pytest.approx(-0.5)


def test_expected_sgd_weight():
    w = expected_sgd_weight(0.05, [0.005, 0.001], [3000])
    np.testing.assert_allclose(w[0], 1 - np.exp(-0.05 * np.array([0.005, 0.001]) * 3000))
    assert round(w[0, 0], 3) == 0.528 and round(w[0, 1], 3) == 0.139


def test_final_error_refuses_a_diverged_run():
    result = train(sgd(np.array([[2.0]])), REFERENCE_WORLD, 200, make_rng(0),
                   w0=np.zeros((1, 6)), on_divergence="mark")
    with pytest.raises(ValueError, match="diverged"):
        final_error(result)


def test_loglog_slope_interval_brackets_the_true_exponent():
    from helpers import loglog_slope_interval
    rng = np.random.default_rng(3)
    p = np.array([0.1, 0.03, 0.01, 0.003, 0.001])
    # 16 seeds of times t = 10 / p with 10% multiplicative noise: exponent -1
    samples = 10 / p * np.exp(0.1 * rng.standard_normal((16, p.size)))
    slope, low, high = loglog_slope_interval(p, samples)
    assert low < -1 < high and low < slope < high and high - low < 0.1
    exact = loglog_slope_interval(p, np.tile(10 / p, (4, 1)))
    assert exact == pytest.approx((-1, -1, -1))


def test_loglog_slope_interval_refuses_runs_that_never_arrived():
    from helpers import loglog_slope_interval
    with pytest.raises(ValueError, match="never reached"):
        loglog_slope_interval([0.1, 0.01], [[10.0, np.inf], [12.0, 90.0]])
    with pytest.raises(ValueError, match="^samples must have shape"):
        loglog_slope_interval([0.1, 0.01], [[10.0, 20.0]])


def test_local_loglog_slopes_find_each_stretch_and_pair_their_replicates():
    from helpers.metrics import local_loglog_slopes
    x = np.array([0.1, 0.01, 0.001])
    rng = np.random.default_rng(0)
    noise = np.exp(0.05 * rng.standard_normal((40, 3)))
    bent = np.array([1.0, 10.0, 10 ** 1.5])                  # slopes -1, then -0.5
    estimate, replicates = local_loglog_slopes(x, bent * noise)
    assert replicates.shape == (2000, 2)
    np.testing.assert_allclose(estimate, [-1.0, -0.5], atol=0.05)
    # the same rows resampled for another arm on the same seeds: paired differences
    _, other = local_loglog_slopes(x, 2 * bent * noise)
    np.testing.assert_allclose(other, replicates, atol=1e-12)   # a constant factor cancels
    with pytest.raises(ValueError, match="samples must have shape"):
        local_loglog_slopes(x, np.ones((40, 2)))
