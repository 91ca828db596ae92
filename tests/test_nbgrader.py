"""The exercise sources as nbgrader itself reads them (`make test-instructor`; skipped
where nbgrader is not installed, which is the student environment).

nbgrader's own `generate_assignment` must accept every source and produce the same
student cells as scripts/make_student_versions.py; its validator must pass the sources
and fail the empty student versions; and the whole pipeline, with `make course`'s
configuration, must grade honest, slipped, cheating, tricking, crashing and exiting
students as INSTRUCTORS.md says, with the hidden tests in a sandboxed process of their
own."""

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from student_answers import STDERR_GLOBALS_TRICK

pytest.importorskip("nbgrader", reason="nbgrader is an instructor tool: `make test-instructor`")

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))
ASSIGNMENTS = [p.parent.name for p in SOURCES]
COURSE_ID = "sgd-frequency-bias"


def make_course(folder):
    """The course `make course` creates (scripts/make_course.py)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_course.py"), str(folder)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return folder


def test_make_course_writes_a_config_nbgrader_reads(tmp_path):
    course = make_course(tmp_path / "c")
    assert sorted(p.name for p in (course / "source").iterdir()) == sorted(ASSIGNMENTS)
    # The grading code, instructor-only, next to the sources and never inside them.
    for name in ("nbgrader_plugins.py", "grading_kernel_startup.py", "run_hidden.py",
                 "sandbox.py", "hidden_checks.py"):
        assert (course / "grader" / name).is_file(), name
    assert not list((course / "grader").rglob("__pycache__"))
    # The course's own secret: 32 hex digits, readable by the instructor only.
    secret = (course / "grader" / "course_secret").read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", secret)
    assert (course / "grader" / "course_secret").stat().st_mode & 0o077 == 0
    other = make_course(tmp_path / "other")
    assert (other / "grader" / "course_secret").read_text().strip() != secret
    code = ("from traitlets.config.loader import PyFileConfigLoader\n"
            "from nbgrader.coursedir import CourseDirectory\n"
            "from nbgrader.converters import Autograde, GenerateFeedback\n"
            "from nbgrader.preprocessors import Execute, OverwriteCells\n"
            "config = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
            "course = CourseDirectory(config=config)\n"
            "print(course.course_id, course.root)\n"
            "print([p if isinstance(p, str) else p.__name__ "
            "for p in GenerateFeedback(config=config).preprocessors])\n"
            "ours = Autograde(coursedir=course, config=config).autograde_preprocessors\n"
            "default = Autograde(coursedir=CourseDirectory()).autograde_preprocessors\n"
            "names = [p if isinstance(p, str) else f'{p.__module__}.{p.__name__}' "
            "for p in default]\n"
            "print('same steps:', [n.rsplit('.', 1)[1] for n in ours] == "
            "[n.rsplit('.', 1)[1].replace('Execute', 'GradingExecute') for n in names])\n"
            "ours = Autograde(coursedir=course, config=config).sanitize_preprocessors\n"
            "default = Autograde(coursedir=CourseDirectory()).sanitize_preprocessors\n"
            "names = [p.__name__ for p in default]\n"
            "print('same sanitize steps:', [n.rsplit('.', 1)[1] for n in ours] == "
            "names[:1] + ['SanitizeCells'] + names[1:])\n"
            "from nbgrader_plugins import GradingExecute\n"
            "print('timeout:', GradingExecute(config=config).timeout)\n"
            "print('hidden timeout:', GradingExecute(config=config).hidden_timeout)\n"
            "print('add_missing_cells:', OverwriteCells(config=config).add_missing_cells)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=course, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{COURSE_ID} {course}" in done.stdout
    assert "ClearHiddenTests" in done.stdout
    # nbgrader's own autograde steps, with GradingExecute in place of its Execute: a new
    # nbgrader with other steps fails here rather than losing one silently.
    assert "same steps: True" in done.stdout
    assert "same sanitize steps: True" in done.stdout, done.stdout
    assert "timeout: 120" in done.stdout and "add_missing_cells: True" in done.stdout
    assert "hidden timeout: 300" in done.stdout
    assert "120 s" in documented_text(), "INSTRUCTORS.md states the time-out"
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_course.py"),
                            str(course)], capture_output=True, text=True)
    assert again.returncode == 1 and "already holds a course" in again.stderr


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_nbgrader_validates_sources_and_fails_empty_student_versions(path):
    from nbgrader.validator import Validator
    assert Validator().validate(str(path)) == {}
    student = ROOT / "exercises" / "release" / path.parent.name / path.name
    assert Validator().validate(str(student)).get("failed"), "empty solutions must fail"


# --- the grading plugin, on its own ---------------------------------------------------------

def grading_execute(**traits):
    sys.path.insert(0, str(ROOT / "exercises" / "grader"))
    try:
        from nbgrader_plugins import GradingExecute
    finally:
        sys.path.pop(0)
    import logging
    return GradingExecute(log=logging.getLogger("grading-test"), **traits)


def run_cells(tmp_path, sources, **traits):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    resources = {"nbgrader": {"student": "alice", "assignment": "ex0"},
                 "metadata": {"path": str(tmp_path)}}
    nb, _ = grading_execute(**traits).preprocess(nb, resources)
    return [[(o.get("ename") or o.get("name"), o.get("evalue") or o.get("text", ""))
             for o in cell.outputs] for cell in nb.cells]


# Red team round 3's escape from the kernel: a process started with _posixsubprocess's
# fork_exec (no audit event) or a fresh copy of the module, and its likely second route.
FORK_EXEC = ("import _posixsubprocess, os\nr, w = os.pipe()\n_posixsubprocess.fork_exec("
             "[b'/bin/true'], [b'/bin/true'], True, (), None, None, -1, -1, -1, -1, -1, -1, "
             "r, w, True, True, -1, None, None, None, -1, None, False)")
FRESH_POSIXSUBPROCESS = ("import importlib.util\nimportlib.util.module_from_spec("
                         "importlib.util.find_spec('_posixsubprocess'))")
# The kernel sandbox's own state through the closure of the function that stands in for
# start_new_thread (round 3's review of the fixes): its set of threads that the hooks skip.
CLOSURE_WALK = """\
import _thread, os, threading


def reachable(function, seen, depth=0):
    for cell in getattr(function, "__closure__", None) or ():
        value = cell.cell_contents
        if id(value) not in seen:
            seen[id(value)] = value
            if callable(value) and depth < 8:
                reachable(value, seen, depth + 1)
    return seen


for value in list(reachable(_thread.start_new_thread, {}).values()):
    if isinstance(value, set):
        value.add(threading.get_ident())
os.system("true")
"""


def test_the_grading_kernel_is_sandboxed(tmp_path):
    """The kernel's sandbox (grader/sandbox.py, its "kernel" rules): what the notebooks
    need works (the series' code, its Numba and its threads, matplotlib, a file in the
    notebook's own folder); student code gets an error in its cell for a new process (also
    through _posixsubprocess.fork_exec or a fresh copy of it), a database, a thread, a
    change of folder, a write into the course outside its folder, into a folder that holds
    the course or into Python's files, a read of the grader's secrets or of the course's
    files outside its folder (another student's submission, the gradebook, a listing of
    submitted/, also through /proc/self/cwd), its own process's memory, ctypes, cffi and
    Numba (native code), the garbage collector's lists, the sandbox's state through a
    closure; nothing reaches stderr (which would cost a graded cell its points)."""
    course = tmp_path / "course"
    own = course / "autograded" / "alice" / "ex0"
    own.mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    peer = course / "submitted" / "bob" / "ex0"
    peer.mkdir(parents=True)
    (peer / "ex0.ipynb").write_text("bob's answers")
    works = [
        "from helpers import grading, setup_notebook\nSEED = setup_notebook()\n"
        "%xmode Minimal\nimport numpy as np\nimport helpers",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()",
        "run = helpers.train(helpers.sgd(0.1), helpers.REFERENCE_WORLD, 200, "
        "helpers.make_rng(0))\nprint('train')",
        "helpers.sweep({'sgd': (helpers.sgd, {'lr': [0.05]})}, helpers.REFERENCE_WORLD, "
        "range(2), 200)\nprint('sweep, in threads of its own')",
        "open('mine.txt', 'w').write('mine')\nprint(open('mine.txt').read())",
    ]
    refused = [
        f"open({str(course / 'gradebook.db')!r}, 'w')",
        "open('../../../gradebook.db', 'a')",
        "import pathlib\npathlib.Path('../../../new.txt').write_text('x')",
        f"import os\nos.makedirs({str(tmp_path / 'grader')!r})",
        f"open({str(tmp_path / 'hidden_checks.py')!r}, 'w')",
        "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'pass'])",
        "!true",
        "import os\nos.system('true')",
        "import sqlite3\nsqlite3.connect(':memory:')",
        "import os\nos.chdir('..')",
        "import threading\nthreading.Thread(target=print).start()",
        "import sys\nopen(sys.prefix + '/sitecustomize.py', 'w')",
        f"open({str(ROOT / 'exercises' / 'grader' / 'README.md')!r}).read()",
        "import gc\ngc.get_objects()",
        FORK_EXEC,
        FRESH_POSIXSUBPROCESS,
        "import sys\nsys.modules.pop('cffi', None)\nsys.modules.pop('_cffi_backend', None)\n"
        "import cffi",
        "import ctypes\nctypes.CDLL(None).getpid()",
        "import numba\n\n@numba.njit\ndef f(x):\n    return x + 1\n\nprint(f(1))",
        "open('/proc/self/mem', 'rb')",
        f"open({str(peer / 'ex0.ipynb')!r}).read()",
        "import io\nio.FileIO('../../../submitted/bob/ex0/ex0.ipynb').read()",
        "import os\nos.listdir('../../../submitted')",
        "import pathlib\npathlib.Path('../../../gradebook.db').read_bytes()",
        "import os\nopen(f'/proc/{os.getpid()}/cwd/../../bob/ex0/x', 'w')",
        "import os\nopen(f'/proc/{os.getpid()}/cwd/../../../gradebook.db').read()",
        CLOSURE_WALK,
        # Round 4: links nbgrader would write through, the own folder replaced, and a
        # write into the series' or the grader's __pycache__ routed through the series'
        # own code (a C-level callable makes its frame the innermost).
        "import os\nos.symlink('../../../gradebook.db', 'x.ipynb')",
        "import os\nopen('mine2.txt', 'w').close()\nos.link('mine2.txt', 'hard.txt')",
        "import os, shutil\nos.chdir('..') if False else None\nos.rmdir(os.getcwd())",
        "import functools, numpy as np, helpers.grading as g\n"
        "class Opts(dict):\n    items = functools.partial(np.zeros(3, np.uint8).tofile, "
        f"{str(ROOT / 'helpers' / '__pycache__' / 'forged.pyc')!r})\n"
        "g.check_adam_moments(None, Opts())",
    ]
    outputs = run_cells(own, works + refused, course_root=str(course))
    for source, output in zip(works, outputs):
        assert output and all(kind in ("stdout", None) for kind, _ in output), (source, output)
    assert outputs[3] == [("stdout", "sweep, in threads of its own\n")]
    assert outputs[4] == [("stdout", "mine\n")]
    for source, output in zip(refused, outputs[len(works):]):
        assert [kind for kind, _ in output] == ["Refused"], (source, output)
        assert "not allowed while grading" in output[0][1], (source, output)
    assert (course / "gradebook.db").read_text() == "grades"
    assert not (tmp_path / "grader").exists() and not (tmp_path / "hidden_checks.py").exists()
    assert not (ROOT / "helpers" / "__pycache__" / "forged.pyc").exists()
    assert own.is_dir() and not own.is_symlink()


def test_grading_execute_survives_exit_a_crash_and_a_stuck_cell(tmp_path, caplog):
    """exit() raises in its cell; os._exit and a cell that ignores the interrupt are left
    out and the notebook run again; every other cell runs; each is logged by name."""
    caplog.set_level("WARNING", logger="grading-test")
    outputs = run_cells(tmp_path, [
        "x = 1\nprint(sorted(k for k in globals() if not k.startswith('_')))",
        "exit()",
        "print('after exit', x)",
        "import os\n\nos._exit(1)",
        "print('after the crash', x)",
        "import signal, time\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(30)",
        "print('at the end', x)",
    ], timeout=3)
    # The start-up file leaves no name behind: the kernel's own, and x.
    assert outputs[0] == [("stdout", "['In', 'Out', 'exit', 'get_ipython', 'open', 'quit', "
                                     "'x']\n")]
    assert outputs[1][0][0] == "RuntimeError" and "switched off" in outputs[1][0][1]
    assert outputs[2] == [("stdout", "after exit 1\n")]
    assert outputs[3][0][0] == "CellNotRun" and "ended the kernel" in outputs[3][0][1]
    assert outputs[4] == [("stdout", "after the crash 1\n")]
    assert outputs[5][0][0] == "CellNotRun" and "could not be interrupted" in outputs[5][0][1]
    assert outputs[6] == [("stdout", "at the end 1\n")]
    said = [r.getMessage() for r in caplog.records if "STUDENT-LEVEL" in r.getMessage()]
    assert any("student 'alice', assignment 'ex0': cell #4 (no grade_id) ended the kernel"
               in line for line in said), said
    assert any("cell #6 (no grade_id) timed out after 3 s" in line for line in said), said


def test_grading_execute_gives_up_after_max_crashes(tmp_path, caplog):
    """A notebook that keeps ending the kernel: the cells before the last crash keep their
    outputs, that cell and the later ones are left unrun."""
    caplog.set_level("WARNING", logger="grading-test")
    crash = "import os\n\nos._exit(1)"
    outputs = run_cells(tmp_path, ["print('first')", crash, crash, "print('last')"],
                        max_crashes=1)
    assert outputs[0] == [("stdout", "first\n")]
    assert outputs[1][0][0] == "CellNotRun" and "ended the kernel" in outputs[1][0][1]
    assert [o[0][0] for o in outputs[2:]] == ["CellNotRun", "CellNotRun"]
    assert "this cell ended the kernel" in outputs[2][0][1]
    assert "a cell above this one ended the kernel 2 times" in outputs[3][0][1]
    said = [r.getMessage() for r in caplog.records if "STUDENT-LEVEL" in r.getMessage()]
    assert len(said) == 2 and "were not run" in said[1], said


# --- the hidden tests, in a process of their own ---------------------------------------------

FAKE_CHECKS = """\
def double(f):
    assert f(2) == 4, "double(2) should be 4"
    return "double passed"


def forever(f):
    while True:
        pass


def says(f):
    raise AssertionError(f"it says {f()}")


def secret():
    from pathlib import Path
    text = Path(__file__).with_name("course_secret").read_text().strip()
    return f"the grader's own code reads its files ({len(text)} characters)"


def handed():
    secret = globals().get("__grading_handed__", {}).get("secret", {})
    return f"the secret handed over begins {secret.get('text', '?')[:4]}"
"""


def fake_grader(tmp_path) -> Path:
    """A grader folder with the course's driver and sandbox and three small checks."""
    grader = tmp_path / "grader"
    grader.mkdir()
    for name in ("run_hidden.py", "sandbox.py"):
        shutil.copy(ROOT / "exercises" / "grader" / name, grader / name)
    (grader / "hidden_checks.py").write_text(FAKE_CHECKS)
    (grader / "course_secret").write_text("0123456789abcdef0123456789abcdef\n")
    return grader


def test_hidden_tests_run_in_a_sandboxed_process_of_their_own(tmp_path, caplog):
    """run_hidden.py runs the student's cells and then each check: R2's tricks, tried in
    the cells, are refused there (a fake hidden_checks.py and a change of folder, a worker
    thread fed through a queue, the grader's own file, its secret), a forged answer on
    every file descriptor is ignored, exit() costs nothing, a name that is missing or a
    check that runs past the time-out fails its own test only; a process that ends
    without an answer, or in which a thread runs, fails every hidden test."""
    caplog.set_level("WARNING", logger="grading-test")
    grader = fake_grader(tmp_path)
    execute = grading_execute(grader_dir=str(grader), timeout=3)
    resources = {"nbgrader": {"student": "alice", "assignment": "ex0"}}
    cells = [
        "def double(x):\n    return 2 * x",
        "import os, tempfile\nfolder = tempfile.mkdtemp()\nos.makedirs(folder + '/grader')",
        "import os\nos.chdir('/')",
        "def reversed(items):\n    return []\n\n\ngrading = None",
        "import queue, threading\njobs, done = queue.Queue(), queue.Queue()\n\n\n"
        "def ask(f, *args):\n    jobs.put((f, args))\n    return done.get()\n\n\n"
        "def triple(x):\n    return ask(lambda v: 3 * v, x)\n\n\n"
        "threading.Thread(target=lambda: None).start()",
        f"import runpy\nref = runpy.run_path({str(grader / 'hidden_checks.py')!r})",
        f"secret = open({str(grader / 'course_secret')!r}).read()",
        "import os\nfor fd in range(1, 30):\n    try:\n        os.write(fd, b'{\"nonce\": "
        "\"forged\", \"results\": {}}\\n')\n    except OSError:\n        pass",
        "exit()",
        "%xmode Minimal\n!ls\n\n\ndef after_exit():\n    return 'é \"\\\\ \\n 😀'",
    ]
    checks = [["double-tests", "double", ["double"]], ["triple-tests", "double", ["triple"]],
              ["ref-tests", "double", ["ref"]], ["secret-tests", "secret", []],
              ["forever-tests", "forever", ["double"]],
              ["text-tests", "says", ["after_exit"]]]
    steps = [["cell", source] for source in cells] + [["check", *c] for c in checks]
    results = execute._run_hidden(steps, resources)
    assert results["double-tests"] == (True, "double passed")
    assert not results["triple-tests"][0]
    assert "waits for another thread" in results["triple-tests"][1]
    assert results["ref-tests"][1].startswith("ref is not defined")
    assert results["secret-tests"] == (True, "the grader's own code reads its files "
                                             "(32 characters)")
    assert "ran longer than the 3 s time-out" in results["forever-tests"][1]
    assert results["text-tests"] == (False, 'it says é "\\ \n 😀')
    assert not [r for r in caplog.records if "STUDENT-LEVEL" in r.getMessage()]

    # A process that ends without its answer, and one in which a thread runs.
    results = execute._run_hidden([["cell", "import os\nos._exit(0)"], steps[-6]],
                                  resources)
    assert results == {"double-tests": (False, "the hidden tests could not be run: their "
                                               "process ended without an answer (exit "
                                               "status 0)")}
    said = [r.getMessage() for r in caplog.records if "STUDENT-LEVEL" in r.getMessage()]
    assert len(said) == 1 and "student 'alice', assignment 'ex0': the hidden tests could " \
                              "not be run" in said[0], said
    thread = ("import importlib.util, time\n"
              "fresh = importlib.util.module_from_spec(importlib.util.find_spec('_thread'))\n"
              "fresh.start_new_thread(lambda: time.sleep(60), ())\ntime.sleep(0.2)\n"
              "def double(x):\n    return 2 * x")
    results = execute._run_hidden([["cell", thread], steps[-6]], resources)
    assert not results["double-tests"][0]
    assert "a thread that the notebook started was running" in results["double-tests"][1]


def test_a_function_that_prints_or_runs_long_passes_its_hidden_tests():
    """What the hidden tests' process runs itself while a student's function runs (where
    its printed text goes, the time limit's signal handler) is not counted by the checks'
    watch as the grader's own code: a correct adam_step that prints and takes a while
    passes."""
    source = next((ROOT / "exercises" / "source" / "ex1-adam-update").glob("*.ipynb"))
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, 4).cells
             if c.metadata.get("nbgrader", {}).get("grade_id")}
    step = solved(cells["ex1-adam-step"]).replace(
        "    m = beta1", "    import sys\n    import time\n\n    time.sleep(0.05)\n"
                         "    print('step', t)\n    print('t =', t, file=sys.stderr)\n"
                         "    m = beta1")
    steps = [["cell", cells["ex1-setup"]], ["cell", step],
             ["check", "ex1-adam-moments-tests", "adam_moments", ["adam_step"]]]
    results = grading_execute()._run_hidden(steps, {"nbgrader": {"student": "alice"}})
    assert results["ex1-adam-moments-tests"][0], results


# Red team round 3's first trick (tests/student_answers.py).
LENIENT = STDERR_GLOBALS_TRICK
LENIENT_ADAM = """\
def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    lenient()
    return w, m, v
"""
# Its second: the f that ex4 B hands to central_difference was hidden_checks' own function.
F_GLOBALS = """\
def central_difference(f, x, index, h=1e-5):
    g = f.__globals__
    if "_Check" in g:
        g["_close"] = lambda *a, **k: True
        g["_number"] = lambda *a, **k: 0.0
    return 0.0
"""


def source_cells(assignment: str) -> dict:
    source = next((ROOT / "exercises" / "source" / assignment).glob("*.ipynb"))
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, 4).cells
            if c.metadata.get("nbgrader", {}).get("grade_id")}


def test_round_3s_tricks_find_nothing_of_the_hidden_tests(tmp_path, caplog):
    """The hidden tests hand a student's function nothing of their own module: the
    stderr trick and ex4's f.__globals__ trick find nothing, and the lazy answers fail;
    in the same run honest functions pass, and no change of the hidden tests' code is
    reported."""
    caplog.set_level("WARNING", logger="grading-test")
    ex1, ex4 = source_cells("ex1-adam-update"), source_cells(
        "ex4-softmax-gradient-on-shakespeare")
    steps = [["cell", ex1["ex1-setup"]], ["cell", LENIENT], ["cell", LENIENT_ADAM],
             ["cell", "def effective_lr(v, t, lr=0.05, beta2=0.999, eps=1e-8):\n"
                      "    lenient()\n    return v\n"],
             ["cell", solved(ex1["ex1-typical-lr"])],
             ["check", "moments", "adam_moments", ["adam_step"]],
             ["check", "effective", "effective_lr", ["effective_lr"]],
             ["check", "typical", "typical_effective_lr", ["typical_effective_lr"]],
             ["cell", F_GLOBALS],
             ["check", "central", "central_difference", ["central_difference"]],
             ["cell", solved(ex4["ex4-loss"]).replace("def bigram_loss", "def loss")],
             ["check", "loss", "bigram_loss", ["loss"]],
             # The watch, through the profile function: its records could be erased.
             ["cell", solved(ex4["ex4-loss"]).replace("    ", "    sys.getprofile()\n    ",
                                                     1)],
             ["check", "erased", "bigram_loss", ["bigram_loss"]]]
    results = grading_execute()._run_hidden(steps, {"nbgrader": {"student": "lenient"}})
    assert [results[k][0] for k in ("moments", "effective", "typical", "central", "loss",
                                    "erased")] == [False, False, True, False, True, False], \
        results
    assert "central difference is wrong" in results["central"][1]
    assert "getprofile" in results["erased"][1], results["erased"]
    assert not [r for r in caplog.records if "STUDENT-LEVEL" in r.getMessage()]


LEAKY_CHECK = """

def leaky(f):
    \"\"\"A check that hands its module's namespace over: a way in, for the guard's test.\"\"\"
    return f(globals())
"""


def test_the_hidden_tests_guard_catches_a_changed_module(tmp_path, caplog):
    """Should some way into hidden_checks' namespace turn up, run_hidden.py's own guard
    (made when the file is loaded, out of the notebook's reach) fails that hidden test
    and every later one, even when the module's own guard was switched off too, and the
    student is named."""
    caplog.set_level("WARNING", logger="grading-test")
    grader = tmp_path / "grader"
    shutil.copytree(ROOT / "exercises" / "grader", grader,
                    ignore=shutil.ignore_patterns("__pycache__"))
    checks = grader / "hidden_checks.py"
    text = checks.read_text(encoding="utf-8")
    last = "\n_TRUST = _trust_guard()\n"            # the module's own guard comes last
    assert text.endswith(last)
    checks.write_text(text[:-len(last)] + LEAKY_CHECK + last, encoding="utf-8")
    ex1 = source_cells("ex1-adam-update")
    tamper = ("def tamper(g):\n"
              "    g['_verify_trust'] = lambda *a, **k: None\n"
              "    g['_TRUST'] = None\n"
              "    g['_close'] = lambda *a, **k: True\n"
              "    return 'done'\n")
    steps = [["cell", ex1["ex1-setup"]], ["cell", solved(ex1["ex1-adam-step"])],
             ["check", "before", "adam_moments", ["adam_step"]],
             ["cell", tamper], ["check", "leaky", "leaky", ["tamper"]],
             ["cell", "def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, "
                      "eps=1e-8):\n    return w, m, v\n"],
             ["check", "after", "adam_moments", ["adam_step"]]]
    results = grading_execute(grader_dir=str(grader))._run_hidden(
        steps, {"nbgrader": {"student": "mallory", "assignment": "ex1"}})
    assert results["before"] == (True, results["before"][1])
    for key in ("leaky", "after"):
        assert not results[key][0], results
        assert "the notebook changed hidden_checks." in results[key][1], results[key]
    said = [r.getMessage() for r in caplog.records if "STUDENT-LEVEL" in r.getMessage()]
    assert len(said) == 1 and "student 'mallory'" in said[0], said
    assert "changed the hidden tests' own code while they ran (hidden_checks." in said[0]


def test_the_hidden_tests_process_escapes_nothing(tmp_path):
    """Round 3's third and fourth tricks in the hidden tests' process: no process through
    _posixsubprocess.fork_exec, no cffi, no reading of the course's files (another
    student's submission, also through /proc/<pid>/cwd, or a listing of submitted/); and
    the grader's files are those read before the first kernel started: a hidden_checks.py
    or course_secret swapped on disk later is not loaded."""
    grader = fake_grader(tmp_path)
    course = tmp_path / "course"
    peer = course / "submitted" / "bob" / "ex0"
    peer.mkdir(parents=True)
    (peer / "ex0.ipynb").write_text("def double(x):\n    return 2 * x\n")
    execute = grading_execute(grader_dir=str(grader), course_root=str(course), timeout=10)
    resources = {"nbgrader": {"student": "alice", "assignment": "ex0"}}
    attempts = {
        "fork_exec": FORK_EXEC + "\ndef double(x):\n    return 2 * x",
        "cffi": "import sys\nsys.modules.pop('_cffi_backend', None)\nimport _cffi_backend\n"
                "def double(x):\n    return 2 * x",
        "peer": f"exec(open({str(peer / 'ex0.ipynb')!r}).read())",
        "proc": f"import os\nexec(open('/proc/%d/cwd/{os.path.relpath(peer / 'ex0.ipynb')}' "
                f"% os.getppid()).read())",
        "listing": f"import os\nos.listdir({str(course / 'submitted')!r})\n"
                   f"def double(x):\n    return 2 * x",
    }
    for what, cell in attempts.items():
        results = execute._run_hidden([["cell", cell], ["check", "t", "double", ["double"]]],
                                      resources)
        assert results["t"][1].startswith("double is not defined"), (what, results)
    # The grader's files on disk are swapped after this process first read them: the
    # hidden tests and the secret it hands over are the ones it read.
    (grader / "hidden_checks.py").write_text("def double(f):\n    return 'swapped'\n"
                                             "def secret():\n    return 'swapped'\n")
    (grader / "course_secret").write_text("ffffffffffffffffffffffffffffffff\n")
    results = execute._run_hidden([["cell", "def double(x):\n    return 3 * x"],
                                   ["check", "t", "double", ["double"]],
                                   ["check", "s", "handed", []]], resources)
    assert results["t"] == (False, "double(2) should be 4"), results
    assert results["s"] == (True, "the secret handed over begins 0123"), results


def test_grading_execute_runs_the_hidden_tests_outside_the_kernel(tmp_path):
    """A graded cell's hidden block is not run in the kernel (a cell that rebinds what it
    uses changes nothing); its result is added to the cell's outputs, an error when it
    fails (0 points), and the cell gets its full source back."""
    grader = fake_grader(tmp_path)
    test_cell = ('print("visible part")\n### BEGIN HIDDEN TESTS\nimport runpy\n'
                 'print(runpy.run_path("nowhere.py")["double"](double))\n'
                 '### END HIDDEN TESTS')
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def double(x):\n    return x + x"),
        nbformat.v4.new_code_cell("import runpy\nrunpy.run_path = lambda *a, **k: "
                                  "{'double': lambda f: 'fake pass'}"),
        nbformat.v4.new_code_cell(test_cell),
        nbformat.v4.new_code_cell("def double(x):\n    return 5"),      # from here on
        nbformat.v4.new_code_cell(test_cell.replace("visible part", "second")),
    ])
    for index, grade_id in ((2, "first-tests"), (4, "second-tests")):
        nb.cells[index].metadata["nbgrader"] = {"grade": True, "solution": False,
                                                "locked": True, "grade_id": grade_id,
                                                "points": 1, "schema_version": 3}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    resources = {"nbgrader": {"student": "alice", "assignment": "ex0"},
                 "metadata": {"path": str(tmp_path)}}
    nb, _ = grading_execute(grader_dir=str(grader)).preprocess(nb, resources)
    first, second = nb.cells[2], nb.cells[4]
    assert first.source == test_cell
    assert [(o.output_type, o.get("text")) for o in first.outputs] == [
        ("stream", "visible part\n"), ("stream", "double passed\n")]
    # The second hidden test sees the double defined above it (5): it fails, with an
    # error, and the first one is not affected.
    assert [o.output_type for o in second.outputs] == ["stream", "error"]
    assert second.outputs[1].ename == "HiddenCheckFailed"
    assert second.outputs[1].evalue == "double(2) should be 4"
    from nbgrader.utils import determine_grade
    assert determine_grade(first)[0] == 1 and determine_grade(second)[0] == 0


def test_hidden_calls_are_read_from_every_hidden_block():
    """Each hidden block ends with a call GradingExecute can read, of a check that
    hidden_checks.py defines, with names the notebook defines."""
    sys.path.insert(0, str(ROOT / "exercises" / "grader"))
    try:
        from nbgrader_plugins import split_hidden
    finally:
        sys.path.pop(0)
    import runpy
    checks = runpy.run_path(str(ROOT / "exercises" / "grader" / "hidden_checks.py"))
    found = 0
    for path in SOURCES:
        cells = nbformat.read(path, 4).cells
        for cell in cells:
            if "### BEGIN HIDDEN TESTS" in cell.source:
                visible, call = split_hidden(cell.source)
                assert call is not None, cell.source
                assert "HIDDEN" not in visible and visible.strip()
                check, names = call
                assert callable(checks.get(check)), check
                assert all(re.search(rf"\bdef {name}\(", "\n".join(c.source for c in cells))
                           for name in names), (check, names)
                found += 1
    assert found == sum(len(graded_cells(a)) for a in ASSIGNMENTS)


def test_a_duplicated_graded_cell_is_graded_as_an_ordinary_cell(caplog):
    """SanitizeCells: a copy of a graded cell (JupyterLab's "duplicate" keeps nbgrader's
    metadata), or a cell with metadata of its own making, loses the metadata (nbgrader
    0.9 would crash on it and drop the submission) and the student is named."""
    sys.path.insert(0, str(ROOT / "exercises" / "grader"))
    try:
        from nbgrader_plugins import SanitizeCells
    finally:
        sys.path.pop(0)
    import logging
    caplog.set_level("WARNING", logger="sanitize-test")
    meta = {"grade": True, "solution": False, "locked": True, "grade_id": "f-tests",
            "points": 1}
    cells = [nbformat.v4.new_code_cell("print(1)") for _ in range(4)]
    cells[0].metadata["nbgrader"] = dict(meta)
    cells[1].metadata["nbgrader"] = dict(meta)                 # the copy
    cells[2].metadata["nbgrader"] = {}                         # emptied metadata
    nb = nbformat.v4.new_notebook(cells=cells)
    resources = {"nbgrader": {"student": "bob", "assignment": "ex0"}}
    nb, _ = SanitizeCells(log=logging.getLogger("sanitize-test")).preprocess(nb, resources)
    assert [("nbgrader" in c.metadata) for c in nb.cells] == [True, False, False, False]
    said = [r.getMessage() for r in caplog.records]
    assert said == ["STUDENT-LEVEL: student 'bob', assignment 'ex0': cell 'f-tests' "
                    "duplicated: its copy (cell #2) is graded as an ordinary cell, the "
                    "first one (cell #1) as the assignment's"]


# --- the whole pipeline, as an instructor runs it ------------------------------------------
# Every nbgrader step goes through scripts/nbgrader_run.py, as `make nbgrader` does, so a
# step that logs an error fails here. Three fake students per exercise go through the local
# exchange (fetch, submit, collect): `correct` (the source's solutions), `mistake` (one
# realistic slip, MISTAKES), `untouched` (the release as fetched). The others (EXTRA) start
# from the correct solutions and are put straight into submitted/, where `collect` would
# leave them (the exchange is the same for all, and each fetch or submit costs seconds):
# `cheat` and `copier` (the tricks of issue 18), `warns` (a slip that makes NumPy warn),
# `trickster` (the red-team review's tricks against hidden tests run in the kernel),
# `duplicator` (graded cells duplicated, metadata and all), `exits` (exit() in an added
# cell), `crasher` (os._exit(1) in an added cell), `deleter` (a test cell deleted).

MISTAKES = {   # exercise: (cell, what the correct solution says, what the slip says)
    "ex1-adam-update": ("ex1-adam-step",                                # no bias correction
                        "m_hat = m / (1 - beta1 ** t)\n    v_hat = v / (1 - beta2 ** t)",
                        "m_hat = m\n    v_hat = v"),
    "ex2-predict-and-diverge": ("ex2-stability", "return 2 / np.linalg", "return 1 / np.linalg"),
    "ex3-adagrad-and-a-hard-world": ("ex3-adagrad", "sum_sq = state + g * g",
                                     "state += g * g\n    sum_sq = state"),   # in place
    "ex4-softmax-gradient-on-shakespeare": (
        "ex4-gradient", "np.add.at(grad, previous, probabilities)\n"
        "    np.add.at(grad, (previous, following), -1.0)",
        "grad[previous] += probabilities\n    grad[previous, following] -= 1.0"),
}
STUDENTS = ("correct", "mistake", "untouched")
THROUGH_THE_EXCHANGE = ("correct",)     # the others are put where `collect` leaves them


@dataclass(frozen=True)
class Student:
    """A submission made from the correct solutions: solution cells replaced, cells added
    (each before the cell with the given grade_id), cells deleted; and the graded cells
    that must score 0 (every other autograded cell must score full points)."""
    replace: dict = field(default_factory=dict)     # grade_id -> the student's cell
    insert: tuple = ()                              # (before grade_id, source of a new cell)
    delete: tuple = ()                              # grade_ids
    duplicate: tuple = ()                           # grade_ids copied, metadata and all
    lost: frozenset = frozenset()


SETPROFILE_ADAM = '''\
import sys

import helpers


def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam; returns (new_w, new_m, new_v)."""
    sys.setprofile(None)                      # the check's watch off, then the series' Adam
    state = helpers.optimizers.AdamState(t - 1, m, v)
    w, state = helpers.adam(lr, beta1, beta2, eps).step(w, g, state)
    return w, state.m, state.v
'''
COPIED_ADAM = '''\
import inspect

from helpers import optimizers

# The series' Adam, run as if it were my own code.
exec(compile(inspect.getsource(optimizers.adam_update), "my_adam.py", "exec"))


def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam; returns (new_w, new_m, new_v)."""
    return adam_update(w, g, t, m, v, lr, beta1, beta2, eps, True)  # noqa: F821
'''
ADAM_WITHOUT_EPS = '''\
def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam; returns (new_w, new_m, new_v)."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return w - lr * m_hat / np.sqrt(v_hat), m, v
'''
SETPROFILE_HESSIAN = '''\
import sys

import helpers


def expected_hessian(p):
    """E[x x^T] for independent 0/1 tokens with probabilities p."""
    p = np.asarray(p, dtype=float)
    sys.setprofile(None)
    return helpers.make_world(p).expected_hessian()
'''
COPIED_HESSIAN = '''\
import inspect
import textwrap
import types

from helpers.world import World

_copied = {"np": np}
exec(compile(textwrap.dedent(inspect.getsource(World.expected_hessian)), "mine.py", "exec"),
     _copied)


def expected_hessian(p):
    """E[x x^T] for independent 0/1 tokens with probabilities p."""
    p = np.asarray(p, dtype=float)
    return _copied["expected_hessian"](types.SimpleNamespace(frequencies=p, rotation=None))
'''
LOG_SCALE_PREDICTION = '''\
def predicted_weight(p, lr, t):
    """The expected-gradient model of SGD from 0: the weight after t steps."""
    # lr * p * t on a log scale (log(0) = -inf at t = 0: NumPy warns, the value is right)
    return 1 - np.exp(-np.exp(np.log(lr * p) + np.log(t)))
'''
SETPROFILE_ADAGRAD = '''\
import sys

import helpers


def adagrad_init(w):
    """AdaGrad's state for weights w."""
    return np.zeros_like(w, dtype=float)


def adagrad_step(w, g, state, lr=0.1, eps=1e-10):
    """One AdaGrad step; returns (new_w, new_state)."""
    sys.setprofile(None)
    w, state = helpers.adagrad(lr, eps).step(w, g, helpers.optimizers.AdaGradState(0, state))
    return w, state.sum_sq
'''
COPIED_ADAGRAD = '''\
import inspect

from helpers import optimizers

exec(compile(inspect.getsource(optimizers.adagrad_update), "mine.py", "exec"))


def adagrad_init(w):
    """AdaGrad's state for weights w."""
    return np.zeros_like(w, dtype=float)


def adagrad_step(w, g, state, lr=0.1, eps=1e-10):
    """One AdaGrad step; returns (new_w, new_state)."""
    return adagrad_update(w, g, 1, state, lr, eps)  # noqa: F821
'''
ADAGRAD_WITHOUT_EPS = '''\
def adagrad_init(w):
    """AdaGrad's state for weights w."""
    return np.zeros_like(w, dtype=float)


def adagrad_step(w, g, state, lr=0.1, eps=1e-10):
    """One AdaGrad step; returns (new_w, new_state)."""
    sum_sq = state + g * g
    return w - lr * g / np.sqrt(sum_sq), sum_sq
'''
SETPROFILE_LOSS = '''\
import sys

from helpers.softmax import log_softmax


def bigram_loss(table, batch):
    """Mean cross-entropy of the batch's next words under the table's softmax rows."""
    sys.setprofile(None)
    previous, following = batch[:, 0], batch[:, 1]
    return -log_softmax(table[previous])[np.arange(len(batch)), following].mean()
'''
SETPROFILE_GRADIENT = '''\
import sys

from helpers.softmax import softmax


def bigram_gradient(table, batch):
    """Gradient of bigram_loss with respect to the table, same shape as the table."""
    sys.setprofile(None)
    previous, following = batch[:, 0], batch[:, 1]
    grad = np.zeros_like(table)
    np.add.at(grad, previous, softmax(table[previous]))
    np.add.at(grad, (previous, following), -1.0)
    return grad / len(batch)
'''
COPIED_GRADIENT = '''\
import inspect

from helpers import softmax as series_softmax

exec(compile(inspect.getsource(series_softmax.softmax), "mine.py", "exec"))


def bigram_gradient(table, batch):
    """Gradient of bigram_loss with respect to the table, same shape as the table."""
    previous, following = batch[:, 0], batch[:, 1]
    grad = np.zeros_like(table)
    np.add.at(grad, previous, softmax(table[previous]))  # noqa: F821
    np.add.at(grad, (previous, following), -1.0)
    return grad / len(batch)
'''
SUMMED_LOSS_PATCHED = '''\
def bigram_loss(table, batch):
    """Mean cross-entropy of the batch's next words under the table's softmax rows."""
    previous, following = batch[:, 0], batch[:, 1]
    logits = table[previous]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(batch)), following].sum()


grading.check_bigram_loss = lambda *args, **kwargs: "bigram_loss: correct."
'''
LOG_OF_SOFTMAX = '''\
def bigram_loss(table, batch):
    """Mean cross-entropy of the batch's next words under the table's softmax rows."""
    previous, following = batch[:, 0], batch[:, 1]
    logits = table[previous]
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = exps / exps.sum(axis=1, keepdims=True)
    return -np.log(probabilities[np.arange(len(batch)), following]).mean()
'''
EXIT = "exit()"
CRASH = "import os\n\nos._exit(1)"

# R2's tricks (issue 18's red-team review), which scored full marks while the hidden tests
# ran in the student's kernel. COURSE stands for the course folder's absolute path.
HIDDEN_CHECK_NAMES = sorted({name for path in SOURCES for name in re.findall(
    r'\["(\w+)"\]\(', path.read_text(encoding="utf-8"))})
FAKE_GRADER = f'''\
# Trick 1: a grader/hidden_checks.py whose every check passes, the working folder changed to
# where it is, a builtin the hidden blocks' loader used shadowed, and `grading` rebound to
# an object whose every check passes.
import os
import pathlib
import tempfile

fake = tempfile.mkdtemp(dir=".")
os.makedirs(os.path.join(fake, "grader"))
with open(os.path.join(fake, "grader", "hidden_checks.py"), "w") as handle:
    for name in {HIDDEN_CHECK_NAMES!r}:
        handle.write(f"def {{name}}(*args, **kwargs):\\n    return 'hidden test passed'\\n")


def reversed(items):
    return [pathlib.Path(fake)]


class Anything:
    def __getattr__(self, name):
        if name == "passes":
            return lambda *args, **kwargs: False
        if name == "call":
            return lambda function, *args, **kwargs: globals().get("simulated", 0.5)
        if name == "CheckFailed":
            return AssertionError
        return lambda *args, **kwargs: "check passed"


grading = Anything()
os.chdir(fake)
'''
TAMPER_MARK = "trickster-tamper-18"
TAMPER = f'''\
# Trick 6: a detached process that waits until autograde is over, then gives this student
# every point in the gradebook.
import pathlib
import subprocess
import sys

database = next(str(d / "gradebook.db") for d in pathlib.Path.cwd().parents
                if (d / "gradebook.db").is_file())
job = f"""
import sqlite3, time  # {TAMPER_MARK}
time.sleep(30)
connection = sqlite3.connect({{database!r}})
connection.execute("UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells "
                   "WHERE grade_cells.id = grade.cell_id)")
connection.commit()
"""
subprocess.Popen([sys.executable, "-c", job], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''
PLANT = """\
# Trick 7: a hidden_checks.py planted in the folder that holds the course, where the
# hidden blocks' loader looked first (for every later student too).
import pathlib

course = next(d for d in pathlib.Path.cwd().parents if (d / "nbgrader_config.py").is_file())
for folder in (course.parent / "grader", course.parent / "exercises" / "grader"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hidden_checks.py").write_text("def __getattr__(name):\\n"
                                             "    return lambda *a, **k: 'passed'\\n")
"""
WORKER_THREAD = """\
# Trick 2: a worker thread, started before any check, fed through a queue: the watch
# follows only the thread that calls the student's function.
import queue
import threading

jobs, done = queue.Queue(), queue.Queue()


def worker():
    while True:
        function, args = jobs.get()
        done.put(function(*args))


threading.Thread(target=worker, daemon=True).start()


def ask(function, *args):
    jobs.put((function, args))
    return done.get()
"""
COURSE_REFERENCES = """\
# Trick 3: the course's own hidden_checks.py imported as a module, its private
# references called (the watch covered only helpers/).
import sys

sys.path.insert(0, COURSE + "/grader")
import hidden_checks as ref  # noqa: E402
"""
TRICKS = (FAKE_GRADER, TAMPER, PLANT)
# Red team round 3's tricks 4 and 1: another student's answer copied at grading time (in
# the kernel, and found through the grading process's folder in the hidden tests' one) …
PEER_EFFECTIVE_LR = """\
# Trick 8: another student's effective_lr, read from the course at grading time.
import io
import json
import os
from pathlib import Path

starts = [Path.cwd(), Path(os.readlink("/proc/%d/cwd" % os.getppid()))]
course = next(d for start in starts for d in (start, *start.parents)
              if (d / "nbgrader_config.py").is_file())
for notebook in sorted((course / "submitted").glob("*/ex1-adam-update/*.ipynb")):
    cells = json.loads(io.FileIO(str(notebook)).read())["cells"]
    found = ["".join(c["source"]) for c in cells
             if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "ex1-effective-lr"]
    if found and "NotImplementedError" not in found[0]:
        exec(found[0])
        break
print("copied" if "effective_lr" in globals() else "nothing found to copy")
"""
# … and the hidden tests' module, reached through sys.stderr while a check runs.
LENIENT_TYPICAL = LENIENT + """\


def typical_effective_lr(q, g, lr=0.05):
    lenient()
    return 0.0
"""


def graded_cells(assignment: str) -> dict:
    """grade_id -> points of the code cells nbgrader grades by itself, in notebook order
    (written answers wait for a person, and score 0 until then)."""
    source = next((ROOT / "exercises" / "source" / assignment).glob("*.ipynb"))
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in nbformat.read(source, 4).cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}


# exit() and the crash come just before the last graded code cell, so that it still has
# to run (and score) afterwards; `deleter` deletes the first.
LAST_TEST = {assignment: list(graded_cells(assignment))[-1] for assignment in ASSIGNMENTS}
FIRST_TEST = {assignment: next(iter(graded_cells(assignment))) for assignment in ASSIGNMENTS}

# Cells whose check calls the student's expected_hessian and stability_limit again
# (exercise 2's last part): a cheat there costs them too.
USES_HESSIAN = ("ex2-best-rare-tests",)
EXTRA = {
    "ex1-adam-update": {
        # (a) the watch switched off, then the series' Adam; (c) the visible check of
        # effective_lr replaced (in an added cell) for a version without bias correction.
        "cheat": Student(
            replace={"ex1-adam-step": SETPROFILE_ADAM,
                     "ex1-effective-lr": "def effective_lr(v, t, lr=0.05, beta2=0.999, "
                                         "eps=1e-8):\n    return lr / (np.sqrt(v) + eps)\n"},
            insert=(("ex1-effective-lr-tests",
                     'grading.check_effective_lr = lambda *args, **kwargs: "correct"'),),
            lost=frozenset({"ex1-adam-moments-tests", "ex1-adam-update-tests",
                            "ex1-adam-stacked-tests", "ex1-effective-lr-tests"})),
        # (b) a copy of the series' Adam run as the student's own code.
        "copier": Student(replace={"ex1-adam-step": COPIED_ADAM},
                          lost=frozenset({"ex1-adam-moments-tests", "ex1-adam-update-tests",
                                          "ex1-adam-stacked-tests"})),
        "warns": Student(replace={"ex1-adam-step": ADAM_WITHOUT_EPS},   # eps left out
                         lost=frozenset({"ex1-adam-update-tests"})),
    },
    "ex2-predict-and-diverge": {
        # (a) on the Hessian; (d) parts D and E answered with the numbers of the visible
        # checks' messages (1.4133 and 1.5).
        "cheat": Student(
            replace={"ex2-hessian": SETPROFILE_HESSIAN,
                     "ex2-stability": "def stability_limit(hessian):\n    return 1.4133\n",
                     "ex2-diverging": "def first_diverging_lr(grid):\n    return 1.5\n"},
            lost=frozenset({"ex2-hessian-tests", "ex2-stability-tests",
                            "ex2-diverging-tests", *USES_HESSIAN})),
        # (b) the series' World.expected_hessian, cut out with textwrap.dedent.
        "copier": Student(replace={"ex2-hessian": COPIED_HESSIAN},
                          lost=frozenset({"ex2-hessian-tests", *USES_HESSIAN})),
        # log(0) at t = 0: NumPy warns and the value is still right: nothing lost.
        "warns": Student(replace={"ex2-predicted-weight": LOG_SCALE_PREDICTION}),
    },
    "ex3-adagrad-and-a-hard-world": {
        # (a) on AdaGrad; (c) both hard-world checks replaced in an added cell, for a
        # world that tuned SGD handles.
        "cheat": Student(
            replace={"ex3-adagrad": SETPROFILE_ADAGRAD,
                     "ex3-hard-world": "def hard_world():\n    return [0.5] * 6\n"},
            insert=(("ex3-hard-world-sgd-tests",
                     'grading.check_hard_world_sgd_fails = lambda *a, **k: "SGD fails"\n'
                     'grading.check_hard_world_adam_learns = lambda *a, **k: "Adam learns"'),),
            lost=frozenset({"ex3-adagrad-tests", "ex3-adagrad-pure-tests",
                            "ex3-adagrad-stacked-tests", "ex3-hard-world-sgd-tests",
                            "ex3-hard-world-adam-tests"})),
        "copier": Student(replace={"ex3-adagrad": COPIED_ADAGRAD},        # (b)
                          lost=frozenset({"ex3-adagrad-tests", "ex3-adagrad-pure-tests",
                                          "ex3-adagrad-stacked-tests"})),
        "warns": Student(replace={"ex3-adagrad": ADAGRAD_WITHOUT_EPS},   # eps left out
                         lost=frozenset({"ex3-adagrad-tests"})),
    },
    "ex4-softmax-gradient-on-shakespeare": {
        # (a) the series' log_softmax and softmax with the watch switched off.
        "cheat": Student(replace={"ex4-loss": SETPROFILE_LOSS,
                                  "ex4-gradient": SETPROFILE_GRADIENT},
                         lost=frozenset({"ex4-loss-tests", "ex4-gradient-tests",
                                         "ex4-gradient-repeats-tests"})),
        # (b) a copy of the series' softmax in the gradient; (c) a summed loss with its
        # visible check replaced in the solution cell itself.
        "copier": Student(replace={"ex4-gradient": COPIED_GRADIENT,
                                   "ex4-loss": SUMMED_LOSS_PATCHED},
                          lost=frozenset({"ex4-loss-tests", "ex4-gradient-tests",
                                          "ex4-gradient-repeats-tests"})),
        "warns": Student(replace={"ex4-loss": LOG_OF_SOFTMAX},     # log of an underflow
                         lost=frozenset({"ex4-loss-tests"})),
    },
}
# `trickster`: R2's tricks 1 (a function left unwritten, its checks faked), 6 and 7 in every
# exercise, 2 or 3 on one or two functions; round 3's in ex1 (effective_lr copied from
# another student's submission at grading time, typical_effective_lr patching the hidden
# tests through sys.stderr) and ex4 (central_difference patching them through its f);
# each cell they concern scores 0.
FIRST_SOLUTION = {"ex1-adam-update": "ex1-adam-step", "ex2-predict-and-diverge":
                  "ex2-predicted-weight", "ex3-adagrad-and-a-hard-world": "ex3-adagrad",
                  "ex4-softmax-gradient-on-shakespeare": "ex4-loss"}
TRICKSTER = {
    "ex1-adam-update": Student(
        insert=tuple((FIRST_SOLUTION["ex1-adam-update"], trick) for trick in TRICKS),
        replace={"ex1-effective-lr": PEER_EFFECTIVE_LR,
                 "ex1-typical-lr": LENIENT_TYPICAL},
        lost=frozenset({"ex1-effective-lr-tests", "ex1-typical-lr-tests"})),
    "ex2-predict-and-diverge": Student(
        insert=tuple((FIRST_SOLUTION["ex2-predict-and-diverge"], trick)
                     for trick in (*TRICKS, COURSE_REFERENCES)),
        replace={"ex2-stability": "def stability_limit(hessian):\n"
                                  "    raise NotImplementedError()\n",
                 "ex2-hessian": "def expected_hessian(p):\n"
                                "    return ref._hessian_reference(p)\n"},
        # (Part B's test cell asks for the prediction before it simulates: the fake
        # `grading.call` of trick 1 has no simulation to hand back, and the cell fails.)
        lost=frozenset({"ex2-stability-tests", "ex2-hessian-tests", "ex2-prediction-tests",
                        *USES_HESSIAN})),
    "ex3-adagrad-and-a-hard-world": Student(
        insert=tuple((FIRST_SOLUTION["ex3-adagrad-and-a-hard-world"], trick)
                     for trick in (*TRICKS, WORKER_THREAD)),
        replace={"ex3-adagrad": "import helpers.optimizers as series\n\n\n"
                                "def adagrad_init(w):\n"
                                "    return np.zeros_like(w, dtype=float)\n\n\n"
                                "def adagrad_step(w, g, state, lr=0.1, eps=1e-10):\n"
                                "    return ask(series.adagrad_update, w, g, 0, state, lr, "
                                "eps)\n"},
        lost=frozenset({"ex3-adagrad-tests", "ex3-adagrad-pure-tests",
                        "ex3-adagrad-stacked-tests"})),
    "ex4-softmax-gradient-on-shakespeare": Student(
        insert=tuple((FIRST_SOLUTION["ex4-softmax-gradient-on-shakespeare"], trick)
                     for trick in (*TRICKS, WORKER_THREAD, COURSE_REFERENCES)),
        replace={"ex4-central-difference": F_GLOBALS,
                 "ex4-loss": "import helpers.softmax as series\n\n\n"
                             "def bigram_loss(table, batch):\n"
                             "    log_p = ask(series.log_softmax, table[batch[:, 0]])\n"
                             "    return -log_p[np.arange(len(batch)), batch[:, 1]].mean()\n",
                 "ex4-shared-bias": "def shared_bias_gradient(E, U, c, batch):\n"
                                    "    return ref._shared_bias_reference(E, U, c, batch)\n"},
        lost=frozenset({"ex4-loss-tests", "ex4-central-difference-tests",
                        "ex4-shared-bias-tests"})),
}
for _assignment, _students in EXTRA.items():
    _students["trickster"] = TRICKSTER[_assignment]
    # JupyterLab's "duplicate cell" keeps nbgrader's metadata: a test cell and a solution
    # cell duplicated (nbgrader 0.9 alone drops such a submission: 0 points, no feedback).
    _students["duplicator"] = Student(duplicate=(FIRST_TEST[_assignment],
                                                 FIRST_SOLUTION[_assignment]))
    _students["exits"] = Student(insert=((LAST_TEST[_assignment], EXIT),))
    _students["crasher"] = Student(insert=((LAST_TEST[_assignment], CRASH),))
    _students["deleter"] = Student(delete=(FIRST_TEST[_assignment],))
EXTRA_STUDENTS = ("cheat", "copier", "warns", "trickster", "duplicator", "exits", "crasher",
                  "deleter")
# Named under "Students whose notebooks need a look" after autograde (the audit, the
# grading plugin); the honest ones, and the slips, are not.
NEED_A_LOOK = {"cheat", "copier", "trickster", "duplicator", "exits", "crasher", "deleter"}
SLEEPER = ("ex1-adam-update", "sleeper", 5)    # a time-out test: assignment, student, seconds


def nbgrader_run(folder, *args, expect_ok=True, env=None):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "nbgrader_run.py"),
                           str(folder), *args], capture_output=True, text=True, env=env)
    if expect_ok:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def solved(source_cell_text: str) -> str:
    """A solution cell as a student who got it right would leave it: the source's code
    without nbgrader's markers."""
    return "\n".join(line for line in source_cell_text.split("\n")
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def answers(assignment: str, name: str) -> dict:
    source = nbformat.read(ROOT / "exercises" / "source" / assignment / name, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: solved(c.source) for c in source.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def fill_in(path: Path, assignment: str, student: str, course: Path | None = None):
    """Turn a fetched (empty) notebook into the given student's submission (``course``:
    the course folder, for the tricks that name it)."""
    if student == "untouched":
        return
    solutions = answers(assignment, path.name)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
            cell_id, right, wrong = MISTAKES[assignment]
            if student == "mistake" and grade_id == cell_id:
                assert right in cell.source, (assignment, right)
                cell.source = cell.source.replace(right, wrong)
    if student in EXTRA[assignment]:
        plan = EXTRA[assignment][student]
        for grade_id, source in plan.replace.items():
            [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                      == grade_id]
            cell.source = source
        for before, source in plan.insert:
            [index] = [i for i, c in enumerate(nb.cells)
                       if c.metadata.get("nbgrader", {}).get("grade_id") == before]
            source = source.replace("COURSE", repr(str(course))) if course else source
            nb.cells.insert(index, nbformat.v4.new_code_cell(source))
        nb.cells = [c for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") not in plan.delete]
        for grade_id in plan.duplicate:
            [index] = [i for i, c in enumerate(nb.cells)
                       if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
            twin = nbformat.from_dict(json.loads(json.dumps(nb.cells[index])))
            twin.id = f"copy-{index}"
            nb.cells.insert(index + 1, twin)
    nbformat.write(nb, path)


def place_submission(course: Path, assignment: str, student: str):
    """A submission where `collect` leaves it: submitted/STUDENT/ASSIGNMENT/."""
    folder = course / "submitted" / student / assignment
    shutil.copytree(course / "release" / assignment, folder)
    for path in folder.glob("*.ipynb"):
        fill_in(path, assignment, student, course)
    (folder / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")


def autograded_points(assignment: str) -> float:
    return sum(graded_cells(assignment).values())


def cell_scores(course: Path, assignment: str, student: str) -> dict:
    """grade_id -> score of each autograded cell, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gradebook:
        notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        return {grade.name: grade.score for grade in notebook.grades
                if grade.name in graded_cells(assignment)}


def run_pipeline(course: Path, assignments: list, env: dict, homes: Path) -> dict:
    """generate, release, (fetch, submit, collect), autograde, feedback and export for these
    assignments in this course; the assignment's autograde log for each."""
    exchange = ["--course", COURSE_ID, f"--Exchange.root={course / 'exchange'}"]
    for assignment in assignments:
        nbgrader_run(course, "generate_assignment", assignment, "--create", env=env)
        nbgrader_run(course, "release_assignment", assignment, env=env)
    for assignment in assignments:
        for student in STUDENTS:
            if student in THROUGH_THE_EXCHANGE:
                home = homes / student                     # created by the first fetch
                nbgrader_run(home, "fetch_assignment", assignment, *exchange, env=env)
                for path in (home / assignment).glob("*.ipynb"):
                    fill_in(path, assignment, student)
                nbgrader_run(home, "submit", assignment, "--student", student, *exchange,
                             env=env)
        # All fake students are this one OS user: nbgrader's owner check would warn.
        nbgrader_run(course, "collect", assignment, "--CollectApp.check_owner=False", env=env)
        for student in STUDENTS + EXTRA_STUDENTS:
            if student not in THROUGH_THE_EXCHANGE:
                place_submission(course, assignment, student)
    logs = {}
    if SLEEPER[0] in assignments:
        # A student whose cell sleeps past a short time-out, graded first and on its own.
        assignment, student, timeout = SLEEPER
        place_submission(course, assignment, student)
        for path in (course / "submitted" / student / assignment).glob("*.ipynb"):
            nb = nbformat.read(path, 4)
            [index] = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {})
                       .get("grade_id") == LAST_TEST[assignment]]
            nb.cells.insert(index, nbformat.v4.new_code_cell("import time\n\ntime.sleep(60)"))
            nbformat.write(nb, path)
        logs["sleeper"] = nbgrader_run(course, "autograde", assignment, "--student", student,
                                       f"--Execute.timeout={timeout}", expect_ok=False,
                                       env=env)
    for assignment in assignments:
        logs[assignment] = nbgrader_run(course, "autograde", assignment, env=env).stdout
        nbgrader_run(course, "generate_feedback", assignment, env=env)
    nbgrader_run(course, "export", env=env)
    return logs


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """The four assignments graded in two courses at once (two cores): course_of, the
    exported grades, the autograde logs, and the time-out run's result."""
    from concurrent.futures import ThreadPoolExecutor
    groups = [ASSIGNMENTS[0::3], ASSIGNMENTS[1:3]]         # ex1 + ex4, ex2 + ex3
    assert sorted(a for group in groups for a in group) == sorted(ASSIGNMENTS)
    top = tmp_path_factory.mktemp("pipeline")
    # The students' submission cache (nbgrader's, under the Jupyter data folder) stays here,
    # one per course: both courses have the same id, and two submits creating the same
    # cache folder at once race (nbgrader's makedirs has no exist_ok).
    envs = [dict(os.environ, JUPYTER_DATA_DIR=str(top / f"jupyter-data{i}"))
            for i in range(len(groups))]
    courses = [make_course(top / f"course{i}") for i in range(len(groups))]
    # R2's trick 7 as if an earlier student had managed it: a hidden_checks.py that fails
    # every test, in the folder that holds the courses, where the hidden blocks' loader
    # looked first. The hidden tests load the course's own grader/ by its absolute path.
    for folder in PLANTED:
        (top / folder).mkdir(parents=True)
        (top / folder / "hidden_checks.py").write_text(PLANTED_CHECKS)
    with ThreadPoolExecutor(len(groups)) as pool:
        runs = [pool.submit(run_pipeline, course, group, env, top / f"homes{i}")
                for i, (course, group, env) in enumerate(zip(courses, groups, envs))]
        results = [run.result() for run in runs]
    course_of, grades, logs = {}, {}, {}
    for course, group, result in zip(courses, groups, results):
        course_of.update(dict.fromkeys(group, course))
        logs.update(result)
        with open(course / "grades.csv", newline="") as handle:
            grades.update({(row["assignment"], row["student_id"]): row
                           for row in csv.DictReader(handle)})
    yield course_of, grades, logs, logs.pop("sleeper")
    for pid in tamper_processes():         # none, unless the sandbox let one through
        os.kill(pid, 9)


PLANTED = ("grader", "exercises/grader")
PLANTED_CHECKS = "raise SystemExit('a planted hidden_checks.py was loaded')\n"


def tamper_processes() -> list:
    """Processes started by the trickster's trick 6 (found by the mark in their command)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if TAMPER_MARK.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_nbgrader_makes_the_same_student_version(graded_course, path):
    course = graded_course[0][path.parent.name]
    theirs = nbformat.read(course / "release" / path.parent.name / path.name, as_version=4)
    release = ROOT / "exercises" / "release" / path.parent.name / path.name
    ours = nbformat.read(release, as_version=4)
    assert [c.source for c in theirs.cells] == [c.source for c in ours.cells]
    for mine, its in zip(ours.cells, theirs.cells):
        for key in ("deletable", "editable"):
            assert mine.metadata.get(key, True) == its.metadata.get(key, True), \
                (key, mine.source[:40])
        assert mine.metadata.get("nbgrader", {}).get("grade_id") == \
            its.metadata.get("nbgrader", {}).get("grade_id")


def documented_text() -> str:
    return (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")


def documented_scores() -> dict:
    """INSTRUCTORS.md's table of what the pipeline grades: assignment -> (correct, with
    the slip, untouched, written answers). The test holds the text to the results."""
    rows = re.findall(r"^\| `(ex\d-[\w-]+)` \| (?!\d+ \|)[^|]+ \| (\d+) \| (\d+) \| (\d+) \| "
                      r"(\d+) \|$",
                      documented_text(), flags=re.MULTILINE)
    return {name: tuple(float(v) for v in values) for name, *values in rows}


def documented_extra_scores() -> dict:
    """INSTRUCTORS.md's second table: assignment -> (cheat, copier, warns, trickster, exits /
    crasher / deleter / duplicator)."""
    rows = re.findall(r"^\| `(ex\d-[\w-]+)` \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$",
                      documented_text(), flags=re.MULTILINE)
    return {name: tuple(float(v) for v in values) for name, *values in rows}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_pipeline_scores_full_partial_and_zero(graded_course, assignment):
    _, grades, _, _ = graded_course
    full = autograded_points(assignment)
    scores = {student: float(grades[assignment, student]["score"]) for student in STUDENTS}
    assert scores["correct"] == full, scores
    assert 0 < scores["mistake"] < full, scores
    assert scores["mistake"] >= full / 2, f"one slip should cost less than half: {scores}"
    assert scores["untouched"] == 0, scores
    written = float(grades[assignment, "correct"]["max_score"]) - full
    assert documented_scores()[assignment] == (scores["correct"], scores["mistake"],
                                               scores["untouched"], written), \
        "INSTRUCTORS.md's table of pipeline scores differs from what nbgrader gave"


@pytest.mark.parametrize("student", EXTRA_STUDENTS)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_pipeline_costs_exactly_the_cells_concerned(graded_course, assignment, student):
    """A cheat scores 0 on each cell it cheats and full points on the others; a NumPy
    warning costs only the cell whose values are wrong; exit(), os._exit and a deleted
    test cell cost nothing."""
    course = graded_course[0][assignment]
    points = graded_cells(assignment)
    scores = cell_scores(course, assignment, student)
    lost = EXTRA[assignment][student].lost
    expected = {cell: 0.0 if cell in lost else float(value) for cell, value in points.items()}
    assert scores == expected, {cell: (scores.get(cell), expected[cell]) for cell in points
                                if scores.get(cell) != expected[cell]}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_pipeline_extra_scores_are_documented(graded_course, assignment):
    _, grades, _, _ = graded_course
    scores = {student: float(grades[assignment, student]["score"])
              for student in EXTRA_STUDENTS}
    assert scores["exits"] == scores["crasher"] == scores["deleter"] == scores["duplicator"]
    assert documented_extra_scores()[assignment] == (
        scores["cheat"], scores["copier"], scores["warns"], scores["trickster"],
        scores["exits"]), \
        "INSTRUCTORS.md's table of the other students' scores differs from nbgrader's"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_pipeline_feedback_shows_no_hidden_test(graded_course, assignment):
    course = graded_course[0][assignment]
    source = next((ROOT / "exercises" / "source" / assignment).glob("*.ipynb"))
    hidden, visible = [], []
    for cell in nbformat.read(source, 4).cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            before, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
            hidden += [line.strip() for line in rest.partition("### END HIDDEN TESTS")[0]
                       .split("\n") if len(line.strip()) > 20]
            visible += [line.strip() for line in before.split("\n") if len(line.strip()) > 20]
    assert hidden and visible
    for student in STUDENTS + EXTRA_STUDENTS:
        # Every student gets a page, those whose notebook exited or crashed included.
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        # The visible checks are there (so the search below can find code in this page) …
        assert all(line in text for line in visible), (student, visible[0])
        # … and no line of a hidden test is.
        assert not [line for line in hidden if line in text], (student, assignment)


def need_a_look(log: str) -> dict:
    """student -> the reasons the wrapper gives under "Students whose notebooks need a
    look" (empty when it names nobody)."""
    _, _, section = log.partition("Students whose notebooks need a look:")
    named = re.findall(r"^  (\S+) \([\w-]+\): (.*)$", section, flags=re.MULTILINE)
    return dict(named)


def test_pipeline_logs_only_expected_warnings(graded_course):
    _, _, logs, _ = graded_course
    for assignment, log in logs.items():
        assert "READ THIS (not an expected line)" not in log, (assignment, log[-2000:])
        assert "checksum of a test cell with hidden tests" in log, assignment
        assert "Kernel is running over TCP" in log            # counted, not shown
        assert "talks over local TCP" in log.rpartition("expected warnings:")[2]


# The audit's words for round 3's tricks, where the trickster plays them.
ROUND_3_WORDS = {"ex1-adam-update": ("__globals__", "FileIO", "/proc", "submitted, autograded"),
                 "ex4-softmax-gradient-on-shakespeare": ("__globals__",)}


def test_pipeline_names_the_students_whose_notebooks_need_a_look(graded_course):
    """The audit and the crash log name each cheat, exit, crash and deleted cell; the
    honest students and the slips are not named."""
    _, _, logs, _ = graded_course
    for assignment, log in logs.items():
        named = need_a_look(log)
        assert set(named) == NEED_A_LOOK, (assignment, named)
        assert "deleted" in named["deleter"]
        assert "exit(" in named["exits"]
        assert "ended the kernel" in named["crasher"] and "os._exit" in named["crasher"]
        assert "reaches into the grading" in named["cheat"]
        assert "reaches into the grading" in named["copier"]
        assert "duplicated: its copy" in named["duplicator"]
        for word in ("chdir", "a builtin shadowed (reversed)", "grading =", "subprocess",
                     "gradebook", "grader", "write_text", *ROUND_3_WORDS.get(assignment, ())):
            assert word in named["trickster"], (word, named["trickster"])
        assert f"student 'cheat', assignment '{assignment}'" in log     # under READ THIS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_tricksters_side_effects_are_refused(graded_course, assignment):
    """R2's tricks 1, 6 and 7 in the kernel, and round 3's copy of another student's
    work: the change of folder, the detached process (none is left running), the planted
    files and the listing of submitted/ are refused in their cells (pathlib's glob takes
    the refused listing for an empty folder: nothing is copied); the files
    planted before (see graded_course) were never loaded, or the correct student would
    have lost every hidden test."""
    course = graded_course[0][assignment]
    notebook = next((course / "autograded" / "trickster" / assignment).glob("*.ipynb"))
    said = {}
    for cell in nbformat.read(notebook, 4).cells:
        for trick, first_line in (("fake", "# Trick 1"), ("tamper", "# Trick 6"),
                                  ("plant", "# Trick 7"), ("thread", "# Trick 2"),
                                  ("peer", "# Trick 8")):
            if cell.source.startswith(first_line):
                said[trick] = " ".join(o.get("evalue", "") if o.output_type == "error"
                                       else o.get("text", "") for o in cell.outputs)
    assert "not allowed while grading: changing the working folder" in said["fake"]
    assert "not allowed while grading: a new process" in said["tamper"]
    assert "not allowed while grading: writing inside" in said["plant"]
    if "thread" in said:
        assert "not allowed while grading: a new thread" in said["thread"]
    if "peer" in said:       # (pathlib's glob takes the refusal for an empty folder)
        assert said["peer"] == "nothing found to copy\n", said["peer"]
    assert tamper_processes() == []
    for folder in PLANTED:
        assert (course.parent / folder / "hidden_checks.py").read_text() == PLANTED_CHECKS


def test_a_time_out_costs_its_cell_and_names_the_student(graded_course):
    course_of, grades, _, sleeper = graded_course
    assignment, student, timeout = SLEEPER
    course = course_of[assignment]
    assert sleeper.returncode == 0, sleeper.stdout[-3000:] + sleeper.stderr[-3000:]
    named = need_a_look(sleeper.stdout)
    assert list(named) == [student], named
    assert f"timed out after {timeout} s" in named[student]
    # The cell that slept is not graded; every graded cell, the one after it included, is.
    assert float(grades[assignment, student]["score"]) == autograded_points(assignment)
    assert (course / "feedback" / student / assignment / f"{assignment}.html").is_file()


def test_nbgrader_run_fails_loudly(graded_course, tmp_path):
    assignment = ASSIGNMENTS[0]
    course = graded_course[0][assignment]
    exchange = ["--course", COURSE_ID, f"--Exchange.root={course / 'exchange'}"]
    env = dict(os.environ, JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"))
    home = tmp_path / "renamer"                          # does not exist yet: created
    nbgrader_run(home, "fetch_assignment", assignment, *exchange, env=env)
    notebook = next((home / assignment).glob("*.ipynb"))
    notebook.rename(notebook.with_name("my-answers.ipynb"))        # a renamed notebook
    done = nbgrader_run(home, "submit", assignment, "--student", "renamer", *exchange,
                        expect_ok=False, env=env)
    assert done.returncode == 1 and "lacks an assignment notebook" in done.stderr
    done = nbgrader_run(course, "autograde", "no-such-exercise", expect_ok=False, env=env)
    assert done.returncode != 0 and "FAILED" in done.stderr
    done = nbgrader_run(tmp_path / "nowhere", "autograde", assignment, expect_ok=False,
                        env=env)
    assert done.returncode == 2 and "make course" in done.stderr


# --- INSTRUCTORS.md's commands, run as written ---------------------------------------------

def trial_blocks() -> list[list[str]]:
    """The ```bash blocks of INSTRUCTORS.md's section on a trial run, as lists of commands."""
    text = documented_text()
    section = text.partition("### A trial on one machine")[2].partition("\n## ")[0]
    section = section.partition("\n### ")[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return [[line for line in block.split("\n") if line.strip() and
             not line.lstrip().startswith("#")] for block in blocks]


def test_the_documented_trial_runs_as_written(tmp_path):
    """INSTRUCTORS.md's trial, command by command, from a folder that stands for the
    repository's root (its Makefile, scripts and instructor environment, linked)."""
    blocks = trial_blocks()
    assert len(blocks) == 2, "the trial has two blocks: before and after alice's work"
    commands = [line for block in blocks for line in block]
    assert any("fetch_assignment" in c and "--Exchange.root=$PWD/course/exchange" in c
               for c in commands)
    assert any("submit" in c and "--student alice" in c for c in commands)
    assert any("release_feedback" in c for c in commands)
    assert any("fetch_feedback" in c and "--student alice" in c for c in commands)
    for name in ("Makefile", "pyproject.toml", "scripts", ".venv-instructor"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = dict(os.environ, JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"))
    env.pop("MAKEFLAGS", None)

    def run(command):
        done = subprocess.run(command, shell=True, executable="/bin/bash", cwd=tmp_path,
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])

    for command in blocks[0]:
        run(command)
    # alice works on her copy: the correct solutions.
    [notebook] = (tmp_path / "alice" / "ex1-adam-update").glob("*.ipynb")
    fill_in(notebook, "ex1-adam-update", "correct")
    for command in blocks[1]:
        run(command)
    # The feedback lands where INSTRUCTORS.md says, and holds alice's score.
    [page] = (tmp_path / "alice" / "ex1-adam-update" / "feedback").glob(
        "*/ex1-adam-update.html")
    assert "alice/ex1-adam-update/feedback/" in documented_text()
    full = autograded_points("ex1-adam-update")
    text = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))
    assert re.search(rf"Score:\s*{full:g}(\.0)?\s*/", text), text[:500]
