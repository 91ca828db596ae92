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
    m = g                                      # the latest gradient, not a running mean
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


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
    (one_run_only, "3 runs stacked"),
    (wrong_shape, "shape \\(6,\\)"),
    (two_values, "three arrays"),
    (not_written, "not written yet"),
    (crashes, "raised ValueError"),
])
def test_the_usual_adam_mistakes_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        grading.check_adam_step(wrong)


ADAM_PARTS = (grading.check_adam_moments, grading.check_adam_update, grading.check_adam_stacked)


@pytest.mark.parametrize("step, passing", [
    (adam_step, (True, True, True)),
    (no_bias_correction, (True, False, True)),     # one slip in the update: A1 and A3 stand
    (eps_inside, (True, False, True)),
    (t_off_by_one, (True, False, True)),
    (g_not_squared, (False, True, True)),          # one slip in v: A2 uses the student's v
    (m_not_averaged, (False, True, True)),
    (in_place, (False, True, True)),
    (one_run_only, (True, True, False)),
    (not_written, (False, False, False)),
])
def test_one_mistake_costs_one_adam_check(step, passing):
    """Partial credit: each of part A's three graded cells fails only for its own slip."""
    if step is g_not_squared:                       # a full step, but v from g, not g**2
        def step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g
            return (w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps),
                    m, v)
    with np.errstate(invalid="ignore"):
        assert tuple(grading.passes(check, step) for check in ADAM_PARTS) == passing


def delegating_adam(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    from helpers import adam
    from helpers.optimizers import AdamState
    new_w, state = adam(lr, beta1=beta1, beta2=beta2, eps=eps).step(w, g, AdamState(t - 1, m, v))
    return new_w, state.m, state.v


def test_a_step_that_calls_the_reference_fails_every_check():
    """Delegation: the numbers are right (it *is* the reference), the check refuses it."""
    new_w, _, _ = delegating_adam(np.zeros(6), np.ones(6), np.zeros(6), np.zeros(6), 1)
    assert np.allclose(new_w, adam_step(np.zeros(6), np.ones(6), np.zeros(6), np.zeros(6), 1)[0])
    for check in ADAM_PARTS:
        with pytest.raises(CheckFailed, match="calls the series' own implementation"):
            check(delegating_adam)
    # Hidden tests run the same checks with other hyperparameters: no way round it there.
    with pytest.raises(CheckFailed, match="helpers.optimizers"):
        grading.check_adam_update(delegating_adam, dict(lr=0.01, beta1=0.5), seed=1)


def test_own_work_watch_is_removed_after_the_call():
    import sys
    before = sys.getprofile()
    grading.check_adam_moments(adam_step)
    with pytest.raises(CheckFailed):
        grading.check_adam_moments(delegating_adam)
    assert sys.getprofile() is before


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

    def delegating(w, g, s, lr=0.1, eps=1e-10):
        from helpers import adagrad
        return adagrad(lr, eps=eps).step(w, g, s)

    def one_run_only(w, g, s, lr=0.1, eps=1e-10):                        # flattens the runs
        s = s + g * g
        return (w - lr * g / (np.sqrt(s) + eps)).ravel()[:6].reshape(w.shape[-1:]), s

    parts = (grading.check_adagrad_values, grading.check_adagrad_pure,
             grading.check_adagrad_stacked)
    for candidate, passing in ((step, (True, True, True)), (decaying, (False, True, True)),
                               (in_place, (True, False, True)),
                               (one_run_only, (True, True, False)),
                               (delegating, (False, False, False))):
        assert tuple(grading.passes(c, init, candidate) for c in parts) == passing, candidate
    with pytest.raises(CheckFailed, match="helpers.optimizers"):
        grading.check_adagrad_values(lambda w: np.zeros_like(w), delegating)
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
    # Partial credit: a token too rare for anyone passes C1 and fails C2.
    too_rare = [0.95, 0.00003]
    assert grading.passes(grading.check_hard_world_sgd_fails, too_rare)
    assert not grading.passes(grading.check_hard_world_adam_learns, too_rare)
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


# --- exercise 4 ---------------------------------------------------------------------------

def bigram_loss(table, batch):
    logits = table[batch[:, 0]]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(batch)), batch[:, 1]].mean()


def bigram_gradient(table, batch, add=np.add.at):
    logits = table[batch[:, 0]]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    grad = np.zeros_like(table)
    add(grad, batch[:, 0], probabilities)
    add(grad, (batch[:, 0], batch[:, 1]), -1.0)
    return grad / len(batch)


def buffered_add(array, index, values):          # `array[index] += values`: once per index
    array[index] += values


def test_bigram_loss_check():
    assert "mean cross-entropy" in grading.check_bigram_loss(bigram_loss)
    with pytest.raises(CheckFailed, match="the mean"):
        grading.check_bigram_loss(lambda t, b: bigram_loss(t, b) * len(b))
    with pytest.raises(CheckFailed, match="sign is flipped"):
        grading.check_bigram_loss(lambda t, b: -bigram_loss(t, b))

    def unstable(table, batch):                # softmax as written in a textbook
        p = np.exp(table[batch[:, 0]])
        p /= p.sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(batch)), batch[:, 1]]).mean()

    with np.errstate(all="ignore"), pytest.raises(CheckFailed, match="maximum"):
        grading.check_bigram_loss(unstable)

    def delegating(table, batch):
        from helpers.softmax import log_softmax
        return -log_softmax(table[batch[:, 0]])[np.arange(len(batch)), batch[:, 1]].mean()

    with pytest.raises(CheckFailed, match="helpers.softmax.log_softmax"):
        grading.check_bigram_loss(delegating)


def test_central_difference_check():
    def central(f, x, index, h=1e-5):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        return (f(plus) - f(minus)) / (2 * h)

    def forward(f, x, index, h=1e-5):
        plus = x.copy()
        plus[index] += h
        return (f(plus) - f(x)) / h

    def in_place(f, x, index, h=1e-5):
        x[index] += h
        return central(f, x, index, h)

    assert "central" in grading.check_central_difference(central)
    with pytest.raises(CheckFailed, match="one-sided"):
        grading.check_central_difference(forward)
    with pytest.raises(CheckFailed, match="Divide by 2 h"):
        grading.check_central_difference(lambda f, x, i, h=1e-5: 2 * central(f, x, i, h))
    with pytest.raises(CheckFailed, match="in place"):
        grading.check_central_difference(in_place)


def test_bigram_gradient_checks_give_partial_credit():
    assert grading.check_bigram_gradient(bigram_gradient)
    assert grading.check_bigram_gradient_repeats(bigram_gradient)
    # `grad[rows] += …`: right while no word repeats (C1), wrong once one does (C2).
    buffered = lambda t, b: bigram_gradient(t, b, add=buffered_add)  # noqa: E731
    assert grading.passes(grading.check_bigram_gradient, buffered)
    with pytest.raises(CheckFailed, match="np.add.at"):
        grading.check_bigram_gradient_repeats(buffered)
    with pytest.raises(CheckFailed, match="divide by the batch size"):
        grading.check_bigram_gradient(lambda t, b: bigram_gradient(t, b) * len(b))
    with pytest.raises(CheckFailed, match="sign is flipped"):
        grading.check_bigram_gradient(lambda t, b: -bigram_gradient(t, b))

    def delegating(table, batch):
        from helpers import BigramTable
        counts = np.ones(table.shape)
        return BigramTable(counts).gradient(table.ravel(), batch).reshape(table.shape)

    assert np.allclose(delegating(np.eye(7), np.array([[0, 1], [2, 3]])),
                       bigram_gradient(np.eye(7), np.array([[0, 1], [2, 3]])))
    for check in (grading.check_bigram_gradient, grading.check_bigram_gradient_repeats):
        with pytest.raises(CheckFailed, match="calls the series' own implementation"):
            check(delegating)


def test_gradient_check_agrees_with_central_differences_of_the_loss():
    """The reference gradient the checks use is the loss's own derivative."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(7, 7))
    batch = np.array([[0, 1], [0, 1], [3, 2], [0, 6]])
    grad = grading._reference_bigram_gradient(table, batch)
    for index in [(0, 1), (0, 6), (3, 2), (5, 5)]:
        step = np.zeros_like(table)
        step[index] = 1e-6
        numeric = (grading._reference_bigram_loss(table + step, batch)
                   - grading._reference_bigram_loss(table - step, batch)) / 2e-6
        assert numeric == pytest.approx(grad[index], abs=1e-8)
    assert grading._reference_bigram_loss(table, batch) == pytest.approx(bigram_loss(table, batch))


def test_excess_by_group_check():
    def weighted(excess, counts, members):
        return np.array([excess[m] @ counts[m] / counts[m].sum() for m in members])

    assert grading.check_excess_by_group(weighted)
    with pytest.raises(CheckFailed, match="plain mean"):
        grading.check_excess_by_group(lambda e, c, ms: np.array([e[m].mean() for m in ms]))
