"""Each optimizer's first steps against values worked out by hand, purity, leading axes,
and (when PyTorch is installed) agreement with torch.optim to float64 rounding."""

import math

import numpy as np
import pytest

from helpers import adagrad, adam, momentum, rmsprop, sgd, sign_descent
from helpers.optimizers import AdamState


def run_steps(opt, w0, grads):
    w, state = np.array(w0, dtype=float), opt.init(np.array(w0, dtype=float))
    for g in grads:
        w, state = opt.step(w, np.array(g, dtype=float), state)
    return w, state


def test_sgd_by_hand():
    w, state = run_steps(sgd(0.1), [1.0, 2.0], [[0.5, -1.0]])
    assert w.tolist() == [0.95, 2.1]
    assert state.t == 1


def test_momentum_by_hand():
    # step 1: buf = g1 = [1, -2]; w = -0.1 * buf
    # step 2: buf = 0.9 * [1, -2] + [1, 0] = [1.9, -1.8]; w -= 0.1 * buf
    w, state = run_steps(momentum(0.1, beta=0.9), [0.0, 0.0], [[1, -2], [1, 0]])
    np.testing.assert_allclose(state.buf, [1.9, -1.8], rtol=0, atol=1e-15)
    np.testing.assert_allclose(w, [-0.1 - 0.19, 0.2 + 0.18], rtol=0, atol=1e-15)


def test_adagrad_by_hand():
    # step 1: s = [4, 0]; w = -0.5 * [2/(2+eps), 0]
    # step 2: s = [8, 9]; w -= 0.5 * [2/(sqrt 8+eps), 3/(3+eps)]
    w, state = run_steps(adagrad(0.5), [0.0, 0.0], [[2, 0], [2, 3]])
    np.testing.assert_allclose(state.sum_sq, [8, 9])
    expected = [-0.5 * 2 / (2 + 1e-10) - 0.5 * 2 / (math.sqrt(8) + 1e-10), -0.5 * 3 / (3 + 1e-10)]
    np.testing.assert_allclose(w, expected, rtol=1e-15)


def test_rmsprop_by_hand():
    # v = 0.01 * 4 = 0.04, sqrt(v) = 0.2, step = 0.01 * 2 / 0.2 = 0.1
    w, state = run_steps(rmsprop(0.01), [1.0], [[2.0]])
    np.testing.assert_allclose(state.v, [0.04], rtol=1e-15)
    np.testing.assert_allclose(w, [1.0 - 0.01 * 2 / (0.2 + 1e-8)], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # After bias correction m_hat = g and v_hat = g^2, so the first step is lr*g/(|g|+eps).
    g = [0.5, -2.0, 0.0]
    w, state = run_steps(adam(0.05), [0.0, 0.0, 0.0], [g])
    np.testing.assert_allclose(w, [-0.05 * 0.5 / (0.5 + 1e-8), 0.05 * 2 / (2 + 1e-8), 0.0],
                               rtol=1e-15)
    np.testing.assert_allclose(state.m, [0.05, -0.2, 0.0], rtol=1e-15)
    np.testing.assert_allclose(state.v, [0.00025, 0.004, 0.0], rtol=1e-15)


def test_adam_second_step_by_hand():
    g1, g2 = 1.0, -0.5
    m = 0.1 * g1
    v = 0.001 * g1 ** 2
    w = -0.05 * (m / 0.1) / (math.sqrt(v / 0.001) + 1e-8)
    m = 0.9 * m + 0.1 * g2
    v = 0.999 * v + 0.001 * g2 ** 2
    w -= 0.05 * (m / (1 - 0.9 ** 2)) / (math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    got, state = run_steps(adam(0.05), [0.0], [[g1], [g2]])
    np.testing.assert_allclose(got, [w], rtol=1e-14)
    assert state.t == 2


def test_adam_without_bias_correction_takes_a_larger_first_step():
    # m = 0.1 g, v = 0.001 g^2: step = lr * 0.1 / sqrt(0.001) = lr * 3.162...
    w, _ = run_steps(adam(0.05, bias_correction=False), [0.0], [[1.0]])
    np.testing.assert_allclose(w, [-0.05 * 0.1 / (math.sqrt(0.001) + 1e-8)], rtol=1e-15)


def test_adam_derived_quantities():
    opt = adam(0.05)
    _, state = run_steps(opt, [0.0, 0.0], [[1.0, 0.0], [3.0, 0.0]])
    v_hat = state.v / (1 - 0.999 ** 2)
    np.testing.assert_allclose(opt.derive("v_hat", state), v_hat)
    np.testing.assert_allclose(opt.derive("effective_lr", state), 0.05 / (np.sqrt(v_hat) + 1e-8))
    # a weight that never had a gradient has v_hat = 0 and effective lr = lr / eps
    assert opt.derive("effective_lr", state)[1] == pytest.approx(0.05 / 1e-8)


def test_sign_descent_by_hand():
    w, _ = run_steps(sign_descent(0.005), [0.0, 0.0, 0.0], [[3.0, -1e-6, 0.0]])
    np.testing.assert_allclose(w, [-0.005, 0.005, 0.0], rtol=0, atol=0)


ALL = [sgd(0.1), momentum(0.1), adagrad(0.5), rmsprop(0.01), adam(0.05), sign_descent(0.01)]


@pytest.mark.parametrize("opt", ALL, ids=lambda o: o.name)
def test_step_does_not_mutate_its_inputs(opt):
    w = np.array([0.3, -0.2])
    state = opt.init(w)
    w, state = opt.step(w, np.array([1.0, 2.0]), state)
    before_w, before_state = w.copy(), [np.copy(x) for x in state]
    grad = np.array([0.5, -0.25])
    opt.step(w, grad, state)
    np.testing.assert_array_equal(w, before_w)
    np.testing.assert_array_equal(grad, [0.5, -0.25])
    for field_now, field_before in zip(state, before_state):
        np.testing.assert_array_equal(field_now, field_before)


@pytest.mark.parametrize("opt", ALL, ids=lambda o: o.name)
def test_leading_axes_equal_runs_one_at_a_time(opt):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 4, 3)) * (rng.random((20, 4, 3)) < 0.3)
    stacked, _ = run_steps(opt, np.zeros((4, 3)), grads)
    for run in range(4):
        single, _ = run_steps(opt, np.zeros(3), grads[:, run])
        np.testing.assert_array_equal(stacked[run], single)


def test_array_hyperparameters_run_a_sweep_side_by_side():
    lrs = np.array([0.01, 0.05, 0.1])[:, None]
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(10, 2))
    swept, _ = run_steps(adam(lrs), np.zeros((3, 2)), np.broadcast_to(grads[:, None], (10, 3, 2)))
    for k, lr in enumerate(lrs[:, 0]):
        single, _ = run_steps(adam(float(lr)), np.zeros(2), grads)
        np.testing.assert_array_equal(swept[k], single)


def test_state_fields_are_named_and_plottable():
    state = adam(0.05).init(np.zeros(6))
    assert isinstance(state, AdamState)
    assert state._fields == ("t", "m", "v")
    assert repr(adam(0.05)) == ("adam(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-08, "
                                "bias_correction=True)")


# --- PyTorch: the same gradients must give the same weights, to float64 rounding -------

def _torch_pairs():
    torch = pytest.importorskip("torch")
    return torch, [
        (sgd(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
        (momentum(0.05, 0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        (adagrad(0.5), lambda p: torch.optim.Adagrad(p, lr=0.5)),
        (rmsprop(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
        (adam(0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
    ]


def test_optimizers_agree_with_torch_optim():
    torch, pairs = _torch_pairs()
    rng = np.random.default_rng(7)
    # Sparse gradients, like a rare token's: most steps are exactly zero.
    grads = rng.normal(size=(300, 6)) * (rng.random((300, 6)) < np.linspace(1, 0.02, 6))
    for ours, make_theirs in pairs:
        param = torch.zeros(6, dtype=torch.float64, requires_grad=True)
        theirs = make_theirs([param])
        w, state = np.zeros(6), ours.init(np.zeros(6))
        for g in grads:
            param.grad = torch.tensor(g, dtype=torch.float64)
            theirs.step()
            w, state = ours.step(w, g, state)
        np.testing.assert_allclose(w, param.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=ours.name)


def test_a_schedule_multiplies_the_learning_rate_each_step():
    from helpers.optimizers import scheduled
    decayed = scheduled(sgd(0.1), lambda t: 1.0 if t <= 2 else 0.5)
    w, _ = run_steps(decayed, [0.0], [[1.0], [1.0], [1.0], [1.0]])
    np.testing.assert_allclose(w, [-(0.1 + 0.1 + 0.05 + 0.05)])
    adam_decayed = scheduled(adam(0.05), lambda t: 0.1)
    w_sched, state = run_steps(adam_decayed, [0.0], [[2.0], [-1.0]])
    w_small, _ = run_steps(adam(0.005), [0.0], [[2.0], [-1.0]])
    np.testing.assert_allclose(w_sched, w_small, rtol=1e-15)
    assert adam_decayed.derive("effective_lr", state) == pytest.approx(
        adam(0.005).derive("effective_lr", state))


def test_schedule_validation():
    from helpers.optimizers import scheduled
    with pytest.raises(TypeError, match="^schedule must be a function"):
        scheduled(sgd(0.1), 0.5)
    with pytest.raises(ValueError, match=r"^schedule\(t\) must return .* at t = 1"):
        scheduled(sgd(0.1), lambda t: 0.0)
    with pytest.raises(TypeError, match="^optimizer must"):
        scheduled("sgd", lambda t: 1.0)
    with pytest.raises(ValueError, match="already has a schedule"):
        scheduled(scheduled(sgd(0.1), lambda t: 1.0), lambda t: 1.0)


@pytest.mark.parametrize("bad, error", [(0.0, ValueError), (-1.0, ValueError),
                                        (float("nan"), ValueError), (True, TypeError),
                                        ("0.5", TypeError), (None, TypeError)])
def test_a_schedule_is_checked_on_every_step_not_only_the_first(bad, error):
    from helpers.optimizers import scheduled
    # fine for 3 steps, then bad: the error names the step where it went wrong (a value out
    # of range is a ValueError, something that is not a number a TypeError)
    decay = scheduled(sgd(0.1), lambda t: 1.0 if t <= 3 else bad)
    with pytest.raises(error, match=r"at t = 4$"):
        run_steps(decay, [0.0], [[1.0]] * 5)


def test_a_schedule_runs_in_the_engine_like_alone():
    from helpers import REFERENCE_WORLD, sweep, sweep_batches
    from helpers.optimizers import scheduled
    decay = lambda t: 1.0 if t <= 50 else 0.1  # noqa: E731
    result = sweep({"d": (lambda lr: scheduled(adam(lr), decay), {"lr": [0.05]})},
                   REFERENCE_WORLD, [4], 120)
    opt = scheduled(adam(0.05), decay)
    w, state = np.zeros(6), opt.init(np.zeros(6))
    for X, y in sweep_batches(REFERENCE_WORLD, 4, 120):
        w, state = opt.step(w, X.T @ (X @ w - y) / 32, state)
    np.testing.assert_allclose(result["d"].final_weights[0, 0], w, rtol=1e-12, atol=1e-13)


# --- the registry: one place per optimizer -----------------------------------------------

def test_every_optimizer_is_registered_once_with_everything_the_series_reads():
    import inspect

    from helpers.colours import OPTIMIZER_COLOURS, OPTIMIZER_HATCHES
    from helpers.optimizers import DISPLAY_NAMES, REGISTRY, ROLES
    assert list(REGISTRY) == ["sgd", "momentum", "adagrad", "rmsprop", "adam", "sign_descent",
                              "signum", "lazy_adam", "normalized_gd"]
    for name, spec in REGISTRY.items():
        assert spec.name == name and spec.display_name and spec.citation
        assert spec.state._fields[0] == "t"
        # the rule takes (w, g, t, *state arrays, *hyperparameters), the factory the same
        # hyperparameters with its defaults
        rule = list(inspect.signature(spec.update).parameters)
        assert rule == ["w", "g", "t", *spec.slots, *spec.hyperparameters]
        assert list(inspect.signature(spec.factory).parameters) == list(spec.hyperparameters)
        assert spec.roles.get("lr") == "lr" and set(spec.roles.values()) <= set(ROLES)
        # colours, hatches and names are views of the registry
        assert OPTIMIZER_COLOURS[name] == spec.colour and OPTIMIZER_HATCHES[name] == spec.hatch
        assert DISPLAY_NAMES[name] == spec.display_name
        optimizer = spec.factory(lr=0.01)
        assert optimizer.spec is spec and optimizer.name == name
    colours = [spec.colour for spec in REGISTRY.values()]
    assert len(set(colours)) == len(colours)


def test_a_mismatched_rule_is_refused_when_it_is_registered():
    from typing import NamedTuple

    from helpers.optimizers import register

    class State(NamedTuple):
        t: int
        m: np.ndarray

    def rule(w, g, t, lr):          # forgets its state array m
        return (w - lr * g,)

    with pytest.raises(TypeError, match="the update rule takes"):
        register("broken", display_name="Broken", state=State, update=rule, colour="#000000",
                 hatch="", citation="-", roles={"lr": "lr"})(lambda lr: {"lr": lr})


def test_roles_map_one_control_to_each_optimizers_own_name():
    from helpers.optimizers import optimizer_from_roles
    by_role = {"lr": 0.02, "momentum": 0.8, "second_moment": 0.95, "eps": 1e-6}
    assert optimizer_from_roles("momentum", **by_role).hyperparams == {"lr": 0.02, "beta": 0.8}
    assert optimizer_from_roles("rmsprop", **by_role).hyperparams == {
        "lr": 0.02, "beta": 0.95, "eps": 1e-6}
    assert optimizer_from_roles("adam", **by_role).hyperparams == {
        "lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "bias_correction": True}
    assert optimizer_from_roles("sgd", **by_role).hyperparams == {"lr": 0.02}


def test_signum_by_hand():
    from helpers import signum
    # step 1: m = 0.1 * [2, 0] -> w = -0.01 * sign(m) = [-0.01, 0]
    # step 2: g = [0, 0]: m = 0.9 m = [0.18, 0], the weight keeps moving: w = [-0.02, 0]
    w, state = run_steps(signum(0.01, beta=0.9), [0.0, 0.0], [[2.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(w, [-0.02, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(state.m, [0.18, 0.0], rtol=1e-15)


def test_lazy_adam_moves_and_updates_only_where_the_gradient_is_not_zero():
    from helpers import lazy_adam
    grads = [[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]]
    w, state = run_steps(lazy_adam(0.05), [0.0, 0.0], grads)
    dense, _ = run_steps(adam(0.05), [0.0, 0.0], grads)
    # weight 0: one step at t = 1 (as Adam's first step), then untouched
    np.testing.assert_allclose(w[0], -0.05 / (1 + 1e-8), rtol=1e-15)
    assert state.m[0] == pytest.approx(0.1) and state.v[0] == pytest.approx(0.001)
    # weight 1: its first moment update happens at t = 3, with bias correction for t = 3
    m, v = 0.1 * 2.0, 0.001 * 4.0
    np.testing.assert_allclose(w[1], -0.05 * (m / (1 - 0.9 ** 3)) / (
        np.sqrt(v / (1 - 0.999 ** 3)) + 1e-8), rtol=1e-14)
    assert dense[0] < w[0]              # dense Adam kept moving weight 0 on step 2 and 3


def test_normalized_gd_steps_lr_along_the_gradient_per_run():
    from helpers import normalized_gd
    w, _ = run_steps(normalized_gd(0.1), [[0.0, 0.0], [1.0, 1.0]], [[[3.0, 4.0], [0.0, 2.0]]])
    np.testing.assert_allclose(w, [[-0.06, -0.08], [1.0, 0.9]], rtol=1e-10)
