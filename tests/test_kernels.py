"""The inner loops on both paths: the compiled kernels (Numba) against the NumPy path for
every optimizer and every branch of its rule, the gradient against its matrix formula,
the kernel cache (its order, and that it is never loaded from a folder someone else
could write), and a whole run without Numba installed at all.

Tests marked ``compiled_only`` skip where the compiled path is off (no Numba, or
``HELPERS_NO_NUMBA=1``, which ``make test`` uses for its second, NumPy-only pass)."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import helpers as h
from helpers import kernels
from helpers.model import GRAD_ZERO_TOL
from helpers.optimizers import REGISTRY
from helpers.streams import SeriesDraws

ROOT = Path(__file__).resolve().parents[1]
compiled_only = pytest.mark.skipif(not kernels.is_compiled(),
                                   reason=f"compiled path off: {kernels.status()}")


def test_the_compiled_path_is_on_wherever_numba_is_installed():
    # The fallback to NumPy is for users without Numba; where Numba is installed and not
    # switched off, a kernel that fails to compile is a bug, not a reason to skip tests.
    import importlib.util
    if os.environ.get(kernels.DISABLE_VARIABLE, "") not in ("", "0"):
        pytest.skip(f"{kernels.DISABLE_VARIABLE} is set")
    if importlib.util.find_spec("numba") is None:
        pytest.skip("Numba is not installed")
    assert kernels.is_compiled(), kernels.status()


def random_batch(S, n, B, seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 2 ** 32, size=(S, n, B), dtype=np.uint32)
    p = np.linspace(1.0, 0.01, n)                   # p = 1 (always present) included
    return tokens, np.floor(p * 2.0 ** 32).astype(np.uint64), rng


@pytest.mark.parametrize("path", [None, False])
@pytest.mark.parametrize("S, G, n, B", [(1, 1, 6, 32), (5, 3, 6, 32), (4, 2, 3, 7)])
def test_batch_gradient_matches_the_matrix_formula(S, G, n, B, path):
    tokens, thresholds, rng = random_batch(S, n, B, S * 100 + G)
    w = rng.normal(size=(S, G, n))
    true_w = rng.normal(size=n)
    noise = rng.normal(size=(S, B))
    X = (tokens < thresholds[:, None]).astype(float)            # (S, n, B)
    y = np.einsum("sij,i->sj", X, true_w) + noise
    expected = np.einsum("sij,sgj->sgi", X, np.einsum("sij,sgi->sgj", X, w) - y[:, None]) / B

    grad = np.full((S, G, n), np.nan)
    counts = np.zeros((S, G, n), dtype=np.int64)
    counts[0, 0, 0] = 7                                          # counts accumulate
    kernels.batch_gradient(tokens, thresholds, w, true_w, noise, grad, counts, compiled=path)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)
    nonzero = (np.abs(expected) > GRAD_ZERO_TOL).astype(int)
    nonzero[0, 0, 0] += 7
    np.testing.assert_array_equal(counts, nonzero)
    assert np.all(X[:, 0] == 1.0)                                # p = 1: in every sample


@pytest.mark.parametrize("path", [None, False])
def test_an_absent_token_gets_exactly_zero_gradient(path):
    tokens = np.full((1, 2, 4), 2 ** 32 - 1, dtype=np.uint32)
    thresholds = np.array([2 ** 32, 0], dtype=np.uint64)        # token 1 never present
    grad, counts = np.empty((1, 1, 2)), np.zeros((1, 1, 2), dtype=np.int64)
    kernels.batch_gradient(tokens, thresholds, np.zeros((1, 1, 2)), np.ones(2),
                           np.zeros((1, 4)), grad, counts, compiled=path)
    assert grad[0, 0].tolist() == [-1.0, 0.0]
    assert counts[0, 0].tolist() == [1, 0]


def test_kernel_codes_match_the_dispatch_constants():
    names = ("SGD", "MOMENTUM", "ADAGRAD", "RMSPROP", "ADAM", "SIGN_DESCENT", "SIGNUM",
             "LAZY_ADAM")
    assert {name: getattr(kernels, name.upper()) for name in kernels.KERNEL_CODES} == \
        {name.lower(): code for name, code in zip(names, range(len(names)))}


def test_every_elementwise_optimizer_has_a_compiled_branch():
    elementwise = {name for name, spec in REGISTRY.items() if spec.elementwise}
    assert elementwise <= set(kernels.KERNEL_CODES), (
        f"add a branch to helpers.kernels._update_weight for "
        f"{sorted(elementwise - set(kernels.KERNEL_CODES))}")
    assert set(kernels.KERNEL_CODES) <= set(REGISTRY)


# Every branch of every rule: Adam with and without bias correction, every optimizer's
# default and a second setting of its hyperparameters.
BRANCHES = [
    ("sgd", {"lr": 0.3}),
    ("momentum", {"lr": 0.05, "beta": 0.9}),
    ("momentum", {"lr": 0.1, "beta": 0.0}),
    ("adagrad", {"lr": 0.5, "eps": 1e-10}),
    ("adagrad", {"lr": 0.2, "eps": 1e-3}),
    ("rmsprop", {"lr": 0.01, "beta": 0.99, "eps": 1e-8}),
    ("rmsprop", {"lr": 0.003, "beta": 0.5, "eps": 1e-3}),
    ("adam", {"lr": 0.05}),
    ("adam", {"lr": 0.05, "bias_correction": False}),
    ("adam", {"lr": 0.01, "beta1": 0.0, "beta2": 0.9, "eps": 1e-4}),
    ("sign_descent", {"lr": 0.005}),
    ("signum", {"lr": 0.005, "beta": 0.9}),
    ("signum", {"lr": 0.01, "beta": 0.0}),
    ("lazy_adam", {"lr": 0.05}),
    ("lazy_adam", {"lr": 0.02, "bias_correction": False}),
]


@compiled_only
@pytest.mark.parametrize("name, hyperparameters", BRANCHES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(BRANCHES)])
def test_compiled_runs_equal_the_numpy_rules(name, hyperparameters):
    world = h.make_world(batch_size=16)
    uniforms, normals = SeriesDraws(3, world.n_tokens, world.batch_size).draws(600)
    optimizer = REGISTRY[name].factory(**hyperparameters)
    compiled, = kernels.run_optimizers([optimizer], world, uniforms, normals, compiled=True)
    numpy, = kernels.run_optimizers([optimizer], world, uniforms, normals, compiled=False)
    np.testing.assert_allclose(compiled.weights, numpy.weights, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(compiled.grad_nonzero_steps, numpy.grad_nonzero_steps)
    assert compiled.diverged_at == numpy.diverged_at == 0
    assert compiled.state.t == numpy.state.t == 600
    for a, b in zip(compiled.state[1:], numpy.state[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_both_paths_stop_a_diverging_run_at_the_same_step():
    world = h.REFERENCE_WORLD
    uniforms, normals = SeriesDraws(0, 6, 32).draws(300)
    runs = {path: kernels.run_optimizers([h.sgd(3.0), h.adam(0.05)], world, uniforms, normals,
                                         compiled=path) for path in (None, False)}
    for sgd_run in (runs[None][0], runs[False][0]):
        assert sgd_run.diverged_at == runs[False][0].diverged_at > 0
        assert np.isnan(sgd_run.weights[sgd_run.diverged_at - 1:]).all()
        assert np.isfinite(sgd_run.weights[:sgd_run.diverged_at - 1]).all()
    np.testing.assert_allclose(runs[None][1].weights, runs[False][1].weights, rtol=1e-12)


def test_run_optimizers_refuses_array_hyperparameters():
    with pytest.raises(TypeError, match="^lr must be a number"):
        kernels.run_optimizers([h.sgd(np.array([0.1, 0.2]))], h.REFERENCE_WORLD,
                               np.zeros((2, 32, 6)), np.zeros((2, 32)))
    with pytest.raises(TypeError, match="^compiled must be"):
        kernels.run_optimizers([h.sgd(0.1)], h.REFERENCE_WORLD, np.zeros((2, 32, 6)),
                               np.zeros((2, 32)), compiled="yes")


@compiled_only
def test_the_cache_is_keyed_by_the_sources_of_the_rules():
    # Editing an update rule in optimizers.py (or a constant in model.py) gives the
    # compiled functions a new name, so a stale cached kernel can never run.
    key = kernels._source_key()
    assert kernels._compiled["run_single"].py_func.__qualname__ == f"_run_single_{key}"


def run_python(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    env.pop(kernels.DISABLE_VARIABLE, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@compiled_only
def test_the_kernel_cache_honours_numba_cache_dir(tmp_path):
    done = run_python("""
        from helpers import kernels
        assert kernels.is_compiled(), kernels.status()
    """, {"NUMBA_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    cached = [p.name for p in tmp_path.rglob("*.nbi")]
    assert any(name.startswith("kernels._run_single_") for name in cached), cached


@compiled_only
def test_no_writable_cache_folder_falls_back_instead_of_failing(tmp_path):
    # As root every folder is writable, so make numba believe none is: the locators'
    # writability probe fails for every candidate folder. (TMPDIR: the private folder
    # of the last fallback is made in tmp_path, not in the system's /tmp.)
    done = run_python("""
        import warnings
        import numba.core.caching as caching
        def unwritable(self):
            raise OSError("read-only file system")
        caching._CacheLocator.ensure_cache_path = unwritable
        from helpers import kernels, make_world
        from helpers.streams import SeriesDraws
        from helpers.optimizers import adam
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert kernels.is_compiled(), kernels.status()
        print([str(w.message) for w in caught])
        u, z = SeriesDraws(1, 6, 32).draws(50)
        run, = kernels.run_optimizers([adam(0.05)], make_world(), u, z)
        print(run.weights[-1].tolist())
    """, {"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "no writable folder for Numba's cache" in lines[0]
    u, z = SeriesDraws(1, 6, 32).draws(50)
    expected, = kernels.run_optimizers([h.adam(0.05)], h.make_world(), u, z, compiled=False)
    np.testing.assert_allclose(json.loads(lines[1]), expected.weights[-1], rtol=1e-12)


# --- the cache is never loaded from a folder someone else could write ------------------

posix_only = pytest.mark.skipif(not hasattr(os, "getuid"),
                                reason="owners and modes of folders: POSIX only")


@pytest.fixture
def shared_base():
    """A folder straight in the system's temporary folder, 0o755. (pytest's tmp_path lies
    in a folder only its owner can enter, inside which every folder is safe.)"""
    base = Path(tempfile.mkdtemp(prefix="helpers-cache-test-"))
    base.chmod(0o755)
    uid = os.getuid()
    if any(p.stat().st_uid == uid and not p.stat().st_mode & 0o077 for p in base.parents):
        shutil.rmtree(base)
        pytest.skip(f"the temporary folder {base.parent} is private to this user already")
    yield base
    for folder in (base, *(p for p in base.rglob("*") if p.is_dir() and not p.is_symlink())):
        folder.chmod(0o700)
    shutil.rmtree(base)


@posix_only
def test_a_cache_folder_is_trusted_only_if_no_one_else_can_write_to_it(shared_base,
                                                                        monkeypatch):
    # A group shared with others (the user's own private group is the next test's).
    monkeypatch.setattr(kernels, "_private_group", lambda gid, uid: False)
    folder = shared_base / "cache"
    folder.mkdir()
    folder.chmod(0o755)
    assert kernels._untrusted(folder) is None
    folder.chmod(0o777)
    assert kernels._untrusted(folder) == "is writable by every user (mode 0o777)"
    folder.chmod(0o775)
    assert kernels._untrusted(folder) == "is writable by its group (mode 0o775)"
    folder.chmod(0o755)
    shared_base.chmod(0o777)          # anyone could move the folder away and put another
    assert kernels._untrusted(folder) == (f"lies in {shared_base}, which is writable by "
                                          f"every user (mode 0o777)")
    shared_base.chmod(0o1777)         # sticky, as /tmp: no one can move another's folder
    assert kernels._untrusted(folder) is None
    shared_base.chmod(0o700)          # no one else can enter: what is inside is safe,
    folder.chmod(0o777)               # however open (a umask of 002 in a private home)
    assert kernels._untrusted(folder) is None
    (folder / "inner").mkdir(mode=0o775)
    assert kernels._untrusted(folder / "inner") is None
    (shared_base / "link").symlink_to(folder)
    assert kernels._untrusted(shared_base / "link") == "is a symbolic link"
    (shared_base / "file").write_text("")
    assert kernels._untrusted(shared_base / "file") == "is not a folder"
    assert kernels._untrusted(shared_base / "absent").startswith("cannot be examined")


@posix_only
def test_a_cache_folder_of_another_user_is_not_trusted(shared_base, monkeypatch):
    folder = shared_base / "cache"
    folder.mkdir(mode=0o700)
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)
    assert kernels._untrusted(folder) == f"belongs to user {me}, not to you (user {me + 1})"
    monkeypatch.setattr(os, "getuid", lambda: me)
    # A folder above it that belongs to someone else (neither the user nor root).
    real_stat = os.stat

    def owned_by_another(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if Path(path) != shared_base:
            return result
        fields = list(result[:10])
        fields[4] = me + 1                                      # st_uid
        return os.stat_result(fields)
    monkeypatch.setattr(os, "stat", owned_by_another)
    assert kernels._untrusted(folder) == f"lies in {shared_base}, which belongs to user {me + 1}"


@posix_only
def test_the_last_fallback_is_a_folder_of_the_users_own(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = Path(kernels._private_folder())
    assert folder == tmp_path / f"helpers-numba-cache-{os.getuid()}"
    info = folder.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    assert kernels._private_folder() == str(folder)         # an existing one is taken


def writable_only_under(monkeypatch, *roots):
    """Numba's probe for a writable cache folder fails outside ``roots``."""
    from numba.core import caching
    probe = caching._CacheLocator.ensure_cache_path

    def ensure_cache_path(self):
        if not any(Path(self.get_cache_path()).is_relative_to(root) for root in roots):
            raise OSError("read-only file system")
        probe(self)
    monkeypatch.setattr(caching._CacheLocator, "ensure_cache_path", ensure_cache_path)


def plus_one(x):
    return x + 1


@posix_only
def test_an_untrusted_numba_cache_dir_is_skipped_for_the_next_place(shared_base, monkeypatch):
    numba = pytest.importorskip("numba")
    shared, user = shared_base / "shared", shared_base / "user"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    user.mkdir(mode=0o755)
    writable_only_under(monkeypatch, shared, user)      # not the package's __pycache__
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(shared))
    monkeypatch.setattr(kernels, "_user_cache_folder", lambda: str(user))
    compiled, folder, skipped = kernels._jit(numba, plus_one, "key")
    assert Path(folder).parent == user                  # Numba's third place
    assert compiled._cache._cache_path == folder
    (shared_folder, why), = skipped
    assert Path(shared_folder).parent == shared
    assert why == f"lies in {shared}, which is writable by every user (mode 0o777)"
    assert numba.config.CACHE_DIR == str(shared)        # left as the user set it
    message, = kernels._cache_warnings({folder}, skipped)
    assert f"cache in {shared_folder} is not used" in message
    assert f"cached in {folder} instead" in message and "chmod go-w" in message


@posix_only
def test_with_no_other_place_the_private_folder_is_used(shared_base, monkeypatch):
    numba = pytest.importorskip("numba")
    monkeypatch.setattr(tempfile, "tempdir", str(shared_base))
    writable_only_under(monkeypatch, shared_base)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(kernels, "_user_cache_folder", lambda: None)
    private = shared_base / f"helpers-numba-cache-{os.getuid()}"
    compiled, folder, skipped = kernels._jit(numba, plus_one, "key")
    assert Path(folder).parent == private and not skipped
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert kernels._cache_warnings({folder}, skipped) == []
    # Someone made it open to all before this process came: not used, and said so.
    private.chmod(0o777)
    compiled, folder, skipped = kernels._jit(numba, plus_one, "key")
    from numba.core.caching import NullCache
    assert folder is None and isinstance(compiled._cache, NullCache)     # no cache at all
    (skipped_folder, why), = skipped
    assert Path(skipped_folder).parent == private
    assert why == f"lies in {private}, which is writable by every user (mode 0o777)"
    message, = kernels._cache_warnings({None}, skipped)
    assert "compiled anew in every process" in message


CACHE_REPORT = """
    import json, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from helpers import kernels
        assert kernels.is_compiled(), kernels.status()
    stats = kernels._compiled["run_single"].stats
    print(json.dumps({"warnings": [str(w.message) for w in caught],
                      "cache": stats.cache_path, "hits": sum(stats.cache_hits.values())}))
"""


@posix_only
@compiled_only
def test_a_cache_someone_else_could_have_written_is_never_loaded(shared_base):
    cache = shared_base / "cache"
    cache.mkdir(mode=0o700)

    def report():
        done = run_python(CACHE_REPORT, {"NUMBA_CACHE_DIR": str(cache)})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
    first, second = report(), report()
    assert Path(first["cache"]).parent == cache and not first["warnings"]
    assert second["cache"] == first["cache"] and second["hits"] == 1     # loaded: trusted
    cache.chmod(0o777)                  # the same files, now open to anyone to replace
    opened = report()
    assert not Path(opened["cache"]).is_relative_to(shared_base)
    message, = opened["warnings"]
    assert f"cache in {first['cache']} is not used: it lies in {cache}, which is writable " \
           f"by every user (mode 0o777)" in message
    cache.chmod(0o755)                  # others may enter it, and one level up,
    shared_base.chmod(0o777)            # anyone could swap it for a folder of theirs
    swapped = report()
    assert not Path(swapped["cache"]).is_relative_to(shared_base)
    assert f"lies in {shared_base}, which is writable by every user" in swapped["warnings"][0]


BLOCK_NUMBA = """
    import sys
    class NoNumba:                       # as if numba were not installed at all
        def find_spec(self, name, path=None, target=None):
            if name == "numba" or name.startswith(("numba.", "llvmlite")):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None
    sys.meta_path.insert(0, NoNumba())
"""


def test_everything_runs_without_numba_and_gives_the_same_numbers():
    done = run_python(textwrap.dedent(BLOCK_NUMBA) + textwrap.dedent("""
        import json, warnings
        import numpy as np
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import helpers
            assert "numba" not in sys.modules          # importing helpers needs no numba
            from helpers import REFERENCE_WORLD, adam, sgd, sweep
            from helpers.explorer import Explorer
            result = sweep({"adam": (adam, {"lr": [0.05]}), "sgd": (sgd, {"lr": [0.5]})},
                           REFERENCE_WORLD, range(3), 400)
            explorer = Explorer()
            explorer.controls["lr"].value = 0.02
        messages = [str(w.message) for w in caught if "compiled path" in str(w.message)]
        print(json.dumps({"messages": messages, "status": helpers.kernels.status(),
                          "sweep": result["adam"].final_weights[:, 0].tolist(),
                          "explorer": explorer.runs["adam"].weights[-1].tolist()}))
    """))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["messages"]) == 1                    # said once, not per call
    assert "Numba is unavailable (ModuleNotFoundError" in out["messages"][0]
    assert out["status"].startswith("NumPy")
    here = h.sweep({"adam": (h.adam, {"lr": [0.05]})}, h.REFERENCE_WORLD, range(3), 400)
    np.testing.assert_allclose(out["sweep"], here["adam"].final_weights[:, 0], rtol=1e-12)
    from helpers.explorer import ExplorerModel, ExplorerSettings
    runs = ExplorerModel().run(ExplorerSettings(lr=0.02))
    np.testing.assert_allclose(out["explorer"], runs["adam"].weights[-1], rtol=1e-12)


@posix_only
def test_group_write_in_the_users_own_private_group_is_trusted(shared_base, monkeypatch):
    """Ubuntu and Fedora give each user a group of their own and a umask of 002: folders
    are group-writable, but that group lets no one else in. Such a folder, or one in a
    folder of that kind, is not refused (no warning in every notebook)."""
    folder = shared_base / "cache"
    folder.mkdir()
    shared_base.chmod(0o775)
    folder.chmod(0o775)
    monkeypatch.setattr(kernels, "_private_group", lambda gid, uid: True)
    assert kernels._untrusted(folder) is None
    monkeypatch.setattr(kernels, "_private_group", lambda gid, uid: False)
    assert kernels._untrusted(folder) == "is writable by its group (mode 0o775)"


@posix_only
def test_a_private_group_is_the_users_primary_group_with_no_one_else_in_it():
    import grp
    import pwd
    me = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(me.pw_gid)
    others = [m for m in group.gr_mem if m != me.pw_name] or [
        u.pw_name for u in pwd.getpwall() if u.pw_gid == me.pw_gid and u.pw_uid != me.pw_uid]
    assert kernels._private_group(me.pw_gid, me.pw_uid) is (not others)
    # Another group than the user's primary one is never private to the user.
    assert kernels._private_group(me.pw_gid + 12345, me.pw_uid) is False
