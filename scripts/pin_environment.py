"""Write requirements-pinned.txt: the exact versions of the runtime packages, and of
everything they need, as installed in this environment (.venv, which `make test` runs).

Binder installs that file (environment.yml's pip section), and `make` installs it into
.venv before the project itself, so the stack students get on Binder is the stack CI runs
every notebook with. After upgrading a package on purpose:

    .venv/bin/python -m pip install --upgrade <package>
    .venv/bin/python scripts/pin_environment.py
    make test          # every notebook under strict nbval, with the new versions

tests/test_environment_files.py checks that the file covers pyproject.toml's runtime
dependencies within their ranges, and, in CI, that .venv holds exactly these versions.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "requirements-pinned.txt"
HEADER = """\
# Exact versions of the runtime packages and everything they need: what Binder installs
# (environment.yml) and what `make` installs into .venv, so that CI runs every notebook
# with this stack. Written by scripts/pin_environment.py from .venv; do not edit by hand.
# Python {python} on Linux (Binder's and CI's platform).
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_roots() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(spec).name for spec in project["dependencies"]]


def closure(roots: list[str]) -> dict[str, tuple[str, str]]:
    """canonical name -> (name, version) for the roots and what they need when installed:
    their requirements, with markers evaluated for this interpreter and platform, and the
    extras a requirement asks for followed too (jupyter-events needs
    ``jsonschema[format-nongpl]``, which brings packages of its own)."""
    found: dict[str, tuple[str, str]] = {}
    followed: set[tuple[str, str]] = set()        # (package, extra or "") already read
    pending = [(name, "") for name in roots]
    while pending:
        name, extra = pending.pop()
        if (canonical(name), extra) in followed:
            continue
        followed.add((canonical(name), extra))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue                       # e.g. Numba where it does not install
        found[canonical(name)] = (distribution.metadata["Name"], distribution.version)
        for spec in distribution.requires or []:
            requirement = Requirement(spec)
            marker = requirement.marker
            needed_plain = marker is None or marker.evaluate({"extra": ""})
            # reading the package itself: what it always needs; reading one of its
            # extras: what that extra adds
            wanted = needed_plain if not extra else (
                marker is not None and marker.evaluate({"extra": extra}) and not needed_plain)
            if wanted:
                pending.append((requirement.name, ""))
                pending.extend((requirement.name, more) for more in requirement.extras)
    return found


def main() -> int:
    pins = closure(runtime_roots())
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = [f"{name}=={version}" for _, (name, version) in sorted(pins.items())]
    OUTPUT.write_text(HEADER.format(python=python) + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUTPUT.name}: {len(lines)} packages pinned (Python {python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
