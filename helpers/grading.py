"""Checks for the exercises (``exercises/``): each takes a student's function or answer,
compares it with the series' own implementation, and on a mismatch raises
:class:`CheckFailed` with a message in plain words: what was expected, what came back,
and, for the usual mistakes (a missing bias correction, ε inside the square root, g
where g² belongs), what the mistake probably is.

A check that passes returns a short confirmation string, so a notebook cell can print it.
The messages never show a traceback from inside ``helpers``: CheckFailed is raised from
the check itself, and a student's own exception is reported by name and message."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from .optimizers import adagrad, adam
from .softmax import log_softmax
from .world import FREQUENCIES, REFERENCE, make_world


class CheckFailed(AssertionError):
    """A check of an exercise did not pass; the message says why, in plain words."""


def _fail(message: str):
    raise CheckFailed(message) from None


HELPERS_DIR = Path(__file__).resolve().parent


@contextmanager
def _calls_into_helpers():
    """Records the names of the series' own functions (anything in ``helpers/`` but this
    module) that run while the block runs: a student's function that is meant to compute
    something by itself must not hand the work to the reference implementation."""
    seen: list[str] = []
    previous = sys.getprofile()

    def profile(frame, event, arg):
        if event == "call":
            path = Path(frame.f_code.co_filename)
            if path.parent == HELPERS_DIR and path.name != "grading.py":
                seen.append(f"helpers.{path.stem}.{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


def _call(function: Callable, name: str, *args, context: str = "", own_work: bool = False,
          **kwargs):
    """Calls the student's function; its own errors come back as a CheckFailed
    (``context`` says under what conditions, e.g. "with w of shape (3, 6)").
    ``own_work``: the function must compute its result itself, without calling any of the
    series' helpers (which hold the reference implementation the exercise asks for)."""
    used: list[str] = []
    error = None
    try:
        with _calls_into_helpers() as used:
            result = function(*args, **kwargs)
    except NotImplementedError:
        _fail(f"{name} is not written yet: it still raises NotImplementedError. "
              f"Replace `raise NotImplementedError()` with your code and run its cell again.")
    except CheckFailed:
        raise
    except Exception as caught:     # reported, not re-raised: the student reads one message
        error = caught
    # Handing the work to the reference comes first: its own errors would only mislead.
    if own_work and used:
        called = ", ".join(list(dict.fromkeys(used))[:2])
        _fail(f"{name} calls the series' own implementation ({called}, …) instead of "
              f"computing the result itself. This exercise asks you to write it with "
              f"NumPy: the checks compare against that implementation, so calling it "
              f"proves nothing (see 'What you may use' at the top of the notebook).")
    if error is not None:
        _fail(f"{name} raised {type(error).__name__}: {error}{context}")
    return result


def call(function: Callable, name: str, *args, context: str = "", own_work: bool = False,
         **kwargs):
    """Call a student's function ``name`` for a check cell: a function that is not written
    yet, or that raises, becomes one plain :class:`CheckFailed` message instead of a
    traceback. ``own_work``: fail if it calls the series' helpers (see :func:`_call`)."""
    return _call(function, name, *args, context=context, own_work=own_work, **kwargs)


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
# Part A is graded in three cells, so that one mistake costs one of them: the moments
# (A1), the update with its bias correction (A2), and stacked runs (A3). Each check
# builds its expectations from what it can trust: A2 starts from the student's own new
# m and v, A3 compares the student's function with itself, run by run.

_ADAM_DEFAULTS = dict(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8)


def _adam_hyperparameters(hyperparameters) -> dict:
    hp = dict(_ADAM_DEFAULTS)
    hp.update(hyperparameters or {})
    return hp


def _adam_result(result, shape, context: str = "", checked: str = "wmv") -> tuple:
    """The three arrays adam_step returned, checked for type, shape and finiteness (those
    named in ``checked``; the others come back as they are)."""
    if not isinstance(result, tuple) or len(result) != 3:
        _fail(f"adam_step should return three arrays (w, m, v) as a tuple, "
              f"got {type(result).__name__}"
              + (f" of length {len(result)}" if isinstance(result, tuple) else "") + context)
    return tuple(_as_array(r, f"returned {n}{context}", shape) if n in checked else r
                 for r, n in zip(result, "wmv"))


def _adam_w_variants(w, m_new, v_new, t, lr, beta1, beta2, eps):
    """The new w that a correct update and the usual wrong ones give from the new m, v."""
    m_hat, v_hat = m_new / (1 - beta1 ** t), v_new / (1 - beta2 ** t)
    return {
        "correct": w - lr * m_hat / (np.sqrt(v_hat) + eps),
        "no bias correction": w - lr * m_new / (np.sqrt(v_new) + eps),
        "eps inside the square root": w - lr * m_hat / np.sqrt(v_hat + eps),
        "t off by one": w - lr * (m_new / (1 - beta1 ** (t + 1)))
                        / (np.sqrt(v_new / (1 - beta2 ** (t + 1))) + eps),
        "plus instead of minus": w + lr * m_hat / (np.sqrt(v_hat) + eps),
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


def check_adam_moments(adam_step: Callable, hyperparameters: dict | None = None,
                       seed: int = 7) -> str:
    """Part A1: adam_step's new ``m`` and ``v`` (first step from zero, then 20 sparse
    steps), and that it leaves its input arrays as they were."""
    hp = _adam_hyperparameters(hyperparameters)
    beta1, beta2 = hp["beta1"], hp["beta2"]
    rng = np.random.default_rng(seed)
    w, g = rng.normal(size=6), rng.normal(size=6)
    g[4] = 0.0                                  # a weight whose token was not in the batch
    m, v = np.zeros(6), np.zeros(6)
    inputs = [a.copy() for a in (w, g, m, v)]
    result = _call(adam_step, "adam_step", w, g, m, v, 1, **hp, own_work=True)
    # Only m and v are this part's business: w may be anything here (part A2 checks it).
    _, new_m, new_v = _adam_result(result, (6,), checked="mv")
    if any(not np.array_equal(a, b) for a, b in zip((w, g, m, v), inputs)):
        _fail("adam_step changed one of its inputs in place; build new arrays instead "
              "(e.g. m_new = beta1 * m + (1 - beta1) * g), so the caller's arrays stay as "
              "they were")
    expected_m, expected_v = (1 - beta1) * g, (1 - beta2) * g * g
    if not np.allclose(new_m, expected_m, rtol=1e-9, atol=1e-12):
        hint = (" It looks like m was not averaged: m_t = beta1 * m + (1 - beta1) * g."
                if np.allclose(new_m, g) else "")
        _fail(f"after step 1 from m = 0, m should be (1 - beta1) * g = "
              f"{_fmt(expected_m)}; yours is {_fmt(new_m)}.{hint}")
    if not np.allclose(new_v, expected_v, rtol=1e-9, atol=1e-15):
        hint = (" v must average the *squared* gradients, g * g."
                if np.allclose(new_v, (1 - beta2) * g) else "")
        _fail(f"after step 1 from v = 0, v should be (1 - beta2) * g**2 = "
              f"{_fmt(expected_v)}; yours is {_fmt(new_v)}.{hint}")
    # Further steps: the moments do not depend on w, so the student's own w may be wrong.
    for t in range(2, 22):
        g = rng.normal(size=6) * (rng.random(6) < 0.3)
        expected_m = beta1 * expected_m + (1 - beta1) * g
        expected_v = beta2 * expected_v + (1 - beta2) * g * g
        result = _call(adam_step, "adam_step", w, g, new_m, new_v, t, **hp, own_work=True)
        _, new_m, new_v = _adam_result(result, (6,), checked="mv")
        for name, got, expected in (("m", new_m, expected_m), ("v", new_v, expected_v)):
            if not np.allclose(got, expected, rtol=1e-9, atol=1e-15):
                _fail(f"at step {t}, {name} should be {_fmt(expected)}; yours is {_fmt(got)}. "
                      f"Each step mixes the previous {name} with the new gradient: "
                      + ("m_t = beta1 * m + (1 - beta1) * g." if name == "m" else
                         "v_t = beta2 * v + (1 - beta2) * g**2."))
    return "adam_step: m and v correct on the first step and over 20 sparse steps."


def check_adam_update(adam_step: Callable, hyperparameters: dict | None = None,
                      seed: int = 8) -> str:
    """Part A2: the new ``w`` from the new m and v, with the bias correction, at t = 1
    and t = 3. The expectation is built from the m and v that adam_step itself returns,
    so a slip in the moments (part A1) does not cost this part too."""
    hp = _adam_hyperparameters(hyperparameters)
    rng = np.random.default_rng(seed)
    w = rng.normal(size=6)
    m, v = np.zeros(6), np.zeros(6)
    for t in (1, 2, 3):
        # Positive gradients (one zero): even a v built from g instead of g**2 stays >= 0.
        g = np.abs(rng.normal(size=6)) + 0.1
        g[4] = 0.0
        result = _call(adam_step, "adam_step", w, g, m.copy(), v.copy(), t, **hp,
                       own_work=True)
        got_w, new_m, new_v = _adam_result(result, (6,))
        if np.any(new_v < 0):
            _fail(f"at step {t} your v has negative entries ({_fmt(new_v)}); v averages "
                  f"squared gradients (part A1), so the update cannot be checked")
        variants = _adam_w_variants(w, new_m, new_v, t, **hp)
        if not np.allclose(got_w, variants["correct"], rtol=1e-9, atol=1e-12):
            for name, hint in _ADAM_HINTS.items():
                if np.allclose(got_w, variants[name], rtol=1e-9, atol=1e-12):
                    _fail(f"at step t = {t} the new w is wrong: {hint}.")
            _fail(f"at step t = {t}, from the m and v your function returns, the new w "
                  f"should be {_fmt(variants['correct'])}; yours is {_fmt(got_w)}. Check the "
                  f"update w - lr * m_hat / (sqrt(v_hat) + eps).")
        # The next step starts from the correct moments (A1's business, not this part's).
        m = hp["beta1"] * m + (1 - hp["beta1"]) * g
        v = hp["beta2"] * v + (1 - hp["beta2"]) * g * g
        w = variants["correct"]
    return "adam_step: the update and its bias correction are right at t = 1, 2 and 3."


def check_adam_stacked(adam_step: Callable, hyperparameters: dict | None = None,
                       seed: int = 9, runs: int = 3) -> str:
    """Part A3: three runs stacked as w of shape (3, 6) give, over 40 sparse steps, what
    three separate calls with w of shape (6,) give (adam_step compared with itself)."""
    hp = _adam_hyperparameters(hyperparameters)
    rng = np.random.default_rng(seed)
    stacked = tuple(np.zeros((runs, 6)) for _ in "wmv")
    separate = [tuple(np.zeros(6) for _ in "wmv") for _ in range(runs)]
    context = (f" (with w of shape ({runs}, 6), {runs} runs stacked: use elementwise "
               f"operations on whole arrays, not indexing by weight)")
    for t in range(1, 41):
        # Positive gradients: a slip in v (g for g**2) cannot turn this part's values NaN.
        g = np.abs(rng.normal(size=(runs, 6))) * (rng.random((runs, 6)) < 0.3)
        result = _call(adam_step, "adam_step", stacked[0], g, stacked[1], stacked[2], t,
                       **hp, context=context, own_work=True)
        stacked = _adam_result(result, (runs, 6), context=f" (with w of shape ({runs}, 6))")
        for r in range(runs):
            result = _call(adam_step, "adam_step", separate[r][0], g[r], separate[r][1],
                           separate[r][2], t, **hp, own_work=True)
            separate[r] = _adam_result(result, (6,))
            for name, a, b in zip("wmv", stacked, separate[r]):
                if not np.allclose(a[r], b, rtol=1e-12, atol=1e-15):
                    _fail(f"at step {t}, run {r} of the stacked call (w of shape ({runs}, 6)) "
                          f"gives {name} = {_fmt(a[r])}, but the same run on its own (shape "
                          f"(6,)) gives {_fmt(b)}. Use elementwise operations only, so that "
                          f"each run is updated as if it were alone.")
    return f"adam_step: {runs} stacked runs match {runs} separate runs over 40 sparse steps."


def check_adam_step(adam_step: Callable, hyperparameters: dict | None = None) -> str:
    """All of part A: the moments, the update, stacked runs."""
    check_adam_moments(adam_step, hyperparameters)
    check_adam_update(adam_step, hyperparameters)
    check_adam_stacked(adam_step, hyperparameters)
    return "adam_step: correct moments, update and bias correction, on stacked runs too."


def check_effective_lr(effective_lr: Callable) -> str:
    """``effective_lr(v, t, lr, beta2, eps)``: Adam's lr / (sqrt(v_hat) + eps)."""
    v = np.array([4e-2, 1e-3, 2.5e-5, 0.0])
    for t, lr, beta2, eps in ((3000, 0.05, 0.999, 1e-8), (10, 0.01, 0.99, 1e-3)):
        got = _as_array(_call(effective_lr, "effective_lr", v, t, lr, beta2, eps,
                              own_work=True),
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
        got = _call(predicted_weight, "predicted_weight", p, lr, t, own_work=True)
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
        got = _as_array(_call(expected_hessian, "expected_hessian", p, own_work=True),
                        "expected_hessian(p)", (p.size, p.size))
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
                  context=" (called with the reference world's expected Hessian)", own_work=True)
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


def _adagrad_result(result, shape):
    if not isinstance(result, tuple) or len(result) != 2:
        _fail(f"adagrad_step should return (new_w, new_state) as a tuple, got "
              f"{type(result).__name__}")
    return _as_array(result[0], "returned w", shape), result[1]


def check_adagrad_values(adagrad_init: Callable, adagrad_step: Callable, lr: float = 0.1,
                         eps: float = 1e-10, seed: int = 11, n_steps: int = 30) -> str:
    """Part A1: ``adagrad_init(w) -> state``, ``adagrad_step(w, g, state, lr, eps) ->
    (w, state)`` give AdaGrad's weights over sparse steps of one run (w of shape (6,))."""
    rng = np.random.default_rng(seed)
    reference = adagrad(lr, eps=eps)
    w_ref = np.zeros(6)
    state_ref = reference.init(w_ref)
    w = w_ref.copy()
    state = _call(adagrad_init, "adagrad_init", w.copy(), own_work=True)
    for t in range(1, n_steps + 1):
        g = rng.normal(size=6) * (rng.random(6) < 0.4)
        w_ref, state_ref = reference.step(w_ref, g, state_ref)
        result = _call(adagrad_step, "adagrad_step", w, g.copy(), state, lr, eps,
                       own_work=True)
        w, state = _adagrad_result(result, (6,))
        if not np.allclose(w, w_ref, rtol=1e-9, atol=1e-12):
            hint = (" AdaGrad keeps the *sum* of all squared gradients (no decay, no "
                    "averaging) and divides by (sqrt(sum) + eps): on the first step from a "
                    "zero sum a non-zero gradient moves its weight by lr * sign(g).")
            _fail(f"at step {t} (lr {lr}, eps {eps}), w differs from AdaGrad's: expected "
                  f"{_fmt(w_ref)}, yours {_fmt(w)}.{hint}")
    return f"AdaGrad: the right weights over {n_steps} sparse steps."


def check_adagrad_pure(adagrad_init: Callable, adagrad_step: Callable, seed: int = 12) -> str:
    """Part A2: adagrad_step leaves its w, g and state as they were (a pure function),
    and adagrad_init does not hand back w itself as the state."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=6)
    w_before = w.copy()
    state = _call(adagrad_init, "adagrad_init", w, own_work=True)
    if not np.array_equal(w, w_before) or any(a is w for a in _arrays_in(state)):
        _fail("adagrad_init changed w or returned w itself as (part of) the state: start "
              "the sum from a new array of zeros, np.zeros_like(w)")
    for t in range(1, 6):
        g = rng.normal(size=6) * (rng.random(6) < 0.6)
        before = [np.array(a, copy=True) for a in (w, g, *_arrays_in(state))]
        result = _call(adagrad_step, "adagrad_step", w, g, state, 0.1, 1e-10, own_work=True)
        after = [w, g, *_arrays_in(state)]
        if any(not np.array_equal(a, b) for a, b in zip(before, after)):
            _fail(f"at step {t}, adagrad_step changed its w, g or state in place; return new "
                  f"arrays instead (e.g. new_sum = state_sum + g * g, not state_sum += g * g), "
                  f"so that the caller's arrays stay as they were: the step must be a pure "
                  f"function")
        w, state = _adagrad_result(result, (6,))
    return "AdaGrad: a pure step (w, g and the state stay as they were)."


def check_adagrad_stacked(adagrad_init: Callable, adagrad_step: Callable, seed: int = 13,
                          runs: int = 2) -> str:
    """Part A3: runs stacked as w of shape (2, 6) give what separate runs give (the
    student's functions compared with themselves)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((runs, 6))
    state = _call(adagrad_init, "adagrad_init", w.copy(), own_work=True)
    separate = [(np.zeros(6), _call(adagrad_init, "adagrad_init", np.zeros(6)))
                for _ in range(runs)]
    for t in range(1, 21):
        g = rng.normal(size=(runs, 6)) * (rng.random((runs, 6)) < 0.4)
        result = _call(adagrad_step, "adagrad_step", w, g.copy(), state, 0.1, 1e-10,
                       own_work=True,
                       context=f" (with w of shape ({runs}, 6), {runs} runs stacked: use "
                               f"elementwise operations on whole arrays)")
        w, state = _adagrad_result(result, (runs, 6))
        for r in range(runs):
            alone = _call(adagrad_step, "adagrad_step", separate[r][0], g[r].copy(),
                          separate[r][1], 0.1, 1e-10, own_work=True)
            separate[r] = _adagrad_result(alone, (6,))
            if not np.allclose(w[r], separate[r][0], rtol=1e-12, atol=1e-15):
                _fail(f"at step {t}, run {r} of the stacked call (w of shape ({runs}, 6)) "
                      f"gives w = {_fmt(w[r])}, but the same run on its own gives "
                      f"{_fmt(separate[r][0])}. Use elementwise operations only.")
    return f"AdaGrad: {runs} stacked runs match {runs} separate runs over 20 steps."


def check_adagrad(adagrad_init: Callable, adagrad_step: Callable) -> str:
    """All of part A: AdaGrad's values, a pure step, stacked runs."""
    check_adagrad_values(adagrad_init, adagrad_step)
    check_adagrad_pure(adagrad_init, adagrad_step)
    check_adagrad_stacked(adagrad_init, adagrad_step)
    return "AdaGrad: correct values, a pure step, stacked runs."


@lru_cache(maxsize=16)
def _hard_world_outcome(frequencies: tuple, seeds: tuple, n_steps: int):
    """Tuned SGD's and Adam's mean final error per token on a world (cached: parts C1 and
    C2 share one sweep). Returns (limit, lrs, worst_sgd per lr, best index, adam errors)."""
    from .engine import sweep
    from .optimizers import sgd
    world = make_world(list(frequencies))
    limit = 2 / np.linalg.eigvalsh(world.expected_hessian()).max()
    lrs = limit * np.array([0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95])
    result = sweep({"sgd": (sgd, {"lr": lrs}), "adam": (adam, {"lr": [0.05]})}, world,
                   list(seeds), n_steps, record_every=n_steps)
    sgd_arm = result["sgd"]
    ok = ~np.any(sgd_arm.diverged_at > 0, axis=0)
    worst_sgd = np.where(ok, sgd_arm.final_error().mean(axis=0).max(axis=-1), np.inf)
    best = int(np.argmin(worst_sgd))
    return limit, lrs, worst_sgd, best, result["adam"].final_error().mean(axis=0)[0]


def _hard_world(frequencies, seeds, n_steps):
    try:
        values = [float(f) for f in np.asarray(frequencies, dtype=float).ravel()]
        make_world(values)
    except (TypeError, ValueError) as error:
        _fail(f"not a valid list of frequencies: {error}")
    if len(values) > 12:
        _fail(f"use at most 12 tokens (you gave {len(values)}), so the check stays fast")
    return _hard_world_outcome(tuple(values), tuple(int(s) for s in seeds), int(n_steps))


def check_hard_world_sgd_fails(frequencies, seeds=range(5),
                               n_steps: int = REFERENCE.n_steps) -> str:
    """Part C1: SGD, at its best of seven rates below the stability limit, leaves some
    token more than 0.5 from its target (mean final error over the seeds)."""
    limit, lrs, worst_sgd, best, _ = _hard_world(frequencies, seeds, n_steps)
    if worst_sgd[best] <= 0.5:
        _fail(f"tuned SGD copes with this world: at lr {lrs[best]:.3g} (its best below the "
              f"stability limit {limit:.3g}) every token ends within {worst_sgd[best]:.3f} of "
              f"its target on average. Make one token rarer, or the others more frequent.")
    return (f"tuned SGD (lr {lrs[best]:.3g}, best of 7 below the limit {limit:.3g}) leaves a "
            f"token {worst_sgd[best]:.2f} from its target.")


def check_hard_world_adam_learns(frequencies, seeds=range(5),
                                 n_steps: int = REFERENCE.n_steps) -> str:
    """Part C2: Adam at lr 0.05 does at least twice as well as tuned SGD: its worst token
    ends (mean final error over the seeds) less than half as far from its target."""
    _, _, worst_sgd, best, adam_error = _hard_world(frequencies, seeds, n_steps)
    if adam_error.max() >= 0.5 * worst_sgd[best]:
        _fail(f"Adam (lr 0.05) does not do much better: its worst token ends "
              f"{adam_error.max():.3f} from the target, against tuned SGD's "
              f"{worst_sgd[best]:.3f} (needed: less than half). A token so rare that it "
              f"almost never appears defeats every optimizer; make it a little less rare.")
    return (f"Adam (lr 0.05) leaves its worst token {adam_error.max():.2f} from its target, "
            f"less than half of tuned SGD's {worst_sgd[best]:.2f}.")


def check_hard_world(frequencies, seeds=range(5), n_steps: int = REFERENCE.n_steps) -> str:
    """All of part C: a world where tuned SGD fails and Adam learns every token."""
    first = check_hard_world_sgd_fails(frequencies, seeds, n_steps)
    second = check_hard_world_adam_learns(frequencies, seeds, n_steps)
    return f"a hard world: {first} {second}"



# --- exercise 4: the softmax gradient, and who is left behind on Shakespeare -------------
# The checks use small random tables (V = 7 words) and batches chosen to expose the usual
# mistakes; the reference values come from the series' log-softmax (computed by the check,
# outside the watch on the student's call).

def _reference_bigram_loss(table: np.ndarray, batch: np.ndarray) -> float:
    previous, following = batch[:, 0], batch[:, 1]
    return float(-log_softmax(table[previous])[np.arange(len(batch)),
                                                          following].mean())


def _reference_bigram_gradient(table: np.ndarray, batch: np.ndarray) -> np.ndarray:
    previous, following = batch[:, 0], batch[:, 1]
    grad = np.zeros_like(table)
    np.add.at(grad, previous, np.exp(log_softmax(table[previous])))
    np.add.at(grad, (previous, following), -1.0)
    return grad / len(batch)


def _bigram_case(seed: int, vocab: int = 7, batch_size: int = 5, distinct: bool = True,
                 scale: float = 2.0):
    """A random table and a batch of (previous, next) pairs; ``distinct``: no previous
    word twice (else some previous words and one whole pair repeat)."""
    rng = np.random.default_rng(seed)
    table = rng.normal(scale=scale, size=(vocab, vocab))
    if distinct:
        previous = rng.permutation(vocab)[:batch_size]
    else:
        previous = rng.integers(0, 3, size=batch_size)        # only 3 words: repeats
    batch = np.stack([previous, rng.integers(0, vocab, size=batch_size)], axis=1)
    if not distinct:
        batch[-1] = batch[0]                                   # and one pair twice
    return table, batch


def check_bigram_loss(bigram_loss: Callable, seed: int = 41) -> str:
    """Part A: ``bigram_loss(table, batch)``, the mean cross-entropy of the batch's next
    words, computed stably (huge logits give a finite loss)."""
    for distinct, scale in ((True, 2.0), (False, 2.0), (False, 400.0)):
        table, batch = _bigram_case(seed, distinct=distinct, scale=scale)
        expected = _reference_bigram_loss(table, batch)
        got = _call(bigram_loss, "bigram_loss", table.copy(), batch.copy(), own_work=True)
        try:
            value = float(got)
        except (TypeError, ValueError):
            _fail(f"bigram_loss should return one number (the mean over the batch), got "
                  f"{type(got).__name__}" + (f" of shape {np.shape(got)}"
                                             if hasattr(got, "shape") else ""))
        if not np.isfinite(value):
            _fail(f"with logits as large as {np.abs(table).max():.0f}, your loss is {value}: "
                  f"exp overflows. Subtract each row's maximum before exponentiating "
                  f"(log-softmax is unchanged by it)" if scale > 100 else
                  f"bigram_loss returned {value} for ordinary logits")
        if not np.isclose(value, expected, rtol=1e-9, atol=1e-12):
            hint = ""
            if np.isclose(value, expected * len(batch), rtol=1e-9):
                hint = " That is the sum over the batch; the loss is the mean."
            elif np.isclose(value, -expected, rtol=1e-9):
                hint = " The sign is flipped: the loss is minus the log-probability."
            elif np.isclose(value, -log_softmax(table.T)[batch[:, 0], batch[:, 1]]
                            .mean(), rtol=1e-9):
                hint = " The softmax runs over the wrong axis: over each row W[a] (axis -1)."
            _fail(f"for the table and batch {batch.tolist()} the loss should be "
                  f"{expected:.6f}; yours is {value:.6f}.{hint}"
                  + (" (logits up to 400: subtract each row's maximum first)"
                     if scale > 100 and not hint else ""))
    return "bigram_loss: the mean cross-entropy, finite even for logits in the hundreds."


def check_central_difference(central_difference: Callable, seed: int = 42) -> str:
    """Part B: ``central_difference(f, x, index, h)``: (f(x + h e) - f(x - h e)) / (2h)
    for the unit vector e at ``index``, leaving x as it was."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 4))
    x_before = x.copy()

    def cubic(y):
        return float((y ** 3).sum())

    h = 1e-3
    for index in ((0, 0), (2, 3), (1, 2)):
        got = _call(central_difference, "central_difference", cubic, x, index, h,
                    own_work=True)
        if not np.array_equal(x, x_before):
            _fail("central_difference changed x in place (and left it changed): work on a "
                  "copy, x_plus = x.copy(); x_plus[index] += h")
        try:
            value = float(got)
        except (TypeError, ValueError):
            _fail(f"central_difference should return one number, got {type(got).__name__}")
        # For f = sum(x**3): central gives 3 x^2 + h^2, forward 3 x^2 + 3 x h + h^2.
        central = 3 * x[index] ** 2 + h ** 2
        forward = 3 * x[index] ** 2 + 3 * x[index] * h + h ** 2
        if not np.isclose(value, central, rtol=1e-7, atol=1e-9):
            hint = ""
            if np.isclose(value, forward, rtol=1e-7, atol=1e-9) or np.isclose(
                    value, 3 * x[index] ** 2 - 3 * x[index] * h + h ** 2, rtol=1e-7):
                hint = (" That is a one-sided difference, (f(x + h e) - f(x)) / h, whose "
                        "error shrinks like h; the central one, (f(x + h e) - f(x - h e)) / "
                        "(2 h), is exact up to h**2.")
            elif np.isclose(value, 2 * central, rtol=1e-6):
                hint = " Divide by 2 h, the distance between x + h e and x - h e."
            _fail(f"for f(x) = sum(x**3) at x{list(index)} = {x[index]:.4f} with h = {h}, the "
                  f"central difference is {central:.9f}; yours is {value:.9f}.{hint}")
    return "central_difference: central, error of order h**2, x left as it was."


def _check_gradient(bigram_gradient: Callable, table, batch, what: str) -> np.ndarray:
    got = _call(bigram_gradient, "bigram_gradient", table.copy(), batch.copy(), own_work=True)
    return _as_array(got, f"bigram_gradient(table, batch) {what}", table.shape)


def check_bigram_gradient(bigram_gradient: Callable, seed: int = 43) -> str:
    """Part C1: ``bigram_gradient(table, batch)`` on batches whose previous words are all
    different: equal to the gradient (and to central differences of the loss)."""
    for case in range(3):
        table, batch = _bigram_case(seed + case, distinct=True)
        expected = _reference_bigram_gradient(table, batch)
        got = _check_gradient(bigram_gradient, table, batch, "(previous words all different)")
        if not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            # Central differences of the loss at the largest entry: what the student can
            # reproduce with part B.
            a, b = np.unravel_index(np.argmax(np.abs(expected)), expected.shape)
            step = np.zeros_like(table)
            step[a, b] = 1e-6
            numeric = (_reference_bigram_loss(table + step, batch)
                       - _reference_bigram_loss(table - step, batch)) / 2e-6
            hint = ""
            if np.allclose(got, expected * len(batch), rtol=1e-9, atol=1e-12):
                hint = " That is the gradient of the sum; divide by the batch size B."
            elif np.allclose(got, -expected, rtol=1e-9, atol=1e-12):
                hint = " The sign is flipped: p(. | a) minus the one-hot target, not the reverse."
            _fail(f"for the batch {batch.tolist()} the gradient differs: at W[{a}, {b}] it "
                  f"should be {expected[a, b]:.6f} (central differences of the loss give "
                  f"{numeric:.6f}); yours is {got[a, b]:.6f}.{hint}")
    return ("bigram_gradient: matches the gradient (and central differences of the loss) on "
            "batches with distinct previous words.")


def check_bigram_gradient_repeats(bigram_gradient: Callable, seed: int = 44) -> str:
    """Part C2: batches in which previous words, and a whole pair, repeat: every pair
    adds its own share, and rows of words not in the batch stay exactly zero."""
    for case in range(3):
        table, batch = _bigram_case(seed + case, distinct=False, batch_size=6)
        expected = _reference_bigram_gradient(table, batch)
        got = _check_gradient(bigram_gradient, table, batch, "(with repeated words)")
        absent = np.setdiff1d(np.arange(table.shape[0]), batch[:, 0])
        if np.any(got[absent] != 0):
            _fail(f"rows of words that are not a previous word in the batch ({absent.tolist()})"
                  f" must be exactly zero: their logits do not enter the loss")
        if not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            previous, following = batch[:, 0], batch[:, 1]
            buffered = np.zeros_like(table)                  # the `grad[rows] += …` mistake
            buffered[previous] += np.exp(log_softmax(table[previous]))
            buffered[previous, following] -= 1.0
            buffered /= len(batch)
            hint = ""
            if np.allclose(got, buffered, rtol=1e-9, atol=1e-12):
                hint = (" With a repeated index, `grad[previous] += …` adds only once per "
                        "distinct word (NumPy buffers fancy-indexed assignments): use "
                        "np.add.at(grad, previous, …), which adds every pair's share.")
            row = int(np.argmax(np.abs(got - expected).max(axis=1)))
            _fail(f"for the batch {batch.tolist()} (previous words repeat, and the pair "
                  f"{batch[0].tolist()} occurs twice), row {row} should be "
                  f"{_fmt(expected[row])}; yours is {_fmt(got[row])}.{hint}")
    return "bigram_gradient: right with repeated words and pairs; absent rows exactly zero."


def check_excess_by_group(excess_by_group: Callable, seed: int = 45) -> str:
    """Part D: ``excess_by_group(excess, counts, members)``: each group's mean excess,
    weighted by how often each of its words occurs (the mean over the group's data)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 500, size=12).astype(float)
    excess = rng.random(12)
    members = [np.array([3, 0]), np.array([5, 1, 7]), np.array([2, 4, 6, 8, 9, 10, 11])]
    got = _as_array(_call(excess_by_group, "excess_by_group", excess.copy(), counts.copy(),
                          [m.copy() for m in members], own_work=True),
                    "excess_by_group(excess, counts, members)", (len(members),))
    expected = np.array([excess[m] @ counts[m] / counts[m].sum() for m in members])
    if not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
        hint = ""
        if np.allclose(got, [excess[m].mean() for m in members], rtol=1e-9):
            hint = (" That is the plain mean over the group's words; weight each word by its "
                    "count, so that the result is the mean over the group's data.")
        _fail(f"expected {_fmt(expected)}; yours is {_fmt(got)}.{hint}")
    return "excess_by_group: the count-weighted mean of each group."
