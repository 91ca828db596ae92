"""Many independent runs at once: seeds x hyperparameter grids x optimizers.

Common random numbers: every optimizer and every setting sees the *identical* batches of
a given seed, so differences between them are not sampling noise. The batches come from
the engine's own fast streams (stream 3 of :mod:`helpers.streams`): seed 42 here is not
the batches of ``make_rng(42)``. Step ``t`` of seed ``s`` always gets the same batch,
whichever other seeds run beside it, however many threads run and however long the run
is; :func:`helpers.streams.sweep_batches` replays one seed's batches for a plain loop.

Layout, chosen for speed: the streams draw 8 steps of 25 seeds at a time, step-major, so
each step's raw integers are contiguous; one pass per step
(:func:`helpers.kernels.batch_gradient`, compiled when Numba is available) turns them
into the gradients of every run, and the optimizers' own updates follow. Groups of whole
stream blocks are split across threads (NumPy's random fills and the compiled pass
release the GIL)."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .kernels import batch_gradient
from .model import mark_diverged, newly_diverged
from .optimizers import Optimizer
from .stats import Band, seed_band
from .streams import SEEDS_PER_STREAM, STEPS_PER_DRAW, SweepDraws, check_seeds, token_thresholds
from .validation import (UnknownKeyError, as_float_array, check_allocation, check_int, check_key,
                         frozen_copy, shown)
from .world import World

MAX_SEEDS_PER_GROUP = 500    # seeds a thread steps together (buffers stay in the L3 cache)


@dataclass(frozen=True, eq=False)
class ArmResult:
    """One optimizer over seeds and a hyperparameter grid.

    ``weights`` has axes ``dims = ("step", "seed", *grid, "token")`` with coordinates in
    ``coords``; ``steps`` are the recorded step numbers (1-based). A run that diverged
    has ``diverged_at > 0`` (the step) and NaN weights from then on. ``final_state`` is
    the optimizer's state after the last step, each array with axes
    ``("seed", *grid, "token")``; :meth:`derive` reads quantities such as Adam's
    ``effective_lr`` from it."""

    name: str
    optimizer: Optimizer
    dims: tuple[str, ...]
    coords: Mapping[str, np.ndarray]
    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    diverged_at: np.ndarray
    world: World = field(repr=False)
    final_state: tuple | None = field(default=None, repr=False)

    def derive(self, quantity: str) -> np.ndarray:
        """A derived quantity of the final state (e.g. ``"effective_lr"``), with axes
        ``("seed", *grid, "token")``."""
        return self.optimizer.derive(quantity, self.final_state)

    @property
    def steps(self) -> np.ndarray:
        return self.coords["step"]

    @property
    def final_weights(self) -> np.ndarray:
        """Weights after the last step: axes ``("seed", *grid, "token")``."""
        return self.weights[-1]

    @property
    def grid_dims(self) -> tuple[str, ...]:
        return self.dims[2:-1]

    def sel(self, **values) -> ArmResult:
        """The sub-result at given grid values, e.g. ``sel(lr=0.05)`` (exact match)."""
        index = [slice(None)] * len(self.dims)
        dims, coords = list(self.dims), dict(self.coords)
        for dim, value in values.items():
            if dim not in self.grid_dims:
                raise UnknownKeyError(f"sel takes the grid dims {self.grid_dims} of arm "
                                      f"{self.name!r}, got {dim!r}")
            value = as_float_array(dim, value)
            if value.ndim != 0:
                raise ValueError(f"sel takes one value per dim, got {dim}={shown(value)}")
            matches = np.flatnonzero(np.isclose(self.coords[dim], value, rtol=1e-12, atol=0))
            if matches.size != 1:
                raise ValueError(f"{dim}={value!r} is not on the grid {self.coords[dim].tolist()}")
            index[self.dims.index(dim)] = matches[0]
            dims.remove(dim)
            coords.pop(dim)
        weights = self.weights[tuple(index)]
        run_index = tuple(index[1:-1])
        # the optimizer's grid-shaped hyperparameters lose the selected axes too
        grid_index = index[2:]                        # (*grid, token) positions

        def select(value):
            if not isinstance(value, np.ndarray) or value.ndim != len(grid_index):
                return value
            return value[tuple(k if isinstance(k, slice) or value.shape[axis] > 1 else 0
                               for axis, k in enumerate(grid_index))]

        hyperparams = {key: select(value) for key, value in self.optimizer.hyperparams.items()}
        optimizer = Optimizer(self.optimizer.spec, hyperparams, self.optimizer.schedule)
        state = None if self.final_state is None else type(self.final_state)(
            self.final_state.t, *(array[run_index + (slice(None),)]
                                  for array in self.final_state[1:]))
        return ArmResult(self.name, optimizer, tuple(dims), coords, weights,
                         self.grad_nonzero_steps[run_index + (slice(None),)],
                         self.diverged_at[run_index], self.world, state)

    def band(self, level: float = 0.95) -> Band:
        """Mean weights over the seed axis with a ``level`` confidence interval; axes
        ``("step", *grid, "token")``. Runs that diverged are refused, not averaged."""
        if np.any(self.diverged_at > 0):
            raise ValueError(f"{self.name}: some runs diverged; select settings that did not "
                             f"(see diverged_at) before averaging")
        return seed_band(self.weights, axis=1, level=level)

    def final_error(self) -> np.ndarray:
        """``|w_final - w_true|``: axes ``("seed", *grid, "token")``."""
        return np.abs(self.final_weights - self.world.true_weights)


@dataclass(frozen=True, eq=False)
class SweepResult:
    arms: Mapping[str, ArmResult]
    seeds: tuple[int, ...]
    n_steps: int

    def __getitem__(self, name: str) -> ArmResult:
        check_key("arm", name, self.arms)
        return self.arms[name]


# --- the engine ---------------------------------------------------------------------

@dataclass
class _ArmState:
    optimizer: Optimizer
    w: np.ndarray
    state: tuple
    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    diverged_at: np.ndarray
    alive: np.ndarray
    all_alive: bool = True


def _build_optimizer(factory: Callable, grid: Mapping[str, np.ndarray], fixed: Mapping):
    """Hyperparameter arrays shaped to broadcast against weights (seed, *grid, token)."""
    kwargs = dict(fixed)
    n = len(grid)
    for axis, (name, values) in enumerate(grid.items()):
        shape = [1] * (n + 1)
        shape[axis] = values.size
        kwargs[name] = values.reshape(shape)
    return factory(**kwargs)


def _check_arm(name, spec) -> tuple[Optimizer, dict]:
    """One arm's (factory, grid[, fixed]) checked; errors name the arm and the key."""
    where = f"arms[{name!r}]"
    if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not callable(spec[0]):
        raise TypeError(f"{where} must be (factory, grid) or (factory, grid, fixed), "
                        f"e.g. (helpers.adam, {{'lr': [0.01, 0.05]}}); got {shown(spec)}")
    factory, grid, fixed = spec if len(spec) == 3 else spec + ({},)
    if not isinstance(grid, Mapping) or not isinstance(fixed, Mapping):
        raise TypeError(f"{where}: the grid and the fixed settings must be dicts of "
                        f"hyperparameters, got {shown(grid)} and {shown(fixed)}")
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        parameters = None
    takes_any = parameters is None or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for key in list(grid) + list(fixed):
        if not isinstance(key, str):
            raise TypeError(f"{where}: hyperparameter names must be strings, got {key!r}")
        if not takes_any and key not in parameters:
            raise UnknownKeyError(f"{where}: {key!r} is not a hyperparameter of its factory; "
                                  f"it takes {', '.join(parameters)}")
        if key in grid and key in fixed:
            raise ValueError(f"{where}: {key!r} is both on the grid and fixed")
    arrays = {}
    for key, values in grid.items():
        try:
            array = np.atleast_1d(as_float_array(f"{where}: grid {key!r}", values))
        except TypeError:
            raise TypeError(f"{where}: grid {key!r} must be a list of numbers, "
                            f"got {shown(values)}") from None
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{where}: grid {key!r} must be a non-empty 1-D list, "
                             f"got {shown(values)}")
        arrays[key] = frozen_copy(array)       # the result's coordinates: its own
    try:
        optimizer = _build_optimizer(factory, arrays, fixed)
    except (TypeError, ValueError, KeyError) as error:
        raise type(error)(f"{where}: {error}") from None
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: the factory must return a helpers optimizer, "
                        f"got {type(optimizer).__name__}")
    return optimizer, arrays


def _draw_bytes(world: World, blocks: int) -> float:
    """What one group of ``blocks`` stream blocks holds while it runs, besides the
    weights: the raw token integers of 8 steps (and the 64-bit draw they are cut from, and
    a copy when only some seeds of a block run), the label noise twice, and the 0/1 batch
    matrix with its targets on the NumPy path."""
    seeds = blocks * SEEDS_PER_STREAM
    per_step = seeds * world.batch_size
    return (STEPS_PER_DRAW * per_step * (4.0 * world.n_tokens * 3 + 8.0 * 3)
            + per_step * 8.0 * (world.n_tokens + 2))


def _run_seed_group(world, seeds, arms_spec, n_steps, record_steps):
    """Train every arm on one group of seeds for all steps; returns name -> _ArmState."""
    draws = SweepDraws(world.n_tokens, world.batch_size, seeds)
    S, B = len(seeds), world.batch_size
    thresholds = token_thresholds(world.frequencies)
    arms = []
    for optimizer, grid_shape in arms_spec.values():
        w = np.zeros((S,) + grid_shape + (world.n_tokens,))
        arms.append(_ArmState(
            optimizer, w, optimizer.init(w),
            np.empty((len(record_steps), S) + grid_shape + (world.n_tokens,)),
            np.zeros(w.shape, dtype=np.int64),   # reshaped (S, G, n) views are filled in place
            np.zeros((S,) + grid_shape, dtype=np.int64),
            np.ones((S,) + grid_shape, dtype=bool)))
    record_at = {int(step): i for i, step in enumerate(record_steps)}
    noise_chunk = np.empty((STEPS_PER_DRAW, S, B))
    step = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while step < n_steps:
            tokens, normals = draws.next_draw()
            np.multiply(normals, world.noise_std, out=noise_chunk)
            for k in range(min(STEPS_PER_DRAW, n_steps - step)):
                step += 1
                for arm in arms:
                    _step_arm(arm, tokens[k], thresholds, noise_chunk[k], world.true_weights,
                              step)
                row = record_at.get(step)
                if row is not None:
                    for arm in arms:
                        arm.weights[row] = arm.w
    return dict(zip(arms_spec, arms))


def _step_arm(arm: _ArmState, tokens, thresholds, noise, true_w, step):
    w = np.ascontiguousarray(arm.w)
    S, n = w.shape[0], w.shape[-1]
    grad = np.empty_like(w)
    # One pass per step: the batch's 0/1 matrix X from the raw integers, the gradient of
    # every grid point of every seed, and the count of weights that got a gradient.
    batch_gradient(tokens, thresholds, w.reshape(S, -1, n), true_w, noise,
                   grad.reshape(S, -1, n), arm.grad_nonzero_steps.reshape(S, -1, n))
    w_new, state_new = arm.optimizer.step(w, grad, arm.state, check=False)
    newly = newly_diverged(w_new, arm.alive, arm.all_alive)
    if newly is not None:
        w_new = mark_diverged(w_new, newly, arm.alive, arm.diverged_at, step)
        arm.all_alive = False
    arm.w, arm.state = w_new, state_new


def sweep(arms: Mapping[str, tuple], world: World, seeds, n_steps: int, *,
          record_every: int = 1, threads: int = 2) -> SweepResult:
    """Train every arm on every seed, side by side, on common random numbers.

    ``arms`` maps a name to ``(factory, grid)`` or ``(factory, grid, fixed)``: an
    optimizer factory such as ``helpers.adam``, a dict of hyperparameter grids (each a
    1-D list, e.g. ``{"lr": [0.01, 0.05]}``; several make a full product) and fixed
    keyword arguments. Weights start at 0. Diverging runs are marked, not raised: each
    arm's ``diverged_at`` says which and when. ``seeds`` index the engine's own streams
    (stream 3 of :mod:`helpers.streams`).

    ``record_every`` keeps every k-th step (and always the last)."""
    if not isinstance(world, World):
        raise TypeError(f"world must be a helpers World (make_world), got {type(world).__name__}")
    if world.rotation is not None:
        raise ValueError("sweep draws 0/1 tokens and cannot run a rotated world; train() can")
    if not isinstance(arms, Mapping):
        raise TypeError(f"arms must be a dict: name -> (factory, grid[, fixed]), got {shown(arms)}")
    if not arms:
        raise ValueError("arms must name at least one arm: name -> (factory, grid[, fixed])")
    seeds = check_seeds(seeds)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    record_every = check_int("record_every", record_every, minimum=1)
    threads = check_int("threads", threads, minimum=1, maximum=64)

    arms_spec, grids = {}, {}
    for name, spec in arms.items():
        if not isinstance(name, str):
            raise TypeError(f"each arm's name must be a string, got {name!r}")
        optimizer, grid = _check_arm(name, spec)
        arms_spec[name] = (optimizer, tuple(v.size for v in grid.values()))
        grids[name] = grid

    record_steps = np.unique(np.append(np.arange(record_every, n_steps + 1, record_every), n_steps))
    runs = sum(int(np.prod(shape)) for _, shape in arms_spec.values()) * len(seeds)
    # Seeds go in groups of whole stream blocks (no block is drawn twice); threads take
    # groups from a shared queue until none is left.
    by_block: dict[int, list[int]] = {}
    for i, seed in enumerate(seeds):
        by_block.setdefault(seed // SEEDS_PER_STREAM, []).append(i)
    blocks = sorted(by_block)
    # Few large groups: each NumPy call then does more work per call, which is what lets
    # two threads run in parallel (the interpreter itself runs one thread at a time).
    per_group = min(-(-len(blocks) // threads), MAX_SEEDS_PER_GROUP // SEEDS_PER_STREAM)
    groups = [[i for block in blocks[g:g + per_group] for i in by_block[block]]
              for g in range(0, len(blocks), per_group)]
    check_allocation(f"this sweep ({runs:,} runs, {record_steps.size:,} recorded steps each, "
                     f"batches of {world.batch_size:,})",
                     8.0 * runs * world.n_tokens * (record_steps.size + 6)
                     + min(threads, len(groups)) * _draw_bytes(world, per_group),
                     advice="record fewer steps (record_every), or run fewer seeds or "
                            "settings, or use a smaller batch")
    out, errors, queue = [None] * len(groups), [], list(range(len(groups)))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue or errors:
                    return
                slot = queue.pop(0)
            try:
                out[slot] = _run_seed_group(world, [seeds[i] for i in groups[slot]], arms_spec,
                                            n_steps, record_steps)
            except BaseException as exc:   # re-raised below, in the caller's thread
                with lock:
                    errors.append(exc)

    workers = [threading.Thread(target=worker) for _ in range(min(threads, len(groups)))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if errors:
        raise errors[0]

    order = np.argsort(np.concatenate([np.array(g) for g in groups]))   # back to the caller's order
    results = {}
    for name, (optimizer, _) in arms_spec.items():
        parts = [group[name] for group in out]
        dims = ("step", "seed") + tuple(grids[name]) + ("token",)
        coords = {"step": record_steps, "seed": np.array(seeds),
                  **dict(grids[name].items()), "token": np.array(world.tokens)}
        state = type(parts[0].state)(n_steps, *(
            np.concatenate([part.state[k] for part in parts], axis=0)[order]
            for k in range(1, len(parts[0].state))))
        results[name] = ArmResult(
            name, optimizer, dims, coords,
            np.concatenate([part.weights for part in parts], axis=1)[:, order],
            np.concatenate([part.grad_nonzero_steps for part in parts], axis=0)[order],
            np.concatenate([part.diverged_at for part in parts], axis=0)[order], world, state)
    return SweepResult(results, seeds, n_steps)
