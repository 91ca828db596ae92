"""Re-execute notebooks in place, top to bottom in a fresh kernel, so that the committed
outputs are exactly what the code produces (`make notebooks`).

Deterministic by construction: every notebook seeds its own random streams, execution
counts run 1..N, widget state and machine-specific metadata are dropped. Running this
twice leaves `git status` clean."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from notebook_kernel import kernel_manager

KERNEL = "python3"


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep only metadata that is the same on every machine."""
    nb.metadata.pop("widgets", None)             # about 16 KB of widget state per run
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                 "language": "python", "name": KERNEL}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)     # timestamps
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("execution", None)
                # A widget view names a model by a random id, and its state is dropped
                # above: keep only the text that stands in for it where no kernel runs.
                output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    return nb


def execute(path: Path, timeout: int = 300) -> float:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    with kernel_manager(KERNEL) as manager:
        # coalesce_streams: one print can reach the client as several stream messages,
        # depending on when the kernel flushes; merged, the stored output is the same
        # on every run (nbval merges them too before comparing).
        NotebookClient(nb, timeout=timeout, km=manager, coalesce_streams=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - started
    nbformat.write(normalise(nb), path)
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: executed in {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
