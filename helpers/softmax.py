"""Softmax classifiers over many heavy-tailed classes (notebooks 11 and 12).

Two models, one interface, so that one training loop and the series' optimizers serve
both. Parameters are a flat vector per run, shape ``(..., n_params)``, exactly what the
optimizers of :mod:`helpers.optimizers` step on (normalised GD takes its norm over that
last axis, the whole model); leading axes hold runs side by side.

* :class:`LinearSoftmax`: logits ``X W`` for inputs ``X`` (N, d) and weights
  ``W`` (d, C); the mean cross-entropy over the N samples. Kunstner et al. (2024) show
  that gradient descent is slow on the rare classes of such a model even with full
  batches, while Adam and sign descent are not.
* :class:`BigramTable`: next-word logits ``W[previous word]``, a V x V table, trained on
  the pairs of a text. Its loss is a function of the pair counts alone, so the full-batch
  gradient costs one pass over the table, and the best achievable loss is known: the
  conditional entropy of the next word given the previous one.

Both give the gradient of the *mean* loss: class k's column of the gradient is
``(1/N) sum_i x_i (p_ik - [y_i = k])``, of size about ``pi_k`` (its share of the
samples), and so is its Hessian block; that is the six-token world's ``p (w - 1)``
again, with the class frequency in the role of the token frequency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .model import mark_diverged, newly_diverged
from .optimizers import Optimizer, check_optimizer
from .validation import (as_float_array, check_allocation, check_finite, check_int,
                         check_positive, check_real, check_whole_numbers, frozen_copy, shown)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` along the last axis, computed stably (the maximum subtracted)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, computed stably."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# --- class frequencies --------------------------------------------------------------------

@dataclass(frozen=True)
class FrequencyGroups:
    """Classes split into groups by frequency, most frequent group first.

    As in Kunstner et al. (2024): classes sorted by frequency, cut so that each group
    holds about the same share of the *data*; the first group has a few frequent classes,
    the last very many rare ones. ``mass``: each class's count or frequency."""

    members: tuple[np.ndarray, ...]     # class indices of each group
    mass: np.ndarray                    # each class's count (or frequency), as given

    @property
    def n_groups(self) -> int:
        return len(self.members)

    @property
    def sizes(self) -> np.ndarray:
        """Classes per group."""
        return np.array([m.size for m in self.members])

    @property
    def share(self) -> np.ndarray:
        """Each group's share of the data."""
        total = self.mass.sum()
        return np.array([self.mass[m].sum() / total for m in self.members])

    @property
    def frequency_range(self) -> list[tuple[float, float]]:
        """(largest, smallest) class frequency in each group."""
        total = self.mass.sum()
        return [(float(self.mass[m].max() / total), float(self.mass[m].min() / total))
                for m in self.members]

    def labels(self) -> list[str]:
        """Legend labels: the class frequencies in each group."""
        out = []
        for high, low in self.frequency_range:
            out.append(f"{high:.1e}" if high == low else f"{low:.1e} – {high:.1e}")
        return out

    def mean_over_groups(self, per_class_loss) -> np.ndarray:
        """Per-group loss from per-class mean losses, shape ``(..., C) -> (..., G)``: the
        mean loss over the group's *data* (classes weighted by their frequency)."""
        per_class_loss = as_float_array("per_class_loss", per_class_loss)
        if np.any(np.isinf(per_class_loss)):
            raise ValueError(f"per_class_loss must not contain infinities (NaN, a diverged "
                             f"run's, is passed on), got {shown(per_class_loss)}")
        if per_class_loss.ndim == 0 or per_class_loss.shape[-1] != self.mass.size:
            raise ValueError(f"per_class_loss must have {self.mass.size} classes on its last "
                             f"axis, got shape {per_class_loss.shape}")
        out = []
        for m in self.members:
            out.append(per_class_loss[..., m] @ (self.mass[m] / self.mass[m].sum()))
        return np.stack(out, axis=-1)


def frequency_groups(mass, n_groups: int) -> FrequencyGroups:
    """Split classes into ``n_groups`` groups of about equal data share (Kunstner et al.
    2024's split), most frequent first. ``mass``: each class's count or frequency (> 0).
    Ties keep the class order, so the split is deterministic."""
    mass = as_float_array("mass", mass)
    if mass.ndim != 1 or mass.size < 2:
        raise ValueError(f"mass must be a 1-D array of at least 2 classes, got shape "
                         f"{mass.shape}")
    if not np.all(np.isfinite(mass)) or np.any(mass <= 0):
        raise ValueError(f"mass must be positive (each class's count or frequency), got "
                         f"{shown(mass)}")
    n_groups = check_int("n_groups", n_groups, minimum=1, maximum=int(mass.size))
    order = np.argsort(-mass, kind="stable")
    cumulative = np.cumsum(mass[order]) / mass.sum()
    breakpoints = np.arange(1, n_groups) / n_groups
    cuts = np.searchsorted(cumulative, breakpoints, side="left") + 1
    members = tuple(part for part in np.split(order, cuts) if part.size)
    if len(members) != n_groups:
        raise ValueError(f"{n_groups} groups of equal data share are not possible here: a "
                         f"single class holds more than 1/{n_groups} of the data; ask for at "
                         f"most {len(members)}")
    for part in members:
        part.setflags(write=False)
    return FrequencyGroups(members, frozen_copy(mass))


# --- the models ---------------------------------------------------------------------------

def _check_params(params, n_params: int) -> np.ndarray:
    params = check_finite("params", params, min_ndim=1)
    if params.shape[-1] != n_params:
        raise ValueError(f"params must have shape (..., {n_params}) for this model, got shape "
                         f"{params.shape}")
    return params


MAX_BATCH_SIZE = 10 ** 7      # pairs in one minibatch: far beyond what a run here draws


def _check_generator(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), "
                        f"got {shown(rng)}")


def _softmax_in_place(logits: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, overwriting ``logits`` (no large temporaries: on
    arrays of many MB, fresh temporaries cost more than the arithmetic)."""
    logits -= logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    return logits


@dataclass(frozen=True)
class LinearSoftmax:
    """Linear softmax regression over contexts with uncertain next classes.

    ``features``: (M, d), one row per context (input), or (S, M, d) for S independent
    problems (seeds) side by side, in which case params have shape (S, ..., d*C).
    ``targets``: (M, C) or (S, M, C): each context's distribution over the C classes
    (rows sum to 1). ``weights``: (M,) how often each context occurs; None, equally often.

    The loss is the expected cross-entropy ``sum_j weights_j sum_k targets_jk
    (-log p_k(x_j))``: the population loss, so :meth:`gradient` without samples is the
    exact full-batch gradient ``X^T diag(weights) (P - targets)``. A minibatch draws
    contexts by ``weights`` and a class for each from its target distribution.

    ``class_weights``: (C,) positive numbers ``a_k``; the *trained* loss then weighs class
    k's cross-entropy by ``a_k`` (Kunstner et al. 2024's reweighted loss takes
    ``a_k = 1 / pi_k``, which gives every class the same share). Only :meth:`gradient`
    and :meth:`weighted_loss` use them; :meth:`class_losses` and :meth:`loss` stay the
    plain cross-entropy, so runs on either objective are measured alike."""

    features: np.ndarray
    targets: np.ndarray
    weights: np.ndarray | None = None
    class_weights: np.ndarray | None = None
    _joint_cumulative: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        features = check_finite("features", self.features)
        if features.ndim not in (2, 3) or 0 in features.shape:
            raise ValueError(f"features must have shape (M, d) or (seeds, M, d), with at least "
                             f"one context and one feature, got shape {features.shape}")
        targets = check_finite("targets", self.targets)
        if targets.ndim != features.ndim or targets.shape[:-1] != features.shape[:-1] \
                or targets.shape[-1] < 2:
            raise ValueError(f"targets must have shape {features.shape[:-1]} + (C,) with "
                             f"C >= 2 classes (one distribution per context), got shape "
                             f"{targets.shape}")
        if np.any(targets < 0) or np.any(np.abs(targets.sum(axis=-1) - 1.0) > 1e-9):
            raise ValueError("each row of targets must be a probability distribution over "
                             "the classes (entries >= 0, summing to 1)")
        n_contexts = features.shape[-2]
        if self.weights is None:
            weights = np.full(n_contexts, 1.0 / n_contexts)
        else:
            weights = check_finite("weights", self.weights, shape=(n_contexts,))
            if np.any(weights <= 0) or abs(weights.sum() - 1.0) > 1e-9:
                raise ValueError(f"weights must be positive and sum to 1 (how often each "
                                 f"context occurs), got sum {weights.sum()!r}")
        if self.class_weights is not None:
            class_weights = check_finite("class_weights", self.class_weights,
                                         shape=(targets.shape[-1],))
            if np.any(class_weights <= 0):
                raise ValueError(f"class_weights must be positive (one per class), got "
                                 f"{shown(class_weights)}")
            object.__setattr__(self, "class_weights", frozen_copy(class_weights))
        # The model's own read-only copies: changing the caller's arrays later changes
        # nothing here.
        object.__setattr__(self, "features", frozen_copy(features))
        object.__setattr__(self, "targets", frozen_copy(targets))
        object.__setattr__(self, "weights", frozen_copy(weights))
        joint = (weights[:, None] * targets).reshape(targets.shape[:-2] + (-1,))
        object.__setattr__(self, "_joint_cumulative", frozen_copy(np.cumsum(joint, axis=-1)))

    @property
    def n_contexts(self) -> int:
        return self.features.shape[-2]

    @property
    def dim(self) -> int:
        return self.features.shape[-1]

    @property
    def n_classes(self) -> int:
        return self.targets.shape[-1]

    @property
    def n_params(self) -> int:
        return self.dim * self.n_classes

    @property
    def counts(self) -> np.ndarray:
        """Each class's frequency pi_k, shape (C,) (or (S, C), one row per problem)."""
        return self.weights @ self.targets

    def _aligned(self, array: np.ndarray, params: np.ndarray) -> np.ndarray:
        """A per-problem array (S, ...) lined up with params (S, ..., n)."""
        if self.features.ndim == 2:
            return array
        if params.ndim < 2 or params.shape[0] != self.features.shape[0]:
            raise ValueError(f"with {self.features.shape[0]} problems side by side, params "
                             f"must have shape ({self.features.shape[0]}, ..., "
                             f"{self.n_params}), got shape {params.shape}")
        return array.reshape(array.shape[:1] + (1,) * (params.ndim - 2) + array.shape[1:])

    def _table(self, params: np.ndarray) -> np.ndarray:
        return params.reshape(params.shape[:-1] + (self.dim, self.n_classes))

    def log_probabilities(self, params, *, check: bool = True) -> np.ndarray:
        """``log p(class | x_j)`` for every context, shape (..., M, C)."""
        if check:
            params = _check_params(params, self.n_params)
        return log_softmax(self._aligned(self.features, params) @ self._table(params))

    def class_losses(self, params, *, check: bool = True) -> np.ndarray:
        """Each class's mean cross-entropy over the data whose class it is, shape (..., C)."""
        log_p = self.log_probabilities(params, check=check)
        mass = self._aligned(self.counts, params)
        joint = self._aligned(self.targets * self.weights[:, None], params)
        return -(joint * log_p).sum(axis=-2) / mass

    def loss(self, params, *, check: bool = True) -> np.ndarray:
        """The expected cross-entropy, shape (...)."""
        if check:
            params = _check_params(params, self.n_params)
        per_class = self.class_losses(params, check=False)
        return (per_class * self._aligned(self.counts, params)).sum(axis=-1)

    def weighted_loss(self, params, *, check: bool = True) -> np.ndarray:
        """The loss :meth:`gradient` descends: ``sum_k a_k pi_k L_k`` with the class
        weights ``a_k`` (the plain loss when there are none), shape (...)."""
        if check:
            params = _check_params(params, self.n_params)
        if self.class_weights is None:
            return self.loss(params, check=False)
        per_class = self.class_losses(params, check=False)
        return (per_class * self._aligned(self.counts, params) * self.class_weights).sum(-1)

    def gradient(self, params, samples=None, *, check: bool = True) -> np.ndarray:
        """Gradient of the loss as a flat vector per run, shape (..., d*C).

        ``samples`` None: the exact full-batch gradient ``X^T diag(weights) (P - T)``.
        Otherwise a minibatch from :meth:`draw_batch`, given by its pair counts
        ``n_jk`` (shape (S?, M, C), summing to B): the batch mean of ``x (p - onehot)``,
        ``X^T (diag(n_j / B) P - n / B)``, an unbiased estimate of the full gradient at
        the cost of the full one, whatever B."""
        if check:
            params = _check_params(params, self.n_params)
            if samples is not None:
                samples = self.check_samples(samples)
        x = self._aligned(self.features, params)
        residual = _softmax_in_place(x @ self._table(params))
        # With class weights a_k the loss of a pair (j, k) is a_k (-log p_k(x_j)): its
        # gradient in the logits is a_k (p(x_j) - e_k), so each context's softmax is
        # scaled by the weighted mass of its classes and its targets by a_k.
        a = self.class_weights
        if samples is None:
            if a is None:
                residual -= self._aligned(self.targets, params)
            else:
                mass = self.targets * a
                residual *= self._aligned(mass.sum(axis=-1, keepdims=True), params)
                residual -= self._aligned(mass, params)
            residual *= self.weights[:, None]
        else:
            batch = samples.sum(axis=(-2, -1), keepdims=True)
            mass = samples if a is None else samples * a
            residual *= self._aligned(mass.sum(axis=-1, keepdims=True) / batch, params)
            residual -= self._aligned(mass / batch, params)
        return (np.swapaxes(x, -1, -2) @ residual).reshape(params.shape)

    def check_samples(self, samples, name: str = "samples") -> np.ndarray:
        """A minibatch as :meth:`draw_batch` gives it: pair counts of shape
        ``targets.shape``, whole numbers >= 0, at least one pair per problem."""
        counts = check_finite(name, samples)
        if counts.shape != self.targets.shape:
            raise ValueError(f"{name} must be a batch's pair counts of shape "
                             f"{self.targets.shape} (draw_batch makes one), got shape "
                             f"{counts.shape}")
        if np.any(counts < 0) or np.any(counts != np.rint(counts)) \
                or np.any(counts.sum(axis=(-2, -1)) == 0):
            raise ValueError(f"{name} must hold whole numbers of pairs >= 0, at least one "
                             f"pair per problem (draw_batch makes one)")
        return counts

    def draw_batch(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """One minibatch of ``batch_size`` (context, class) pairs drawn from the data,
        returned as pair counts, shape (S?, M, C). One uniform number per pair picks
        both, by inverse transform over the contexts' blocks laid end to end: the
        context is the same in every problem side by side (each block has mass
        ``weights_j`` in all of them), the class is each problem's own (common random
        numbers)."""
        _check_generator(rng)
        batch_size = check_int("batch_size", batch_size, minimum=1, maximum=MAX_BATCH_SIZE)
        check_allocation(f"a batch of {batch_size:,} pairs",
                         8.0 * batch_size * (2 + self._joint_cumulative.size
                                             // (self.n_contexts * self.n_classes)),
                         advice="draw a smaller batch")
        uniforms = rng.random(batch_size)
        cumulative = self._joint_cumulative                                 # (S?, M*C)
        cells = self.n_contexts * self.n_classes
        rows = cumulative.reshape(-1, cells)
        # One flat index per (problem, pair): problem r's cells start at r * cells.
        picked = np.concatenate([
            np.minimum(np.searchsorted(row, uniforms, side="right"), cells - 1) + r * cells
            for r, row in enumerate(rows)])
        counts = np.bincount(picked, minlength=rows.size).astype(float)
        return counts.reshape(self.targets.shape)


MAX_ZIPF_EXPONENT = 10.0


def zipf_frequencies(n_classes: int, exponent: float = 1.0) -> np.ndarray:
    """Class frequencies ``pi_k`` proportional to ``1 / k**exponent``, k = 1..C;
    exponent 0 gives balanced classes, and it may be at most :data:`MAX_ZIPF_EXPONENT`."""
    n_classes = check_int("n_classes", n_classes, minimum=2, maximum=100_000)
    exponent = check_real("exponent", exponent)
    if exponent < 0:
        raise ValueError(f"exponent must be >= 0 (0 gives balanced classes), got {exponent!r}")
    if exponent > MAX_ZIPF_EXPONENT:
        raise ValueError(f"exponent must be at most {MAX_ZIPF_EXPONENT:g} (at "
                         f"{MAX_ZIPF_EXPONENT:g} the first class already holds 99.9% of the "
                         f"data; much larger ones overflow), got {exponent!r}")
    raw = 1.0 / np.arange(1, n_classes + 1) ** exponent
    return raw / raw.sum()


class TeacherProblem(NamedTuple):
    """A :class:`LinearSoftmax` whose targets a linear softmax produces exactly, so that
    its minimiser is known: ``optimum`` (params, shape (S?, d*C)); each class's loss
    there, ``optimum_class_losses``, is the best any run can reach."""

    model: LinearSoftmax
    optimum: np.ndarray
    optimum_class_losses: np.ndarray


def make_teacher_problem(frequencies, *, n_contexts: int, dim: int, seeds,
                         teacher_scale: float = 2.0) -> TeacherProblem:
    """Contexts and next-class distributions made by a teacher: ``n_contexts`` inputs, a
    standard normal vector in ``dim`` dimensions plus a constant feature (the bias),
    equally often; the teacher's weights ``A`` are normal with standard deviation
    ``teacher_scale / sqrt(dim)`` and its biases are set so that the classes occur with
    exactly ``frequencies`` overall (found by iterative scaling). The student is the same
    linear softmax, so the teacher's weights minimise the loss.

    ``seeds``: one seed or a list (the problems then stand side by side: features
    (S, M, d+1), targets (S, M, C)); every problem has the same class frequencies."""
    frequencies = as_float_array("frequencies", frequencies)
    if frequencies.ndim != 1 or frequencies.size < 2:
        raise ValueError(f"frequencies must be a 1-D array of at least 2 classes, got shape "
                         f"{frequencies.shape}")
    if (not np.all(np.isfinite(frequencies)) or np.any(frequencies <= 0)
            or abs(frequencies.sum() - 1.0) > 1e-9):
        raise ValueError(f"frequencies must be positive and sum to 1, got {shown(frequencies)}")
    n_contexts = check_int("n_contexts", n_contexts, minimum=1, maximum=1_000_000)
    dim = check_int("dim", dim, minimum=1, maximum=100_000)
    teacher_scale = check_real("teacher_scale", teacher_scale)
    if teacher_scale < 0:
        raise ValueError(f"teacher_scale must be >= 0, got {teacher_scale!r}")
    several = isinstance(seeds, (list, tuple, np.ndarray))
    seed_list = list(seeds) if several else [seeds]
    if not seed_list:
        raise ValueError("seeds must hold at least one seed")
    for seed in seed_list:
        check_int("seed", seed, minimum=0)
    n_classes = frequencies.size
    check_allocation("these contexts and targets",
                     8.0 * len(seed_list) * (3 * n_contexts * n_classes
                                             + 2 * n_contexts * (dim + 1) + dim * n_classes),
                     advice="use fewer seeds, contexts, dimensions or classes")
    features, targets, optimum = [], [], []
    for seed in seed_list:
        rng = np.random.default_rng(seed)
        x = np.hstack([rng.standard_normal((n_contexts, dim)), np.ones((n_contexts, 1))])
        a = rng.standard_normal((dim, n_classes)) * teacher_scale / np.sqrt(dim)
        bias = np.log(frequencies)
        # Iterative scaling: raise each class's bias by how far its frequency falls short.
        for _ in range(1000):
            marginal = softmax(x[:, :-1] @ a + bias).mean(axis=0)
            if np.max(np.abs(np.log(marginal / frequencies))) < 1e-12:
                break
            bias = bias + np.log(frequencies / marginal)
        else:
            raise ValueError("could not match the class frequencies; lower teacher_scale")
        w = np.vstack([a, bias[None, :]])
        features.append(x)
        targets.append(softmax(x @ w))
        optimum.append(w.ravel())
    if several:
        model = LinearSoftmax(np.stack(features), np.stack(targets))
        best = np.stack(optimum)
    else:
        model = LinearSoftmax(features[0], targets[0])
        best = optimum[0]
    return TeacherProblem(model, best, model.class_losses(best))


def reweight_classes(problem: TeacherProblem, class_weights) -> TeacherProblem:
    """The same problem trained on a class-weighted loss, ``sum_k a_k pi_k L_k`` with
    ``class_weights`` ``a_k`` (Kunstner et al. 2024 take ``a_k = 1 / pi_k``: every class
    then weighs the same). Its minimiser is the teacher with each class's bias raised by
    ``log a_k`` (at every context the weighted loss is lowest where ``p_k`` is
    proportional to ``a_k t_k``, and the bias is one of the model's features);
    ``optimum_class_losses`` are the *plain* per-class losses there, so excess losses on
    either objective are measured the same way."""
    if not isinstance(problem, TeacherProblem):
        raise TypeError(f"problem must be a TeacherProblem (make_teacher_problem(...)), got "
                        f"{shown(problem)}")
    model = problem.model
    weighted = LinearSoftmax(model.features, model.targets, model.weights,
                             class_weights=class_weights)
    optimum = problem.optimum.copy()
    table = optimum.reshape(optimum.shape[:-1] + (model.dim, model.n_classes))
    table[..., -1, :] += np.log(weighted.class_weights)       # the bias row: the last feature
    return TeacherProblem(weighted, optimum, weighted.class_losses(optimum))


@dataclass(frozen=True)
class _PairData:
    """What every next-word model trained on a text's (previous, next) pairs shares: the
    pair counts ``pair_counts[a, b]`` (how often b follows a), draws of pairs, and the
    best loss any bigram model can reach on them (the conditional entropy)."""

    pair_counts: np.ndarray
    _n: int = field(init=False, repr=False, compare=False)
    _pairs: np.ndarray = field(init=False, repr=False, compare=False)
    _cumulative: np.ndarray = field(init=False, repr=False, compare=False)
    _shares: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        counts = as_float_array("pair_counts", self.pair_counts)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] < 2:
            raise ValueError(f"pair_counts must be a square V x V matrix with V >= 2, got "
                             f"shape {counts.shape}")
        if (not np.all(np.isfinite(counts)) or np.any(counts < 0)
                or np.any(counts != np.rint(counts)) or counts.sum() == 0):
            raise ValueError("pair_counts must hold whole numbers >= 0, not all zero")
        counts = counts.copy()                  # the model's own: the caller's array may change
        counts.setflags(write=False)
        object.__setattr__(self, "pair_counts", counts)
        object.__setattr__(self, "_n", float(counts.sum()))
        # What a full-batch step reads, in each precision a run may use (float32 runs
        # would otherwise turn every step's V x V arrays back into float64).
        shares = {}
        for dtype in (np.float64, np.float32):
            shares[dtype] = (counts.astype(dtype), (counts.sum(axis=1)[:, None] / self._n)
                             .astype(dtype), (counts / self._n).astype(dtype))
        object.__setattr__(self, "_shares", shares)
        # The distinct pairs and their cumulative counts: drawing a pair with probability
        # N_ab / N is drawing a position of the text uniformly.
        previous, following = np.nonzero(counts)
        object.__setattr__(self, "_pairs", np.stack([previous, following], axis=1))
        object.__setattr__(self, "_cumulative", np.cumsum(counts[previous, following]))

    @property
    def vocab_size(self) -> int:
        return self.pair_counts.shape[0]

    @property
    def n_classes(self) -> int:
        return self.vocab_size

    def _in(self, dtype):
        """``(N_ab, N_a / N as a column, N_ab / N)`` in the precision of a run's params."""
        return self._shares[np.float32 if dtype == np.float32 else np.float64]

    @property
    def counts(self) -> np.ndarray:
        """Pairs per class (next word): the same as :attr:`target_counts`."""
        return self.target_counts

    def draw_batch(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """``batch_size`` (previous, next) pairs, each a uniformly drawn position of the
        text (with replacement), shape (B, 2)."""
        _check_generator(rng)
        batch_size = check_int("batch_size", batch_size, minimum=1, maximum=MAX_BATCH_SIZE)
        positions = rng.integers(0, self.n_pairs, size=batch_size)
        return self._pairs[np.searchsorted(self._cumulative, positions, side="right")]

    @property
    def n_pairs(self) -> int:
        return int(self._n)

    def check_samples(self, samples, name: str = "samples") -> np.ndarray:
        """A minibatch as :meth:`draw_batch` gives it: an integer array of shape (B, 2),
        B >= 1, of (previous, next) words, each in 0..V-1."""
        if not isinstance(samples, np.ndarray) or samples.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer array of (previous, next) word pairs, "
                            f"shape (B, 2) (draw_batch makes one), got {shown(samples)}")
        if samples.ndim != 2 or samples.shape[1] != 2 or samples.shape[0] == 0:
            raise ValueError(f"{name} must have shape (B, 2) with B >= 1, one (previous, next) "
                             f"pair per row, got shape {samples.shape}")
        if samples.min() < 0 or samples.max() >= self.vocab_size:
            raise ValueError(f"{name} must hold word indices from 0 to {self.vocab_size - 1}, "
                             f"got values from {samples.min()} to {samples.max()}")
        return samples

    @property
    def input_counts(self) -> np.ndarray:
        """How often each word is the previous word."""
        return self.pair_counts.sum(axis=1)

    @property
    def target_counts(self) -> np.ndarray:
        """How often each word is the next word (the class counts)."""
        return self.pair_counts.sum(axis=0)

    def _per_word(self, nll_sums, axis):
        """Mean loss per word from summed losses: per next word (axis -2 summed) or per
        previous word (axis -1); NaN for a word that never takes that place."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return nll_sums / (self.target_counts if axis == -2 else self.input_counts)

    # Each model defines _nll_sums(params, check): -log p(b | a) times the pair counts,
    # shape (..., V, V); the losses below are its sums.
    def class_losses(self, params, *, check: bool = True) -> np.ndarray:
        """Mean loss on the pairs whose next word is b, per b, shape (..., V); NaN for a
        word that is never a next word."""
        return self._per_word(self._nll_sums(params, check).sum(axis=-2), -2)

    def input_losses(self, params, *, check: bool = True) -> np.ndarray:
        """Mean loss on the pairs whose previous word is a, per a, shape (..., V)."""
        return self._per_word(self._nll_sums(params, check).sum(axis=-1), -1)

    def loss(self, params, *, check: bool = True) -> np.ndarray:
        """The mean cross-entropy over all pairs, shape (...)."""
        return self._nll_sums(params, check).sum(axis=(-2, -1)) / self._n

    def cell_losses(self, params, previous_groups: FrequencyGroups,
                    next_groups: FrequencyGroups) -> np.ndarray:
        """Mean loss over the pairs of each (previous-word group, next-word group) cell,
        shape (..., G_previous, G_next); NaN for a cell that holds no pair. It tells the
        rare next words apart from the rare previous words that may precede them."""
        for name, groups in (("previous_groups", previous_groups),
                             ("next_groups", next_groups)):
            if not isinstance(groups, FrequencyGroups) or groups.mass.size != self.vocab_size:
                raise TypeError(f"{name} must be the FrequencyGroups of this model's "
                                f"{self.vocab_size} words (frequency_groups(...)), got "
                                f"{shown(groups)}")
        sums = self._nll_sums(params, True)
        out = np.full(sums.shape[:-2] + (previous_groups.n_groups, next_groups.n_groups),
                      np.nan)
        for i, rows in enumerate(previous_groups.members):
            row_sums = sums[..., rows, :]
            row_counts = self.pair_counts[rows]
            for j, columns in enumerate(next_groups.members):
                n = row_counts[:, columns].sum()
                if n > 0:
                    out[..., i, j] = row_sums[..., columns].sum(axis=(-2, -1)) / n
        return out

    def optimum_class_losses(self) -> np.ndarray:
        """The best achievable per-class loss of any bigram model: each pair's
        ``-log(N_ab / N_a)`` (the conditional frequency, a table's minimiser, reached only
        in the limit where the logits of unseen pairs go to minus infinity), averaged per
        next word."""
        return self._per_word(-(self.pair_counts * self._conditional()).sum(axis=0), -2)

    def optimum_input_losses(self) -> np.ndarray:
        """The best achievable per-input loss: the entropy of the next word after a."""
        return self._per_word(-(self.pair_counts * self._conditional()).sum(axis=1), -1)

    def optimum_loss(self) -> float:
        """The conditional entropy H(next | previous) on these pairs, in nats."""
        return float(-(self.pair_counts * self._conditional()).sum() / self._n)

    def _conditional(self) -> np.ndarray:
        """log(N_ab / N_a), with 0 where N_ab = 0 (those pairs carry no weight)."""
        rows = self.input_counts[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.log(self.pair_counts / rows)
        return np.where(self.pair_counts > 0, out, 0.0)


@dataclass(frozen=True)
class BigramTable(_PairData):
    """Next-word prediction with a table: the logits after word ``a`` are row ``a`` of a
    V x V table W. Trained on a text's (previous, next) pairs; everything it needs is the
    pair-count matrix ``pair_counts[a, b]`` (how often b follows a).

    Row ``a`` is word a's *input* embedding (the table is an embedding with d = V and an
    identity unembedding); column ``b`` belongs to the *class* b."""

    @property
    def n_params(self) -> int:
        return self.vocab_size ** 2

    def _table(self, params):
        return params.reshape(params.shape[:-1] + (self.vocab_size, self.vocab_size))

    def _nll_sums(self, params, check: bool):
        """-log p(b | a) summed over the pairs, as a (…, V, V) array of counts x nll."""
        if check:
            params = _check_params(params, self.n_params)
        counts, _, _ = self._in(params.dtype)
        return -counts * log_softmax(self._table(params))

    def gradient(self, params, samples=None, *, check: bool = True) -> np.ndarray:
        """Gradient of the mean loss, as a flat vector per run, shape (..., V*V).

        ``samples`` None: over all pairs, ``(N_a / N) softmax(W_a) - N_ab / N``. Else a
        minibatch of pairs, an integer array of shape (B, 2) of (previous, next): rows of
        words absent from the batch get exactly zero."""
        if check:
            params = _check_params(params, self.n_params)
            if samples is not None:
                samples = self.check_samples(samples)
        table = self._table(params)
        if samples is None:
            _, row_share, pair_share = self._in(params.dtype)
            grad = row_share * softmax(table) - pair_share
            return grad.reshape(params.shape)
        rows, grad_rows = self.row_gradient(params, samples, check=False)
        grad = np.zeros(table.shape, dtype=params.dtype)
        grad[..., rows, :] = grad_rows
        return grad.reshape(params.shape)

    def row_gradient(self, params, samples, *, check: bool = True):
        """The minibatch gradient where it is not zero: ``(rows, values)``, the distinct
        previous words of the batch (sorted) and their rows of the gradient, shape
        (..., U, V). Every other row of the table gets exactly zero."""
        if check:
            params = _check_params(params, self.n_params)
            samples = self.check_samples(samples)
        table = self._table(params)
        previous, following = samples[:, 0], samples[:, 1]
        batch = previous.size
        # Group the batch by previous word: one softmax per distinct row, weighted by how
        # often that row occurs in the batch.
        rows, inverse, multiplicity = np.unique(previous, return_inverse=True,
                                                return_counts=True)
        probs = softmax(table[..., rows, :])                    # (..., U, V)
        target_counts = np.zeros((rows.size, self.vocab_size), dtype=params.dtype)
        np.add.at(target_counts, (inverse, following), 1.0)
        return rows, (multiplicity[:, None] * probs - target_counts) / batch


@dataclass(frozen=True)
class LogBilinearBigram(_PairData):
    """A next-word model whose class weights are shared by every context: the logits
    after word ``a`` are ``E[a] @ U + c``, with input embeddings ``E`` (V x d), output
    (class) weights ``U`` (d x V) and class biases ``c`` (V), a log-bilinear language
    model (Mnih & Hinton 2007) with one word of context. Column ``U[:, b]`` and ``c[b]``
    belong to the next word b and take part in every pair, so their gradient and
    curvature carry b's frequency as a next word, as a class's weights did in
    :class:`LinearSoftmax`; row ``E[a]`` takes part only in pairs that start with a, as
    a row of :class:`BigramTable` did.

    Parameters are one flat vector per run, ``[E.ravel(), U.ravel(), c]``, of length
    ``2 V d + V`` (:meth:`split` gives the three views). The loss is the mean
    cross-entropy over the training pairs; as for the table it is a function of the pair
    counts alone, so a full-batch step costs three (V x d x V) products, whatever the
    length of the text. The best loss any bigram model can reach (the table's,
    :meth:`optimum_loss`) is a floor this model, of rank d, need not reach."""

    dim: int = 32

    def __post_init__(self):
        super().__post_init__()
        dim = check_int("dim", self.dim, minimum=1, maximum=self.vocab_size)
        object.__setattr__(self, "dim", dim)

    @property
    def n_params(self) -> int:
        return 2 * self.vocab_size * self.dim + self.vocab_size

    def split(self, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views ``(E, U, c)`` of flat parameters (..., n_params): shapes (..., V, d),
        (..., d, V) and (..., V)."""
        size, dim = self.vocab_size, self.dim
        lead = params.shape[:-1]
        embedding = params[..., :size * dim].reshape(lead + (size, dim))
        output = params[..., size * dim:2 * size * dim].reshape(lead + (dim, size))
        return embedding, output, params[..., 2 * size * dim:]

    def initial_params(self, rng: np.random.Generator, scale: float = 0.1,
                       n_runs: int | None = None) -> np.ndarray:
        """Small random starting weights: ``E`` and ``U`` normal with standard deviation
        ``scale / d**0.25`` (so that a logit ``E[a] . U[:, b]`` has standard deviation
        ``scale**2``), ``c`` zero. All-zero weights would be a saddle point: with
        ``E = 0`` no gradient reaches ``U``, and the other way round. ``n_runs``: that
        many independent draws stacked, shape (n_runs, n_params)."""
        _check_generator(rng)
        scale = check_real("scale", scale)
        if not scale > 0:
            raise ValueError(f"scale must be > 0 (the size of the starting weights), got "
                             f"{scale!r}")
        lead = () if n_runs is None else (check_int("n_runs", n_runs, minimum=1,
                                                    maximum=100_000),)
        check_allocation("these starting weights", 8.0 * int(np.prod(lead)) * self.n_params,
                         advice="draw fewer runs at once")
        params = np.zeros(lead + (self.n_params,))
        weights = params[..., :2 * self.vocab_size * self.dim]
        weights[...] = rng.standard_normal(weights.shape) * (scale / self.dim ** 0.25)
        return params

    def logits(self, params, *, check: bool = True) -> np.ndarray:
        """Next-word logits after every word, shape (..., V, V): row a is ``E[a] U + c``."""
        if check:
            params = _check_params(params, self.n_params)
        embedding, output, bias = self.split(params)
        logits = embedding @ output
        logits += bias[..., None, :]
        return logits

    def _nll_sums(self, params, check: bool):
        """-log p(b | a) summed over the pairs, as a (..., V, V) array of counts x nll."""
        if check:
            params = _check_params(params, self.n_params)
        check_allocation("the logits of these runs",
                         3 * 8.0 * params.size / self.n_params * self.vocab_size ** 2,
                         advice="evaluate fewer runs at once")
        log_p = log_softmax(self.logits(params, check=False))
        log_p *= -self._in(params.dtype)[0]
        return log_p

    def gradient(self, params, samples=None, *, check: bool = True) -> np.ndarray:
        """Gradient of the mean loss, as a flat vector per run, shape (..., n_params).

        With ``G`` the gradient in the logits, ``(N_a / N) softmax(row a) - N_ab / N``
        over all pairs (or the batch's counts over B for a minibatch ``samples`` of
        (previous, next) pairs, shape (B, 2)): ``dE = G U^T``, ``dU = E^T G``,
        ``dc = sum_a G_a``. Rows of E for words absent from a batch get zero; U and c get a
        gradient from every pair."""
        if check:
            params = _check_params(params, self.n_params)
            if samples is not None:
                samples = self.check_samples(samples)
        embedding, output, bias = self.split(params)
        grad = np.empty(params.shape, dtype=params.dtype)
        grad_e, grad_u, grad_c = self.split(grad)
        if samples is None:
            check_allocation("the logits of these runs",
                             8.0 * params.size / self.n_params * self.vocab_size ** 2,
                             advice="train fewer runs at once")
            _, row_share, pair_share = self._in(params.dtype)
            logit_grad = _softmax_in_place(self.logits(params, check=False))
            logit_grad *= row_share
            logit_grad -= pair_share
            np.matmul(logit_grad, np.swapaxes(output, -1, -2), out=grad_e)
            np.matmul(np.swapaxes(embedding, -1, -2), logit_grad, out=grad_u)
            grad_c[...] = logit_grad.sum(axis=-2)
            return grad
        previous, following = samples[:, 0], samples[:, 1]
        rows, inverse, multiplicity = np.unique(previous, return_inverse=True,
                                                return_counts=True)
        row_embedding = embedding[..., rows, :]                             # (..., R, d)
        logit_grad = _softmax_in_place(row_embedding @ output + bias[..., None, :])
        logit_grad *= multiplicity[:, None]
        np.add.at(logit_grad, (..., inverse, following), -1.0)
        logit_grad /= previous.size
        grad_e[...] = 0.0
        grad_e[..., rows, :] = logit_grad @ np.swapaxes(output, -1, -2)
        np.matmul(np.swapaxes(row_embedding, -1, -2), logit_grad, out=grad_u)
        grad_c[...] = logit_grad.sum(axis=-2)
        return grad


def leaves_zero_gradient_alone(optimizer: Optimizer) -> bool:
    """True when a weight whose gradient is zero keeps its value and its state under
    ``optimizer`` (SGD, sign descent, AdaGrad, lazy Adam; not Adam or momentum, whose
    memory keeps moving it). Such an optimizer can update only the rows of a table that
    a batch touches and give exactly the same result. Checked by trying it."""
    optimizer = check_optimizer("optimizer", optimizer)
    if not optimizer.spec.elementwise or optimizer.schedule is not None:
        return False
    if any(isinstance(v, np.ndarray) for v in optimizer.hyperparams.values()):
        return False
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 3))
    state = optimizer.spec.state(5, *(np.abs(rng.standard_normal(w.shape)) + 0.1
                                      for _ in optimizer.spec.slots))
    new_w, new_state = optimizer.step(w, np.zeros_like(w), state, check=False)
    return bool(np.array_equal(new_w, w)
                and all(np.array_equal(a, b) for a, b in zip(new_state[1:], state[1:])))


# --- training -------------------------------------------------------------------------------

class ClassifierRun(NamedTuple):
    """What :func:`train_classifier` records. ``steps``: the steps at which the full
    training set was evaluated (0 = before training). ``class_losses``: (..., n_records,
    C) per class at those steps; ``loss`` (..., n_records) the total. ``diverged_at``:
    the step at which a run diverged (0: never). ``params``: the final parameters (NaN
    for diverged runs). ``monitored``: each monitor's values at those steps,
    (..., n_records, ...)."""

    steps: np.ndarray
    class_losses: np.ndarray
    loss: np.ndarray
    diverged_at: np.ndarray
    params: np.ndarray
    monitored: dict


MAX_EVALUATION_POINTS = 100_000    # far more than a figure can show


def evaluation_steps(n_steps: int, n_points: int) -> np.ndarray:
    """About ``n_points`` steps from 0 to ``n_steps`` (``n_points`` at most
    :data:`MAX_EVALUATION_POINTS`), spaced evenly on a log scale after the first few
    (early steps matter most to the eye on a log axis)."""
    n_steps = check_int("n_steps", n_steps, minimum=1)
    n_points = check_int("n_points", n_points, minimum=2, maximum=MAX_EVALUATION_POINTS)
    steps = np.unique(np.rint(np.geomspace(1, n_steps, n_points - 1)).astype(int))
    return np.concatenate([[0], steps])


def train_classifier(optimizer: Optimizer, model, n_steps: int, *, batch_size: int | None = None,
                     rng: np.random.Generator | None = None, record_steps=None, w0=None,
                     batches=None, monitors=None, dtype=np.float64) -> ClassifierRun:
    """Train ``model`` (a :class:`LinearSoftmax`, :class:`BigramTable` or
    :class:`LogBilinearBigram`) with ``optimizer`` for ``n_steps`` steps and record the
    per-class training loss.

    ``batch_size`` None: full batch (deterministic, ``rng`` must be None). Otherwise a
    minibatch drawn by ``rng`` each step (or taken from ``batches``, a list of one sample
    array per step, so that several optimizers can see the very same batches).
    ``w0``: starting parameters, shape (..., n_params); zeros (uniform predictions) by
    default. Array hyperparameters broadcast against w0's leading axes (a grid of
    learning rates in one call). A run whose weights blow up (not finite, or above
    :data:`helpers.model.DIVERGENCE_THRESHOLD`) is frozen at NaN and its step recorded;
    the others go on. ``monitors``: ``{name: function(params) -> array}`` evaluated at
    the same steps (e.g. a validation set's per-class losses).

    Optimizers that leave a zero-gradient weight alone (:func:`leaves_zero_gradient_alone`)
    step on a bigram table's batch rows only: the same numbers, faster.

    ``dtype``: ``np.float64`` (the default) or, for the models trained on pairs,
    ``np.float32``: weights, optimizer state and gradients in single precision, as
    language models are usually trained; two to three times faster on a large table, with
    losses that differ from double precision by about 1e-6 nats. Losses are recorded in
    double precision."""
    optimizer = check_optimizer("optimizer", optimizer)
    if not isinstance(model, (LinearSoftmax, _PairData)):
        raise TypeError(f"model must be a LinearSoftmax, BigramTable or LogBilinearBigram, got "
                        f"{type(model).__name__}")
    if dtype not in (np.float64, np.float32):
        raise ValueError(f"dtype must be np.float64 or np.float32, got {shown(dtype)}")
    if dtype == np.float32 and not isinstance(model, _PairData):
        raise ValueError(f"dtype np.float32 is for the models trained on pairs (BigramTable, "
                         f"LogBilinearBigram), not {type(model).__name__}")
    if monitors is not None and not isinstance(monitors, Mapping):
        raise TypeError(f"monitors must be a dict {{name: function(params)}}, got "
                        f"{shown(monitors)}")
    monitors = {} if monitors is None else dict(monitors)
    for name, function in monitors.items():
        if not callable(function):
            raise TypeError(f"monitors[{name!r}] must be a function of the parameters, got "
                            f"{shown(function)}")
    n_steps = check_int("n_steps", n_steps, minimum=1, maximum=10**7)
    if batches is not None:
        if not isinstance(batches, (list, tuple)):
            raise TypeError(f"batches must be a list of one batch per step (model.draw_batch"
                            f"(rng, B) for each), got {shown(batches)}")
        if len(batches) < n_steps:
            raise ValueError(f"batches holds {len(batches)} batches, fewer than n_steps = "
                             f"{n_steps}")
        _check_batches(model, batches[:n_steps])
    elif batch_size is None:
        if rng is not None:
            raise ValueError("a full-batch run draws nothing: leave rng out (or give "
                             "batch_size)")
    else:
        batch_size = check_int("batch_size", batch_size, minimum=1, maximum=10**6)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"with a batch_size, rng must be a numpy Generator "
                            f"(np.random.default_rng(seed)), got {shown(rng)}")
    if record_steps is None:
        record_steps = evaluation_steps(n_steps, 40)
    record_steps = check_whole_numbers("record_steps", record_steps, minimum=0, maximum=n_steps)
    if np.any(np.diff(record_steps) <= 0):
        raise ValueError(f"record_steps must be increasing steps within 0..{n_steps}, got "
                         f"{shown(record_steps)}")
    if w0 is None:
        w = np.zeros(model.n_params, dtype=dtype)
    else:
        # A copy (the loop may update it in place), in the run's precision.
        w = _check_params(w0, model.n_params).astype(dtype)
    # Broadcast w against the hyperparameters (a learning-rate grid of shape (R, 1)).
    for value in optimizer.hyperparams.values():
        if isinstance(value, np.ndarray):
            w = np.broadcast_to(w, np.broadcast_shapes(w.shape, value.shape)).copy()
    check_allocation("the recorded class losses",
                     8.0 * record_steps.size * (w.size // model.n_params) * model.n_classes,
                     advice="record fewer steps or train fewer runs at once")
    state = optimizer.init(w)
    if dtype != np.float64:              # the optimizer's memory in the run's precision too
        state = optimizer.spec.state(state.t, *(slot.astype(dtype) for slot in state[1:]))
    runs_shape = w.shape[:-1]
    alive = np.ones(runs_shape, dtype=bool)
    all_alive = True
    rows_only = hasattr(model, "row_gradient") and leaves_zero_gradient_alone(optimizer)
    diverged_at = np.zeros(runs_shape, dtype=np.int64)
    records = []
    monitored = {name: [] for name in monitors}
    record_set = set(int(s) for s in record_steps)

    def record(params):
        losses = model.class_losses(np.where(alive[..., None], params, 0.0), check=False)
        records.append(np.where(alive[..., None], losses, np.nan).astype(np.float64))
        for name, function in monitors.items():
            monitored[name].append(function(np.where(alive[..., None], params, 0.0)))

    if 0 in record_set:
        record(w)
    for step in range(1, n_steps + 1):
        if batches is not None:
            samples = batches[step - 1]
        elif batch_size is not None:
            samples = model.draw_batch(rng, batch_size)
        else:
            samples = None
        if rows_only and samples is not None and all_alive:
            # Only the batch's rows change: step on them alone (exactly the same result).
            new_w, state = _step_rows(optimizer, model, w, state, samples)
        else:
            # Dead runs hold NaN; they compute on zeros and stay frozen.
            grad = model.gradient(w if all_alive else np.where(alive[..., None], w, 0.0),
                                  samples, check=False)
            new_w, state = optimizer.step(w, grad, state, check=False)
        if new_w.dtype != dtype:           # array hyperparameters are float64
            new_w = new_w.astype(dtype)
        newly = newly_diverged(new_w, alive, all_alive)
        if newly is not None:
            new_w = mark_diverged(new_w, newly, alive, diverged_at, step)
            all_alive = False
        elif not all_alive:
            new_w = np.where(alive[..., None], new_w, np.nan)
        w = new_w
        if step in record_set:
            record(w)
    class_losses = np.stack(records, axis=-2)                 # (..., n_records, C)
    mass = model.counts / model.counts.sum(axis=-1, keepdims=True)
    if mass.ndim == 2:                                         # one row per problem (seed)
        mass = mass.reshape(mass.shape[:1] + (1,) * (class_losses.ndim - 2) + mass.shape[1:])
    # Classes that never occur (a word never seen as a next word) weigh nothing.
    loss = (np.where(mass > 0, class_losses, 0.0) * mass).sum(axis=-1)
    monitored = {name: np.stack(values, axis=len(runs_shape))
                 for name, values in monitored.items()}
    return ClassifierRun(record_steps, class_losses, loss, diverged_at, w, monitored)


def _check_batches(model, batches) -> None:
    """Every batch a run will use, checked before the first step: the model's own check
    for pair models (all batches at once: one pass), and each LinearSoftmax batch's
    counts."""
    if isinstance(model, LinearSoftmax):
        for step, batch in enumerate(batches, start=1):
            model.check_samples(batch, name=f"batches[{step - 1}] (step {step})")
        return
    for step, batch in enumerate(batches, start=1):
        if not (isinstance(batch, np.ndarray) and batch.dtype.kind in "iu" and batch.ndim == 2
                and batch.shape[1] == 2 and batch.shape[0] > 0):
            model.check_samples(batch, name=f"batches[{step - 1}] (step {step})")
    every = np.concatenate(batches)
    if every.min() < 0 or every.max() >= model.vocab_size:
        step = next(k for k, b in enumerate(batches) if b.min() < 0 or b.max() >= model.vocab_size)
        model.check_samples(batches[step], name=f"batches[{step}] (step {step + 1})")


def _step_rows(optimizer, model, w, state, samples):
    """One step that touches only the rows of the table the batch has gradients for
    (for optimizers that leave a zero-gradient weight and its state alone). Updates ``w``
    and the state's arrays in place and returns them."""
    rows, grad_rows = model.row_gradient(w, samples, check=False)
    size = model.vocab_size
    table_shape = w.shape[:-1] + (size, size)
    # In place: the training loop owns w and the state (it copied w0 and made the state).
    new_w = w
    table = new_w.reshape(table_shape)
    slots = list(state[1:])
    slot_tables = [slot.reshape(table_shape) for slot in slots]
    sub_state = optimizer.spec.state(state.t, *(t[..., rows, :] for t in slot_tables))
    new_rows, new_sub = optimizer.step(table[..., rows, :], grad_rows, sub_state, check=False)
    table[..., rows, :] = new_rows
    for target, values in zip(slot_tables, new_sub[1:]):
        target[..., rows, :] = values
    return new_w, optimizer.spec.state(new_sub.t, *slots)


def tune_learning_rate(losses, learning_rates) -> tuple[float, int]:
    """The learning rate with the lowest loss (NaN, i.e. diverged, counts as worst), and
    its index. ``losses``: one value per learning rate (e.g. a median over seeds)."""
    losses = as_float_array("losses", losses)
    learning_rates = np.atleast_1d(check_positive("learning_rates", learning_rates))
    if np.any(losses == -np.inf):
        raise ValueError(f"losses must not be minus infinity (a loss is >= 0; NaN marks a "
                         f"diverged run), got {shown(losses)}")
    if losses.shape != learning_rates.shape or losses.ndim != 1:
        raise ValueError(f"losses and learning_rates must be 1-D of equal length, got "
                         f"{losses.shape} and {learning_rates.shape}")
    if np.all(np.isnan(losses)):
        raise ValueError("every learning rate diverged; try smaller ones")
    best = int(np.nanargmin(losses))
    return float(learning_rates[best]), best


__all__ = ["BigramTable", "ClassifierRun", "FrequencyGroups", "LinearSoftmax",
           "LogBilinearBigram", "TeacherProblem",
           "evaluation_steps", "frequency_groups", "leaves_zero_gradient_alone", "log_softmax",
           "make_teacher_problem", "reweight_classes", "softmax", "train_classifier",
           "tune_learning_rate", "zipf_frequencies"]
