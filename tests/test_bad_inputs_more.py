"""More bad input: one or more cases for each kind of mistake that used to get no clear
answer. A fraction silently truncated to a whole number; an infinity, or a caller's array,
taken as it is; a size without a bound; an error from deep inside (ZeroDivisionError,
AttributeError, IndexError) instead of a message; an optimizer state built by hand with
an impossible step count; a ValueError where the rule says TypeError.

Every case asserts the kind of error *and* that the message starts with the argument's
name (showing the value given where that helps); each fails before any work is done (a
size before anything is allocated). The rules are those of tests/test_bad_inputs.py.
"""

import re
from math import comb

import numpy as np
import pytest
from matplotlib.figure import Figure

import helpers as h
from helpers import claims, colours, grading, kernels, plotting, quadratic, softmax, stats, streams
from helpers.grading import CheckFailed
from helpers.optimizers import AdamState, MomentumState, SGDState
from helpers.softmax import (BigramTable, LinearSoftmax, evaluation_steps, frequency_groups,
                             leaves_zero_gradient_alone, train_classifier)
from helpers.tables import Table

W = h.REFERENCE_WORLD
R = h.make_rng


def call(function, *args, **kwargs):
    return lambda: function(*args, **kwargs)


def axes():
    return Figure().add_subplot()


def linear_model():
    return LinearSoftmax(np.arange(12.0).reshape(4, 3) / 10, np.full((4, 2), 0.5))


def table_model():
    return BigramTable(np.array([[1.0, 2.0], [3.0, 1.0]]))


def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


def adagrad_init(w):
    return np.zeros_like(w)


def adagrad_step(w, g, s, lr, eps):
    s = s + g * g
    return w - lr * g / (np.sqrt(s) + eps), s


def step_from(state, optimizer=None, w=None):
    optimizer = optimizer or h.adam(0.05)
    w = np.zeros(2) if w is None else w
    return lambda: optimizer.step(w, np.ones_like(w), state)


def sweep_arm():
    return h.sweep({"s": (h.sgd, {"lr": [0.1, 0.2]})}, W, [0, 1], 2)["s"]


HARD = [0.95, 0.9, 0.002]
GRID = [1.2, 1.3, 1.4, 1.5, 1.6]
TC = train_classifier
T, V = TypeError, ValueError

# name: (what is called, expected error, regex the message must match from its start)
CASES = {
    # --- a fraction, a bool or a text where a whole number is needed: refused, not cut ---
    "record_steps with 1.5": (call(TC, h.sgd(0.1), linear_model(), 3, record_steps=[0, 1.5, 3]),
                              T, r"^record_steps must be .*whole numbers.*\(it holds 1\.5\)"),
    "record_steps of floats": (call(TC, h.sgd(0.1), linear_model(), 3, record_steps=[0.0, 2.0]),
                               T, r"^record_steps must be .*whole numbers"),
    "record_steps with True": (call(TC, h.sgd(0.1), linear_model(), 3, record_steps=[True, 2]),
                               T, r"^record_steps .*\(it holds True\)"),
    "record_steps a string": (call(TC, h.sgd(0.1), linear_model(), 3, record_steps="abc"),
                              T, "^record_steps .*got 'abc'"),
    "record_steps empty": (call(TC, h.sgd(0.1), linear_model(), 3, record_steps=[]),
                           V, "^record_steps must be a non-empty"),
    "record_steps past n_steps": (call(TC, h.sgd(0.1), linear_model(), 3, record_steps=[0, 9]),
                                  V, "^record_steps .*from 0 to 3"),
    "hard world seeds 0.5, 1.5": (call(grading.check_hard_world_sgd_fails, HARD, seeds=[0.5, 1.5],
                                       n_steps=50), T, "^each seed must be a whole number.*0.5"),
    "hard world seeds a string": (call(grading.check_hard_world, HARD, seeds="ab", n_steps=50),
                                  T, "^seeds must be a list .*'ab'"),
    "hard world n_steps 50.7": (call(grading.check_hard_world_sgd_fails, HARD, seeds=[0, 1],
                                     n_steps=50.7), T, "^n_steps must be a whole number.*50.7"),
    "hard world n_steps '50'": (call(grading.check_hard_world_adam_learns, HARD, seeds=[0, 1],
                                     n_steps="50"), T, "^n_steps must be a whole number.*'50'"),
    "hard world 1000 seeds": (call(grading.check_hard_world, HARD, seeds=range(1000)),
                              V, "^seeds must name at most 100"),
    "typical rates streams 8.9": (call(grading.simulated_typical_rates, [(0.5, 1.0, 0.05)],
                                       streams=8.9), T, "^streams must be a whole number.*8.9"),
    "typical rates cases 'abc'": (call(grading.simulated_typical_rates, "abc"),
                                  T, "^cases must be a non-empty list"),
    "typical rates a pair": (call(grading.simulated_typical_rates, [(0.5, 1.0)]),
                             T, r"^each of cases must be a \(q, g, lr\) triple"),
    "typical rates q = 2": (call(grading.simulated_typical_rates, [(2.0, 1.0, 0.05)]),
                            V, r"^q must lie in \(0, 1\].*2.0"),
    "adam check seed 7.5": (call(grading.check_adam_moments, adam_step, seed=7.5),
                            T, "^seed must be a whole number.*7.5"),
    "adam check runs 2.5": (call(grading.check_adam_stacked, adam_step, runs=2.5),
                            T, "^runs must be a whole number.*2.5"),
    "adagrad check n_steps 30.5": (call(grading.check_adagrad_values, adagrad_init, adagrad_step,
                                        n_steps=30.5), T, "^n_steps must be a whole number.*30.5"),
    "adagrad check lr 0": (call(grading.check_adagrad_values, adagrad_init, adagrad_step, lr=0),
                           V, "^lr must be a finite number greater than 0"),
    "rare weight check t 300.5": (call(grading.check_best_rare_weight, lambda f, t: 0.0, t=300.5),
                                  T, "^t must be a whole number.*300.5"),
    "bigram check seed '41'": (call(grading.check_bigram_loss, lambda table, batch: 0.0,
                                    seed="41"), T, "^seed must be a whole number.*'41'"),
    "ratio_of_means resamples 100.5": (call(stats.ratio_of_means, [1.0, 2, 3], [1.0, 2, 4],
                                            resamples=100.5), T, "^resamples must be.*100.5"),
    "ratio_of_means seed 0.5": (call(stats.ratio_of_means, [1.0, 2, 3], [1.0, 2, 4], seed=0.5),
                                T, "^seed must be a whole number.*0.5"),
    "seeds 'abc'": (call(streams.check_seeds, "abc"), T, "^seeds must be a list .*'abc'"),
    "lr_at step 1.5": (call(h.scheduled(h.adam(0.05), lambda t: 1.0).lr_at, 1.5),
                       T, "^t must be a whole number >= 1, got 1.5"),
    # --- infinities and wrong kinds of numbers, taken as they were ------------------------
    "t_cdf t = nan": (call(stats.t_cdf, float("nan"), 3), V, "^t must be a finite number, got nan"),
    "t_cdf t = '1'": (call(stats.t_cdf, "1", 3), T, "^t must be a number, got '1'"),
    "tuned rates with inf": (call(softmax.tune_learning_rate, [1.0, 2.0], [np.inf, 0.1]),
                             V, "^learning_rates must be a finite number greater than 0.*inf"),
    "tuned losses -inf": (call(softmax.tune_learning_rate, [-np.inf, 2.0], [0.1, 0.2]),
                          V, "^losses must not be minus infinity"),
    "group means of inf": (call(lambda: frequency_groups([3.0, 2, 1], 2)
                                .mean_over_groups([np.inf, 1, 1])),
                           V, "^per_class_loss must not contain infinities"),
    "group means of text": (call(lambda: frequency_groups([3.0, 2, 1], 2).mean_over_groups("abc")),
                            T, "^per_class_loss must be a number.*'abc'"),
    "to_tokens of text": (call(W.to_tokens, "abc"), T, "^weights must be a number.*'abc'"),
    "to_tokens wrong length": (call(W.to_tokens, [1.0, 2.0]),
                               V, r"^weights must end in an axis of length 6.*\(2,\)"),
    "group curves with inf": (call(lambda: plotting.plot_group_curves(axes(), [1, 2],
                                                                       [[np.inf], [1.0]], ["a"])),
                              V, "^curves must not contain infinities"),
    "group curves of text": (call(lambda: plotting.plot_group_curves(axes(), [1, 2], "abc", ["a"])),
                             T, "^curves must be a number.*'abc'"),
    "bowl with an infinite hessian": (call(lambda: plotting.plot_bowl(axes(), [[np.inf, 0], [0, 1]],
                                                                       [1, 1], [])),
                                      V, "^hessian must contain only finite"),
    "claim stated 'inf'": (call(claims.Claim, "q", "says", "inf"),
                           V, "^stated must be a finite number as written.*'inf'"),
    "claim stated 'nan'": (call(claims.Claim, "q", "says", "nan"),
                           V, "^stated must be a finite number as written.*'nan'"),
    "claim stated 0.5, not text": (call(claims.Claim, "q", "says", 0.5),
                                   T, "^stated must be a number as written.*0.5"),
    "claim quantity empty": (call(claims.Claim, "", "says", "0.5"),
                             V, "^quantity must not be empty"),
    "claim between nan and 1": (call(lambda: claims.Claim("q", "s", "0.5")
                                     .verdicts_between(float("nan"), 1.0)),
                                V, "^low must be a finite number, got nan"),
    "claim between 2 and 1": (call(lambda: claims.Claim("q", "s", "0.5")
                                   .verdicts_between(2.0, 1.0)),
                              V, "^low must not be above high"),
    "last_digit_unit('abc')": (call(claims.last_digit_unit, "abc"),
                               V, "^stated must be a finite number as written.*'abc'"),
    "stability check hessian text": (call(grading.check_stability_limit, lambda m: 1.0,
                                          hessian="abc"), T, "^hessian must be a number.*'abc'"),
    "stability check hessian inf": (call(grading.check_stability_limit, lambda m: 1.0,
                                         hessian=[[np.inf, 0], [0, 1]]),
                                    V, "^hessian must be a finite symmetric square matrix"),
    "stability check hessian -I": (call(grading.check_stability_limit, lambda m: 1.0,
                                        hessian=-np.eye(2)),
                                   V, "^hessian must have a positive eigenvalue"),
    "rare weight check p inf": (call(grading.check_best_rare_weight, lambda f, t: 0.0,
                                     frequencies=[0.5, np.inf]),
                                V, r"^frequencies must lie in \(0, 1\].*inf"),
    "rare weight check p text": (call(grading.check_best_rare_weight, lambda f, t: 0.0,
                                      frequencies="abc"),
                                 T, "^frequencies must be a number.*'abc'"),
    "divergence grid ending in nan": (call(grading.check_divergence_lr, 1.5,
                                           [1.2, 1.3, 1.4, float("nan")]),
                                      V, "^grid must be a finite number greater than 0.*nan"),
    "divergence grid ending in -1": (call(grading.check_divergence_lr, 1.5, [1.2, 1.3, 1.4, -1.0]),
                                     V, "^grid must be a finite number greater than 0.*-1.0"),
    "divergence grid of text": (call(grading.check_divergence_lr, 1.5, ["1.2", "1.6"]),
                                T, "^grid must be a number.*'1.2'"),
    "divergence grid one text": (call(grading.check_divergence_lr, 1.5, "1.2"),
                                 T, "^grid must be a list of learning rates.*'1.2'"),
    "adam check hyperparameters 'x'": (call(grading.check_adam_moments, adam_step,
                                            hyperparameters="x"),
                                       T, "^hyperparameters must be a dict.*'x'"),
    "adam check lr '0.05'": (call(grading.check_adam_moments, adam_step,
                                  hyperparameters={"lr": "0.05"}),
                             T, "^lr must be a number.*'0.05'"),
    "adam check beta2 1": (call(grading.check_adam_update, adam_step,
                                hyperparameters={"beta2": 1.0}),
                           V, r"^beta2 must lie in \[0, 1\).*got 1.0"),
    "adam check unknown setting": (call(grading.check_adam_step, adam_step,
                                        hyperparameters={"gamma": 1.0}),
                                   KeyError, "^hyperparameters 'gamma' is unknown"),
    "draw_batch with a seed": (call(lambda: linear_model().draw_batch(42, 4)),
                               T, r"^rng must be a numpy Generator.*got 42"),
    "draw_batch of 2.5 pairs": (call(lambda: linear_model().draw_batch(np.random.default_rng(0),
                                                                       2.5)),
                                T, "^batch_size must be a whole number.*2.5"),
    # --- sizes without a bound: refused before anything is allocated ---------------------
    "zipf exponent 1e6": (call(softmax.zipf_frequencies, 10, 1e6),
                          V, "^exponent must be at most 10.*1000000.0"),
    "sweep with batches of 10**8": (call(h.sweep, {"s": (h.sgd, {"lr": [0.1]})},
                                         h.make_world(batch_size=10 ** 8), [0], 1),
                                    V, r"^this sweep .*batches of 100,000,000.* GiB of memory"),
    "one batch of 10**9 samples": (call(lambda: h.make_world(batch_size=10 ** 9)
                                        .sample_batch(R(0))),
                                   V, r"^1 batch\(es\) of 1,000,000,000 samples would need"),
    "draw_batch of 10**10 pairs": (call(lambda: linear_model().draw_batch(
        np.random.default_rng(0), 10 ** 10)),
        V, "^batch_size must be a whole number.*10,000,000,000"),
    "teacher of 10**6 x 10**5 features": (call(h.make_teacher_problem, [0.5, 0.5],
                                               n_contexts=10 ** 6, dim=10 ** 5, seeds=0),
                                          V, "^these contexts and targets would need"),
    "ratio_of_means 10**9 resamples": (call(stats.ratio_of_means, np.ones(100), np.ones(100),
                                            resamples=10 ** 9),
                                       V, "^resamples must be a whole number.*1,000,000,000"),
    "slope interval 10**6 x 2000": (call(h.loglog_slope_interval, [1.0, 2.0], np.ones((2000, 2)),
                                         n_boot=10 ** 6),
                                    V, "^1,000,000 bootstrap replicates of 2,000 seeds would need"),
    "local slopes 10**6 x 2000": (call(h.metrics.local_loglog_slopes, [1.0, 2.0],
                                       np.ones((2000, 2)), n_boot=10 ** 6),
                                  V, "^1,000,000 bootstrap replicates"),
    "evaluation_steps 10**10 points": (call(evaluation_steps, 10, 10 ** 10),
                                       V, "^n_points must be a whole number.*10,000,000,000"),
    "10**9 group colours": (call(colours.frequency_group_colours, 10 ** 9),
                            V, "^n_groups must be a whole number from 1 to 1,000"),
    # --- errors from the inside, now a message about the argument ------------------------
    "a model with no contexts": (call(LinearSoftmax, np.zeros((0, 3)), np.zeros((0, 2))),
                                 V, r"^features must have shape .*at least one context.*\(0, 3\)"),
    "a model with no features": (call(LinearSoftmax, np.zeros((4, 0)), np.full((4, 2), 0.5)),
                                 V, r"^features must have shape .*\(4, 0\)"),
    "train a string model": (call(TC, h.sgd(0.1), "model", 3),
                             T, "^model must be a LinearSoftmax, BigramTable or .*got str"),
    "train the six-token world": (call(TC, h.sgd(0.1), W, 3), T, "^model must be .*got World"),
    "batches a number": (call(TC, h.sgd(0.1), table_model(), 3, batches=5),
                         T, "^batches must be a list of one batch per step.*5"),
    "batches of the wrong shape": (call(TC, h.sgd(0.1), table_model(), 3,
                                        batches=[np.zeros(3, int)] * 3),
                                   V, r"^batches\[0\] \(step 1\) must have shape \(B, 2\)"),
    "batches of floats": (call(TC, h.sgd(0.1), table_model(), 2,
                               batches=[np.zeros((2, 2))] * 2),
                          T, r"^batches\[0\] \(step 1\) must be an integer array"),
    "a batch word out of range": (call(TC, h.sgd(0.1), table_model(), 2,
                                       batches=[np.array([[0, 1]]), np.array([[0, 7]])]),
                                  V, r"^batches\[1\] \(step 2\) must hold word indices from 0 "
                                     r"to 1, got values from 0 to 7"),
    "batch counts of the wrong shape": (call(TC, h.sgd(0.1), linear_model(), 2,
                                             batches=[np.zeros(3)] * 2),
                                        V, r"^batches\[0\] \(step 1\) must be a batch's pair "
                                           r"counts of shape \(4, 2\)"),
    "monitors a string": (call(TC, h.sgd(0.1), linear_model(), 2, monitors="abc"),
                          T, "^monitors must be a dict.*'abc'"),
    "gradient of a text batch": (call(lambda: table_model().gradient(np.zeros(4), "ab")),
                                 T, "^samples must be an integer array"),
    "row gradient of a flat batch": (call(lambda: table_model().row_gradient(np.zeros(4),
                                                                             np.array([0, 1]))),
                                     V, r"^samples must have shape \(B, 2\).*\(2,\)"),
    "linear gradient of a wrong batch": (call(lambda: linear_model().gradient(np.zeros(6),
                                                                              np.ones(3))),
                                         V, r"^samples must be a batch's pair counts"),
    "zero-gradient test of a name": (call(leaves_zero_gradient_alone, "adam"),
                                     T, "^optimizer must be made by helpers.*str"),
    "schedule of no argument": (call(h.scheduled, h.adam(0.05), lambda: 1.0),
                                T, r"^schedule must be a function of one argument.*\(\)"),
    "schedule of two arguments": (call(h.scheduled, h.adam(0.05), lambda t, u: 1.0),
                                  T, r"^schedule must be a function of one argument.*\(t, u\)"),
    "trajectories on no axes": (call(lambda: plotting.plot_trajectories(
        None, h.train(h.sgd(0.1), W, 3, R(0)))), T, "^ax must be matplotlib axes.*NoneType"),
    "divergence answer a string": (call(grading.check_divergence_lr, "1.4", GRID),
                                   CheckFailed, "^the first diverging rate should be one number "
                                                "of the grid, got a str$"),
    "a check of a non-function": (call(grading.call, 5, "adam_step"),
                                  CheckFailed, "^adam_step should be a function.*got int"),
    "settle watch [10]": (call(quadratic.settle_steps, h.sgd(0.1), np.eye(2), np.ones(2), 5,
                               watch=[10]), V, r"^watch must be .*from 0 to 1, got \[10\]"),
    "settle watch 'a'": (call(quadratic.settle_steps, h.sgd(0.1), np.eye(2), np.ones(2), 5,
                              watch="a"), T, "^watch must be .*'a'"),
    "settle watch 1, not a list": (call(quadratic.settle_steps, h.sgd(0.1), np.eye(2),
                                        np.ones(2), 5, watch=1), T, "^watch must be .*got 1"),
    "settle watch []": (call(quadratic.settle_steps, h.sgd(0.1), np.eye(2), np.ones(2), 5,
                             watch=[]), V, "^watch must be a non-empty"),
    "settle watch [1, 1]": (call(quadratic.settle_steps, h.sgd(0.1), np.eye(2), np.ones(2), 5,
                                 watch=[1, 1]), V, r"^watch must name distinct weights.*\[1, 1\]"),
    "progress over a number": (call(h.progress, 5, "x"), T, "^items must be a list.*5"),
    "progress with a missing label": (call(h.progress, [1, 2], "x", {1: "a"}),
                                      KeyError, "^labels has no label for the item 2"),
    "token_style(10)": (call(plotting.token_style, 10),
                        V, "^index must be a whole number from 0 to 5, got 10"),
    "token_style(2.5)": (call(plotting.token_style, 2.5), T, "^index must be a whole number.*2.5"),
    "lr sweep tokens 'the'": (call(lambda: plotting.plot_lr_sweep(axes(), sweep_arm(), "the")),
                              T, r"^tokens must be a list of tokens.*\['the'\]"),
    "show_figure of a string": (call(plotting.show_figure, "fig", "six lines over the steps, "
                                                                   "falling"),
                                T, "^fig must be a matplotlib Figure.*str"),
    "render_figure of None": (call(plotting.render_figure, None, "six lines over the steps, "
                                                                 "falling"),
                              T, "^fig must be a matplotlib Figure.*NoneType"),
    "make_table columns 'abc'": (call(h.make_table, "abc", [["1", "2", "3"]]),
                                 T, "^columns must be a list, got the single string 'abc'"),
    "make_table rows 5": (call(h.make_table, ["a"], 5), T, "^rows must be a list, got 5"),
    "make_table a row 'ab'": (call(h.make_table, ["a", "b"], ["ab"]),
                              T, "^each row must be a list, got the single string 'ab'"),
    "a Table with a number cell": (call(Table, ("a",), ((1,),)),
                                   T, r"^each cell must be a string.*got 1"),
    "a World of text frequencies": (call(h.World, ("a",), "abc", np.ones(1), 0.1, 32),
                                    T, "^frequencies must be a number.*'abc'"),
    "a World of wrong true weights": (call(h.World, ("a", "b"), [0.5, 0.5], np.ones(3), 0.1, 32),
                                      V, r"^true_weights must have shape \(2,\)"),
    "a World of batch 2.5": (call(h.World, ("a",), [0.5], np.ones(1), 0.1, 2.5),
                             T, "^batch_size must be a whole number.*2.5"),
    "a World with a skewed rotation": (call(h.World, ("a", "b"), [0.5, 0.5], np.ones(2), 0.1, 32,
                                            np.ones((2, 2))),
                                       V, "^rotation must be an orthogonal matrix"),
    "compiled runs in a string world": (call(kernels.run_optimizers, [h.sgd(0.1)], "w",
                                             np.zeros((2, 32, 6)), np.zeros((2, 32))),
                                        T, "^world must be a helpers World.*str"),
    "compiled runs of no optimizer": (call(kernels.run_optimizers, [], W, np.zeros((2, 32, 6)),
                                           np.zeros((2, 32))),
                                      V, "^optimizer_list must hold at least one"),
    "compare_prediction what 5": (call(h.compare_prediction, 0.5, 0.6, 5),
                                  T, "^what must be a string, got 5"),
    # --- optimizer states built by hand -------------------------------------------------
    "Adam state t = -1": (step_from(AdamState(-1, np.zeros(2), np.zeros(2))),
                          V, "^state.t must be >= 0.*got -1"),
    "Adam state t = 2.5": (step_from(AdamState(2.5, np.zeros(2), np.zeros(2))),
                           T, "^state.t must be a whole number.*2.5"),
    "Adam state t = '1'": (step_from(AdamState("1", np.zeros(2), np.zeros(2))),
                           T, "^state.t must be a whole number.*'1'"),
    "Adam state t = True": (step_from(AdamState(True, np.zeros(2), np.zeros(2))),
                            T, "^state.t must be a whole number.*True"),
    "Adam state m a list": (step_from(AdamState(0, [0.0, 0.0], np.zeros(2))),
                            T, r"^state.m must be an array of w's shape \(2,\).*\[0.0, 0.0\]"),
    "Adam state v NaN": (step_from(AdamState(0, np.zeros(2), np.full(2, np.nan))),
                         V, "^state.v must contain only finite numbers"),
    "Adam state v < 0": (step_from(AdamState(0, np.zeros(2), -np.ones(2))),
                         V, "^state.v must be >= 0"),
    "AdaGrad state sum < 0": (step_from(h.adagrad(0.1).spec.state(3, -np.ones(2)), h.adagrad(0.1)),
                              V, "^state.sum_sq must be >= 0"),
    "SGD state t = -5": (step_from(SGDState(-5), h.sgd(0.1)), V, "^state.t must be >= 0.*-5"),
    "Momentum state of 3 weights": (step_from(MomentumState(0, np.zeros(3)), h.momentum(0.1)),
                                    V, r"^state.buf has shape \(3,\) but w has shape \(2,\)"),
    "derive at t = 2.5": (call(h.adam(0.05).derive, "v_hat", AdamState(2.5, np.zeros(2),
                                                                       np.ones(2))),
                          T, "^state.t must be a whole number.*2.5"),
    "derive at t = -2": (call(h.adam(0.05).derive, "v_hat", AdamState(-2, np.zeros(2), np.ones(2))),
                         V, "^state.t must be >= 0.*-2"),
    # --- a TypeError where the type is wrong (it used to be a ValueError) -----------------
    "seed_band axis 1.0": (call(h.seed_band, np.ones((3, 2)), axis=1.0),
                           T, "^axis must be a whole number.*1.0"),
    "seed_band axis True": (call(h.seed_band, np.ones((3, 2)), axis=True),
                            T, "^axis must be a whole number.*True"),
    "seed_band axis 5": (call(h.seed_band, np.ones((3, 2)), axis=5),
                         V, "^axis must be an axis of an array of 2 dimension.*5"),
    "paired_difference axis '0'": (call(h.paired_difference, np.ones((3, 2)), np.ones((3, 2)),
                                        axis="0"), T, "^axis must be a whole number.*'0'"),
    "schedule returning True": (call(h.scheduled, h.adam(0.05), lambda t: True),
                                T, r"^schedule\(t\) must return a finite number.*True at t = 1"),
    "schedule returning '1'": (call(h.scheduled, h.adam(0.05), lambda t: "1"),
                               T, r"^schedule\(t\) must return a finite number.*'1' at t = 1"),
    "schedule returning None at step 4": (call(lambda: h.train(
        h.scheduled(h.sgd(0.1), lambda t: 1.0 if t <= 3 else None), W, 5, R(0))),
        T, r"^schedule\(t\) must return .*None at t = 4"),
    "align 'lx'": (call(h.make_table, ["a", "b"], [["1", "2"]], align="lx"),
                   V, r"^align must be '' \(the default\) or one letter per column.*'lx'"),
    "align 'l' for 2 columns": (call(h.make_table, ["a", "b"], [["1", "2"]], align="l"),
                                V, "^align must be .*2 letters here, got 'l'"),
    "align 5": (call(h.make_table, ["a", "b"], [["1", "2"]], align=5),
                T, "^align must be a string of 'l' and 'r'.*5"),
    "group colours 2.5": (call(colours.frequency_group_colours, 2.5),
                          T, "^n_groups must be a whole number.*2.5"),
    "group colours True": (call(colours.frequency_group_colours, True),
                           T, "^n_groups must be a whole number.*True"),
    "group line styles -1": (call(colours.frequency_group_linestyles, -1),
                             V, "^n_groups must be a whole number.*-1"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_the_right_error_naming_the_argument(case):
    function, error, message = CASES[case]
    with pytest.raises(error, match=message):
        function()


def test_there_are_at_least_sixty_new_bad_inputs_here():
    assert len(CASES) >= 60


# --- a model or a world keeps its own read-only copy of the caller's arrays -------------

SHARED = {
    # name: (the caller's array, build the object from it, the stored array's attribute)
    "LinearSoftmax features": (lambda: np.arange(12.0).reshape(4, 3) / 10,
                               lambda a: LinearSoftmax(a, np.full((4, 2), 0.5)),
                               lambda m: m.features),
    "LinearSoftmax targets": (lambda: np.full((4, 2), 0.5),
                              lambda a: LinearSoftmax(np.ones((4, 3)), a), lambda m: m.targets),
    "LinearSoftmax weights": (lambda: np.full(4, 0.25),
                              lambda a: LinearSoftmax(np.ones((4, 3)), np.full((4, 2), 0.5), a),
                              lambda m: m.weights),
    "FrequencyGroups mass": (lambda: np.array([3.0, 2.0, 1.0]),
                             lambda a: frequency_groups(a, 2), lambda g: g.mass),
    "an optimizer's lr grid": (lambda: np.array([[0.1], [0.2]]), h.sgd,
                               lambda o: o.hyperparams["lr"]),
    "a World built directly": (lambda: np.array([0.5, 0.25]),
                               lambda a: h.World(("a", "b"), a, np.ones(2), 0.1, 32),
                               lambda w: w.frequencies),
    "a sweep's grid coordinates": (lambda: np.array([0.1, 0.2]),
                                   lambda a: h.sweep({"s": (h.sgd, {"lr": a})}, W, [0], 2)["s"],
                                   lambda arm: arm.coords["lr"]),
}


@pytest.mark.parametrize("case", list(SHARED))
def test_a_model_keeps_a_frozen_copy_of_the_callers_array(case):
    make_array, build, stored = SHARED[case]
    array = make_array()
    kept = build(array)
    before = stored(kept).copy()
    array *= 3.0                                    # the caller changes its array later
    assert np.array_equal(stored(kept), before), "the object followed the caller's array"
    assert not np.shares_memory(stored(kept), array)
    with pytest.raises(ValueError, match="read-only"):
        stored(kept)[...] = 0.0                     # and nothing may change its own


def test_a_frozen_model_still_trains_as_before():
    # The copies change no number: the same run from the same arrays, twice.
    features, targets = np.arange(12.0).reshape(4, 3) / 10, np.full((4, 2), 0.5)
    targets[0] = [0.9, 0.1]
    first = train_classifier(h.adam(0.05), LinearSoftmax(features, targets), 20,
                             record_steps=[0, 20])
    again = train_classifier(h.adam(0.05), LinearSoftmax(features.copy(), targets.copy()), 20,
                             record_steps=[0, 20])
    assert np.array_equal(first.class_losses, again.class_losses)
    assert first.loss[-1] < first.loss[0]


def test_a_hand_built_state_that_is_right_still_steps():
    state = AdamState(np.int64(3), np.zeros(2), np.full(2, 0.01))
    w, new = h.adam(0.05).step(np.zeros(2), np.ones(2), state)
    assert new.t == 4 and np.all(np.isfinite(w))


def test_whole_number_steps_of_an_integer_array_are_accepted():
    run = train_classifier(h.sgd(0.1), linear_model(), 4, record_steps=np.array([0, 2, 4]))
    assert run.steps.tolist() == [0, 2, 4]


# --- a huge number of degrees of freedom is answered at once, and right -----------------

def test_t_quantile_with_ten_million_degrees_of_freedom_is_the_normal_quantile():
    # The normal 97.5% quantile is 1.959963984540054; t(10^7) lies above it by about
    # (x^3 + x) / (4 df) = 2.4e-7.
    value = stats.t_quantile(0.975, 10 ** 7)
    assert 1.959963984540054 < value < 1.959963984540054 + 3e-7
    assert abs(value - (1.959963984540054 + (1.959963984540054 ** 3 + 1.959963984540054)
                        / 4e7)) < 1e-12
    assert stats.t_quantile(1 - 0.975, 10 ** 7) == -value          # symmetric
    assert abs(stats.t_cdf(value, 10 ** 7) - 0.975) < 1e-13
    assert abs(stats.t_cdf(1.959963984540054, 10 ** 15) - 0.975) < 1e-13


@pytest.mark.parametrize("df", [stats.EXACT_MAX_DF + 1, 3 * stats.EXACT_MAX_DF])
def test_the_large_df_expansion_agrees_with_the_exact_sum(df, monkeypatch):
    probabilities = [0.6, 0.9, 0.975, 0.995, 0.9995]
    fast = [stats.t_quantile(p, df) for p in probabilities]
    cdf_fast = [stats.t_cdf(t, df) for t in (0.2, 1.0, 1.96, 4.0)]
    monkeypatch.setattr(stats, "EXACT_MAX_DF", 10 ** 9)         # force the exact sum
    exact = [stats.t_quantile(p, df) for p in probabilities]
    cdf_exact = [stats.t_cdf(t, df) for t in (0.2, 1.0, 1.96, 4.0)]
    np.testing.assert_allclose(fast, exact, rtol=1e-11)
    np.testing.assert_allclose(cdf_fast, cdf_exact, rtol=0, atol=1e-12)


def test_a_median_interval_of_many_values_sums_the_tail_in_floating_point():
    n = stats.EXACT_MEDIAN_MAX_N + 1
    values = np.arange(float(n))
    low, high, coverage = stats.median_interval(values)
    tail = np.cumsum([comb(n, j) for j in range(n + 1)]) / 2 ** n       # the exact sums
    k = int(np.searchsorted(tail, 0.025, side="right"))
    assert (low, high) == (values[k - 1], values[n - k])
    assert abs(coverage - (1 - 2 * tail[k - 1])) < 1e-12
    low, high, coverage = stats.median_interval(np.arange(200_000.0))
    assert 0.95 <= coverage < 0.951 and low < 100_000 < high


# --- the explorer's readout (helper-level inputs a notebook can pass) --------------------

@pytest.mark.parametrize("runs, level, error, words", [
    ({}, 0.5, ValueError, "runs is empty"),
    ("abc", 0.5, TypeError, "runs must be a dict"),
    ({"adam": 3}, 0.5, TypeError, "runs['adam'] must be an ExplorerRun"),
])
def test_the_readout_refuses_what_is_not_runs(runs, level, error, words):
    from helpers.explorer import readout
    with pytest.raises(error, match=re.escape(words)):
        readout(runs, level=level)


@pytest.mark.parametrize("level, error", [("half", TypeError), (float("inf"), ValueError),
                                          (True, TypeError)])
def test_a_level_to_reach_must_be_a_finite_number(level, error):
    from helpers.explorer import ExplorerModel, ExplorerSettings, readout
    runs = ExplorerModel().run(ExplorerSettings(optimizers=("sgd",), n_steps=50))
    with pytest.raises(error, match="level"):
        readout(runs, level=level)
    with pytest.raises(error, match="level"):
        runs["sgd"].steps_to_reach(level)


@pytest.mark.parametrize("colours_given, error, words", [
    (("#zzzzzz", "#000000"), ValueError, "colours[0] is '#zzzzzz'"),
    (("#000000",), ValueError, "at least two colours"),
    ("#000000", TypeError, "colours must be a list"),
])
def test_colour_checks_name_the_bad_colour(colours_given, error, words):
    with pytest.raises(error, match=re.escape(words)):
        colours.distinguishability(colours_given)
