"""The tutorial's protocol, run by the helpers, gives the reference numbers of
tests/reference_values.py (their provenance is written there)."""

import numpy as np
import pytest
import reference_values as ref

from helpers import effective_lr, final_error, grad_nonzero_fraction, reference_runs


@pytest.fixture(scope="module")
def runs():
    return reference_runs(seed=42)


def test_sgd_final_weights(runs):
    w = runs.sgd.final_weights
    assert round(w[4], 4) == ref.SGD_FINAL_XENOBIOTIC
    assert round(w[5], 4) == ref.SGD_FINAL_THALWEG
    assert np.all(np.abs(w[:4] - 1) < 0.01)


def test_steps_with_a_gradient(runs):
    assert runs.sgd.grad_nonzero_steps.tolist() == ref.SGD_STEPS_WITH_A_GRADIENT
    share = grad_nonzero_fraction(runs.sgd)
    assert round(100 * share[4], 1) == 15.1
    assert round(100 * share[5], 1) == 3.2


def test_adam_final_weights(runs):
    w = runs.adam.final_weights
    assert (round(w.min(), 2), round(w.max(), 2)) == ref.ADAM_FINAL_RANGE
    assert round(w[5], 4) == ref.ADAM_FINAL_THALWEG
    assert np.all(final_error(runs.adam) < 0.11)


def test_adam_effective_learning_rates(runs):
    lr_eff = effective_lr(runs.adam)
    assert round(lr_eff[5], 1) == ref.ADAM_EFFECTIVE_LR_THALWEG
    assert round(lr_eff[0], 2) == ref.ADAM_EFFECTIVE_LR_THE
    assert round(lr_eff[0] / 0.05) == 24                    # "already 24x the nominal"
    assert 780 < lr_eff[5] / 0.05 < 800                     # "about 790x"
    assert round(lr_eff[5] / lr_eff[0]) == 33               # "about 33x"
    assert np.all(np.diff(lr_eff) > 0)                      # rarer token, larger step


def test_v_hat_is_recorded_and_matches_the_effective_lr(runs):
    v_hat = runs.adam.recorded["v_hat"]
    assert v_hat.shape == (3000, 6)
    np.testing.assert_allclose(0.05 / (np.sqrt(v_hat[-1]) + 1e-8), effective_lr(runs.adam))


def test_protocol_adam_sees_the_next_batches_not_the_same(runs):
    # Adam's 'the' got a gradient on every step too, but its trajectory differs from a
    # run on the first 3000 batches (the protocol continues the stream).
    from helpers import REFERENCE_WORLD, adam, make_rng, train
    fresh = train(adam(0.05), REFERENCE_WORLD, 3000, make_rng(42))
    assert not np.array_equal(fresh.final_weights, runs.adam.final_weights)
