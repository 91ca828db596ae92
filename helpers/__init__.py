"""Helpers for the series "SGD's frequency bias, and how Adam fixes it".

The notebooks import everything they need from here::

    from helpers import REFERENCE_WORLD, adam, sgd, train, make_rng

Where things live: ``optimizers`` (the registry: each optimizer's state, update rule
and factory, once), ``model`` (the gradient, "got a gradient", divergence), ``world``
(the six-token world), ``streams`` (what a seed means), ``training`` (one run, or a
stack of runs), ``engine`` (many runs at once), ``kernels`` (the compiled inner loops
and their NumPy path), ``stats`` and ``metrics`` (what is measured), ``plotting``,
``colours``, ``tables``, ``explorer`` (notebook 10), ``softmax`` and ``corpus`` (the
many-class models and the Shakespeare corpus of notebooks 11 and 12), ``grading`` (the
exercises).
"""

from . import blas_threads  # noqa: F401  (first: before anything imports NumPy)
from .colours import TOKEN_COLOURS, distinguishability
from .engine import ArmResult, SweepResult, sweep
from .metrics import (effective_lr, expected_sgd_weight, final_error, grad_nonzero_fraction,
                      loglog_slope, loglog_slope_interval, steps_to_reach)
from .model import (DIVERGENCE_THRESHOLD, GRAD_ZERO_TOL, expected_gradient, got_gradient,
                    minibatch_gradient)
from .corpus import bigram_counts, read_plays
from .notebook_setup import compare_prediction, progress, setup_notebook
from .optimizers import (DISPLAY_NAMES, REGISTRY, Optimizer, adagrad, adam, lazy_adam, momentum,
                         normalized_gd, rmsprop, scheduled, sgd, sign_descent, signum)
from .softmax import (BigramTable, LogBilinearBigram, frequency_groups, make_teacher_problem,
                      reweight_classes, train_classifier, zipf_frequencies)
from .stats import Band, difference_of_means, paired_difference, seed_band, t_quantile
from .streams import make_rng, minibatch_rng, sweep_batches
from .tables import Table, make_table
from .training import DivergenceError, ReferenceRuns, TrainResult, reference_runs, train
from .world import FREQUENCIES, REFERENCE, REFERENCE_WORLD, TOKENS, World, make_world

__all__ = [
    "DISPLAY_NAMES", "DIVERGENCE_THRESHOLD", "FREQUENCIES", "GRAD_ZERO_TOL", "REFERENCE",
    "REFERENCE_WORLD", "REGISTRY", "TOKENS", "TOKEN_COLOURS",
    "ArmResult", "Band", "BigramTable", "DivergenceError", "LogBilinearBigram", "Optimizer",
    "ReferenceRuns",
    "SweepResult", "Table", "TrainResult", "World",
    "adagrad", "adam", "bigram_counts", "compare_prediction", "distinguishability",
    "effective_lr", "expected_gradient", "expected_sgd_weight", "final_error",
    "frequency_groups", "got_gradient", "grad_nonzero_fraction", "lazy_adam", "loglog_slope",
    "loglog_slope_interval", "make_rng", "make_table", "make_teacher_problem", "make_world",
    "minibatch_gradient", "minibatch_rng", "momentum", "normalized_gd", "difference_of_means",
    "paired_difference",
    "progress", "read_plays", "reference_runs", "reweight_classes", "rmsprop", "scheduled",
    "seed_band",
    "setup_notebook", "sgd", "sign_descent", "signum", "steps_to_reach", "sweep",
    "sweep_batches", "t_quantile", "train", "train_classifier", "zipf_frequencies",
]
