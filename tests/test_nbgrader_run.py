"""scripts/nbgrader_run.py sorts nbgrader's log: expected lines are counted, student-level
lines name the student without failing the step, failures make `make nbgrader` exit 1
(even where nbgrader itself exits 0), the rest is shown; after `autograde` it audits the
submissions against the release. Here on log lines as nbgrader 0.9 writes them and on
small notebooks, without nbgrader; the instructor tests (tests/test_nbgrader.py) run it
on nbgrader itself."""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbgrader_run  # noqa: E402

HIDDEN = {"ex1-adam-moments-tests"}


def test_hidden_test_cells_are_read_from_the_sources(tmp_path):
    (tmp_path / "source").symlink_to(ROOT / "exercises" / "source")
    cells = nbgrader_run.hidden_test_cells(tmp_path)
    assert {"ex1-adam-moments-tests", "ex3-adagrad-pure-tests", "ex4-loss-tests"} <= cells


def test_expected_lines_are_counted():
    log = ["[AutogradeApp | INFO] Converting notebook x.ipynb",
           "[AutogradeApp | WARNING] Attribute 'checksum' for cell ex1-adam-moments-tests has "
           "changed! (should be: 1, got: 2)",
           "[CollectApp | WARNING] ",
           "    /x/exchange/inbound/bob+ex1 claims to be submitted by bob but is owned by root; "
           "cheating attempt?",
           "    you may disable this warning by unsetting the option CollectApp.check_owner",
           "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All "
           "communication (including code and outputs) is sent in plain text",
           "[AutogradeApp | WARNING] Missing grade cell ex1-adam-update-tests encountered, "
           "adding to notebook",
           "/x/nbformat/validator.py:434: MissingIDFieldWarning: Cell is missing an id field, "
           "this will become a hard error in future nbformat versions."]
    result = nbgrader_run.classify(log, HIDDEN)
    assert result.failures == [] and result.others == [] and result.students == []
    assert sum(result.expected.values()) == 5
    assert any("TCP" in meaning for meaning in result.expected)


def test_errors_and_silent_failures_fail():
    log = ["[AutogradeApp | ERROR] There was an error processing assignment 'ex1' for "
           "student 'bob'",
           "[SubmitApp | WARNING] Possible missing notebooks and/or extra notebooks submitted "
           "for assignment ex1:",
           "[CollectApp | WARNING] No submissions of 'ex9' for course 'c' to collect",
           "[AutogradeApp | WARNING] Skipping unknown notebook: /x/renamed.ipynb"]
    result = nbgrader_run.classify(log, HIDDEN)
    assert len(result.failures) == 4
    assert result.failures[0].startswith("ERROR")


def test_a_checksum_change_on_a_cell_without_hidden_tests_is_counted_apart():
    log = ["[AutogradeApp | WARNING] Attribute 'checksum' for cell ex2-stability-tests has "
           "changed! (should be: 1, got: 2)",
           "[AutogradeApp | WARNING] Something nbgrader has never said before"]
    result = nbgrader_run.classify(log, HIDDEN)
    assert not result.failures
    assert result.expected == {nbgrader_run.EDITED: 1}     # the audit names the student
    assert result.others == ["Something nbgrader has never said before"]


# A time-out in alice's notebook and a crash in bob's, as the course's grading plugin and
# nbclient log them during `autograde`.
STUDENT_LOG = [
    "[AutogradeApp | INFO] Sanitizing /c/submitted/alice/ex1-adam-update/ex1-adam-update.ipynb",
    "[AutogradeApp | INFO] Autograding /c/autograded/alice/ex1-adam-update/ex1-adam-update.ipynb",
    "[AutogradeApp | WARNING] STUDENT-LEVEL: student 'alice', assignment 'ex1-adam-update': "
    "cell 'ex1-run' timed out after 120 s; it was interrupted (0 points if graded), the other "
    "cells were graded",
    "[AutogradeApp | ERROR] Timeout waiting for execute reply (120s).",
    "[AutogradeApp | ERROR] Interrupting kernel",
    "[AutogradeApp | INFO] Sanitizing /c/submitted/bob/ex1-adam-update/ex1-adam-update.ipynb",
    "[AutogradeApp | INFO] Autograding /c/autograded/bob/ex1-adam-update/ex1-adam-update.ipynb",
    "[AutogradeApp | ERROR] Kernel died while waiting for execute reply.",
    "[AutogradeApp | WARNING] STUDENT-LEVEL: student 'bob', assignment 'ex1-adam-update': "
    "cell #11 (no grade_id) ended the kernel (os._exit, a crash, or a killed process); the "
    "notebook was run again without it (it scores 0 if graded), the other cells were graded",
]


def test_student_level_lines_name_the_student_and_do_not_fail():
    result = nbgrader_run.classify(STUDENT_LOG, HIDDEN)
    assert result.failures == [] and result.others == []
    assert [(s, a) for s, a, _ in result.students] == [("alice", "ex1-adam-update"),
                                                       ("bob", "ex1-adam-update")]
    assert "timed out after 120 s" in result.students[0][2]
    assert "ended the kernel" in result.students[1][2]
    looks = nbgrader_run.need_a_look(result.students, [])
    assert looks[0].startswith("alice (ex1-adam-update): cell 'ex1-run' timed out")
    assert looks[1].startswith("bob (ex1-adam-update): cell #11")


def test_nbclient_lines_alone_still_name_the_student():
    """Graded without the course's plugin: nbclient's lines, and the file being graded."""
    log = [line for line in STUDENT_LOG if "STUDENT-LEVEL" not in line]
    result = nbgrader_run.classify(log, HIDDEN)
    assert result.failures == []
    assert {s for s, _, _ in result.students} == {"alice", "bob"}


def test_a_notebook_nbgrader_could_not_grade_names_its_student():
    """nbgrader's ERROR lines when a submission could not be graded at all (it is then
    removed: no score, no feedback) name the student, and still fail the step."""
    log = ["[AutogradeApp | INFO] Sanitizing /c/submitted/bob/ex1/ex1.ipynb",
           "[AutogradeApp | ERROR] There was an error processing assignment: "
           "/c/submitted/bob/ex1",
           "[AutogradeApp | ERROR] Traceback (most recent call last):",
           "    KeyError: 'grade_id'",
           "[AutogradeApp | WARNING] Removing failed assignment: /c/autograded/bob/ex1",
           "[AutogradeApp | ERROR] There was an error processing assignment 'ex1' for "
           "student 'bob'"]
    result = nbgrader_run.classify(log, HIDDEN)
    assert result.failures
    assert {(s, a) for s, a, _ in result.students} == {("bob", "ex1")}
    looks = nbgrader_run.need_a_look(result.students, [])
    assert looks == [f"bob (ex1): {nbgrader_run.CRASH_REASON}"]


def test_a_real_error_during_autograde_still_fails():
    log = STUDENT_LOG + ["[AutogradeApp | ERROR] There was an error processing assignment: "
                         "/c/submitted/bob/ex1-adam-update"]
    assert len(nbgrader_run.classify(log, HIDDEN).failures) == 1


@pytest.mark.parametrize("code, found", [
    ("def f(x):\n    sys.setprofile(None)\n    return helpers.adagrad(0.1)", ["sys.setprofile"]),
    ("exec(compile(inspect.getsource(helpers.adam_update), 'x', 'exec'))",
     ["inspect.getsource", "exec(", "compile("]),
    ("grading.check_adam_moments = lambda *a, **k: 'ok'", ["an assignment to grading.…"]),
    ("helpers.grading.check_x = print", ["an assignment to grading.…",
                                         "an assignment to helpers.…"]),
    ("setattr(grading, 'check_x', print)", ["setattr on grading or helpers"]),
    ("import builtins\nbuiltins.print = len", ["builtins"]),
    ("import os\nos._exit(1)", ["os._exit"]),
    ("exit()", ["exit("]),
    ("quit()", ["quit("]),
    ("import sys\nsys.exit(1)", ["exit("]),
    ("f.__code__ = g.__code__", ["__code__"]),
    ("import importlib\nimportlib.reload(helpers)", ["importlib"]),
    ("from runpy import run_path", ["runpy"]),
    ("print(_hidden)", ["_hidden"]),
    ("sys.modules['helpers.grading'] = None", ["sys.modules"]),
    ("import ctypes", ["ctypes"]),
    # R2's tricks, and what the grading's sandboxes refuse.
    ("import os\nos.chdir('/tmp')", ["chdir"]),
    ("%cd /tmp", ["chdir"]),
    ("import threading\nthreading.Thread(target=print).start()", ["threading", "Thread("]),
    ("import queue\njobs = queue.Queue()", ["queue"]),
    ("from concurrent.futures import ThreadPoolExecutor", ["concurrent"]),
    ("import subprocess\nsubprocess.Popen(['sleep', '9'])", ["subprocess"]),
    ("!sleep 9", ["subprocess"]),
    ("import os\nos.system('ls')", ["subprocess"]),
    ("import multiprocessing", ["multiprocessing"]),
    ("import sys\nsys.path.insert(0, '/c/grader')\nimport hidden_checks as ref",
     ["hidden_checks", "grader"]),
    ("import sqlite3\nsqlite3.connect('../gradebook.db')", ["gradebook", "sqlite3"]),
    ("import tempfile\nfolder = tempfile.mkdtemp()", ["tempfile"]),
    ("from pathlib import Path\nPath('x.py').write_text('y')", ["write_text"]),
    ("get_ipython().set_custom_exc((Exception,), print)", ["get_ipython"]),
    ("import signal\nsignal.signal(signal.SIGALRM, print)", ["signal"]),
    ("grading = Anything()", ["grading ="]),
    ("import numpy as helpers", ["helpers ="]),
    ("def reversed(items):\n    return items", ["a builtin shadowed (reversed)"]),
    ("print = len", ["a builtin shadowed (print)"]),
    ("with open('f.txt', 'w') as handle:\n    handle.write('x')", ["open( with a write mode"]),
    ("open(name, mode)", ["open( with a write mode"]),
    ("getattr(f, '__co' + 'de__')", ["getattr( with a name built at run time"]),
    ("__builtins__['len'] = None", ["builtins"]),
    # Red team round 3: back from an object the grading hands over to its code …
    ("g = getattr(getattr(type(sys.stderr), 'write', None), '__globals__', {})",
     ["__globals__"]),
    ("g = f.__globals__\ng['_close'] = lambda *a, **k: True", ["__globals__"]),
    ("m = sys.stdout.write.__func__", ["__func__"]),
    ("w = sys.getprofile().__self__", ["__self__", "getprofile"]),
    ("[c.cell_contents for c in f.__closure__]", ["__closure__"]),
    ("vars(grading)['check_adam_moments'] = print", ["vars("]),
    # … a process no audit event announces, native code …
    ("import _posixsubprocess as ps\nps.fork_exec([b'/bin/sh'])",
     ["_posixsubprocess", "fork_exec"]),
    ("import _ctypes", ["ctypes"]),
    ("import cffi\nffi = cffi.FFI()", ["cffi"]),
    ("from numba.extending import intrinsic", ["numba"]),
    ("x = np.asarray(Raw())  # Raw has __array_interface__\nRaw.__array_interface__ = {}",
     ["__array_interface__"]),
    # … and another student's submission, copied at grading time.
    ("import io, os\nos.readlink('/proc/%d/cwd' % os.getppid())", ["/proc"]),
    ("f = io.FileIO('_peer.py', 'w')", ["FileIO"]),
    ("for nb in (course / 'submitted').glob('*/ex1/*.ipynb'):\n    pass",
     ["the course's folders (submitted, autograded, …)"]),
    ("if 'autograded' in os.getcwd():\n    pass",
     ["the course's folders (submitted, autograded, …)"]),
    # Red team round 4: links nbgrader would write through, a forged .pyc written by
    # a C-level callable.
    ("import os\nos.symlink('../../../grade' 'book.db', 'ex1.ipynb')",
     ["a link (symlink, os.link)"]),
    ("items = functools.partial(np.frombuffer(pyc, np.uint8).tofile, target)", ["tofile"]),
    ("import py_compile\npy_compile.compile('p.py', cfile='x.pyc')",
     ["py_compile / a .pyc"]),
])
def test_the_audit_finds_code_that_reaches_into_the_grading(code, found):
    assert nbgrader_run.reaches_into_grading(code) == found


@pytest.mark.parametrize("code", [
    "def adam_step(w, g, m, v, t):\n    return w - 0.1 * g, m, v  # no exec( here",
    "pattern = re.compile('a')\nmodel.eval()\nx = grading.check_adam_step(f)",
    "if grading.passes(check) == True:\n    pass",
    "np.add.at(grad, previous, probabilities)\nhelpers_seen = 1",
    "from helpers import grading\nimport helpers\nimport helpers.softmax",
    "text = open('data.txt').read()\nname = getattr(np, 'float64')\ntotal = 0",
    "def adam_step(w, g, m, v, t):\n    threads = 1\n    return w, m, v",
    "variables = {'submission': 1}\nprocess = 'forked'\nself_test = True",
])
def test_the_audit_leaves_ordinary_code_alone(code):
    assert nbgrader_run.reaches_into_grading(code) == []


def _notebook(path: Path, cells):
    nb = nbformat.v4.new_notebook()
    for kind, source, nbgrader in cells:
        cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
            source)
        if nbgrader:
            cell.metadata["nbgrader"] = nbgrader
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


RELEASE = [
    ("markdown", "# Ex", {"grade_id": "intro", "locked": True, "grade": False,
                          "solution": False}),
    ("code", "from helpers import grading", {"grade_id": "setup", "locked": True,
                                             "grade": False, "solution": False}),
    ("code", "def f():\n    raise NotImplementedError()",
     {"grade_id": "f", "locked": False, "grade": False, "solution": True}),
    ("code", "print(grading.check_f(f))", {"grade_id": "f-tests", "locked": True,
                                           "grade": True, "solution": False, "points": 2}),
    ("code", "print(grading.check_g(f))", {"grade_id": "g-tests", "locked": True,
                                           "grade": True, "solution": False, "points": 1}),
]


def test_the_audit_compares_a_submission_with_the_release(tmp_path):
    course = tmp_path / "course"
    _notebook(course / "release" / "ex" / "ex.ipynb", RELEASE)
    honest = [list(cell) for cell in RELEASE]
    honest[2][1] = "def f():\n    return 1"
    _notebook(course / "submitted" / "honest" / "ex" / "ex.ipynb", honest)
    cheat = [list(cell) for cell in RELEASE]
    cheat[2][1] = "import sys\ndef f():\n    sys.setprofile(None)\n    return 1"
    cheat[3][1] = "print('ok')  # the check, edited"
    del cheat[4]                                                   # a test cell deleted
    cheat.append(["code", "grading.check_f = lambda *a: 'ok'\nexit()", None])   # added
    # A copy of a solution cell, and a cell whose metadata says "locked" with a grade_id
    # the release does not have: both are the student's code.
    cheat.append(["code", "import os\nos.chdir('/')", dict(RELEASE[2][2])])
    cheat.append(["code", "import threading", {"grade_id": "mine", "locked": True,
                                               "grade": False, "solution": False}])
    _notebook(course / "submitted" / "cheat" / "ex" / "ex.ipynb", cheat)
    findings = nbgrader_run.audit(course, "ex")
    assert {f.student for f in findings} == {"cheat"}
    by_cell = {f.cell: f.text for f in findings}
    assert "sys.setprofile" in by_cell["f"]
    assert "locked cell was edited" in by_cell["f-tests"]
    assert "deleted" in by_cell["g-tests"] and "puts it back" in by_cell["g-tests"]
    added = by_cell["#5 (no grade_id)"]
    assert "an assignment to grading" in added and "exit(" in added
    assert "chdir" in by_cell["#6 (a copy of 'f')"]
    assert "threading" in by_cell["#7 (grade_id 'mine', not the assignment's)"]
    looks = nbgrader_run.need_a_look([], findings)
    assert len(looks) == 1 and looks[0].startswith("cheat (ex): ")
    assert nbgrader_run.audit(course, "other") == []
    assert nbgrader_run.audit(course, "ex", "honest") == []
    assert nbgrader_run.audit(course, None, "cheat") == findings


def test_a_folder_without_a_course_is_refused(tmp_path, capsys):
    assert nbgrader_run.main([str(tmp_path), "autograde", "ex1-adam-update"]) == 2
    assert "make course" in capsys.readouterr().err
    assert nbgrader_run.main([str(tmp_path)]) == 2


def test_the_assignment_is_read_from_the_command_line():
    assert nbgrader_run._assignment_argument(["autograde", "ex1", "--force"]) == "ex1"
    assert nbgrader_run._assignment_argument(["autograde", "--assignment=ex2"]) == "ex2"
    assert nbgrader_run._assignment_argument(["autograde", "--force"]) is None
    assert nbgrader_run._option(["autograde", "ex1", "--student", "bob"], "student") == "bob"
    assert nbgrader_run._option(["autograde", "ex1", "--student=amy"], "student") == "amy"


def test_a_students_folder_is_created_for_the_students_commands(tmp_path, capsys):
    """fetch_assignment and friends run in a student's folder, which need not exist yet
    (without nbgrader installed, as here, nbgrader itself then fails: not status 2)."""
    folder = tmp_path / "alice"
    assert nbgrader_run.main([str(folder), "list", "--course", "c"]) != 2
    assert folder.is_dir()
    capsys.readouterr()
