"""The six-token world of the reference experiment, and how batches are drawn from it.

A sample is a 0/1 vector over the tokens: token i is present with probability ``p[i]``,
independently of the others. Its target is ``y = x . w_true + noise`` with Gaussian noise
of standard deviation ``noise_std``. A batch stacks ``batch_size`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import validation
from .validation import (UnknownKeyError, as_float_array, check_allocation, check_finite,
                         check_frequencies, check_int, check_non_negative, frozen_copy, shown)

TOKENS = ("the", "model", "embedding", "tokenization", "xenobiotic", "thalweg")
FREQUENCIES = (0.95, 0.60, 0.20, 0.05, 0.005, 0.001)


@dataclass(frozen=True)
class ReferenceSettings:
    """The constants of the reference experiment (see the series' notation)."""

    seed: int = 42
    n_steps: int = 3000
    lr: float = 0.05
    batch_size: int = 32
    noise_std: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


REFERENCE = ReferenceSettings()


@dataclass(frozen=True, eq=False)
class World:
    """Token names, appearance probabilities ``p``, true weights, noise and batch size.

    ``rotation`` (None for every world but those made by :meth:`rotated`) is an
    orthogonal matrix R: the model then sees features ``R x`` instead of the 0/1 tokens
    ``x`` and must learn ``R w*``. The loss is the same function in turned coordinates.

    Usually made by :func:`make_world`. Built directly, it is checked the same way and
    keeps read-only copies of the arrays it is given: a World is a constant."""

    tokens: tuple[str, ...]
    frequencies: np.ndarray
    true_weights: np.ndarray
    noise_std: float
    batch_size: int
    rotation: np.ndarray | None = None

    def __post_init__(self):
        tokens = self.tokens
        if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)) or not all(
                isinstance(t, str) and t for t in tokens):
            raise TypeError(f"tokens must be a list or tuple of non-empty names, got "
                            f"{shown(tokens)}")
        p = check_frequencies("frequencies", self.frequencies)
        if len(tokens) != p.size:
            raise ValueError(f"tokens must name each of the {p.size} frequencies, got "
                             f"{len(tokens)} names")
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens must be distinct, got {tuple(tokens)}")
        true_weights = check_finite("true_weights", self.true_weights, shape=p.shape)
        rotation = self.rotation
        if rotation is not None:
            rotation = check_finite("rotation", rotation, shape=(p.size, p.size))
            if not np.allclose(rotation @ rotation.T, np.eye(p.size), atol=1e-10):
                raise ValueError("rotation must be an orthogonal matrix (R R^T = I)")
            rotation = frozen_copy(rotation)
        object.__setattr__(self, "tokens", tuple(tokens))
        object.__setattr__(self, "frequencies", frozen_copy(p))
        object.__setattr__(self, "true_weights", frozen_copy(true_weights))
        object.__setattr__(self, "noise_std", float(check_non_negative("noise_std",
                                                                       self.noise_std)))
        object.__setattr__(self, "batch_size", check_int("batch_size", self.batch_size,
                                                         minimum=1))
        object.__setattr__(self, "rotation", rotation)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    def rotated(self, seed: int) -> World:
        """The same world seen in a random orthonormal basis (drawn from ``seed``): the
        rare directions are then no longer the coordinate axes. Plain gradient descent
        does not care (it is rotation-equivariant); a per-coordinate method does."""
        if self.rotation is not None:
            raise ValueError("this world is already rotated; rotate the original instead")
        seed = check_int("seed", seed, minimum=0, maximum=2 ** 32 - 1)
        gaussian = np.random.default_rng(seed).standard_normal((self.n_tokens, self.n_tokens))
        q, r = np.linalg.qr(gaussian)
        rotation = q * np.sign(np.diag(r))            # uniform over orthogonal matrices
        rotation.setflags(write=False)
        true_weights = rotation @ self.true_weights
        true_weights.setflags(write=False)
        return World(self.tokens, self.frequencies, true_weights, self.noise_std,
                     self.batch_size, rotation)

    def to_tokens(self, weights) -> np.ndarray:
        """Weights of a rotated world's model, ``(..., n)``, back in token coordinates
        (``R^T u``); for an unrotated world, the weights themselves. A diverged run's NaN
        stays NaN."""
        weights = as_float_array("weights", weights)
        if weights.ndim == 0 or weights.shape[-1] != self.n_tokens:
            raise ValueError(f"weights must end in an axis of length {self.n_tokens} (one per "
                             f"token), got shape {weights.shape}")
        return weights if self.rotation is None else weights @ self.rotation

    def per_batch_appearance(self) -> np.ndarray:
        """Probability that each token appears at least once in a batch: ``1-(1-p)^B``."""
        return 1.0 - (1.0 - self.frequencies) ** self.batch_size

    def expected_hessian(self) -> np.ndarray:
        """``E[x x^T]``: the Hessian of the expected squared-error loss (divided by 2).

        Diagonal entries are ``p_i`` (x_i^2 = x_i for a 0/1 feature); off-diagonal
        entries are ``p_i p_j`` (tokens appear independently)."""
        p = self.frequencies
        hessian = np.outer(p, p)
        np.fill_diagonal(hessian, p)
        if self.rotation is not None:                 # features R x: E[R x x^T R^T]
            hessian = self.rotation @ hessian @ self.rotation.T
        return hessian

    def sample_batch(self, rng) -> tuple[np.ndarray, np.ndarray]:
        """One batch ``(X, y)``: X of shape (batch_size, n_tokens) with 0/1 entries.

        With a legacy ``np.random.RandomState`` the draws follow the reference protocol
        bit for bit: a uniform (batch_size, n_tokens) array compared with ``p``, then
        ``batch_size`` standard normals for the noise. A ``np.random.Generator`` makes
        the same two draws with its own methods.

        Given a list of streams (one per independent run), each draws its own batch in
        that order and the result is stacked: X of shape (runs, batch_size, n_tokens)."""
        runs = len(rng) if isinstance(rng, (list, tuple)) else 1
        # the uniforms, X, its rotation and the products: a few copies of (runs, B, n)
        n_bytes = 8.0 * 4 * runs * self.batch_size * (self.n_tokens + 1)
        if n_bytes > validation.MEMORY_LIMIT_BYTES:   # (a message only when needed)
            check_allocation(f"{runs:,} batch(es) of {self.batch_size:,} samples", n_bytes,
                             advice="use a smaller batch_size, or draw the batch's statistics "
                                    "instead (sample_statistics, train(..., "
                                    "gradient='statistics'))")
        if isinstance(rng, (list, tuple)):
            if not rng:
                raise ValueError("rng must not be an empty list: give one stream per run")
            draws = [self._draw(r) for r in rng]
            uniforms = np.stack([u for u, _ in draws])
            normals = np.stack([n for _, n in draws])
        else:
            uniforms, normals = self._draw(rng)
        X = (uniforms < self.frequencies).astype(float)
        if self.rotation is not None:
            X = X @ self.rotation.T
        y = X @ self.true_weights + self.noise_std * normals
        return X, y

    def sample_statistics(self, rng) -> tuple[np.ndarray, np.ndarray]:
        """A batch's sufficient statistics ``S = X^T X / B`` and ``c = X^T noise / B``,
        drawn exactly, without drawing the batch: the gradient is ``S (w - w*) - c``.

        A sample is one of the 2^n token patterns; the batch is how many of its B samples
        fall on each pattern (a multinomial draw), and the noise summed over the k samples
        of a pattern is Gaussian with variance k sigma^2. The cost does not grow with B,
        which makes batches of thousands cheap. Same distribution as
        :meth:`sample_batch`, not the same draws (see :mod:`helpers.streams`). With a list
        of streams, one per run, the results are stacked: S (runs, n, n), c (runs, n)."""
        if isinstance(rng, (list, tuple)):
            if not rng:
                raise ValueError("rng must not be an empty list: give one stream per run")
            pairs = [self.sample_statistics(r) for r in rng]
            return np.stack([S for S, _ in pairs]), np.stack([c for _, c in pairs])
        if not isinstance(rng, (np.random.RandomState, np.random.Generator)):
            raise TypeError(f"rng must be a random stream made by helpers.make_rng(seed), "
                            f"got {type(rng).__name__}")
        patterns, probabilities = self._patterns()
        counts = rng.multinomial(self.batch_size, probabilities)
        noise_sums = np.sqrt(counts) * rng.standard_normal(len(counts)) * self.noise_std
        S = (patterns.T * counts) @ patterns / self.batch_size
        c = patterns.T @ noise_sums / self.batch_size
        if self.rotation is not None:
            S, c = self.rotation @ S @ self.rotation.T, self.rotation @ c
        return S, c

    def _patterns(self):
        """Every 0/1 token pattern (2^n, n) and its probability (computed once)."""
        cached = self.__dict__.get("_pattern_cache")
        if cached is None:
            n = self.n_tokens
            if n > 16:
                raise ValueError(f"sample_statistics enumerates the 2^n token patterns; "
                                 f"with {n} tokens that is too many (at most 16)")
            patterns = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(float)
            p = self.frequencies
            probabilities = np.prod(np.where(patterns == 1, p, 1 - p), axis=1)
            cached = (patterns, probabilities / probabilities.sum())
            object.__setattr__(self, "_pattern_cache", cached)
        return cached

    def _draw(self, rng) -> tuple[np.ndarray, np.ndarray]:
        shape = (self.batch_size, self.n_tokens)
        if isinstance(rng, np.random.RandomState):
            return rng.random_sample(shape), rng.standard_normal(self.batch_size)
        if isinstance(rng, np.random.Generator):
            return rng.random(shape), rng.standard_normal(self.batch_size)
        raise TypeError(
            "rng must be a numpy.random.RandomState (the series' stream), a "
            f"numpy.random.Generator, or a list of them, got {type(rng).__name__}; "
            "make one with helpers.make_rng(seed)"
        )

    def token_index(self, token) -> int:
        """The index of a token given by name (or by index, which is checked)."""
        if isinstance(token, (int, np.integer)) and not isinstance(token, (bool, np.bool_)):
            if not -self.n_tokens <= token < self.n_tokens:
                raise ValueError(f"token index must lie in 0..{self.n_tokens - 1}, got {token}")
            return int(token) % self.n_tokens
        if not isinstance(token, str):
            raise TypeError(f"token must be a token's name or index, got {token!r}")
        if token not in self.tokens:
            raise UnknownKeyError(f"token {token!r} is unknown; this world's tokens are "
                                  f"{', '.join(self.tokens)}")
        return self.tokens.index(token)


def make_world(frequencies=FREQUENCIES, tokens=None, true_weights=1.0,
               noise_std=REFERENCE.noise_std, batch_size=REFERENCE.batch_size) -> World:
    """A world with the given per-sample frequencies (each in (0, 1]).

    ``tokens`` defaults to the reference names when there are six frequencies and to
    ``token0, token1, ...`` otherwise; ``true_weights`` may be one number for all."""
    p = check_frequencies("frequencies", frequencies)
    if tokens is None:
        tokens = TOKENS if p.size == len(TOKENS) else tuple(f"token{i}" for i in range(p.size))
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise TypeError(f"tokens must be a list or tuple of names, got {tokens!r}")
    if not all(isinstance(t, str) and t for t in tokens):
        raise TypeError(f"tokens must be non-empty strings, got {tokens!r}")
    tokens = tuple(tokens)
    if len(tokens) != p.size:
        raise ValueError(
            f"tokens must name each of the {p.size} frequencies, got {len(tokens)} names"
        )
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"tokens must be distinct, got {tokens}")
    true_w = as_float_array("true_weights", true_weights)
    if true_w.ndim == 0:
        true_w = np.full(p.shape, float(true_w))
    true_w = check_finite("true_weights", true_w, shape=p.shape)
    noise = float(check_non_negative("noise_std", noise_std))
    batch = check_int("batch_size", batch_size, minimum=1)
    # World keeps read-only copies: a World is a constant, nothing may edit it later.
    return World(tokens, p, true_w, noise, batch)


REFERENCE_WORLD = make_world()
