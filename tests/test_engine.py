"""The many-run engine: labels, common random numbers, seed identity, equality with a
plain loop on the same batches, divergence, bands, validation."""

import numpy as np
import pytest

import helpers as h
from helpers import REFERENCE_WORLD as WORLD
from helpers.engine import sweep
from helpers.streams import sweep_batches


def plain_loop(optimizer, seed, n_steps, world=WORLD):
    w, state = np.zeros(world.n_tokens), optimizer.init(np.zeros(world.n_tokens))
    for X, y in sweep_batches(world, seed, n_steps):
        w, state = optimizer.step(w, X.T @ (X @ w - y) / world.batch_size, state)
    return w


@pytest.fixture(scope="module")
def small():
    return sweep({"sgd": (h.sgd, {"lr": [0.05, 0.5]}),
                  "adam": (h.adam, {"lr": [0.01, 0.05], "beta2": [0.99, 0.999]})},
                 WORLD, range(6), 300, record_every=50)


def test_labels_and_shapes(small):
    adam = small["adam"]
    assert adam.dims == ("step", "seed", "lr", "beta2", "token")
    assert adam.weights.shape == (6, 6, 2, 2, 6)
    assert adam.coords["step"].tolist() == [50, 100, 150, 200, 250, 300]
    assert adam.coords["lr"].tolist() == [0.01, 0.05]
    assert adam.coords["token"].tolist() == list(WORLD.tokens)
    assert adam.grad_nonzero_steps.shape == (6, 2, 2, 6)
    assert adam.diverged_at.shape == (6, 2, 2)
    assert small["sgd"].dims == ("step", "seed", "lr", "token")


@pytest.mark.parametrize("name, optimizer, index", [
    ("sgd", h.sgd(0.5), (1,)), ("adam", h.adam(0.05, beta2=0.99), (1, 0))])
def test_engine_equals_a_plain_loop_on_the_same_batches(small, name, optimizer, index):
    for seed in (0, 5):
        engine = small[name].final_weights[(seed,) + index]
        np.testing.assert_allclose(engine, plain_loop(optimizer, seed, 300), rtol=1e-12, atol=1e-13)


def test_common_random_numbers_across_arms_and_settings(small):
    # every arm and setting of a seed saw the same batches, so the same exposure counts
    counts = small["sgd"].grad_nonzero_steps
    assert np.array_equal(counts[:, 0], counts[:, 1])
    assert np.array_equal(small["adam"].grad_nonzero_steps[:, 1, 0], counts[:, 0])
    # ... and a setting run alone gives what it gave inside the grid (to float rounding:
    # BLAS sums one setting and two settings in different orders)
    alone = sweep({"x": (h.sgd, {"lr": [0.5]})}, WORLD, range(6), 300, record_every=50)
    np.testing.assert_array_equal(alone["x"].grad_nonzero_steps[:, 0], counts[:, 1])
    np.testing.assert_allclose(alone["x"].weights[..., 0, :], small["sgd"].weights[..., 1, :],
                               rtol=1e-12, atol=1e-14)


def test_a_seed_gets_the_same_batches_whatever_runs_beside_it(small):
    other = sweep({"sgd": (h.sgd, {"lr": [0.05, 0.5]})}, WORLD, [5, 2, 40], 300,
                  record_every=50, threads=1)
    np.testing.assert_array_equal(other["sgd"].weights[:, :2], small["sgd"].weights[:, [5, 2]])
    assert other["sgd"].coords["seed"].tolist() == [5, 2, 40]


def test_threads_and_run_length_do_not_change_results():
    args = ({"adam": (h.adam, {"lr": [0.05]})}, WORLD, range(60))
    one = sweep(*args, 100, threads=1)
    two = sweep(*args, 100, threads=2)
    np.testing.assert_array_equal(one["adam"].weights, two["adam"].weights)
    shorter = sweep(*args, 37, threads=2)     # not a multiple of the 8-step draws
    np.testing.assert_array_equal(shorter["adam"].weights, one["adam"].weights[:37])


def test_sweep_batches_have_the_world_frequencies():
    X = np.concatenate([X for X, _ in sweep_batches(WORLD, 3, 2000)])
    p = WORLD.frequencies
    z = (X.mean(axis=0) - p) / np.sqrt(p * (1 - p) / len(X))
    assert np.all(np.abs(z) < 4.5), z
    always = h.make_world([1.0, 0.5])
    assert all(X[:, 0].all() for X, _ in sweep_batches(always, 0, 20))


def test_divergence_is_marked_per_setting():
    result = sweep({"sgd": (h.sgd, {"lr": [0.05, 3.0]})}, WORLD, range(3), 200)
    arm = result["sgd"]
    assert np.all(arm.diverged_at[:, 0] == 0) and np.all(arm.diverged_at[:, 1] > 0)
    step = int(arm.diverged_at[0, 1])
    assert np.all(np.isnan(arm.weights[step - 1:, 0, 1]))
    assert np.all(np.isfinite(arm.weights[:, :, 0]))
    with pytest.raises(ValueError, match="diverged"):
        arm.band()
    assert np.isfinite(arm.sel(lr=0.05).band().mean).all()


def test_band_is_the_t_interval_of_the_seed_mean(small):
    arm = small["adam"].sel(lr=0.05, beta2=0.999)
    assert arm.dims == ("step", "seed", "token")
    band = arm.band(level=0.95)
    final = arm.final_weights                       # (seed, token)
    half = 2.570582 * final.std(axis=0, ddof=1) / np.sqrt(6)     # t(0.975, 5)
    np.testing.assert_allclose(band.mean[-1], final.mean(axis=0))
    np.testing.assert_allclose(band.high[-1] - band.mean[-1], half, rtol=1e-3)


def test_sel_checks_its_values(small):
    with pytest.raises(ValueError, match="not on the grid"):
        small["sgd"].sel(lr=0.1)
    with pytest.raises(KeyError, match="grid dims"):
        small["sgd"].sel(seed=1)
    with pytest.raises(KeyError, match="arm 'rmsprop' is unknown"):
        small["rmsprop"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"seeds": 5}, TypeError, "^seeds must be a list"),
    ({"seeds": []}, ValueError, "^seeds must name"),
    ({"seeds": [1, 1]}, ValueError, "^seeds must be distinct"),
    ({"seeds": [-1]}, ValueError, "^each seed must"),
    ({"seeds": [1.5]}, TypeError, "^each seed must"),
    ({"n_steps": 0}, ValueError, "^n_steps must"),
    ({"n_steps": 3.0}, TypeError, "^n_steps must"),
    ({"threads": 0}, ValueError, "^threads must"),
    ({"record_every": 0}, ValueError, "^record_every must"),
    ({"arms": {}}, ValueError, "^arms must name at least one"),
    ({"arms": [("a", h.sgd)]}, TypeError, "^arms must be a dict"),
    ({"arms": {"a": h.sgd}}, TypeError, r"^arms\['a'\] must be"),
    ({"arms": {"a": (h.sgd, [0.1])}}, TypeError, r"^arms\['a'\]: the grid"),
    ({"arms": {"a": (h.sgd, {"lr": []})}}, ValueError,
     r"^arms\['a'\]: grid 'lr' must be a non-empty"),
    ({"arms": {"a": (h.sgd, {"lr": ["x"]})}}, TypeError, r"^arms\['a'\]: grid 'lr' must be a list"),
    ({"arms": {"a": (h.sgd, {"lr": [-0.1]})}}, ValueError, r"^arms\['a'\]: lr must"),
    ({"arms": {"a": (h.sgd, {"lr": [0.1], "beta": [0.9]})}}, KeyError,
     r"^arms\['a'\]: 'beta' is not a hyperparameter"),
    ({"arms": {"a": (h.adam, {"lr": [0.1]}, {"beta3": 0.5})}}, KeyError,
     r"^arms\['a'\]: 'beta3' is not a hyperparameter"),
    ({"arms": {"a": (h.adam, {"lr": [0.1]}, {"lr": 0.5})}}, ValueError,
     "both on the grid and fixed"),
    ({"arms": {"a": (lambda lr: "nope", {"lr": [0.1]})}}, TypeError,
     "must return a helpers optimizer"),
    ({"world": [0.5]}, TypeError, "^world must"),
    ({"n_steps": 10 ** 7, "seeds": range(1000)}, ValueError, "GiB of memory"),
])
def test_bad_arguments(kwargs, error, message):
    args = {"arms": {"sgd": (h.sgd, {"lr": [0.1]})}, "world": WORLD, "seeds": range(2),
            "n_steps": 10}
    args.update(kwargs)
    with pytest.raises(error, match=message):
        sweep(args.pop("arms"), args.pop("world"), args.pop("seeds"), args.pop("n_steps"), **args)


def test_the_final_state_gives_the_same_effective_lr_as_a_plain_loop(small):
    arm = small["adam"].sel(lr=0.05, beta2=0.99)
    optimizer = h.adam(0.05, beta2=0.99)
    w, state = np.zeros(6), optimizer.init(np.zeros(6))
    for X, y in sweep_batches(WORLD, 5, 300):
        w, state = optimizer.step(w, X.T @ (X @ w - y) / 32, state)
    np.testing.assert_allclose(arm.derive("effective_lr")[5],
                               optimizer.derive("effective_lr", state), rtol=1e-10)
    full = small["adam"].derive("effective_lr")           # (seed, lr, beta2, token)
    assert full.shape == (6, 2, 2, 6)
    np.testing.assert_allclose(full[:, 1, 0], arm.derive("effective_lr"), rtol=1e-15)
