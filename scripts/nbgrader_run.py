"""Run one nbgrader command for the course, and fail loudly when nbgrader did not do it:
`make nbgrader DIR=course ARGS="autograde ex1-adam-update"`.

nbgrader logs a problem and may still exit with status 0 (a submission without the
expected notebook, a collect that found nothing), and it calls an `alembic` command that
must be on the PATH. This wrapper
- puts the instructor environment's ``bin`` on the PATH (so `alembic` is found);
- runs ``python -m nbgrader ARGS`` in the course folder, showing its log as it comes;
- sorts every warning and error line: *expected* lines (listed in ``EXPECTED``, and in
  INSTRUCTORS.md) are counted, *failures* (any ERROR or CRITICAL, and the warnings in
  ``FAILURES``) make it exit with status 1, anything else is listed at the end for you
  to read;
- exits with nbgrader's own status when that is not 0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

LEVEL = re.compile(r"^\[(?P<app>\w+) \| (?P<level>WARNING|ERROR|CRITICAL)\] ?(?P<text>.*)")

# Warnings that a healthy run prints: (what it means, pattern).
EXPECTED = [
    ("checksum of a test cell with hidden tests (the release holds the cell without them)",
     re.compile(r"Attribute 'checksum' for cell (?P<cell>\S+) has changed")),
    ("exchange permissions set on first release",
     re.compile(r"Permissions for exchange directory .* are invalid, changing them")),
    ("no nbgrader_config.py in a student's folder (students pass --course)",
     re.compile(r"No nbgrader_config.py file found")),
    ("feedback config option not read by ClearHiddenTests",
     re.compile(r"Config option `display_data_priority` not recognized by `ClearHiddenTests`")),
    ("a submission owned by another OS user (one machine, several students)",
     re.compile(r"claims to be submitted by .* but is owned by")),
    ("an earlier result replaced (--force)",
     re.compile(r"Removing existing assignment")),
    ("SQLAlchemy's notice about nbgrader's database code",
     re.compile(r"SAWarning|SADeprecationWarning|MovedIn20Warning")),
]
# Warnings after which the step did not do what was asked, although nbgrader exits 0.
FAILURES = [
    ("a submission lacks an assignment notebook or has an extra one (renamed?)",
     re.compile(r"Possible missing notebooks and/or extra notebooks")),
    ("a submitted notebook matches no notebook of the assignment",
     re.compile(r"Skipping unknown notebook")),
    ("nothing to collect", re.compile(r"No submissions of")),
    ("an assignment or notebook was not found", re.compile(r"[Nn]o notebooks were matched")),
]


def hidden_test_cells(course: Path) -> set[str]:
    """grade_ids of the source cells that hold hidden tests: their checksum warnings are
    expected; a checksum warning on any other cell means a locked cell was edited."""
    cells = set()
    for path in (course / "source").glob("*/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if "### BEGIN HIDDEN TESTS" in "".join(cell["source"]):
                cells.add(cell["metadata"].get("nbgrader", {}).get("grade_id", ""))
    return cells


def classify(lines: list[str], hidden: set[str]):
    """(expected counts, failures, others) from nbgrader's log lines. A WARNING's text
    may continue on the following indented lines; they are read together."""
    expected, failures, others = Counter(), [], []
    entries = []
    for line in lines:
        match = LEVEL.match(line)
        if match:
            entries.append([match["level"], match["text"]])
        elif entries and line.startswith((" ", "\t")):
            entries[-1][1] += " " + line.strip()
        elif re.search(r"\w+Warning:", line):             # a Python warning on stderr
            entries.append(["WARNING", line.strip()])
    for level, text in entries:
        if level in ("ERROR", "CRITICAL"):
            failures.append(f"{level}: {text}")
            continue
        for meaning, pattern in FAILURES:
            if pattern.search(text):
                failures.append(f"{meaning}: {text}")
                break
        else:
            for meaning, pattern in EXPECTED:
                found = pattern.search(text)
                if found:
                    if "cell" in pattern.groupindex and found["cell"] not in hidden:
                        others.append(f"a locked cell was edited in a submission (nbgrader "
                                      f"grades the source's version of it): {text}")
                    else:
                        expected[meaning] += 1
                    break
            else:
                others.append(text)
    return expected, failures, others


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        print("usage: nbgrader_run.py COURSE_DIR NBGRADER_ARGS...  (e.g. course autograde "
              "ex1-adam-update)", file=sys.stderr)
        return 2
    course, args = Path(argv[0]).resolve(), argv[1:]
    if not (course / "nbgrader_config.py").is_file() and args[0] not in (
            "fetch_assignment", "submit", "list"):
        print(f"{course} holds no course (no nbgrader_config.py): create one with "
              f"`make course DIR=…`", file=sys.stderr)
        return 2
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    process = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    status = process.wait()
    expected, failures, others = classify(lines, hidden_test_cells(course))
    what = f"nbgrader {' '.join(args)}"
    summary = ", ".join(f"{n} x {meaning}" for meaning, n in expected.items()) or "none"
    print(f"\n{what}: expected warnings: {summary}.")
    for text in others:
        print(f"  READ THIS (not an expected line): {text}")
    if status != 0 or failures:
        print(f"\nFAILED: {what} (exit status {status})", file=sys.stderr)
        for text in failures:
            print(f"  {text}", file=sys.stderr)
        return status or 1
    print(f"{what}: done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
