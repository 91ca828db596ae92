"""Run an optimizer on the world for N steps and keep what the notebooks plot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .model import (DIVERGENCE_THRESHOLD, expected_gradient, got_gradient, mark_diverged,
                    minibatch_gradient, newly_diverged, statistics_gradient)
from .optimizers import Optimizer, adam, check_optimizer, sgd
from .streams import make_rng
from .validation import (UnknownKeyError, check_allocation, check_choice, check_finite, check_int,
                         is_real_number, shown)
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

    def run(self, index: int) -> TrainResult:
        """One run of a stack (runs on the leading axis, e.g. one seed of several):
        a TrainResult of its own, as if it had been trained alone."""
        run_shape = self.weights.shape[1:-1]
        if not run_shape:
            raise ValueError("this result holds a single run; there is nothing to select")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be a whole number, got {index!r}")
        if not -run_shape[0] <= index < run_shape[0]:
            raise ValueError(f"index must lie in 0..{run_shape[0] - 1} (or count from the end), "
                             f"got {index}")

        def pick(value):
            return value[index] if isinstance(value, np.ndarray) and value.ndim >= 1 else value

        hyperparams = {k: (v[index] if isinstance(v, np.ndarray) and v.ndim == len(run_shape) + 1
                           and v.shape[0] == run_shape[0] else v)
                       for k, v in self.optimizer.hyperparams.items()}
        optimizer = type(self.optimizer)(self.optimizer.spec, hyperparams, self.optimizer.schedule)
        state = type(self.final_state)(self.final_state.t, *map(pick, self.final_state[1:]))
        return TrainResult(optimizer, self.world, self.w0[index], self.weights[:, index],
                           self.grad_nonzero_steps[index], state, self.diverged_at[index],
                           {k: v[:, index] for k, v in self.recorded.items()})

    def trajectory(self, token) -> np.ndarray:
        """Weights of one token (name or index) over time, shape ``(n_steps, *run_shape)``."""
        return self.weights[..., self.world.token_index(token)]


GRADIENTS = ("minibatch", "statistics", "expected")


@dataclass(eq=False)
class _Run:
    """One optimizer's run inside :func:`train`, stepped alongside the others."""

    optimizer: object
    w: np.ndarray
    state: tuple
    weights: np.ndarray
    recorded: dict
    grad_nonzero_steps: np.ndarray
    diverged_at: np.ndarray
    alive: np.ndarray
    all_alive: bool = True       # a plain bool: checking the array every step costs more
    finished: bool = False       # every run has diverged: nothing left to compute


def train(optimizer, world: World, n_steps: int, rng=None, *, gradient: str = "minibatch",
          w0=None, record=(), on_divergence: str = "raise"):
    """Train ``optimizer`` on batches drawn from ``world`` by ``rng`` for ``n_steps``.

    ``optimizer`` may also be a dict of optimizers, ``{"SGD": sgd(0.05), "Adam":
    adam(0.05)}``: each batch is then drawn once and every optimizer steps on it (common
    random numbers, at the cost of one draw), and a dict of results comes back.

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
    several = isinstance(optimizer, Mapping)
    if several:
        if not optimizer:
            raise ValueError("optimizer must name at least one optimizer")
        optimizers = {_check_name(name): check_optimizer(f"optimizer[{name!r}]", opt)
                      for name, opt in optimizer.items()}
    else:
        optimizers = {"": check_optimizer("optimizer", optimizer)}
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
    runs_per_optimizer = int(np.prod(w.shape[:-1]))
    check_allocation(f"{n_steps:,} steps of {runs_per_optimizer * len(optimizers):,} run(s) "
                     f"(recording {len(record) + 1} arrays each)",
                     8.0 * n_steps * w.size * (len(record) + 1) * len(optimizers)
                     + 8.0 * runs_per_optimizer * world.batch_size * (world.n_tokens + 1) * 3,
                     advice="use fewer steps, fewer runs or a smaller batch")
    w = np.broadcast_to(w, w.shape).copy()
    w0_copy = w.copy()

    runs = {}
    for name, opt in optimizers.items():
        state = opt.init(w)
        for quantity in record:
            if quantity != "grad" and quantity not in state._fields[1:] \
                    and quantity not in opt.derived:
                allowed = ["grad"] + list(state._fields[1:]) + list(opt.derived)
                raise UnknownKeyError(f"{opt.name} cannot record {quantity!r}; it can record: "
                                      f"{', '.join(map(repr, allowed))}")
        runs[name] = _Run(opt, w.copy(), state, np.empty((n_steps,) + w.shape),
                          {q: np.empty((n_steps,) + w.shape) for q in record},
                          np.zeros(w.shape, dtype=np.int64),
                          np.zeros(w.shape[:-1], dtype=np.int64),
                          np.ones(w.shape[:-1], dtype=bool))

    hessian = world.expected_hessian()
    # Overflow in a diverging run is expected and handled below; keep NumPy quiet.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, n_steps + 1):
            if gradient == "minibatch":                   # one draw for every optimizer
                X, y = world.sample_batch(rng)
            elif gradient == "statistics":
                S, c = world.sample_statistics(rng)
            for run in runs.values():
                if run.finished:
                    continue
                if gradient == "minibatch":
                    grad = minibatch_gradient(run.w, X, y, check=False)
                elif gradient == "statistics":
                    grad = statistics_gradient(run.w, S, c, world.true_weights, check=False)
                else:
                    grad = expected_gradient(run.w, hessian, world.true_weights, check=False)
                _advance(run, grad, step, on_divergence)
            if all(run.finished for run in runs.values()):
                break

    results = {name: TrainResult(run.optimizer, world, w0_copy, run.weights,
                                 run.grad_nonzero_steps, run.state, run.diverged_at,
                                 run.recorded) for name, run in runs.items()}
    return results if several else results[""]


def _check_name(name):
    """A run's name in a dict of optimizers: a string, or a number such as its lr."""
    if not isinstance(name, str) and not is_real_number(name):
        raise TypeError(f"the optimizers' names must be strings or numbers, got {name!r}")
    return name


def _advance(run: _Run, grad, step: int, on_divergence: str) -> None:
    """One step of one run: count the gradients, update, check for divergence, record."""
    run.grad_nonzero_steps += got_gradient(grad)
    w_new, state_new = run.optimizer.step(run.w, grad, run.state, check=False)
    newly = newly_diverged(w_new, run.alive, run.all_alive)
    if newly is not None:
        if on_divergence == "raise":
            what = ("NaN or infinite" if not np.all(np.isfinite(w_new[newly]))
                    else f"larger than {DIVERGENCE_THRESHOLD:g} in magnitude")
            raise DivergenceError(
                f"{run.optimizer!r} diverged at step {step}: a weight became {what}. "
                f"Lower the learning rate, or pass on_divergence='mark' to keep "
                f"the runs that did not diverge.", step)
        w_new = mark_diverged(w_new, newly, run.alive, run.diverged_at, step)
        run.all_alive = False
    run.w, run.state = w_new, state_new
    run.weights[step - 1] = run.w
    if not run.all_alive and not run.alive.any():
        # Every run has diverged: nothing left to compute. Mark the rest as NaN
        # (diverged_at says from where) and stop stepping it.
        run.weights[step:] = np.nan
        for values in run.recorded.values():
            values[step - 1:] = np.nan
        run.finished = True
        return
    for quantity, values in run.recorded.items():
        if quantity == "grad":
            values[step - 1] = grad
        elif quantity in run.state._fields:
            values[step - 1] = getattr(run.state, quantity)
        else:
            values[step - 1] = run.optimizer.derive(quantity, run.state)


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
