"""Benchmark: the one-run-at-a-time loop against the many-run engine (`make benchmark-engine`).

Prints, side by side: the tutorial-style loop (one run, its own legacy stream, a Python
loop over steps) and `helpers.engine.sweep` for the same number of runs of the six-token
world with Adam; runs x steps per second for each and the ratio; how far the engine is
from the floor set by random-number generation alone; and the largest difference
between the engine and a plain loop fed the same batches."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from helpers import REFERENCE, REFERENCE_WORLD, adam
from helpers.engine import STEPS_PER_DRAW, _SeedDraws, seed_batches, sweep

WORLD = REFERENCE_WORLD


def tutorial_loop(seed: int, n_steps: int, lr: float = REFERENCE.lr) -> np.ndarray:
    """One Adam run as the tutorial writes it: a legacy stream, a batch per step."""
    rng = np.random.RandomState(seed)
    p, true_w = WORLD.frequencies, WORLD.true_weights
    b1, b2, eps = REFERENCE.beta1, REFERENCE.beta2, REFERENCE.eps
    w, m, v = np.zeros(6), np.zeros(6), np.zeros(6)
    for t in range(1, n_steps + 1):
        X = (rng.rand(WORLD.batch_size, 6) < p).astype(float)
        y = X @ true_w + WORLD.noise_std * rng.randn(WORLD.batch_size)
        g = X.T @ (X @ w - y) / WORLD.batch_size
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w


def loop_on_engine_batches(seed: int, n_steps: int) -> np.ndarray:
    """The same plain loop, fed the batches the engine gives this seed."""
    opt = adam(REFERENCE.lr)
    w, state = np.zeros(6), opt.init(np.zeros(6))
    for X, y in seed_batches(WORLD, seed, n_steps):
        w, state = opt.step(w, X.T @ (X @ w - y) / WORLD.batch_size, state)
    return w


def rng_floor(n_runs: int, n_steps: int, threads: int) -> float:
    """Seconds to draw every random number the engine uses, and nothing else."""
    import threading
    halves = np.array_split(np.arange(n_runs), threads)

    def draw(seeds):
        draws = _SeedDraws(WORLD, [int(s) for s in seeds])
        for _ in range(-(-n_steps // STEPS_PER_DRAW)):
            draws.next_draw()

    started = time.perf_counter()
    workers = [threading.Thread(target=draw, args=(h,)) for h in halves if h.size]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--loop-runs", type=int, default=100,
                        help="runs to time the loop on (its time per run is extrapolated)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="engine timings (best shown)")
    args = parser.parse_args(argv)
    work = args.runs * args.steps

    started = time.perf_counter()
    for seed in range(args.loop_runs):
        tutorial_loop(seed, args.steps)
    loop_per_run = (time.perf_counter() - started) / args.loop_runs
    loop_total = loop_per_run * args.runs

    # The first sweep of a process loads the compiled kernel (compiles it, if no cache
    # exists yet); timed on its own so that the repeats below measure the steady state.
    started = time.perf_counter()
    sweep({"adam": (adam, {"lr": [REFERENCE.lr]})}, WORLD, [0], 1)
    warm_up = time.perf_counter() - started

    engine_times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = sweep({"adam": (adam, {"lr": [REFERENCE.lr]})}, WORLD, range(args.runs),
                       args.steps, record_every=args.steps, threads=args.threads)
        engine_times.append(time.perf_counter() - started)
    engine = min(engine_times)
    floor = min(rng_floor(args.runs, args.steps, args.threads) for _ in range(args.repeat))

    checked = sorted({0, args.runs // 2, args.runs - 1})
    difference = max(np.abs(loop_on_engine_batches(seed, args.steps)
                            - result["adam"].final_weights[seed, 0]).max() for seed in checked)

    print(f"Adam, {args.runs} runs x {args.steps} steps of the six-token world, "
          f"{args.threads} thread(s)")
    print(f"{'':34} {'seconds':>9} {'runs x steps / s':>17}")
    extrapolated = "" if args.loop_runs == args.runs else f"  (timed on {args.loop_runs} runs)"
    print(f"{'one run at a time (loop)':34} {loop_total:9.2f} {work / loop_total:17,.0f}{extrapolated}")
    print(f"{'engine (helpers.engine.sweep)':34} {engine:9.2f} {work / engine:17,.0f}"
          f"  (best of {args.repeat}: {', '.join(f'{t:.2f}' for t in engine_times)})")
    print(f"{'first call of a process (once)':34} {warm_up:9.2f}  (loads or compiles the kernel)")
    print(f"{'random numbers alone (the floor)':34} {floor:9.2f} {work / floor:17,.0f}")
    print(f"engine vs loop: {loop_total / engine:.1f}x faster; "
          f"engine / floor: {engine / floor:.2f}x")
    print(f"largest |engine - loop| on the same batches (seeds {checked}): {difference:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
