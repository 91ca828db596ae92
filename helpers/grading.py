"""Checks for the exercises (``exercises/``): each takes a student's function or answer,
compares it with the series' own implementation, and on a mismatch raises
:class:`CheckFailed` with a message in plain words: what was expected, what came back,
and, for the usual mistakes (a missing bias correction, ε inside the square root, g
where g² belongs), what the mistake probably is.

A check that passes returns a short confirmation string, so a notebook cell can print it.
The messages never show a traceback from inside ``helpers``: CheckFailed is raised from
the check itself, and a student's own exception is reported by name and message."""

from __future__ import annotations

from collections.abc import Callable

from pathlib import Path

import numpy as np

from .optimizers import adagrad, adam
from .world import FREQUENCIES, REFERENCE, make_world


class CheckFailed(AssertionError):
    """A check of an exercise did not pass; the message says why, in plain words."""


def _fail(message: str):
    raise CheckFailed(message) from None


def _call(function: Callable, name: str, *args, context: str = "", **kwargs):
    """Calls the student's function; its own errors come back as a CheckFailed
    (``context`` says under what conditions, e.g. "with w of shape (3, 6)")."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        _fail(f"{name} is not written yet: it still raises NotImplementedError. "
              f"Replace `raise NotImplementedError()` with your code and run its cell again.")
    except CheckFailed:
        raise
    except Exception as error:      # reported, not re-raised: the student reads one message
        _fail(f"{name} raised {type(error).__name__}: {error}{context}")


def call(function: Callable, name: str, *args, context: str = "", **kwargs):
    """Call a student's function ``name`` for a check cell: a function that is not written
    yet, or that raises, becomes one plain :class:`CheckFailed` message instead of a
    traceback."""
    return _call(function, name, *args, context=context, **kwargs)


SERIES_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def series_links(*stems: str):
    """Links to the series' notebooks (``stems`` such as ``"02-plain-sgd"``), relative to
    the folder the kernel runs in, so that they work wherever the assignment was put
    (an nbgrader fetch copies it into the student's own folder). Falls back to the
    notebooks' names when the series' folder is not on this machine."""
    import json
    import os

    from IPython.display import Markdown

    parts = []
    for stem in stems:
        path = SERIES_NOTEBOOKS / f"{stem}.ipynb"
        if not path.is_file():
            parts.append(f"`{stem}.ipynb` (in the series' `notebooks/` folder)")
            continue
        first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"]
        title = "".join(first).splitlines()[0].lstrip("# ").strip()
        parts.append(f"[{title}]({Path(os.path.relpath(path, Path.cwd())).as_posix()})")
    return Markdown("Series notebooks: " + " and ".join(parts) + ".")


def passes(check: Callable, *args) -> bool:
    """True when ``check(*args)`` passes; a cell can then run a part that needs it."""
    try:
        check(*args)
    except CheckFailed:
        return False
    return True


def _as_array(value, what: str, shape) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(f"{what} should be an array of numbers, got {type(value).__name__}")
    if array.shape != tuple(shape):
        _fail(f"{what} should have shape {tuple(shape)} (the shape of w), got {array.shape}")
    if not np.all(np.isfinite(array)):
        _fail(f"{what} contains NaN or infinity: {np.array2string(array, precision=4)}")
    return array


def _fmt(array) -> str:
    return np.array2string(np.asarray(array, dtype=float), precision=6, separator=", ")


# --- exercise 1: Adam's update --------------------------------------------------------

def _adam_variants(w, g, m, v, t, lr, beta1, beta2, eps):
    """What a correct step and the usual wrong ones give: name -> (w, m, v)."""
    m_new = beta1 * m + (1 - beta1) * g
    v_new = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m_new / (1 - beta1 ** t), v_new / (1 - beta2 ** t)
    return {
        "correct": (w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new),
        "no bias correction": (w - lr * m_new / (np.sqrt(v_new) + eps), m_new, v_new),
        "eps inside the square root": (w - lr * m_hat / np.sqrt(v_hat + eps), m_new, v_new),
        "t off by one": (w - lr * (m_new / (1 - beta1 ** (t + 1)))
                         / (np.sqrt(v_new / (1 - beta2 ** (t + 1))) + eps), m_new, v_new),
        "plus instead of minus": (w + lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new),
    }


_ADAM_HINTS = {
    "no bias correction": "your step matches Adam *without* bias correction: divide m by "
                          "(1 - beta1**t) and v by (1 - beta2**t) before the update (m_hat, v_hat)",
    "eps inside the square root": "your step puts eps inside the square root: it belongs "
                                  "outside, w - lr * m_hat / (sqrt(v_hat) + eps)",
    "t off by one": "your bias correction uses the wrong t: t is the number of the step "
                    "being taken, 1 on the first step",
    "plus instead of minus": "your step goes uphill: subtract lr * m_hat / (sqrt(v_hat) + eps)",
}


def check_adam_step(adam_step: Callable) -> str:
    """``adam_step(w, g, m, v, t, lr, beta1, beta2, eps) -> (w, m, v)``, t starting at 1."""
    rng = np.random.default_rng(7)
    hp = dict(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8)
    w, g = rng.normal(size=6), rng.normal(size=6)
    g[4] = 0.0                                  # a weight whose token was not in the batch
    m, v = np.zeros(6), np.zeros(6)
    inputs = [a.copy() for a in (w, g, m, v)]
    result = _call(adam_step, "adam_step", w, g, m, v, 1, **hp)
    if not isinstance(result, tuple) or len(result) != 3:
        _fail(f"adam_step should return three arrays (w, m, v) as a tuple, "
              f"got {type(result).__name__}"
              + (f" of length {len(result)}" if isinstance(result, tuple) else ""))
    _, new_m, new_v = (_as_array(r, f"returned {n}", (6,)) for r, n in zip(result, "wmv"))
    if any(not np.array_equal(a, b) for a, b in zip((w, g, m, v), inputs)):
        _fail("adam_step changed one of its inputs in place; build new arrays instead "
              "(e.g. m_new = beta1 * m + (1 - beta1) * g), so the caller's arrays stay as "
              "they were")
    variants = _adam_variants(w, g, m, v, 1, **hp)
    if not np.allclose(new_m, variants["correct"][1], rtol=1e-9, atol=1e-12):
        hint = (" It looks like m was not averaged: m_t = beta1 * m + (1 - beta1) * g."
                if np.allclose(new_m, g) else "")
        _fail(f"after step 1 from m = 0, m should be (1 - beta1) * g = "
              f"{_fmt(variants['correct'][1])}; yours is {_fmt(new_m)}.{hint}")
    if not np.allclose(new_v, variants["correct"][2], rtol=1e-9, atol=1e-15):
        hint = (" v must average the *squared* gradients, g * g."
                if np.allclose(new_v, (1 - hp["beta2"]) * g) else "")
        _fail(f"after step 1 from v = 0, v should be (1 - beta2) * g**2 = "
              f"{_fmt(variants['correct'][2])}; yours is {_fmt(new_v)}.{hint}")

    # Step 1 cannot tell a missing bias correction apart (m/v ratios cancel); step 3 can.
    w3, m3, v3 = w.copy(), m.copy(), v.copy()
    for t in (1, 2):
        w3, m3, v3 = _adam_variants(w3, g, m3, v3, t, **hp)["correct"]
    g3 = rng.normal(size=6)
    result = _call(adam_step, "adam_step", w3, g3, m3, v3, 3, **hp)
    got = _as_array(result[0], "returned w", (6,))
    variants = _adam_variants(w3, g3, m3, v3, 3, **hp)
    if not np.allclose(got, variants["correct"][0], rtol=1e-9, atol=1e-12):
        for name, hint in _ADAM_HINTS.items():
            if np.allclose(got, variants[name][0], rtol=1e-9, atol=1e-12):
                _fail(f"at step t = 3 the new w is wrong: {hint}.")
        _fail(f"at step t = 3 the new w should be {_fmt(variants['correct'][0])}; yours is "
              f"{_fmt(got)}. Check the update w - lr * m_hat / (sqrt(v_hat) + eps).")

    # Many steps of sparse gradients, on runs stacked along a leading axis.
    reference = adam(**hp)
    w_ref = np.zeros((3, 6))
    state = reference.init(w_ref)
    w_st, m_st, v_st = w_ref.copy(), w_ref.copy(), w_ref.copy()
    for t in range(1, 41):
        g = rng.normal(size=(3, 6)) * (rng.random((3, 6)) < 0.3)
        w_ref, state = reference.step(w_ref, g, state)
        result = _call(adam_step, "adam_step", w_st, g, m_st, v_st, t, **hp,
                       context=" (it works for one run, w of shape (6,), but not for three "
                               "runs stacked as w of shape (3, 6): use elementwise operations "
                               "on whole arrays, not indexing by weight)")
        w_st, m_st, v_st = (_as_array(r, f"returned {n} (with w of shape (3, 6))", (3, 6))
                            for r, n in zip(result, "wmv"))
        if not np.allclose(w_st, w_ref, rtol=1e-9, atol=1e-12):
            _fail(f"with w of shape (3, 6) (three runs) and sparse gradients, w differs from "
                  f"Adam's at step {t}: expected {_fmt(w_ref[0])} in the first run, yours "
                  f"{_fmt(w_st[0])}. Use elementwise operations only.")
    return "adam_step: correct on the first step, at t = 3 and over 40 sparse steps of 3 runs."


def check_effective_lr(effective_lr: Callable) -> str:
    """``effective_lr(v, t, lr, beta2, eps)``: Adam's lr / (sqrt(v_hat) + eps)."""
    v = np.array([4e-2, 1e-3, 2.5e-5, 0.0])
    for t, lr, beta2, eps in ((3000, 0.05, 0.999, 1e-8), (10, 0.01, 0.99, 1e-3)):
        got = _as_array(_call(effective_lr, "effective_lr", v, t, lr, beta2, eps),
                        "effective_lr", v.shape)
        expected = lr / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        if not np.allclose(got, expected, rtol=1e-9):
            no_correction = lr / (np.sqrt(v) + eps)
            hint = (" It matches lr / (sqrt(v) + eps): v needs its bias correction, "
                    "v_hat = v / (1 - beta2**t)."
                    if np.allclose(got, no_correction, rtol=1e-9) else "")
            _fail(f"for v = {_fmt(v)}, t = {t}, lr = {lr}, beta2 = {beta2}, eps = {eps}: expected "
                  f"{_fmt(expected)}, yours {_fmt(got)}.{hint}")
    return "effective_lr: correct, including v = 0 (where it is lr / eps)."


# --- exercise 2: predicting SGD, and where it diverges ----------------------------------

def check_predicted_weight(predicted_weight: Callable) -> str:
    """``predicted_weight(p, lr, t)``: the expected-gradient model 1 - exp(-lr p t)."""
    cases = [(0.001, 0.05, 3000), (0.005, 0.05, 3000), (0.95, 0.05, 10), (0.2, 0.01, 0)]
    for p, lr, t in cases:
        got = _call(predicted_weight, "predicted_weight", p, lr, t)
        expected = 1 - np.exp(-lr * p * t)
        discrete = 1 - (1 - lr * p) ** t          # the same model, step by step
        if not (np.isclose(got, expected, rtol=1e-6, atol=1e-9)
                or np.isclose(got, discrete, rtol=1e-6, atol=1e-9)):
            hint = ""
            if np.isclose(got, np.exp(-lr * p * t), rtol=1e-6):
                hint = " That is the distance still to go; the weight is 1 minus it."
            elif np.isclose(got, lr * p * t, rtol=1e-6):
                hint = (" That is the straight line of the first steps; the gap to the true "
                        "weight shrinks by a factor (1 - lr * p) each step, so it decays "
                        "exponentially.")
            _fail(f"for p = {p}, lr = {lr}, t = {t} the model gives {expected:.6f}; yours gives "
                  f"{float(np.asarray(got)):.6f}.{hint}")
    return "predicted_weight: matches w(t) = 1 - exp(-lr p t)."


def check_expected_hessian(expected_hessian: Callable) -> str:
    """``expected_hessian(p) -> E[x x^T]`` for independent 0/1 tokens."""
    for p in (np.array(FREQUENCIES), np.array([0.5, 0.1])):
        got = _as_array(_call(expected_hessian, "expected_hessian", p), "expected_hessian(p)",
                        (p.size, p.size))
        expected = make_world(p).expected_hessian()
        if not np.allclose(np.diag(got), p):
            _fail(f"the diagonal of E[x x^T] should be p itself ({_fmt(p)}): x_i * x_i = x_i for "
                  f"a 0/1 feature, so E[x_i^2] = p_i. Yours is {_fmt(np.diag(got))}.")
        if not np.allclose(got, expected):
            _fail(f"the off-diagonal entries should be p_i * p_j (tokens appear independently), "
                  f"e.g. {expected[0, 1]:.6f} at [0, 1]; yours is {got[0, 1]:.6f}.")
    return "expected_hessian: diagonal p_i, off-diagonal p_i p_j."


def check_stability_limit(stability_limit: Callable) -> str:
    """``stability_limit(hessian) -> float``: the largest stable learning rate of gradient
    descent on a quadratic with this Hessian, 2 / lambda_max. Called with the reference
    world's Hessian (not the student's part C), so that a slip there costs only part C."""
    hessian = make_world().expected_hessian()
    top = np.linalg.eigvalsh(hessian).max()
    limit = _call(stability_limit, "stability_limit", hessian.copy(),
                  context=" (called with the reference world's expected Hessian)")
    try:
        value = float(limit)
    except (TypeError, ValueError):
        _fail(f"stability_limit should return a number, got {type(limit).__name__}")
    if np.isclose(value, 1 / top, rtol=1e-3):
        _fail("that is 1 / lambda_max; gradient descent on a quadratic is stable while "
              "lr < 2 / lambda_max (each step multiplies the error along the top eigenvector "
              "by 1 - lr * lambda_max)")
    if not np.isclose(value, 2 / top, rtol=1e-3):
        _fail(f"for the reference world's Hessian, 2 / lambda_max is {2 / top:.4f}; yours is "
              f"{value:.4f} (the check allows 0.1%). Use the largest eigenvalue "
              f"(np.linalg.eigvalsh(hessian).max()).")
    return f"stability limit: 2 / lambda_max = {2 / top:.3f}."


def check_divergence_lr(first_diverging_lr: float, grid) -> str:
    """The smallest lr of ``grid`` at which SGD diverges on the reference world (seed 0)."""
    from .optimizers import sgd
    from .streams import make_rng
    from .training import train
    grid = np.sort(np.asarray(grid, dtype=float))
    diverging = []
    for lr in grid:
        result = train(sgd(float(lr)), make_world(), REFERENCE.n_steps, make_rng(0),
                       on_divergence="mark")
        if result.diverged:
            diverging.append(float(lr))
    if not diverging:
        _fail("SGD diverges at none of the rates of your grid; extend it beyond 2 / lambda_max")
    if not np.isclose(float(first_diverging_lr), diverging[0]):
        _fail(f"on seed 0, the smallest rate of your grid at which SGD diverges is "
              f"{diverging[0]:g}; you found {float(first_diverging_lr):g}")
    return f"first diverging rate on the grid: {diverging[0]:g}."


# --- exercise 3: AdaGrad, and a world where tuned SGD fails ---------------------------------

def _arrays_in(state) -> list:
    """The NumPy arrays a student's state holds (a tuple, a named tuple, a dict or one
    array), in a fixed order, for the in-place check."""
    if isinstance(state, np.ndarray):
        return [state]
    if isinstance(state, dict):
        return [v for _, v in sorted(state.items()) if isinstance(v, np.ndarray)]
    if isinstance(state, (tuple, list)):
        return [v for v in state if isinstance(v, np.ndarray)]
    return []


def check_adagrad(adagrad_init: Callable, adagrad_step: Callable) -> str:
    """``adagrad_init(w) -> state``; ``adagrad_step(w, g, state, lr, eps) -> (w, state)``."""
    rng = np.random.default_rng(11)
    reference = adagrad(0.1, eps=1e-10)
    w_ref = np.zeros((2, 6))
    state_ref = reference.init(w_ref)
    w = w_ref.copy()
    state = _call(adagrad_init, "adagrad_init", w)
    for t in range(1, 31):
        g = rng.normal(size=(2, 6)) * (rng.random((2, 6)) < 0.4)
        w_ref, state_ref = reference.step(w_ref, g, state_ref)
        before = [np.array(a, copy=True) for a in (w, g, *_arrays_in(state))]
        result = _call(adagrad_step, "adagrad_step", w, g, state, 0.1, 1e-10)
        after = [w, g, *_arrays_in(state)]
        if any(not np.array_equal(a, b) for a, b in zip(before, after)):
            _fail(f"at step {t}, adagrad_step changed its w, g or state in place; return new "
                  f"arrays instead (e.g. new_sum = state_sum + g * g), so that the caller's "
                  f"arrays stay as they were: the step must be a pure function")
        if not isinstance(result, tuple) or len(result) != 2:
            _fail("adagrad_step should return (new_w, new_state)")
        w, state = _as_array(result[0], "returned w", (2, 6)), result[1]
        if not np.allclose(w, w_ref, rtol=1e-9, atol=1e-12):
            hint = (" AdaGrad keeps the *sum* of all squared gradients (no decay, no "
                    "averaging) and divides by (sqrt(sum) + eps): on the first step from a "
                    "zero sum a non-zero gradient moves its weight by lr * sign(g).")
            _fail(f"at step {t}, w differs from AdaGrad's: expected {_fmt(w_ref[0])} in the "
                  f"first run, yours {_fmt(w[0])}.{hint}")
    return "AdaGrad: correct over 30 sparse steps of 2 runs."


def check_hard_world(frequencies, seeds=range(5), n_steps: int = REFERENCE.n_steps) -> str:
    """A world where SGD, tuned below its stability limit, leaves a token far from its
    target (mean final error over seeds > 0.5) while Adam at lr 0.05 does at least twice
    as well on its own worst token."""
    from .engine import sweep
    from .optimizers import sgd
    try:
        world = make_world(frequencies)
    except ValueError as error:
        _fail(f"not a valid list of frequencies: {error}")
    if world.n_tokens > 12:
        _fail(f"use at most 12 tokens (you gave {world.n_tokens}), so the check stays fast")
    limit = 2 / np.linalg.eigvalsh(world.expected_hessian()).max()
    lrs = limit * np.array([0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95])
    result = sweep({"sgd": (sgd, {"lr": lrs}), "adam": (adam, {"lr": [0.05]})}, world,
                   seeds, n_steps, record_every=n_steps)
    sgd_arm = result["sgd"]
    ok = ~np.any(sgd_arm.diverged_at > 0, axis=0)
    worst_sgd = np.where(ok, sgd_arm.final_error().mean(axis=0).max(axis=-1), np.inf)
    best = int(np.argmin(worst_sgd))
    adam_error = result["adam"].final_error().mean(axis=0)[0]
    if worst_sgd[best] <= 0.5:
        _fail(f"tuned SGD copes with this world: at lr {lrs[best]:.3g} (its best below the "
              f"stability limit {limit:.3g}) every token ends within {worst_sgd[best]:.3f} of "
              f"its target on average. Make one token rarer, or the others more frequent.")
    if adam_error.max() >= 0.5 * worst_sgd[best]:
        _fail(f"Adam (lr 0.05) does not do much better: its worst token ends "
              f"{adam_error.max():.3f} from the target, against tuned SGD's "
              f"{worst_sgd[best]:.3f}. A token so rare that it almost never appears defeats "
              f"every optimizer; make it a little less rare.")
    return (f"a hard world: tuned SGD (lr {lrs[best]:.3g}) leaves a token {worst_sgd[best]:.2f} "
            f"from its target; Adam gets every token within {adam_error.max():.2f}.")
