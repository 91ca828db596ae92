"""Benchmark: execute each notebook in a fresh kernel and print its wall time and the
peak memory (resident set size) of its kernel process (`make benchmark`).

Nothing is written back; the notebooks on disk are untouched. With --cells, also list
the slowest cells of each notebook."""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from notebook_kernel import kernel_manager

# Appended to a copy of the notebook: the kernel reports its own peak RSS (Linux: KiB).
PEAK_MEMORY_CELL = (
    "import resource as _r, sys as _s\n"
    "_kib = _r.getrusage(_r.RUSAGE_SELF).ru_maxrss\n"
    "print('PEAK_RSS_MB', _kib / 1024 if _s.platform != 'darwin' else _kib / 2**20)"
)


def _cell_seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return float("nan")
    return (end - start).total_seconds()


def measure(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    probe = copy.deepcopy(nb)
    probe.cells.append(nbformat.v4.new_code_cell(PEAK_MEMORY_CELL))
    started = time.perf_counter()
    with kernel_manager() as manager:
        NotebookClient(probe, timeout=600, km=manager, record_timing=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    wall = time.perf_counter() - started
    printed = "".join(o.get("text", "") for o in probe.cells[-1].outputs)
    peak_mb = float(printed.split("PEAK_RSS_MB")[1])
    cells = [(_cell_seconds(c), i, "".join(c.source).splitlines()[0][:60] if c.source else "")
             for i, c in enumerate(probe.cells[:-1]) if c.cell_type == "code"]
    return {"wall": wall, "peak_mb": peak_mb, "cells": cells}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--cells", type=int, default=0, metavar="N",
                        help="also list the N slowest cells of each notebook")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (median shown)")
    args = parser.parse_args(argv)

    print(f"{'notebook':<42} {'wall (s)':>9} {'peak RSS (MB)':>14}")
    total = 0.0
    for path in args.notebooks:
        results = [measure(path) for _ in range(args.repeat)]
        wall = statistics.median(r["wall"] for r in results)
        peak = max(r["peak_mb"] for r in results)
        total += wall
        print(f"{path.name:<42} {wall:>9.2f} {peak:>14.0f}", flush=True)
        for seconds, index, first_line in sorted(results[-1]["cells"], reverse=True)[:args.cells]:
            print(f"    cell {index:>2}: {seconds:6.2f} s  {first_line}")
    print(f"{'total':<42} {total:>9.2f}")
    print("wall = kernel start + every cell, in a fresh kernel; peak RSS of the kernel process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
