"""Run one nbgrader command for the course, and fail loudly when nbgrader did not do it:
`make nbgrader DIR=course ARGS="autograde ex1-adam-update"`.

nbgrader logs a problem and may still exit with status 0 (a submission without the
expected notebook, a collect that found nothing), and it calls an `alembic` command that
must be on the PATH. This wrapper
- puts the instructor environment's ``bin`` on the PATH (so `alembic` is found);
- runs ``python -m nbgrader ARGS`` in the folder, showing its log as it comes (the
  students' commands, ``fetch_assignment``, ``submit``, ``fetch_feedback`` and ``list``,
  run in a student's folder, created if it does not exist yet);
- sorts every warning and error line: *expected* lines (listed in ``EXPECTED``, and in
  INSTRUCTORS.md) are counted; *student-level* lines (a cell that timed out or ended the
  kernel while grading, logged by the course's grading plugin and by nbclient) name the
  student and do not fail the step; *failures* (any other ERROR or CRITICAL, and the
  warnings in ``FAILURES``) make it exit with status 1; anything else is listed at the end
  for you to read;
- after ``autograde``, audits the submitted notebooks against the released ones: a locked
  cell edited or deleted, a graded cell duplicated, and student code that reaches into the
  grading, the kernel or the course's files (``AUDIT``, and ``python_findings``);
- ends with "Students whose notebooks need a look:", each named with the reason (a
  student whose notebook nbgrader itself failed to grade, an ERROR line, included);
- exits with nbgrader's own status when that is not 0.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path
from typing import NamedTuple

LEVEL = re.compile(r"^\[(?P<app>\w+) \| (?P<level>WARNING|ERROR|CRITICAL)\] ?(?P<text>.*)")
# The grading kernel's own log (its stderr reaches nbgrader's).
KERNEL_LEVEL = re.compile(r"^\[(?P<app>IPKernelApp)\] (?P<level>WARNING|ERROR|CRITICAL) \| "
                          r"(?P<text>.*)")
# Which student's notebook nbgrader is working on (its INFO lines name the file).
WORKING_ON = re.compile(r"^\[\w+ \| INFO\] (?:Sanitizing|Autograding) (?P<path>\S+\.ipynb)")
# The course's grading plugin (grader/nbgrader_plugins.py) names the student and the cell.
STUDENT_LEVEL = re.compile(r"STUDENT-LEVEL: student '(?P<student>[^']*)', assignment "
                           r"'(?P<assignment>[^']*)': (?P<what>.*)")
# nbclient's lines about the same events: they belong to the student being graded.
STUDENT_ERRORS = re.compile(r"Timeout waiting for execute reply|Interrupting kernel|"
                            r"Kernel died while waiting for execute reply")
# nbgrader's ERROR lines when it could not grade a submission at all (it then removes the
# student's autograded notebook: no score, no feedback). They still fail the step.
CRASHED = [re.compile(r"There was an error processing assignment '(?P<assignment>[^']*)' "
                      r"for student '(?P<student>[^']*)'"),
           re.compile(r"There was an error processing assignment: \S*?"
                      r"(?P<student>[^/\s]+)/(?P<assignment>[^/\s]+)/?$"),
           re.compile(r"While processing assignment \S*?(?P<student>[^/\s]+)/"
                      r"(?P<assignment>[^/\s]+)/?, the kernel became unresponsive")]
CRASH_REASON = ("nbgrader could not grade this notebook (see the ERROR lines above): it "
                "has no score and no feedback; fix the notebook or grade it by hand")

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
    ("the grading kernel's notice that it talks over local TCP (one per notebook)",
     re.compile(r"Kernel is running over TCP without encryption")),
    ("a deleted test cell put back and graded (the audit names the student)",
     re.compile(r"Missing grade cell \S+ encountered, adding to notebook")),
    ("nbformat's notice that the cell put back has no id",
     re.compile(r"MissingIDFieldWarning: Cell is missing an id field")),
]
# The checksum warning on a cell without hidden tests: a locked cell was edited; the audit
# below names the student and the cell.
EDITED = "checksum of a locked cell a student edited (the audit names the student)"
# Warnings after which the step did not do what was asked, although nbgrader exits 0.
FAILURES = [
    ("a submission lacks an assignment notebook or has an extra one (renamed?)",
     re.compile(r"Possible missing notebooks and/or extra notebooks")),
    ("a submitted notebook matches no notebook of the assignment",
     re.compile(r"Skipping unknown notebook")),
    ("nothing to collect", re.compile(r"No submissions of")),
    ("an assignment or notebook was not found", re.compile(r"[Nn]o notebooks were matched")),
]
# The students' commands: run in a student's folder (no course there), which they create.
STUDENT_COMMANDS = ("fetch_assignment", "submit", "fetch_feedback", "list")

# Student code that reaches into the grading, its watch or the kernel: (what, pattern).
# Matched on the code of solution cells and of cells the student added, comments left out.
AUDIT = [
    ("sys.setprofile", r"\bsetprofile\b"),
    ("sys.settrace", r"\bsettrace\b"),
    ("sys.modules", r"\bsys\s*\.\s*modules\b"),
    ("builtins", r"\b__builtins__\b|\bbuiltins\b"),
    ("inspect.getsource", r"\bgetsource(?:lines)?\b"),
    ("exec(", r"(?<![\w.])exec\s*\("),
    ("eval(", r"(?<![\w.])eval\s*\("),
    ("compile(", r"(?<![\w.])compile\s*\("),
    ("runpy", r"\brunpy\b|\brun_path\b"),
    ("importlib", r"\bimportlib\b|\b__import__\b"),
    ("an assignment to grading.…", r"\bgrading(?:\s*\.\s*\w+)+\s*=(?!=)"),
    ("an assignment to helpers.…", r"\bhelpers(?:\s*\.\s*\w+)+\s*=(?!=)"),
    ("setattr on grading or helpers", r"\bsetattr\s*\(\s*(?:grading|helpers)\b"),
    ("__code__", r"\b__code__\b"),
    ("__dict__", r"\b__dict__\b"),
    # What leads from an object the grading hands over back to the grading's own code
    # (red team round 3: sys.stderr's write.__globals__, f.__globals__).
    ("__globals__", r"\b__globals__\b"),
    ("__func__", r"\b__func__\b"),
    ("__self__", r"\b__self__\b"),
    ("__closure__", r"\b__closure__\b|\bcell_contents\b"),
    ("vars(", r"(?<![\w.])vars\s*\("),
    ("getprofile", r"\bgetprofile\b"),
    ("ctypes", r"\b_?ctypes\b"),
    # Native code, and processes that no audit event announces (round 3's escape).
    ("cffi", r"\b_?cffi\w*"),
    ("_posixsubprocess", r"\b_posixsubprocess\b"),
    ("fork_exec", r"\bfork_exec\b"),
    ("numba", r"\bnumba\b|\bllvmlite\b"),
    ("__array_interface__", r"\b__array_interface__\b"),
    ("os._exit", r"\b_exit\s*\("),
    ("exit(", r"(?<![\w.])(?:sys\s*\.\s*)?exit\s*\("),
    ("quit(", r"(?<![\w.])quit\s*\("),
    ("_hidden", r"\b_hidden\w*"),
    # What the grading's sandboxes refuse, and what reaches the course's files.
    ("chdir", r"\bchdir\b|%cd\b"),
    ("threading", r"\b_?thread(?:ing)?\b"),
    ("Thread(", r"\bThread\s*\("),
    ("queue", r"\b[Qq]ueue\b"),
    ("concurrent", r"\bconcurrent\b"),
    ("subprocess", r"\bsubprocess\b|\bPopen\b|\bos\s*\.\s*(?:system|popen|fork\w*|exec\w+|"
                   r"spawn\w*|posix_spawn\w*)\b|^\s*!"),
    ("multiprocessing", r"\bmultiprocessing\b"),
    ("hidden_checks", r"\bhidden_checks\b"),
    ("grader", r"\bgrader\b"),
    ("gradebook", r"\bgradebook\b"),
    # Other students' work (round 3: a submission copied at grading time).
    ("the course's folders (submitted, autograded, …)",
     r"\b(?:submitted|autograded|nbgrader_config)\b"),
    ("/proc", r"/proc\b"),
    ("FileIO", r"\bFileIO\b"),
    ("a link (symlink, os.link)", r"\bsymlink(?:_to)?\b|\bos\.link\b|\bhardlink_to\b"),
    ("tofile", r"\btofile\b"),
    ("py_compile / a .pyc", r"\bpy_compile\b|\.pyc\b|__pycache__"),
    ("sqlite3", r"\bsqlite3?\b"),
    ("tempfile", r"\btempfile\b|\bmk[ds]temp\b"),
    ("write_text", r"\bwrite_(?:text|bytes)\b"),
    ("get_ipython", r"\bget_ipython\b"),
    ("signal", r"\bsignal\b"),
]
AUDIT = [(what, re.compile(pattern, re.MULTILINE)) for what, pattern in AUDIT]
# Names a cell may not rebind without the audit saying so.
GRADING_NAMES = ("grading", "helpers")
BUILTIN_NAMES = frozenset(name for name in dir(builtins) if not name.startswith("_"))


class Sorted(NamedTuple):
    """nbgrader's log lines, sorted."""
    expected: Counter            # meaning -> count
    failures: list[str]
    others: list[str]            # lines to read: not expected, not a failure
    students: list[tuple[str, str, str]]   # (student, assignment, what happened)


class Finding(NamedTuple):
    """One result of the audit of a submitted notebook."""
    student: str
    assignment: str
    cell: str                    # how to find the cell: its grade_id, or "#position (…)"
    text: str

    @property
    def where(self) -> str:
        """The cell as the log names it: ``cell 'ex1-run'`` or ``cell #12 (no grade_id)``."""
        return f"cell {self.cell}" if self.cell.startswith("#") else f"cell '{self.cell}'"


def hidden_test_cells(course: Path) -> set[str]:
    """grade_ids of the source cells that hold hidden tests: their checksum warnings are
    expected; a checksum warning on any other cell means a locked cell was edited."""
    cells = set()
    for path in (course / "source").glob("*/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if "### BEGIN HIDDEN TESTS" in "".join(cell["source"]):
                cells.add(cell["metadata"].get("nbgrader", {}).get("grade_id", ""))
    return cells


def classify(lines: list[str], hidden: set[str]) -> Sorted:
    """Sort nbgrader's log lines. A WARNING's text may continue on the following indented
    lines; they are read together."""
    expected, failures, others, students = Counter(), [], [], []
    entries = []
    current = ("?", "?")                       # (student, assignment) being graded
    for line in lines:
        working = WORKING_ON.match(line)
        if working:
            parts = Path(working["path"]).parts
            current = (parts[-3], parts[-2]) if len(parts) >= 3 else ("?", "?")
            continue
        match = LEVEL.match(line) or KERNEL_LEVEL.match(line)
        if match:
            entries.append([match["level"], match["text"], current])
        elif entries and line.startswith((" ", "\t")):
            entries[-1][1] += " " + line.strip()
        elif re.search(r"\w+Warning:", line):             # a Python warning on stderr
            entries.append(["WARNING", line.strip(), current])
    from_nbclient = {}
    for level, text, (student, assignment) in entries:
        named = STUDENT_LEVEL.search(text)
        if named:
            students.append((named["student"], named["assignment"], named["what"]))
            continue
        for pattern in CRASHED:
            crashed = pattern.search(text)
            if crashed:
                students.append((crashed["student"], crashed["assignment"], CRASH_REASON))
                break
        if STUDENT_ERRORS.search(text):
            # nbclient's side of a time-out or a crash; the plugin's line names the cell.
            expected["nbclient's line on a time-out or a crash (the student is named below)"] += 1
            from_nbclient.setdefault((student, assignment), text)
            continue
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
                        expected[EDITED] += 1
                    else:
                        expected[meaning] += 1
                    break
            else:
                others.append(text)
    # Without the course's plugin (nbgrader run with another config), nbclient's lines are
    # all there is: they name no cell, but the student is known from the context.
    named = {(student, assignment) for student, assignment, _ in students}
    students += [(student, assignment, f"a cell timed out or ended the kernel ({text})")
                 for (student, assignment), text in from_nbclient.items()
                 if (student, assignment) not in named]
    return Sorted(expected, failures, others, students)


def code_without_comments(source: str) -> str:
    """The cell's code without comments (IPython's %magics and !commands left out too)."""
    lines = [line for line in source.split("\n") if not line.lstrip().startswith(("%", "!"))]
    code = "\n".join(lines)
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code


def _python_code(source: str) -> str:
    """The cell as Python (IPython's %magics and !commands left out)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def _mode_writes(node) -> bool:
    """An open(…) call's mode writes, or cannot be read (not a literal)."""
    mode = node.args[1] if len(node.args) > 1 else next(
        (k.value for k in node.keywords if k.arg == "mode"), None)
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True


def python_findings(source: str) -> list[str]:
    """What the audit finds in the cell's syntax tree: open( with a write mode, getattr(
    with a name built at run time, a rebinding of ``grading`` or ``helpers``, a def or an
    assignment that shadows a builtin."""
    try:
        tree = ast.parse(_python_code(source))
    except (SyntaxError, ValueError):
        return []
    found = []

    def bound(name: str, genuine: bool = False):
        if name in GRADING_NAMES and not genuine:
            found.append(f"{name} =")
        elif name in BUILTIN_NAMES:
            found.append(f"a builtin shadowed ({name})")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name == "open" and _mode_writes(node):
                found.append("open( with a write mode")
            if (name == "getattr" and len(node.args) > 1 and not (
                    isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str))):
                found.append("getattr( with a name built at run time")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound(node.name)
        elif isinstance(node, (ast.Name,)) and isinstance(node.ctx, ast.Store):
            bound(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                genuine = (alias.asname is None and (
                    (isinstance(node, ast.Import) and alias.name.split(".")[0] == "helpers")
                    or (isinstance(node, ast.ImportFrom) and node.module == "helpers")))
                if name in GRADING_NAMES or name in BUILTIN_NAMES:
                    bound(name, genuine)
    return list(dict.fromkeys(found))


def reaches_into_grading(source: str) -> list[str]:
    """What in this code reaches into the grading, the kernel or the course's files
    (AUDIT, in its order, then python_findings)."""
    magics = [line for line in source.split("\n") if line.lstrip().startswith(("%", "!"))]
    code = "\n".join([code_without_comments(source), *magics])
    return ([what for what, pattern in AUDIT if pattern.search(code)]
            + python_findings(source))


def _cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return cells


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def audit_notebook(released: Path, submitted: Path, student: str,
                   assignment: str) -> list[Finding]:
    """A submitted notebook against its released version."""
    findings = []
    release = {_grade_id(cell): cell for cell in _cells(released) if _grade_id(cell)}
    cells = _cells(submitted)
    mine: dict = {}
    copies = set()              # positions of a second cell with the same grade_id
    for number, cell in enumerate(cells, start=1):
        grade_id = _grade_id(cell)
        if grade_id in mine:
            copies.add(number)        # the grading plugin names it (SanitizeCells)
        elif grade_id:
            mine[grade_id] = cell
    for grade_id, cell in release.items():
        info = cell["metadata"]["nbgrader"]
        graded, locked = info.get("grade", False), info.get("locked", False)
        if grade_id not in mine:
            if graded:
                findings.append(Finding(student, assignment, grade_id,
                                        "a graded cell was deleted; nbgrader puts it back "
                                        "and grades it"))
            elif locked and cell["cell_type"] == "code":
                findings.append(Finding(student, assignment, grade_id,
                                        "a locked code cell was deleted; it is not put back, "
                                        "so the cells after it may fail"))
        elif locked and mine[grade_id]["source"].strip() != cell["source"].strip():
            findings.append(Finding(student, assignment, grade_id,
                                    "the visible part of a locked cell was edited; nbgrader "
                                    "grades the source's version of it"))
    for number, cell in enumerate(cells, start=1):
        info = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = _grade_id(cell)
        genuine = grade_id in release and number not in copies
        if cell["cell_type"] != "code" or (genuine and info.get("locked")
                                           and not info.get("solution")):
            continue                      # locked cells: compared with the release above
        found = reaches_into_grading(cell["source"])
        if found:
            name = (grade_id if genuine else f"#{number} (a copy of '{grade_id}')"
                    if number in copies else f"#{number} (no grade_id)" if not grade_id
                    else f"#{number} (grade_id '{grade_id}', not the assignment's)")
            findings.append(Finding(student, assignment, name,
                                    "student code reaches into the grading: " + ", ".join(found)))
    return findings


def audit(course: Path, assignment: str | None = None,
          student: str | None = None) -> list[Finding]:
    """Every submitted notebook of the assignment (all assignments when None; all students
    when ``student`` is None) against the released version:
    ``<course>/submitted/<student>/<assignment>/*.ipynb`` against
    ``<course>/release/<assignment>/``."""
    findings = []
    pattern = f"{student or '*'}/{assignment or '*'}/*.ipynb"
    for path in sorted((course / "submitted").glob(pattern)):
        released = course / "release" / path.parent.name / path.name
        if released.is_file():
            findings += audit_notebook(released, path, path.parent.parent.name,
                                       path.parent.name)
    return findings


def need_a_look(students: list[tuple[str, str, str]], findings: list[Finding]) -> list[str]:
    """One line per student: who, in which assignment, and why."""
    reasons: dict[tuple[str, str], list[str]] = {}
    for student, assignment, what in students:
        reasons.setdefault((student, assignment), []).append(what)
    for finding in findings:
        reasons.setdefault((finding.student, finding.assignment), []).append(
            f"{finding.where}: {finding.text}")
    return [f"{student} ({assignment}): " + "; ".join(dict.fromkeys(why))
            for (student, assignment), why in sorted(reasons.items())]


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name=VALUE`` or ``--name VALUE`` on an nbgrader command line."""
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            return arg.partition("=")[2]
        if arg == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return None


def _assignment_argument(args: list[str]) -> str | None:
    """The assignment named on an nbgrader command line (``autograde NAME …`` or
    ``--assignment=NAME``), or None."""
    if len(args) > 1 and not args[1].startswith("-"):
        return args[1]
    return _option(args, "assignment")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        print("usage: nbgrader_run.py COURSE_DIR NBGRADER_ARGS...  (e.g. course autograde "
              "ex1-adam-update)", file=sys.stderr)
        return 2
    course, args = Path(argv[0]).resolve(), argv[1:]
    if args[0] in STUDENT_COMMANDS:
        course.mkdir(parents=True, exist_ok=True)       # a student's folder
    elif not (course / "nbgrader_config.py").is_file():
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
    result = classify(lines, hidden_test_cells(course))
    findings = (audit(course, _assignment_argument(args), _option(args, "student"))
                if args[0] == "autograde" else [])
    what = f"nbgrader {' '.join(args)}"
    summary = ", ".join(f"{n} x {meaning}" for meaning, n in result.expected.items()) or "none"
    print(f"\n{what}: expected warnings: {summary}.")
    for text in result.others:
        print(f"  READ THIS (not an expected line): {text}")
    for finding in findings:
        print(f"  READ THIS: student '{finding.student}', assignment '{finding.assignment}', "
              f"{finding.where}: {finding.text}")
    looks = need_a_look(result.students, findings)
    if looks or args[0] == "autograde":
        print("Students whose notebooks need a look:" + ("" if looks else " none."))
        for line in looks:
            print(f"  {line}")
    if status != 0 or result.failures:
        print(f"\nFAILED: {what} (exit status {status})", file=sys.stderr)
        for text in result.failures:
            print(f"  {text}", file=sys.stderr)
        return status or 1
    print(f"{what}: done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
