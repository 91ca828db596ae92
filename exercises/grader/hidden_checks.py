"""The hidden tests of the four exercises (instructor-only: never released, never installed).

Each ``### BEGIN HIDDEN TESTS`` block of an exercise source loads a FRESH copy of this file
with ``runpy.run_path`` and calls one of its checks with the student's function, e.g.
``adam_moments(adam_step)``. A check returns a short confirmation string, or raises
:class:`HiddenCheckFailed` (an ``AssertionError``) with a short message in plain words.

Why nothing in the student's notebook can reach or replace what a check relies on:

- **References of its own.** NumPy and the standard library only, no import of ``helpers``
  (whose modules, ``helpers.grading`` included, a cell can monkeypatch): Adam, AdaGrad,
  the expected-gradient model, E[x x^T] and its largest eigenvalue (a secular equation
  solved by bisection, no LAPACK), the bigram log-softmax loss and gradient, central
  differences, count-weighted group means, and a small vectorised simulator of the
  six-token world with its own random streams (ex2 E, ex3 C).
- **A fresh watch.** The "own work" watch is a fresh copy of ``helpers/_watch.py``, run
  from its file when this file is loaded (before any student code, when the hidden tests
  run in their own process); the file is found by asking the import system's finders
  (``PathFinder`` on ``sys.path`` first, then the other ``sys.meta_path`` finders, which
  an editable install needs), never ``sys.modules``, which a notebook can fill. It
  watches this file's own folder (``grader/``) as it watches ``helpers/``: a student's
  function that imports this module and calls its references (or runs a copy of them)
  fails; the parts that may use the series' code (ex2 B and E, ex3 C) are watched for
  this folder alone. The references' parameters have names of their own (``ref_…``),
  so that a student's function with the exercise's parameters and the same lines is not
  taken for a copy. A function the check hands over (ex4 B's ``f``) is the check's own:
  the watch allows it.
- **Nothing of this module in the student's hands.** A student's function is handed plain
  numbers and arrays, a ``sys.stderr`` that is an ``io.StringIO`` (a C object: no
  ``__globals__`` to follow back here), and in ex4 B a function ``f`` built in a fresh
  namespace of its own (its ``__globals__`` hold nothing of this module).
- **A guard over the hidden tests' own code.** When this file is loaded it takes note of
  its names, classes and functions (code, defaults, closures), the watch's, and the
  modules they call into (``os``, ``os.path``, ``pathlib``, ``dis``, ``opcode``, ``types``,
  ``io``, ``runpy``, ``importlib.machinery``, NumPy, ``builtins``); after every call of the
  student's code (functions' insides at the start of each check) the check fails if any
  of it changed: "the notebook changed hidden_checks._close, …". ``run_hidden.py`` keeps a
  guard of its own (made when the file is loaded, out of the notebook's reach) and checks
  it before and after each hidden test.
- **A course's own inputs.** When a file ``course_secret`` sits next to this one (under
  nbgrader its text is handed over by the grading plugin, read before any notebook ran)
  (``scripts/make_course.py`` writes 32 random hex digits there), every random generator
  here is seeded with it too, and the inputs that are otherwise fixed (hyperparameters,
  ex2 D's matrices, E's grid, F's worlds, ex1 D's cases, …) are drawn from it, within
  ranges where each check stays valid: answers precomputed from this public file do not
  fit a real course's checks. Without the file the inputs are the fixed ones below (the
  repository's tests and the sources run that way).
- **Trusted NumPy and builtins.** Before a check uses NumPy, and again after every call
  of the student's code, it verifies that every NumPy function this module uses is
  NumPy's own (a ufunc of NumPy's static ufunc type; a C function; a dispatcher or a
  Python function whose code lives in NumPy's package directory; NumPy's own classes)
  and that the builtins it uses are the interpreter's. Otherwise the check fails with
  "the notebook replaced numpy.allclose; …". Verdicts are taken in plain Python over
  floats (``ndarray.tolist()``), not with ``np.allclose``, whose helpers live in modules
  a cell could patch.
- **Plain results only.** A student's result must be plain numbers (an ``ndarray``, a
  NumPy or Python number, lists or tuples of them): an object of the student's own class
  could run code of its own, outside the watch, when it is converted.

The stderr rule (nbgrader scores a cell 0 when it writes to stderr): each call of the
student's code runs with its warnings recorded (NumPy's floating-point warnings
included: ``np.errstate(all="warn")`` inside ``warnings.catch_warnings(record=True)``)
and ``sys.stderr`` captured; the check names what it caught in its message, or in a note
after its confirmation. The check's own arithmetic runs under
``np.errstate(all="ignore")``. Nothing here writes to stderr.

Messages name the hidden test's settings (hyperparameters, shapes, grid) but never the
values it expects, so that they give nothing to copy. (Under a course's secret the
settings they name are that course's: feedback shows them to the student.)

Known limits: when the hidden block runs in the student's kernel (a source notebook run
by hand), a notebook that replaces ``runpy.run_path``, ``pathlib`` or ``sys.meta_path``'s
finders, or writes to the course's files, is beyond what a check in that kernel can see;
under nbgrader the checks run in a process of their own (``run_hidden.py``) that loads
this file, its secret and the watch before any student code (see INSTRUCTORS.md).
"""

from __future__ import annotations

import builtins
import io
import os
import runpy
import sys
import warnings
from importlib.machinery import PathFinder
from pathlib import Path

import numpy as np

# --- trust -------------------------------------------------------------------------------
# Types taken from literals, which no cell can replace.
_TYPE = ().__class__.__class__                 # type
_BUILTIN_FUNCTION = [].append.__class__        # builtin_function_or_method
_PY_FUNCTION = (lambda: None).__class__        # function
_HEAPTYPE = 1 << 9                             # Py_TPFLAGS_HEAPTYPE: a class made in Python
_INF = 1e308 * 10.0
_REALPATH = os.path.realpath                   # bound now: a cell can rebind os.path's
_STRING_IO = io.StringIO

# What the grading plugin read before any notebook ran and run_hidden.py hands over when
# it loads this file (the course's secret, the watch's source): files changed on disk
# later change nothing. {} when this file is loaded otherwise (runpy, the repository).
_HANDED = globals().pop("__grading_handed__", None)
_HANDED = _HANDED if _TYPE(_HANDED) is dict else {}


class HiddenCheckFailed(AssertionError):
    """A hidden test did not pass; the message says why, in plain words."""


def _fail(message: str):
    raise HiddenCheckFailed(message) from None


def _static_type(kind, name: str, module: str) -> bool:
    """``kind`` is a class written in C (not one a cell made) named module.name."""
    return (_TYPE(kind) is _TYPE and not kind.__flags__ & _HEAPTYPE
            and kind.__name__ == name and kind.__module__ == module)


# Builtins this module uses: classes (checked as the interpreter's static types) and
# functions (checked as C functions of the builtins module).
_BUILTIN_CLASSES = ("bool", "dict", "enumerate", "float", "int", "list", "object", "range",
                    "reversed", "set", "str", "tuple", "zip", "Exception",
                    "NotImplementedError", "SystemExit", "AssertionError", "RuntimeWarning",
                    "OSError", "FileNotFoundError", "UnicodeError", "ValueError")
_BUILTIN_FUNCTIONS = ("abs", "all", "any", "callable", "compile", "exec", "getattr",
                      "globals", "isinstance", "issubclass", "len", "max", "min", "next",
                      "repr", "round", "sorted", "sum", "vars")


def _builtins_problem() -> str | None:
    table = builtins.__dict__
    for name in _BUILTIN_CLASSES:
        if not _static_type(table.get(name), name, "builtins"):
            return name
    for name in _BUILTIN_FUNCTIONS:
        obj = table.get(name)
        if _TYPE(obj) is not _BUILTIN_FUNCTION or obj.__name__ != name:
            return name
        owner = obj.__self__
        if not _static_type(_TYPE(owner), "module", "builtins") or owner.__name__ != "builtins":
            return name
    return None


def _inside_cwd(path) -> bool:
    here = os.path.realpath(os.getcwd())
    there = os.path.realpath(path or here)
    return there == here or there.startswith(here + os.sep)


def _module_spec(name: str):
    """The spec the import system finds for a top-level module, asked of the finders
    themselves, never of ``sys.modules`` (which a notebook can fill): ``PathFinder`` on
    the ``sys.path`` entries outside the folder the notebook runs in, then the other
    finders of ``sys.meta_path`` (an editable install's), and only then the folder
    itself, where a submission could have put a package of the same name."""
    outside = [e for e in list(sys.path) if isinstance(e, str) and not _inside_cwd(e)]
    attempts = [(PathFinder, outside)] + [(f, None) for f in list(sys.meta_path)
                                          if f is not PathFinder] + [(PathFinder, None)]
    for finder, path in attempts:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(name, path)
        except Exception:          # a broken finder is skipped, as the import system does
            continue
        origin = getattr(spec, "origin", None)
        if isinstance(origin, str) and origin not in ("built-in", "frozen"):
            return spec
    return None


_NUMPY_SPEC = _module_spec("numpy")
_NUMPY_FILE = os.path.realpath(_NUMPY_SPEC.origin) if _NUMPY_SPEC is not None else ""
_NUMPY_DIR = os.path.dirname(_NUMPY_FILE) + os.sep

# Every NumPy name this module uses (tests/test_hidden_checks.py keeps the list complete),
# the name NumPy gives the object (np.abs is the ufunc "absolute"), and the three that
# notebooks most often replace although this module does not call them.
_NUMPY_NAMES = {
    "absolute": "absolute", "add": "add", "exp": "exp", "less": "less",
    "less_equal": "less_equal", "log": "log", "logical_and": "logical_and",
    "logical_not": "logical_not", "logical_or": "logical_or", "matmul": "matmul",
    "maximum": "maximum", "sqrt": "sqrt",
    "append": "append", "array": "array", "asarray": "asarray", "arange": "arange",
    "eye": "eye", "outer": "outer", "stack": "stack", "swapaxes": "swapaxes",
    "zeros": "zeros", "zeros_like": "zeros_like",
    "errstate": "errstate", "generic": "generic", "ndarray": "ndarray",
    "random.Generator": "Generator", "random.PCG64": "PCG64",
    # Not used here, but the first a notebook replaces to pass a check.
    "allclose": "allclose", "isclose": "isclose", "array_equal": "array_equal",
}


def _in_numpy(code) -> bool:
    return _REALPATH(code.co_filename).startswith(_NUMPY_DIR)


def _genuine_numpy(obj, name: str) -> bool:
    kind = _TYPE(obj)
    if _static_type(kind, "ufunc", "numpy") or kind is _BUILTIN_FUNCTION:
        return obj.__name__ == name
    if _static_type(kind, "_ArrayFunctionDispatcher", "numpy"):
        implementation = obj._implementation
        return (_TYPE(implementation) is _PY_FUNCTION and _in_numpy(implementation.__code__)
                and implementation.__code__.co_name == name)
    if kind is _PY_FUNCTION:
        return _in_numpy(obj.__code__) and obj.__code__.co_name == name
    if kind is _TYPE:                                   # a class
        if obj.__name__ != name or not str(obj.__module__).startswith("numpy"):
            return False
        if not obj.__flags__ & _HEAPTYPE:
            return True
        # A class written in Python (np.errstate): its methods must be NumPy's code.
        methods = [v for v in obj.__dict__.values() if _TYPE(v) is _PY_FUNCTION]
        return all(_in_numpy(m.__code__) for m in methods)
    return False


def _numpy_problem() -> str | None:
    if (not _static_type(_TYPE(np), "module", "builtins") or not _NUMPY_FILE
            or _REALPATH(str(getattr(np, "__file__", ""))) != _NUMPY_FILE):
        return "numpy itself"
    for dotted, name in _NUMPY_NAMES.items():
        obj = np
        for part in dotted.split("."):
            obj = getattr(obj, part, None)
        if obj is None or not _genuine_numpy(obj, name):
            return f"numpy.{dotted}"
    return None


def _verify_trust(functions: bool = False):
    """Fails the check when the notebook replaced a builtin or a NumPy function that this
    module relies on, or changed this module's own code, the watch's, or a module they
    call into (see _trust_guard; ``functions``: each function's code and defaults too)."""
    replaced = _builtins_problem()
    if replaced is not None:
        _fail(f"the notebook replaced Python's {replaced} (builtins.{replaced}); the hidden "
              f"tests cannot trust this kernel, so they cannot pass. Remove the code that "
              f"changes it, restart the kernel and run every cell again.")
    replaced = _numpy_problem()
    if replaced is not None:
        _fail(f"the notebook replaced {replaced} (or changed it); the hidden tests cannot "
              f"trust NumPy in this kernel, so they cannot pass. Remove the code that "
              f"changes it, restart the kernel and run every cell again.")
    changed = _TRUST(functions) if _TRUST is not None else None
    if changed is not None:
        # Raised here, not through _fail or _Check.fail, which the change may concern.
        raise HiddenCheckFailed(
            f"the notebook changed {changed}, which the hidden tests rely on; they cannot "
            f"trust this process, so they cannot pass. Remove the code that changes it, "
            f"restart the kernel and run every cell again.") from None


# The guard over this module's own code (see _trust_guard), made when the file is loaded.
_TRUST = None


# --- the own-work watch ------------------------------------------------------------------

_WATCH = {}
_GRADER_DIR = Path(os.path.realpath(__file__)).parent


def _helpers_dir() -> Path:
    """The series' package: next to this file's exercises/ folder in the repository, else
    where the import system finds it (see _module_spec)."""
    here = Path(os.path.realpath(__file__)).parent
    candidates = []
    if here.name == "grader" and here.parent.name == "exercises":
        candidates.append(here.parent.parent / "helpers")
    spec = _module_spec("helpers")
    if spec is not None:
        candidates.append(Path(os.path.realpath(spec.origin)).parent)
    for folder in candidates:
        if (folder / "_watch.py").is_file() and (folder / "__init__.py").is_file():
            return folder
    _fail("the hidden tests cannot find the series' helpers package (helpers/_watch.py) "
          "through the import system; tell your instructor.")


def _load_watch():
    """A fresh copy of helpers/_watch.py, loaded once per copy of this file: from the
    source the grading plugin handed over when it is this file's (read before any
    notebook ran), else from the file. The fingerprints of the watched folders' code
    are taken now too."""
    if "Watch" not in _WATCH:
        folder = _helpers_dir()
        path = str(folder / "_watch.py")
        handed = _HANDED.get("watch")
        if (_TYPE(handed) is list and len(handed) == 2 and _TYPE(handed[1]) is str
                and _TYPE(handed[0]) is str and _REALPATH(handed[0]) == _REALPATH(path)):
            namespace = {"__name__": "_hidden_watch", "__file__": path,
                         "__builtins__": builtins}
            exec(compile(handed[1], path, "exec"), namespace)
        else:
            namespace = runpy.run_path(path, run_name="_hidden_watch")
        for watched in (folder, _GRADER_DIR):
            namespace["package_fingerprints"](watched)
        _WATCH["Watch"], _WATCH["dir"] = namespace["Watch"], folder


def _new_watch(allow=(), grader_only: bool = False):
    """A Watch of the series' package and of this file's folder (grader/): a call into
    either, or a copy of a function of either, is not the student's own work. ``allow``:
    functions of the check's own that it hands to the student's function.
    ``grader_only``: a watch of this folder alone (see :func:`_grader_problem`)."""
    _load_watch()
    if grader_only:
        return _WATCH["Watch"](package_dir=_GRADER_DIR, allow=allow)
    return _WATCH["Watch"](package_dir=_WATCH["dir"], allow=allow, extra_dirs=(_GRADER_DIR,))


_SWITCHES = ("sys.setprofile", "sys.settrace", "sys.getprofile")


def _grader_problem(watch, name: str) -> str | None:
    """For a part that may use the series' code (a sweep, its threads): only a call into
    the hidden tests' folder, a copy of its code, or a switched-off watch counts."""
    if watch.switched_off or any(w.startswith(_SWITCHES) for w in watch.unwatchable):
        return (f"the watch that checks {name} was switched off or reached into "
                f"(sys.setprofile, sys.settrace or sys.getprofile was called): the check "
                f"cannot see what {name} does, so it cannot pass.")
    used = list(dict.fromkeys(watch.calls + watch.copies))
    if used:
        return (f"{name} uses the hidden tests' own code ({', '.join(used[:2])}): the hidden "
                f"tests cannot check an answer computed by themselves.")
    return None


try:        # now: in the hidden tests' own process, before any student code runs
    _load_watch()
except Exception:          # the first check that needs the watch says why
    pass


# --- calling the student's code ----------------------------------------------------------

def _warning_said(record) -> str:
    """A caught warning in the visible checks' words: "NumPy warned: divide by zero
    encountered in log" for NumPy's floating-point warnings, else "Python warned:
    UserWarning: …"."""
    text = _short(record.message, 120)
    category = record.category
    builtin = _TYPE(category) is _TYPE and not category.__flags__ & _HEAPTYPE
    if builtin and issubclass(category, RuntimeWarning) and "encountered in" in text:
        return f"NumPy warned: {text}"
    # A warning class of the interpreter's is named; one the notebook made is not read.
    return f"Python warned: {category.__name__ + ': ' if builtin else ''}{text}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


_NOT_WRITTEN = object()


class _Check:
    """One hidden check: calls the student's code and collects what those calls warned."""

    def __init__(self, title: str):
        self.title = title
        self.notes: list[str] = []
        if _SECRET_PROBLEM is not None:
            _fail(f"hidden test ({title}): {_SECRET_PROBLEM}; tell your instructor.")
        _verify_trust(functions=True)

    def _note(self, text: str):
        if text not in self.notes:
            self.notes.append(text)

    def _suffix(self) -> str:
        return (" (" + "; ".join(self.notes[:3]) + ")") if self.notes else ""

    def fail(self, message: str):
        _fail(f"hidden test ({self.title}): {message}{self._suffix()}")

    def ok(self, message: str) -> str:
        return f"hidden test ({self.title}) passed: {message}" + (
            f" Note: {'; '.join(self.notes[:3])}." if self.notes else "")

    def call(self, function, name: str, *args, own_work: bool = True, context: str = "",
             allow=(), **kwargs):
        """``function(*args, **kwargs)`` with warnings recorded, stderr captured and, for
        ``own_work``, the watch on (``allow``: functions of the check's own among the
        arguments); the student's own errors become one plain message. Without
        ``own_work`` (parts that may use the series' code) a watch of this folder alone
        still fails a function that calls the hidden tests' code or runs a copy of it."""
        if not callable(function):
            self.fail(f"{name} should be a function, got {_TYPE(function).__name__}")
        # stderr: a C object (a class written here would hand this module's namespace to
        # the student's code through its methods' __globals__).
        sink, error, result = _STRING_IO(), None, None
        watch = _new_watch(allow) if own_work else _new_watch(allow, grader_only=True)
        saved_stderr = sys.stderr
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
                sys.stderr = sink
                try:
                    with watch:
                        result = function(*args, **kwargs)
                except NotImplementedError:
                    error = _NOT_WRITTEN
                except (Exception, SystemExit) as exc:   # reported, not re-raised
                    error = exc
                finally:
                    sys.stderr = saved_stderr
        _verify_trust()            # the call may have replaced a NumPy function or a builtin
        for record in caught:
            self._note(f"while {name} ran, {_warning_said(record)}")
        written = sink.getvalue().strip()
        if written:
            self._note(f"{name} wrote to stderr: {_short(written, 120)}")
        problem = watch.problem(name) if own_work else _grader_problem(watch, name)
        if problem:
            self.fail(problem)
        if error is _NOT_WRITTEN:
            self.fail(f"{name} is not written yet: it still raises NotImplementedError.")
        if error is not None:
            self.fail(f"{name} raised {_TYPE(error).__name__}: {_short(error)}{context}")
        return result


# --- plain numbers -----------------------------------------------------------------------

_PLAIN_SCALARS = (bool, int, float)


def _plain_scalar(kind) -> bool:
    """``kind`` is Python's bool, int or float, or one of NumPy's own number types (by
    identity: comparing a class with == could run its metaclass's code)."""
    return (kind is bool or kind is int or kind is float) or (
        _TYPE(kind) is _TYPE and not kind.__flags__ & _HEAPTYPE
        and str(kind.__module__) == "numpy" and issubclass(kind, np.generic))


def _plain(value, depth: int = 0):
    """The value as a float ndarray when it is plain numbers, else None (see the module's
    docstring: an object of the student's own class is not converted)."""
    kind = _TYPE(value)
    if kind is np.ndarray:
        array = value
        if array.dtype.kind == "O":            # objects: each must be a plain number
            items = array.ravel().tolist()
            if not all(_plain_scalar(_TYPE(x)) for x in items):
                return None
            array = np.array([float(x) for x in items]).reshape(array.shape)
    elif _plain_scalar(kind):
        array = np.asarray(value)
    elif (kind is list or kind is tuple) and depth < 4:
        parts = [_plain(v, depth + 1) for v in value]
        if any(p is None for p in parts):
            return None
        if not parts:
            return np.zeros(0)
        if len({p.shape for p in parts}) != 1:
            return None
        array = np.stack(parts)
    else:
        return None
    if array.dtype.kind not in "biuf":
        return None
    return array.astype(float)


def _numbers(check: _Check, value, what: str, shape=None, finite: bool = True) -> np.ndarray:
    """The student's value as a float array of the given shape (None: any), all finite
    unless ``finite`` is False (the stacking and purity checks compare the student's
    function with itself: a NaN from a slip graded elsewhere must not cost them too)."""
    array = _plain(value)
    if array is None:
        check.fail(f"{what} should be a NumPy array of numbers (or a number), "
                   f"got {_TYPE(value).__name__}")
    if shape is not None and array.shape != tuple(shape):
        check.fail(f"{what} should have shape {tuple(shape)}, got {array.shape}")
    if finite and not _all_finite(array):
        check.fail(f"{what} contains NaN or infinity")
    return array


def _number(check: _Check, value, what: str) -> float:
    array = _plain(value)
    if array is None or array.size != 1:
        check.fail(f"{what} should be one number, got "
                   + (f"an array of shape {array.shape}" if array is not None
                      else _TYPE(value).__name__))
    return array.ravel().tolist()[0]


def _all_finite(array) -> bool:
    return all(x == x and -_INF < x < _INF for x in np.asarray(array, dtype=float).ravel()
               .tolist())


def _close(got, expected, rtol: float, atol: float = 0.0, equal_nan: bool = False) -> bool:
    """Like np.allclose(got, expected) (same shape required), in plain Python; with
    ``equal_nan``, NaN equals NaN and an infinity equals itself."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return False
    for a, b in zip(got.ravel().tolist(), expected.ravel().tolist()):
        if equal_nan and ((a != a and b != b) or (a == b and abs(a) == _INF)):
            continue
        if not (a == a and b == b and -_INF < a < _INF and -_INF < b < _INF):
            return False
        if abs(a - b) > atol + rtol * abs(b):
            return False
    return True


def _same(a, b) -> bool:
    """Exactly equal arrays (shape and every value; NaN equals NaN: a w that a slip
    elsewhere turned NaN is still "left as it was")."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and all(x == y or (x != x and y != y) for x, y in
                                      zip(a.ravel().tolist(), b.ravel().tolist()))


def _read_secret():
    """The course's secret (grader/course_secret, 32 hex digits) as an int, and a problem
    in words when the file is there but unusable; (None, None) without the file. Read
    when this file is loaded (the separate process that runs the hidden tests loads it
    before any student code, and then locks the grader folder); under nbgrader, as the
    grading plugin read it before any notebook ran (``_HANDED``: {"text": …},
    {"missing": true} or {"error": "<exception's name>"})."""
    handed = _HANDED.get("secret")
    if _TYPE(handed) is dict:
        if handed.get("missing") is True:
            return None, None
        text = handed.get("text")
        if _TYPE(text) is not str:
            return None, (f"the course's grader/course_secret cannot be read "
                          f"({handed.get('error', 'unknown error')})")
        text = text.strip()
    else:
        path = _GRADER_DIR / "course_secret"
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeError) as error:
            return None, (f"the course's grader/course_secret cannot be read "
                          f"({_TYPE(error).__name__})")
    if len(text) < 32 or not all(c in "0123456789abcdefABCDEF" for c in text):
        return None, "the course's grader/course_secret is not 32 hexadecimal digits"
    return int(text, 16), None


_SECRET, _SECRET_PROBLEM = _read_secret()


def _moved(new_w, w, g):
    """Whether a step moved w where it should: True if some weight with a non-zero
    gradient and a finite old value changed, False if none did, None if there is no such
    weight (a w that a slip graded elsewhere turned NaN: nothing to judge here)."""
    judged = [a != b for a, b, c in zip(np.asarray(new_w, dtype=float).ravel().tolist(),
                                        np.asarray(w, dtype=float).ravel().tolist(),
                                        np.asarray(g, dtype=float).ravel().tolist())
              if c != 0 and -_INF < b < _INF]
    return any(judged) if judged else None


def _sum_or_sign_hint(got, expected, batch_size: int) -> str:
    """The two slips a mean-over-the-batch gradient shares (ex4 C1 and F), or ""."""
    if _close(got, expected * batch_size, 1e-9, 1e-12):
        return " That is the gradient of the sum; divide by the batch size B."
    if _close(got, -expected, 1e-9, 1e-12):
        return " The sign is flipped: p(. | a) minus the one-hot target."
    return ""


def _rng(seed: int):
    """The random generator of a check (the course's secret mixed in, when there is one)."""
    return np.random.Generator(np.random.PCG64(seed if _SECRET is None else [seed, _SECRET]))


def _drawn(tag: int):
    """A generator for the inputs a check draws from the course's secret, or None (no
    secret: the check uses its fixed inputs)."""
    if _SECRET is None:
        return None
    return np.random.Generator(np.random.PCG64([_SECRET, tag]))


def _log_uniform(draw, low: float, high: float) -> float:
    return float(np.exp(draw.uniform(float(np.log(low)), float(np.log(high)))))


def _sig(x: float, digits: int = 3) -> float:
    """x rounded to ``digits`` significant digits (hidden inputs that read well)."""
    return float(f"{x:.{digits}g}")


def _quiet():
    """NumPy quiet for the check's own arithmetic (a diverging simulation overflows)."""
    return np.errstate(all="ignore")


# --- exercise 1: Adam's update -----------------------------------------------------------

_ADAM_HIDDEN = dict(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-3)
_ADAM_SECOND = dict(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6)

# Tags of the generators that draw each check's inputs from the course's secret.
_TAG_ADAM, _TAG_EFFECTIVE, _TAG_TYPICAL = 190101, 190201, 190301
_TAG_WEIGHT, _TAG_HESSIAN, _TAG_STABILITY, _TAG_GRID, _TAG_WORLDS = (190401, 190501, 190601,
                                                                      190701, 190801)
_TAG_ADAGRAD, _TAG_DIFFERENCE, _TAG_GROUPS = 190901, 191001, 191101


def _adam_settings(draw=None):
    """ex1 A's two sets of hyperparameters: the fixed ones without a secret; else drawn,
    away from the notebook's defaults (beta1 0.9, beta2 0.999): lr 0.005 to 0.05, beta1
    0.3 to 0.7, beta2 0.85 to 0.95 and eps 5e-4 to 3e-3 (large enough to tell eps inside
    the square root from outside), then lr 0.01 to 0.05, beta1 0.75 to 0.85, beta2 0.98
    to 0.995, eps 1e-7 to 1e-5."""
    if draw is None:
        return dict(_ADAM_HIDDEN), dict(_ADAM_SECOND)
    first = dict(lr=_sig(_log_uniform(draw, 0.005, 0.05), 2),
                 beta1=round(float(draw.uniform(0.3, 0.7)), 2),
                 beta2=round(float(draw.uniform(0.85, 0.95)), 3),
                 eps=_sig(_log_uniform(draw, 5e-4, 3e-3), 1))
    second = dict(lr=_sig(_log_uniform(draw, 0.01, 0.05), 2),
                  beta1=round(float(draw.uniform(0.75, 0.85)), 2),
                  beta2=round(float(draw.uniform(0.98, 0.995)), 3),
                  eps=_sig(_log_uniform(draw, 1e-7, 1e-5), 1))
    return first, second


def _hp_text(hp: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in hp.items())


def _adam_triple(check: _Check, result, shape, checked: str = "wmv", finite: bool = True):
    if not (_TYPE(result) is tuple or _TYPE(result) is list) or len(result) != 3:
        check.fail(f"adam_step should return three arrays (w, m, v) as a tuple, got "
                   f"{_TYPE(result).__name__}")
    return tuple(_numbers(check, r, f"the returned {n} (w of shape {tuple(shape)})", shape,
                          finite=finite)
                 if n in checked else r for r, n in zip(result, "wmv"))


def _adam_w(w, m_new, v_new, t, lr, beta1, beta2, eps):
    """Adam's new w from the new moments, and the usual wrong ones."""
    m_hat, v_hat = m_new / (1 - beta1 ** t), v_new / (1 - beta2 ** t)
    return {
        "correct": w - lr * m_hat / (np.sqrt(v_hat) + eps),
        "no bias correction": w - lr * m_new / (np.sqrt(v_new) + eps),
        "eps inside the square root": w - lr * m_hat / np.sqrt(v_hat + eps),
        "t off by one": w - lr * (m_new / (1 - beta1 ** (t + 1)))
                        / (np.sqrt(v_new / (1 - beta2 ** (t + 1))) + eps),
        "plus instead of minus": w + lr * m_hat / (np.sqrt(v_hat) + eps),
        "no square root": w - lr * m_hat / (v_hat + eps),
    }


_ADAM_HINTS = {
    "no bias correction": "it matches Adam without bias correction: divide m by "
                          "(1 - beta1**t) and v by (1 - beta2**t) first",
    "eps inside the square root": "it puts eps inside the square root; eps belongs "
                                  "outside: sqrt(v_hat) + eps (the hidden test's eps is "
                                  "large enough to tell)",
    "t off by one": "its bias correction uses the wrong t (t is 1 on the first step)",
    "plus instead of minus": "it steps uphill: subtract lr * m_hat / (sqrt(v_hat) + eps)",
    "no square root": "it divides by v_hat, not by its square root",
}


def _adam_order(check: _Check, result, expected_m, expected_v, t: int, settings: str):
    """Fails first when adam_step returns the right moments in the wrong places (e.g.
    (m, v, w)): every later message would otherwise compare the wrong arrays."""
    if not (_TYPE(result) is tuple or _TYPE(result) is list) or len(result) != 3:
        return
    arrays = [_plain(r) for r in result]
    if any(a is None for a in arrays):
        return
    with _quiet():
        expected_m, expected_v = np.asarray(expected_m), np.asarray(expected_v)

    def holds(k, expected) -> bool:
        return arrays[k].shape == expected.shape and _close(arrays[k], expected, 1e-9, 1e-15)

    places = ("first", "second", "third")
    for name, expected, home in (("m", expected_m, 1), ("v", expected_v, 2)):
        elsewhere = [k for k in range(3) if k != home and holds(k, expected)]
        if elsewhere and not holds(home, expected):
            check.fail(f"with {settings}, at step t = {t}, adam_step returns the new {name} as "
                       f"its {places[elsewhere[0]]} array: return (new_w, new_m, new_v), in "
                       f"this order")


def adam_moments(adam_step) -> str:
    """ex1 A1: the new m and v (step 1 from zero, then 20 sparse steps) under two other
    sets of hyperparameters, and the inputs left as they were."""
    check = _Check("adam_step's moments")
    for hp, seed in zip(_adam_settings(_drawn(_TAG_ADAM)), (180101, 180102)):
        beta1, beta2 = hp["beta1"], hp["beta2"]
        rng = _rng(seed)
        w, g = rng.normal(size=6), rng.normal(size=6)
        g[2] = 0.0
        m, v = np.zeros(6), np.zeros(6)
        before = [a.copy() for a in (w, g, m, v)]
        result = check.call(adam_step, "adam_step", w, g, m, v, 1, **hp)
        with _quiet():
            _adam_order(check, result, (1 - beta1) * g, (1 - beta2) * g * g, 1, _hp_text(hp))
        _, new_m, new_v = _adam_triple(check, result, (6,), checked="mv")
        if not all(_same(a, b) for a, b in zip((w, g, m, v), before)):
            check.fail("adam_step changed one of its input arrays in place; build new arrays "
                       "(m_new = beta1 * m + (1 - beta1) * g), so the caller's stay as they were")
        with _quiet():
            expected_m, expected_v = (1 - beta1) * g, (1 - beta2) * g * g
        settings = _hp_text(hp)
        if not _close(new_m, expected_m, 1e-9, 1e-15):
            hint = (" m was not averaged: m_t = beta1 * m + (1 - beta1) * g."
                    if _close(new_m, g, 1e-9, 1e-15) else "")
            check.fail(f"with {settings}, m after step 1 from m = 0 is not (1 - beta1) * g."
                       f"{hint}")
        if not _close(new_v, expected_v, 1e-9, 1e-15):
            hint = (" v averages the squared gradients, g * g."
                    if _close(new_v, (1 - beta2) * g, 1e-9, 1e-15) else
                    " The weights of the average look swapped: (1 - beta2) goes with g**2."
                    if _close(new_v, beta2 * g * g, 1e-9, 1e-15) else "")
            check.fail(f"with {settings}, v after step 1 from v = 0 is not "
                       f"(1 - beta2) * g**2.{hint}")
        for t in range(2, 22):
            g = rng.normal(size=6) * (rng.random(6) < 0.3)
            with _quiet():
                expected_m = beta1 * expected_m + (1 - beta1) * g
                expected_v = beta2 * expected_v + (1 - beta2) * g * g
            result = check.call(adam_step, "adam_step", w, g, new_m, new_v, t, **hp)
            _, new_m, new_v = _adam_triple(check, result, (6,), checked="mv")
            for name, got, expected in (("m", new_m, expected_m), ("v", new_v, expected_v)):
                if not _close(got, expected, 1e-9, 1e-15):
                    check.fail(f"with {settings}, {name} is wrong at step {t} of 21 sparse "
                               f"steps: each step mixes the previous {name} with the new "
                               + ("gradient, beta1 * m + (1 - beta1) * g." if name == "m"
                                  else "squared gradient, beta2 * v + (1 - beta2) * g**2."))
    return check.ok("m and v are right over 21 sparse steps under two other sets of "
                    "hyperparameters, and the inputs stay as they were.")


def adam_update(adam_step) -> str:
    """ex1 A2: the new w from the student's own new m and v, bias-corrected, at t = 1, 2,
    3 and 40, with other hyperparameters."""
    check = _Check("adam_step's update")
    hp = _adam_settings(_drawn(_TAG_ADAM))[0]
    rng = _rng(180201)
    w = rng.normal(size=6)
    m, v = np.zeros(6), np.zeros(6)
    t_previous = 0
    for t in (1, 2, 3, 40):
        for _ in range(t - t_previous - 1):         # steps the check takes itself
            g = np.absolute(rng.normal(size=6)) * (rng.random(6) < 0.5)
            m = hp["beta1"] * m + (1 - hp["beta1"]) * g
            v = hp["beta2"] * v + (1 - hp["beta2"]) * g * g
        t_previous = t
        g = np.absolute(rng.normal(size=6)) + 0.1           # positive: a v built from g stays >= 0
        g[4] = 0.0
        result = check.call(adam_step, "adam_step", w, g, m.copy(), v.copy(), t, **hp)
        with _quiet():
            _adam_order(check, result, hp["beta1"] * m + (1 - hp["beta1"]) * g,
                        hp["beta2"] * v + (1 - hp["beta2"]) * g * g, t, _hp_text(hp))
        got_w, new_m, new_v = _adam_triple(check, result, (6,))
        if any(x < 0 for x in new_v.tolist()):
            check.fail(f"at step t = {t} your v has negative entries; v averages squared "
                       f"gradients (part A1), so the update cannot be checked")
        with _quiet():
            variants = _adam_w(w, new_m, new_v, t, **hp)
        if not _close(got_w, variants["correct"], 1e-9, 1e-12):
            for name, hint in _ADAM_HINTS.items():
                if _close(got_w, variants[name], 1e-9, 1e-12):
                    check.fail(f"with {_hp_text(hp)}, the new w at step t = {t} is wrong: "
                               f"{hint}.")
            check.fail(f"with {_hp_text(hp)}, the new w at step t = {t} is not "
                       f"w - lr * m_hat / (sqrt(v_hat) + eps) computed from the m and v your "
                       f"function returns.")
        m = hp["beta1"] * m + (1 - hp["beta1"]) * g
        v = hp["beta2"] * v + (1 - hp["beta2"]) * g * g
        w = variants["correct"]
    return check.ok(f"the update and its bias correction are right at t = 1, 2, 3 and 40 "
                    f"({_hp_text(hp)}).")


def adam_stacked(adam_step) -> str:
    """ex1 A3: 4 runs stacked as (4, 6), and runs of shape (2, 3, 6), give over 40 sparse
    steps what separate calls of shape (6,) give (the student's function against itself),
    and a step with a gradient moves w."""
    check = _Check("adam_step on stacked runs")
    hp = _adam_settings(_drawn(_TAG_ADAM))[0]
    rng = _rng(180301)
    for lead in ((4,), (2, 3)):
        shape = lead + (6,)
        context = (f" (with w of shape {shape}: use elementwise operations on whole arrays, "
                   f"not indexing by weight)")
        stacked = [np.zeros(shape) for _ in "wmv"]
        runs = 1
        for size in lead:
            runs *= size
        separate = [[np.zeros(6) for _ in "wmv"] for _ in range(runs)]
        for t in range(1, 41):
            g = np.absolute(rng.normal(size=shape)) * (rng.random(shape) < 0.3)
            result = check.call(adam_step, "adam_step", stacked[0], g, stacked[1],
                                stacked[2], t, **hp, context=context)
            new = _adam_triple(check, result, shape, checked="w", finite=False)
            if t == 1:
                moved = [a != 0 for a, b in zip(new[0].ravel().tolist(), g.ravel().tolist())
                         if b != 0]
                if not moved or not all(moved):
                    check.fail(f"with w of shape {shape}, a first step with a gradient left "
                               f"w where it was: adam_step must move w")
            flat_g = g.reshape(runs, 6)
            flat_w = new[0].reshape(runs, 6)
            for r in range(runs):
                alone = check.call(adam_step, "adam_step", separate[r][0], flat_g[r].copy(),
                                   separate[r][1], separate[r][2], t, **hp)
                separate[r] = list(_adam_triple(check, alone, (6,), checked="w",
                                                finite=False))
                if not _close(flat_w[r], separate[r][0], 1e-12, 1e-15, equal_nan=True):
                    check.fail(f"at step {t}, run {r} of a call with w of shape {shape} "
                               f"differs from the same run with w of shape (6,): use "
                               f"elementwise operations only.")
            stacked = list(new)
    return check.ok("runs stacked as (4, 6) and as (2, 3, 6) match separate runs over 40 steps.")


def _effective_first_case(draw=None):
    """ex1 B's first case (v of shape (2, 3) with a zero, t, lr, beta2, eps): fixed
    without a secret; else v scaled entry by entry by 0.3 to 3, t 3 to 39, lr 0.005 to
    0.1, beta2 0.9 to 0.98, eps 5e-5 to 5e-4 (above v's smallest entries)."""
    v = np.array([[4e-2, 0.0, 3e-6], [1.0, 2.5e-4, 7e-3]])
    if draw is None:
        return v, 7, 0.02, 0.95, 1e-4
    v = v * draw.uniform(0.3, 3.0, size=v.shape)
    return (v, int(draw.integers(3, 40)), _sig(_log_uniform(draw, 0.005, 0.1), 2),
            round(float(draw.uniform(0.9, 0.98)), 3), _sig(_log_uniform(draw, 5e-5, 5e-4), 1))


def effective_lr(effective_lr) -> str:
    """ex1 B: lr / (sqrt(v / (1 - beta2**t)) + eps) for other v (shapes (2, 3), (4,) and
    (5,), zeros included), t, lr, beta2 and eps."""
    check = _Check("effective_lr")
    rng = _rng(180401)
    cases = [
        _effective_first_case(_drawn(_TAG_EFFECTIVE)),
        (rng.random(4) * 1e-2, 1, 0.1, 0.9, 1e-6),
        (np.append(rng.random(4) ** 4, 0.0), 2000, 0.003, 0.999, 1e-8),
    ]
    for v, t, lr, beta2, eps in cases:
        got = _numbers(check, check.call(effective_lr, "effective_lr", v.copy(), t, lr, beta2,
                                         eps), "effective_lr(v, …)", v.shape)
        with _quiet():
            expected = lr / (np.sqrt(v / (1 - beta2 ** t)) + eps)
            wrong = {
                " It matches lr / (sqrt(v) + eps): v needs its bias correction, "
                "v_hat = v / (1 - beta2**t).": lr / (np.sqrt(v) + eps),
                " eps belongs outside the square root: lr / (sqrt(v_hat) + eps).":
                    lr / np.sqrt(v / (1 - beta2 ** t) + eps),
                " It divides by v_hat, not by its square root.":
                    lr / (v / (1 - beta2 ** t) + eps),
                " The bias correction divides v by (1 - beta2**t); it does not multiply it.":
                    lr / (np.sqrt(v * (1 - beta2 ** t)) + eps),
            }
        if not _close(got, expected, 1e-9):
            hint = next((h for h, value in wrong.items() if _close(got, value, 1e-9)), "")
            check.fail(f"for v of shape {v.shape}, t = {t}, lr = {lr:g}, beta2 = {beta2:g}, "
                       f"eps = {eps:g}, the effective learning rate is wrong.{hint}")
    return check.ok("right for other v (zeros included), t, lr, beta2 and eps.")


# ex1 D: a token whose gradient is g on a fraction q of the steps and 0 on the others.
# Adam's second moment is simulated here (beta2 0.999, eps 1e-8) on Bernoulli(q) streams.

_TYPICAL_HIDDEN = ((0.02, 0.5, 0.003), (0.1, -4.0, 0.2), (0.012, 1.5, 0.02))
_TYPICAL_TOLERANCE = 0.10
_TYPICAL_VISIBLE = 0.7454        # the visible check's answer, which a constant would copy


def _typical_cases(draw=None):
    """ex1 D's three (q, g, lr): fixed without a secret; else q 0.012 to 0.3 (rarer tokens
    make the simulated median drift from the formula), |g| 0.2 to 6 but not within a
    factor 1.5 of 1 (where lr / sqrt(q |g|) would be within 10% of the answer), the
    second g negative, lr 0.001 to 0.3, and no answer within 25% of the visible one."""
    if draw is None:
        return _TYPICAL_HIDDEN
    cases = []
    for k in range(3):
        while True:
            q = _sig(_log_uniform(draw, 0.012, 0.3), 2)
            size = _sig(_log_uniform(draw, 0.2, 6.0), 2)
            lr = _sig(_log_uniform(draw, 0.001, 0.3), 2)
            rate = lr / (float(np.sqrt(q)) * size)
            if 1 / 1.5 < size < 1.5 or abs(rate / _TYPICAL_VISIBLE - 1) < 0.25:
                continue
            cases.append((q, -size if k == 1 else size, lr))
            break
    return tuple(cases)


def _typical_rates(cases, streams: int = 8, n_steps: int = 20000, beta2: float = 0.999,
                   eps: float = 1e-8, seed: int = 181701) -> list:
    """For each (q, g, lr): the median of lr / (sqrt(v_hat) + eps) over the last half of
    ``n_steps`` steps, averaged over ``streams`` independent streams."""
    n = len(cases) * streams
    q = np.array([float(c[0]) for c in cases for _ in range(streams)])
    squares = np.array([float(c[1]) * float(c[1]) for c in cases for _ in range(streams)])
    lr = np.array([float(c[2]) for c in cases for _ in range(streams)])
    rng = _rng(seed)
    half = n_steps // 2
    with _quiet():
        present = np.less(rng.random((n_steps, n)), q) * squares
        v = np.zeros(n)
        kept = np.zeros((n_steps - half, n))
        for t in range(n_steps):
            v = beta2 * v + (1 - beta2) * present[t]
            if t >= half:
                kept[t - half] = v / (1 - beta2 ** (t + 1))
        rates = lr / (np.sqrt(kept) + eps)
        rates.sort(axis=0)
        middle = rates.shape[0] // 2
        median = (0.5 * (rates[middle - 1] + rates[middle])).tolist()
    return [sum(median[k * streams:(k + 1) * streams]) / streams for k in range(len(cases))]


def typical_effective_lr(typical_effective_lr) -> str:
    """ex1 D: typical_effective_lr(q, g, lr) within 10% of this module's own simulation of
    Adam's v, for other q (0.012 to 0.1; to 0.3 under a course's secret), g (a negative
    one included) and lr."""
    check = _Check("typical_effective_lr")
    cases = _typical_cases(_drawn(_TAG_TYPICAL))
    for (q, g, lr), expected in zip(cases, _typical_rates(cases)):
        value = _number(check, check.call(typical_effective_lr, "typical_effective_lr",
                                          q, g, lr),
                        f"typical_effective_lr({q:g}, {g:g}, {lr:g})")
        case = f"for q = {q:g}, g = {g:g}, lr = {lr:g}"
        if not (value == value and -_INF < value < _INF):
            check.fail(f"{case} your typical_effective_lr is not finite")
        if abs(value - expected) <= _TYPICAL_TOLERANCE * expected:
            continue
        with _quiet():
            slips = (
                (lr / (q * abs(g)), " v averages g**2 over all steps, so it scales with q, "
                                    "not q**2."),
                (lr / abs(g), " The zero steps count too: v averages over every step."),
                (lr / float(np.sqrt(q * abs(g))), " v averages the squared gradient: check "
                                                  "how the rate depends on the size of g."),
                (lr / (float(np.sqrt(q)) * g), " A rate is positive whatever the sign of g."),
            )
        hint = next((h for slip, h in slips if _close(value, slip, 1e-6)), "")
        side = "above" if value > expected else "below"
        check.fail(f"{case} your typical_effective_lr is more than 10% {side} the typical "
                   f"rate of a simulation of v.{hint}")
    return check.ok("within 10% of a simulation of v for other q, g and lr.")


# --- exercise 2: predicting SGD, and where it diverges -----------------------------------

def _value_text(value) -> str:
    """A hidden input named without its values: a number, or "an array of n"."""
    if _TYPE(value) is np.ndarray:
        return f"an array of {value.size}"
    return f"{value:g}"


def _weight_cases(draw=None):
    """ex2 A's five (p, lr, t): fixed without a secret; else drawn in the same kinds: a
    frequent token over tens of steps, a rare one over thousands, t = 0, an array of five
    p from 5e-4 to 0.9, an array of four t starting at 0."""
    if draw is None:
        return [
            (0.3, 0.2, 40), (0.0007, 0.5, 10000), (0.02, 0.01, 0),
            (np.array([0.9, 0.12, 0.03, 0.004, 0.0005]), 0.08, 2500),
            (0.05, 0.3, np.array([0, 10, 100, 1000])),
        ]
    frequencies = sorted((_sig(_log_uniform(draw, 5e-4, 0.9), 2) for _ in range(5)),
                         reverse=True)
    steps = sorted(int(x) for x in draw.integers(1, 2000, size=3).tolist())
    return [
        (_sig(draw.uniform(0.1, 0.5), 2), _sig(draw.uniform(0.1, 0.3), 2),
         int(draw.integers(20, 81))),
        (_sig(_log_uniform(draw, 2e-4, 2e-3), 2), _sig(draw.uniform(0.2, 0.8), 2),
         int(draw.integers(5000, 20001))),
        (_sig(draw.uniform(0.005, 0.05), 2), _sig(draw.uniform(0.005, 0.05), 2), 0),
        (np.array(frequencies), _sig(draw.uniform(0.03, 0.12), 2),
         int(draw.integers(1000, 4001))),
        (_sig(draw.uniform(0.02, 0.1), 2), _sig(draw.uniform(0.1, 0.5), 2),
         np.array([0] + steps)),
    ]


def predicted_weight(predicted_weight) -> str:
    """ex2 A: 1 - exp(-lr p t) (or its step-by-step form 1 - (1 - lr p)**t) for other p,
    lr and t, and for arrays of p and of t."""
    check = _Check("predicted_weight")
    for p, lr, t in _weight_cases(_drawn(_TAG_WEIGHT)):
        p_in = p.copy() if _TYPE(p) is np.ndarray else p
        t_in = t.copy() if _TYPE(t) is np.ndarray else t
        shape = np.asarray(p * lr * t).shape
        got = check.call(predicted_weight, "predicted_weight", p_in, lr, t_in)
        described = f"p = {_value_text(p)}, lr = {lr:g}, t = {_value_text(t)}"
        value = _plain(got)
        if value is None:
            check.fail(f"predicted_weight should return a number or an array, got "
                       f"{_TYPE(got).__name__}")
        if value.shape != shape and not (shape == () and value.size == 1):
            check.fail(f"for {described}, predicted_weight should return shape {shape} (one "
                       f"weight per p and t), got {value.shape}")
        value = value.reshape(shape)
        with _quiet():
            continuous = 1 - np.exp(-lr * p * t)
            discrete = 1 - (1 - lr * p) ** t
        if not (_close(value, continuous, 1e-6, 1e-9) or _close(value, discrete, 1e-6, 1e-9)):
            hint = ""
            with _quiet():
                if _close(value, np.exp(-lr * p * t), 1e-6, 1e-9):
                    hint = " That is the distance still to go; the weight is 1 minus it."
                elif _close(value, lr * p * t, 1e-6, 1e-9):
                    hint = (" That is the straight line of the first steps; the gap shrinks "
                            "by a factor (1 - lr * p) per step, exponentially.")
            check.fail(f"for {described} the model 1 - exp(-lr p t) gives other values.{hint}")
    return check.ok("matches 1 - exp(-lr p t) for other p, lr and t, and for arrays of them.")


def prediction(predict_rare_tokens) -> str:
    """ex2 B: the model's own values for xenobiotic (p 0.005) and thalweg (p 0.001) after
    3,000 steps at lr 0.05, within 1e-3 (computed here from the model)."""
    check = _Check("predict_rare_tokens")
    got = _numbers(check, check.call(predict_rare_tokens, "predict_rare_tokens",
                                     own_work=False), "predict_rare_tokens()")
    if got.size != 2:
        check.fail(f"predict_rare_tokens() should return two numbers [xenobiotic, thalweg], "
                   f"got {got.size}")
    got = got.ravel()
    with _quiet():
        expected = 1 - np.exp(-0.05 * np.array([0.005, 0.001]) * 3000)
    if not _close(got, expected, 0.0, 1e-3):
        hint = ""
        if _close(got[::-1], expected, 0.0, 1e-3):
            hint = " The order is [xenobiotic, thalweg]: xenobiotic (p = 0.005) first."
        elif _close(got, expected, 0.0, 0.03):
            hint = (" It is near the simulation but not the model's own values: use "
                    "predicted_weight(p, 0.05, 3000) with p = 0.005 and 0.001.")
        check.fail(f"the prediction should be the expected-gradient model's values within "
                   f"0.001.{hint}")
    return check.ok("the model's own values within 0.001.")


def _hessian_reference(ref_p) -> np.ndarray:
    ref_p = np.asarray(ref_p, dtype=float)
    ref_h = ref_p[:, None] * ref_p[None, :]
    ref_h[np.arange(ref_p.size), np.arange(ref_p.size)] = ref_p
    return ref_h


def expected_hessian(expected_hessian) -> str:
    """ex2 C: E[x x^T] for 3 tokens (given as a list), 8 tokens (an array) and 1 token."""
    check = _Check("expected_hessian")
    rng = _rng(180501)
    draw = _drawn(_TAG_HESSIAN)
    if draw is None:
        first, last = [0.7, 0.25, 0.04], [0.3]
    else:
        first = [round(float(x), 3) for x in draw.uniform(0.01, 0.95, size=3).tolist()]
        last = [round(float(draw.uniform(0.05, 0.95)), 2)]
    cases = [first, 0.001 + 0.989 * rng.random(8), last]
    for p in cases:
        p_array = np.asarray(p, dtype=float)
        n = p_array.size
        given = list(p) if _TYPE(p) is list else p.copy()
        got = _numbers(check, check.call(expected_hessian, "expected_hessian", given),
                       f"expected_hessian(p) for {n} tokens", (n, n))
        expected = _hessian_reference(p_array)
        diagonal = got[np.arange(n), np.arange(n)]
        if not _close(diagonal, p_array, 1e-9, 1e-12):
            hint = (" It holds p**2: but x_i * x_i = x_i for a 0/1 feature, so E[x_i^2] = p_i."
                    if _close(diagonal, p_array ** 2, 1e-9, 1e-12) else "")
            check.fail(f"for {n} tokens (p given as a {_TYPE(p).__name__}), the diagonal of "
                       f"E[x x^T] should be p itself.{hint}")
        if not _close(got, expected, 1e-9, 1e-12):
            check.fail(f"for {n} tokens, the off-diagonal entries should be p_i * p_j "
                       f"(tokens appear independently).")
    return check.ok("E[x x^T] right for 1, 3 and 8 tokens, from a list or an array.")


def _top_eigenvalue(ref_p) -> float:
    """The largest eigenvalue of E[x x^T] = diag(p - p**2) + p p^T (independent 0/1
    tokens), without LAPACK: the largest root of sum_i p_i^2 / (lam - d_i) = 1, with
    d = p - p**2, found by bisection on (max d, max d + |p|^2]."""
    p = [float(x) for x in np.asarray(ref_p, dtype=float).ravel().tolist()]
    d = [x - x * x for x in p]
    low, high = max(d), max(d) + sum(x * x for x in p)
    for _ in range(400):
        middle = 0.5 * (low + high)
        if middle <= low or middle >= high:
            break
        if sum(x * x / (middle - y) for x, y in zip(p, d)) > 1.0:
            low = middle
        else:
            high = middle
    return high


def _householder(rng, n: int) -> np.ndarray:
    """A random orthogonal matrix: a product of two Householder reflections (no LAPACK)."""
    q = np.eye(n)
    for _ in range(2):
        u = rng.normal(size=n)
        u = u / np.sqrt((u * u).sum())
        q = q - 2.0 * np.outer(q @ u, u)
    return q


def _stability_inputs(draw=None):
    """ex2 D: the 8-token world's frequencies and the rotated matrix's eigenvalues: fixed
    without a secret; else frequencies from 5e-4 to 0.98, eigenvalues from 1.5 to 4, 0.2
    to 1, 0.01 to 0.1 and 5e-4 to 5e-3."""
    if draw is None:
        return (np.array([0.97, 0.8, 0.45, 0.3, 0.1, 0.02, 0.004, 0.0008]),
                np.array([3.0, 0.5, 0.02, 0.001]))
    frequencies = sorted((_sig(_log_uniform(draw, 5e-4, 0.98), 2) for _ in range(8)),
                         reverse=True)
    eigenvalues = [_sig(draw.uniform(1.5, 4.0), 2), _sig(draw.uniform(0.2, 1.0), 2),
                   _sig(_log_uniform(draw, 0.01, 0.1), 2), _sig(_log_uniform(draw, 5e-4, 5e-3), 2)]
    return np.array(frequencies), np.array(eigenvalues)


def stability_limit(stability_limit) -> str:
    """ex2 D: 2 / lambda_max (within 0.1%) for three other Hessians: an 8-token world's
    E[x x^T] (lambda_max by a secular equation), a rotated diagonal matrix and a random
    symmetric positive definite one (lambda_max known by construction); the input stays
    as it was."""
    check = _Check("stability_limit")
    rng = _rng(180601)
    p, diagonal = _stability_inputs(_drawn(_TAG_STABILITY))
    hessians = [("an 8-token world's E[x x^T]", _hessian_reference(p), _top_eigenvalue(p))]
    for what, eigenvalues in (("a rotated diagonal matrix", diagonal),
                              ("a random symmetric positive definite matrix",
                               0.05 + 4.0 * rng.random(6))):
        q = _householder(rng, eigenvalues.size)
        matrix = (q * eigenvalues[None, :]) @ q.T
        matrix = 0.5 * (matrix + matrix.T)
        hessians.append((what, matrix, float(max(eigenvalues.tolist()))))
    for what, hessian, top in hessians:
        given = hessian.copy()
        value = _number(check, check.call(stability_limit, "stability_limit", given),
                        f"stability_limit for {what}")
        if not _same(given, hessian):
            check.fail(f"stability_limit changed the Hessian it was given ({what}); leave its "
                       f"input as it was")
        if not _close(value, 2.0 / top, 1e-3):
            diagonal = max(hessian[np.arange(len(hessian)), np.arange(len(hessian))].tolist())
            hint = ""
            if _close(value, 1.0 / top, 1e-3):
                hint = (" That is 1 / lambda_max: gradient descent is stable while "
                        "lr < 2 / lambda_max.")
            elif _close(value, 2.0 / diagonal, 1e-3):
                hint = (" That is 2 / (the largest diagonal entry): use the largest "
                        "eigenvalue, which the off-diagonal entries raise.")
            elif _close(value, top, 1e-3):
                hint = " That is lambda_max itself; the limit is 2 / lambda_max."
            check.fail(f"for {what}, your limit is not 2 / lambda_max (within 0.1%).{hint}")
    return check.ok("2 / lambda_max for three other Hessians, inputs left as they were.")


# --- the six-token world, simulated (ex2 E, ex3 C) ---------------------------------------

def _simulate(frequencies, sgd_lrs, adam_lrs, runs: int, n_steps: int, seed: int,
              batch: int = 32, noise: float = 0.1, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8):
    """SGD and Adam on a world of independent 0/1 tokens (token i present with
    probability p_i in each sample, true weights all 1, Gaussian label noise of sd
    ``noise``; each step a batch of ``batch`` samples: a (batch, n) uniform array compared
    with p, then ``batch`` standard normals), from w = 0, on ``runs`` independent streams;
    every setting of a run sees the same batches (common random numbers). Returns the
    final weights (runs, settings, n) and whether a run diverged (|w| > 1e6 or not
    finite, checked every 50 steps; the SGD settings first, then Adam's)."""
    p = np.asarray(frequencies, dtype=float)
    n = p.size
    lrs = np.array([float(x) for x in list(sgd_lrs) + list(adam_lrs)])
    n_sgd, n_settings = len(sgd_lrs), lrs.size
    w = np.zeros((runs, n_settings, n))
    m = np.zeros((runs, n_settings - n_sgd, n))
    v = np.zeros_like(m)
    lr_sgd, lr_adam = lrs[:n_sgd][None, :, None], lrs[n_sgd:][None, :, None]
    diverged = np.zeros((runs, n_settings), dtype=bool)
    rng = _rng(seed)
    chunk = 50
    with _quiet():
        for start in range(0, n_steps, chunk):
            steps = min(chunk, n_steps - start)
            x_all = np.less(rng.random((steps, runs, batch, n)), p).astype(float)
            y_all = (np.add.reduce(x_all, axis=-1)
                     + noise * rng.standard_normal((steps, runs, batch)))
            xt_all = np.swapaxes(x_all, -1, -2)
            for k in range(steps):
                t = start + k + 1
                residual = np.matmul(w, xt_all[k]) - y_all[k][:, None, :]   # (runs, S, B)
                grad = np.matmul(residual, x_all[k]) / batch                  # (runs, S, n)
                w[:, :n_sgd] -= lr_sgd * grad[:, :n_sgd]
                if n_settings > n_sgd:
                    g = grad[:, n_sgd:]
                    m = beta1 * m + (1 - beta1) * g
                    v = beta2 * v + (1 - beta2) * g * g
                    w[:, n_sgd:] -= (lr_adam * (m / (1 - beta1 ** t))
                                     / (np.sqrt(v / (1 - beta2 ** t)) + eps))
            diverged |= np.logical_not(np.logical_and.reduce(
                np.less_equal(np.absolute(w), 1e6), axis=-1))
            w[diverged] = 0.0          # a diverged run is marked, and kept from overflowing
    return w, diverged


_REFERENCE_P = (0.95, 0.60, 0.20, 0.05, 0.005, 0.001)
# Rates far enough from the limit 2 / lambda_max = 1.413 (0.81 and 1.20 times it) that the
# answer does not depend on the batches: tests/test_hidden_checks.py checks it on many
# streams. Not sorted, so that a loop in the grid's own order returns a larger rate.
_DIVERGENCE_GRID = (2.2, 0.7, 1.7, 1.15, 3.0)
_VISIBLE_GRID = (1.2, 1.3, 1.4, 1.5, 1.6)


def _divergence_grid(draw=None) -> list:
    """ex2 E's grid: fixed without a secret; else five rates (two decimals), one or two
    of them 0.3 to 0.84 times the limit 2 / lambda_max (1.413), the others 1.21 to 2.3
    times it, so that no rate is within 0.85 to 1.2 times the limit, where the answer
    could depend on the batches (measured: none of 400 streams diverges at 0.9 times the
    limit, all do at 1.1 times); none of the visible grid's rates; the largest diverging
    rate first, so that a loop in the grid's own order returns it."""
    if draw is None:
        return list(_DIVERGENCE_GRID)
    limit = 2.0 / _top_eigenvalue(_REFERENCE_P)
    while True:
        below = int(draw.integers(1, 3))
        rates = ([round(limit * float(draw.uniform(0.3, 0.84)), 2) for _ in range(below)]
                 + [round(limit * float(draw.uniform(1.21, 2.3)), 2) for _ in range(5 - below)])
        if (len(set(rates)) == 5
                and all(r < 0.85 * limit or r > 1.2 * limit for r in rates)
                and not any(abs(r - v) < 1e-9 for r in rates for v in _VISIBLE_GRID)):
            break
    first = max(rates)
    rest = [rates[k] for k in draw.permutation(5).tolist() if rates[k] != first]
    return [first] + rest


def _first_diverging(grid, seed: int = 180701, runs: int = 4):
    """The smallest rate of ``grid`` at which SGD diverges on the reference world, in every
    one of ``runs`` streams (and at which no smaller rate diverges on any), else None."""
    order = sorted(float(x) for x in grid)
    _, diverged = _simulate(_REFERENCE_P, order, (), runs, 3000, seed)
    every = np.logical_and.reduce(diverged, axis=0).tolist()
    some = np.logical_or.reduce(diverged, axis=0).tolist()
    for k, lr in enumerate(order):
        if some[k]:
            return lr if every[k] else None
    return None


def diverging(first_diverging_lr) -> str:
    """ex2 E: another grid, not sorted, whose smallest diverging rate this module's own
    simulation finds on every stream (so it cannot depend on the student's seed 0)."""
    check = _Check("first_diverging_lr")
    grid = _divergence_grid(_drawn(_TAG_GRID))
    expected = _first_diverging(grid)
    if expected is None:
        check.fail("the hidden grid's answer depends on the batches (internal); tell your "
                   "instructor.")
    got = check.call(first_diverging_lr, "first_diverging_lr", list(grid), own_work=False)
    shown = ", ".join(f"{x:g}" for x in grid)
    if got is None:
        check.fail(f"on the hidden grid [{shown}] your function found no diverging rate, "
                   f"although SGD diverges at some of them")
    value = _number(check, got, f"first_diverging_lr([{shown}])")
    if not _close(value, expected, 1e-9):
        if _close(value, grid[0], 1e-9) or _close(value, 1.5, 1e-9):
            hint = (" Take the rates in increasing order (sorted(grid)): the hidden grid is "
                    "not sorted." if _close(value, grid[0], 1e-9) else
                    " 1.5 is not on this grid: train on the grid the function is given.")
        elif not any(_close(value, x, 1e-9) for x in grid):
            hint = " That is not one of the grid's rates."
        else:
            hint = ""
        check.fail(f"on the hidden grid [{shown}] your function returns {value:g}, which is "
                   f"not the smallest rate at which SGD diverges.{hint}")
    return check.ok(f"the smallest diverging rate of another, unsorted grid [{shown}].")


def _rare_weights(p_rare: float, lr: float, t: int) -> list:
    """The expected-gradient model's weight, continuous and step by step."""
    with _quiet():
        return [1.0 - float(np.exp(-lr * p_rare * t)), 1.0 - (1.0 - lr * p_rare) ** t]


_VISIBLE_LIMIT, _VISIBLE_BEST = 1.4133, 0.634     # answers the visible checks show


def _rare_worlds(draw=None) -> list:
    """ex2 F's two (world, t): fixed without a secret; else a list of 4 frequencies with
    the rarest first and an array of 6 with the rarest inside, the rarest 0.002 to 0.03
    and the others at least 4 times as frequent (up to 0.95), and t such that the answer
    lies in [0.2, 0.95] (a world neither saturated nor untouched), each usual slip (the
    last or first token, 1 / lambda_max, 2 / max p, 2 / |p|^2, the visible answers 1.4133
    and 0.634) more than 2% away from it."""
    if draw is None:
        return [([0.004, 0.9, 0.6, 0.05], 400),
                (np.array([0.7, 0.7, 0.7, 0.7, 0.01, 0.2]), 60)]
    worlds = []
    for n, rare_first in ((4, True), (6, False)):
        while True:
            rare = _sig(_log_uniform(draw, 0.002, 0.03), 2)
            others = [_sig(draw.uniform(4 * rare, 0.95), 2) for _ in range(n - 1)]
            where = 0 if rare_first else int(draw.integers(1, n - 1))
            p = others[:where] + [rare] + others[where:]
            top = _top_eigenvalue(p)
            target = float(draw.uniform(0.3, 0.9))
            t = round(-float(np.log(1.0 - target)) / (2.0 / top * rare))
            if t < 5:
                continue
            right = _rare_weights(rare, 2.0 / top, t)
            slips = [_rare_weights(p[-1], 2.0 / top, t), _rare_weights(rare, 1.0 / top, t),
                     _rare_weights(rare, 2.0 / max(p), t),
                     _rare_weights(rare, 2.0 / sum(x * x for x in p), t),
                     _rare_weights(rare, _VISIBLE_LIMIT, t), [_VISIBLE_BEST]]
            if where != 0:
                slips.append(_rare_weights(p[0], 2.0 / top, t))
            if (all(0.2 <= w <= 0.95 for w in right)
                    and all(abs(x - w) > 0.02 * w for w in right for slip in slips
                            for x in slip)):
                break
        worlds.append((p if rare_first else np.array(p), t))
    return worlds


def best_rare_weight(best_rare_weight) -> str:
    """ex2 F: under the expected-gradient model, the rarest token's weight after t steps at
    the largest stable rate 2 / lambda_max (lambda_max by this module's secular equation),
    for two other worlds (the rarest token first, and in the middle; a list and an array),
    continuous or step-by-step model, within 0.1%."""
    check = _Check("best_rare_weight")
    for frequencies, t in _rare_worlds(_drawn(_TAG_WORLDS)):
        p = [float(x) for x in np.asarray(frequencies, dtype=float).tolist()]
        given = list(frequencies) if _TYPE(frequencies) is list else frequencies.copy()
        described = (f"for a hidden world of {len(p)} tokens (as a "
                     f"{_TYPE(frequencies).__name__}) and t = {t}")
        value = _number(check, check.call(best_rare_weight, "best_rare_weight", given, t),
                        f"best_rare_weight {described}")
        top = _top_eigenvalue(p)
        rare = min(p)
        if any(_close(value, x, 1e-3) for x in _rare_weights(rare, 2.0 / top, t)):
            continue
        slips = [
            (_rare_weights(p[-1], 2.0 / top, t), " That is the last token's weight; the "
                                                 "rarest has the smallest frequency."),
            (_rare_weights(p[0], 2.0 / top, t), " That is the first token's weight; the "
                                                "rarest has the smallest frequency."),
            (_rare_weights(rare, 1.0 / top, t), " That is at 1 / lambda_max, half the "
                                                "largest stable rate."),
            (_rare_weights(rare, 2.0 / max(p), t), " That is at 2 / (the largest diagonal "
                                                   "entry); use the largest eigenvalue."),
        ]
        matching = [h for values, h in slips if any(_close(value, x, 1e-3) for x in values)]
        hint = matching[0] if len(matching) == 1 else ""
        check.fail(f"{described}, the rarest token's weight at the largest stable rate is "
                   f"something else.{hint}")
    return check.ok("the rarest token's best weight in two other worlds.")


# --- exercise 3: AdaGrad, and a world where tuned SGD fails ------------------------------

def _arrays_in(state) -> list:
    """The NumPy arrays a student's state holds (an array, a tuple or list, or a dict),
    read without running any code of the state's (its class could be the student's own:
    no isinstance, which reads ``__class__``, no overridden ``__iter__`` or ``items``)."""
    kind = _TYPE(state)
    if kind is np.ndarray:
        return [state]
    if issubclass(kind, dict):
        values = list(dict.values(state))
    elif issubclass(kind, tuple):                              # named tuples included
        values = [tuple.__getitem__(state, k) for k in range(tuple.__len__(state))]
    elif issubclass(kind, list):
        values = [list.__getitem__(state, k) for k in range(list.__len__(state))]
    else:
        return []
    return [v for v in values if _TYPE(v) is np.ndarray]


def _adagrad_pair(check: _Check, result, shape, finite: bool = True):
    if _TYPE(result) is not tuple or len(result) != 2:
        check.fail(f"adagrad_step should return (new_w, new_state) as a tuple, got "
                   f"{_TYPE(result).__name__}")
    return _numbers(check, result[0], f"the returned w (w of shape {tuple(shape)})",
                    shape, finite=finite), result[1]


def _adagrad_settings(draw=None) -> list:
    """ex3 A's (lr, eps) for A1, A2 and A3: fixed without a secret; else lr 0.1 to 0.5 and
    eps 5e-4 to 3e-3 for A1 (large enough to tell eps inside the square root from
    outside), 1e-9 to 1e-7 for A2, 1e-7 to 1e-5 for A3."""
    if draw is None:
        return [(0.3, 1e-3), (0.2, 1e-8), (0.3, 1e-6)]
    return [(_sig(draw.uniform(0.1, 0.5), 2), _sig(_log_uniform(draw, low, high), 1))
            for low, high in ((5e-4, 3e-3), (1e-9, 1e-7), (1e-7, 1e-5))]


def adagrad_values(adagrad_init, adagrad_step) -> str:
    """ex3 A1: AdaGrad's weights over 100 sparse steps from a non-zero start, lr 0.3,
    eps 1e-3 (or drawn: see _adagrad_settings; large enough to tell eps inside the square
    root from outside)."""
    check = _Check("AdaGrad's values")
    lr, eps = _adagrad_settings(_drawn(_TAG_ADAGRAD))[0]
    rng = _rng(180801)
    w = rng.normal(size=6)
    state = check.call(adagrad_init, "adagrad_init", w.copy())
    reference = {name: (w.copy(), np.zeros(6)) for name in
                 ("correct", "eps", "rms0.9", "rms0.99", "rms0.999", "nosqrt", "mean", "late",
                  "plus")}
    hints = {
        "eps": "Your step puts eps inside the square root; it belongs outside: "
               "w - lr * g / (sqrt(s) + eps)",
        "rms0.9": "Your sum decays like RMSProp's average; AdaGrad keeps the plain sum of "
                  "every squared gradient (no decay, no averaging)",
        "nosqrt": "Your step divides by the sum itself, not by its square root",
        "mean": "Your step divides by the mean of the squared gradients; AdaGrad uses "
                "their sum",
        "late": "Your step divides by the sum before g**2 is added; add it first, then "
                "divide",
        "plus": "Your step goes uphill: subtract lr * g / (sqrt(s) + eps)",
    }
    hints["rms0.99"] = hints["rms0.999"] = hints["rms0.9"]
    for t in range(1, 101):
        g = rng.normal(size=6) * (rng.random(6) < 0.4)
        with _quiet():
            for name, (w_ref, s_ref) in list(reference.items()):
                beta = float(name[3:]) if name.startswith("rms") else 1.0
                s_new = beta * s_ref + (1 - beta) * g * g if beta < 1 else s_ref + g * g
                divisor = {"eps": np.sqrt(s_new + eps), "nosqrt": s_new + eps,
                           "mean": np.sqrt(s_new / t) + eps,
                           "late": np.sqrt(s_ref) + eps}.get(name, np.sqrt(s_new) + eps)
                sign = -1.0 if name == "plus" else 1.0
                reference[name] = (w_ref - sign * lr * g / divisor, s_new)
        result = check.call(adagrad_step, "adagrad_step", w, g.copy(), state, lr, eps)
        w, state = _adagrad_pair(check, result, (6,))
        if not _close(w, reference["correct"][0], 1e-9, 1e-12):
            hint = next((f" {hints[name]}." for name in hints
                         if _close(w, reference[name][0], 1e-9, 1e-12)), "")
            hint = hint or " AdaGrad: s = s + g**2, then w - lr * g / (sqrt(s) + eps)."
            check.fail(f"with lr {lr:g} and eps {eps:g}, w differs from AdaGrad's at step "
                       f"{t} of 100 sparse steps.{hint}")
    return check.ok(f"AdaGrad's weights over 100 sparse steps (lr {lr:g}, eps {eps:g}).")


def adagrad_pure(adagrad_init, adagrad_step) -> str:
    """ex3 A2: adagrad_init leaves w alone and does not hand it back as the state;
    adagrad_step leaves w, g and the state as they were, and moves w."""
    check = _Check("AdaGrad's pure step")
    lr, eps = _adagrad_settings(_drawn(_TAG_ADAGRAD))[1]
    rng = _rng(180901)
    w = rng.normal(size=6)
    w_before = w.copy()
    state = check.call(adagrad_init, "adagrad_init", w)
    if not _same(w, w_before) or any(a is w for a in _arrays_in(state)):
        check.fail("adagrad_init changed w or returned w itself as (part of) the state: start "
                   "the sum from new zeros, np.zeros_like(w)")
    for t in range(1, 9):
        g = rng.normal(size=6) * (rng.random(6) < 0.6)
        g[t % 6] = 0.7                                 # at least one gradient
        before = [a.copy() for a in (w, g, *_arrays_in(state))]
        result = check.call(adagrad_step, "adagrad_step", w, g, state, lr, eps)
        after = [w, g, *_arrays_in(state)]
        if len(before) != len(after) or not all(_same(a, b) for a, b in zip(before, after)):
            check.fail(f"at step {t}, adagrad_step changed its w, g or state in place; return "
                       f"new arrays (new_sum = state + g * g, not state += g * g)")
        new_w, state = _adagrad_pair(check, result, (6,), finite=False)
        if _moved(new_w, w, g) is False:
            check.fail(f"at step {t}, adagrad_step returned w unchanged although g is not zero")
        w = new_w
    return check.ok("adagrad_step leaves w, g and the state as they were, over 8 steps.")


def adagrad_stacked(adagrad_init, adagrad_step) -> str:
    """ex3 A3: 3 runs stacked as (3, 6) give over 20 steps what 3 separate runs give (the
    student's functions against themselves), and a step with a gradient moves w."""
    check = _Check("AdaGrad on stacked runs")
    runs = 3
    lr, eps = _adagrad_settings(_drawn(_TAG_ADAGRAD))[2]
    rng = _rng(181001)
    context = (f" (with w of shape ({runs}, 6), {runs} runs stacked: use elementwise "
               f"operations on whole arrays)")
    w = np.zeros((runs, 6))
    state = check.call(adagrad_init, "adagrad_init", w.copy(), context=context)
    separate = [(np.zeros(6), check.call(adagrad_init, "adagrad_init", np.zeros(6)))
                for _ in range(runs)]
    for t in range(1, 21):
        g = rng.normal(size=(runs, 6)) * (rng.random((runs, 6)) < 0.4)
        g[:, t % 6] = 0.5
        result = check.call(adagrad_step, "adagrad_step", w, g.copy(), state, lr, eps,
                            context=context)
        new_w, state = _adagrad_pair(check, result, (runs, 6), finite=False)
        if t == 1 and _moved(new_w, w, g) is False:
            check.fail("a first step with gradients left the stacked w where it was")
        w = new_w
        for r in range(runs):
            alone = check.call(adagrad_step, "adagrad_step", separate[r][0], g[r].copy(),
                               separate[r][1], lr, eps)
            separate[r] = _adagrad_pair(check, alone, (6,), finite=False)
            if not _close(w[r], separate[r][0], 1e-12, 1e-15, equal_nan=True):
                check.fail(f"at step {t}, run {r} of the stacked call (w of shape ({runs}, 6))"
                           f" differs from the same run on its own: use elementwise "
                           f"operations only.")
    return check.ok(f"{runs} stacked runs match {runs} separate runs over 20 steps.")


_HARD_SEED = 181101
_HARD_RUNS = 5
_HARD_STEPS = 3000
_HARD_FRACTIONS = (0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95)


def _hard_world_outcome(frequencies, seed: int = _HARD_SEED, runs: int = _HARD_RUNS):
    """(limit, SGD's rates, worst mean final error per rate (inf where a run diverged),
    the best rate's index, Adam's mean final error per token) on the world."""
    limit = 2.0 / _top_eigenvalue(frequencies)
    lrs = [limit * f for f in _HARD_FRACTIONS]
    w, diverged = _simulate(frequencies, lrs, [0.05], runs, _HARD_STEPS, seed)
    with _quiet():
        error = np.add.reduce(np.absolute(w - 1.0), axis=0) / runs    # (settings, n)
    bad = np.logical_or.reduce(diverged, axis=0).tolist()
    worst = [(_INF if bad[k] or not _all_finite(error[k]) else max(error[k].tolist()))
             for k in range(len(lrs))]
    best = min(range(len(lrs)), key=lambda k: worst[k])
    adam = error[len(lrs)]
    return limit, lrs, worst, best, adam, bad[len(lrs)]


# The rarest frequency part C allows: a token expected in about 47 of 3,000 batches of
# 32, so that SGD must fail through its learning rate, not through a token never seen.
_HARD_MIN_FREQUENCY = 0.0005


def _hard_world_frequencies(check: _Check, hard_world) -> list:
    got = check.call(hard_world, "hard_world", own_work=False)
    values = _plain(got)
    if values is None or values.ndim != 1 or values.size == 0:
        check.fail(f"hard_world() should return a list of token frequencies, got "
                   f"{_TYPE(got).__name__}"
                   + (f" of shape {values.shape}" if values is not None else ""))
    if values.size > 12:
        check.fail(f"use at most 12 tokens (you gave {values.size})")
    frequencies = values.tolist()
    if not all(x == x and _HARD_MIN_FREQUENCY <= x <= 1.0 for x in frequencies):
        check.fail(f"each frequency must lie between {_HARD_MIN_FREQUENCY} and 1 (the part's "
                   f"rule: every token is expected in at least about 47 of the 3,000 "
                   f"batches); yours: {frequencies}")
    return frequencies


def hard_world_sgd_fails(hard_world) -> str:
    """ex3 C1: on the student's world, SGD at the best of 7 rates below 2 / lambda_max
    leaves some token more than 0.5 from its target (mean final error over 5 streams of
    this module's own simulation, 3,000 steps)."""
    check = _Check("tuned SGD on your world")
    frequencies = _hard_world_frequencies(check, hard_world)
    limit, lrs, worst, best, _, _ = _hard_world_outcome(frequencies)
    if worst[best] >= _INF:
        check.fail("SGD diverged at every rate below the stability limit on your world")
    if worst[best] <= 0.5:
        check.fail(f"on 5 other random streams, tuned SGD copes with your world: at lr "
                   f"{lrs[best]:.3g} (its best of 7 below the limit {limit:.3g}) every token "
                   f"ends within {worst[best]:.2f} of its target on average. What holds "
                   f"SGD's rate down? Give it more of that.")
    return check.ok(f"on 5 other streams, tuned SGD (lr {lrs[best]:.3g}) leaves a token "
                    f"{worst[best]:.2f} from its target.")


def hard_world_adam_learns(hard_world) -> str:
    """ex3 C2: Adam at lr 0.05 leaves its worst token (mean final error over the same 5
    streams) less than half as far from its target as tuned SGD's worst."""
    check = _Check("Adam on your world")
    frequencies = _hard_world_frequencies(check, hard_world)
    _, _, worst, best, adam, adam_diverged = _hard_world_outcome(frequencies)
    adam_worst = max(adam.tolist()) if _all_finite(adam) and not adam_diverged else _INF
    if not adam_worst < 0.5 * worst[best]:
        shown = "diverges" if adam_worst >= _INF else f"ends {adam_worst:.2f} from its target"
        sgd = ("diverges" if worst[best] >= _INF else f"leaves {worst[best]:.2f}")
        measured = (f"Adam (lr 0.05)'s worst token {shown}, against tuned SGD, which {sgd} "
                    f"(needed: less than half)")
        if worst[best] <= 0.5:
            check.fail(f"tuned SGD already learns every token here (see C1): on 5 other random "
                       f"streams, {measured}. Adam cannot do twice as well where there is "
                       f"little left to learn.")
        check.fail(f"on 5 other random streams, {measured}. Tuned SGD's rate is held down "
                   f"by the frequent tokens: more of them, or more frequent ones, leave the "
                   f"rare token further behind.")
    return check.ok(f"on 5 other streams, Adam's worst token ends {adam_worst:.2f} from its "
                    f"target, less than half of tuned SGD's {worst[best]:.2f}.")


# --- exercise 4: the softmax gradient ----------------------------------------------------

# The references' parameters and variables have names of their own (ref_…): a student's
# function written with the exercise's parameters and the same lines is not a copy of one.

def _log_softmax_rows(ref_z) -> np.ndarray:
    ref_shifted = ref_z - np.maximum.reduce(ref_z, axis=-1, keepdims=True)
    return ref_shifted - np.log(np.add.reduce(np.exp(ref_shifted), axis=-1, keepdims=True))


def _loss_reference(ref_table, ref_batch) -> float:
    ref_log_p = _log_softmax_rows(ref_table[ref_batch[:, 0]])
    return float(-np.add.reduce(ref_log_p[np.arange(len(ref_batch)), ref_batch[:, 1]])
                 / len(ref_batch))


def _gradient_reference(ref_table, ref_batch) -> np.ndarray:
    ref_previous, ref_following = ref_batch[:, 0], ref_batch[:, 1]
    ref_grad = np.zeros_like(ref_table)
    np.add.at(ref_grad, ref_previous, np.exp(_log_softmax_rows(ref_table[ref_previous])))
    np.add.at(ref_grad, (ref_previous, ref_following), -1.0)
    return ref_grad / len(ref_batch)


def _bigram_case(seed: int, vocab: int, batch_size: int, repeats: bool, scale: float = 2.0,
                 offset: float = 0.0):
    rng = _rng(seed)
    table = offset + rng.normal(scale=scale, size=(vocab, vocab))
    if repeats:
        previous = rng.integers(0, 3, size=batch_size)
    else:
        previous = rng.permutation(vocab)[:batch_size]
    batch = np.stack([previous, rng.integers(0, vocab, size=batch_size)], axis=1)
    if repeats:
        batch[-1] = batch[0]
    return table, batch


def bigram_loss(bigram_loss) -> str:
    """ex4 A: the mean cross-entropy on other tables (V = 9 and 11) and batches, on logits
    near 800 (exp overflows without the row maximum subtracted) and spread over hundreds
    (a next word's probability underflows to 0, so log of the softmax is -inf)."""
    check = _Check("bigram_loss")
    cases = [
        ("ordinary logits", _bigram_case(181201, 9, 6, False)),
        ("repeated words", _bigram_case(181202, 11, 8, True)),
        ("logits near 800", _bigram_case(181203, 9, 6, True, scale=3.0, offset=800.0)),
        ("logits spread over hundreds", _bigram_case(181204, 11, 7, False, scale=400.0)),
    ]
    for what, (table, batch) in cases:
        expected = _loss_reference(table, batch)
        got = check.call(bigram_loss, "bigram_loss", table.copy(), batch.copy())
        array = _plain(got)
        if array is None or array.size != 1:
            check.fail("bigram_loss should return one number (the mean over the batch), got "
                       + (f"shape {array.shape}" if array is not None else _TYPE(got).__name__))
        value = array.ravel().tolist()[0]
        if not (value == value and -_INF < value < _INF):
            if what == "logits near 800":
                check.fail("with logits near 800 your loss is not finite: np.exp overflows. "
                           "Subtract each row's maximum before exponentiating (log-softmax is "
                           "unchanged by it).")
            if what == "logits spread over hundreds":
                check.fail("with logits spread over hundreds your loss is not finite, although "
                           "it stays finite with logits near 800: the log of a probability "
                           "that underflowed to 0. Compute log p as z - m - log(sum(exp(z - m)))"
                           ", not log(softmax(z)).")
            check.fail(f"bigram_loss returned {value} for {what}")
        if not _close(value, expected, 1e-9, 1e-12):
            hint = ""
            with _quiet():
                if _close(value, expected * len(batch), 1e-9):
                    hint = " That is the sum over the batch; the loss is the mean."
                elif _close(value, -expected, 1e-9):
                    hint = " The sign is flipped: the loss is minus the log-probability."
                elif _close(value, -float(np.add.reduce(_log_softmax_rows(table.T)[
                        batch[:, 0], batch[:, 1]]) / len(batch)), 1e-9):
                    hint = " The softmax runs over the wrong axis: over each row W[a]."
            check.fail(f"for a hidden table ({what}, V = {len(table)}, B = {len(batch)}) the "
                       f"loss is wrong.{hint}")
    return check.ok("the mean cross-entropy on other tables, finite for logits near 800 and "
                    "spread over hundreds.")


def _smooth(y):
    """A test function for central differences: sum(y**3) + sum(exp(y / 2))."""
    return float(np.add.reduce((y * y * y).ravel()) + np.add.reduce(np.exp(0.5 * y).ravel()))


def _central_reference(ref_f, ref_x, ref_index, ref_h) -> float:
    ref_plus, ref_minus = ref_x.copy(), ref_x.copy()
    ref_plus[ref_index] += ref_h
    ref_minus[ref_index] -= ref_h
    return (ref_f(ref_plus) - ref_f(ref_minus)) / (2 * ref_h)


def _difference_cases(draw=None) -> list:
    """ex4 B's (shape, h, two indices): fixed without a secret; else h from 5e-3 to 2e-2
    and from 5e-4 to 2e-3, and two different indices drawn for each shape."""
    if draw is None:
        return [((2, 3, 4), 1e-2, ((1, 2, 3), (0, 0, 1))), ((5,), 1e-3, ((4,), (2,)))]
    cases = []
    for shape, low, high in (((2, 3, 4), 5e-3, 2e-2), ((5,), 5e-4, 2e-3)):
        size = 1
        for n in shape:
            size *= n
        first, second = draw.choice(size, size=2, replace=False).tolist()
        indices = []
        for flat in (first, second):
            index = []
            for n in reversed(shape):
                index.append(flat % n)
                flat //= n
            indices.append(tuple(reversed(index)))
        cases.append((shape, _sig(_log_uniform(draw, low, high), 1), tuple(indices)))
    return cases


# ex4 B's f, as the student's central_difference gets it: built in a namespace of its own
# (the builtins and NumPy's C functions only), so that nothing it holds (its __globals__,
# its closure, the functions it calls) leads back to this module. Compiled under this
# file's name: the watch counts it, and what it calls, as the check's own code.
_HANDED_F_SOURCE = """
def make(given, before, changed, ndarray, add_reduce, exp, asarray):
    kind = ().__class__.__class__

    def view_of(y, x):
        for _ in range(64):
            if y is x:
                return True
            if kind(y) is not ndarray:
                return False
            y = y.base
        return False

    def same(a, b):
        a, b = asarray(a), asarray(b)
        return a.shape == b.shape and all(p == q or (p != p and q != q) for p, q in
                                          zip(a.ravel().tolist(), b.ravel().tolist()))

    def f(y):
        # x itself (or a view of it), changed in place, even if put back later
        if view_of(y, given) and not same(given, before):
            changed.append(True)
        return float(add_reduce((y * y * y).ravel()) + add_reduce(exp(0.5 * y).ravel()))

    return f
"""


def _handed_f(given, before, changed):
    """sum(y**3) + sum(exp(y / 2)) (as _smooth), noting in ``changed`` a call with
    ``given`` itself (or a view of it) changed in place; see _HANDED_F_SOURCE."""
    namespace = {"__builtins__": builtins, "__name__": "central_difference_f"}
    exec(compile(_HANDED_F_SOURCE, __file__, "exec"), namespace)
    return namespace["make"](given, before, changed, np.ndarray, np.add.reduce, np.exp,
                             np.asarray)


def central_difference(central_difference) -> str:
    """ex4 B: (f(x + h e) - f(x - h e)) / (2h) on x of shapes (2, 3, 4) and (5,) for
    f = sum(x**3) + sum(exp(x / 2)) at h = 1e-2 and 1e-3 (or drawn: see
    _difference_cases), leaving x as it was. The f handed over is the check's own code
    (_handed_f): the watch allows it (and what it calls here), not what it might call of
    the student's."""
    check = _Check("central_difference")
    rng = _rng(181301)
    for shape, h, indices in _difference_cases(_drawn(_TAG_DIFFERENCE)):
        x = rng.normal(size=shape)
        for index in indices:
            given, before = x.copy(), x.copy()
            changed = []
            f = _handed_f(given, before, changed)
            got = check.call(central_difference, "central_difference", f, given, index, h,
                             allow=(f,))
            if not _same(given, before):
                check.fail("central_difference changed x in place (and left it changed): work "
                           "on copies, x_plus = x.copy(); x_plus[index] += h")
            if changed:
                check.fail("central_difference called f with x itself, changed in place: work "
                           "on copies, x_plus = x.copy(); x_plus[index] += h (shifting x and "
                           "back restores it only when the rounding happens to cancel)")
            value = _number(check, got, "central_difference(f, x, index, h)")
            expected = _central_reference(_smooth, x, index, h)
            if not _close(value, expected, 1e-7, 1e-9):
                plus = x.copy()
                plus[index] += h
                minus = x.copy()
                minus[index] -= h
                forward = (_smooth(plus) - _smooth(x)) / h
                backward = (_smooth(x) - _smooth(minus)) / h
                hint = ""
                if _close(value, forward, 1e-7, 1e-9) or _close(value, backward, 1e-7, 1e-9):
                    hint = (" That is a one-sided difference; the central one is "
                            "(f(x + h e) - f(x - h e)) / (2 h).")
                elif _close(value, 2 * expected, 1e-6):
                    hint = " Divide by 2 h, the distance between x + h e and x - h e."
                check.fail(f"for x of shape {shape}, index {index} and h = {h:g}, your "
                           f"central difference is wrong.{hint}")
    return check.ok("central, on 3-D and 1-D x, at two step sizes, x left as it was.")


def _gradient_result(check: _Check, bigram_gradient, table, batch, what: str):
    got = check.call(bigram_gradient, "bigram_gradient", table.copy(), batch.copy())
    array = _plain(got)
    if array is not None and array.shape == table.shape and not _all_finite(array):
        large = max(abs(x) for x in table.ravel().tolist()) > 500
        check.fail(f"bigram_gradient(table, batch) ({what}) contains NaN or infinity"
                   + (": with logits near 800 np.exp overflows; subtract each row's maximum "
                      "before exponentiating (the softmax is unchanged by it)." if large
                      else "."))
    return _numbers(check, got, f"bigram_gradient(table, batch) ({what})", table.shape)


def bigram_gradient(bigram_gradient) -> str:
    """ex4 C1: the gradient on other tables (V = 9, 11, 13) and batches whose previous
    words are all different, logits near 800 included."""
    check = _Check("bigram_gradient")
    cases = [_bigram_case(181401, 9, 6, False), _bigram_case(181402, 11, 9, False),
             _bigram_case(181403, 13, 5, False, scale=3.0, offset=800.0)]
    for table, batch in cases:
        expected = _gradient_reference(table, batch)
        got = _gradient_result(check, bigram_gradient, table, batch, "previous words all "
                               "different")
        if not _close(got, expected, 1e-9, 1e-12):
            hint = _sum_or_sign_hint(got, expected, len(batch))
            check.fail(f"for a hidden table (V = {len(table)}) and a batch of {len(batch)} "
                       f"pairs with distinct previous words, the gradient is wrong.{hint}")
    return check.ok("the gradient on other tables and batches, logits near 800 included.")


def bigram_gradient_repeats(bigram_gradient) -> str:
    """ex4 C2: batches in which previous words, and a whole pair, repeat: every pair adds
    its share, and the rows of words that start no pair are exactly zero."""
    check = _Check("bigram_gradient with repeats")
    for seed, vocab, size in ((181501, 9, 7), (181502, 12, 10), (181503, 10, 5)):
        table, batch = _bigram_case(seed, vocab, size, True)
        batch[1, 0] = vocab - 1                 # a previous word that starts only one pair
        expected = _gradient_reference(table, batch)
        got = _gradient_result(check, bigram_gradient, table, batch, "with repeated words")
        starts = set(batch[:, 0].tolist())
        absent = [k for k in range(vocab) if k not in starts]
        if any(x != 0 for x in got[absent].ravel().tolist()):
            check.fail("rows of words that start no pair of the batch must be exactly zero: "
                       "their logits do not enter the loss")
        if not _close(got, expected, 1e-9, 1e-12):
            previous, following = batch[:, 0], batch[:, 1]
            buffered = np.zeros_like(table)
            buffered[previous] += np.exp(_log_softmax_rows(table[previous]))
            buffered[previous, following] -= 1.0
            hint = ""
            counts = {}
            for a in previous.tolist():
                counts[a] = counts.get(a, 0) + 1
            right = [_close(got[a], expected[a], 1e-9, 1e-12) for a in range(vocab)]
            once = [a for a, n in counts.items() if n == 1]
            repeated = [a for a, n in counts.items() if n > 1]
            if _close(got, buffered / len(batch), 1e-9, 1e-12) or (
                    once and all(right[a] for a in once)
                    and not all(right[a] for a in repeated)):
                hint = (" The rows of words that start one pair are right, those of repeated "
                        "previous words are not: with a repeated index, grad[previous] += … "
                        "adds once per distinct word; use np.add.at(grad, previous, …).")
            check.fail(f"for a hidden batch of {size} pairs in which previous words repeat "
                       f"(and one pair occurs twice), the gradient is wrong.{hint}")
    return check.ok("right with repeated words and pairs; absent rows exactly zero.")


def excess_by_group(excess_by_group) -> str:
    """ex4 D: count-weighted group means for 15 words in 4 groups (one of a single word),
    with integer counts and with float counts."""
    check = _Check("excess_by_group")
    rng = _rng(181601)
    members = [np.array([7]), np.array([0, 11, 3]), np.array([14, 2, 9, 5]),
               np.array([1, 4, 6, 8, 10, 12, 13])]
    draw = _drawn(_TAG_GROUPS)
    if draw is not None:                       # the same group sizes, other words
        words = draw.permutation(15)
        members = [words[m] for m in members]
    for counts in (rng.integers(1, 900, size=15), rng.random(15) * 50 + 0.5):
        excess = rng.random(15) * 3
        got = _numbers(check, check.call(excess_by_group, "excess_by_group", excess.copy(),
                                         counts.copy(), [m.copy() for m in members]),
                       "excess_by_group(excess, counts, members)", (len(members),))
        expected = np.array([float(np.add.reduce(excess[m] * counts[m])
                                   / np.add.reduce(counts[m])) for m in members])
        if not _close(got, expected, 1e-9, 1e-12):
            plain_mean = np.array([float(np.add.reduce(excess[m]) / m.size) for m in members])
            hint = (" That is the plain mean of each group's words; weight each word by its "
                    "count." if _close(got, plain_mean, 1e-9, 1e-12) else "")
            kind = "integer" if counts.dtype.kind == "i" else "float"
            check.fail(f"for 15 words in 4 groups ({kind} counts), the group means are "
                       f"wrong.{hint}")
    return check.ok("count-weighted means for other groups, integer and float counts.")



def _shared_case(seed: int, vocab: int, dim: int, batch_size: int, scale: float = 1.0,
                 offset: float = 0.0):
    """E, U, c and a batch in which previous words repeat, a next word ends two pairs and
    one pair occurs twice; ``offset`` is added to every bias (logits near it)."""
    rng = _rng(seed)
    embedding = rng.normal(scale=scale, size=(vocab, dim))
    output = rng.normal(scale=scale, size=(dim, vocab))
    bias = offset + rng.normal(size=vocab)
    previous = rng.integers(0, 4, size=batch_size)
    following = rng.integers(0, vocab, size=batch_size)
    following[2] = following[3]
    batch = np.stack([previous, following], axis=1)
    batch[-1] = batch[1]
    return embedding, output, bias, batch


def _shared_bias_reference(ref_e, ref_u, ref_c, ref_batch) -> np.ndarray:
    ref_size = len(ref_batch)
    ref_p = np.exp(_log_softmax_rows(np.matmul(ref_e[ref_batch[:, 0]], ref_u) + ref_c))
    ref_p[np.arange(ref_size), ref_batch[:, 1]] -= 1.0       # one entry per row: no repeats
    return np.add.reduce(ref_p, axis=0) / ref_size


def shared_bias_gradient(shared_bias_gradient) -> str:
    """ex4 F: dL/dc of the log-bilinear model (logits E[a] @ U + c) on other sizes (V = 10,
    12, 9; d = 5, 3, 4) and batches with repeats, logits near 800 and spread past 1,000
    included."""
    check = _Check("shared_bias_gradient")
    cases = [("ordinary logits", _shared_case(181801, 10, 5, 9)),
             ("ordinary logits", _shared_case(181802, 12, 3, 7)),
             ("logits near 800", _shared_case(181803, 9, 4, 6, offset=800.0)),
             ("logits spread past 1,000", _shared_case(181804, 9, 4, 8, scale=20.0))]
    for what, (embedding, output, bias, batch) in cases:
        vocab, dim = len(embedding), len(output)
        described = (f"for V = {vocab}, d = {dim} and a hidden batch of {len(batch)} pairs "
                     f"({what})")
        got = check.call(shared_bias_gradient, "shared_bias_gradient", embedding.copy(),
                         output.copy(), bias.copy(), batch.copy())
        array = _plain(got)
        if array is not None and array.shape == (vocab,) and not _all_finite(array):
            check.fail(f"{described}, the gradient contains NaN or infinity"
                       + (": np.exp overflows; subtract each row's maximum before "
                          "exponentiating." if what != "ordinary logits" else "."))
        got = _numbers(check, got, f"shared_bias_gradient(E, U, c, batch) {described}",
                       (vocab,))
        expected = _shared_bias_reference(embedding, output, bias, batch)
        if not _close(got, expected, 1e-9, 1e-12):
            hint = _sum_or_sign_hint(got, expected, len(batch))
            if not hint:
                with _quiet():
                    buffered = np.add.reduce(np.exp(_log_softmax_rows(
                        np.matmul(embedding[batch[:, 0]], output) + bias)), axis=0)
                    buffered[batch[:, 1]] -= 1.0             # a repeated next word once
                if _close(got, buffered / len(batch), 1e-9, 1e-12):
                    hint = (" A next word that ends several pairs counts once per pair: "
                            "grad[following] -= 1 applies a repeated index once; use "
                            "np.add.at.")
            check.fail(f"{described}, the gradient is wrong.{hint}")
    return check.ok("dL/dc right for other sizes and batches with repeats, large logits "
                    "included.")


# --- the guard over what the hidden tests rely on -------------------------------------------

# Modules the checks and the watch call into while they run (their functions by name).
_GUARDED_MODULES = ("builtins", "os", "posixpath", "pathlib", "dis", "opcode", "types", "io",
                    "runpy", "importlib.machinery", "numpy", "numpy.random")


def _trust_guard(ignore=("_TRUST", "__warningregistry__")):
    """A function ``changed(functions=False)`` that names what changed since this call
    (None when nothing did) in what the hidden tests rely on: this module's names (and
    the items of its dicts and lists) and its classes, exactly; the watch's names and
    classes, exactly; the objects the modules of _GUARDED_MODULES held, and their own
    classes' attributes (new names may appear: libraries import submodules); with
    ``functions``, each function's code, defaults and closure in this module and the
    watch. Everything it uses is bound now (a cell can rebind builtins), and it compares
    identities only (a student's object cannot answer for itself). ``ignore``: names that
    change by design (``warnings.warn(…, stacklevel=2)`` in a student's function adds a
    ``__warningregistry__`` here).

    This file keeps one (``_TRUST``, used by _verify_trust); run_hidden.py makes its own
    when it loads the file, out of any cell's reach."""
    _list, _len, _zip, _dict, _str = list, len, zip, dict, str
    _items, _get = dict.items, dict.get
    _function, _kind, _heap = _PY_FUNCTION, _TYPE, _HEAPTYPE
    _missing = object()
    exact, kept, functions = [], [], []     # (label, how to read it now, what it was)

    def names(namespace):
        return [(k, v) for k, v in _list(_items(namespace)) if k not in ignore]

    def attributes(cls):
        return _list(_items(_dict(cls.__dict__)))

    def values(container):
        return _list(_items(container)) if _kind(container) is _dict else _list(container)

    def watch_over(namespace, label, containers_too):
        exact.append((label, names, namespace, names(namespace)))
        module = namespace.get("__name__")
        for key, value in names(namespace):
            if _kind(value) is _function:
                functions.append((f"{label}.{key}", value))
            elif containers_too and (_kind(value) is _dict or _kind(value) is list):
                exact.append((f"{label}.{key}", values, value, values(value)))
            elif _kind(value) is _TYPE and value.__dict__.get("__module__") == module:
                exact.append((f"{label}.{key}", attributes, value, attributes(value)))
                functions.extend((f"{label}.{key}.{k}", v) for k, v in attributes(value)
                                 if _kind(v) is _function)

    watch_over(globals(), "hidden_checks", True)
    watch = _WATCH.get("Watch")
    if watch is not None:
        watch_over(watch.__init__.__globals__, "the watch", False)
    for module_name in _GUARDED_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        table = vars(module)
        kept.append((module_name, table, [(k, v) for k, v in _list(_items(table))
                                          if k != "_"]))
        for key, value in _list(_items(table)):
            if (_kind(value) is _TYPE and value.__flags__ & _heap
                    and value.__dict__.get("__module__") == module_name):
                kept.append((f"{module_name}.{key}", value, attributes(value)))

    def inside(function):
        found = [function.__code__, function.__defaults__, function.__kwdefaults__]
        for cell in function.__closure__ or ():
            try:
                found.append(cell.cell_contents)
            except ValueError:                       # an empty cell
                found.append(_missing)
        return found

    insides = [(label, function, inside(function)) for label, function in functions]

    def changed(functions: bool = False):
        for label, read, holder, before in exact:
            now = read(holder)
            if _len(now) != _len(before):
                return f"{label} (a name added or removed)"
            for new, old in _zip(now, before):
                if _kind(old) is tuple:
                    if new[0] is not old[0] or new[1] is not old[1]:
                        return f"{label}.{old[0]}" if _kind(old[0]) is _str else label
                elif new is not old:
                    return label
        for label, holder, before in kept:
            now = holder if _kind(holder) is _dict else _dict(holder.__dict__)
            for key, value in before:
                if _get(now, key, _missing) is not value:
                    return f"{label}.{key}"
        if functions:
            for label, function, before in insides:
                now = inside(function)
                if _len(now) != _len(before):
                    return f"{label} (its code, defaults or closure)"
                for new, old in _zip(now, before):
                    if new is not old:
                        return f"{label} (its code, defaults or closure)"
        return None

    return changed


__all__ = [
    "HiddenCheckFailed",
    "adam_moments", "adam_update", "adam_stacked", "effective_lr", "typical_effective_lr",
    "predicted_weight", "prediction", "expected_hessian", "stability_limit", "diverging",
    "best_rare_weight",
    "adagrad_values", "adagrad_pure", "adagrad_stacked", "hard_world_sgd_fails",
    "hard_world_adam_learns",
    "bigram_loss", "central_difference", "bigram_gradient", "bigram_gradient_repeats",
    "excess_by_group", "shared_bias_gradient",
]

_TRUST = _trust_guard()
