"""The runs behind notebook 13: a next-word model with shared class weights, trained on the
Shakespeare corpus with full batches, tuned and then repeated over 40 starting draws.

A full-batch step of the log-bilinear model (V = 1,000 words, d = 32) costs about 14 ms
here, so tuning three optimizers on grids of five rates and training them from 40 starting
draws (about 135 runs of 300 steps) takes minutes: more than a notebook may spend. This
script does that work once and writes ``data/next-word-runs.json``; notebook 13 reads it,
checks that each chosen rate is the best of its grid and not at the grid's edge, and
re-runs the first starting draw (seed 42) itself, asserting that its numbers equal the
file's. Change the code or the set-up and that assert fails until this script is rerun:

    python scripts/next_word_runs.py            # about 5 minutes on 2 cores

What it records, per optimizer and starting draw: the training loss of each next-word
frequency group at the record steps (the paper's signature view), and at the last step
the loss of each (previous-word group, next-word group) cell, which separates the rare
next words from the rare previous words they might hide behind.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:            # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from helpers import REGISTRY, read_plays  # noqa: E402
from helpers.corpus import bigram_counts  # noqa: E402
from helpers.softmax import (LogBilinearBigram, evaluation_steps, frequency_groups,  # noqa: E402
                             train_classifier, tune_learning_rate)

OUTPUT = ROOT / "data" / "next-word-runs.json"

SETUP = {
    "vocab_size": 1000,         # the 999 most frequent training words and <unk>
    "dim": 32,                  # embedding size d
    "init_scale": 0.1,          # E and U drawn with sd 0.1 / d**0.25; c = 0
    "n_steps": 300,
    "n_records": 20,            # record steps: helpers.softmax.evaluation_steps(300, 20)
    "n_groups": 5,              # frequency groups of equal data share, as in notebook 11
    "tuning_seed": 100,         # the starting draw the rates are tuned on ...
    "seeds": list(range(42, 82)),   # ... and the 40 draws they are then run on
    # Five rates a factor sqrt(10) apart, placed where each optimizer's good rates lie.
    "grids": {"sgd": [1.0, 3.1623, 10.0, 31.623, 100.0],
              "adam": [0.01, 0.031623, 0.1, 0.31623, 1.0],
              "sign_descent": [0.001, 0.0031623, 0.01, 0.031623, 0.1]},
}
# A rate is scored by its mean training loss over the second half of the run: a rate at
# the edge of stability, whose loss jumps about, scores badly even if one jump ends low.


def build(setup=SETUP):
    """The model, its record steps and its next-word and previous-word groups."""
    corpus = bigram_counts(read_plays(), setup["vocab_size"])
    model = LogBilinearBigram(corpus.train, dim=setup["dim"])
    record = evaluation_steps(setup["n_steps"], setup["n_records"])
    next_groups = frequency_groups(model.target_counts, setup["n_groups"])
    previous_groups = frequency_groups(model.input_counts, setup["n_groups"])
    return model, record, next_groups, previous_groups


def start(model, seed, setup=SETUP):
    return model.initial_params(np.random.default_rng(seed), scale=setup["init_scale"])


def run(name, lr, seed, setup=SETUP):
    """One full-batch run: the groups' losses at the record steps, and the cells at the end."""
    model, record, next_groups, previous_groups = build(setup)
    result = train_classifier(REGISTRY[name].factory(lr=lr), model, setup["n_steps"],
                              w0=start(model, seed, setup), record_steps=record)
    if result.diverged_at != 0:
        return {"diverged_at": int(result.diverged_at)}
    return {"diverged_at": 0,
            "loss": result.loss.tolist(),
            "group_loss": next_groups.mean_over_groups(result.class_losses).tolist(),
            "cell_loss": model.cell_losses(result.params, previous_groups,
                                           next_groups).tolist()}


def late_mean(outcome, record, n_steps):
    if outcome["diverged_at"]:
        return float("nan")
    return float(np.mean(np.asarray(outcome["loss"])[record >= n_steps // 2]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)
    began = time.time()
    _, record, _, _ = build()
    with ProcessPoolExecutor(args.workers) as pool:
        tuning_jobs = {(name, lr): pool.submit(run, name, lr, SETUP["tuning_seed"])
                       for name, grid in SETUP["grids"].items() for lr in grid}
        tuning = {}
        for name, grid in SETUP["grids"].items():
            scores = [late_mean(tuning_jobs[name, lr].result(), record, SETUP["n_steps"])
                      for lr in grid]
            chosen, k = tune_learning_rate(scores, grid)
            if not 0 < k < len(grid) - 1:
                raise SystemExit(f"{name}: the best rate {chosen} is at the grid's edge; "
                                 f"move the grid")
            tuning[name] = {"grid": grid, "late_mean_loss": scores, "chosen": chosen}
            print(f"{name}: tuned lr {chosen:g} ({time.time() - began:.0f} s)", flush=True)
        run_jobs = {(name, seed): pool.submit(run, name, tuning[name]["chosen"], seed)
                    for name in SETUP["grids"] for seed in SETUP["seeds"]}
        runs = {}
        for name in SETUP["grids"]:
            outcomes = [run_jobs[name, seed].result() for seed in SETUP["seeds"]]
            diverged = [s for s, o in zip(SETUP["seeds"], outcomes) if o["diverged_at"]]
            if diverged:
                raise SystemExit(f"{name} diverged from the starting draws {diverged}")
            runs[name] = {key: [o[key] for o in outcomes]
                          for key in ("loss", "group_loss", "cell_loss")}
    result = {"about": "Written by scripts/next_word_runs.py; read by notebook 13.",
              "setup": SETUP, "record_steps": record.tolist(), "tuning": tuning,
              "runs": runs}
    OUTPUT.write_text(json.dumps(result) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} in {time.time() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
