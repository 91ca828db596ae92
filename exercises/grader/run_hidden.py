"""Runs one notebook's hidden tests in a process of their own (instructor-only).

``nbgrader_plugins.GradingExecute`` starts it for each autograded notebook in a fresh
temporary folder, as ``python -I -c BOOTSTRAP`` (``nbgrader_plugins.BOOTSTRAP``): the
bootstrap reads this file's source from the first line of stdin (as the plugin read it,
before any notebook ran), runs it under this file's name and calls ``_main()``;
``python -I run_hidden.py`` works too. Then comes one JSON
object:

    {"nonce": "…", "hidden_checks": "/abs/course/grader/hidden_checks.py",
     "sources": {"hidden_checks": [path, source], "sandbox": [path, source],
                 "watch": [path of helpers/_watch.py, source]},
     "secret": {"text": "…"} (or {"missing": true}, {"error": "…"}),
     "course_root": "/abs/course", "private": ["/abs/exchange"],
     "steps": [["cell", "<source of a student code cell>"],
               ["check", "ex1-adam-moments-tests", "adam_moments", ["adam_step"]], …],
     "step_timeout": 120}

The sources and the secret are the ones the plugin read before any notebook ran: a file
of the grader folder changed on disk since (by a process a notebook started, say) changes
nothing here. (Without "sources", the files are read from the disk.)

It loads ``hidden_checks.py`` (before any student code, cffi kept out: it calls C with no
audit event), installs the strict sandbox
(``sandbox.py``: no writes, no processes, no threads, no frames for student code, no
reading of the course's files, …),
then goes through the notebook in order: it runs each of the student's code cells in one
fresh namespace (IPython's magics and shell lines turned into calls of a stub
``get_ipython()`` that does nothing), and calls each hidden check, where its test cell
stands, with the names it needs, as the cell's hidden block would have. It writes ONE
line on the stdout it was started with:

    {"nonce": "…", "results": {"ex1-adam-moments-tests": [true, "confirmation"], …}}

A cell or check that fails, raises, exits or runs past ``step_timeout`` seconds costs its
own result only. Student code cannot print on that line: its output, and the process's
file descriptor 1, go elsewhere before it runs. Everything here happens inside one
function, so that no module global holds what the student's code could use.

Before and after each hidden test a guard made when ``hidden_checks.py`` was loaded
(its ``_trust_guard``, kept here where no cell can reach it) checks that the hidden
tests' code, the watch's and the modules they call into are as they were; if not, that
test and every later one fail, and the answer says so (``"tampered"``), which the plugin
logs with the student's name.
"""


def _main():
    import builtins
    import io
    import json
    import os
    import re
    import runpy
    import signal
    import sys
    import time
    from pathlib import Path

    # Everything used after the student's code ran, bound now: a cell can rebind the
    # names of builtins and modules (builtins.str, json.dumps), not these locals.
    _exit, _write = os._exit, os.write
    _str, _str_str, _ord, _type, _callable = str, str.__str__, ord, type, callable
    _BaseException = BaseException
    # cffi calls C functions without any audit event: no library may load it here (Numba
    # imports it if it can); the sandbox refuses a later import.
    for name in ("cffi", "_cffi_backend"):
        sys.modules.setdefault(name, None)
    # The result channel: the stdout this process was started with. File descriptor 1
    # itself now leads nowhere, so nothing else can write on the channel by accident.
    channel = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    os.dup2(null, 0)
    nonce = job["nonce"]
    sources = job.get("sources") or {}
    checks_file = Path(job["hidden_checks"]).resolve()
    grader = checks_file.parent
    step_timeout = float(job.get("step_timeout") or 120)

    def text(value) -> str:
        """A JSON string, made with str's own methods only."""
        out = ['"']
        for char in _str_str(value):
            code = _ord(char)
            if char in '"\\':
                out.append("\\" + char)
            elif code < 0x20 or code > 0x7E:
                if code > 0xFFFF:
                    code -= 0x10000
                    out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
                else:
                    out.append(f"\\u{code:04x}")
            else:
                out.append(char)
        out.append('"')
        return "".join(out)

    cell_errors = []          # (cell number, what went wrong): for the instructor's log
    tampered = []             # what the notebook changed of the hidden tests' code

    def finish(results):
        entries = [f"{text(grade_id)}: [{'true' if ok is True else 'false'}, {text(message)}]"
                   for grade_id, (ok, message) in results.items()]
        errors = [f"[{number}, {text(message)}]" for number, message in cell_errors]
        line = ('{"nonce": ' + text(nonce) + ', "results": {' + ", ".join(entries)
                + '}, "cell_errors": [' + ", ".join(errors) + "]"
                + (', "tampered": ' + text(tampered[0]) if tampered else "")
                + "}\n").encode("utf-8")
        while line:
            line = line[_write(channel, line):]
        _exit(0)

    # The grader folder is this script's: not a place to import from.
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != grader]

    def quiet():
        """Where the student's code prints: a StringIO, written to in C only (a writer in
        Python would be code of the grader's inside the student's function, which the
        checks' watch counts against it), dropped after each cell and check."""
        return io.StringIO()

    sys.stdout, sys.stderr = quiet(), quiet()

    # --- the hidden tests, loaded before any student code ----------------------------
    # The notebook's code cells and its hidden tests, in the notebook's order.
    steps = [tuple(step) for step in job["steps"]]
    calls = [step[1:] for step in steps if step[0] == "check"]

    def run_source(name, path, source, namespace):
        """``source`` run as the module ``name`` from ``path`` (as runpy.run_path runs a
        file: the module is in sys.modules while it runs)."""
        import types
        module = types.ModuleType(name)
        module.__dict__.update(namespace, __file__=path)
        saved = sys.modules.get(name)
        sys.modules[name] = module
        try:
            exec(compile(source, path, "exec"), module.__dict__)
        finally:
            if saved is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = saved
        return module.__dict__

    def handed(key):
        entry = sources.get(key)
        if (isinstance(entry, list) and len(entry) == 2
                and all(isinstance(part, str) for part in entry)):
            return entry
        return None

    # What hidden_checks.py takes from the plugin instead of the disk (see its _HANDED).
    given = {"__grading_handed__": {key: value for key, value in (
        ("secret", job.get("secret")), ("watch", handed("watch"))) if value is not None}}
    try:
        if handed("hidden_checks"):
            path, source = handed("hidden_checks")
            checks_file = Path(path).resolve()
            grader = checks_file.parent
            checks = run_source("hidden_checks", str(checks_file), source, given)
        else:
            checks = runpy.run_path(str(checks_file), init_globals=given,
                                    run_name="hidden_checks")
    except BaseException as error:        # (reported, never raised)
        finish({grade_id: [False, f"the hidden tests could not be loaded ({type(error).__name__}"
                                  f": {error}): tell your instructor"]
                for grade_id, _, _ in calls})
    # The module's own namespace (its functions' __globals__; runpy hands back a copy).
    live = getattr(checks.get("_trust_guard"), "__globals__", checks)
    checks = dict(checks)     # the checks as loaded, whatever later becomes of the module

    # --- what student code may use, loaded while nothing is locked yet ---------------
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in ("numpy", "matplotlib", "matplotlib.pyplot", "IPython.display",
                 "IPython.core.inputtransformer2", "helpers", "helpers.grading"):
        try:
            __import__(name)
        except BaseException:              # (a missing package is the cell's problem)
            pass
    helpers_dir = None
    helpers = sys.modules.get("helpers")
    if helpers is not None and getattr(helpers, "__file__", None):
        helpers_dir = Path(helpers.__file__).resolve().parent
        # The series' compiled loops, loaded from Numba's cache now (under the sandbox
        # Numba could not even probe its cache folder), where the notebook runs them.
        code = "\n".join(step[1] for step in steps if step[0] == "cell")
        if re.search(r"\b(?:train|sweep|reference_runs|run_optimizers)\s*\(", code):
            try:
                from helpers import kernels
                kernels._kernels()
            except BaseException:
                pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        transform = TransformerManager().transform_cell
    except BaseException:
        transform = None
    try:
        from IPython.display import display
    except BaseException:
        def display(*objects, **kwargs):
            pass

    # The guard over the hidden tests' own code, made now (see the module's docstring),
    # and the module's own made again: the imports above may have changed what it took
    # note of when the file was loaded (a library's module attribute).
    guard = None
    try:
        if callable(checks.get("_trust_guard")):
            guard = checks["_trust_guard"]()
            live["_TRUST"] = checks["_trust_guard"]()
    except BaseException:
        pass

    if handed("sandbox"):
        path, source = handed("sandbox")
        sandbox = run_source("grading_sandbox", path, source, {})
    else:
        sandbox = runpy.run_path(str(grader / "sandbox.py"), run_name="grading_sandbox")
    sandbox["install"]("driver", grader_dir=str(grader),
                       helpers_dir=str(helpers_dir) if helpers_dir else None,
                       course_root=job.get("course_root") or None,
                       private=[p for p in job.get("private") or () if isinstance(p, str)])

    # --- time limits ----------------------------------------------------------------
    class StepTimeout(BaseException):
        pass

    class WaitsForAThread(BaseException):
        pass

    deadline = [None]

    # The handler of the time limit's signal runs every half second inside the student's
    # code, where the checks' watch sees each call: its code is given a name outside the
    # grader folder, whose code the watch counts as the hidden tests' own.
    alarm_code = (
        "def alarm(signum, frame):\n"
        "    if deadline[0] is not None and monotonic() > deadline[0]:\n"
        "        deadline[0] = None\n"
        "        raise StepTimeout()\n"
        # Threads cannot start here, so an endless wait on a condition (a queue's get,
        # an event's wait) is waiting for nobody.
        "    if (frame is not None and frame.f_code.co_name == 'wait'\n"
        "            and frame.f_code.co_filename.endswith('threading.py')\n"
        "            and frame.f_locals.get('timeout') is None):\n"
        "        raise WaitsForAThread()\n")
    alarm_namespace = {"deadline": deadline, "monotonic": time.monotonic,
                       "StepTimeout": StepTimeout, "WaitsForAThread": WaitsForAThread}
    exec(compile(alarm_code, "<hidden tests' time limit>", "exec"), alarm_namespace)
    alarm = alarm_namespace["alarm"]

    signal.signal(signal.SIGALRM, alarm)
    _setitimer, _timer = signal.setitimer, signal.ITIMER_REAL
    import _signal

    def handler_refused(*args, **kwargs):
        raise PermissionError("installing a signal handler is not allowed while grading")

    signal.signal = _signal.signal = handler_refused
    # Threads that run besides this one: none may, when a hidden test runs (a thread
    # the notebook started could do the work of the function being watched). Counted
    # by the interpreter, whichever copy of the _thread module started them.
    _frames, _len = sys._current_frames, len

    def _threads():
        return _len(_frames())

    threads_before = _threads()

    def run(step, *args):
        """step(*args) within the time limit; (ok, value or message)."""
        deadline[0] = time.monotonic() + step_timeout
        _setitimer(_timer, 0.5, 0.5)
        try:
            return True, step(*args)
        except StepTimeout:
            return False, (f"it ran longer than the {step_timeout:g} s time-out of the hidden "
                           f"tests and was stopped")
        except WaitsForAThread:
            return False, ("it waits for another thread, and no thread can start while the "
                           "hidden tests run")
        except _BaseException as error:    # (SystemExit, KeyboardInterrupt too)
            return False, error
        finally:
            _setitimer(_timer, 0, 0)
            deadline[0] = None
            sys.stdout, sys.stderr = quiet(), quiet()

    # --- the student's cells ----------------------------------------------------------
    def plain(error) -> str:
        """A failure's message (the check's own words for a failed check)."""
        try:
            name = _str_str(_type(error).__name__)
            message = _str_str(_str(error))
        except (StepTimeout, WaitsForAThread):
            raise
        except _BaseException:             # (a student's exception class)
            return "the hidden test failed"
        if name in ("HiddenCheckFailed", "AssertionError") and message:
            return message
        return f"{name}: {message}" if message else name

    namespace = {"__name__": "__main__", "__builtins__": builtins, "display": display}

    class Shell:
        """What a cell's magics and shell lines call: nothing happens, except that the
        body of %%time, %%timeit and %%capture runs once."""
        user_ns = namespace

        def run_line_magic(self, name, line, *args, **kwargs):
            return None

        def run_cell_magic(self, name, line, cell):
            if name in ("time", "timeit", "capture", "prun"):
                exec(compile(cell, "<cell magic>", "exec"), namespace)
            return None

        def system(self, *args, **kwargs):
            return None

        def getoutput(self, *args, **kwargs):
            return []

        def magic(self, *args, **kwargs):
            return None

    shell = Shell()
    namespace["get_ipython"] = lambda: shell

    def as_python(source: str) -> str:
        if transform is not None:
            try:
                return transform(source)
            except BaseException:
                pass
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in source.split("\n"))

    def run_cell(number, source):
        exec(compile(as_python(source), f"<cell {number}>", "exec"), namespace)

    def attempt(check, values):
        try:
            return True, _str_str(_str(check(*values)))
        except (StepTimeout, WaitsForAThread):
            raise
        except _BaseException as error:    # (SystemExit, KeyboardInterrupt too)
            return False, plain(error)

    thread_message = ("a thread that the notebook started was running: the hidden test "
                      "cannot see what it computes, so it cannot pass")

    def changed():
        """What the notebook changed of the hidden tests' own code (the guard), or None."""
        if tampered:
            return tampered[0]
        if guard is None:
            return None
        try:
            what = guard(True)
        except _BaseException:
            what = "the hidden tests' guard"
        if what is not None:
            tampered.append(_str_str(what)[:200])
            return tampered[0]
        return None

    def tampered_message():
        return (f"the notebook changed {tampered[0]}, which the hidden tests rely on; from "
                f"then on no hidden test can be trusted, so this one cannot pass")

    def hidden_test(check_name, arg_names):
        check = checks.get(check_name)
        missing = [name for name in arg_names if name not in namespace]
        if not _callable(check):
            return False, f"the hidden test {check_name!r} is missing: tell your instructor"
        if changed() is not None:
            return False, tampered_message()
        if missing:
            return False, (f"{missing[0]} is not defined: run the cell that defines it (it "
                           f"failed, or was deleted)")
        if _threads() > threads_before:
            return False, thread_message
        ran, outcome = run(attempt, check, [namespace[name] for name in arg_names])
        if not ran:                        # a time-out, or a wait for a thread
            outcome = (False, outcome if _type(outcome) is _str else "the hidden test failed")
        if _threads() > threads_before:
            outcome = (False, thread_message)
        if changed() is not None:
            outcome = (False, tampered_message())
        return outcome

    # --- the notebook, in order: each hidden test where its cell stands ----------------
    results = {}
    number = 0
    for step in steps:
        if step[0] == "cell":
            number += 1
            ok, outcome = run(run_cell, number, step[1])
            if not ok:
                if _type(outcome) is not _str:
                    described, outcome = run(plain, outcome)
                    if not described or _type(outcome) is not _str:
                        outcome = "an error"
                cell_errors.append((number, outcome[:300]))
        else:
            _, grade_id, check_name, arg_names = step
            ok, message = hidden_test(check_name, arg_names)
            results[grade_id] = (ok is True, _str_str(message)[:4000])
    finish(results)


if __name__ == "__main__":
    _main()
