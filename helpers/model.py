"""The series' linear model, and the three things every training loop asks of a step.

* :func:`minibatch_gradient`: the gradient of the half mean squared error on a batch,
  ``X^T (X w - y) / B``; :func:`statistics_gradient`: the same from the batch's
  sufficient statistics, ``S (w - w*) - c`` with ``S = X^T X / B`` and
  ``c = X^T noise / B``; and :func:`expected_gradient`, its average over all batches
  (full-batch gradient descent): ``S = E[x x^T] = H`` and ``c = 0``.
* :func:`got_gradient`: did a weight receive a gradient on this step? ``|g|`` above
  :data:`GRAD_ZERO_TOL`.
* :func:`diverged`: has a weight blown up? Not finite, or ``|w|`` above
  :data:`DIVERGENCE_THRESHOLD`.

Each lives here once. ``train``, the many-run engine and the explorer all call them;
the compiled kernels (:mod:`helpers.kernels`) call :func:`got_gradient` and
:func:`diverged` too (both work on a single number as well as on arrays), so the two
constants cannot drift apart between the NumPy and the compiled paths.
"""

from __future__ import annotations

import numpy as np

from .validation import check_finite

GRAD_ZERO_TOL = 1e-9          # |g| above this counts as "the weight got a gradient"
DIVERGENCE_THRESHOLD = 1e6    # |w| above this, or not finite: the run has diverged


def got_gradient(grad):
    """Elementwise: True where a weight received a (non-zero) gradient."""
    return np.abs(grad) > GRAD_ZERO_TOL


def diverged(w):
    """Elementwise: True where a weight is not finite or larger than the threshold in
    magnitude (NaN fails every comparison, so it counts as diverged)."""
    return np.logical_not(np.abs(w) <= DIVERGENCE_THRESHOLD)


def minibatch_gradient(w, X, y, *, check: bool = True) -> np.ndarray:
    """Gradient of the half mean squared error on a batch: ``X^T (X w - y) / B``.

    ``w`` may carry leading run axes, shape ``(..., n)``. With one batch, X of shape
    ``(B, n)`` and y of shape ``(B,)``, every run sees it. With one batch per run along
    the first axis, X of shape ``(R, B, n)``, y of shape ``(R, B)`` and w of shape
    ``(R, ..., n)``: run r sees batch r. ``check=False`` skips the argument checks (for
    inner loops that have checked once)."""
    if check:
        w = check_finite("w", w, min_ndim=1)
        X = check_finite("X", X)
        y = check_finite("y", y)
        if X.ndim not in (2, 3) or X.shape[-1] != w.shape[-1]:
            raise ValueError(f"X must have shape (batch, {w.shape[-1]}) or (runs, batch, "
                             f"{w.shape[-1]}) to match w of shape {w.shape}, got shape {X.shape}")
        if y.shape != X.shape[:-1]:
            raise ValueError(f"y must have shape {X.shape[:-1]} (one target per sample of X), "
                             f"got shape {y.shape}")
        if X.ndim == 3 and (w.ndim < 2 or w.shape[0] != X.shape[0]):
            raise ValueError(f"with one batch per run (X of shape {X.shape}), w must have shape "
                             f"({X.shape[0]}, ..., {w.shape[-1]}), got shape {w.shape}")
    batch = X.shape[-2]
    if X.ndim == 2:
        residual = w @ X.T - y                          # (..., B)
        return residual @ X / batch                     # (..., n)
    runs, n = X.shape[0], X.shape[-1]
    flat = w.reshape(runs, -1, n)                       # (R, G, n): G settings per run
    residual = flat @ np.swapaxes(X, 1, 2) - y[:, None, :]      # (R, G, B)
    return (residual @ X).reshape(w.shape) / batch              # (R, ..., n)


def statistics_gradient(w, S, c, true_weights, *, check: bool = True) -> np.ndarray:
    """The gradient from a batch's sufficient statistics: ``S (w - w*) - c``, with
    ``S = X^T X / B`` (n, n) and ``c = X^T noise / B`` (n,) (see
    ``World.sample_statistics``). With one pair per run, S (R, n, n) and c (R, n), and w
    (R, ..., n): run r uses pair r."""
    if check:
        w = check_finite("w", w, min_ndim=1)
        n = w.shape[-1]
        S = check_finite("S", S)
        c = check_finite("c", c)
        true_weights = check_finite("true_weights", true_weights, shape=(n,))
        if S.shape[-2:] != (n, n) or S.ndim not in (2, 3) or c.shape != S.shape[:-1]:
            raise ValueError(f"S must have shape ({n}, {n}) or (runs, {n}, {n}) and c the same "
                             f"without the last axis, got {S.shape} and {c.shape}")
        if S.ndim == 3 and (w.ndim < 2 or w.shape[0] != S.shape[0]):
            raise ValueError(f"with one S per run, w must have shape ({S.shape[0]}, ..., {n}), "
                             f"got shape {w.shape}")
    error = w - true_weights
    if S.ndim == 2:
        return error @ S.T - c
    runs, n = S.shape[0], S.shape[-1]
    flat = error.reshape(runs, -1, n)                               # (R, G, n)
    return (flat @ np.swapaxes(S, 1, 2) - c[:, None, :]).reshape(w.shape)


def expected_gradient(w, hessian, true_weights, *, check: bool = True) -> np.ndarray:
    """The gradient averaged over all batches (full-batch gradient descent): with
    ``H = E[x x^T]`` it is ``H (w - w*)``; the label noise averages out.

    ``w`` may carry leading run axes, shape ``(..., n)``; ``hessian`` is ``(n, n)``
    (e.g. ``world.expected_hessian()``)."""
    if check:
        w = check_finite("w", w, min_ndim=1)
        hessian = check_finite("hessian", hessian, shape=(w.shape[-1],) * 2)
    return statistics_gradient(w, hessian, np.zeros(hessian.shape[0]), true_weights,
                               check=check)


def newly_diverged(w_new, alive, all_alive: bool):
    """Runs (leading axes of ``w_new``) that diverged at this step; None when none did.

    The usual case, nothing diverged, costs one reduction; runs already dead (their
    weights NaN) are left out through ``alive``."""
    if all_alive:
        largest = np.abs(w_new).max()
    elif alive.any():
        largest = np.abs(w_new[alive]).max()
    else:
        return None
    if not diverged(largest):
        return None
    return np.any(diverged(w_new), axis=-1) & alive


def mark_diverged(w_new, newly, alive, diverged_at, step):
    """Record the step of the runs in ``newly`` (in place) and return the weights with
    every dead run frozen at NaN, so that no later step computes with them."""
    diverged_at[newly] = step
    alive &= ~newly
    return np.where(alive[..., None], w_new, np.nan)
