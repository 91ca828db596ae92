"""Every public function refuses bad input with a ValueError that names the argument."""

import numpy as np
import pytest

import helpers as h

BAD_HYPERPARAMETERS = [
    (h.sgd, {"lr": 0}, "lr"),
    (h.sgd, {"lr": -0.1}, "lr"),
    (h.sgd, {"lr": float("nan")}, "lr"),
    (h.sgd, {"lr": float("inf")}, "lr"),
    (h.sgd, {"lr": "0.05"}, "lr"),
    (h.sgd, {"lr": None}, "lr"),
    (h.sgd, {"lr": np.array([0.1, -1.0])}, "lr"),
    (h.momentum, {"lr": 0.1, "beta": 1.0}, "beta"),
    (h.momentum, {"lr": 0.1, "beta": -0.1}, "beta"),
    (h.adagrad, {"lr": 0.1, "eps": 0}, "eps"),
    (h.rmsprop, {"lr": 0.1, "beta": 1.5}, "beta"),
    (h.rmsprop, {"lr": 0.1, "eps": -1e-8}, "eps"),
    (h.adam, {"lr": 0.1, "beta1": 1.0}, "beta1"),
    (h.adam, {"lr": 0.1, "beta2": 1.0}, "beta2"),
    (h.adam, {"lr": 0.1, "beta2": float("nan")}, "beta2"),
    (h.adam, {"lr": 0.1, "eps": 0.0}, "eps"),
    (h.adam, {"lr": 0.1, "bias_correction": "yes"}, "bias_correction"),
    (h.sign_descent, {"lr": 0}, "lr"),
]


@pytest.mark.parametrize("factory, kwargs, name", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters(factory, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        factory(**kwargs)


def test_messages_show_the_value_and_what_is_allowed():
    with pytest.raises(ValueError) as info:
        h.adam(0.05, beta2=1.0)
    assert "got 1.0" in str(info.value) and "[0, 1)" in str(info.value)
    with pytest.raises(ValueError) as info:
        h.sgd(-0.1)
    assert "greater than 0" in str(info.value) and "-0.1" in str(info.value)


@pytest.mark.parametrize("frequencies", [[0.5, 0.0], [1.2], [-0.1, 0.5], [0.5, float("nan")],
                                         [], [[0.5, 0.5]], "abc"])
def test_frequencies_outside_zero_one(frequencies):
    with pytest.raises(ValueError, match="^frequencies must"):
        h.make_world(frequencies)


def test_frequency_one_is_allowed():
    assert h.make_world([1.0, 0.5]).frequencies.tolist() == [1.0, 0.5]


@pytest.mark.parametrize("kwargs, name", [
    ({"true_weights": [1.0, 2.0]}, "true_weights"),
    ({"true_weights": float("nan")}, "true_weights"),
    ({"noise_std": -1}, "noise_std"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"tokens": ["a", "b"]}, "tokens"),
    ({"tokens": ["a"] * 6}, "tokens"),
])
def test_bad_world_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        h.make_world(**kwargs)


def test_step_checks_shapes_and_values():
    opt = h.adam(0.05)
    w = np.zeros(6)
    state = opt.init(w)
    with pytest.raises(ValueError, match="^grad must have the same shape"):
        opt.step(w, np.zeros(5), state)
    with pytest.raises(ValueError, match="^grad must contain only finite"):
        opt.step(w, np.full(6, np.nan), state)
    with pytest.raises(ValueError, match="^w must contain only finite"):
        opt.step(np.full(6, np.inf), np.zeros(6), state)
    with pytest.raises(ValueError, match="^state must be the AdamState"):
        opt.step(w, np.zeros(6), h.sgd(0.1).init(w))
    with pytest.raises(ValueError, match="^state.m has shape"):
        opt.step(np.zeros(3), np.zeros(3), state)
    with pytest.raises(ValueError, match="^w must have at least 1"):
        opt.init(0.0)


def test_array_hyperparameter_must_broadcast_to_the_weights():
    with pytest.raises(ValueError, match=r"^lr has shape \(3, 1\)"):
        h.sgd(np.full((3, 1), 0.1)).init(np.zeros(6))


@pytest.mark.parametrize("kwargs, name", [
    ({"n_steps": 0}, "n_steps"),
    ({"n_steps": -5}, "n_steps"),
    ({"n_steps": 10.0}, "n_steps"),
    ({"n_steps": True}, "n_steps"),
    ({"rng": 42}, "rng"),
    ({"w0": np.zeros(5)}, "w0"),
    ({"w0": np.full(6, np.nan)}, "w0"),
    ({"record": ("v_hat",), "optimizer": h.sgd(0.1)}, "sgd cannot record"),
    ({"record": "nothing"}, "adam cannot record"),
    ({"on_divergence": "ignore"}, "on_divergence"),
    ({"optimizer": "adam"}, "optimizer"),
    ({"world": [0.5]}, "world"),
])
def test_bad_training_arguments(kwargs, name):
    args = {"optimizer": h.adam(0.05), "world": h.REFERENCE_WORLD, "n_steps": 10,
            "rng": h.make_rng(0)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name}"):
        h.train(args.pop("optimizer"), args.pop("world"), args.pop("n_steps"),
                args.pop("rng"), **args)


def test_other_public_functions():
    with pytest.raises(ValueError, match="^seed must"):
        h.make_rng(-1)
    with pytest.raises(ValueError, match="^token must be one of"):
        h.REFERENCE_WORLD.token_index("cat")
    with pytest.raises(ValueError, match="^adam has no derived quantity 'x'"):
        h.adam(0.05).derive("x", h.adam(0.05).init(np.zeros(2)))
    with pytest.raises(ValueError, match="^v_hat is defined only after"):
        h.adam(0.05).derive("v_hat", h.adam(0.05).init(np.zeros(2)))
    with pytest.raises(ValueError, match="^x must"):
        h.loglog_slope([0.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="^x and y must"):
        h.loglog_slope([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="^trajectory must"):
        h.steps_to_reach(np.zeros(0))
    with pytest.raises(ValueError, match="^threshold must"):
        h.steps_to_reach(np.zeros(3), float("nan"))
    with pytest.raises(ValueError, match="^result must"):
        h.final_error("not a result")
    with pytest.raises(ValueError, match="^each row must"):
        h.make_table(["a", "b"], [["1"]])
