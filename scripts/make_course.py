"""Create a ready nbgrader course from the exercise sources: `make course DIR=…`.

The folder gets:
- ``source/``: the instructor versions of every exercise, as nbgrader expects them;
- ``exchange/``: a local exchange (release, fetch, submit and collect work on one machine);
- ``nbgrader_config.py``: the course id, the course root and the exchange, and a feedback
  step that removes hidden tests (nbgrader's default feedback prints them word for word;
  ``ClearHiddenTests`` drops them and leaves the scores as they were).

Run nbgrader through `make nbgrader DIR=… ARGS="…"` (scripts/nbgrader_run.py: the
instructor environment's ``bin`` on the ``PATH``, as nbgrader calls its own ``alembic``,
and a step that logs an error fails), or by hand from inside that folder; INSTRUCTORS.md
walks through it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "exercises" / "source"
COURSE_ID = "sgd-frequency-bias"

CONFIG = '''\
# Written by scripts/make_course.py (`make course`). nbgrader reads it from this folder.
c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
# A local exchange: release, fetch, submit and collect on this machine.
c.Exchange.root = {exchange!r}
# Feedback without the hidden tests: nbgrader's default shows them word for word.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearHiddenTests",
]
'''


def make_course(folder: Path) -> Path:
    """Create the course in ``folder`` (which must not hold a course yet)."""
    folder = folder.resolve()
    if (folder / "nbgrader_config.py").exists():
        raise FileExistsError(f"{folder} already holds a course (nbgrader_config.py); pick "
                              f"another folder or remove it first")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SOURCES, folder / "source", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    exchange = folder / "exchange"
    exchange.mkdir(exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=COURSE_ID, root=str(folder), exchange=str(exchange)))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to create the course")
    args = parser.parse_args(argv)
    try:
        folder = make_course(args.folder)
    except FileExistsError as error:
        print(error, file=sys.stderr)
        return 1
    assignments = sorted(p.name for p in (folder / "source").iterdir() if p.is_dir())
    print(f"course '{COURSE_ID}' ready in {folder}: {len(assignments)} assignments "
          f"({', '.join(assignments)}), exchange in {folder / 'exchange'}")
    print(f"next, from the repository's root: make nbgrader DIR={folder} "
          f"ARGS=\"generate_assignment {assignments[0]} --create\"")
    print(f"(or by hand: cd {folder} && PATH={Path(sys.executable).parent}:$PATH "
          f"nbgrader generate_assignment {assignments[0]} --create)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
