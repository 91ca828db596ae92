"""The audit-hook sandboxes of the grading (instructor-only, standard library only).

``install("driver", ...)``: the strict one, in the separate process that runs the hidden
tests (``run_hidden.py``), installed after the hidden tests' file is loaded and before the
first student cell. It refuses, with a ``PermissionError`` (an ``OSError``, which
libraries that probe for a cache folder or a font catch), from ANY caller:

- new processes and threads (``os.fork``, ``os.system``, ``os.exec*``, ``os.posix_spawn``,
  ``os.spawn*``, ``subprocess.Popen``, ``_posixsubprocess.fork_exec``, which raises no
  audit event and is replaced by a function that refuses, a fresh copy of
  ``_posixsubprocess``, ``_thread.start_new_thread``), signals to other processes
  (``os.kill``, ``os.killpg``), ``os.chdir``;
- ``sqlite3.connect``, sockets, ``ctypes`` (and its import by student code), ``cffi``
  (which calls C without an audit event: ``run_hidden.py`` keeps it from being imported
  before the sandbox, and the sandbox refuses importing it), ``sys.getprofile`` (the
  hidden tests' watch is its profile function);
- every write: ``open`` with a write mode or write flags, ``os.remove``, ``rename``,
  ``replace``, ``rmdir``, ``mkdir``, ``truncate``, ``chmod``, ``chown``, ``symlink``,
  ``link``, ``utime``, ``shutil``'s copies, moves and removals; and reading another
  process's memory (``/proc/…/mem``);
- reading a file of the grader folder (the hidden tests, the course's secret) unless the
  grader's own code asks for it (found by the file's identity, so a link or a ``..`` path
  is the same file); reading or listing anything inside the course folder (other
  students' submissions, the gradebook, the sources) or another private folder (the
  exchange), when student code asks (paths resolved link by link, so
  ``/proc/<pid>/cwd/…`` or a link in the notebook's folder is the place it leads to);

and, when the code asking is not library code (the standard library, installed packages,
the series' ``helpers`` or the grader folder): frames (``sys._getframe``,
``sys._current_frames``, a traceback's, generator's or coroutine's frame, also through
``inspect``, ``traceback`` or ``logging``), the garbage collector's lists, profile and trace
hooks, new audit hooks, rebuilt or swapped code objects (``code.__new__``, ``__code__ =``),
``marshal``, and ``compile`` under the name of a library file with other source (which
would make student code pass for library code).

"Student code asks" is judged by the innermost frame that is neither a library's nor
(for reads) the series': the series' code, or NumPy, called by a cell on the cell's
behalf counts as the cell.

``install("kernel", ...)``: the lighter one, in the kernel that runs the student's
notebook for nbgrader (``grading_kernel_startup.py``): no new process (``subprocess``,
``os.system``, ``!`` lines, fork, exec, spawn), no ``sqlite3.connect``, no ``os.chdir``
(nothing in a notebook's grading needs them once it runs), also through
``_posixsubprocess.fork_exec`` or a fresh copy of ``_posixsubprocess``; no ``ctypes`` call
and no import of ``ctypes`` or ``cffi`` by student code (the series' own code, through
Numba and llvmlite, uses ``ctypes``); no ``/proc/<pid>/mem``; no new thread from student
code (the series' own code may start its threads); no reading or listing inside the
course folder outside the student's own autograded folder, nor inside another private
folder (the exchange), by student code; no write inside the course folder
outside the student's own autograded folder, none directly into a folder that holds the
course (or into a ``grader`` or ``exercises`` folder there), none into Python's
installation, the installed packages, the ``helpers`` package (but for Numba's cache,
written by the series' own code), or IPython's and Jupyter's folders; no reading of the
grader's files but its ``.py`` files (the course's secret) by student code; and, as in
the driver, no garbage collector's lists, new audit hook, rebuilt code object or
``compile`` under a library file's name from student code.

An in-process sandbox made of audit hooks is not a security boundary: Python code that
finds a way around it (a frame or an object it should not reach, native code run through
Numba or NumPy's raw memory access, an interpreter bug) can do anything the grading user
can. It stops the known tricks and tells the student
why; for high-stakes grading run ``autograde`` as an unprivileged user, or in a
container, where the course folder is read-only (INSTRUCTORS.md).

Everything the hooks use is bound when they are installed (C functions and closures), so
that later changes to modules (``os.path``, ``pathlib``) cannot change their verdicts. The
functions put in place of ``start_new_thread``, ``fork_exec`` and ``getprofile`` are
reachable by student code (``__closure__`` is not audited): none of them closes over the
hooks' state; the kernel's thread starter asks the hook through an audit event of its own.
"""

from __future__ import annotations


def install(mode: str, *, grader_dir, helpers_dir=None, course_root=None, own_dir=None,
            extra_protected=(), private=()):
    """Install the sandbox of ``mode`` ("driver" or "kernel") in this process.

    ``grader_dir``: the grader folder (its code counts as library code; only its code may
    read its files: all of them in the driver, all but the ``.py`` files in the kernel,
    so that the course's secret stays secret). ``helpers_dir``: the series' package (its
    code counts as library code). ``course_root``, ``own_dir`` (kernel): the course
    folder, and the student's autograded folder inside it where the notebook may write.
    ``extra_protected`` (kernel): more folders nobody may write into. ``private``: more
    folders whose files student code may not read or list (the exchange); the course
    folder is private too (in the kernel, but for ``own_dir``)."""
    import os
    import posix
    import stat as stat_module
    import sys
    import sysconfig

    if mode not in ("driver", "kernel"):
        raise ValueError(f"unknown sandbox mode {mode!r}")

    # --- C functions and constants, bound now ------------------------------------------
    _stat, _lstat, _readlink, _getcwd = posix.stat, posix.lstat, posix.readlink, posix.getcwd
    _getframe = sys._getframe
    import _thread
    _ident = _thread.get_ident
    _isdir, _islnk, _isreg = stat_module.S_ISDIR, stat_module.S_ISLNK, stat_module.S_ISREG
    _str, _bytes, _int, _tuple, _type = str, bytes, int, tuple, type
    _len, _isinstance = len, isinstance
    try:
        import pathlib
        _path_types = (pathlib.PosixPath, pathlib.PurePosixPath)
        _path_str = pathlib.PurePath.__str__
        _path_fspath = pathlib.PurePath.__fspath__
    except ImportError:                                  # pragma: no cover
        _path_types, _path_str, _path_fspath = (), None, None
    write_flags = (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
                   | getattr(os, "O_EXCL", 0))

    def real(path: str) -> str:
        """The path with every symbolic link resolved (posixpath.realpath, on the C
        functions bound above)."""
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        parts = [p for p in path.split("/") if p and p != "."]
        done, hops = "", 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                done = done.rpartition("/")[0]
                continue
            candidate = done + "/" + part
            try:
                info = _lstat(candidate)
            except OSError:
                done = candidate + "".join("/" + p for p in parts)
                break
            if _islnk(info.st_mode):
                hops += 1
                if hops > 40:
                    return candidate
                target = _readlink(candidate)
                if target.startswith("/"):
                    done = ""
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            done = candidate
        return done or "/"

    def inside(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder if folder.endswith("/")
                                                 else folder + "/")

    def folder_of(directory) -> str | None:
        try:
            return real(_str(directory))
        except Exception:
            return None

    # --- whose code is calling --------------------------------------------------------
    library = set()
    for base in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base,
                                          "installed_base": base, "installed_platbase": base})
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            for variant in {paths[key], folder_of(paths[key]) or paths[key]}:
                library.add(variant.rstrip("/") + "/")
    stdlib_dirs = _tuple(sorted(d for d in library if "-packages" not in d))
    library = _tuple(sorted(library))
    def variants(folder) -> tuple:
        if not folder:
            return ()
        return _tuple(sorted({(folder_of(folder) or _str(folder)).rstrip("/") + "/",
                              _str(folder).rstrip("/") + "/"}))

    grader_prefixes = variants(grader_dir)
    helpers_prefixes = variants(helpers_dir)
    trusted = grader_prefixes + helpers_prefixes
    # Standard-library modules whose functions hand a frame to their caller: the verdict
    # is about who called them.
    inspectors = ("/inspect.py", "/traceback.py", "/logging/__init__.py", "/bdb.py", "/pdb.py",
                  "/cgitb.py", "/pydoc.py", "/trace.py")
    inspector_dirs = ("/asyncio/",)

    def kind(filename) -> str:
        """'lib' (standard library, installed packages), 'grader', 'helpers', or
        'student' (anything else: cells, <string>, files elsewhere)."""
        if not _isinstance(filename, _str):
            return "student"
        if filename.startswith(grader_prefixes):
            return "grader"
        if helpers_prefixes and filename.startswith(helpers_prefixes):
            return "helpers"
        if (filename.startswith("<frozen ") or filename.startswith(library)
                or "/site-packages/" in filename or "/dist-packages/" in filename):
            return "lib"
        return "student"

    def is_inspector(filename) -> bool:
        return (_isinstance(filename, _str) and filename.startswith(stdlib_dirs)
                and (filename.endswith(inspectors) or any(d in filename for d in inspector_dirs)))

    busy = set()     # threads inside the hook's own calls (its sys._getframe raises an event)

    def frames(depth):
        me = _ident()
        busy.add(me)
        try:
            frame = _getframe(depth)
        except ValueError:
            frame = None
        finally:
            busy.discard(me)
        while frame is not None:
            yield frame
            frame = frame.f_back

    def caller_is_library(depth=3) -> bool:
        """The code that raised the event (the caller of the C function), seen through
        the standard library's frame-returning helpers, is library or trusted code."""
        for frame in frames(depth):
            filename = frame.f_code.co_filename
            if is_inspector(filename):
                continue
            return kind(filename) != "student"
        return True

    def first_own_code(depth=3, skip=("lib",)) -> str | None:
        """The kind of the innermost frame whose kind is not in ``skip`` ('grader',
        'helpers' or 'student'), or None when there is none (a library's own thread)."""
        for frame in frames(depth):
            found = kind(frame.f_code.co_filename)
            if found not in skip:
                return found
        return None

    def reader(depth=4) -> str | None:
        """Who reads a file: the innermost code that is neither a library's nor the
        series' (which a student's code could ask to open any path)."""
        return first_own_code(depth, ("lib", "helpers"))

    # The grader's files, by identity (a link or a '..' path is the same file).
    protected_ids = set()
    if grader_dir:
        for root, dirs, files in os.walk(_str(grader_dir)):
            for name in [".", *files, *dirs]:
                if mode == "kernel" and name.endswith(".py"):
                    continue             # public in the repository; the kernel ran one
                try:
                    info = _stat(root + "/" + name)
                except OSError:
                    continue
                protected_ids.add((info.st_dev, info.st_ino))
    protected_ids = frozenset(protected_ids)

    def protected_read(path) -> bool:
        """Reading ``path`` reaches a file of the grader's, and student code asks."""
        if not protected_ids:
            return False
        text = as_text(path)
        try:
            info = _stat(text) if text is not None else None
        except Exception:
            info = None
        if text is None or (info is not None and (info.st_dev, info.st_ino) in protected_ids):
            return reader(5) == "student"
        return False

    def student_on_stack(depth=3) -> bool:
        for frame in frames(depth):
            if kind(frame.f_code.co_filename) == "student":
                return True
        return False

    # The course folder (other students' submissions, the gradebook, the sources) and the
    # other private folders: student code may not read or list what is inside them, but
    # for its own folder (the kernel's own_dir).
    course = folder_of(course_root) if course_root else None
    own = folder_of(own_dir) if own_dir else None
    private_trees = {course} if course else set()
    for folder in private:
        found = folder_of(folder)
        if found and found != "/":
            private_trees.add(found)
    private_trees = _tuple(sorted(private_trees))

    def private_read(path, depth=6) -> bool:
        """Reading or listing ``path`` reaches inside a private folder (links resolved,
        ``/proc/<pid>/cwd`` and ``/proc/<pid>/fd/<n>`` included), and student code asks."""
        if not private_trees:
            return False
        if path is None:
            path = "."                          # os.listdir() and os.scandir(): the cwd
        try:
            target = resolve(path)
        except Exception:
            target = None
        if target is not None:
            if own and inside(target, own):
                return False
            if not any(inside(target, tree) for tree in private_trees):
                return False
        return reader(depth) == "student"

    def process_memory(path) -> bool:
        """``/proc/<pid>/mem`` (or ``pagemap``), links resolved: another process's memory,
        or this one's (writing it runs any code)."""
        text = as_text(path)
        if not _isinstance(text, _str):
            return False
        if text.startswith("/proc/") and text.endswith(("/mem", "/pagemap")):
            return True
        try:
            target = real(text)
        except Exception:
            return False
        return target.startswith("/proc/") and target.endswith(("/mem", "/pagemap"))

    # --- paths -----------------------------------------------------------------------
    def as_text(path):
        """A path argument as a str; an int for a file descriptor; None when it cannot
        be read without running code a notebook could have changed."""
        if _isinstance(path, _str):
            return path
        if _isinstance(path, _bytes):
            return path.decode("utf-8", "surrogateescape")
        if _isinstance(path, _int):
            return path
        if (_type(path) in _path_types and _type(path).__str__ is _path_str
                and _type(path).__fspath__ is _path_fspath):
            return _path_str(path)
        return None

    def fd_folder(fd):
        try:
            return real(_readlink(f"/proc/self/fd/{fd}"))
        except Exception:
            return None

    def resolve(path, dir_fd=None):
        """The real path a write to ``path`` reaches (its folder resolved, and the last
        part too when it is a link); None when it cannot be told."""
        text = as_text(path)
        if text is None:
            return None
        if _isinstance(text, _int):
            return fd_folder(text)
        if dir_fd not in (None, -1) and not text.startswith("/"):
            base = fd_folder(dir_fd)
            if base is None:
                return None
            text = base + "/" + text
        return real(text)

    class Refused(PermissionError):
        pass

    class RefusedImport(ModuleNotFoundError):
        """A refused import: an ImportError, which libraries that try an optional module
        (Numba tries cffi) take for a missing one."""

    RefusedImport.__name__ = RefusedImport.__qualname__ = "Refused"

    def refuse(what: str):
        raise Refused(f"not allowed while grading: {what}")

    def refuse_import(name: str, why: str = ""):
        raise RefusedImport(f"not allowed while grading: importing {name}{why}", name=name)

    # Modules that run code where these hooks do not reach (another interpreter) or
    # poke at the interpreter's memory.
    unsafe_modules = ("_xxsubinterpreters", "_xxinterpchannels", "_interpreters",
                      "_interpchannels", "_interpqueues", "_testcapi", "_testinternalcapi",
                      "_testmultiphase", "_testsinglephase", "_xxtestfuzz")

    # Modules whose functions run native code without an audit event (cffi), or that
    # student code has no business loading (ctypes: its calls are audited, but in the
    # kernel the series' Numba uses it from library frames).
    native_modules = ("_ctypes", "ctypes", "_cffi_backend", "cffi")
    blocked_modules = ("_cffi_backend", "cffi")
    # (run_hidden.py and the kernel's start-up keep cffi from being loaded before this:
    # any import of it now is refused, with an ImportError, as a missing module.)

    def replace_everywhere(real_function, replacement, places=()):
        """``replacement`` wherever a loaded module holds ``real_function`` (and at
        ``places``): where the standard library looks it up."""
        for module in list(sys.modules.values()):
            try:
                names = [name for name, value in vars(module).items()
                         if value is real_function]
            except TypeError:
                continue
            for name in names:
                setattr(module, name, replacement)
        for module, name in places:
            setattr(module, name, replacement)

    # The functions below stand in for C functions and are reachable by student code:
    # none closes over the hooks' state (``refuse`` holds the exception class only).

    # Python 3.11 raises no audit event for a new thread: the functions that start one
    # are replaced where the standard library looks them up (``_thread``, ``threading``).
    import _thread
    import threading
    real_start = _thread.start_new_thread
    _audit = sys.audit
    thread_event = "grading.sandbox.start_new_thread"

    def thread_refused(*args, **kwargs):
        refuse("a new thread")

    if mode == "driver":
        starter = thread_refused
    else:
        def starter(function, args, kwargs=None, *rest):
            _audit(thread_event)          # the kernel's hook refuses it for student code
            return real_start(function, args, *([] if kwargs is None else [kwargs]), *rest)

    replace_everywhere(real_start, starter, ((_thread, "start_new_thread"),
                                             (_thread, "start_new"),
                                             (threading, "_start_new_thread")))

    # _posixsubprocess.fork_exec (under subprocess and multiprocessing) starts a process
    # without an audit event: refused in both sandboxes, as every new process is. A fresh
    # copy of the module is refused at its import (it is loaded now, so that any later
    # import of it is one).
    try:
        import _posixsubprocess
    except ImportError:                                  # pragma: no cover
        _posixsubprocess = None
    if _posixsubprocess is not None:
        def process_refused(*args, **kwargs):
            refuse("a new process (_posixsubprocess.fork_exec)")

        replace_everywhere(_posixsubprocess.fork_exec, process_refused,
                           ((_posixsubprocess, "fork_exec"),))

    if mode == "driver":
        # The hidden tests' watch is the profile function while a check calls the
        # student's code: sys.getprofile() would hand it over (its records, to be
        # erased). The watch keeps the C function it took when it was loaded.
        def getprofile_refused(*args, **kwargs):
            refuse("sys.getprofile (the hidden tests' watch)")

        sys.getprofile = getprofile_refused

    def compile_spoofs(args) -> bool:
        """compile() under the name of a library or grader file whose source is not
        that file's: student code that would then pass for library code."""
        if _len(args) < 2:
            return False
        filename = args[1]
        if _isinstance(filename, _bytes):
            filename = filename.decode("utf-8", "surrogateescape")
        if not _isinstance(filename, _str):
            return False
        if filename.startswith("<frozen"):
            return True
        if kind(filename) == "student":
            return False
        source = args[0]
        if _isinstance(source, _str):
            source = source.encode("utf-8")
        if not _isinstance(source, _bytes):
            return True                               # an AST, under a library's name
        try:
            fd = posix.open(filename, os.O_RDONLY)
            try:
                chunks = []
                while True:
                    chunk = posix.read(fd, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
            finally:
                posix.close(fd)
        except OSError:
            return True
        on_disk = b"".join(chunks)
        return not (source == on_disk or source.strip() == on_disk.strip())

    # Ways to reach the sandbox's own objects, or to make code pass for library code:
    # refused when student code asks (in both sandboxes).
    code_guarded = {
        "gc.get_objects": "the garbage collector's lists (gc.get_objects)",
        "gc.get_referrers": "the garbage collector's lists (gc.get_referrers)",
        "gc.get_referents": "the garbage collector's lists (gc.get_referents)",
        "sys.addaudithook": "a new audit hook",
        "code.__new__": "building a code object (code.__new__, code.replace)",
        "marshal.loads": "marshal.loads", "marshal.load": "marshal.load",
        "function.__new__": "building a function from a code object",
        "sys.monitoring.register_callback": "sys.monitoring",
    }

    # --- the driver: the strict sandbox ---------------------------------------------------
    if mode == "driver":
        always = {
            "os.chdir": "changing the working folder (os.chdir)",
            "os.fork": "a new process (os.fork)", "os.forkpty": "a new process (os.forkpty)",
            "os.system": "a new process (os.system)", "os.exec": "a new process (os.exec*)",
            "os.posix_spawn": "a new process (os.posix_spawn)",
            "os.spawn": "a new process (os.spawn*)", "os.startfile": "a new process",
            "subprocess.Popen": "a new process (subprocess)", "pty.spawn": "a new process",
            "_thread.start_new_thread": "a new thread",
            "sqlite3.connect": "opening a database (sqlite3.connect)",
            "sqlite3.connect/handle": "opening a database (sqlite3.connect)",
            "os.kill": "signalling a process (os.kill)",
            "os.killpg": "signalling a process group (os.killpg)",
            "os.remove": "deleting a file", "os.rename": "renaming a file",
            "os.rmdir": "deleting a folder", "os.mkdir": "creating a folder",
            "os.truncate": "truncating a file", "os.chmod": "changing permissions",
            "os.chown": "changing an owner", "os.symlink": "creating a link",
            "os.link": "creating a link", "os.utime": "changing a file's times",
            "os.setxattr": "changing a file's attributes",
            "os.removexattr": "changing a file's attributes",
            "os.chflags": "changing a file's flags", "os.lchflags": "changing a file's flags",
            "os.putenv": None, "os.unsetenv": None,
            "webbrowser.open": "opening a browser",
            "urllib.Request": "a network request",
            "cpython.PyInterpreterState_New": "a new interpreter",
        }
        always = {k: v for k, v in always.items() if v}
        guarded = {   # refused unless library code asks
            "sys._getframe": "frame inspection (sys._getframe)",
            "sys._current_frames": "frame inspection (sys._current_frames)",
            "sys.setprofile": "sys.setprofile", "sys.settrace": "sys.settrace",
            **code_guarded,
        }
        frame_attributes = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}

        def driver_hook(event, args):
            if busy and _ident() in busy:
                return
            what = always.get(event)
            if what is not None:
                refuse(what)
            if event == "import":
                name = args[0] if args and _isinstance(args[0], _str) else ""
                if (name.startswith(unsafe_modules) or name == "_posixsubprocess"
                        or name.partition(".")[0] in blocked_modules):
                    refuse_import(name)
                if (name.partition(".")[0] in native_modules
                        and first_own_code() == "student"):
                    refuse_import(name, " (native code)")
                return
            if event == "open":
                path, open_mode, flags = (args + (None, None, None))[:3]
                if ((_isinstance(open_mode, _str) and any(c in open_mode for c in "wax+"))
                        or (_isinstance(flags, _int) and flags & write_flags)):
                    refuse("writing a file")
                text = as_text(path)
                if process_memory(path):
                    refuse("reading a process's memory")
                if open_mode is None and _isinstance(text, _str) and not text.startswith("/"):
                    # os.open with a relative path: its dir_fd, which the event does not
                    # show, could be a folder of the grader's.
                    if first_own_code() == "student":
                        refuse("os.open with a relative path")
                if protected_read(path):
                    refuse("reading the grader's files")
                if private_read(path, 5):
                    refuse("reading the course's files (other students' work, the "
                           "gradebook, the sources)")
                return
            if event in ("os.listdir", "os.scandir"):
                if args and private_read(args[0], 5):
                    refuse("listing the course's folders")
                return
            if event.startswith(("socket.", "ctypes.", "shutil.")):
                refuse(f"{event.partition('.')[0]} ({event})")
            if event in guarded:
                if not caller_is_library():
                    refuse(guarded[event])
                return
            if event == "object.__getattr__":
                if _len(args) > 1 and args[1] in frame_attributes and not caller_is_library():
                    refuse(f"frame inspection ({args[1]})")
                return
            if event == "object.__setattr__":
                if (_len(args) > 1 and args[1] in ("__code__", "__globals__")
                        and not caller_is_library()):
                    refuse(f"replacing a function's {args[1]}")
                return
            if event == "compile" and first_own_code() == "student" and compile_spoofs(args):
                refuse("compiling code under a library file's name")

        sys.addaudithook(driver_hook)
        return driver_hook

    # --- the kernel: the lighter sandbox ------------------------------------------------
    no_write_trees = set()          # nobody writes inside these (own_dir excepted)
    no_new_entries = set()          # nobody creates or changes entries directly in these
    if course:
        no_write_trees.add(course)
        parent = course.rpartition("/")[0] or "/"
        while True:
            no_new_entries.add(parent)
            for name in ("grader", "exercises"):
                no_write_trees.add(parent.rstrip("/") + "/" + name)
            if parent == "/":
                break
            parent = parent.rpartition("/")[0] or "/"
    for base in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        found = folder_of(base)
        if found and found != "/":
            no_write_trees.add(found)
    no_write_trees.update(d.rstrip("/") for d in library if d.rstrip("/"))
    no_write_trees.update(d.rstrip("/") for d in trusted if d.rstrip("/"))
    for folder in extra_protected:
        found = folder_of(folder)
        if found:
            no_write_trees.add(found)
    no_write_trees.discard("")
    no_write_trees = _tuple(sorted(no_write_trees))
    no_new_entries = frozenset(no_new_entries)

    # No exemption for the series' own code: "the innermost frame is the series'" can be
    # faked with C-level callables (functools.partial, map, ndarray.tofile), so a write
    # is judged by where it goes alone. Numba's cache goes to NUMBA_CACHE_DIR, a private
    # copy per notebook that GradingExecute makes outside the course and the packages.

    def forbidden_target(path, dir_fd=None) -> str | None:
        target = resolve(path, dir_fd)
        if target is None:
            return "a path the grading cannot check"
        if own and target == own:
            return "removing or replacing the notebook's own folder"
        if own and inside(target, own):
            return None
        for tree in no_write_trees:
            if inside(target, tree):
                return (f"writing inside {tree}" if not (course and inside(target, course))
                        else "writing inside the course folder (only the notebook's own "
                             "folder is writable)")
        parent = target.rpartition("/")[0] or "/"
        if parent in no_new_entries:
            return f"writing directly into {parent}, a folder that holds the course"
        try:
            info = _stat(target)
            if _isreg(info.st_mode) and info.st_nlink > 1:
                return "writing to a file with several names (a hard link)"
        except OSError:
            pass
        return None

    from_anyone = {      # nothing in a notebook's grading needs these once it runs
        "os.chdir": "changing the working folder (os.chdir)",
        "os.fork": "a new process (os.fork)", "os.forkpty": "a new process (os.forkpty)",
        "os.system": "a new process (os.system, or a ! shell line)",
        "os.exec": "a new process (os.exec*)", "os.posix_spawn": "a new process",
        "os.spawn": "a new process", "subprocess.Popen": "a new process (subprocess)",
        "pty.spawn": "a new process", "sqlite3.connect": "opening a database (sqlite3)",
        "sqlite3.connect/handle": "opening a database (sqlite3)",
    }
    two_paths = {"os.rename": (0, 2, 1, 3), "os.link": (0, 2, 1, 3)}
    one_path = {"os.remove": 1, "os.rmdir": 2, "os.mkdir": 2, "os.chmod": 2, "os.chown": 3,
                "os.utime": 3, "os.truncate": None, "os.setxattr": None,
                "os.removexattr": None}

    def kernel_hook(event, args):
        if busy and _ident() in busy:
            return
        if event == "cpython.PyInterpreterState_New":
            refuse("a new interpreter")
        if event == "import":
            name = args[0] if args and _isinstance(args[0], _str) else ""
            if name == "_posixsubprocess" or name.partition(".")[0] in blocked_modules:
                refuse_import(name)                 # a fresh copy of it, or cffi
            if name.startswith(unsafe_modules) and student_on_stack():
                refuse_import(name)
            if name.partition(".")[0] in native_modules and first_own_code() == "student":
                refuse_import(name, " (native code)")
            return
        what = from_anyone.get(event)
        if what is not None:
            refuse(what)
        if event == thread_event:
            if first_own_code(4) == "student":          # (4: the starter's own frame)
                refuse("a new thread")
            return
        if event.startswith("ctypes."):
            # Numba and llvmlite call C through ctypes when the series' code compiles
            # its loops; student code may not (a C function of its choosing, or memory).
            if first_own_code() == "student":
                refuse(f"ctypes ({event})")
            return
        if event in ("os.listdir", "os.scandir"):
            if args and private_read(args[0], 5):
                refuse("listing the course's folders (only the notebook's own folder "
                       "can be read)")
            return
        if event in code_guarded:
            if not caller_is_library():
                refuse(code_guarded[event])
            return
        if event == "object.__setattr__":
            if (_len(args) > 1 and args[1] in ("__code__", "__globals__")
                    and not caller_is_library()):
                refuse(f"replacing a function's {args[1]}")
            return
        if event == "compile":
            if first_own_code() == "student" and compile_spoofs(args):
                refuse("compiling code under a library file's name")
            return
        problem = None
        if event == "open":
            path, open_mode, flags = (args + (None, None, None))[:3]
            if (open_mode is None and _isinstance(path, _str) and not path.startswith("/")
                    and reader() == "student"):
                refuse("os.open with a relative path")       # its dir_fd is not shown
            if process_memory(path):
                refuse("opening a process's memory (/proc/…/mem)")
            if ((_isinstance(open_mode, _str) and any(c in open_mode for c in "wax+"))
                    or (_isinstance(flags, _int) and flags & write_flags)):
                if _isinstance(path, _int):
                    return                      # a descriptor opened (and checked) before
                problem = forbidden_target(path)
            elif protected_read(path):
                refuse("reading the grader's files")
            elif private_read(path, 5):
                refuse("reading the course's files (other students' work, the gradebook, "
                       "the sources): only the notebook's own folder can be read")
        elif event in one_path:
            index = one_path[event]
            dir_fd = args[index] if index is not None and _len(args) > index else None
            if not _isinstance(dir_fd, _int):
                dir_fd = None
            problem = forbidden_target(args[0], dir_fd)
        elif event in two_paths:
            for path_index, fd_index in ((0, 2), (1, 3)):
                dir_fd = args[fd_index] if _len(args) > fd_index else None
                problem = problem or forbidden_target(
                    args[path_index], dir_fd if _isinstance(dir_fd, _int) else None)
        elif event == "os.symlink":
            # nbgrader writes the graded notebook into the notebook's own folder, and
            # would follow a link out of it (onto another student's submission, the
            # gradebook, the sources): no links at all while grading.
            problem = "creating a link (nbgrader would write through it)"
        if event == "os.link":
            problem = "creating a hard link (nbgrader would write through it)"
        if problem:
            refuse(problem)

    sys.addaudithook(kernel_hook)
    return kernel_hook
