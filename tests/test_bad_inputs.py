"""Every public function refuses bad input, with the right kind of error and a message
that names the argument, shows the value and says what is allowed:

* a value of the wrong type (a string, a bool, a complex number, None) -> TypeError;
* a value of the right type outside what is allowed -> ValueError;
* an unknown name (an optimizer, a token, an arm) -> KeyError;
* a size that would need more than a few GB -> ValueError with the estimate, before
  anything is allocated.
"""

import numpy as np
import pytest

import helpers as h
from helpers.metrics import loglog_slope_interval
from helpers.optimizers import get_spec, optimizer_from_roles

W = h.REFERENCE_WORLD
T, R, M = h.train, h.make_rng, h.make_world
SLOPE = loglog_slope_interval


def call(function, *args, **kwargs):
    return lambda: function(*args, **kwargs)


# (what is called, expected error, message that must appear at the start)
CASES = {
    # --- optimizers --------------------------------------------------------------------
    "sgd lr=True": (call(h.sgd, True), TypeError, "^lr must be a number"),
    "sgd lr=1j": (call(h.sgd, 1j), TypeError, "^lr must be a number"),
    "sgd lr='0.05'": (call(h.sgd, "0.05"), TypeError, "^lr must be a number"),
    "sgd lr=None": (call(h.sgd, None), TypeError, "^lr must be a number"),
    "sgd lr=[0.1, True]": (call(h.sgd, [0.1, True]), TypeError, "^lr must be a number"),
    "sgd lr=0": (call(h.sgd, 0), ValueError, "^lr must be a finite number greater than 0"),
    "sgd lr=-0.1": (call(h.sgd, -0.1), ValueError, "^lr must be a finite number greater"),
    "sgd lr=nan": (call(h.sgd, float("nan")), ValueError, "^lr must be a finite"),
    "sgd lr=inf": (call(h.sgd, float("inf")), ValueError, "^lr must be a finite"),
    "sgd lr array with -1": (call(h.sgd, np.array([0.1, -1.0])), ValueError, "^lr must"),
    "sgd unknown keyword": (call(h.sgd, 0.1, beta=0.9), TypeError, r"^sgd\(lr\)"),
    "momentum beta=1": (call(h.momentum, 0.1, beta=1.0), ValueError, r"^beta must lie in \[0, 1\)"),
    "momentum beta=-0.1": (call(h.momentum, 0.1, beta=-0.1), ValueError, "^beta must lie in"),
    "adagrad eps=0": (call(h.adagrad, 0.1, eps=0), ValueError, "^eps must"),
    "rmsprop beta=1.5": (call(h.rmsprop, 0.1, beta=1.5), ValueError, "^beta must"),
    "rmsprop eps<0": (call(h.rmsprop, 0.1, eps=-1e-8), ValueError, "^eps must"),
    "adam beta1=1": (call(h.adam, 0.1, beta1=1.0), ValueError, "^beta1 must"),
    "adam beta2=nan": (call(h.adam, 0.1, beta2=float("nan")), ValueError, "^beta2 must"),
    "adam bias_correction='yes'": (call(h.adam, 0.1, bias_correction="yes"), TypeError,
                                   "^bias_correction must be True or False"),
    "adam bias_correction=1": (call(h.adam, 0.1, bias_correction=1), TypeError,
                               "^bias_correction must be True or False"),
    "sign_descent lr=0": (call(h.sign_descent, 0), ValueError, "^lr must"),
    "unknown optimizer": (call(get_spec, "lion"), KeyError, "^optimizer 'lion' is unknown"),
    "unknown role": (call(optimizer_from_roles, "adam", lr=0.1, friction=0.5), KeyError,
                     r"^roles \['friction'\] are unknown"),
    "derive unknown": (call(lambda: h.adam(0.05).derive("x", h.adam(0.05).init(np.zeros(2)))),
                       KeyError, "^adam has no derived quantity 'x'"),
    "derive before a step": (call(lambda: h.adam(0.05).derive("v_hat", h.adam(0.05).init(
        np.zeros(2)))), ValueError, "^v_hat is defined only after"),
    "step with another's state": (call(lambda: h.adam(0.05).step(np.zeros(2), np.zeros(2),
                                  h.sgd(0.1).init(np.zeros(2)))), TypeError,
                                  "^state must be the AdamState"),
    "step grad of wrong shape": (call(lambda: h.adam(0.05).step(np.zeros(6), np.zeros(5),
                                 h.adam(0.05).init(np.zeros(6)))), ValueError,
                                 "^grad must have the same shape"),
    "step NaN grad": (call(lambda: h.sgd(0.1).step(np.zeros(2), np.full(2, np.nan),
                      h.sgd(0.1).init(np.zeros(2)))), ValueError, "^grad must contain only finite"),
    "init scalar w": (call(lambda: h.sgd(0.1).init(0.0)), ValueError, "^w must have at least 1"),
    "lr array that does not broadcast": (call(lambda: h.sgd(np.full((3, 1), 0.1)).init(
        np.zeros(6))), ValueError, r"^lr has shape \(3, 1\)"),
    "scheduled a string": (call(h.scheduled, "sgd", lambda t: 1.0), TypeError, "^optimizer must"),
    # --- world ---------------------------------------------------------------------------
    "frequency 0": (call(M, [0.5, 0.0]), ValueError, r"^frequencies must lie in \(0, 1\]"),
    "frequency 1.2": (call(M, [1.2]), ValueError, "^frequencies must lie in"),
    "frequency nan": (call(M, [0.5, float("nan")]), ValueError, "^frequencies must lie"),
    "no frequencies": (call(M, []), ValueError, "^frequencies must be a non-empty"),
    "2-D frequencies": (call(M, [[0.5, 0.5]]), ValueError, "^frequencies must be a non"),
    "frequencies 'abc'": (call(M, "abc"), TypeError, "^frequencies must be a number"),
    "frequencies of bools": (call(M, [True, 0.5]), TypeError, "^frequencies must be"),
    "true_weights wrong length": (call(M, true_weights=[1.0, 2.0]), ValueError,
                                  "^true_weights must have shape"),
    "noise_std < 0": (call(M, noise_std=-1), ValueError, "^noise_std must"),
    "batch_size 0": (call(M, batch_size=0), ValueError, "^batch_size must"),
    "batch_size 2.5": (call(M, batch_size=2.5), TypeError, "^batch_size must be a whole"),
    "tokens too few": (call(M, tokens=["a", "b"]), ValueError, "^tokens must name each"),
    "tokens repeated": (call(M, tokens=["a"] * 6), ValueError, "^tokens must be distinct"),
    "tokens a string": (call(M, [0.5, 0.5], tokens="ab"), TypeError, "^tokens must be a list"),
    "unknown token": (call(W.token_index, "cat"), KeyError, "^token 'cat' is unknown"),
    "token index 6": (call(W.token_index, 6), ValueError, r"^token index must lie in 0..5"),
    "sample with a seed": (call(W.sample_batch, 42), TypeError, "^rng must be"),
    "make_rng(-1)": (call(h.make_rng, -1), ValueError, "^seed must"),
    "make_rng(True)": (call(h.make_rng, True), TypeError, "^seed must be a whole number"),
    "make_rng('42')": (call(h.make_rng, "42"), TypeError, "^seed must be a whole number"),
    # --- the model -----------------------------------------------------------------------
    "gradient X wrong shape": (call(h.minibatch_gradient, np.zeros(6), np.zeros((32, 5)),
                                    np.zeros(32)), ValueError, r"^X must have shape \(batch, 6\)"),
    "gradient y wrong shape": (call(h.minibatch_gradient, np.zeros(6), np.zeros((32, 6)),
                                    np.zeros(31)), ValueError, r"^y must have shape \(32,\)"),
    "gradient NaN w": (call(h.minibatch_gradient, np.full(6, np.nan), np.zeros((32, 6)),
                            np.zeros(32)), ValueError, "^w must contain only finite"),
    "gradient per-run X, flat w": (call(h.minibatch_gradient, np.zeros(6), np.zeros((3, 32, 6)),
                                        np.zeros((3, 32))), ValueError, "^with one batch per run"),
    "expected gradient wrong H": (call(h.expected_gradient, np.zeros(6), np.eye(5), np.ones(6)),
                                  ValueError, r"^hessian must have shape \(6, 6\)"),
    # --- training ------------------------------------------------------------------------
    "train a name": (call(T, "adam", W, 10, R(0)), TypeError, "^optimizer must be"),
    "train a list world": (call(T, h.sgd(0.1), [0.5], 10, R(0)), TypeError, "^world must"),
    "train n_steps=0": (call(T, h.sgd(0.1), W, 0, R(0)), ValueError, "^n_steps must"),
    "train n_steps=10.0": (call(T, h.sgd(0.1), W, 10.0, R(0)), TypeError, "^n_steps must"),
    "train n_steps=True": (call(T, h.sgd(0.1), W, True, R(0)), TypeError, "^n_steps must"),
    "train rng=42": (call(T, h.sgd(0.1), W, 10, 42), TypeError, "^rng must be a random stream"),
    "train w0 wrong length": (call(T, h.sgd(0.1), W, 10, R(0), w0=np.zeros(5)),
                              ValueError, "^w0 must end in an axis of length 6"),
    "train w0 NaN": (call(T, h.sgd(0.1), W, 10, R(0), w0=np.full(6, np.nan)),
                     ValueError, "^w0 must contain only finite"),
    "train record v_hat under SGD": (call(T, h.sgd(0.1), W, 10, R(0), record="v_hat"),
                                     KeyError, "^sgd cannot record 'v_hat'"),
    "train on_divergence": (call(T, h.sgd(0.1), W, 10, R(0), on_divergence="ignore"),
                            ValueError, "^on_divergence must be one of"),
    "train 10^9 steps": (call(T, h.sgd(0.1), W, 10 ** 9, R(0)), ValueError,
                         "GiB of memory"),
    "reference_runs no seeds": (call(h.reference_runs, []), ValueError, "^seed must name"),
    # --- metrics and statistics ----------------------------------------------------------
    "steps_to_reach('abc')": (call(h.steps_to_reach, "abc"), TypeError, "^trajectory must be"),
    "steps_to_reach empty": (call(h.steps_to_reach, np.zeros(0)), ValueError, "^trajectory must"),
    "steps_to_reach threshold nan": (call(h.steps_to_reach, np.zeros(3), float("nan")), ValueError,
                                     "^threshold must be a finite"),
    "final_error of a string": (call(h.final_error, "not a result"), TypeError, "^result must"),
    "expected_sgd_weight steps < 0": (call(h.expected_sgd_weight, 0.05, [0.1], [-3]), ValueError,
                                      "^steps must be a 1-D list of step counts >= 0"),
    "expected_sgd_weight p = 2": (call(h.expected_sgd_weight, 0.05, [2.0], [10]), ValueError,
                                  r"^frequencies must lie in \(0, 1\]"),
    "loglog_slope x = 0": (call(h.loglog_slope, [0.0, 1.0], [1.0, 2.0]), ValueError, "^x must"),
    "loglog_slope lengths": (call(h.loglog_slope, [1.0, 2.0], [1.0, 2.0, 3.0]), ValueError,
                             "^x and y must"),
    "slope interval n_boot=0": (call(SLOPE, [0.1, 0.01], [[1, 2], [3, 4]], n_boot=0),
                                ValueError, "^n_boot must be a whole number from 100"),
    "slope interval level=1": (call(SLOPE, [0.1, 0.01], [[1, 2], [3, 4]], level=1.0),
                               ValueError, r"^level must lie in \(0, 1\)"),
    "slope interval one seed": (call(SLOPE, [0.1, 0.01], [[1, 2]]), ValueError,
                                r"^samples must have shape \(seeds >= 2"),
    "seed band over one seed": (call(h.seed_band, [[1.0, 2.0]]), ValueError, "at least 2 seeds"),
    "make_table ragged": (call(h.make_table, ["a", "b"], [["1"]]), ValueError, "^each row must"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_the_right_error_and_a_clear_message(case):
    function, error, message = CASES[case]
    with pytest.raises(error, match=message):
        function()


def test_there_are_at_least_forty_bad_inputs_here():
    assert len(CASES) >= 40


def test_key_errors_read_as_sentences():
    # KeyError normally prints its message in quotes; ours print the sentence itself.
    with pytest.raises(KeyError) as info:
        W.token_index("cat")
    assert str(info.value) == "token 'cat' is unknown; this world's tokens are the, model, " \
                              "embedding, tokenization, xenobiotic, thalweg"


def test_messages_show_the_value_and_what_is_allowed():
    with pytest.raises(ValueError) as info:
        h.adam(0.05, beta2=1.0)
    assert "got 1.0" in str(info.value) and "[0, 1)" in str(info.value)
    with pytest.raises(ValueError) as info:
        h.sgd(-0.1)
    assert "greater than 0" in str(info.value) and "-0.1" in str(info.value)


def test_frequency_one_is_allowed():
    assert h.make_world([1.0, 0.5]).frequencies.tolist() == [1.0, 0.5]
