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


def test_recorded_gradient_is_the_minibatch_gradient():
    rng, replay = make_rng(4), make_rng(4)
    result = train(sgd(0.1), REFERENCE_WORLD, 5, rng, record="grad")
    w = np.zeros(6)
    for step in range(5):
        X, y = REFERENCE_WORLD.sample_batch(replay)
        np.testing.assert_allclose(result.recorded["grad"][step], X.T @ (X @ w - y) / 32,
                                   rtol=1e-13, atol=1e-15)
        w = result.weights[step]


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


def test_one_stream_per_run_equals_each_run_alone():
    seeds = [3, 8, 42]
    stacked = train(adam(0.05), REFERENCE_WORLD, 400, [make_rng(s) for s in seeds],
                    record=("v_hat",))
    assert stacked.weights.shape == (400, 3, 6)
    for k, seed in enumerate(seeds):
        alone = train(adam(0.05), REFERENCE_WORLD, 400, make_rng(seed), record=("v_hat",))
        np.testing.assert_allclose(stacked.weights[:, k], alone.weights, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(stacked.grad_nonzero_steps[k], alone.grad_nonzero_steps)


def test_per_run_streams_with_a_sweep_axis_inside():
    # runs x learning rates: each seed's batches are shared by its learning rates
    lrs = np.array([0.01, 0.1])[:, None]
    stacked = train(sgd(lrs), REFERENCE_WORLD, 100, [make_rng(1), make_rng(2)],
                    w0=np.zeros((2, 2, 6)))
    for k, seed in enumerate((1, 2)):
        for j, lr in enumerate((0.01, 0.1)):
            alone = train(sgd(lr), REFERENCE_WORLD, 100, make_rng(seed))
            np.testing.assert_allclose(stacked.weights[:, k, j], alone.weights,
                                       rtol=1e-12, atol=1e-14)


def test_reference_runs_over_several_seeds_equal_each_seed_alone():
    from helpers import reference_runs
    many = reference_runs(seed=range(2), n_steps=300)
    assert many.seed == [0, 1]
    for k in range(2):
        one = reference_runs(seed=k, n_steps=300)
        np.testing.assert_allclose(many.sgd.weights[:, k], one.sgd.weights, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(many.adam.weights[:, k], one.adam.weights,
                                   rtol=1e-10, atol=1e-12)


def test_streams_must_match_the_run_axis():
    with pytest.raises(ValueError, match="^with a list of 2 random streams"):
        train(sgd(0.1), REFERENCE_WORLD, 10, [make_rng(1), make_rng(2)], w0=np.zeros((3, 6)))
    with pytest.raises(ValueError, match="^rng must not be an empty list"):
        REFERENCE_WORLD.sample_batch([])


# --- where the gradient comes from: a batch, its statistics, or the expectation ---------

def test_statistics_give_exactly_the_gradient_of_the_batch_they_summarise():
    from helpers.model import statistics_gradient
    rng = np.random.default_rng(5)
    X = (rng.random((32, 6)) < REFERENCE_WORLD.frequencies).astype(float)
    noise = 0.1 * rng.standard_normal(32)
    y = X @ REFERENCE_WORLD.true_weights + noise
    w = rng.normal(size=(3, 6))
    S, c = X.T @ X / 32, X.T @ noise / 32
    np.testing.assert_allclose(statistics_gradient(w, S, c, REFERENCE_WORLD.true_weights),
                               minibatch_gradient(w, X, y), rtol=1e-12, atol=1e-14)


def test_drawn_statistics_have_the_distribution_of_a_batch():
    world = make_world(batch_size=64)
    draws = [world.sample_statistics(make_rng(s)) for s in range(20_000)]
    S = np.array([d[0] for d in draws])
    c = np.array([d[1] for d in draws])
    # E[S] = E[x x^T]; Var(c_i) = p_i sigma^2 / B (noise independent of the tokens)
    assert np.abs(S.mean(axis=0) - world.expected_hessian()).max() < 0.01
    # (thalweg's c is non-zero in only ~1,200 of the draws: too few to pin its variance)
    np.testing.assert_allclose(c.var(axis=0)[:5], world.frequencies[:5] * 0.01 / 64, rtol=0.1)
    # a token absent from the batch has an exactly zero row, column and c entry
    absent = S[:, 5, 5] == 0
    assert absent.any() and np.all(S[absent, 5] == 0) and np.all(c[absent, 5] == 0)


def test_three_gradients_agree_in_expectation():
    # SGD's rare weights after 3000 steps: batch by batch, by statistics (10 seeds each),
    # and the full-batch (expected) gradient, deterministic.
    seeds = [make_rng(s) for s in range(10)]
    batches = train(sgd(0.05), REFERENCE_WORLD, 3000, seeds).final_weights[:, 4:]
    seeds = [make_rng(s) for s in range(10)]
    stats = train(sgd(0.05), REFERENCE_WORLD, 3000, seeds, gradient="statistics")
    full = train(sgd(0.05), REFERENCE_WORLD, 3000, gradient="expected")
    for finals in (batches, stats.final_weights[:, 4:]):
        assert np.all(np.abs(finals.mean(axis=0) - full.final_weights[4:]) < 0.02)
    assert np.all(full.grad_nonzero_steps == 3000)          # full batch: every step


def test_full_batch_training_is_deterministic_and_needs_no_stream():
    a = train(adam(0.01), REFERENCE_WORLD, 200, gradient="expected")
    b = train(adam(0.01), REFERENCE_WORLD, 200, gradient="expected")
    np.testing.assert_array_equal(a.weights, b.weights)
    with pytest.raises(ValueError, match="leave rng out"):
        train(sgd(0.1), REFERENCE_WORLD, 10, make_rng(0), gradient="expected")
    with pytest.raises(ValueError, match="^gradient must be one of"):
        train(sgd(0.1), REFERENCE_WORLD, 10, make_rng(0), gradient="full")
    with pytest.raises(TypeError, match="^rng must be a random stream"):
        train(sgd(0.1), REFERENCE_WORLD, 10)


def test_gradient_descent_does_not_see_a_rotation_but_adam_does():
    rotated = REFERENCE_WORLD.rotated(seed=1)
    assert np.allclose(rotated.rotation @ rotated.rotation.T, np.eye(6))
    assert np.allclose(rotated.to_tokens(rotated.true_weights), 1.0)
    # GD is rotation-equivariant: in token coordinates the run is the same, step by step
    plain = train(sgd(0.5), REFERENCE_WORLD, 500, gradient="expected")
    turned = train(sgd(0.5), rotated, 500, gradient="expected")
    np.testing.assert_allclose(rotated.to_tokens(turned.weights), plain.weights, atol=1e-12)
    # Adam is not: its per-coordinate normalisation works in the basis it is given
    plain = train(adam(0.01), REFERENCE_WORLD, 500, gradient="expected")
    turned = train(adam(0.01), rotated, 500, gradient="expected")
    assert np.abs(rotated.to_tokens(turned.weights) - plain.weights).max() > 0.1
    # a batch of the rotated world is the rotated batch of the original one
    X, y = rotated.sample_batch(make_rng(3))
    X0, y0 = REFERENCE_WORLD.sample_batch(make_rng(3))
    np.testing.assert_allclose(X, X0 @ rotated.rotation.T, atol=1e-15)
    np.testing.assert_allclose(y, y0, atol=1e-12)
    with pytest.raises(ValueError, match="cannot run a rotated world"):
        from helpers import sweep
        sweep({"sgd": (sgd, {"lr": [0.1]})}, rotated, [0], 10)


def test_the_tutorial_protocol_is_sgd_then_adam_on_one_continuing_stream():
    # Notebook 04 runs the protocol this way for 21 seeds at once.
    from helpers import reference_runs
    streams = [make_rng(s) for s in (3, 42)]
    sgd_runs = train(sgd(0.05), REFERENCE_WORLD, 300, streams)
    adam_runs = train(adam(0.05), REFERENCE_WORLD, 300, streams)
    for k, seed in enumerate((3, 42)):
        protocol = reference_runs(seed, n_steps=300)
        np.testing.assert_array_equal(sgd_runs.weights[:, k], protocol.sgd.weights)
        np.testing.assert_allclose(adam_runs.weights[:, k], protocol.adam.weights, rtol=1e-12)


def test_several_optimizers_on_one_draw_equal_each_trained_alone():
    streams = lambda: [make_rng(s) for s in (0, 7)]  # noqa: E731
    together = train({"SGD": sgd(0.05), "Adam": adam(0.05)}, REFERENCE_WORLD, 400, streams(),
                     record="grad")
    for name, optimizer in (("SGD", sgd(0.05)), ("Adam", adam(0.05))):
        alone = train(optimizer, REFERENCE_WORLD, 400, streams(), record="grad")
        np.testing.assert_array_equal(together[name].weights, alone.weights)
        np.testing.assert_array_equal(together[name].recorded["grad"], alone.recorded["grad"])
    # a diverging member stops alone; the others go on
    mixed = train({"bad": sgd(3.0), "good": sgd(0.05)}, REFERENCE_WORLD, 300, make_rng(1),
                  on_divergence="mark")
    assert mixed["bad"].diverged and not mixed["good"].diverged
    with pytest.raises(ValueError, match="at least one optimizer"):
        train({}, REFERENCE_WORLD, 10, make_rng(0))
    with pytest.raises(TypeError, match=r"^optimizer\['x'\] must be made by helpers"):
        train({"x": "sgd"}, REFERENCE_WORLD, 10, make_rng(0))


def test_one_run_of_a_stack_is_the_run_trained_alone():
    stack = train(adam(0.05), REFERENCE_WORLD, 200, [make_rng(s) for s in (5, 6)], record="v_hat")
    alone = train(adam(0.05), REFERENCE_WORLD, 200, make_rng(6), record="v_hat")
    picked = stack.run(-1)
    np.testing.assert_allclose(picked.weights, alone.weights, rtol=1e-12)
    np.testing.assert_allclose(picked.recorded["v_hat"], alone.recorded["v_hat"], rtol=1e-12)
    from helpers import effective_lr
    np.testing.assert_allclose(effective_lr(picked), effective_lr(alone), rtol=1e-12)
    with pytest.raises(ValueError, match="single run"):
        alone.run(0)
    with pytest.raises(ValueError, match="index must lie in 0..1"):
        stack.run(2)
