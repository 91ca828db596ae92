"""Full-batch descent on bowls (helpers.quadratic): the same numbers as train's full-batch
path, the closed form where there is one, rotation invariance of gradient descent and not
of Adam, settle steps read off whole trajectories, and both stability limits against
their closed forms."""

import numpy as np
import pytest

from helpers import REFERENCE_WORLD, adam, make_world, momentum, sgd, train
from helpers.quadratic import (descend, rotated_bowl, rotation_matrix, settle_steps,
                               sgd_stability_limits)

W = REFERENCE_WORLD


def test_descend_is_trains_full_batch_path():
    for opt in (sgd(0.05), momentum(0.2, beta=0.9), adam(0.05)):
        expected = train(opt, W, 300, gradient="expected").weights
        got = descend(opt, W.expected_hessian(), W.true_weights, 300).weights
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_descend_on_a_diagonal_bowl_has_its_closed_form():
    curvature = np.array([1.0, 0.1, 0.001])
    got = descend(sgd(0.5), np.diag(curvature), np.ones(3), 200).weights
    steps = np.arange(1, 201)[:, None]
    np.testing.assert_allclose(got, 1 - (1 - 0.5 * curvature) ** steps, rtol=1e-12)


def test_gradient_descent_turns_with_the_bowl_and_adam_does_not():
    hessian, target = W.expected_hessian(), W.true_weights
    turned = W.rotated(3)
    bowl, optimum = rotated_bowl(hessian, target, turned.rotation)
    np.testing.assert_allclose(bowl, turned.expected_hessian(), atol=1e-15)
    for opt, invariant in ((sgd(1.0), True), (momentum(1.0, beta=0.9), True), (adam(0.05), False)):
        plain = descend(opt, hessian, target, 200).weights
        back = descend(opt, bowl, optimum, 200).weights @ turned.rotation   # token coordinates
        assert np.allclose(back, plain, atol=1e-9) == invariant, opt


def test_settle_steps_agree_with_the_trajectories():
    lrs = np.array([0.05, 0.5, 1.0, 3.0])
    trajectories = descend(sgd(lrs[:, None]), W.expected_hessian(), W.true_weights, 400)
    settled = settle_steps(sgd(lrs[:, None]), W.expected_hessian(), W.true_weights, 400)
    for k in range(lrs.size):
        path = trajectories.weights[:, k]
        outside = np.flatnonzero(~np.all(np.abs(path - 1) <= 0.5, axis=-1))
        expected = (np.inf if trajectories.diverged_at[k] or (outside.size and outside[-1] == 399)
                    else (outside[-1] + 2 if outside.size else 1))
        assert settled[k] == expected, (lrs[k], settled[k], expected)
    assert np.isinf(settled[-1]) and trajectories.diverged_at[-1] > 0      # lr 3 diverges
    # watch one weight only: thalweg alone is half-learned no earlier than all six
    alone = settle_steps(sgd(lrs[:3, None]), W.expected_hessian(), W.true_weights, 400,
                         watch=[5])
    assert np.all(alone <= settled[:3])


def test_settle_steps_read_a_rotated_bowl_in_token_coordinates():
    turned = W.rotated(1)
    plain = settle_steps(sgd(1.0), W.expected_hessian(), W.true_weights, 1000)
    rotated = settle_steps(sgd(1.0), turned.expected_hessian(), turned.true_weights, 1000,
                           readout=turned.rotation)
    assert plain == rotated and np.isfinite(plain)


def test_stability_limits_have_their_closed_forms():
    # one token, batch B: S = k/B with k binomial, E[(1 - eta S)^2] < 1 exactly when
    # eta < 2 p / E[S^2] = 2 / ((1 - p)/B + p); the full batch allows 2 / p
    for p, batch in ((0.3, 1), (0.3, 8), (0.01, 32)):
        full, mean_square = sgd_stability_limits(make_world([p], batch_size=batch))
        assert full == pytest.approx(2 / p)
        assert mean_square == pytest.approx(2 / ((1 - p) / batch + p), rel=1e-9)
    full, mean_square = sgd_stability_limits(W)
    assert full == pytest.approx(2 / np.linalg.eigvalsh(W.expected_hessian())[-1])
    assert 0.98 * full < mean_square < full                  # a batch of 32 lowers it a little
    assert sgd_stability_limits(make_world(batch_size=4096))[1] == pytest.approx(full, rel=1e-3)


def test_stability_limits_refuse_what_they_cannot_compute():
    with pytest.raises(TypeError, match="world must be a helpers World"):
        sgd_stability_limits([0.5])
    with pytest.raises(ValueError, match="pass the unrotated world"):
        sgd_stability_limits(W.rotated(0))
    with pytest.raises(ValueError, match="at most 10 tokens"):
        sgd_stability_limits(make_world([0.5] * 11))


def test_rotation_matrix_and_bowl_checks():
    np.testing.assert_allclose(rotation_matrix(np.pi / 2) @ [1.0, 0.0], [0.0, 1.0], atol=1e-15)
    with pytest.raises(ValueError, match="rotation must be an orthogonal matrix"):
        rotated_bowl(np.eye(2), np.ones(2), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="hessian must be 2 x 2"):
        rotated_bowl(np.eye(3), np.ones(2), np.eye(2))
    with pytest.raises(ValueError, match="hessians must end in square matrices"):
        descend(sgd(0.1), np.zeros((2, 3)), np.ones(3), 10)
    with pytest.raises(ValueError, match="targets must end in an axis of length 2"):
        descend(sgd(0.1), np.eye(2), np.ones(3), 10)
    with pytest.raises(ValueError, match="readout must end in 2 x 2"):
        settle_steps(sgd(0.1), np.eye(2), np.ones(2), 10, readout=np.eye(3))
    with pytest.raises(ValueError, match="tolerance must"):
        settle_steps(sgd(0.1), np.eye(2), np.ones(2), 10, tolerance=0)
    with pytest.raises(TypeError, match="optimizer must"):
        descend("sgd", np.eye(2), np.ones(2), 10)


def test_settle_steps_with_hold_take_the_first_stretch_of_that_length():
    # a weight that enters the band, leaves it, and enters it for good
    lrs = np.array([0.5, 1.9])                           # smooth, and ringing around 1
    runs = descend(sgd(lrs[:, None]), np.eye(1), np.ones(1), 300).weights[:, :, 0]
    got = settle_steps(sgd(lrs[:, None]), np.eye(1), np.ones(1), 300, tolerance=0.1, hold=5)
    for k in range(2):
        inside = np.abs(runs[:, k] - 1) <= 0.1
        first = next(t for t in range(300 - 4) if inside[t:t + 5].all()) + 1
        assert got[k] == first
    # the same answer over a longer run: hold does not depend on the horizon
    longer = settle_steps(sgd(lrs[:, None]), np.eye(1), np.ones(1), 3000, tolerance=0.1, hold=5)
    np.testing.assert_array_equal(got, longer)
    with pytest.raises(ValueError, match="hold must"):
        settle_steps(sgd(0.1), np.eye(1), np.ones(1), 10, hold=0)


def test_mean_square_growth_is_one_at_the_limit_and_has_its_closed_form():
    from helpers.quadratic import mean_square_growth
    p, batch, lr = 0.3, 8, 1.5
    one = make_world([p], batch_size=batch)
    second_moment = p * (1 - p) / batch + p ** 2                  # E[S^2], S = k / B
    assert mean_square_growth(one, lr) == pytest.approx(1 - 2 * lr * p + lr ** 2 * second_moment)
    _, limit = sgd_stability_limits(W)
    assert mean_square_growth(W, limit) == pytest.approx(1.0, abs=1e-9)
    assert mean_square_growth(W, 0.9 * limit) < 1 < mean_square_growth(W, 1.01 * limit)
    with pytest.raises(ValueError, match="lr must"):
        mean_square_growth(W, -1.0)
