"""nbgrader plugins of this course (instructor-only). `make course` copies this folder to
``<course>/grader/`` and its ``nbgrader_config.py`` puts that folder on ``sys.path``, grades
with ``GradingExecute`` in place of nbgrader's ``Execute`` and sanitizes submissions with
``SanitizeCells`` first.

``GradingExecute`` is nbgrader's ``Execute`` with these changes:

- **the hidden tests run outside the student's kernel.** Before the notebook runs, each
  graded test cell keeps only its visible part (the ``### BEGIN HIDDEN TESTS`` …
  ``### END HIDDEN TESTS`` block is taken out), so nothing the student's cells do to the
  kernel (a rebound ``grading``, a shadowed builtin, a changed working folder, a thread)
  can touch a hidden test. Afterwards a separate process, ``run_hidden.py`` (``python
  -I``, a fresh temporary folder, a minimal environment), loads ``hidden_checks.py``, locks
  itself down (``sandbox.py``), runs the student's code cells and calls each hidden check;
  the grader's files it uses (``run_hidden.py``, ``hidden_checks.py``, ``sandbox.py``,
  ``course_secret``, ``helpers/_watch.py``) are read once, before the first kernel of this
  nbgrader run starts, and handed to it on its stdin, so that a file changed on disk while
  grading (by a process a notebook managed to start) changes nothing;
  its results are added to the test cells' outputs: a confirmation on stdout, or an
  error (``HiddenCheckFailed``: the cell scores 0). The cells get their full source back,
  as nbgrader's checksums expect. The process answers with one line carrying a random
  nonce; no answer, another answer, or more than ``hidden_timeout`` seconds fail every
  hidden test of that notebook, with a STUDENT-LEVEL warning naming the student;
- **the kernel is locked down too** (``grading_kernel_startup.py`` installs
  ``sandbox.py``'s lighter rules): no new processes, databases, threads or changes of
  folder from student code, and no writes inside the course folder outside the student's
  own autograded folder, directly into a folder that holds the course, or into Python's,
  the series' or Jupyter's files; no reading of the course's files outside that folder
  (other students' submissions, the gradebook, the sources) nor of the exchange; the
  hidden tests' process may read none of them;
- ``exit()`` and ``quit()`` raise an error in their cell instead of ending the kernel;
- when the kernel dies in a cell (``os._exit``, a segfault, a killed process), or a cell
  runs past the time-out and cannot be interrupted, the notebook is run again in a fresh
  kernel without that cell, which gets an error output instead (0 points if it is
  graded); at most ``max_crashes`` times, after which that cell and the ones after it are
  left unrun; nbgrader then grades every cell and writes feedback as usual (without this,
  nbgrader drops the whole submission: "Removing failed assignment");
- a notebook that changed the hidden tests' own code while they ran (their guard says
  so) is logged with the student's name, and its hidden tests from there on score 0;
- a cell that times out, or ends the kernel, is logged as a WARNING in a fixed form that
  ``scripts/nbgrader_run.py`` reads to name the student, e.g. ``STUDENT-LEVEL: student
  'alice', assignment 'ex1-adam-update': cell 'ex1-run' timed out after 120 s; …``.

``SanitizeCells`` runs before nbgrader's ``DeduplicateIds`` and ``OverwriteCells``: a cell
whose nbgrader metadata repeats an earlier cell's grade_id (JupyterLab's "duplicate cell"
copies it), names a cell the assignment does not have, or is empty, loses that metadata
and is graded as an ordinary cell, with a STUDENT-LEVEL warning. Without it nbgrader 0.9
crashes on such a notebook (``KeyError: 'grade_id'`` in ``OverwriteCells``, nbgrader issue
#1083) and removes the submission: 0 points and no feedback.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

HERE = Path(__file__).resolve().parent
STARTUP_FILE = HERE / "grading_kernel_startup.py"    # the kernel's (it finds the sandbox)
MARK = "STUDENT-LEVEL"
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# The hidden block's last line calls one check: `…["adam_moments"](adam_step)`.
HIDDEN_CALL = re.compile(r"\[\s*[\"'](?P<check>\w+)[\"']\s*\]\s*\((?P<args>[\w\s,]*)\)\s*\)?\s*$")
# The kernel's start-up file reads its sandbox's settings from here (and removes them).
SANDBOX_VARIABLE = "SGD_GRADING_SANDBOX"
# Numba's compiled kernels of the series, compiled once per nbgrader process into a folder
# of its own (mode 0700) by a process that runs no student code; each notebook's kernel
# and hidden-test process get a fresh copy of it (NUMBA_CACHE_DIR), so that what one
# notebook writes there (a cache file is a pickle) reaches no other notebook.
_NUMBA_CACHE: dict[str, str | None] = {}
WARM_KERNELS = "import helpers.kernels as kernels; kernels._kernels()"
# How the hidden-test process starts: run_hidden.py's source, as read before any kernel
# started, comes on the first line of its stdin (JSON: [path, source]).
BOOTSTRAP = ("import json, sys\n"
             "_path, _source = json.loads(sys.stdin.buffer.readline())\n"
             "_namespace = {'__name__': 'grading_run_hidden', '__file__': _path,\n"
             "              '__builtins__': __builtins__}\n"
             "exec(compile(_source, _path, 'exec'), _namespace)\n"
             "del _source\n"
             "_namespace['_main']()\n")
# The grader's files, read once per grader folder and process (before the first kernel
# starts): grader folder -> what GradingExecute._grader_files returns.
_READ: dict[str, dict] = {}
# What the hidden-test process inherits from this one.
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "MPLCONFIGDIR", "NUMBA_CACHE_DIR",
             "HELPERS_NO_NUMBA", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "TMPDIR")


def cell_name(cell, index: int) -> str:
    """How the log names a cell: its grade_id, or its position when it has none (a cell the
    student added)."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell '{grade_id}'" if grade_id else f"cell #{index + 1} (no grade_id)"


def error_output(ename: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=text,
                        traceback=[f"{ename}: {text}"])


def is_test_cell(cell) -> bool:
    """A graded code cell that is not a solution: a test cell."""
    info = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(info.get("grade")) and not info.get("solution")


def split_hidden(source: str):
    """(the cell without its hidden block, (check, [argument names]) or None)."""
    before, found, rest = source.partition(BEGIN)
    if not found:
        return source, None
    block, _, after = rest.partition(END)
    lines = [line.strip() for line in block.split("\n")
             if line.strip() and not line.strip().startswith("#")]
    match = HIDDEN_CALL.search(lines[-1]) if lines else None
    call = None
    if match:
        call = (match["check"], [a.strip() for a in match["args"].split(",") if a.strip()])
    visible = before.rstrip("\n")
    if after.strip():
        visible += "\n" + after.lstrip("\n")
    return visible, call


def _warn(log, resources, text: str) -> None:
    about = (resources or {}).get("nbgrader", {})
    log.warning("%s: student '%s', assignment '%s': %s", MARK, about.get("student", "?"),
                about.get("assignment", "?"), text)


class SanitizeCells(NbGraderPreprocessor):
    """Strips nbgrader's metadata from a cell that repeats an earlier cell's grade_id, names
    a cell the source notebook does not have, or has no grade_id: the cell is then graded
    as an ordinary cell, and the rest of the notebook as usual."""

    def preprocess(self, nb, resources):
        known = self._source_ids(resources)
        seen: dict[str, int] = {}
        for index, cell in enumerate(nb.cells):
            info = cell.get("metadata", {}).get("nbgrader")
            if info is None:
                continue
            grade_id = info.get("grade_id") if isinstance(info, dict) else None
            if not grade_id:
                del cell.metadata["nbgrader"]
                continue
            if grade_id in seen:
                del cell.metadata["nbgrader"]
                _warn(self.log, resources,
                      f"cell '{grade_id}' duplicated: its copy (cell #{index + 1}) is graded "
                      f"as an ordinary cell, the first one (cell #{seen[grade_id] + 1}) as "
                      f"the assignment's")
            elif known is not None and grade_id not in known:
                del cell.metadata["nbgrader"]
                _warn(self.log, resources,
                      f"cell #{index + 1} carries nbgrader metadata for a cell '{grade_id}' "
                      f"the assignment does not have: it is graded as an ordinary cell")
            else:
                seen[grade_id] = index
        return nb, resources

    def _source_ids(self, resources) -> set | None:
        """The grade_ids of the source notebook's cells, from the gradebook (None when
        there is none to ask, e.g. outside nbgrader's autograde)."""
        about = (resources or {}).get("nbgrader", {})
        if not all(about.get(key) for key in ("db_url", "notebook", "assignment")):
            return None
        from nbgrader.api import Gradebook, MissingEntry
        try:
            with Gradebook(about["db_url"]) as gradebook:
                notebook = gradebook.find_notebook(about["notebook"], about["assignment"])
                return {cell.name for cell in notebook.source_cells}
        except MissingEntry:
            return None


class GradingExecute(Execute):
    """nbgrader's Execute that runs the hidden tests in a separate, sandboxed process, locks
    the kernel down, and survives exit(), a crash and a time-out in one cell."""

    max_crashes = Integer(3, help="How many times a notebook may end the kernel (each time "
                                  "it is run again without that cell) before the rest of it "
                                  "is left unrun.").tag(config=True)
    hidden_timeout = Integer(300, help="Seconds the separate process that runs one "
                                       "notebook's hidden tests may take in all (each cell "
                                       "and each check also has the cell time-out).").tag(
                                           config=True)
    course_root = Unicode("", help="The course folder, which the kernel may not write into "
                                   "(but for the notebook's own folder); by default "
                                   "CourseDirectory.root.").tag(config=True)
    hidden_python = Unicode("", help="The Python that runs the hidden tests (by default "
                                     "nbgrader's own).").tag(config=True)
    grader_dir = Unicode("", help="The grader folder: hidden_checks.py, run_hidden.py, "
                                  "sandbox.py (by default this file's).").tag(config=True)

    @property
    def grader(self) -> Path:
        return Path(self.grader_dir).resolve() if self.grader_dir else HERE

    def preprocess(self, nb, resources=None, km=None):
        self._grader_files()                # read before this run's first kernel starts
        # The hidden blocks come out before the kernel sees the notebook.
        hidden: dict[int, tuple[str, tuple | None]] = {}
        for index, cell in enumerate(nb.cells):
            if is_test_cell(cell) and BEGIN in cell.source:
                visible, call = split_hidden(cell.source)
                hidden[index] = (cell.source, call)
                cell.source = visible
        settings = {SANDBOX_VARIABLE: json.dumps(self._kernel_sandbox(resources))}
        with tempfile.TemporaryDirectory(prefix="grading-numba-") as cache:
            settings["NUMBA_CACHE_DIR"] = self._numba_cache(cache)
            saved = {name: os.environ.get(name) for name in settings}
            os.environ.update({k: v for k, v in settings.items() if v is not None})
            try:
                nb, resources = self._run_in_kernel(nb, resources, km)
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
        self._scrub_own_folder(resources)
        if hidden:
            self._hidden_tests(nb, resources, hidden)
        return nb, resources

    # --- what a notebook leaves behind ------------------------------------------------

    def _numba_cache(self, destination: str) -> str | None:
        """A fresh copy, in ``destination``, of the series' kernels compiled once for this
        process (None where Numba is off or unavailable: the kernel then compiles or runs
        NumPy as it would anyway)."""
        import shutil
        key = self.hidden_python or sys.executable
        if key not in _NUMBA_CACHE:
            folder = tempfile.mkdtemp(prefix="grading-numba-warm-")     # mode 0700
            env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
            env["NUMBA_CACHE_DIR"] = folder
            try:
                done = subprocess.run([key, "-I", "-c", WARM_KERNELS], env=env,
                                      capture_output=True, timeout=300).returncode == 0
            except (OSError, subprocess.SubprocessError):
                done = False
            _NUMBA_CACHE[key] = folder if done else None
        warm = _NUMBA_CACHE[key]
        if warm is None:
            return None
        copy_of = Path(destination) / "numba"
        shutil.copytree(warm, copy_of)
        return str(copy_of)

    def _scrub_own_folder(self, resources) -> None:
        """nbgrader writes the graded notebook into the notebook's folder and would follow
        a link out of it. The kernel may make none, but if one is there (or the folder
        itself is not a plain folder any more), it is removed before nbgrader writes, and
        the student is named."""
        own = ((resources or {}).get("metadata", {}) or {}).get("path")
        if not own:
            return
        own = Path(os.path.abspath(own))
        removed = []
        if own.is_symlink() or (own.exists() and not own.is_dir()):
            own.unlink()
            removed.append(own.name)
        own.mkdir(parents=True, exist_ok=True)
        for root, folders, files in os.walk(own, followlinks=False):
            for name in folders + files:
                path = Path(root) / name
                info = path.lstat()
                if path.is_symlink() or not (stat.S_ISDIR(info.st_mode)
                                             or stat.S_ISREG(info.st_mode)):
                    path.unlink()
                    removed.append(str(path.relative_to(own)))
                elif stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                    path.unlink()                   # a hard link to a file elsewhere
                    removed.append(str(path.relative_to(own)))
        if removed:
            self._warn(resources, f"the notebook left links or special files in its folder "
                                  f"({', '.join(removed[:5])}); they were removed before the "
                                  f"graded notebook was written")

    # --- the grader's files, read once ------------------------------------------------

    def _grader_files(self) -> dict:
        """The sources of run_hidden.py, hidden_checks.py, sandbox.py and the series'
        helpers/_watch.py, and the course's secret, as read the first time this process
        asked (before its first kernel started): {"run_hidden": [path, source], …,
        "secret": {"text": …} or {"missing": true} or {"error": …}}."""
        key = str(self.grader)
        if key not in _READ:
            found = {}
            for name, file in (("run_hidden", "run_hidden.py"),
                               ("hidden_checks", "hidden_checks.py"),
                               ("sandbox", "sandbox.py")):
                path = self.grader / file
                found[name] = [str(path), path.read_text(encoding="utf-8")]
            watch = self._watch_file()
            if watch is not None:
                found["watch"] = [str(watch), watch.read_text(encoding="utf-8")]
            try:
                found["secret"] = {"text": (self.grader / "course_secret").read_text(
                    encoding="ascii")}
            except FileNotFoundError:
                found["secret"] = {"missing": True}
            except (OSError, UnicodeError) as error:
                found["secret"] = {"error": type(error).__name__}
            _READ[key] = found
        return _READ[key]

    def _watch_file(self) -> Path | None:
        """helpers/_watch.py as hidden_checks.py finds it (next to exercises/grader in the
        repository, else the installed package)."""
        grader = self.grader
        if grader.name == "grader" and grader.parent.name == "exercises":
            candidate = grader.parent.parent / "helpers" / "_watch.py"
            if candidate.is_file():
                return candidate.resolve()
        import importlib.util
        try:
            spec = importlib.util.find_spec("helpers")
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            candidate = Path(spec.origin).resolve().parent / "_watch.py"
            if candidate.is_file():
                return candidate
        return None

    # --- the kernel run ---------------------------------------------------------------

    def _course_root(self) -> str:
        root = self.course_root or (self.config.get("CourseDirectory", {}).get("root") or "")
        if not root and Path("nbgrader_config.py").is_file():
            root = os.getcwd()                     # nbgrader's own default: where it runs
        return str(Path(root).resolve()) if root else ""

    def _private(self, resources) -> list[str]:
        """Folders and files besides the course folder that student code may not read:
        the exchange (every student's submissions) and a gradebook kept elsewhere."""
        found = []
        exchange = self.config.get("Exchange", {}).get("root")
        if exchange:
            found.append(str(Path(exchange).resolve()))
        db_url = str(((resources or {}).get("nbgrader", {}) or {}).get("db_url") or "")
        if db_url.startswith("sqlite:///"):
            found.append(str(Path(db_url[len("sqlite:///"):]).resolve()))
        return found

    def _kernel_sandbox(self, resources) -> dict:
        own = ((resources or {}).get("metadata", {}) or {}).get("path") or os.getcwd()
        path, source = self._grader_files()["sandbox"]
        return {"sandbox": path, "sandbox_source": source, "grader": str(self.grader),
                "course_root": self._course_root(), "own_dir": str(Path(own).resolve()),
                "private": self._private(resources)}

    def _run_in_kernel(self, nb, resources, km):
        if not any(arg.startswith("--IPKernelApp.exec_files") for arg in self.extra_arguments):
            self.extra_arguments = [*self.extra_arguments,
                                    f"--IPKernelApp.exec_files={json.dumps([str(STARTUP_FILE)])}"]
        original = copy.deepcopy(nb)
        self._not_run: dict[int, tuple[str, str]] = {}    # cell index -> (ename, text)
        crashes = 0
        while True:
            self._index = None
            try:
                return super().preprocess(nb, resources, km)
            except (DeadKernelError, CellTimeoutError) as error:
                index = self._index                # the cell running when the kernel died
                if index is None:                  # died before any cell: nbgrader's error
                    raise
                cell = nb.cells[index]
                crashes += 1
                if isinstance(error, CellTimeoutError):
                    what = (f"ran past the {self.timeout} s time-out and could not be "
                            f"interrupted")
                else:
                    what = "ended the kernel (os._exit, a crash, or a killed process)"
                if crashes > self.max_crashes:
                    # Keep this run's outputs up to the cell; leave it and the rest unrun.
                    later = [i for i in range(index, len(nb.cells))
                             if nb.cells[i].cell_type == "code"]
                    for i in later:
                        text = (f"this cell {what} (the notebook ended the kernel "
                                f"{crashes} times)" if i == index else
                                f"a cell above this one ended the kernel {crashes} times")
                        nb.cells[i].outputs = [error_output(
                            "CellNotRun", f"{text}; so that the cells before it could be "
                                          f"graded, this cell and the ones after it were not "
                                          f"run, and they score 0 if graded")]
                        nb.cells[i].execution_count = None
                    self._warn(resources, f"{cell_name(cell, index)} {what} (the kernel "
                                          f"ended {crashes} times in this notebook); it and "
                                          f"the {len(later) - 1} code cells after it were "
                                          f"not run (0 points if graded), the cells before "
                                          f"it were graded")
                    return nb, self.resources
                self._not_run[index] = ("CellNotRun", (
                    f"this cell {what}; to grade the rest of the notebook it was not run "
                    f"again, and it scores 0 if it is graded"))
                self._warn(resources, f"{cell_name(cell, index)} {what}; the notebook was "
                                      f"run again without it (it scores 0 if graded), the "
                                      f"other cells were graded")
                nb = copy.deepcopy(original)

    def preprocess_cell(self, cell, resources, index):
        if index in self._not_run:
            cell.outputs = [error_output(*self._not_run[index])]
            cell.execution_count = None
            return cell, self.resources
        self._index = index
        return super().preprocess_cell(cell, resources, index)

    async def _async_handle_timeout(self, timeout, cell=None):
        if cell is not None and self._index is not None:
            text = (f"this cell ran longer than the {timeout} s time-out and was interrupted; "
                    f"it scores 0 if it is graded")
            self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": text,
                                     "traceback": [f"CellTimeoutError: {text}"]}
            self._warn(self.resources, f"{cell_name(cell, self._index)} timed out after "
                                       f"{timeout} s; it was interrupted (0 points if graded), "
                                       f"the other cells were graded")
        return await super()._async_handle_timeout(timeout, cell)

    def _warn(self, resources, text: str) -> None:
        _warn(self.log, resources, text)

    # --- the hidden tests, in a process of their own ------------------------------------

    def _hidden_tests(self, nb, resources, hidden) -> None:
        steps, calls, unreadable = [], [], []
        stopped = {"CellNotRun", "CellTimeoutError"}
        for index, cell in enumerate(nb.cells):
            if index in hidden:
                source, call = hidden[index]
                cell.source = source               # the instructor's cell, as it was
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                if call is None:
                    unreadable.append(grade_id)
                else:
                    steps.append(["check", grade_id, call[0], call[1]])
                    calls.append(grade_id)
            elif (cell.cell_type == "code" and not is_test_cell(cell)
                  and not any(o.get("ename") in stopped for o in cell.get("outputs", []))):
                steps.append(["cell", cell.source])
        results = self._run_hidden(steps, resources) if calls else {}
        for grade_id in unreadable:
            self.log.warning("the hidden tests of cell '%s' end with no call of the form "
                             "…[\"check\"](names): they cannot be run", grade_id)
            results[grade_id] = (False, "this hidden test could not be read: tell your "
                                        "instructor")
        for index in hidden:
            cell = nb.cells[index]
            ok, message = results[cell.metadata["nbgrader"]["grade_id"]]
            if ok:
                output = NotebookNode(output_type="stream", name="stdout", text=message + "\n")
            else:
                output = error_output("HiddenCheckFailed", message)
            # nbgrader reads a grade from the first execute_result it meets: an error
            # must come before it.
            first = next((i for i, o in enumerate(cell.outputs)
                          if o.get("output_type") == "execute_result"), len(cell.outputs))
            cell.outputs.insert(first if not ok else len(cell.outputs), output)

    def _run_hidden(self, steps, resources) -> dict:
        """grade_id -> (passed, message), from run_hidden.py in a process of its own.
        ``steps``: the notebook in order, ["cell", source] and ["check", grade_id, check,
        [argument names]]."""
        nonce = secrets.token_hex(16)
        calls = [step[1] for step in steps if step[0] == "check"]
        files = self._grader_files()
        job = {"nonce": nonce, "hidden_checks": files["hidden_checks"][0],
               "sources": {name: files[name] for name in ("hidden_checks", "sandbox", "watch")
                           if name in files},
               "secret": files["secret"], "course_root": self._course_root(),
               "private": self._private(resources),
               "steps": steps, "step_timeout": self.timeout or 120}
        env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
        env["MPLBACKEND"] = "Agg"
        python = self.hidden_python or sys.executable
        problem, answer = None, None
        with tempfile.TemporaryDirectory(prefix="hidden-tests-") as folder:
            cache = self._numba_cache(folder)       # a copy of its own (see _numba_cache)
            if cache is not None:
                env["NUMBA_CACHE_DIR"] = cache
            with open(Path(folder) / "stderr.txt", "w+b") as errors:
                work = Path(folder) / "work"
                work.mkdir()
                process = subprocess.Popen(
                    [python, "-I", "-c", BOOTSTRAP], cwd=work, env=env,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                    start_new_session=True)
                message = (json.dumps(files["run_hidden"]) + "\n" + json.dumps(job))
                try:
                    out, _ = process.communicate(message.encode("utf-8"),
                                                 timeout=self.hidden_timeout)
                except subprocess.TimeoutExpired:
                    self._kill(process)
                    out, _ = process.communicate()
                    problem = f"they ran longer than {self.hidden_timeout} s in all"
                finally:
                    self._kill(process)
                errors.seek(0)
                tail = errors.read()[-3000:].decode("utf-8", "replace")
        if problem is None:
            answers = []
            for line in out.decode("utf-8", "replace").splitlines():
                try:
                    parsed = json.loads(line)
                except ValueError:
                    continue
                if isinstance(parsed, dict) and parsed.get("nonce") == nonce:
                    answers.append(parsed)
            wanted = set(calls)
            if len(answers) != 1:
                problem = ("their process ended without an answer (exit status "
                           f"{process.returncode})" if not answers else
                           "their process gave more than one answer")
            else:
                answer = answers[0].get("results")
                if not (isinstance(answer, dict) and set(answer) == wanted and all(
                        isinstance(v, list) and len(v) == 2 and isinstance(v[0], bool)
                        and isinstance(v[1], str) for v in answer.values())):
                    problem, answer = "their process gave an answer in the wrong form", None
                for number, text in answers[0].get("cell_errors", []):
                    self.log.debug("hidden-test process, student code cell %s: %s",
                                   number, text)
                tampered = answers[0].get("tampered")
                if problem is None and isinstance(tampered, str):
                    self._warn(resources, f"the notebook changed the hidden tests' own code "
                                          f"while they ran ({tampered[:200]}): the hidden "
                                          f"tests from there on score 0")
        if problem is not None:
            self.log.debug("hidden-test process: stderr ends with %s", tail)
            self._warn(resources, f"the hidden tests could not be run: {problem}; every "
                                  f"hidden test of this notebook scores 0")
            return {grade_id: (False, f"the hidden tests could not be run: {problem}")
                    for grade_id in calls}
        return {grade_id: (ok, message) for grade_id, (ok, message) in answer.items()}

    @staticmethod
    def _kill(process) -> None:
        """The process and anything it started (its own session)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
