import numpy as np
import pytest

from helpers import (REFERENCE_WORLD, DivergenceError, adam, make_rng, make_world,
                     minibatch_gradient, sgd, train)


def test_gradient_matches_the_textbook_formula():
    rng = make_rng(0, legacy=False)
    X, y = REFERENCE_WORLD.sample_batch(rng)
    w = rng.normal(size=6)
    np.testing.assert_allclose(minibatch_gradient(w, X, y), X.T @ (X @ w - y) / 32, rtol=1e-13)


def test_result_shapes_and_exposure_counts():
    result = train(adam(0.05), REFERENCE_WORLD, 50, make_rng(1), record=("m", "v_hat"))
    assert result.weights.shape == (50, 6)
    assert result.recorded["m"].shape == (50, 6)
    assert result.recorded["v_hat"].shape == (50, 6)
    np.testing.assert_array_equal(result.steps, np.arange(1, 51))
    assert result.grad_nonzero_steps.shape == (6,)
    assert result.grad_nonzero_steps[0] == 50          # 'the' is in every batch
    assert int(result.diverged_at) == 0 and not result.diverged
    np.testing.assert_array_equal(result.trajectory("thalweg"), result.weights[:, 5])
    np.testing.assert_array_equal(result.w0, np.zeros(6))


def test_recorded_state_is_the_final_state_at_the_end():
    opt = adam(0.05)
    result = train(opt, REFERENCE_WORLD, 30, make_rng(2), record=("v", "effective_lr"))
    np.testing.assert_array_equal(result.recorded["v"][-1], result.final_state.v)
    np.testing.assert_array_equal(result.recorded["effective_lr"][-1],
                                  opt.derive("effective_lr", result.final_state))


def test_learning_rates_on_a_leading_axis_equal_runs_one_at_a_time():
    lrs = np.array([0.01, 0.05, 0.2])
    swept = train(sgd(lrs[:, None]), REFERENCE_WORLD, 200, make_rng(3), w0=np.zeros((3, 6)))
    assert swept.weights.shape == (200, 3, 6)
    for k, lr in enumerate(lrs):
        single = train(sgd(float(lr)), REFERENCE_WORLD, 200, make_rng(3))
        np.testing.assert_allclose(swept.weights[:, k], single.weights, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(swept.grad_nonzero_steps[k], single.grad_nonzero_steps)


def test_divergence_raises_with_the_step():
    with pytest.raises(DivergenceError, match=r"diverged at step \d+") as info:
        train(sgd(2.0), REFERENCE_WORLD, 3000, make_rng(42))
    assert 1 <= info.value.step < 3000


def test_divergence_can_be_marked_per_run():
    lrs = np.array([0.05, 2.0])[:, None]
    result = train(sgd(lrs), REFERENCE_WORLD, 500, make_rng(42), w0=np.zeros((2, 6)),
                   on_divergence="mark")
    assert result.diverged_at[0] == 0 and result.diverged_at[1] > 0
    step = result.diverged_at[1]
    assert np.all(np.isfinite(result.weights[: step - 1, 1]))
    assert np.all(np.isnan(result.weights[step - 1:, 1]))
    healthy = train(sgd(0.05), REFERENCE_WORLD, 500, make_rng(42))
    np.testing.assert_allclose(result.weights[:, 0], healthy.weights, rtol=1e-12, atol=1e-14)


def test_same_seed_gives_identical_runs():
    a = train(adam(0.05), REFERENCE_WORLD, 100, make_rng(11, legacy=False))
    b = train(adam(0.05), REFERENCE_WORLD, 100, make_rng(11, legacy=False))
    np.testing.assert_array_equal(a.weights, b.weights)


def test_world_of_another_size():
    world = make_world([0.9, 0.01], true_weights=[2.0, -1.0])
    result = train(sgd(0.5), world, 2000, make_rng(0, legacy=False))
    assert abs(result.final_weights[0] - 2.0) < 0.1
