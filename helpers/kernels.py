"""Compiled inner loops (Numba) for the two places where Python's cost per step is the
bottleneck: the engine's minibatch gradients for many runs at once, and the explorer's
single runs of a few thousand steps.

Each kernel has a plain NumPy counterpart elsewhere in ``helpers`` (the formula
``X^T (X w - y) / B`` and the updates in ``optimizers``), and tests check that the two
agree to rounding. Kernels compile on first use and are cached next to this file, so
later processes load them in a fraction of a second. ``nogil=True`` lets the engine's
threads run kernels in parallel."""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(nogil=True, cache=True)

# Optimizer codes of run_single, in the order of helpers.optimizers.
SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM, SIGN_DESCENT = range(6)
KIND_CODES = {"sgd": SGD, "momentum": MOMENTUM, "adagrad": ADAGRAD, "rmsprop": RMSPROP,
              "adam": ADAM, "sign_descent": SIGN_DESCENT}


@_jit
def _fill_present(tokens, thresholds, present):
    """present[i, j] = 1.0 when token i is in sample j (tokens (n, B) raw integers)."""
    n, B = tokens.shape
    for i in range(n):
        for j in range(B):
            present[i, j] = 1.0 if tokens[i, j] < thresholds[i] else 0.0


@_jit
def _gradient(present, w, true_w, noise, residual, grad):
    """grad = X^T (X (w - w*) - noise) / B, in the order of the formula: first
    r_j = sum_i (w_i - w*_i) x_ij - noise_j, then grad_i = sum_j r_j x_ij / B. Inner loops
    run along the batch, which is contiguous."""
    n, B = present.shape
    residual[:] = 0.0
    for i in range(n):
        offset = w[i] - true_w[i]
        for j in range(B):
            residual[j] += offset * present[i, j]
    for j in range(B):
        residual[j] -= noise[j]
    for i in range(n):
        total = 0.0
        for j in range(B):
            total += residual[j] * present[i, j]
        grad[i] = total / B


@_jit
def batch_gradient(tokens, thresholds, w, true_w, noise, grad, grad_nonzero_steps, zero_tol):
    """Minibatch gradients of the linear model for S runs x G settings, in place.

    tokens (S, n, B) uint32 raw integers (token i is in sample j when
    tokens[s, i, j] < thresholds[i]); w, grad, grad_nonzero_steps (S, G, n); noise (S, B)
    is the label noise, y = x . w* + noise. A weight whose |grad| > zero_tol counts a
    step with a gradient."""
    S, n, B = tokens.shape
    G = w.shape[1]
    present = np.empty((n, B))
    residual = np.empty(B)
    for s in range(S):
        _fill_present(tokens[s], thresholds, present)
        for g in range(G):
            _gradient(present, w[s, g], true_w, noise[s], residual, grad[s, g])
            for i in range(n):
                if abs(grad[s, g, i]) > zero_tol:
                    grad_nonzero_steps[s, g, i] += 1


@_jit
def run_single(kind, hyper, tokens, thresholds, noise, true_w, zero_tol, divergence_threshold,
               weights, grad_nonzero_steps, state):
    """One run of one optimizer from w = 0, every step, as helpers.optimizers computes it.

    hyper = (lr, beta1, beta2, eps, bias_correction); each optimizer reads what it uses
    (momentum's beta is beta1, RMSProp's beta is beta2). tokens (T, n, B), noise (T, B).
    Fills weights (T, n) after each step, grad_nonzero_steps (n) and state (2, n): the
    optimizer's memory after the last step (Adam: m, v; momentum: buf; AdaGrad: sum of
    squares; RMSProp: v). Returns the step at which the run diverged (a weight non-finite
    or above the threshold in magnitude), or 0; rows from that step on are NaN."""
    T, n, B = tokens.shape
    lr, beta1, beta2, eps, bias_correction = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    w = np.zeros(n)
    grad = np.empty(n)
    first = state[0]
    second = state[1]
    first[:] = 0.0
    second[:] = 0.0
    present = np.empty((n, B))
    residual = np.empty(B)
    for step in range(T):
        _fill_present(tokens[step], thresholds, present)
        _gradient(present, w, true_w, noise[step], residual, grad)
        t = step + 1
        for i in range(n):
            g = grad[i]
            if abs(g) > zero_tol:
                grad_nonzero_steps[i] += 1
            if kind == SGD:
                w[i] = w[i] - lr * g
            elif kind == MOMENTUM:
                first[i] = beta1 * first[i] + g
                w[i] = w[i] - lr * first[i]
            elif kind == ADAGRAD:
                second[i] = second[i] + g * g
                w[i] = w[i] - lr * g / (np.sqrt(second[i]) + eps)
            elif kind == RMSPROP:
                second[i] = beta2 * second[i] + (1 - beta2) * g * g
                w[i] = w[i] - lr * g / (np.sqrt(second[i]) + eps)
            elif kind == ADAM:
                first[i] = beta1 * first[i] + (1 - beta1) * g
                second[i] = beta2 * second[i] + (1 - beta2) * g * g
                if bias_correction:
                    m_hat = first[i] / (1 - beta1 ** t)
                    v_hat = second[i] / (1 - beta2 ** t)
                else:
                    m_hat = first[i]
                    v_hat = second[i]
                w[i] = w[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
            else:
                w[i] = w[i] - lr * np.sign(g)
        diverged = False
        for i in range(n):
            weights[step, i] = w[i]
            if not abs(w[i]) <= divergence_threshold:     # NaN fails this too
                diverged = True
        if diverged:
            weights[step:] = np.nan
            return t
    return 0
