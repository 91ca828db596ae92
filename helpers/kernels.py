"""Compiled inner loops (Numba) for the two places where Python's per-step cost is the
bottleneck: the engine's minibatch gradients for many runs, and the explorer's single
runs of a few thousand steps.

Each kernel has a plain NumPy counterpart elsewhere in ``helpers`` (``engine``'s matrix
products, ``optimizers``), and tests check that the two agree to rounding. Kernels are
compiled on first use and cached next to this file, so later processes load them in
milliseconds. ``nogil=True`` lets the engine's threads run kernels in parallel."""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(nogil=True, cache=True, fastmath=False)


@_jit
def batch_gradient(tokens, thresholds, w, true_w, noise, grad, grad_nonzero_steps, zero_tol):
    """Minibatch gradients of the linear model for S runs x G settings, in place.

    tokens (S, n, B) uint32: token i is in sample j when tokens[s, i, j] < thresholds[i];
    w, grad, grad_nonzero_steps (S, G, n); noise (S, B) is the label noise, so that
    y = x . true_w + noise. grad = X^T (X w - y) / B, computed as X^T (X (w - w*) - noise)
    without forming X in floating point; a weight whose |grad| > zero_tol counts a step."""
    S, n, B = tokens.shape
    G = w.shape[1]
    present = np.empty((n, B))            # X^T of one run: 1.0 where a token is present
    residual = np.empty(B)
    for s in range(S):
        for i in range(n):
            for j in range(B):
                present[i, j] = 1.0 if tokens[s, i, j] < thresholds[i] else 0.0
        for g in range(G):
            # Inner loops run along the batch (contiguous), in the order of the formula:
            # r_j = sum_i (w_i - w*_i) x_ij - noise_j, then grad_i = sum_j r_j x_ij / B.
            residual[:] = 0.0
            for i in range(n):
                offset = w[s, g, i] - true_w[i]
                for j in range(B):
                    residual[j] += offset * present[i, j]
            for j in range(B):
                residual[j] -= noise[s, j]
            for i in range(n):
                total = 0.0
                for j in range(B):
                    total += residual[j] * present[i, j]
                value = total / B
                grad[s, g, i] = value
                if abs(value) > zero_tol:
                    grad_nonzero_steps[s, g, i] += 1
