"""The exercise checks: a correct answer passes, the usual mistakes are caught with a
message that names them, and a student's own error comes back as one plain message."""

import re
import numpy as np
import pytest

from helpers import grading
from helpers.grading import CheckFailed


def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


def no_bias_correction(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * m / (np.sqrt(v) + eps), m, v


def eps_inside(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps), m, v


def g_not_squared(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g
    return w, m, v


def in_place(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    new = adam_step(w, g, m, v, t, lr, beta1, beta2, eps)
    m[...] = new[1]
    return new


def wrong_shape(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    new = adam_step(w, g, m, v, t, lr, beta1, beta2, eps)
    return new[0][None], new[1], new[2]


def two_values(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(w, g, m, v, t, lr, beta1, beta2, eps)[:2]


def t_off_by_one(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(w, g, m, v, t + 1, lr, beta1, beta2, eps)[0], *adam_step(w, g, m, v, t)[1:]


def m_not_averaged(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    new = adam_step(w, g, m, v, t, lr, beta1, beta2, eps)
    return new[0], g, new[2]


def one_run_only(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    new = [np.empty(6) for _ in range(3)]
    for i in range(6):                         # indexes weights, as if w were always 1-D
        parts = adam_step(w[i], g[i], m[i], v[i], t, lr, beta1, beta2, eps)
        for array, value in zip(new, parts):
            array[i] = value
    return tuple(new)


def not_written(*args, **kwargs):
    raise NotImplementedError()


def crashes(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    return w @ np.ones((2, 2)), m, v


def test_a_correct_adam_step_passes():
    assert "correct" in grading.check_adam_step(adam_step)


@pytest.mark.parametrize("wrong, message", [
    (no_bias_correction, "without\\* bias correction"),
    (eps_inside, "eps inside the square root"),
    (g_not_squared, "squared"),
    (in_place, "in place"),
    (t_off_by_one, "wrong t"),
    (m_not_averaged, "m was not averaged"),
    (one_run_only, "not for three runs stacked"),
    (wrong_shape, "shape \\(6,\\)"),
    (two_values, "three arrays"),
    (not_written, "not written yet"),
    (crashes, "raised ValueError"),
])
def test_the_usual_adam_mistakes_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        grading.check_adam_step(wrong)


def test_effective_lr_check():
    assert grading.check_effective_lr(
        lambda v, t, lr, b2, eps: lr / (np.sqrt(v / (1 - b2 ** t)) + eps))
    with pytest.raises(CheckFailed, match="bias correction"):
        grading.check_effective_lr(lambda v, t, lr, b2, eps: lr / (np.sqrt(v) + eps))


def test_predicted_weight_check_accepts_both_forms_and_explains_the_mistakes():
    assert grading.check_predicted_weight(lambda p, lr, t: 1 - np.exp(-lr * p * t))
    assert grading.check_predicted_weight(lambda p, lr, t: 1 - (1 - lr * p) ** t)
    with pytest.raises(CheckFailed, match="distance still to go"):
        grading.check_predicted_weight(lambda p, lr, t: np.exp(-lr * p * t))
    with pytest.raises(CheckFailed, match="straight line"):
        grading.check_predicted_weight(lambda p, lr, t: lr * p * t)


def test_hessian_and_stability_checks():
    def hessian(p):
        p = np.asarray(p)
        h = np.outer(p, p)
        np.fill_diagonal(h, p)
        return h
    assert grading.check_expected_hessian(hessian)
    with pytest.raises(CheckFailed, match="diagonal"):
        grading.check_expected_hessian(lambda p: np.outer(p, p))
    with pytest.raises(CheckFailed, match="off-diagonal"):
        grading.check_expected_hessian(lambda p: np.diag(p))
    assert "1.413" in grading.check_stability_limit(lambda h: 2 / np.linalg.eigvalsh(h).max())
    with pytest.raises(CheckFailed, match="1 / lambda_max"):
        grading.check_stability_limit(lambda h: 1 / np.linalg.eigvalsh(h).max())
    with pytest.raises(CheckFailed, match="2 / lambda_max"):
        grading.check_stability_limit(lambda h: 0.7)
    with pytest.raises(CheckFailed, match="reference world's expected Hessian"):
        grading.check_stability_limit(lambda h: h["x"])


def test_stability_limit_is_checked_on_the_reference_hessian_not_part_c():
    """ex2: a wrong part C (p^2 on the diagonal) must not fail a correct part D."""
    def wrong_hessian(p):
        return np.outer(p, p)

    def stability_limit(h):            # what part D asks for: uses only its argument
        return 2 / np.linalg.eigvalsh(h).max()

    with pytest.raises(CheckFailed):
        grading.check_expected_hessian(wrong_hessian)
    assert grading.check_stability_limit(stability_limit)


def test_divergence_check():
    grid = [1.3, 1.4, 1.5, 1.6]
    assert "1.5" in grading.check_divergence_lr(1.5, grid)
    with pytest.raises(CheckFailed, match="smallest rate of your grid"):
        grading.check_divergence_lr(1.6, grid)
    with pytest.raises(CheckFailed, match="none of the rates"):
        grading.check_divergence_lr(0.5, [0.5, 1.0])


def test_adagrad_check():
    init = lambda w: np.zeros_like(w)                                    # noqa: E731

    def step(w, g, s, lr=0.1, eps=1e-10):
        s = s + g * g
        return w - lr * g / (np.sqrt(s) + eps), s

    def decaying(w, g, s, lr=0.1, eps=1e-10):                            # RMSProp, not AdaGrad
        s = 0.9 * s + 0.1 * g * g
        return w - lr * g / (np.sqrt(s) + eps), s

    def in_place(w, g, s, lr=0.1, eps=1e-10):                            # right numbers, impure
        s += g * g
        w = w - lr * g / (np.sqrt(s) + eps)
        return w, s

    def in_place_dict(w, g, s, lr=0.1, eps=1e-10):
        s["sum"] += g * g
        return w - lr * g / (np.sqrt(s["sum"]) + eps), {"sum": s["sum"]}

    assert grading.check_adagrad(init, step)
    with pytest.raises(CheckFailed, match="sum"):
        grading.check_adagrad(init, decaying)
    with pytest.raises(CheckFailed, match="in place"):
        grading.check_adagrad(init, in_place)
    with pytest.raises(CheckFailed, match="in place"):
        grading.check_adagrad(lambda w: {"sum": np.zeros_like(w)}, in_place_dict)


def test_hard_world_check():
    assert "hard world" in grading.check_hard_world([0.95, 0.6, 0.2, 0.05, 0.005, 0.0001])
    with pytest.raises(CheckFailed, match="tuned SGD copes"):
        grading.check_hard_world([0.95, 0.6, 0.2, 0.05, 0.005, 0.001])
    with pytest.raises(CheckFailed, match="does not do much better"):
        grading.check_hard_world([0.95, 0.00003])
    with pytest.raises(CheckFailed, match="valid list of frequencies"):
        grading.check_hard_world([0.5, 0.0])
    with pytest.raises(CheckFailed, match="at most 12"):
        grading.check_hard_world([0.5] * 13)


def test_passes_is_a_plain_boolean():
    assert grading.passes(grading.check_adam_step, adam_step) is True
    assert grading.passes(grading.check_adam_step, not_written) is False


def test_series_links_work_from_wherever_the_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)              # an assignment fetched into another folder
    text = grading.series_links("02-plain-sgd", "06-why-sgd-is-slow").data
    assert "[02 · Plain SGD](" in text and "[06 · Why SGD is slow](" in text
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert (tmp_path / target).resolve().is_file(), target
    monkeypatch.setattr(grading, "SERIES_NOTEBOOKS", tmp_path / "nowhere")
    assert "`02-plain-sgd.ipynb`" in grading.series_links("02-plain-sgd").data
