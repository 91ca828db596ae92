"""The first cell of every notebook: check the environment, set the style, name the seed."""

from __future__ import annotations

import sys

MINIMUM_VERSIONS = {"python": (3, 11), "numpy": (2, 0), "matplotlib": (3, 8)}
# Characters of printed text that fit JupyterLab's notebook column without wrapping.
PRINT_WIDTH = 100


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


def check_environment() -> dict[str, str]:
    """Versions of Python, NumPy and matplotlib; a RuntimeError that says how to fix
    the environment if one is too old."""
    import matplotlib
    import numpy

    found = {"python": ".".join(map(str, sys.version_info[:3])),
             "numpy": numpy.__version__, "matplotlib": matplotlib.__version__}
    too_old = [f"{name} {found[name]} (needs {'.'.join(map(str, minimum))} or newer)"
               for name, minimum in MINIMUM_VERSIONS.items()
               if _major_minor(found[name]) < minimum]
    if too_old:
        raise RuntimeError(
            "This series needs a newer environment: " + "; ".join(too_old) + ". "
            "From the repository's top folder run `make lab` (it builds its own virtual "
            "environment), or `conda env create -f environment.yml`."
        )
    return found


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed memory for reuse instead of handing it back to
    the operating system at once. NumPy's temporaries of a few MB (a softmax over a
    vocabulary, one Adam step on a table) are otherwise unmapped after each use and
    faulted in again, page by page, on the next: on virtual machines that can cost more
    than the arithmetic (one Adam step on 11 runs of a 256 x 256 table took 12.9 ms
    without it and 7.5 ms with it on the 2-core machine the series is built on). Peak
    memory is unchanged. Does nothing, and returns False, where glibc is not the C
    library (macOS, Windows, musl, Pyodide)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3          # from glibc's <malloc.h>
    limit = 1 << 30
    return bool(mallopt(m_mmap_threshold, limit)) and bool(mallopt(m_trim_threshold, limit))


def setup_notebook(seed: int | None = None) -> int:
    """Check versions, select the inline backend, apply the series' style; return the
    notebook's seed (the reference seed 42 unless told otherwise)."""
    from .plotting import use_series_style
    from .world import REFERENCE

    found = check_environment()
    try:   # inside IPython, draw figures inline even when MPLBACKEND says otherwise
        from IPython import get_ipython
        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
    except ImportError:
        pass
    use_series_style()
    keep_freed_memory()
    seed = REFERENCE.seed if seed is None else seed
    print(f"Environment OK: Python {found['python']}, numpy {found['numpy']}, "
          f"matplotlib {found['matplotlib']}. Seed: {seed}.")
    return seed


def compare_prediction(prediction, measured, what: str) -> None:
    """Prints how a reader's written guess compares with the measurement.

    The notebooks ask for a guess *before* the cell that settles it: a cell holds
    ``prediction = None`` for the reader to fill in; this call, after the measurement,
    sets the two side by side (or says how to take part, while no guess is written)."""
    import textwrap

    from .validation import check_real, check_text
    measured = check_real("measured", measured)
    check_text("what", what)
    if prediction is None:
        text = (f"{what}: measured {measured:.4g}. (Write your guess into `prediction` in the "
                f"cell above before running this one, to see how close you were.)")
    else:
        guess = check_real("prediction", prediction)
        text = (f"{what}: you predicted {guess:.4g}, the measurement is {measured:.4g} "
                f"(off by {abs(guess - measured):.3g}).")
    # lines that fit the notebook column (a wrapped line breaks mid-number)
    text = textwrap.fill(text, width=PRINT_WIDTH, break_long_words=False,
                         break_on_hyphens=False)
    print(text)


def progress(items, what: str, labels=None):
    """Yield ``items`` one by one, printing ``what`` and then each item's label (``labels``
    maps an item to its text; the item itself by default) as its turn comes, so that a
    cell that runs for seconds shows how far it is in JupyterLab. The text is the same
    on every run (no times, no bars), so strict nbval compares it like any other output."""
    from .validation import UnknownKeyError, check_text, shown
    check_text("what", what)
    if isinstance(items, (str, bytes)):
        raise TypeError(f"items must be a list of things to go through, got the single string "
                        f"{items!r}")
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"items must be a list (or other iterable) of things to go through, got "
                        f"{shown(items)}") from None
    if labels is not None:          # every label looked up before the first item's work
        for item in items:
            try:
                labels[item]
            except (KeyError, IndexError, TypeError):
                raise UnknownKeyError(f"labels has no label for the item {item!r}; give one "
                                      f"for every item, or leave labels out") from None
    return _progress(items, what, labels)


def _progress(items: list, what: str, labels):
    line = f"{what}:"
    print(line, end="", flush=True)

    def say(text):
        nonlocal line
        if len(line) + len(text) > PRINT_WIDTH:          # go on on a new line, never wrap
            print(flush=True)
            line, text = "", text.lstrip()
        line += text
        print(text, end="", flush=True)

    for k, item in enumerate(items):
        say(f" {labels[item] if labels is not None else item}" + ("," if k + 1 < len(items)
                                                                  else ""))
        yield item
    say(" - done.")
    print(flush=True)
