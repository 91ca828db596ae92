"""Create a ready nbgrader course from the exercise sources: `make course DIR=…`.

The folder gets:
- ``source/``: the instructor versions of every exercise, as nbgrader expects them;
- ``exchange/``: a local exchange (release, fetch, submit and collect work on one machine);
- ``grader/``: a copy of ``exercises/grader/`` (instructor-only, never released): the
  hidden tests' logic, the grading plugins (``nbgrader_plugins.py``), the process that
  runs the hidden tests (``run_hidden.py``) and the sandboxes (``sandbox.py``); and
  ``grader/course_secret``, 32 random hex digits of this course's own, from which the
  hidden tests derive their inputs (so that they cannot be computed in advance from this
  public repository);
- ``nbgrader_config.py``: the course id, the course root and the exchange; autograding
  with ``GradingExecute`` (the hidden tests run in a separate, sandboxed process; the
  kernel is sandboxed too; ``exit()`` switched off; a crash or a time-out costs its cell,
  not the submission), a time-out per cell of ``TIMEOUT`` seconds, duplicated graded cells
  graded as ordinary cells (``SanitizeCells``), deleted test cells restored; and a
  feedback step that removes hidden tests (nbgrader's default feedback prints them word
  for word; ``ClearHiddenTests`` drops them and leaves the scores).

Run nbgrader through `make nbgrader DIR=… ARGS="…"` (scripts/nbgrader_run.py: the
instructor environment's ``bin`` on the ``PATH``, as nbgrader calls its own ``alembic``,
and a step that logs an error fails), or by hand from inside that folder; INSTRUCTORS.md
walks through it.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "exercises" / "source"
GRADER = ROOT / "exercises" / "grader"
COURSE_ID = "sgd-frequency-bias"
# Seconds a cell may run while autograding (nbgrader's default is 30). The slowest graded
# cell of the four exercises takes about 1 s, the slowest cell of all 2 s (a 2-core
# machine); INSTRUCTORS.md states the value.
TIMEOUT = 120
# Seconds the separate process that runs one notebook's hidden tests may take in all (the
# four exercises' take 2 to 6 s on a 2-core machine).
HIDDEN_TIMEOUT = 300

CONFIG = '''\
# Written by scripts/make_course.py (`make course`). nbgrader reads it from this folder.
import sys

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
# A local exchange: release, fetch, submit and collect on this machine.
c.Exchange.root = {exchange!r}

# The grading plugins (grader/nbgrader_plugins.py, instructor-only).
sys.path.insert(0, {grader!r})
# nbgrader's sanitize steps, with SanitizeCells first: a graded cell the student duplicated
# (or made up) is graded as an ordinary cell instead of crashing nbgrader.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader_plugins.SanitizeCells",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# nbgrader's autograde steps, with GradingExecute in place of nbgrader's Execute: the
# kernel runs each test cell without its hidden tests, which then run in a separate,
# sandboxed process (grader/run_hidden.py) that the notebook's cells cannot reach; the
# kernel is sandboxed too (grader/sandbox.py); exit() raises an error in its cell instead
# of ending the kernel; a cell that ends the kernel (os._exit, a crash) is left out and the
# notebook run again, so that only that cell scores 0; a time-out, a crash or hidden tests
# that could not run are logged with the student's name.
c.Autograde.autograde_preprocessors = [
    "nbgrader_plugins.GradingExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Seconds a cell may run; then it is interrupted, scores 0 and the next cell runs. Each
# hidden test has the same limit, and the process that runs one notebook's hidden tests
# {hidden_timeout} s in all.
c.Execute.timeout = {timeout}
c.GradingExecute.hidden_timeout = {hidden_timeout}
# A test cell the student deleted is put back and graded.
c.OverwriteCells.add_missing_cells = True
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
    shutil.copytree(GRADER, folder / "grader", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__",
                                                  "course_secret"))
    # The course's own secret: the hidden tests' inputs depend on it.
    secret = folder / "grader" / "course_secret"
    secret.write_text(secrets.token_hex(16) + "\n")
    secret.chmod(0o600)
    exchange = folder / "exchange"
    exchange.mkdir(exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=COURSE_ID, root=str(folder), exchange=str(exchange),
                      grader=str(folder / "grader"), timeout=TIMEOUT,
                      hidden_timeout=HIDDEN_TIMEOUT))
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
