"""Benchmark: the one-run-at-a-time loop against the many-run engine (`make benchmark-engine`).

Prints, side by side: the tutorial-style loop (one run, its own legacy stream, a Python
loop over steps) and `helpers.engine.sweep` for the same number of runs of the six-token
world with Adam; runs x steps per second for each and the ratio; how far the engine is
from the floor set by random-number generation alone; and the largest difference
between the engine and a plain loop fed the same batches."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from helpers import REFERENCE, REFERENCE_WORLD, adam, kernels
from helpers.engine import sweep
from helpers.streams import STEPS_PER_DRAW, SweepDraws, sweep_batches

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
    for X, y in sweep_batches(WORLD, seed, n_steps):
        w, state = opt.step(w, X.T @ (X @ w - y) / WORLD.batch_size, state)
    return w


def rng_floor(n_runs: int, n_steps: int, threads: int) -> float:
    """Seconds to draw every random number the engine uses, and nothing else."""
    import threading
    halves = np.array_split(np.arange(n_runs), threads)

    def draw(seeds):
        draws = SweepDraws(WORLD.n_tokens, WORLD.batch_size, [int(s) for s in seeds])
        for _ in range(-(-n_steps // STEPS_PER_DRAW)):
            draws.next_draw()

    started = time.perf_counter()
    workers = [threading.Thread(target=draw, args=(h,)) for h in halves if h.size]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def time_engine(runs: int, steps: int, threads: int, repeat: int):
    """(first call, best time, all times, result) of the engine on the path in use."""
    # The first sweep of a process loads the compiled kernel (compiles it, if no cache
    # exists yet); timed on its own so that the repeats below measure the steady state.
    started = time.perf_counter()
    sweep({"adam": (adam, {"lr": [REFERENCE.lr]})}, WORLD, [0], 1)
    warm_up = time.perf_counter() - started
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = sweep({"adam": (adam, {"lr": [REFERENCE.lr]})}, WORLD, range(runs), steps,
                       record_every=steps, threads=threads)
        times.append(time.perf_counter() - started)
    return warm_up, min(times), times, result


def numpy_path_seconds(args) -> list[float]:
    """The engine's times on the NumPy path, measured in a process with Numba switched
    off (as on a machine without it)."""
    code = ("import sys, json; sys.path.insert(0, 'scripts'); import benchmark_engine as b; "
            f"w, best, times, _ = b.time_engine({args.runs}, {args.steps}, {args.threads}, "
            f"{args.repeat}); print(json.dumps(times))")
    env = {**os.environ, "HELPERS_NO_NUMBA": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


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

    warm_up, engine, engine_times, result = time_engine(args.runs, args.steps, args.threads,
                                                        args.repeat)
    numpy_times = numpy_path_seconds(args)
    numpy_engine = min(numpy_times)
    floor = min(rng_floor(args.runs, args.steps, args.threads) for _ in range(args.repeat))

    checked = sorted({0, args.runs // 2, args.runs - 1})
    difference = max(np.abs(loop_on_engine_batches(seed, args.steps)
                            - result["adam"].final_weights[seed, 0]).max() for seed in checked)

    print(f"Adam, {args.runs} runs x {args.steps} steps of the six-token world, "
          f"{args.threads} thread(s); the engine's path here: {kernels.status()}")
    print(f"{'':38} {'seconds':>9} {'runs x steps / s':>17}")
    extrapolated = "" if args.loop_runs == args.runs else f"  (timed on {args.loop_runs} runs)"
    print(f"{'one run at a time (loop)':38} {loop_total:9.2f} {work / loop_total:17,.0f}"
          f"{extrapolated}")
    print(f"{'engine, compiled path (Numba)':38} {engine:9.2f} {work / engine:17,.0f}"
          f"  (best of {args.repeat}: {', '.join(f'{t:.2f}' for t in engine_times)})")
    print(f"{'engine, NumPy path (no Numba)':38} {numpy_engine:9.2f} {work / numpy_engine:17,.0f}"
          f"  (best of {args.repeat}: {', '.join(f'{t:.2f}' for t in numpy_times)})")
    print(f"{'first call of a process (once)':38} {warm_up:9.2f}  (loads or compiles the kernel)")
    print(f"{'random numbers alone (the floor)':38} {floor:9.2f} {work / floor:17,.0f}")
    print(f"compiled engine vs loop: {loop_total / engine:.1f}x faster; "
          f"compiled / floor: {engine / floor:.2f}x; NumPy / floor: {numpy_engine / floor:.2f}x")
    target = 3.0 * args.runs * args.steps / 3e6
    print(f"NumPy path: {numpy_engine:.2f} s -> target (about {target:.1f} s for this size): "
          f"{'met' if numpy_engine <= target * 1.1 else 'MISSED'}")
    print(f"largest |engine - loop| on the same batches (seeds {checked}): {difference:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
