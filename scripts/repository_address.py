"""The repository's address lives in one place: ``[project.urls] Repository`` in
pyproject.toml. The static site reads it from there; the files below cannot (Markdown and
YAML have no variables), so this script writes it into them, and ``--check`` (run by
tests/test_adoption_files.py) fails when any of them names another address.

    python scripts/repository_address.py           # write pyproject's address everywhere
    python scripts/repository_address.py --check   # only report; exit 1 on a mismatch

To publish the series, change the address in pyproject.toml, then run
``make repository-address``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The files that state the address: Binder badges and links, the citation, the changelog.
FILES = ("README.md", "CITATION.cff", "CHANGELOG.md")
# A GitHub owner/name as it appears in a repository link or a Binder link.
NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*?"
PATTERNS = (re.compile(rf"(https://github\.com/)({NAME})(?=[/\"'\s)#?]|\.git|$)", re.M),
            re.compile(rf"(mybinder\.org/v2/gh/)({NAME})(?=/)"))


def configured_name(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``owner/name`` from pyproject.toml's ``[project.urls] Repository``."""
    urls = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("urls", {})
    address = urls.get("Repository", "")
    match = re.fullmatch(rf"https://github\.com/({NAME})/?", address)
    if match is None:
        raise ValueError(f"pyproject.toml: [project.urls] Repository is {address!r}; it must "
                         "be a GitHub address like 'https://github.com/owner/name'")
    return match.group(1)


def stated_names(text: str) -> set[str]:
    """Every owner/name a text links to (GitHub or Binder)."""
    return {match.group(2) for pattern in PATTERNS for match in pattern.finditer(text)}


def rewrite(text: str, name: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + name, text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report mismatches, change nothing")
    args = parser.parse_args(argv)
    name = configured_name()
    mismatches = []
    for relative in FILES:
        path = ROOT / relative
        text = path.read_text(encoding="utf-8")
        others = sorted(stated_names(text) - {name})
        if not others:
            continue
        if args.check:
            mismatches.append(f"{relative}: names {', '.join(others)}, not {name}")
        else:
            path.write_text(rewrite(text, name), encoding="utf-8")
            print(f"{relative}: {', '.join(others)} -> {name}")
    for line in mismatches:
        print(line)
    if mismatches:
        print("Run `make repository-address` to write pyproject.toml's address into them.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
