"""Many independent runs at once: seeds x hyperparameter grids x optimizers.

Common random numbers: every optimizer and every setting sees the *identical* batches of
a given seed, so differences between them are not sampling noise. Step ``t`` of seed
``s`` always gets the same batch, whichever other seeds run beside it, however many
threads run and however long the run is. :func:`seed_batches` yields those batches one
at a time, for a plain loop that must agree with the engine.

Layout, chosen for speed: each draw covers 8 steps of 25 seeds, laid out step-major
``(step, seed, token, sample)``, so each step's raw integers are contiguous; one compiled
pass per step (:func:`helpers.kernels.batch_gradient`) turns them into the gradients of
every run, and the optimizers' own NumPy updates follow. Groups of whole stream blocks
are split across threads (NumPy's random fills and the compiled pass release the GIL)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping

import numpy as np

from ._checks import check_int, check_positive
from .optimizers import Optimizer
from .training import mark_diverged, newly_diverged
from .world import REFERENCE, World


# --- common random numbers ----------------------------------------------------------

# The random streams come in blocks: seeds 0-24 share one pair of streams (token draws,
# label noise), seeds 25-49 the next, and so on, and each draw covers 8 steps of all 25
# seeds. One call per block and 8 steps keeps the calls few and the buffers in cache,
# and a seed's batches depend only on the seed: not on which other seeds run, on the
# number of threads or on the number of steps.
#
# Token draws are exact Bernoulli trials from raw 32-bit random integers: token i is in a
# sample when u < floor(p_i * 2^32), u uniform on 0 .. 2^32 - 1 (probability p_i within
# 2^-32). Half the random bits of a float64 uniform each, and exact integer comparisons.
SEEDS_PER_STREAM = 25
STEPS_PER_DRAW = 8
MAX_SEEDS_PER_GROUP = 500    # seeds a thread steps together (buffers stay in the L3 cache)


def _block_streams(block: int):
    tokens, noise = np.random.SeedSequence([block, 2026]).spawn(2)
    return np.random.SFC64(tokens), np.random.Generator(np.random.SFC64(noise))


def _thresholds(world: World) -> np.ndarray:
    """floor(p * 2^32) as uint64 (p = 1 gives 2^32: always present)."""
    return np.floor(world.frequencies * 2.0 ** 32).astype(np.uint64)


def _check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)):
        raise ValueError(f"seeds must be a list or range of seeds, got the single number {seeds}; "
                         f"use [{seeds}] for one")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    for seed in seeds:
        check_int("each seed", seed, minimum=0)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return tuple(int(seed) for seed in seeds)


class _SeedDraws:
    """Draws 8 steps at a time for a set of stream blocks and hands out the columns of
    the requested seeds (in the given order), step-major: token integers (8, S, n, B) as
    uint32 and standard normals (8, S, B). Each block's draw is laid out (step, seed in
    block, token, sample), so the step-major result needs no reshuffling."""

    def __init__(self, world: World, seeds):
        blocks = sorted({seed // SEEDS_PER_STREAM for seed in seeds})
        self.streams = [_block_streams(block) for block in blocks]
        position = {block: i for i, block in enumerate(blocks)}
        columns = np.array([position[seed // SEEDS_PER_STREAM] * SEEDS_PER_STREAM
                            + seed % SEEDS_PER_STREAM for seed in seeds])
        n_columns = len(blocks) * SEEDS_PER_STREAM
        self.columns = None if np.array_equal(columns, np.arange(n_columns)) else columns
        self.block_shape = (STEPS_PER_DRAW, SEEDS_PER_STREAM, world.n_tokens, world.batch_size)
        self.n_values = int(np.prod(self.block_shape))
        self.tokens = np.empty((STEPS_PER_DRAW, len(blocks), SEEDS_PER_STREAM,
                                world.n_tokens, world.batch_size), dtype=np.uint32)
        self.normals = np.empty((STEPS_PER_DRAW, len(blocks), SEEDS_PER_STREAM, world.batch_size))
        self.n_columns = n_columns

    def next_draw(self):
        for b, (token_bits, noise_stream) in enumerate(self.streams):
            raw = token_bits.random_raw((self.n_values + 1) // 2)     # 64 bits = two draws
            self.tokens[:, b] = raw.view(np.uint32)[:self.n_values].reshape(self.block_shape)
            self.normals[:, b] = noise_stream.standard_normal(self.block_shape[:2] + self.block_shape[3:])
        tokens = self.tokens.reshape((STEPS_PER_DRAW, self.n_columns) + self.tokens.shape[3:])
        normals = self.normals.reshape((STEPS_PER_DRAW, self.n_columns, -1))
        if self.columns is not None:                # only some seeds of these blocks
            tokens, normals = tokens[:, self.columns], normals[:, self.columns]
        return tokens, normals


def seed_draws(world: World, seed: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw draws of one seed's first ``n_steps`` batches, exactly as :func:`sweep`
    uses them: token integers (n_steps, n_tokens, batch_size) as uint32 (token i is in a
    sample when its integer < floor(p_i 2^32)) and standard normals (n_steps, batch_size)
    for the label noise. They do not depend on the frequencies, only on the seed and the
    batch size."""
    check_int("seed", seed, minimum=0)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    draws = _SeedDraws(world, [seed])
    n_draws = -(-n_steps // STEPS_PER_DRAW)
    tokens = np.empty((n_draws * STEPS_PER_DRAW, world.n_tokens, world.batch_size), dtype=np.uint32)
    normals = np.empty((n_draws * STEPS_PER_DRAW, world.batch_size))
    for d in range(n_draws):
        chunk_tokens, chunk_normals = draws.next_draw()
        rows = slice(d * STEPS_PER_DRAW, (d + 1) * STEPS_PER_DRAW)
        tokens[rows], normals[rows] = chunk_tokens[:, 0], chunk_normals[:, 0]
    return tokens[:n_steps], normals[:n_steps]


def batches_from_draws(world: World, tokens: np.ndarray, normals: np.ndarray):
    """Batches ``(X, y)`` one step at a time from raw draws (as :func:`seed_draws` gives
    them): X of shape (batch_size, n_tokens), y = X w* + noise_std * normals."""
    thresholds = _thresholds(world)[:, None]
    for step_tokens, step_normals in zip(tokens, normals):
        X = (step_tokens < thresholds).astype(float).T
        yield X, X @ world.true_weights + world.noise_std * step_normals


def seed_batches(world: World, seed: int, n_steps: int):
    """The batches of one seed, one step at a time: ``(X, y)`` with X of shape
    (batch_size, n_tokens), exactly the batches :func:`sweep` gives that seed."""
    yield from batches_from_draws(world, *seed_draws(world, seed, n_steps))


# --- the labelled result ------------------------------------------------------------

def _t_quantile(probability: float, df: int) -> float:
    """Student-t quantile (Cornish-Fisher expansion around the normal; error < 1e-3 for
    df >= 3), so that confidence bands need no SciPy."""
    from statistics import NormalDist
    z = NormalDist().inv_cdf(probability)
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4


@dataclass(frozen=True)
class Band:
    """Mean over seeds with a confidence interval for that mean (Student t)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float


def seed_band(values, axis: int = 0, level: float = 0.95) -> Band:
    """Mean of ``values`` over ``axis`` (the seeds) with a ``level`` confidence interval
    for that mean: mean ± t(level, n-1) · sd / sqrt(n)."""
    values = np.asarray(values, dtype=float)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite: a diverged run cannot be averaged")
    n = values.shape[axis]
    mean = values.mean(axis=axis)
    if n < 2:
        return Band(mean, mean, mean, level)
    half = _t_quantile(0.5 + level / 2, n - 1) * values.std(axis=axis, ddof=1) / np.sqrt(n)
    return Band(mean, mean - half, mean + half, level)


@dataclass(frozen=True, eq=False)
class ArmResult:
    """One optimizer over seeds and a hyperparameter grid.

    ``weights`` has axes ``dims = ("step", "seed", *grid, "token")`` with coordinates in
    ``coords``; ``steps`` are the recorded step numbers (1-based). A run that diverged
    has ``diverged_at > 0`` (the step) and NaN weights from then on."""

    name: str
    optimizer: Optimizer
    dims: tuple[str, ...]
    coords: Mapping[str, np.ndarray]
    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    diverged_at: np.ndarray
    world: World = field(repr=False)

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
                raise ValueError(f"sel takes grid dims {self.grid_dims}, got {dim!r}")
            matches = np.flatnonzero(np.isclose(self.coords[dim], value, rtol=1e-12, atol=0))
            if matches.size != 1:
                raise ValueError(f"{dim}={value!r} is not on the grid {self.coords[dim].tolist()}")
            index[self.dims.index(dim)] = matches[0]
            dims.remove(dim)
            coords.pop(dim)
        weights = self.weights[tuple(index)]
        run_index = tuple(index[1:-1])
        return ArmResult(self.name, self.optimizer, tuple(dims), coords, weights,
                         self.grad_nonzero_steps[run_index + (slice(None),)],
                         self.diverged_at[run_index], self.world)

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
        if name not in self.arms:
            raise ValueError(f"no arm {name!r}; arms: {list(self.arms)}")
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


def _run_seed_group(world, seeds, arms_spec, n_steps, record_steps, threshold):
    """Train every arm on one group of seeds for all steps; returns name -> _ArmState."""
    from .kernels import batch_gradient   # Numba loads only when the engine first runs
    draws = _SeedDraws(world, seeds)
    S, B = len(seeds), world.batch_size
    thresholds = _thresholds(world)
    true_w = world.true_weights
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
                    _step_arm(arm, batch_gradient, tokens[k], thresholds, noise_chunk[k],
                              true_w, step, threshold)
                row = record_at.get(step)
                if row is not None:
                    for arm in arms:
                        arm.weights[row] = arm.w
    return dict(zip(arms_spec, arms))


def _step_arm(arm: _ArmState, batch_gradient, tokens, thresholds, noise, true_w, step, threshold):
    w = np.ascontiguousarray(arm.w)
    S, n = w.shape[0], w.shape[-1]
    grad = np.empty_like(w)
    # One compiled pass per step: the batch's 0/1 matrix X from the raw integers, the
    # residual X (w - w*) - noise and the gradient X^T r / B for every grid point of every
    # seed, and the count of steps with a non-zero gradient. It releases the GIL, so the
    # threads' steps overlap.
    batch_gradient(tokens, thresholds, w.reshape(S, -1, n), true_w, noise,
                   grad.reshape(S, -1, n), arm.grad_nonzero_steps.reshape(S, -1, n),
                   REFERENCE.grad_zero_tol)
    w_new, state_new = arm.optimizer._update(w, grad, arm.state, **arm.optimizer.hyperparams)
    newly = newly_diverged(w_new, arm.alive, arm.all_alive, threshold)
    if newly is not None:
        w_new = mark_diverged(w_new, newly, arm.alive, arm.diverged_at, step)
        arm.all_alive = False
    arm.w, arm.state = w_new, state_new


def sweep(arms: Mapping[str, tuple], world: World, seeds, n_steps: int, *,
          record_every: int = 1, threads: int = 2,
          divergence_threshold: float = 1e6) -> SweepResult:
    """Train every arm on every seed, side by side, on common random numbers.

    ``arms`` maps a name to ``(factory, grid)`` or ``(factory, grid, fixed)``: an
    optimizer factory such as ``helpers.adam``, a dict of hyperparameter grids (each a
    1-D list, e.g. ``{"lr": [0.01, 0.05]}``; several make a full product) and fixed
    keyword arguments. Weights start at 0. Diverging runs are marked, not raised: each
    arm's ``diverged_at`` says which and when.

    ``record_every`` keeps every k-th step (and always the last)."""
    if not isinstance(world, World):
        raise ValueError(f"world must be a helpers World (make_world), got {type(world).__name__}")
    if not isinstance(arms, Mapping) or not arms:
        raise ValueError("arms must be a non-empty dict: name -> (factory, grid[, fixed])")
    seeds = _check_seeds(seeds)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    record_every = check_int("record_every", record_every, minimum=1)
    threads = check_int("threads", threads, minimum=1)
    threshold = float(check_positive("divergence_threshold", divergence_threshold))

    arms_spec, grids = {}, {}
    for name, spec in arms.items():
        if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not callable(spec[0]):
            raise ValueError(f"arms[{name!r}] must be (factory, grid) or (factory, grid, fixed), "
                             f"e.g. (helpers.adam, {{'lr': [0.01, 0.05]}}); got {spec!r}")
        factory, grid, fixed = spec if len(spec) == 3 else spec + ({},)
        if not isinstance(grid, Mapping):
            raise ValueError(f"arms[{name!r}]: the grid must be a dict of hyperparameter lists")
        grid = {key: np.atleast_1d(np.asarray(values, dtype=float)) for key, values in grid.items()}
        for key, values in grid.items():
            if values.ndim != 1 or values.size == 0:
                raise ValueError(f"arms[{name!r}]: grid {key!r} must be a non-empty 1-D list")
        optimizer = _build_optimizer(factory, grid, fixed)
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"arms[{name!r}]: the factory must return a helpers optimizer")
        arms_spec[name] = (optimizer, tuple(v.size for v in grid.values()))
        grids[name] = grid

    record_steps = np.unique(np.append(np.arange(record_every, n_steps + 1, record_every), n_steps))
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
                                            n_steps, record_steps, threshold)
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
                  **{k: v for k, v in grids[name].items()}, "token": np.array(world.tokens)}
        results[name] = ArmResult(
            name, optimizer, dims, coords,
            np.concatenate([part.weights for part in parts], axis=1)[:, order],
            np.concatenate([part.grad_nonzero_steps for part in parts], axis=0)[order],
            np.concatenate([part.diverged_at for part in parts], axis=0)[order], world)
    return SweepResult(results, seeds, n_steps)
