"""The two inner loops where Python's cost per step is the bottleneck, compiled with
Numba when it is available, in plain NumPy when it is not.

* :func:`batch_gradient`: the many-run engine's minibatch gradients for every run of
  a step at once (:func:`helpers.sweep`).
* :func:`run_optimizers`: whole single runs of a few optimizers on one seed's batches
  (the explorer).

Both paths compute the same thing with the same functions: the update rules of
:mod:`helpers.optimizers` and :func:`~helpers.model.got_gradient` /
:func:`~helpers.model.diverged` are plain Python that Numba compiles into the loops
(``register_jitable``), so no formula is written twice. The compiled gradient is the
loop form of :func:`helpers.model.minibatch_gradient`; tests pin the two together, and
the compiled runs to the NumPy runs, for every optimizer and every branch.

**Without Numba** (not installable on a platform, a Pyodide kernel, a broken llvmlite,
or ``HELPERS_NO_NUMBA=1`` in the environment) everything runs through NumPy and gives
the same numbers, more slowly; a one-time :class:`CompiledPathWarning` says so and why.
:func:`status` tells which path is in use.

**Cache.** Compiled kernels are cached on disk, so later processes load them in a
fraction of a second instead of compiling for about 3.5 s. Numba looks for a writable
place in this order: the folder named by ``NUMBA_CACHE_DIR``, the package's
``__pycache__``, the user's cache folder (``~/.cache/numba`` on Linux). If none is
writable, the kernels are cached in a folder of the user's own in the system's temporary
folder (``helpers-numba-cache-<uid>``, created readable and writable by its owner only),
or, failing that, compiled in every process. The cache is keyed by the source of this
file, of ``optimizers.py`` and of ``model.py``, so editing an update rule never runs
stale code.

Numba's cache files are pickles: loading one runs whatever it holds. So a cache is only
ever loaded from a folder that belongs to the user and that no one else can write (or
that lies in a folder of the user's that no one else can enter). A folder that fails
this, wherever it comes in the order, is skipped for the next one, with a
:class:`CompiledPathWarning` that names it, says why and what to do.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import model, optimizers
from .model import diverged, got_gradient, minibatch_gradient, newly_diverged
from .optimizers import (REGISTRY, adagrad_update, adam_update, check_optimizer,
                         kernel_hyperparameters, lazy_adam_update, momentum_update,
                         rmsprop_update, sgd_update, sign_update, signum_update)
from .validation import check_finite

DISABLE_VARIABLE = "HELPERS_NO_NUMBA"


class CompiledPathWarning(RuntimeWarning):
    """The compiled path is off (or uncached); the message says why."""


# --- the loops, as plain Python (Numba compiles them; see _compile) -------------------

# Optimizer codes of the compiled dispatch: one branch of _update_weight per optimizer.
KERNEL_CODES = {name: code for code, name in enumerate(
    ("sgd", "momentum", "adagrad", "rmsprop", "adam", "sign_descent", "signum", "lazy_adam"))}
SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM, SIGN_DESCENT, SIGNUM, LAZY_ADAM = range(8)


def _update_weight(kind, i, w, g, t, first, second, h):
    """Weight i's step under optimizer ``kind``: the registry's rule on single numbers.
    ``first``/``second`` hold the rule's state arrays in the order of its state fields;
    ``h`` its hyperparameters in the order of its signature."""
    if kind == SGD:
        w[i] = sgd_update(w[i], g, t, h[0])[0]
    elif kind == MOMENTUM:
        w[i], first[i] = momentum_update(w[i], g, t, first[i], h[0], h[1])
    elif kind == ADAGRAD:
        w[i], first[i] = adagrad_update(w[i], g, t, first[i], h[0], h[1])
    elif kind == RMSPROP:
        w[i], first[i] = rmsprop_update(w[i], g, t, first[i], h[0], h[1], h[2])
    elif kind == ADAM:
        w[i], first[i], second[i] = adam_update(w[i], g, t, first[i], second[i],
                                                h[0], h[1], h[2], h[3], h[4] != 0.0)
    elif kind == SIGN_DESCENT:
        w[i] = sign_update(w[i], g, t, h[0])[0]
    elif kind == SIGNUM:
        w[i], first[i] = signum_update(w[i], g, t, first[i], h[0], h[1])
    elif kind == LAZY_ADAM:
        w[i], first[i], second[i] = lazy_adam_update(w[i], g, t, first[i], second[i],
                                                     h[0], h[1], h[2], h[3], h[4] != 0.0)
    else:
        raise ValueError("unknown optimizer code")


def _gradient(present, w, true_w, noise, residual, grad):
    """grad = X^T (X (w - w*) - noise) / B for one run, as loops (present: X^T, (n, B)):
    first r_j = sum_i (w_i - w*_i) x_ij - noise_j, then grad_i = sum_j r_j x_ij / B."""
    n, B = present.shape
    residual[:] = 0.0
    for i in range(n):
        offset = w[i] - true_w[i]
        for j in range(B):
            residual[j] += offset * present[i, j]
    for j in range(B):
        residual[j] -= noise[j]
    for i in range(n):
        total = 0.0
        for j in range(B):
            total += residual[j] * present[i, j]
        grad[i] = total / B


def _batch_gradient(tokens, thresholds, w, true_w, noise, grad, grad_nonzero_steps):
    """The engine's step: minibatch gradients for S runs x G settings, in place.

    tokens (S, n, B) raw uint32 integers (token i is in sample j when
    tokens[s, i, j] < thresholds[i]); w, grad, grad_nonzero_steps (S, G, n); noise (S, B)."""
    S, n, B = tokens.shape
    G = w.shape[1]
    present = np.empty((n, B))
    residual = np.empty(B)
    for s in range(S):
        for i in range(n):
            for j in range(B):
                present[i, j] = 1.0 if tokens[s, i, j] < thresholds[i] else 0.0
        for k in range(G):
            _gradient(present, w[s, k], true_w, noise[s], residual, grad[s, k])
            for i in range(n):
                if got_gradient(grad[s, k, i]):
                    grad_nonzero_steps[s, k, i] += 1


def _run_single(kind, h, uniforms, frequencies, noise, true_w, weights, grad_nonzero_steps,
                first, second):
    """One run from w = 0 over every batch of ``uniforms`` (T, B, n) (token i is in
    sample j when uniforms[t, j, i] < frequencies[i]) with label noise ``noise`` (T, B).
    Fills weights (T, n), the gradient counts and the state arrays; returns the step at
    which the run diverged (its rows from then on NaN), or 0."""
    T, B, n = uniforms.shape
    w = np.zeros(n)
    grad = np.empty(n)
    present = np.empty((n, B))
    residual = np.empty(B)
    first[:] = 0.0
    second[:] = 0.0
    for step in range(T):
        for i in range(n):
            for j in range(B):
                present[i, j] = 1.0 if uniforms[step, j, i] < frequencies[i] else 0.0
        _gradient(present, w, true_w, noise[step], residual, grad)
        t = step + 1
        for i in range(n):
            if got_gradient(grad[i]):
                grad_nonzero_steps[i] += 1
            _update_weight(kind, i, w, grad[i], t, first, second, h)
        blown = False
        for i in range(n):
            weights[step, i] = w[i]
            if diverged(w[i]):
                blown = True
        if blown:
            weights[step:] = np.nan
            return t
    return 0


# --- compiling, once per process ------------------------------------------------------

_lock = threading.Lock()
_compiled: dict | None = None       # name -> compiled function, once compiled
_reason: str | None = None          # why the compiled path is off (None: on, or not tried)


def _source_key() -> str:
    """A digest of every source file the kernels compile code from."""
    digest = hashlib.sha256()
    for module in (optimizers, model):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def _untrusted(folder) -> str | None:
    """Why a cache in ``folder`` could hold code someone else put there, or None if it
    cannot. Trusted: a real folder (not a link) of the user's own that no one else can
    write to, in folders that belong to the user or to root and that no one else can
    write to either (or only with the sticky bit, as /tmp: no one can move another's
    folder away). Or, whatever those modes, a folder inside a folder of the user's that
    no one else can enter: what lies there is out of others' reach. Write or entry by the
    folder's group counts as the user's own when that group is the user's private group
    (see :func:`_private_group`)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None         # Windows: the candidates lie in the user's own profile
    uid = getuid()
    try:
        info = os.lstat(folder)
        if stat.S_ISLNK(info.st_mode):
            return "is a symbolic link"
        if not stat.S_ISDIR(info.st_mode):
            return "is not a folder"
        if info.st_uid != uid:
            return f"belongs to user {info.st_uid}, not to you (user {uid})"
        problem = None
        if _writable_by_others(info, uid):
            problem = f"is writable by {_others(info.st_mode)} (mode {info.st_mode & 0o777:#o})"
        for above in Path(os.path.realpath(folder)).parents:
            parent = os.stat(above)
            if parent.st_uid == uid and not _reachable_by_others(parent, uid):
                return None     # no one else can reach what lies inside
            if problem is not None:
                continue        # the nearest problem is the one to report
            if parent.st_uid not in (uid, 0):
                problem = f"lies in {above}, which belongs to user {parent.st_uid}"
            elif _writable_by_others(parent, uid) and not parent.st_mode & stat.S_ISVTX:
                problem = (f"lies in {above}, which is writable by "
                           f"{_others(parent.st_mode)} (mode {parent.st_mode & 0o777:#o})")
    except OSError as error:
        return f"cannot be examined ({error})"
    return problem


def _others(mode: int) -> str:
    return "every user" if mode & 0o002 else "its group"


def _private_group(gid: int, uid: int) -> bool:
    """``gid`` is the user's own private group (as Ubuntu and Fedora give every user, with
    umask 002): the user's primary group, listing no other member, and no other user's
    primary group. Group write there lets no one else in."""
    try:
        import grp
        import pwd
        if gid != pwd.getpwuid(uid).pw_gid:
            return False
        if any(member != pwd.getpwuid(uid).pw_name for member in grp.getgrgid(gid).gr_mem):
            return False
        return not any(user.pw_gid == gid and user.pw_uid != uid for user in pwd.getpwall())
    except (ImportError, KeyError, OSError):
        return False


def _writable_by_others(info, uid: int) -> bool:
    """Someone other than the user can create or replace entries in this folder."""
    return bool(info.st_mode & 0o002 or (info.st_mode & 0o020
                                         and not _private_group(info.st_gid, uid)))


def _reachable_by_others(info, uid: int) -> bool:
    """Someone other than the user can enter this folder or list it."""
    return bool(info.st_mode & 0o007 or (info.st_mode & 0o070
                                         and not _private_group(info.st_gid, uid)))


def _private_folder() -> str:
    """The last place for the cache: a folder of the user's own in the system's
    temporary folder, made readable and writable by its owner only (an existing one is
    checked like any other folder)."""
    getuid = getattr(os, "getuid", None)
    name = "helpers-numba-cache" + ("" if getuid is None else f"-{getuid()}")
    folder = os.path.join(tempfile.gettempdir(), name)
    try:
        os.mkdir(folder, mode=0o700)
    except FileExistsError:
        pass
    return folder


def _user_cache_folder() -> str | None:
    """Numba's per-user cache folder (its third place): the fallback for a package
    ``__pycache__`` that is skipped, so that the order stays Numba's."""
    try:
        from numba.misc.appdirs import AppDirs
        return AppDirs(appname="numba", appauthor=False).user_cache_dir
    except Exception:       # a Numba without it: the temporary folder is left
        return None


def _cache_fallbacks(numba):
    """The places to try, in order, after Numba's own choice (skipped as untrusted, or
    impossible): Numba's order without ``NUMBA_CACHE_DIR`` (when it is set), the user's
    cache folder, the private temporary folder. Made lazily, as they are reached."""
    if numba.config.CACHE_DIR:
        yield ""            # Numba's order from the package's __pycache__ on
    user = _user_cache_folder()
    if user is not None:
        yield user
    try:
        yield _private_folder()
    except OSError:
        return


def _jit(numba, function, key: str) -> tuple:
    """``numba.njit(cache=True)`` in the first place Numba finds that no one else can
    write (see the module's docstring), or with no cache at all. Returns the compiled
    function, the folder of its cache (None: none) and the (folder, why) of each folder
    skipped as untrusted."""
    function.__qualname__ = f"{function.__name__}_{key}"     # the cache's key: the sources

    def cached_in(cache_dir):
        # NUMBA_CACHE_DIR for this one function only (None: as it is; "": none). Numba
        # reads it when the function is decorated, so it is restored right after.
        saved = numba.config.CACHE_DIR
        if cache_dir is not None:
            numba.config.CACHE_DIR = cache_dir
        try:
            return numba.njit(nogil=True, cache=True)(function)
        except RuntimeError as error:       # "cannot cache ...: no locator available"
            if "cannot cache" not in str(error):
                raise
            return None
        finally:
            numba.config.CACHE_DIR = saved

    skipped = []
    for cache_dir in itertools.chain([None], _cache_fallbacks(numba)):
        compiled = cached_in(cache_dir)
        if compiled is None:
            continue
        # Where Numba will look for the cache; nothing is loaded before the first call.
        folder = getattr(getattr(compiled, "_cache", None), "_cache_path", None)
        if folder is not None and cache_dir and not Path(folder).is_relative_to(cache_dir):
            # Numba could not write in cache_dir and went down its own order again.
            reason = _untrusted(cache_dir)
            if reason is not None and (cache_dir, reason) not in skipped:
                skipped.append((cache_dir, reason))
            continue
        reason = ("is not known (this Numba does not say where its cache is)"
                  if folder is None else _untrusted(folder))
        if reason is None:
            return compiled, folder, skipped
        if (folder, reason) not in skipped:
            skipped.append((folder, reason))
    return numba.njit(nogil=True, cache=False)(function), None, skipped


def _cache_warnings(folders: set, skipped: list) -> list[str]:
    """What to tell the user about where the kernels are cached (nothing if all is well)."""
    if skipped:
        where = sorted(folder for folder in folders if folder is not None)
        outcome = (f"the kernels are cached in {' and '.join(where)} instead" if where else
                   "no other folder only you can write was found, so the kernels are "
                   "compiled anew in every process")
        return [f"helpers: Numba's cache in {folder} is not used: it {reason}, so someone "
                f"else could put code there that this process would run (Numba's cache "
                f"files are pickles); {outcome}. To have it used, make it and the folders "
                f"above it your own and writable by you only (chmod go-w), or set "
                f"NUMBA_CACHE_DIR to a folder that is."
                for folder, reason in skipped]
    if None in folders:
        return ["helpers: no writable folder for Numba's cache (set NUMBA_CACHE_DIR to "
                "one); the kernels are compiled anew in every process"]
    return []


def _compile() -> dict:
    import numba
    from numba.extending import overload, register_jitable

    @overload(optimizers.select)
    def _select_numbers(condition, if_true, if_false):
        def select_one(condition, if_true, if_false):
            return if_true if condition else if_false
        return select_one

    key = _source_key()
    for function in (got_gradient, diverged, _gradient, _update_weight,
                     *(spec.update for spec in REGISTRY.values() if spec.elementwise)):
        register_jitable(function)
    kernels, folders, skipped = {}, set(), []
    for name, function in (("batch_gradient", _batch_gradient), ("run_single", _run_single)):
        kernels[name], folder, passed_over = _jit(numba, function, key)
        folders.add(folder)
        skipped += [item for item in passed_over if item not in skipped]
    for message in _cache_warnings(folders, skipped):
        warnings.warn(message, CompiledPathWarning, stacklevel=4)
    # Compile (or load) now, on tiny inputs, so that a broken toolchain shows here, once.
    tokens = np.zeros((1, 1, 1), dtype=np.uint32)
    kernels["batch_gradient"](tokens, np.ones(1, dtype=np.uint64), np.zeros((1, 1, 1)),
                              np.ones(1), np.zeros((1, 1)), np.empty((1, 1, 1)),
                              np.zeros((1, 1, 1), dtype=np.int64))
    kernels["run_single"](SGD, np.ones(5), np.zeros((1, 1, 1)), np.ones(1), np.zeros((1, 1)),
                          np.ones(1), np.empty((1, 1)), np.zeros(1, dtype=np.int64),
                          np.zeros(1), np.zeros(1))
    return kernels


def _kernels() -> dict | None:
    """The compiled kernels, or None on the NumPy path (deciding, once, which)."""
    global _compiled, _reason
    if _compiled is not None or _reason is not None:
        return _compiled
    with _lock:
        if _compiled is None and _reason is None:
            if os.environ.get(DISABLE_VARIABLE, "").strip() not in ("", "0"):
                _reason = f"{DISABLE_VARIABLE}={os.environ[DISABLE_VARIABLE]} is set"
            else:
                try:
                    _compiled = _compile()
                except Exception as error:      # no numba, a broken llvmlite, ...
                    _reason = f"Numba is unavailable ({type(error).__name__}: {error})"
            if _reason is not None:
                warnings.warn(f"helpers: the compiled path is off because {_reason}; the NumPy "
                              f"path gives the same numbers, more slowly", CompiledPathWarning,
                              stacklevel=3)
    return _compiled


def status() -> str:
    """Which path the kernels use, and why (decides it if not yet decided)."""
    if _kernels() is not None:
        return "compiled (Numba)"
    return f"NumPy (the compiled path is off because {_reason})"


def is_compiled() -> bool:
    return _kernels() is not None


# --- the two entry points ---------------------------------------------------------------

def _choose(compiled: bool | None) -> dict | None:
    """The compiled kernels to use, or None for the NumPy path. ``compiled=None`` takes
    whichever is available, ``False`` forces NumPy, ``True`` insists on Numba."""
    if compiled is None:
        return _kernels()
    if not isinstance(compiled, (bool, np.bool_)):
        raise TypeError(f"compiled must be True, False or None, got {compiled!r}")
    if not compiled:
        return None
    kernels = _kernels()
    if kernels is None:
        raise RuntimeError(f"the compiled path was asked for, but it is off because {_reason}")
    return kernels


def batch_gradient(tokens, thresholds, w, true_w, noise, grad, grad_nonzero_steps, *,
                   compiled: bool | None = None) -> None:
    """Minibatch gradients of the linear model for S runs x G settings, written into
    ``grad`` (S, G, n); ``grad_nonzero_steps`` (S, G, n) counts the weights that got one.

    tokens (S, n, B) raw uint32 integers, thresholds (n,) uint64 (token i is in sample j
    when tokens[s, i, j] < thresholds[i]); w (S, G, n); noise (S, B), so that
    y = X w* + noise. ``compiled``: see :func:`run_optimizers`."""
    kernels = _choose(compiled)
    if kernels is not None:
        kernels["batch_gradient"](tokens, thresholds, w, true_w, noise, grad, grad_nonzero_steps)
        return
    X = np.swapaxes(tokens < thresholds[:, None], 1, 2).astype(float)     # (S, B, n)
    y = X @ true_w + noise
    grad[...] = minibatch_gradient(w, X, y, check=False)
    grad_nonzero_steps += got_gradient(grad)


@dataclass(frozen=True, eq=False)
class SingleRun:
    """One optimizer's run: weights after every step (NaN from the step it diverged on),
    steps with a gradient per weight, the step it diverged at (0 if it did not) and its
    state after the last step."""

    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    diverged_at: int
    state: tuple


def run_optimizers(optimizer_list, world, uniforms, normals, *,
                   compiled: bool | None = None) -> list[SingleRun]:
    """Each optimizer from w = 0 on the same batches: ``uniforms`` (T, B, n) and
    ``normals`` (T, B) from :class:`helpers.streams.SeriesDraws` (batch k is
    ``X = uniforms[k] < p``, ``y = X w* + sigma normals[k]``). Hyperparameters must be
    single numbers; an optimizer without a compiled branch runs on the NumPy path.
    ``compiled=None`` uses Numba when it is available, ``False`` forces the NumPy path
    (tests and benchmarks compare the two), ``True`` fails if Numba is off."""
    from .world import World
    if isinstance(optimizer_list, (str, bytes)) or not isinstance(optimizer_list, (list, tuple)):
        raise TypeError(f"optimizer_list must be a list of helpers optimizers, got "
                        f"{type(optimizer_list).__name__}")
    if not optimizer_list:
        raise ValueError("optimizer_list must hold at least one optimizer")
    if not isinstance(world, World):
        raise TypeError(f"world must be a helpers World (make_world), got {type(world).__name__}")
    kernels = _choose(compiled)
    hyperparameters = [kernel_hyperparameters(check_optimizer("each optimizer", optimizer))
                       for optimizer in optimizer_list]
    uniforms = check_finite("uniforms", uniforms)
    normals = check_finite("normals", normals)
    if uniforms.ndim != 3 or uniforms.shape[1:] != (world.batch_size, world.n_tokens) \
            or normals.shape != uniforms.shape[:2]:
        raise ValueError(f"uniforms must have shape (steps, {world.batch_size}, "
                         f"{world.n_tokens}) and normals (steps, {world.batch_size}) for this "
                         f"world, got {uniforms.shape} and {normals.shape}")
    noise = world.noise_std * normals
    results = [None] * len(optimizer_list)
    numpy_path = []
    for index, optimizer in enumerate(optimizer_list):
        if kernels is None or optimizer.name not in KERNEL_CODES or optimizer.schedule:
            numpy_path.append(index)
            continue
        T, n = uniforms.shape[0], world.n_tokens
        weights = np.empty((T, n))
        counts = np.zeros(n, dtype=np.int64)
        state = np.zeros((2, n))
        at = kernels["run_single"](KERNEL_CODES[optimizer.name], hyperparameters[index],
                                   uniforms, world.frequencies, noise, world.true_weights,
                                   weights, counts, state[0], state[1])
        slots = optimizer.spec.slots
        results[index] = SingleRun(weights, counts, int(at),
                                   optimizer.spec.state(T if not at else at, *state[:len(slots)]))
    if numpy_path:
        runs = _run_numpy([optimizer_list[i] for i in numpy_path], world, uniforms, noise)
        for index, run in zip(numpy_path, runs):
            results[index] = run
    return results


def _run_numpy(optimizer_list, world, uniforms, noise) -> list[SingleRun]:
    """The NumPy path of :func:`run_optimizers`: every optimizer steps on the same batch,
    whose gradient is computed for all of them at once."""
    T, n, k = uniforms.shape[0], world.n_tokens, len(optimizer_list)
    W = np.zeros((k, n))
    states = [opt.init(W[j]) for j, opt in enumerate(optimizer_list)]
    weights = np.empty((T, k, n))
    counts = np.zeros((k, n), dtype=np.int64)
    diverged_at = np.zeros(k, dtype=np.int64)
    alive = np.ones(k, dtype=bool)
    all_alive = True
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(T):
            X = (uniforms[step] < world.frequencies).astype(float)
            y = X @ world.true_weights + noise[step]
            G = minibatch_gradient(W, X, y, check=False)
            counts += got_gradient(G)
            new_W = np.empty_like(W)
            for j, optimizer in enumerate(optimizer_list):
                if alive[j]:
                    new_W[j], states[j] = optimizer.step(W[j], G[j], states[j], check=False)
                else:
                    new_W[j] = np.nan
            newly = newly_diverged(new_W, alive, all_alive)
            if newly is not None:
                diverged_at[newly] = step + 1
                alive &= ~newly
                new_W[~alive] = np.nan
                all_alive = False
            W = new_W
            weights[step] = W
            if not alive.any():
                weights[step:] = np.nan
                break
    return [SingleRun(weights[:, j], counts[j], int(diverged_at[j]), states[j])
            for j in range(k)]
