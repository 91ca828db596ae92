"""Helpers for the series "SGD's frequency bias, and how Adam fixes it".

The notebooks import everything they need from here::

    from helpers import REFERENCE_WORLD, adam, sgd, train, make_rng
"""

from .colours import TOKEN_COLOURS, distinguishability
from .engine import ArmResult, SweepResult, seed_batches, sweep
from .metrics import (effective_lr, expected_sgd_weight, final_error, grad_nonzero_fraction,
                      loglog_slope, loglog_slope_interval, steps_to_reach)
from .optimizers import (Optimizer, adagrad, adam, momentum, rmsprop, scheduled,
                         sgd, sign_descent)
from .notebook_setup import setup_notebook
from .tables import Table, make_table
from .training import (DivergenceError, ReferenceRuns, TrainResult, minibatch_gradient,
                       reference_runs, train)
from .world import (FREQUENCIES, REFERENCE, REFERENCE_WORLD, TOKENS, World, make_rng,
                    make_world)

__all__ = [
    "ArmResult", "SweepResult", "seed_batches", "sweep",
    "FREQUENCIES", "REFERENCE", "REFERENCE_WORLD", "TOKENS", "TOKEN_COLOURS",
    "DivergenceError", "Optimizer", "ReferenceRuns", "Table", "TrainResult", "World",
    "adagrad", "adam", "distinguishability", "effective_lr", "expected_sgd_weight",
    "final_error", "grad_nonzero_fraction", "loglog_slope", "loglog_slope_interval", "make_rng", "make_table",
    "make_world", "minibatch_gradient", "momentum", "reference_runs", "rmsprop", "scheduled",
    "setup_notebook", "sgd", "sign_descent", "steps_to_reach", "train",
]
