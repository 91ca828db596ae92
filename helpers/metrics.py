"""Numbers the series measures: errors, exposure, effective learning rates, timings."""

from __future__ import annotations

import numpy as np

from .training import TrainResult
from .validation import (as_float_array, check_allocation, check_finite, check_frequencies,
                         check_int, check_positive, check_probability, check_real)


def _require_result(result) -> TrainResult:
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult from helpers.train, "
                        f"got {type(result).__name__}")
    if result.diverged:
        raise ValueError(
            f"{result.optimizer!r} diverged (first at step {int(result.diverged_at.max())}); "
            f"its final weights are not a measurement. Lower the learning rate."
        )
    return result


def final_error(result: TrainResult) -> np.ndarray:
    """``|w_final - w_true|`` per token."""
    result = _require_result(result)
    return np.abs(result.final_weights - result.world.true_weights)


def grad_nonzero_fraction(result: TrainResult) -> np.ndarray:
    """Fraction of steps on which each weight received a non-zero gradient."""
    result = _require_result(result)
    return result.grad_nonzero_steps / result.n_steps


def effective_lr(result: TrainResult) -> np.ndarray:
    """The step size an adaptive optimizer applies per unit of (normalised) gradient
    at the end of the run; for Adam ``lr / (sqrt(v_hat_final) + eps)``."""
    result = _require_result(result)
    return result.optimizer.derive("effective_lr", result.final_state)


def steps_to_reach(trajectory, threshold: float = 0.5) -> np.ndarray:
    """First step (1-based) at which a weight is >= ``threshold``; ``inf`` if never.

    ``trajectory`` has time on its first axis, e.g. ``result.weights`` or
    ``result.trajectory("thalweg")``."""
    trajectory = as_float_array("trajectory", trajectory)
    if trajectory.ndim < 1 or trajectory.shape[0] == 0:
        raise ValueError(f"trajectory must have time on a non-empty first axis, "
                         f"got shape {trajectory.shape}")
    threshold = check_real("threshold", threshold)
    reached = trajectory >= threshold
    first = np.argmax(reached, axis=0) + 1.0
    return np.where(reached.any(axis=0), first, np.inf)


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log10 y`` against ``log10 x`` (a power law's exponent)."""
    x = check_positive("x", x)
    y = check_positive("y", y)
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, "
                         f"got shapes {x.shape} and {y.shape}")
    if np.all(x == x[0]):
        raise ValueError("x must contain at least two different values to fit a slope")
    slope, _ = np.polyfit(np.log10(x), np.log10(y), 1)
    return float(slope)


def expected_sgd_weight(lr, frequencies, steps, true_weight: float = 1.0) -> np.ndarray:
    """Expected-gradient model of SGD from zero, ignoring the coupling between tokens:
    ``w_i(t) = w_true (1 - exp(-lr p_i t))``. Shape ``(len(steps), len(frequencies))``."""
    lr = check_positive("lr", lr)
    if np.ndim(lr) != 0:
        raise ValueError(f"lr must be a single number here, got an array of shape {np.shape(lr)}")
    p = check_frequencies("frequencies", np.atleast_1d(as_float_array("frequencies", frequencies)))
    t = np.atleast_1d(check_finite("steps", steps))
    if t.ndim != 1 or np.any(t < 0):
        raise ValueError(f"steps must be a 1-D list of step counts >= 0, got {t.tolist()[:6]}")
    true_weight = check_real("true_weight", true_weight)
    return true_weight * (1.0 - np.exp(-lr * np.outer(t, p)))


def loglog_slope_interval(x, samples, level: float = 0.95, n_boot: int = 2000,
                          seed: int = 0) -> tuple[float, float, float]:
    """Slope of ``log10 median(samples)`` against ``log10 x``, with a bootstrap interval.

    ``samples`` has one row per seed and one column per ``x``; the bootstrap resamples
    whole seeds (rows) with replacement, recomputes the medians and refits. Returns
    ``(slope, low, high)``."""
    x = np.atleast_1d(check_positive("x", x))
    if x.ndim != 1 or x.size < 2 or np.all(x == x[0]):
        raise ValueError(f"x must hold at least two different values, got {x.tolist()[:6]}")
    samples = as_float_array("samples", samples)
    if samples.ndim != 2 or samples.shape[1] != x.size or samples.shape[0] < 2:
        raise ValueError(f"samples must have shape (seeds >= 2, {x.size}), got {samples.shape}")
    if not np.all(np.isfinite(samples)) or np.any(samples <= 0):
        raise ValueError("samples must be finite and > 0 (a run that never reached the "
                         "threshold has no time to fit: run longer)")
    level = check_probability("level", level)
    n_boot = check_int("n_boot", n_boot, minimum=100, maximum=1_000_000)
    seed = check_int("seed", seed, minimum=0)
    check_allocation(f"{n_boot:,} bootstrap replicates of {samples.shape[0]:,} seeds",
                     8.0 * n_boot * samples.shape[0] * (samples.shape[1] + 1),
                     advice="use fewer bootstrap replicates (n_boot)")
    log_x = np.log10(x)
    centred = log_x - log_x.mean()

    def slopes(log_medians):         # least squares, many fits at once
        centred_medians = log_medians - log_medians.mean(axis=-1, keepdims=True)
        return centred_medians @ centred / (centred @ centred)

    slope = float(slopes(np.log10(np.median(samples, axis=0))))
    n_seeds = samples.shape[0]
    rows = np.random.default_rng(seed).integers(0, n_seeds, size=(n_boot, n_seeds))
    boot = slopes(np.log10(np.median(samples[rows], axis=1)))
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return slope, float(low), float(high)


def local_loglog_slopes(x, samples, n_boot: int = 2000, seed: int = 0):
    """Slopes of ``log median(samples)`` against ``log x`` between neighbouring ``x``: the
    estimates (``len(x) - 1``) and ``n_boot`` bootstrap replicates of them
    (``(n_boot, len(x) - 1)``), resampling whole seeds (rows of ``samples``).

    Every call with the same number of seeds, ``n_boot`` and ``seed`` resamples the *same*
    rows, so the replicates of two arms run on the same batches can be subtracted: the
    quantiles of the difference are a paired interval. A line fits where every local
    slope's interval holds its exponent (notebook 09)."""
    x = np.atleast_1d(check_positive("x", x))
    samples = as_float_array("samples", samples)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must hold at least two values, got {x.tolist()[:6]}")
    if samples.ndim != 2 or samples.shape[1] != x.size or samples.shape[0] < 2:
        raise ValueError(f"samples must have shape (seeds >= 2, {x.size}), got {samples.shape}")
    if not np.all(np.isfinite(samples)) or np.any(samples <= 0):
        raise ValueError("samples must be finite and > 0 (a run that never reached the "
                         "threshold has no time to fit: run longer)")
    n_boot = check_int("n_boot", n_boot, minimum=100, maximum=1_000_000)
    seed = check_int("seed", seed, minimum=0)
    check_allocation(f"{n_boot:,} bootstrap replicates of {samples.shape[0]:,} seeds",
                     8.0 * n_boot * samples.shape[0] * (samples.shape[1] + 1),
                     advice="use fewer bootstrap replicates (n_boot)")
    rows = np.random.default_rng(seed).integers(0, samples.shape[0],
                                                size=(n_boot, samples.shape[0]))

    def slopes(median):
        return np.diff(np.log(median), axis=-1) / np.diff(np.log(x))
    return slopes(np.median(samples, axis=0)), slopes(np.median(samples[rows], axis=1))
