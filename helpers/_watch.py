"""The exercises' "own work" watch: did a student's function compute its result itself, or
hand the work to the series' code?

The checks call a student's function inside ``with Watch() as watch:`` and then ask
``watch.problem(name)``. The watch is a profile hook (``sys.setprofile``) that sees every
call the function makes, and flags
- a call into the series' package (any file of ``helpers/``, the checks included), or
  into one of the check's ``extra_dirs`` (the hidden tests pass their own ``grader/``
  folder, whose private references a notebook could import);
- a run of a *copy* of the series' code: a function whose bytecode, names and constants
  are those of a function in ``helpers/`` or an extra folder
  (``exec(compile(inspect.getsource(...)))``, a method or nested function cut out with
  ``textwrap.dedent``, or the source pasted into a cell), found by fingerprints of the
  folders' source files;
- code the hook cannot follow: ``exec``, ``eval``, ``compile``, a new thread or process;
- code that reaches into the check: frames (``sys._getframe``, ``inspect.currentframe``,
  a traceback's ``tb_frame``), the garbage collector's lists, ``sys.getprofile``;
- a switched-off watch: ``sys.setprofile`` called inside the function (also from C code,
  e.g. through ``map``: an audit hook, which cannot be removed, sees it), or a hook that is
  no longer the watch's when the function returns, or a ``sys.setprofile`` that the
  notebook replaced before the check ran.

``exec``, ``eval``, ``compile`` and frames count when the function's own code uses them,
not when a library does (an import runs ``exec``, ``collections.namedtuple`` runs ``eval``
and reads its caller's frame). A check may ``allow`` functions of its own that it hands
to the student's function (e.g. the ``f`` of a finite difference): such a function, and
the check's own code it calls (files of the watched folders, called from it), are not
flagged; anything else it calls (e.g. a method of an object the student passed to it)
is watched as usual.

Limits: code in the notebook could in principle change anything in the kernel (this
module's state, ``dis``, a thread started in an earlier cell that is fed work through a
queue); the hidden tests load their own copy of this file, and the instructor audits the
submissions.

This module uses the standard library only and no relative imports, so that the hidden
tests (``exercises/grader/``) can load a fresh copy of it from its file, which no cell of
the student's notebook can have replaced.
"""

from __future__ import annotations

import dis
import os
import sys
import types
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_THIS_FILE = __file__

# Taken when this module is loaded (before any student cell, for the package's own copy):
# a notebook that later rebinds sys.setprofile does not change what the watch calls.
_SETPROFILE = sys.setprofile
_GETPROFILE = sys.getprofile
_GETFRAME = sys._getframe
_REALPATH, _ISABS, _DIRNAME = os.path.realpath, os.path.isabs, os.path.dirname
_GET_IDENT = None
try:
    import _thread
    _GET_IDENT = _thread.get_ident
except ImportError:                                    # pragma: no cover
    pass

# C functions after which the hook cannot see what runs: (module, name).
_UNWATCHABLE = {
    ("builtins", "exec"): "exec",
    ("builtins", "eval"): "eval",
    ("builtins", "compile"): "compile",
    ("sys", "setprofile"): "sys.setprofile (which switches the watch off)",
    ("sys", "settrace"): "sys.settrace",
    ("sys", "getprofile"): "sys.getprofile (which reaches into the watch)",
    ("_thread", "start_new_thread"): "a new thread",
    ("_thread", "start_joinable_thread"): "a new thread",
    ("_posixsubprocess", "fork_exec"): "a new process",
    ("posix", "system"): "a new process (os.system)",
    ("posix", "fork"): "a new process (os.fork)",
    ("posix", "posix_spawn"): "a new process",
    ("posix", "posix_spawnp"): "a new process",
    ("nt", "system"): "a new process (os.system)",
}
# The same, as audit events (sys.addaudithook): raised however the function is reached,
# from Python or from C (``map(sys.setprofile, [None])`` makes no profile event).
_AUDITED = {
    "exec": "exec",
    "compile": "compile",
    "sys.setprofile": "sys.setprofile (which switches the watch off)",
    "sys.settrace": "sys.settrace",
    "os.system": "a new process (os.system)",
    "os.fork": "a new process (os.fork)",
    "os.forkpty": "a new process (os.forkpty)",
    "os.posix_spawn": "a new process",
    "os.spawn": "a new process",
    "os.exec": "a new process",
    "os.startfile": "a new process",
    "subprocess.Popen": "a new process",
    "_thread.start_new_thread": "a new thread",
    # What reaches into the check itself (its frames, and the watch in them).
    "sys._getframe": "frame inspection (sys._getframe)",
    "sys._current_frames": "frame inspection (sys._current_frames)",
    "gc.get_referrers": "the garbage collector's lists (gc.get_referrers)",
    "gc.get_referents": "the garbage collector's lists (gc.get_referents)",
    "gc.get_objects": "the garbage collector's lists (gc.get_objects)",
}
# Attributes whose reading raises the audit event "object.__getattr__": a frame.
_FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}
# exec, eval and compile are flagged when the student's own code calls them (directly or
# through a C function such as map), not when a library does: importing a module runs
# exec, collections.namedtuple runs eval.
_CODE_RUNNERS = {"exec", "eval", "compile"}
# The same for frames and the garbage collector (namedtuple reads its caller's frame,
# logging finds its caller), except through the modules made to inspect frames.
_INSPECTION = {"sys._getframe", "sys._current_frames", "gc.get_referrers",
               "gc.get_referents", "gc.get_objects", "object.__getattr__"}
_INSPECTORS = ("/inspect.py", "/traceback.py")


def _library_dirs() -> tuple:
    import sysconfig
    dirs = set()
    for base in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base,
                                          "installed_base": base,
                                          "installed_platbase": base})
        dirs.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    return tuple(str(Path(d)) + "/" for d in sorted(dirs))


_LIBRARY_DIRS = _library_dirs()


def _library_file(filename: str) -> bool:
    """True for a file of Python's standard library or of an installed package."""
    return (filename.startswith("<frozen") or filename.startswith(_LIBRARY_DIRS)
            or "/site-packages/" in filename or "/dist-packages/" in filename)


# A function this short (real instructions) is too generic to call a copy.
MIN_INSTRUCTIONS = 12


def _genuine(function, module: str, name: str) -> bool:
    return (type(function) is types.BuiltinFunctionType
            and getattr(function, "__module__", None) == module
            and getattr(function, "__name__", None) == name)


_SKIP_OPS = {"CACHE", "NOP", "RESUME", "PRECALL", "PUSH_NULL", "EXTENDED_ARG", "KW_NAMES",
             "COPY_FREE_VARS", "MAKE_CELL"}
_SAME_OP = {"LOAD_METHOD": "LOAD_ATTR", "CALL_METHOD": "CALL", "CALL_FUNCTION": "CALL"}
# How a name is read or written depends on where the function was compiled (a nested
# function reads its enclosing function's variables with LOAD_DEREF, the same source cut
# out and compiled at the top level reads them with LOAD_GLOBAL): one step for each.
for _kind, _ops in (("LOAD", ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR",
                              "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_GLOBAL", "LOAD_NAME",
                              "LOAD_FROM_DICT_OR_DEREF", "LOAD_FROM_DICT_OR_GLOBALS")),
                    ("STORE", ("STORE_FAST", "STORE_DEREF", "STORE_GLOBAL", "STORE_NAME")),
                    ("DELETE", ("DELETE_FAST", "DELETE_DEREF", "DELETE_GLOBAL",
                                "DELETE_NAME"))):
    _SAME_OP.update(dict.fromkeys(_ops, _kind))
# Python 3.13's pairs of loads and stores, one step per name.
_PAIRS = {"LOAD_FAST_LOAD_FAST": ("LOAD", "LOAD"), "STORE_FAST_STORE_FAST": ("STORE", "STORE"),
          "STORE_FAST_LOAD_FAST": ("STORE", "LOAD")}


def fingerprint(code: types.CodeType) -> tuple:
    """What a copy of a function keeps whatever file, line or name it is compiled under,
    whether it was nested in another function or a class, and whatever compiler flags
    (``from __future__`` imports change a few opcodes): its parameters' names, and its
    instructions with the names, local names and constants they use (nested functions by
    their own fingerprints; jump offsets left out). The parameters keep a student's own
    function, written with other parameters than the series', from matching a short
    formula of the series that it happens to spell the same way."""
    steps = [("PARAMETERS", code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])]
    for instruction in dis.get_instructions(code):
        name = instruction.opname
        if name in _SKIP_OPS:
            continue
        value = instruction.argval
        if name in _PAIRS and isinstance(value, tuple):
            steps.extend(zip(_PAIRS[name], value))
            continue
        if isinstance(value, types.CodeType):
            value = fingerprint(value)
        elif instruction.opcode in dis.hasjrel or instruction.opcode in dis.hasjabs:
            value = None
        elif name == "MAKE_FUNCTION":          # its flags say whether it is a closure
            value = None
        elif not isinstance(value, (str, int, float, complex, bytes, tuple, frozenset,
                                    type(None), bool)):
            value = repr(value)
        steps.append((_SAME_OP.get(name, name), value))
    return tuple(steps)


def _size(code: types.CodeType) -> int:
    return sum(1 for i in dis.get_instructions(code) if i.opname not in _SKIP_OPS)


_FINGERPRINTS: dict[Path, dict[tuple, str]] = {}
_MERGED: dict[tuple, dict[tuple, str]] = {}


def package_fingerprints(package_dir: Path = PACKAGE_DIR) -> dict[tuple, str]:
    """Fingerprint -> qualified name of every function (nested ones included) in the
    package's ``.py`` files, compiled from the files on disk (not from the loaded modules,
    which a notebook could have changed)."""
    package_dir = Path(package_dir).resolve()
    if package_dir not in _FINGERPRINTS:
        found: dict[tuple, str] = {}

        def walk(code: types.CodeType, module: str):
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    if _size(const) >= MIN_INSTRUCTIONS and not const.co_name.startswith("<"):
                        found.setdefault(fingerprint(const),
                                         f"{package_dir.name}.{module}.{const.co_qualname}")
                    walk(const, module)

        for path in sorted(package_dir.glob("*.py")):
            try:
                module_code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
            except (OSError, SyntaxError, ValueError):
                continue
            walk(module_code, path.stem)
        _FINGERPRINTS[package_dir] = found
    return _FINGERPRINTS[package_dir]


def _fingerprints_of(dirs: tuple) -> dict[tuple, str]:
    """The fingerprints of several folders together (the first folder's name wins)."""
    if dirs not in _MERGED:
        merged: dict[tuple, str] = {}
        for folder in dirs:
            for key, name in package_fingerprints(folder).items():
                merged.setdefault(key, name)
        _MERGED[dirs] = merged
    return _MERGED[dirs]


_REAL_DIRS: dict[str, str] = {}


def _real_dir(filename: str) -> str:
    """The folder of a code object's file, links resolved ("" for "<cell>" names)."""
    folder = _REAL_DIRS.get(filename)
    if folder is None:
        folder = _DIRNAME(_REALPATH(filename)) if _ISABS(filename) else ""
        _REAL_DIRS[filename] = folder
    return folder


# Watched folders -> a small number, the first part of a verdict's key.
_DIRS_KEYS: dict[tuple, int] = {}


# watched folders -> file name -> code -> verdict, shared by every watch: NumPy's own
# Python functions are looked at once. Code objects are the keys themselves, not their
# id(): id() raises an audit event, and every audit hook of the process (one per fresh
# copy of this file) would run for each call the watch sees.
_VERDICTS: dict[int, dict[str, dict]] = {}
_UNSEEN = object()

# The watches running now (normally one); the audit hook reports to them.
_ACTIVE: list[Watch] = []


def _caller_file() -> str:
    """The file of the Python code whose call raised the current audit event (the caller
    of the C function raising it)."""
    try:
        return _GETFRAME(2).f_code.co_filename
    except ValueError:                                 # pragma: no cover
        return ""


_IN_AUDIT: list[bool] = []      # our own sys._getframe raises an event too: not watched


def _audit(event, args):
    if not _ACTIVE or _IN_AUDIT:
        return
    if event == "object.__getattr__":
        if not (len(args) > 1 and args[1] in _FRAME_ATTRIBUTES):
            return
        what = "frame inspection (a traceback's or a generator's frame)"
    else:
        what = _AUDITED.get(event)
        if what is None:
            return
    thread = _GET_IDENT() if _GET_IDENT else None
    watches = [w for w in _ACTIVE if not w._own_change and w._thread == thread]
    if not watches:
        return
    if event in _CODE_RUNNERS or event in _INSPECTION:
        _IN_AUDIT.append(True)
        try:
            caller = _caller_file()
        finally:
            _IN_AUDIT.pop()
        if _library_file(caller) and not (event in _INSPECTION
                                          and caller.endswith(_INSPECTORS)):
            return
    for watch in watches:
        watch.unwatchable.append(what)


_AUDIT_HOOKED = _genuine(sys.addaudithook, "sys", "addaudithook")
if _AUDIT_HOOKED:
    sys.addaudithook(_audit)


class Watch:
    """``with Watch() as watch: result = f(...)``; then ``watch.problem("f")`` is a message
    in plain words, or None when ``f`` did its own work.

    ``allow``: functions (or code objects) of the check's own that ``f`` may call, such as
    a function the check passes to ``f`` as an argument; the check's own code that they
    call in turn is not flagged either.

    ``extra_dirs``: more folders watched like the package: a call into one of their
    ``.py`` files, or a copy of one of their functions, is flagged (the hidden tests pass
    their ``grader/`` folder)."""

    def __init__(self, package_dir: Path | None = None, allow=(), extra_dirs=()):
        self.package_dir = Path(package_dir or PACKAGE_DIR).resolve()
        dirs = [self.package_dir]
        for folder in extra_dirs:
            folder = Path(folder).resolve()
            if folder not in dirs:
                dirs.append(folder)
        self.dirs = tuple(dirs)
        self._dirs_key = _DIRS_KEYS.setdefault(self.dirs, len(_DIRS_KEYS))
        self._dir_names = {str(d): d.name for d in self.dirs}
        self.calls: list[str] = []         # helpers.module.function names called
        self.copies: list[str] = []        # helpers functions whose copy ran
        self.unwatchable: list[str] = []   # exec, threads, processes, setprofile
        self.switched_off = False
        self._known = _fingerprints_of(self.dirs)
        codes = [getattr(f, "__code__", f) for f in allow]
        self._allowed = {c: c for c in codes}
        self._allowed_files = {c.co_filename for c in codes}
        # Frames of allowed code, and of the check's own code that it calls.
        self._exempt: set = set()
        self._verdicts = _VERDICTS.setdefault(self._dirs_key, {})
        self._closing = False
        self._own_change = False
        self._thread = None
        self._profile = self._hook       # one bound method: `is` compares against it

    def _watched_file(self, code: types.CodeType) -> str | None:
        """The name of the watched folder that holds the code's file, else None."""
        return self._dir_names.get(_real_dir(code.co_filename))

    def _verdict(self, code: types.CodeType):
        # Equal code objects of one file get one verdict: it depends on the file, and on
        # what the code compares by (name, instructions, names, constants).
        in_file = self._verdicts.get(code.co_filename)
        if in_file is None:
            in_file = self._verdicts[code.co_filename] = {}
        verdict = in_file.get(code, _UNSEEN)
        if verdict is _UNSEEN:
            folder = self._watched_file(code)
            if code.co_filename == _THIS_FILE:         # the watch's own __exit__
                verdict = None
            elif folder is not None:
                verdict = ("call", f"{folder}.{Path(code.co_filename).stem}.{code.co_name}")
            else:
                copy = self._known.get(fingerprint(code))
                verdict = ("copy", copy) if copy else None
            in_file[code] = verdict
        return verdict

    def _hook(self, frame, event, arg):
        if self._closing:
            return
        if event == "call":
            code = frame.f_code
            if (code.co_filename in self._allowed_files
                    and self._allowed.get(code) is code) or (
                    self._exempt and frame.f_back in self._exempt
                    and self._watched_file(code) is not None):
                # A function the check handed over, or the check's own code it calls.
                self._exempt.add(frame)
                return
            verdict = self._verdict(code)
            if verdict:
                (self.calls if verdict[0] == "call" else self.copies).append(verdict[1])
        elif event == "return":
            if self._exempt:
                self._exempt.discard(frame)
        elif event == "c_call":
            what = _UNWATCHABLE.get((getattr(arg, "__module__", None),
                                     getattr(arg, "__name__", None)))
            if what:                          # (reading f_code raises an audit event)
                filename = frame.f_code.co_filename
                if filename != _THIS_FILE and not (what in _CODE_RUNNERS
                                                   and _library_file(filename)):
                    self.unwatchable.append(what)

    def __enter__(self):
        self._previous = _GETPROFILE()
        self._thread = _GET_IDENT() if _GET_IDENT else None
        if not (_genuine(_SETPROFILE, "sys", "setprofile")
                and _genuine(_GETPROFILE, "sys", "getprofile") and _AUDIT_HOOKED):
            self.switched_off = True
            return self
        _ACTIVE.append(self)
        self._own_change = True
        _SETPROFILE(self._profile)
        self._own_change = False
        if _GETPROFILE() is not self._profile:
            self.switched_off = True
        return self

    def __exit__(self, *exc):
        self._closing = True
        if _GETPROFILE() is not self._profile:
            self.switched_off = True
        self._own_change = True
        _SETPROFILE(self._previous)
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        self._exempt.clear()
        return False

    def problem(self, name: str) -> str | None:
        """Why ``name``'s result cannot count as its own work, or None."""
        if self.unwatchable:
            what = ", ".join(dict.fromkeys(self.unwatchable))
            return (f"{name} uses {what}, which the check cannot follow or allow: a "
                    f"function this exercise grades must compute its result in its own "
                    f"Python code (see 'What you may use' at the top of the notebook).")
        if self.switched_off:
            return (f"the watch that checks {name} computes its own result was switched off "
                    f"(sys.setprofile was changed): the check cannot see what {name} does, "
                    f"so it cannot pass.")
        if self.calls:
            called = ", ".join(list(dict.fromkeys(self.calls))[:2])
            return (f"{name} calls the series' own implementation ({called}, …) instead of "
                    f"computing the result itself. This exercise asks you to write it with "
                    f"NumPy: the checks compare against that implementation, so calling it "
                    f"proves nothing (see 'What you may use' at the top of the notebook).")
        if self.copies:
            copied = ", ".join(list(dict.fromkeys(self.copies))[:2])
            return (f"{name} runs a copy of the series' own code ({copied}) instead of code "
                    f"of its own: write the computation yourself (see 'What you may use' at "
                    f"the top of the notebook).")
        return None
