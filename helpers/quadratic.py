"""Full-batch descent on quadratic bowls, many at once: conditioning with nothing else.

Averaged over batches, the six-token world's loss is the quadratic
``½ (w - w*)ᵀ H (w - w*)`` plus the noise floor ``½ σ²``, with ``H = E[x xᵀ]``
(:meth:`helpers.World.expected_hessian`). Full-batch descent on it is deterministic, so
everything that differs between two runs is the optimizer or the bowl. Notebook 06 uses
this to turn the bowl (the rotation test), to tune each optimizer on a grid in one go,
and to see how the time to learn the rarest weight grows as it gets rarer; notebook 02
draws a two-token bowl.

Runs sit on leading axes: ``hessians`` of shape ``(..., n, n)`` and ``targets``
``(..., n)`` give one bowl per run, and the optimizer's array hyperparameters (shaped
like the weights, the last axis of size 1) broadcast against them:
``sgd(lr=lrs[:, None, None])`` on bowls ``(1, rotations, n, n)`` runs every learning
rate on every bowl."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import mark_diverged, newly_diverged
from .optimizers import Optimizer, check_optimizer
from .validation import (check_allocation, check_finite, check_int, check_positive, check_real,
                         check_whole_numbers)


@dataclass(frozen=True, eq=False)
class Descent:
    """``weights[t]`` after step ``t + 1``, shape ``(n_steps, *runs, n)``; a diverged run
    is NaN from the step in ``diverged_at`` (0 = never, shape ``runs``)."""

    weights: np.ndarray
    diverged_at: np.ndarray


def rotation_matrix(angle: float) -> np.ndarray:
    """The 2 x 2 rotation by ``angle`` radians (for a two-token bowl)."""
    angle = check_real("angle", angle)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def rotated_bowl(hessian, target, rotation) -> tuple[np.ndarray, np.ndarray]:
    """The same bowl in turned coordinates ``u = R w``: Hessian ``R H Rᵀ``, optimum
    ``R w*``. Gradient descent turns with it; a per-coordinate method does not."""
    hessian = check_finite("hessian", hessian, min_ndim=2)
    target = check_finite("target", target, min_ndim=1)
    if hessian.shape[-2:] != (target.shape[-1],) * 2:
        raise ValueError(f"hessian must be {target.shape[-1]} x {target.shape[-1]} to match "
                         f"target, got shape {hessian.shape}")
    rotation = check_finite("rotation", rotation, shape=hessian.shape[-2:])
    if not np.allclose(rotation @ rotation.T, np.eye(rotation.shape[0]), atol=1e-10):
        raise ValueError("rotation must be an orthogonal matrix (R Rᵀ = I)")
    return rotation @ hessian @ rotation.T, rotation @ target


def _steps(optimizer, hessians, targets, n_steps, w0):
    """Check the arguments, then yield ``(step, w, diverged_at)`` after every step of
    full-batch ``optimizer`` on the bowls (diverged runs frozen at NaN)."""
    optimizer = check_optimizer("optimizer", optimizer)
    hessians = check_finite("hessians", hessians, min_ndim=2)
    n = hessians.shape[-1]
    if hessians.shape[-2] != n:
        raise ValueError(f"hessians must end in square matrices, got shape {hessians.shape}")
    targets = check_finite("targets", targets, min_ndim=1)
    if targets.shape[-1] != n:
        raise ValueError(f"targets must end in an axis of length {n}, got shape {targets.shape}")
    n_steps = check_int("n_steps", n_steps, minimum=1)
    # an array hyperparameter carries the weights' last axis (size 1 or n)
    run_shape = np.broadcast_shapes(hessians.shape[:-2], targets.shape[:-1],
                                    *[np.shape(v)[:-1] for v in optimizer.hyperparams.values()
                                      if np.ndim(v) > 0])
    w = np.zeros(run_shape + (n,)) if w0 is None else check_finite("w0", w0, min_ndim=1)
    w = np.broadcast_to(w, run_shape + (n,)).copy()
    state = optimizer.init(w)
    alive, diverged_at = np.ones(run_shape, bool), np.zeros(run_shape, np.int64)
    all_alive = True
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, n_steps + 1):
            grad = np.einsum("...ij,...j->...i", hessians, w - targets)
            w, state = optimizer.step(w, grad, state, check=False)
            newly = newly_diverged(w, alive, all_alive)
            if newly is not None:
                w = mark_diverged(w, newly, alive, diverged_at, step)
                all_alive = False
            yield step, w, diverged_at


def descend(optimizer: Optimizer, hessians, targets, n_steps: int, *, w0=None) -> Descent:
    """Full-batch ``optimizer`` on the bowls ``½ (w - targets)ᵀ hessians (w - targets)``
    for ``n_steps``, every run side by side, every step kept; runs that diverge are
    marked, not raised."""
    weights = diverged = None
    for step, w, diverged_at in _steps(optimizer, hessians, targets, n_steps, w0):
        diverged = diverged_at
        if weights is None:
            check_allocation(f"{n_steps:,} steps of {w.size // w.shape[-1]:,} runs",
                             8.0 * n_steps * w.size, advice="use fewer steps or fewer runs, "
                             "or helpers.quadratic.settle_steps, which keeps no trajectory")
            weights = np.empty((n_steps,) + w.shape)
        weights[step - 1] = w
    return Descent(weights, diverged.copy())


def settle_steps(optimizer: Optimizer, hessians, targets, n_steps: int, *, tolerance=0.5,
                 hold=None, readout=None, watch=None) -> np.ndarray:
    """For every run, the step from which every watched weight stays within ``tolerance``
    of its optimum: until step ``n_steps`` (``hold=None``), or for ``hold`` steps in a
    row (the first such stretch). ``inf`` if that never happens within ``n_steps`` (or
    the run diverged). Keeps no trajectory, so a whole grid of settings on many bowls
    fits in memory.

    Why ``hold``: Adam at a constant learning rate does not settle on every bowl; on a
    turned one its weights can leave the band again long after they reached it. "Until
    step ``n_steps``" then depends on ``n_steps``; "for ``hold`` steps in a row" does not,
    once the stretch lies within the run.

    ``readout`` (shape ``(..., n, n)``, broadcast like the bowls) maps the optimizer's
    coordinates to the ones judged, ``v = w @ readout`` (for a rotated world,
    ``readout = R``: its weights back in token coordinates); ``watch`` picks which of
    those are judged (default: all): a list of distinct indices, 0 to n - 1."""
    tolerance = check_positive("tolerance", tolerance)
    if hold is not None:
        hold = check_int("hold", hold, minimum=1)
    targets = check_finite("targets", targets, min_ndim=1)
    if readout is not None:
        readout = check_finite("readout", readout, min_ndim=2)
        n = targets.shape[-1]
        if readout.shape[-2:] != (n, n):
            raise ValueError(f"readout must end in {n} x {n} matrices (one per bowl, e.g. the "
                             f"rotations), got shape {readout.shape}")
    if watch is not None:
        n = targets.shape[-1]
        watch = check_whole_numbers("watch", watch, minimum=0, maximum=n - 1)
        if np.unique(watch).size != watch.size:
            raise ValueError(f"watch must name distinct weights, got {watch.tolist()}")
    goal = targets if readout is None else np.einsum("...i,...ij->...j", targets, readout)
    last_outside = streak = found = diverged = None
    for step, w, diverged_at in _steps(optimizer, hessians, targets, n_steps, None):
        diverged = diverged_at
        seen = w if readout is None else np.einsum("...i,...ij->...j", w, readout)
        error = np.abs(seen - goal)
        if watch is not None:
            error = error[..., watch]
        outside = ~np.all(error <= tolerance, axis=-1)        # NaN counts as outside
        if last_outside is None:
            last_outside = np.zeros(outside.shape, np.int64)
            streak, found = np.zeros(outside.shape, np.int64), np.full(outside.shape, np.inf)
        last_outside[outside] = step
        if hold is not None:
            streak = np.where(outside, 0, streak + 1)
            newly = (streak == hold) & np.isinf(found)
            found[newly] = step - hold + 1
    if hold is not None:
        return np.where(diverged > 0, np.inf, found)
    never = (last_outside == n_steps) | (diverged > 0)
    return np.where(never, np.inf, last_outside + 1.0)


def _check_token_world(world):
    from .world import World
    if not isinstance(world, World):
        raise TypeError(f"world must be a helpers World, got {type(world).__name__}")
    if world.rotation is not None:
        raise ValueError("the mean-square limit is computed for 0/1 tokens: pass the "
                         "unrotated world (the full-batch limit is the same either way)")
    if world.n_tokens > 10:
        raise ValueError(f"the mean-square map has (n^2)^2 entries: at most 10 tokens, got "
                         f"{world.n_tokens}")


def _mean_square_map(world):
    """The pieces of Σ -> E[(I - ηS) Σ (I - ηS)] on vec(Σ) (rows (a, d), columns (b, c)):
    identity, the part linear in η and the part quadratic in η."""
    p, n, batch = world.frequencies, world.n_tokens, world.batch_size
    hessian = world.expected_hessian()
    index = np.indices((n,) * 4).reshape(4, -1).T
    fourth = np.array([np.prod(p[np.unique(i)]) for i in index]).reshape((n,) * 4)
    # E[S_ab S_cd] for the mean of B independent samples
    second = fourth / batch + (1 - 1 / batch) * np.einsum("ab,cd->abcd", hessian, hessian)
    eye = np.eye(n)
    linear = (np.einsum("ab,cd->adbc", hessian, eye) + np.einsum("ab,cd->adbc", eye, hessian))
    return (np.einsum("ab,cd->adbc", eye, eye).reshape(n * n, n * n),
            linear.reshape(n * n, n * n), second.transpose(0, 3, 1, 2).reshape(n * n, n * n))


def mean_square_growth(world, lr) -> float:
    """The factor by which plain SGD's error mean square ``E[e eᵀ]`` grows (above 1) or
    shrinks (below 1) per step, in the long run, at learning rate ``lr`` on ``world``'s
    minibatches: the spectral radius of ``Σ -> E[(I - η S) Σ (I - η S)]``, ``S = XᵀX/B``
    (see :func:`sgd_stability_limits`)."""
    _check_token_world(world)
    lr = check_positive("lr", lr)
    identity, linear, quadratic = _mean_square_map(world)
    return float(np.abs(np.linalg.eigvals(identity - lr * linear + lr ** 2 * quadratic)).max())


def sgd_stability_limits(world) -> tuple[float, float]:
    """Plain SGD's largest stable learning rate on ``world``, two ways:

    - full batch: ``2 / λ_max`` of ``H = E[x xᵀ]`` (every eigen-direction's error is
      multiplied by ``1 - η λ`` per step);
    - minibatches of ``world.batch_size``: the *mean-square* limit, below which the
      second moment of the error ``E[e eᵀ]`` stays bounded. Each step multiplies the
      error by ``I - η S`` with the batch's own ``S = XᵀX / B``, and
      ``E[(I - η S) Σ (I - η S)]`` is a linear map of ``Σ``, exact from the tokens'
      fourth moments (independent 0/1 tokens: ``E[x_a x_b x_c x_d]`` is the product
      of ``p`` over the distinct indices). The limit is the largest ``η`` at which that
      map's spectral radius stays below 1 (bisection). A batch's fluctuations make it
      slightly lower than ``2 / λ_max``.

    Only for an unrotated world (the fourth moments are those of 0/1 tokens)."""
    _check_token_world(world)
    full_batch = 2.0 / np.linalg.eigvalsh(world.expected_hessian())[-1]
    identity, linear, quadratic = _mean_square_map(world)

    def radius(lr):
        return np.abs(np.linalg.eigvals(identity - lr * linear + lr ** 2 * quadratic)).max()

    low, high = 0.0, full_batch * 1.01
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if radius(middle) < 1 else (low, middle)
    return float(full_batch), float(low)
