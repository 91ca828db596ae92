"""The "own work" watch (helpers/_watch.py) as the visible checks use it: each way of
handing a graded function's work to the series' code is caught, and no exercise's own
solution is."""

import inspect
import runpy
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers import _watch, grading, optimizers, softmax, world
from helpers.grading import CheckFailed

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))


# --- honest implementations ---------------------------------------------------------------

def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


def adagrad_init(w):
    return np.zeros_like(w, dtype=float)


def adagrad_step(w, g, state, lr=0.1, eps=1e-10):
    new_sum = state + g * g
    return w - lr * g / (np.sqrt(new_sum) + eps), new_sum


def expected_hessian(p):
    p = np.asarray(p, dtype=float)
    h = np.outer(p, p)
    np.fill_diagonal(h, p)
    return h


def bigram_loss(table, batch):
    z = table[batch[:, 0]]
    z = z - z.max(axis=1, keepdims=True)
    return -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(batch)),
                                                                 batch[:, 1]].mean()


# --- the series' code, one function per exercise, to hand the work to -------------------

def series_adam(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    return optimizers.adam_update(w, g, t, m, v, lr, beta1, beta2, eps, True)


def series_adagrad(w, g, state, lr=0.1, eps=1e-10):
    return optimizers.adagrad_update(w, g, 0, state, lr, eps)


def series_hessian(p):
    return world.make_world(list(np.asarray(p, dtype=float))).expected_hessian()


def series_loss(table, batch):
    return -softmax.log_softmax(table[batch[:, 0]])[np.arange(len(batch)), batch[:, 1]].mean()


# (check, honest arguments, the series' function in the graded slot, its position)
CASES = {
    "adam": (grading.check_adam_update, (adam_step,), series_adam, 0),
    "adagrad": (grading.check_adagrad_values, (adagrad_init, adagrad_step), series_adagrad, 1),
    "hessian": (grading.check_expected_hessian, (expected_hessian,), series_hessian, 0),
    "softmax": (grading.check_bigram_loss, (bigram_loss,), series_loss, 0),
}


def run(case, wrap):
    """The case's check with ``wrap(series_function)`` in the graded slot."""
    check, honest, series, slot = CASES[case]
    args = list(honest)
    args[slot] = wrap(series)
    return check(*args)


@pytest.mark.parametrize("case", CASES)
def test_honest_work_passes_and_plain_delegation_is_caught(case):
    check, honest, _, _ = CASES[case]
    assert check(*honest)
    with pytest.raises(CheckFailed, match="calls the series' own implementation"):
        run(case, lambda series: series)


@pytest.mark.parametrize("case", CASES)
def test_switching_the_profile_hook_off_inside_the_function_is_caught(case):
    def wrap(series):
        def cheat(*args, **kwargs):
            sys.setprofile(None)
            return series(*args, **kwargs)
        return cheat

    before = sys.getprofile()
    with pytest.raises(CheckFailed, match="sys.setprofile"):
        run(case, wrap)
    assert sys.getprofile() is before


@pytest.mark.parametrize("case", CASES)
def test_switching_it_off_from_c_code_and_back_on_is_caught(case):
    """map() calls sys.setprofile from C (no profile event), and the hook is put back
    before the function returns: the audit hook still sees both calls."""
    def wrap(series):
        def cheat(*args, **kwargs):
            hook = sys.getprofile()
            list(map(sys.setprofile, [None]))
            result = series(*args, **kwargs)
            list(map(sys.setprofile, [hook]))
            return result
        return cheat

    with pytest.raises(CheckFailed, match="sys.setprofile"):
        run(case, wrap)


def test_a_setprofile_replaced_by_the_notebook_does_not_switch_the_watch_off(monkeypatch):
    """`sys.setprofile = lambda f: None` in a cell before the check: the watch kept the
    real one, so delegating is still seen; a fresh copy of the watch (what the hidden tests
    load) refuses to run without the real one."""
    monkeypatch.setattr(sys, "setprofile", lambda function: None)
    with pytest.raises(CheckFailed, match="helpers.optimizers.adagrad_update"):
        run("adagrad", lambda series: series)
    assert grading.check_adagrad_values(adagrad_init, adagrad_step)
    fresh = runpy.run_path(_watch.__file__)
    with fresh["Watch"]() as watch:
        adagrad_step(np.zeros(3), np.ones(3), np.zeros(3))
    assert "switched off" in watch.problem("adagrad_step")


def copy_of(function, namespace=None):
    """exec(compile(inspect.getsource(function))): the series' code run as one's own."""
    source = textwrap.dedent(inspect.getsource(function))
    namespace = dict(namespace or vars(sys.modules[function.__module__]))
    exec(compile(source, "<my own code>", "exec"), namespace)
    return namespace[function.__name__]


def test_copies_of_the_series_code_are_caught():
    adagrad_copy = copy_of(optimizers.adagrad_update)
    with pytest.raises(CheckFailed, match=r"runs a copy of the series' own code "
                                          r"\(helpers.optimizers.adagrad_update\)"):
        grading.check_adagrad_values(
            adagrad_init, lambda w, g, s, lr=0.1, eps=1e-10: adagrad_copy(w, g, 0, s, lr, eps))
    adam_copy = copy_of(optimizers.adam_update)
    with pytest.raises(CheckFailed, match="helpers.optimizers.adam_update"):
        grading.check_adam_moments(lambda w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999,
                                   eps=1e-8: adam_copy(w, g, t, m, v, lr, beta1, beta2, eps,
                                                       True))
    log_softmax_copy = copy_of(softmax.log_softmax)
    with pytest.raises(CheckFailed, match="helpers.softmax.log_softmax"):
        grading.check_bigram_loss(lambda table, batch: -log_softmax_copy(
            table[batch[:, 0]])[np.arange(len(batch)), batch[:, 1]].mean())


def test_a_method_or_nested_function_cut_out_with_dedent_is_caught():
    # A method: World.expected_hessian, called on a stand-in for the world.
    hessian_copy = copy_of(world.World.expected_hessian)

    class Frequencies:
        rotation = None

        def __init__(self, p):
            self.frequencies = np.asarray(p, dtype=float)

    with pytest.raises(CheckFailed, match="helpers.world.World.expected_hessian"):
        grading.check_expected_hessian(lambda p: hessian_copy(Frequencies(p)))
    # A nested function reads its enclosing function's variables (LOAD_DEREF); cut out
    # and compiled at the top level it reads globals instead: still the same code.
    nested = grading._adagrad_slips(0.1, 1e-10)[-5][0]      # the running-mean slip
    assert nested.__code__.co_freevars
    mean_copy = copy_of(nested, {"np": np, "lr": 0.1, "eps": 1e-10})
    assert not mean_copy.__code__.co_freevars
    with _watch.Watch() as watch:
        mean_copy(np.zeros(3), np.ones(3), np.zeros(3), 1)
    assert "_adagrad_slips.<locals>.mean" in watch.problem("adagrad_step")


def test_calling_the_checks_own_code_is_caught():
    """grading.py is part of the series' code: its expectations are not a way round."""
    def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        return grading._adam_w_variants(w, m, v, t, lr, beta1, beta2, eps)["correct"], m, v

    with pytest.raises(CheckFailed, match="helpers.grading._adam_w_variants"):
        grading.check_adam_update(adam_step)

    def stability_limit(hessian):
        return next(iter(grading._stability_slips(hessian).values())) * 2

    with pytest.raises(CheckFailed, match="helpers.grading._stability_slips"):
        grading.check_stability_limit(stability_limit)


def test_exec_eval_and_compile_in_the_function_are_caught():
    def via_exec(w, g, state, lr=0.1, eps=1e-10):
        scope = {"np": np, "w": w, "g": g, "s": state, "lr": lr, "eps": eps}
        exec("s = s + g * g\nresult = w - lr * g / (np.sqrt(s) + eps), s", scope)
        return scope["result"]

    with pytest.raises(CheckFailed, match="uses compile, exec|uses exec"):
        grading.check_adagrad_values(adagrad_init, via_exec)

    def via_eval(p):
        return eval("np.outer(p, p) + np.diag(p - p * p)", {"np": np, "p": np.asarray(p)})

    with pytest.raises(CheckFailed, match="uses eval"):
        grading.check_expected_hessian(via_eval)


def test_a_thread_or_a_process_is_caught():
    def threaded(w, g, state, lr=0.1, eps=1e-10):
        out = []
        worker = threading.Thread(target=lambda: out.append(
            optimizers.adagrad_update(w, g, 0, state, lr, eps)))
        worker.start()
        worker.join()
        return out[0]

    with pytest.raises(CheckFailed, match="a new thread"):
        grading.check_adagrad_values(adagrad_init, threaded)

    def subprocess_hessian(p):
        import subprocess
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        return expected_hessian(p)

    with pytest.raises(CheckFailed, match="a new process"):
        grading.check_expected_hessian(subprocess_hessian)


def reach_in(how):
    """A step that delegates, then empties the watch's record of it, reached ``how``."""
    def cheat(w, g, state, lr=0.1, eps=1e-10):
        import gc
        result = optimizers.adagrad_update(w, g, 0, state, lr, eps)
        if how == "getframe":
            watch = sys._getframe(1).f_locals["watch"]
        elif how == "inspect":
            watch = inspect.currentframe().f_back.f_locals["watch"]
        elif how == "traceback":
            try:
                raise ValueError
            except ValueError as error:
                watch = error.__traceback__.tb_frame.f_back.f_locals["watch"]
        elif how == "gc":
            watch = next(o for o in gc.get_objects() if isinstance(o, _watch.Watch))
        else:
            watch = sys.getprofile().__self__
        watch.calls.clear()
        return result
    return cheat


@pytest.mark.parametrize("how, message", [
    ("getframe", r"frame inspection \(sys._getframe\)"),
    ("inspect", r"frame inspection \(sys._getframe\)"),
    ("traceback", "a traceback's or a generator's frame"),
    ("gc", r"gc.get_objects"),
    ("getprofile", r"sys.getprofile \(which reaches into the watch\)"),
])
def test_reaching_into_the_check_to_erase_the_record_is_caught(how, message):
    with pytest.raises(CheckFailed, match=message):
        grading.check_adagrad_values(adagrad_init, reach_in(how))


def test_imports_and_library_code_that_runs_exec_or_eval_are_not_flagged():
    """Importing a module runs exec, collections.namedtuple runs eval and reads its
    caller's frame, logging finds its caller: the library's own business, not the
    student's."""
    def step_with_a_named_tuple(w, g, state, lr=0.1, eps=1e-10):
        import collections
        import fractions  # noqa: F401  (imported, maybe for the first time, inside)
        import logging
        import typing
        State = collections.namedtuple("State", "total")
        typing.NamedTuple("Other", [("total", float)])
        logging.getLogger("adagrad").debug("a step")       # logging reads its caller's frame
        new = State(state + g * g)
        return w - lr * g / (np.sqrt(new.total) + eps), new.total

    with _watch.Watch() as watch:
        step_with_a_named_tuple(np.zeros(3), np.ones(3), np.zeros(3))
    assert watch.problem("adagrad_step") is None
    assert grading.check_adagrad_values(adagrad_init, step_with_a_named_tuple)


def test_a_students_function_named_differently_from_the_series_formula_is_its_own():
    """AdaGrad's update is two lines; the series' adagrad_update takes (w, g, t, sum_sq,
    lr, eps). A student's step with the notebook's parameters, spelled the same way
    inside, is not a copy."""
    def adagrad_step(w, g, sum_sq, lr=0.1, eps=1e-10):
        sum_sq = sum_sq + g * g
        return w - lr * g / (np.sqrt(sum_sq) + eps), sum_sq

    assert grading.check_adagrad_values(adagrad_init, adagrad_step)


def solutions(path):
    """The namespace an exercise's set-up and solution cells make, and the visible part of
    its graded test cells."""
    nb = nbformat.read(path, as_version=4)
    namespace = {"grading": grading}
    tests = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if meta.get("grade_id", "").endswith("-setup"):
            source = "\n".join(line for line in cell.source.splitlines()
                               if line.startswith(("import ", "from ")))
            exec(compile(source, f"<{path.stem} set-up>", "exec"), namespace)
        elif meta.get("solution"):
            exec(compile(cell.source, f"<{path.stem} {meta['grade_id']}>", "exec"), namespace)
        elif meta.get("grade"):
            tests.append((meta["grade_id"], cell.source.split("### BEGIN HIDDEN TESTS")[0]))
    return namespace, tests


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_no_exercise_solution_is_flagged(path, capsys):
    """Every source's solutions pass the visible checks, which watch them: no false
    positive, and nothing written to stderr."""
    namespace, tests = solutions(path)
    assert tests
    for grade_id, source in tests:
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    printed = capsys.readouterr()
    assert "own implementation" not in printed.out and "copy" not in printed.out
    assert printed.err == ""


def test_the_watch_is_quick_on_numpy_code():
    """Verdicts are kept per code object, so NumPy's Python functions are looked at once."""
    import time
    h = np.eye(4)
    np.linalg.eigvalsh(h)
    start = time.perf_counter()
    for _ in range(200):
        with _watch.Watch() as watch:
            np.linalg.eigvalsh(h)
    assert watch.problem("stability_limit") is None
    assert time.perf_counter() - start < 2.0


# --- extra folders (the hidden tests' grader/), and what an allowed function may call ----

REFERENCE_MODULE = '''
import numpy as np


def reference_loss(ref_table, ref_batch):
    ref_z = ref_table[ref_batch[:, 0]]
    ref_z = ref_z - ref_z.max(axis=1, keepdims=True)
    ref_log_p = ref_z - np.log(np.exp(ref_z).sum(axis=1, keepdims=True))
    return -ref_log_p[np.arange(len(ref_batch)), ref_batch[:, 1]].mean()


def helper_of_the_check(y):
    return float((y * y).sum())


def handed_over(y):
    return helper_of_the_check(y) + helper_of_the_check(y)
'''


@pytest.fixture
def grader_folder(tmp_path):
    """A folder of the check's own (as grader/ is for the hidden tests), imported."""
    folder = tmp_path / "grader"
    folder.mkdir()
    (folder / "references.py").write_text(REFERENCE_MODULE)
    module = runpy.run_path(str(folder / "references.py"))
    return folder, module


def test_a_call_into_an_extra_folder_is_flagged_by_its_path(grader_folder):
    folder, module = grader_folder
    table, batch = np.zeros((4, 4)), np.array([[0, 1], [2, 3]])

    def delegating(t, b):
        return module["reference_loss"](t, b)

    with _watch.Watch() as watch:                      # helpers/ alone: not seen
        delegating(table, batch)
    assert watch.problem("bigram_loss") is None
    with _watch.Watch(extra_dirs=(folder,)) as watch:
        delegating(table, batch)
    assert "grader.references.reference_loss" in watch.problem("bigram_loss")
    # Through a link to the folder: the same files.
    link = folder.parent / "link"
    link.symlink_to(folder)
    linked = runpy.run_path(str(link / "references.py"))
    with _watch.Watch(extra_dirs=(folder,)) as watch:
        linked["reference_loss"](table, batch)
    assert "grader.references.reference_loss" in watch.problem("bigram_loss")


def test_a_copy_of_an_extra_folders_function_is_flagged(grader_folder):
    folder, module = grader_folder
    copied = copy_of(module["reference_loss"], {"np": np})
    table, batch = np.zeros((4, 4)), np.array([[0, 1], [2, 3]])
    with _watch.Watch(extra_dirs=(folder,)) as watch:
        copied(table, batch)
    assert "runs a copy" in watch.problem("bigram_loss")
    assert "grader.references.reference_loss" in watch.problem("bigram_loss")


def test_an_allowed_function_may_call_the_checks_own_code_but_not_more(grader_folder):
    """The check hands over a function of its own (the f of a finite difference): that
    function and the check's code it calls are not the student's doing; a student's
    object that the allowed function calls back into is watched as usual."""
    folder, module = grader_folder
    handed_over = module["handed_over"]

    def honest(f, x):
        return f(x + 1.0) - f(x - 1.0)

    with _watch.Watch(extra_dirs=(folder,), allow=(handed_over,)) as watch:
        honest(handed_over, np.ones(3))
    assert watch.problem("central_difference") is None

    class Sneaky(np.ndarray):
        def __mul__(self, other):                      # called by the check's own code
            optimizers.adagrad_update(np.zeros(3), np.ones(3), 0, np.zeros(3), 0.1, 1e-8)
            return np.asarray(self) * np.asarray(other)

    def sneaky(f, x):
        return f(np.ones(3).view(Sneaky))

    with _watch.Watch(extra_dirs=(folder,), allow=(handed_over,)) as watch:
        sneaky(handed_over, np.ones(3))
    assert "helpers.optimizers.adagrad_update" in watch.problem("central_difference")

    # The check's own code called by the student's function directly is flagged.
    with _watch.Watch(extra_dirs=(folder,), allow=(handed_over,)) as watch:
        module["helper_of_the_check"](np.ones(3))
    assert "grader.references.helper_of_the_check" in watch.problem("central_difference")


def test_the_visible_checks_watch_the_hidden_tests_folder_of_a_checkout(monkeypatch):
    """In a checkout of the repository, exercises/grader/ sits next to helpers/: a
    function that imports the hidden tests and calls their references fails the visible
    check too."""
    grader = ROOT / "exercises" / "grader"
    assert grading.GRADER_DIRS == (grader,)
    monkeypatch.syspath_prepend(str(grader))
    monkeypatch.delitem(sys.modules, "hidden_checks", raising=False)
    import hidden_checks

    def bigram_loss(table, batch):
        return hidden_checks._loss_reference(table, batch)

    with pytest.raises(CheckFailed, match="grader.hidden_checks._loss_reference"):
        grading.check_bigram_loss(bigram_loss)

    def expected_hessian(p):
        return hidden_checks._hessian_reference(p)

    with pytest.raises(CheckFailed, match="grader.hidden_checks._hessian_reference"):
        grading.check_expected_hessian(expected_hessian)
