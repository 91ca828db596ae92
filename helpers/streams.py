"""What a seed means: every random stream of the series, in one place.

**1. The series' stream** (:func:`make_rng`): NumPy's legacy Mersenne Twister,
``np.random.RandomState(seed)``, drawn in the reference protocol's order. Step by step:
a ``(B, n)`` array of uniforms, compared with the frequencies ``p`` (token i is in
sample j when ``u[j, i] < p[i]``), then ``B`` standard normals for the label noise.
Batch k of seed s is the k-th batch of that stream. ``train`` with ``make_rng(seed)``,
the loops written out in notebooks 01-03, and the explorer (:class:`SeriesDraws`) all
use it, so "seed 42" is the same sequence of batches b1, b2, ... in every one of them,
and every optimizer trained from a fresh ``make_rng(42)`` sees the same batches.

**2. The tutorial's protocol** (:func:`helpers.reference_runs`): one stream of kind 1,
seeded once; SGD trains on its batches 1..T, then Adam on batches T+1..2T. The series
uses it only where it checks the tutorial's own numbers (notebook 04) and redraws the
tutorial's figure (00), and says so there.

**3. The engine's streams** (:func:`helpers.sweep`, :class:`SweepDraws`): built for
many runs at once, and *not* the batches of stream 1. Seeds come in blocks of 25: block
b = seed // 25 has two SFC64 generators seeded from ``SeedSequence([b, 2026])``, one
for the tokens and one for the label noise, each drawn 8 steps of all 25 seeds at a
time. Token draws are exact Bernoulli trials on raw 32-bit integers: token i is in a
sample when its integer is below ``floor(p_i 2^32)`` (:func:`token_thresholds`). A
seed's batches depend only on the seed: not on which other seeds run beside it, on the
number of threads or on the number of steps. :func:`sweep_batches` replays them.

**4. NumPy Generators** (``make_rng(seed, legacy=False)``, PCG64): the same draw order
as stream 1 with a modern generator, for experiments of your own. The series' notebooks
do not use it.

**5. The softmax notebooks (11, 12)**: NumPy Generators again. A synthetic problem
(``make_teacher_problem``) is drawn from ``np.random.default_rng(seed)``; its minibatches
come from :func:`minibatch_rng` ``(seed)``, a separate PCG64 stream seeded with
``[seed, 5]``, so that the batches do not reuse the numbers that drew the problem. Every
optimizer that trains from a fresh ``minibatch_rng(seed)`` sees the same batches.

Every notebook that trains says which stream it uses.
"""

from __future__ import annotations

import numpy as np

from .validation import check_allocation, check_int

# --- 1. the series' stream ------------------------------------------------------------


def make_rng(seed: int = 42, legacy: bool = True):
    """A seeded random stream: the series' legacy ``RandomState`` (stream 1 above,
    ``legacy=True``), or a ``numpy.random.Generator`` (PCG64, stream 4)."""
    seed = check_int("seed", seed, minimum=0, maximum=2 ** 32 - 1)
    if not isinstance(legacy, (bool, np.bool_)):
        raise TypeError(f"legacy must be True or False, got {legacy!r}")
    return np.random.RandomState(seed) if legacy else np.random.default_rng(seed)


def minibatch_rng(seed: int) -> np.random.Generator:
    """The minibatch stream of the softmax notebooks (stream 5 above)."""
    seed = check_int("seed", seed, minimum=0, maximum=2 ** 32 - 1)
    return np.random.default_rng([seed, 5])


class SeriesDraws:
    """The raw draws of stream 1 for one seed and batch size, kept between calls and
    extended when more steps are asked for (never redrawn): what the explorer runs on.

    ``draws(n_steps)`` returns uniforms ``(n_steps, B, n_tokens)`` and standard normals
    ``(n_steps, B)``; batch k is ``X = (uniforms[k] < p)``, ``y = X w* + sigma normals[k]``,
    exactly the k-th batch ``world.sample_batch(make_rng(seed))`` would draw."""

    def __init__(self, seed: int, n_tokens: int, batch_size: int):
        self.seed = check_int("seed", seed, minimum=0, maximum=2 ** 32 - 1)
        self.n_tokens = check_int("n_tokens", n_tokens, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self._stream = np.random.RandomState(self.seed)
        self._uniforms = np.empty((0, batch_size, n_tokens))
        self._normals = np.empty((0, batch_size))

    def draws(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        n_steps = check_int("n_steps", n_steps, minimum=1)
        missing = n_steps - self._uniforms.shape[0]
        if missing > 0:
            check_allocation(f"{n_steps:,} steps of batch {self.batch_size}",
                             8.0 * n_steps * self.batch_size * (self.n_tokens + 1),
                             advice="use fewer steps or a smaller batch")
            uniforms = np.empty((missing, self.batch_size, self.n_tokens))
            normals = np.empty((missing, self.batch_size))
            shape = (self.batch_size, self.n_tokens)
            for k in range(missing):       # the protocol's order: uniforms, then normals
                uniforms[k] = self._stream.random_sample(shape)
                normals[k] = self._stream.standard_normal(self.batch_size)
            self._uniforms = np.concatenate([self._uniforms, uniforms])
            self._normals = np.concatenate([self._normals, normals])
        return self._uniforms[:n_steps], self._normals[:n_steps]


# --- 3. the engine's streams ----------------------------------------------------------

SEEDS_PER_STREAM = 25
STEPS_PER_DRAW = 8


def token_thresholds(frequencies) -> np.ndarray:
    """``floor(p 2^32)`` as uint64: token i is in a sample when its raw 32-bit integer is
    below this (probability p within 2^-32; p = 1 gives 2^32: always present)."""
    return np.floor(np.asarray(frequencies, dtype=float) * 2.0 ** 32).astype(np.uint64)


def _block_streams(block: int):
    tokens, noise = np.random.SeedSequence([block, 2026]).spawn(2)
    return np.random.SFC64(tokens), np.random.Generator(np.random.SFC64(noise))


def check_seeds(seeds) -> tuple[int, ...]:
    """A non-empty collection of distinct whole numbers >= 0 (one seed alone must be
    written as a list: ``[42]``)."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        raise TypeError(f"seeds must be a list or range of seeds, got the single number "
                        f"{seeds}; use [{seeds}] for one")
    if isinstance(seeds, (str, bytes)):
        raise TypeError(f"seeds must be a list or range of whole numbers, got the text "
                        f"{seeds!r}")
    try:
        seeds = tuple(seeds)
    except TypeError:
        raise TypeError(f"seeds must be a list or range of seeds, got {seeds!r}") from None
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    for seed in seeds:
        check_int("each seed", seed, minimum=0, maximum=2 ** 63 - 1)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return tuple(int(seed) for seed in seeds)


class SweepDraws:
    """Draws 8 steps at a time for the blocks that hold ``seeds`` and hands out the
    columns of those seeds (in the given order), step-major: token integers
    ``(8, S, n, B)`` as uint32 and standard normals ``(8, S, B)``. Each block's draw is
    laid out (step, seed in block, token, sample), so the step-major result needs no
    reshuffling."""

    def __init__(self, n_tokens: int, batch_size: int, seeds):
        blocks = sorted({seed // SEEDS_PER_STREAM for seed in seeds})
        self.streams = [_block_streams(block) for block in blocks]
        position = {block: i for i, block in enumerate(blocks)}
        columns = np.array([position[seed // SEEDS_PER_STREAM] * SEEDS_PER_STREAM
                            + seed % SEEDS_PER_STREAM for seed in seeds])
        n_columns = len(blocks) * SEEDS_PER_STREAM
        self.columns = None if np.array_equal(columns, np.arange(n_columns)) else columns
        self.block_shape = (STEPS_PER_DRAW, SEEDS_PER_STREAM, n_tokens, batch_size)
        self.n_values = int(np.prod(self.block_shape))
        self.tokens = np.empty((STEPS_PER_DRAW, len(blocks), SEEDS_PER_STREAM,
                                n_tokens, batch_size), dtype=np.uint32)
        self.normals = np.empty((STEPS_PER_DRAW, len(blocks), SEEDS_PER_STREAM, batch_size))
        self.n_columns = n_columns

    def next_draw(self):
        for b, (token_bits, noise_stream) in enumerate(self.streams):
            raw = token_bits.random_raw((self.n_values + 1) // 2)     # 64 bits = two draws
            self.tokens[:, b] = raw.view(np.uint32)[:self.n_values].reshape(self.block_shape)
            self.normals[:, b] = noise_stream.standard_normal(
                self.block_shape[:2] + self.block_shape[3:])
        tokens = self.tokens.reshape((STEPS_PER_DRAW, self.n_columns) + self.tokens.shape[3:])
        normals = self.normals.reshape((STEPS_PER_DRAW, self.n_columns, -1))
        if self.columns is not None:                # only some seeds of these blocks
            tokens, normals = tokens[:, self.columns], normals[:, self.columns]
        return tokens, normals


def sweep_draws(world, seed: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw draws of one seed's first ``n_steps`` batches in stream 3, exactly as
    :func:`helpers.sweep` uses them: token integers ``(n_steps, n_tokens, batch_size)``
    as uint32 and standard normals ``(n_steps, batch_size)``. They depend on the seed
    and the batch size, not on the frequencies."""
    seed = check_seeds([seed])[0]
    n_steps = check_int("n_steps", n_steps, minimum=1)
    check_allocation(f"{n_steps:,} steps of batch {world.batch_size}",
                     12.0 * n_steps * world.batch_size * world.n_tokens,
                     advice="use fewer steps")
    draws = SweepDraws(world.n_tokens, world.batch_size, [seed])
    n_draws = -(-n_steps // STEPS_PER_DRAW)
    tokens = np.empty((n_draws * STEPS_PER_DRAW, world.n_tokens, world.batch_size),
                      dtype=np.uint32)
    normals = np.empty((n_draws * STEPS_PER_DRAW, world.batch_size))
    for d in range(n_draws):
        chunk_tokens, chunk_normals = draws.next_draw()
        rows = slice(d * STEPS_PER_DRAW, (d + 1) * STEPS_PER_DRAW)
        tokens[rows], normals[rows] = chunk_tokens[:, 0], chunk_normals[:, 0]
    return tokens[:n_steps], normals[:n_steps]


def sweep_batches(world, seed: int, n_steps: int):
    """The batches stream 3 gives one seed, one step at a time: ``(X, y)`` with X of
    shape (batch_size, n_tokens), exactly the batches :func:`helpers.sweep` trains on."""
    tokens, normals = sweep_draws(world, seed, n_steps)
    thresholds = token_thresholds(world.frequencies)[:, None]
    for step_tokens, step_normals in zip(tokens, normals):
        X = (step_tokens < thresholds).astype(float).T
        yield X, X @ world.true_weights + world.noise_std * step_normals
