"""Run an optimizer on the world for N steps and keep what the notebooks plot."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import (DIVERGENCE_THRESHOLD, expected_gradient, got_gradient, mark_diverged,
                    minibatch_gradient, newly_diverged, statistics_gradient)
from .optimizers import Optimizer, adam, check_optimizer, sgd
from .streams import make_rng
from .validation import (UnknownKeyError, check_allocation, check_choice, check_finite, check_int,
                         shown)
from .world import REFERENCE, REFERENCE_WORLD, World


class DivergenceError(ValueError):
    """A run whose weights blew up; the message names the step and the optimizer."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What one training run (or a stack of runs on leading axes) produced.

    ``weights[t]`` is the weight vector after step ``t + 1``: shape
    ``(n_steps, *run_shape, n_tokens)``. ``diverged_at`` is the first step at which a
    run's weights became non-finite or exceeded the divergence threshold (0 = never,
    shape ``run_shape``); a diverged run's later weights are NaN, so use
    :func:`helpers.plotting` functions or check ``diverged`` before plotting."""

    optimizer: Optimizer
    world: World
    w0: np.ndarray
    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    final_state: tuple
    diverged_at: np.ndarray
    recorded: dict = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return self.weights.shape[0]

    @property
    def steps(self) -> np.ndarray:
        """Step numbers 1..n_steps, aligned with ``weights``."""
        return np.arange(1, self.n_steps + 1)

    @property
    def final_weights(self) -> np.ndarray:
        return self.weights[-1]

    @property
    def diverged(self) -> bool:
        return bool(np.any(self.diverged_at > 0))

    def trajectory(self, token) -> np.ndarray:
        """Weights of one token (name or index) over time, shape ``(n_steps, *run_shape)``."""
        return self.weights[..., self.world.token_index(token)]


GRADIENTS = ("minibatch", "statistics", "expected")


def train(optimizer, world: World, n_steps: int, rng=None, *, gradient: str = "minibatch",
          w0=None, record=(), on_divergence: str = "raise") -> TrainResult:
    """Train ``optimizer`` on batches drawn from ``world`` by ``rng`` for ``n_steps``.

    ``gradient`` says where each step's gradient comes from:

    * ``"minibatch"`` (the default): a batch drawn sample by sample, as in the tutorial;
    * ``"statistics"``: the batch's sufficient statistics drawn exactly
      (``World.sample_statistics``): the same distribution at a cost that does not grow
      with the batch size, for batches of thousands;
    * ``"expected"``: the average over all batches, ``E[x x^T] (w - w*)``: full-batch
      gradient descent, deterministic (``rng`` must then be None).

    ``rng`` is a random stream, usually ``make_rng(seed)``: the series' stream, so that
    every optimizer trained from a fresh ``make_rng(42)`` sees the same batches (see
    :mod:`helpers.streams`). ``w0`` defaults to zeros; give it leading axes (and the
    optimizer array hyperparameters) to train several runs side by side on the same
    batches. ``rng`` may also be a list of streams, one per run along ``w0``'s first
    axis: run r then draws its batches from ``rng[r]`` exactly as it would alone.
    ``record`` names what to keep after every step: ``"grad"`` (the step's gradient),
    state fields (``"m"``, ``"v"``) or derived quantities (``"v_hat"``, ``"effective_lr"``).
    ``on_divergence``: ``"raise"`` stops with a :class:`DivergenceError` naming the step;
    ``"mark"`` lets the other runs go on, freezes the diverged ones and reports the step
    in ``diverged_at``."""
    optimizer = check_optimizer("optimizer", optimizer)
    if not isinstance(world, World):
        raise TypeError(f"world must be a helpers World (make_world), got {type(world).__name__}")
    n_steps = check_int("n_steps", n_steps, minimum=1)
    check_choice("on_divergence", on_divergence, ("raise", "mark"))
    check_choice("gradient", gradient, GRADIENTS)
    if gradient == "expected" and rng is not None:
        raise ValueError("with gradient='expected' (full batch) nothing is drawn: leave rng out")
    if isinstance(record, str):
        record = (record,)
    if not isinstance(record, (list, tuple)):
        raise TypeError(f"record must be a name or a list of names, got {shown(record)}")
    per_run_streams = isinstance(rng, (list, tuple))
    streams = rng if per_run_streams else [rng]
    if gradient != "expected" and not all(
            isinstance(stream, (np.random.RandomState, np.random.Generator)) for stream in streams):
        raise TypeError(f"rng must be a random stream made by helpers.make_rng(seed), or a list "
                        f"of them (one per run), got {shown(rng)}")
    if w0 is None:
        w = np.zeros((len(rng), world.n_tokens) if per_run_streams else world.n_tokens)
    else:
        w = check_finite("w0", w0, min_ndim=1)
    if per_run_streams and (w.ndim < 2 or w.shape[0] != len(rng)):
        raise ValueError(
            f"with a list of {len(rng)} random streams (one per run), w0 must have shape "
            f"({len(rng)}, ..., {world.n_tokens}), got shape {w.shape}"
        )
    if w.shape[-1] != world.n_tokens:
        raise ValueError(
            f"w0 must end in an axis of length {world.n_tokens} (one weight per token), "
            f"got shape {w.shape}"
        )
    state = optimizer.init(w)
    for name in record:
        if name != "grad" and name not in state._fields[1:] and name not in optimizer.derived:
            allowed = ["grad"] + list(state._fields[1:]) + list(optimizer.derived)
            raise UnknownKeyError(f"{optimizer.name} cannot record {name!r}; it can record: "
                                  f"{', '.join(map(repr, allowed))}")
    runs = int(np.prod(w.shape[:-1]))
    check_allocation(f"{n_steps:,} steps of {runs:,} run(s) (recording {len(record) + 1} arrays)",
                     8.0 * n_steps * w.size * (len(record) + 1)
                     + 8.0 * runs * world.batch_size * (world.n_tokens + 1) * 3,
                     advice="use fewer steps, fewer runs or a smaller batch")
    w = np.broadcast_to(w, w.shape).copy()

    run_shape = w.shape[:-1]
    w0_copy = w.copy()
    weights = np.empty((n_steps,) + w.shape)
    recorded = {name: np.empty((n_steps,) + w.shape) for name in record}
    grad_nonzero_steps = np.zeros(w.shape, dtype=np.int64)
    diverged_at = np.zeros(run_shape, dtype=np.int64)
    alive = np.ones(run_shape, dtype=bool)
    all_alive = True          # a plain bool: checking the array every step costs more

    # Overflow in a diverging run is expected and handled below; keep NumPy quiet.
    hessian = world.expected_hessian()
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, n_steps + 1):
            if gradient == "minibatch":
                X, y = world.sample_batch(rng)
                grad = minibatch_gradient(w, X, y, check=False)
            elif gradient == "statistics":
                S, c = world.sample_statistics(rng)
                grad = statistics_gradient(w, S, c, world.true_weights, check=False)
            else:
                grad = expected_gradient(w, hessian, world.true_weights, check=False)
            grad_nonzero_steps += got_gradient(grad)
            w_new, state_new = optimizer.step(w, grad, state, check=False)

            newly = newly_diverged(w_new, alive, all_alive)
            if newly is not None:
                if on_divergence == "raise":
                    what = ("NaN or infinite" if not np.all(np.isfinite(w_new[newly]))
                            else f"larger than {DIVERGENCE_THRESHOLD:g} in magnitude")
                    raise DivergenceError(
                        f"{optimizer!r} diverged at step {step}: a weight became {what}. "
                        f"Lower the learning rate, or pass on_divergence='mark' to keep "
                        f"the runs that did not diverge.", step)
                w_new = mark_diverged(w_new, newly, alive, diverged_at, step)
                all_alive = False
            w, state = w_new, state_new
            weights[step - 1] = w
            if not all_alive and not alive.any():
                # Every run has diverged: nothing left to compute. Mark the rest as NaN
                # (diverged_at says from where) and stop early.
                weights[step:] = np.nan
                for name in record:
                    recorded[name][step - 1:] = np.nan
                break
            for name in record:
                if name == "grad":
                    value = grad
                elif name in state._fields:
                    value = getattr(state, name)
                else:
                    value = optimizer.derive(name, state)
                recorded[name][step - 1] = value

    return TrainResult(optimizer, world, w0_copy, weights, grad_nonzero_steps, state,
                       diverged_at, recorded)


@dataclass(frozen=True, eq=False)
class ReferenceRuns:
    sgd: TrainResult
    adam: TrainResult
    seed: int | list


def reference_runs(seed: int = REFERENCE.seed, n_steps: int = REFERENCE.n_steps,
                   lr: float = REFERENCE.lr, world: World = REFERENCE_WORLD,
                   record=()) -> ReferenceRuns:
    """The tutorial's protocol (stream 2 of :mod:`helpers.streams`): one stream of the
    series seeded once; SGD trains on its first ``n_steps`` batches, then Adam on the
    *next* ``n_steps``. (Elsewhere the series gives every optimizer the same batches:
    ``train(opt, world, n_steps, make_rng(seed))``.)

    The Adam run records ``v_hat`` after every step; ``record=("grad",)`` also keeps
    both runs' gradients. ``seed`` may be a list or range of seeds: the runs then carry a
    leading seed axis (weights of shape (n_steps, n_seeds, n_tokens)), each identical to
    the single-seed protocol."""
    if isinstance(record, str):
        record = (record,)
    if isinstance(seed, (list, tuple, range)):
        if len(seed) == 0:
            raise ValueError("seed must name at least one seed")
        # one legacy stream per seed, all runs stepped together on a leading axis
        rng = [make_rng(s, legacy=True) for s in seed]
    else:
        rng = make_rng(seed, legacy=True)
    sgd_run = train(sgd(lr), world, n_steps, rng, record=record)
    adam_run = train(adam(lr, REFERENCE.beta1, REFERENCE.beta2, REFERENCE.eps), world,
                     n_steps, rng, record=("v_hat",) + tuple(r for r in record if r != "v_hat"))
    return ReferenceRuns(sgd_run, adam_run, list(seed) if isinstance(seed, range) else seed)
