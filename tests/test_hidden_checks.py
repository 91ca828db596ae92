"""The hidden tests (exercises/grader/hidden_checks.py): each passes the sources' own
solutions and fails, with an AssertionError and nothing on stderr, for a wrong
implementation of its part, a constant copied from a visible run, a function that hands
the work to the series' code (also after switching the watch off, or through a copy of the
series' source), and a kernel whose NumPy was patched. Monkeypatching helpers (the visible
checks, the optimizers, the softmax) changes nothing in them: they import none of it."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import runpy
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

import helpers
import helpers.grading
import helpers.optimizers
import helpers.softmax
from student_answers import (STDERR_GLOBALS_TRICK, adagrad_with_a_state_of_its_own,
                             adam_eps_inside, forward_difference, gradient_minus_first,
                             put_back_central_difference)

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = ROOT / "exercises" / "grader" / "hidden_checks.py"
SOURCES = {p.parent.name.split("-")[0]: p
           for p in sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))}


def load() -> dict:
    """A fresh copy of the hidden checks, as a hidden-test block loads it."""
    return runpy.run_path(str(HIDDEN))


def solutions(exercise: str) -> dict:
    """The functions the source's solution cells define (marker lines dropped)."""
    from helpers import REFERENCE_WORLD, make_rng, sgd, sweep, train
    namespace = {"np": np, "REFERENCE_WORLD": REFERENCE_WORLD, "make_rng": make_rng,
                 "sgd": sgd, "sweep": sweep, "train": train}
    nb = nbformat.read(SOURCES[exercise], as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            code = "\n".join(line for line in cell.source.splitlines()
                             if not re.match(r"\s*### (BEGIN|END) SOLUTION", line))
            exec(compile(code, f"<{exercise} solution {meta['grade_id']}>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def ex1():
    return solutions("ex1")


@pytest.fixture(scope="module")
def ex2():
    return solutions("ex2")


@pytest.fixture(scope="module")
def ex3():
    return solutions("ex3")


@pytest.fixture(scope="module")
def ex4():
    return solutions("ex4")


def run(capfd, check: str, *functions, hidden=None):
    """Runs one hidden check; returns its confirmation, or the AssertionError it raised.
    Asserts that nothing reached stderr and that no warning escaped."""
    hidden = hidden or load()
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        try:
            outcome = hidden[check](*functions)
        except AssertionError as error:
            outcome = error
    captured = capfd.readouterr()
    assert captured.err == "", captured.err
    assert [str(w.message) for w in escaped] == []
    return outcome


def passes(capfd, check, *functions, **kwargs) -> str:
    outcome = run(capfd, check, *functions, **kwargs)
    assert isinstance(outcome, str), f"{check} failed: {outcome}"
    assert outcome.startswith("hidden test (") and "passed" in outcome
    return outcome


def fails(capfd, check, *functions, **kwargs) -> str:
    outcome = run(capfd, check, *functions, **kwargs)
    assert isinstance(outcome, AssertionError), f"{check} passed: {outcome}"
    assert type(outcome).__name__ == "HiddenCheckFailed"
    message = str(outcome)
    assert "\n" not in message and len(message) < 700, message
    return message


def by_part(ns: dict) -> dict:
    """check name -> the source's function(s) it takes."""
    return {
        "adam_moments": (ns["adam_step"],), "adam_update": (ns["adam_step"],),
        "adam_stacked": (ns["adam_step"],), "effective_lr": (ns["effective_lr"],),
        "typical_effective_lr": (ns["typical_effective_lr"],),
    } if "adam_step" in ns else {
        "predicted_weight": (ns["predicted_weight"],),
        "prediction": (ns["predict_rare_tokens"],),
        "expected_hessian": (ns["expected_hessian"],),
        "stability_limit": (ns["stability_limit"],),
        "diverging": (ns["first_diverging_lr"],),
        "best_rare_weight": (ns["best_rare_weight"],),
    } if "predicted_weight" in ns else {
        "adagrad_values": (ns["adagrad_init"], ns["adagrad_step"]),
        "adagrad_pure": (ns["adagrad_init"], ns["adagrad_step"]),
        "adagrad_stacked": (ns["adagrad_init"], ns["adagrad_step"]),
        "hard_world_sgd_fails": (ns["hard_world"],),
        "hard_world_adam_learns": (ns["hard_world"],),
    } if "adagrad_step" in ns else {
        "bigram_loss": (ns["bigram_loss"],),
        "central_difference": (ns["central_difference"],),
        "bigram_gradient": (ns["bigram_gradient"],),
        "bigram_gradient_repeats": (ns["bigram_gradient"],),
        "excess_by_group": (ns["excess_by_group"],),
        "shared_bias_gradient": (ns["shared_bias_gradient"],),
    }


# --- the module itself -------------------------------------------------------------------

def test_the_module_imports_nothing_of_the_series():
    tree = ast.parse(HIDDEN.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "builtins", "importlib", "io", "numpy", "os", "pathlib",
                        "runpy", "sys", "warnings"}, imported


def test_every_numpy_name_and_builtin_it_uses_is_verified():
    hidden = load()
    tree = ast.parse(HIDDEN.read_text(encoding="utf-8"))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == "np":
                chain.reverse()
                head = chain[0]
                if chain != ["random"]:              # the inner node of np.random.X
                    used.add(".".join(chain[:2]) if head == "random" else head)
    assert used <= set(hidden["_NUMPY_NAMES"]), used - set(hidden["_NUMPY_NAMES"])
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
               and isinstance(n.ctx, ast.Store)}
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
                for a in [*n.args, *n.kwonlyargs]}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Load) and n.id in vars(builtins) and n.id not in defined}
    names -= {"__file__", "__name__"}
    checked = set(hidden["_BUILTIN_CLASSES"]) | set(hidden["_BUILTIN_FUNCTIONS"])
    assert names <= checked, names - checked


def test_top_eigenvalue_without_lapack_matches_eigvalsh():
    hidden = load()
    rng = np.random.default_rng(3)
    for p in ([0.95, 0.6, 0.2, 0.05, 0.005, 0.001], [1.0, 1.0, 0.5], [0.3],
              *(rng.random(n) for n in (2, 5, 12))):
        exact = np.linalg.eigvalsh(helpers.make_world(p).expected_hessian()).max()
        assert hidden["_top_eigenvalue"](p) == pytest.approx(exact, rel=1e-12)


def test_the_simulator_reproduces_the_experiment_facts():
    """SGD at lr 0.05 on the six-token world: the expected-gradient model's 0.528 and 0.139
    for xenobiotic and thalweg (experiment.md); Adam brings every token near 1."""
    hidden = load()
    w, diverged = hidden["_simulate"](hidden["_REFERENCE_P"], [0.05], [0.05], 100, 3000, 5)
    assert not diverged.any()
    sgd_mean = w[:, 0].mean(axis=0)
    assert sgd_mean[4:] == pytest.approx([1 - np.exp(-0.75), 1 - np.exp(-0.15)], abs=0.02)
    assert sgd_mean[:3] == pytest.approx(1.0, abs=0.02)
    assert np.abs(w[:, 1].mean(axis=0) - 1).max() < 0.1


def test_the_divergence_grid_does_not_depend_on_the_batches():
    """The hidden grid's smallest diverging rate is the same on 200 streams of the hidden
    checks' simulator and on the series' own SGD with seeds 0 to 9 (a student's function
    uses seed 0)."""
    hidden = load()
    grid = sorted(hidden["_DIVERGENCE_GRID"])
    _, diverged = hidden["_simulate"](hidden["_REFERENCE_P"], grid, (), 200, 3000, 99)
    fraction = diverged.mean(axis=0)
    answer = grid.index(hidden["_first_diverging"](grid))
    assert fraction[:answer].max() == 0 and fraction[answer:].min() == 1, fraction
    for seed in range(10):
        found = [helpers.train(helpers.sgd(lr), helpers.REFERENCE_WORLD, 3000,
                               helpers.make_rng(seed), on_divergence="mark").diverged
                 for lr in grid]
        assert found == [k >= answer for k in range(len(grid))], (seed, found)


def test_the_sources_hard_world_passes_on_ten_other_seed_sets(ex3):
    """Margins of the source's world under the hidden simulator: tuned SGD's worst token
    above 0.5 and Adam's worst below half of it, on 10 independent sets of 5 streams."""
    hidden = load()
    world = list(ex3["hard_world"]())
    for seed in range(10):
        _, _, worst, best, adam, _ = hidden["_hard_world_outcome"](world, seed=424200 + seed)
        assert worst[best] > 0.5, (seed, worst[best])
        assert max(adam) < 0.5 * worst[best], (seed, max(adam), worst[best])


# --- every check passes the sources' solutions -------------------------------------------

@pytest.mark.parametrize("exercise", ["ex1", "ex2", "ex3", "ex4"])
def test_each_hidden_check_passes_the_sources_solutions(exercise, capfd):
    hidden = load()
    for check, functions in by_part(solutions(exercise)).items():
        passes(capfd, check, *functions, hidden=hidden)


def test_every_graded_test_cell_runs_its_hidden_check():
    hidden = load()
    for path in SOURCES.values():
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            block = re.search(r"### BEGIN HIDDEN TESTS\n(.*)### END HIDDEN TESTS",
                              cell.source, re.S)
            assert block, meta["grade_id"]
            name = re.search(r'\["(\w+)"\]\(', block.group(1)).group(1)
            assert name in hidden["__all__"] and callable(hidden[name]), (meta["grade_id"], name)


def test_the_block_finds_the_courses_checks_before_the_students_folder(tmp_path, monkeypatch):
    """nbgrader autogrades in <course>/autograded/<student>/<assignment>/: the block takes
    <course>/grader/hidden_checks.py, not a grader/ folder a submission put next to it."""
    cell = next(c for c in nbformat.read(SOURCES["ex1"], as_version=4).cells
                if "### BEGIN HIDDEN TESTS" in c.source)
    search = cell.source.split("### BEGIN HIDDEN TESTS\n")[1].split("print(")[0]
    course = tmp_path / "course"
    work = course / "autograded" / "student" / "ex1-adam-update"
    for folder in (course / "grader", work / "grader"):
        folder.mkdir(parents=True)
        (folder / "hidden_checks.py").write_text("# stand-in\n")
    monkeypatch.chdir(work)
    namespace: dict = {}
    exec(search, namespace)
    assert namespace["_checks"][0] == course / "grader" / "hidden_checks.py"


def test_a_helpers_folder_in_the_notebooks_folder_is_not_the_one_watched(tmp_path, monkeypatch):
    fake = tmp_path / "helpers"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "_watch.py").write_text("class Watch: pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    hidden = load()
    assert hidden["_helpers_dir"]() == Path(helpers.__file__).resolve().parent
    assert Path(hidden["_module_spec"]("helpers").origin).parent != fake


# --- wrong implementations, one per part -------------------------------------------------

def adam_v_from_g(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * np.abs(g)
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


def adam_shared_v(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    """Right for one run; stacked runs share one second moment."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    shared = v.mean(axis=tuple(range(v.ndim - 1)), keepdims=True)
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(shared / (1 - beta2 ** t)) + eps), m, v


def test_ex1_wrong_implementations_fail(capfd):
    message = fails(capfd, "adam_moments", adam_v_from_g)
    assert "v" in message and "lr 0.01, beta1 0.5, beta2 0.9, eps 0.001" in message
    message = fails(capfd, "adam_update", adam_eps_inside)
    assert "square root" in message
    # Partial credit: a slip in stacking costs the stacked part only.
    passes(capfd, "adam_moments", adam_shared_v)
    passes(capfd, "adam_update", adam_shared_v)
    message = fails(capfd, "adam_stacked", adam_shared_v)
    assert "(4, 6)" in message and "elementwise" in message
    message = fails(capfd, "effective_lr",
                    lambda v, t, lr=0.05, beta2=0.999, eps=1e-8: lr / (np.sqrt(v) + eps))
    assert "bias correction" in message
    # The do-nothing step is consistent with itself, but does not move w.
    assert "move" in fails(capfd, "adam_stacked", lambda w, g, m, v, t, **k: (w, m, v))


def test_ex2_wrong_implementations_and_copied_constants_fail(capfd, ex2):
    assert "distance still to go" in fails(capfd, "predicted_weight",
                                           lambda p, lr, t: np.exp(-lr * p * t))
    # Rounded from the visible run's simulation: within 0.02, not the model's values.
    fails(capfd, "prediction", lambda: np.array([0.530, 0.141]))
    assert "order" in fails(capfd, "prediction",
                            lambda: ex2["predict_rare_tokens"]()[::-1])
    message = fails(capfd, "expected_hessian",
                    lambda p: np.diag(np.asarray(p)) * np.asarray(p)
                    + np.outer(p, p) * (1 - np.eye(len(p))))
    assert "p**2" in message
    fails(capfd, "expected_hessian",
          lambda p: helpers.REFERENCE_WORLD.expected_hessian().copy())
    # The visible messages' answers, typed in.
    fails(capfd, "stability_limit", lambda hessian: 1.4133)
    assert "1 / lambda_max" in fails(capfd, "stability_limit",
                                     lambda h: 1 / np.linalg.eigvalsh(h).max())
    assert "diagonal" in fails(capfd, "stability_limit", lambda h: 2 / np.diag(h).max())
    message = fails(capfd, "diverging", lambda grid: 1.5)
    assert "1.5" in message
    train, sgd, make_rng, world = (ex2[k] for k in ("train", "sgd", "make_rng",
                                                    "REFERENCE_WORLD"))

    def in_grid_order(grid):
        for lr in grid:
            if train(sgd(lr), world, 3000, make_rng(0), on_divergence="mark").diverged:
                return lr
        return None

    assert "increasing order" in fails(capfd, "diverging", in_grid_order)
    assert "no diverging rate" in fails(capfd, "diverging", lambda grid: None)


def adagrad_init(w):
    return np.zeros_like(w, dtype=float)


def adagrad_eps_inside(w, g, state, lr=0.1, eps=1e-10):
    total = state + g * g
    return w - lr * g / np.sqrt(total + eps), total


def adagrad_in_place(w, g, state, lr=0.1, eps=1e-10):
    state += g * g
    return w - lr * g / (np.sqrt(state) + eps), state


def adagrad_shared(w, g, state, lr=0.1, eps=1e-10):
    total = state + g * g
    shared = total.sum(axis=tuple(range(total.ndim - 1)), keepdims=True)
    return w - lr * g / (np.sqrt(shared) + eps), total


def test_ex3_wrong_implementations_and_worlds_fail(capfd):
    assert "belongs outside" in fails(capfd, "adagrad_values", adagrad_init,
                                              adagrad_eps_inside)
    assert "in place" in fails(capfd, "adagrad_pure", adagrad_init, adagrad_in_place)
    assert "on its own" in fails(capfd, "adagrad_stacked", adagrad_init, adagrad_shared)
    passes(capfd, "adagrad_values", adagrad_init, adagrad_shared)
    assert "unchanged" in fails(capfd, "adagrad_pure", adagrad_init,
                                lambda w, g, s, lr=0.1, eps=1e-10: (w.copy(), s))
    # The reference world: tuned SGD copes with it.
    assert "copes" in fails(capfd, "hard_world_sgd_fails", lambda: list(helpers.FREQUENCIES))
    # A token rarer than the part allows (notebook 07's skewed world has one) is refused:
    # SGD must fail through its learning rate, not through a token it never sees.
    for world in ([0.95, 0.6, 0.2, 0.05, 0.005, 0.0001], [0.9, 0.0, 0.001], [0.9, 1.5]):
        for check in ("hard_world_sgd_fails", "hard_world_adam_learns"):
            assert "between 0.0005 and 1" in fails(capfd, check, lambda w=world: w)
    assert "at most 12" in fails(capfd, "hard_world_sgd_fails", lambda: [0.5] * 13)


def loss_without_max(table, batch):
    logits = table[batch[:, 0]]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(batch)), batch[:, 1]]).mean()


def loss_log_of_softmax(table, batch):
    logits = table[batch[:, 0]]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(batch)), batch[:, 1]]).mean()


def gradient_buffered(table, batch):
    previous, following = batch[:, 0], batch[:, 1]
    logits = table[previous]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = np.zeros_like(table)
    grad[previous] += p
    grad[previous, following] -= 1.0
    return grad / len(batch)


def test_ex4_wrong_implementations_fail(capfd, ex4):
    assert "Subtract each row's maximum" in fails(capfd, "bigram_loss", loss_without_max)
    assert "underflowed" in fails(capfd, "bigram_loss", loss_log_of_softmax)
    assert "sum over the batch" in fails(
        capfd, "bigram_loss", lambda t, b: ex4["bigram_loss"](t, b) * len(b))

    def in_place(f, x, index, h=1e-5):
        x[index] += h
        up = f(x)
        x[index] -= 2 * h
        return (up - f(x)) / (2 * h)

    assert "one-sided" in fails(capfd, "central_difference", forward_difference)
    assert "in place" in fails(capfd, "central_difference", in_place)
    assert "flipped" in fails(capfd, "bigram_gradient",
                              lambda t, b: -ex4["bigram_gradient"](t, b))
    assert "np.add.at" in fails(capfd, "bigram_gradient_repeats", gradient_buffered)
    assert "plain mean" in fails(
        capfd, "excess_by_group",
        lambda excess, counts, members: np.array([excess[m].mean() for m in members]))


# --- handing the work to the series' code ------------------------------------------------

def test_delegating_after_switching_the_watch_off_fails(capfd):
    def adagrad_step(w, g, state, lr=0.1, eps=1e-10):
        sys.setprofile(None)
        return helpers.optimizers.adagrad_update(w, g, 1, state, lr, eps)

    def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
        sys.setprofile(None)
        return helpers.optimizers.adam_update(w, g, t, m, v, lr, beta1, beta2, eps, True)

    def expected_hessian(p):
        sys.setprofile(None)
        return helpers.make_world(list(np.asarray(p, dtype=float))).expected_hessian()

    def bigram_loss(table, batch):
        sys.setprofile(None)
        log_p = helpers.softmax.log_softmax(table[batch[:, 0]])
        return -log_p[np.arange(len(batch)), batch[:, 1]].mean()

    for check, functions in (("adagrad_values", (adagrad_init, adagrad_step)),
                             ("adagrad_stacked", (adagrad_init, adagrad_step)),
                             ("adam_moments", (adam_step,)), ("adam_update", (adam_step,)),
                             ("expected_hessian", (expected_hessian,)),
                             ("bigram_loss", (bigram_loss,))):
        message = fails(capfd, check, *functions)
        assert "setprofile" in message or "switched off" in message, (check, message)


def test_calling_the_series_code_fails(capfd):
    assert "helpers" in fails(capfd, "predicted_weight",
                              lambda p, lr, t: helpers.expected_sgd_weight(p, lr, t))
    assert "helpers" in fails(
        capfd, "effective_lr",
        lambda v, t, lr=0.05, beta2=0.999, eps=1e-8:
        helpers.optimizers._adam_effective_lr(
            helpers.optimizers.AdamState(t, np.zeros_like(v), v),
            dict(lr=lr, beta2=beta2, eps=eps, bias_correction=True)))


def test_running_a_copy_of_the_series_code_fails(capfd):
    namespace = {"np": np}
    exec(compile(inspect.getsource(helpers.optimizers.adagrad_update), "<copy>", "exec"),
         namespace)
    copied = namespace["adagrad_update"]

    def adagrad_step(w, g, state, lr=0.1, eps=1e-10):
        return copied(w, g, 1, state, lr, eps)

    assert "copy" in fails(capfd, "adagrad_values", adagrad_init, adagrad_step)


# --- a kernel whose helpers or NumPy were patched ----------------------------------------

def test_patched_visible_checks_and_references_change_nothing(capfd, monkeypatch, ex3, ex4):
    for name in dir(helpers.grading):
        if name.startswith("check_"):
            monkeypatch.setattr(helpers.grading, name, lambda *a, **k: "ok")
    monkeypatch.setattr(helpers.optimizers, "adagrad_update",
                        lambda w, g, t, s, lr, eps: (w, s))
    monkeypatch.setattr(helpers.optimizers, "adagrad", lambda *a, **k: None)
    monkeypatch.setattr(helpers, "adagrad", lambda *a, **k: None)
    monkeypatch.setattr(helpers.softmax, "log_softmax", lambda z: z)
    monkeypatch.setattr(helpers.softmax, "softmax", lambda z: z)
    for check, functions in by_part(ex3).items():
        if not check.startswith("hard_world"):
            passes(capfd, check, *functions)
    for check, functions in by_part(ex4).items():
        passes(capfd, check, *functions)
    fails(capfd, "adagrad_values", adagrad_init, adagrad_eps_inside)
    fails(capfd, "bigram_loss", lambda t, b: float(-(t[b[:, 0], b[:, 1]]).mean()))


def test_a_patched_numpy_fails_every_check_with_its_name(capfd, monkeypatch, ex1, ex4):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    for check, functions in (*by_part(ex1).items(), *by_part(ex4).items()):
        message = fails(capfd, check, *functions)
        assert "replaced numpy.allclose" in message, message


@pytest.mark.parametrize("name, replacement", [
    ("sqrt", lambda x: x), ("exp", np.log), ("isclose", lambda *a, **k: True)])
def test_other_numpy_patches_are_named(capfd, monkeypatch, ex1, name, replacement):
    monkeypatch.setattr(np, name, replacement)
    assert f"replaced numpy.{name}" in fails(capfd, "adam_update", ex1["adam_step"])


def test_numpy_or_builtins_patched_inside_the_students_call_fail(capfd, monkeypatch, ex1):
    original = ex1["adam_step"]

    def adam_step(*args, **kwargs):
        np.sqrt = lambda x: x
        return original(*args, **kwargs)

    monkeypatch.setattr(np, "sqrt", np.sqrt)          # restored after the test
    assert "replaced numpy.sqrt" in fails(capfd, "adam_update", adam_step)
    monkeypatch.setattr(np, "sqrt", original.__globals__["np"].sqrt)
    monkeypatch.setattr(builtins, "abs", lambda x: 0.0)
    assert "builtins.abs" in fails(capfd, "adam_update", original)


# --- the stderr rule ---------------------------------------------------------------------

def test_a_warning_or_stderr_output_in_the_students_call_is_reported_not_printed(capfd, ex1):
    def noisy(v, t, lr=0.05, beta2=0.999, eps=1e-8):
        print("debugging", file=sys.stderr)
        return ex1["effective_lr"](v, t, lr, beta2, eps)

    assert "wrote to stderr: debugging" in passes(capfd, "effective_lr", noisy)

    def forgotten_eps(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        return w - lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t)), m, v

    message = fails(capfd, "adam_update", forgotten_eps)
    assert "invalid value" in message or "divide" in message, message
    # The moments do not depend on eps: that part still passes, with a note.
    passes(capfd, "adam_moments", forgotten_eps)


def test_errors_and_exit_in_the_students_call_become_messages(capfd):
    def not_written(*args):
        raise NotImplementedError()

    def exits(*args):
        raise SystemExit(0)

    assert "not written yet" in fails(capfd, "bigram_loss", not_written)
    assert "SystemExit" in fails(capfd, "bigram_loss", exits)
    assert "ZeroDivisionError" in fails(capfd, "excess_by_group", lambda *a: 1 / 0)
    assert "NumPy array" in fails(capfd, "excess_by_group", lambda *a: "0.5")


def test_a_result_of_the_students_own_class_is_not_converted(capfd, ex4):
    class Lazy:
        def __array__(self, dtype=None, copy=None):
            raise AssertionError("converted outside the watch")

        def __float__(self):
            raise AssertionError("converted outside the watch")

    assert "NumPy array" in fails(capfd, "bigram_gradient", lambda t, b: Lazy())
    assert "one number" in fails(capfd, "bigram_loss", lambda t, b: Lazy())


# --- the transfer parts: ex1 D, ex2 F, ex4 F ---------------------------------------------

def test_the_typical_rate_formula_passes_on_other_streams():
    """ex1 D: lr / (sqrt(q) |g|) within 10% of the hidden simulation with a margin, on the
    hidden seed and on ten other sets of 8 streams."""
    hidden = load()
    cases = hidden["_TYPICAL_HIDDEN"]
    assert min(q for q, _, _ in cases) >= 0.01
    for seed in (181701, *range(10)):
        rates = hidden["_typical_rates"](cases, seed=seed)
        for (q, g, lr), rate in zip(cases, rates):
            assert abs(lr / (np.sqrt(q) * abs(g)) / rate - 1) < 0.08, (seed, q, rate)


def test_ex1_typical_rate_slips_fail(capfd):
    for answer, hint in ((lambda q, g, lr=0.05: lr / (q * abs(g)), "not q**2"),
                         (lambda q, g, lr=0.05: lr / abs(g), "zero steps count too"),
                         (lambda q, g, lr=0.05: lr / (np.sqrt(q) * g), "sign of g"),
                         (lambda q, g, lr=0.05: 1.3 * lr / (np.sqrt(q) * abs(g)), "10% above")):
        message = fails(capfd, "typical_effective_lr", answer)
        assert hint in message, message
    # The visible check's constant answers, typed in.
    assert "10%" in fails(capfd, "typical_effective_lr", lambda q, g, lr=0.05: 0.7454)


def test_ex2_best_rare_weight_slips_fail(capfd, ex2):
    """ex2 F on other worlds: a wrong token, a wrong rate, the visible answer typed in;
    and a slip in part C costs F too (F builds on it)."""
    def best(token, rate):
        def answer(frequencies, t):
            p = np.asarray(frequencies, dtype=float)
            return ex2["predicted_weight"](token(p), rate(p), t)
        return answer

    def limit(p):
        return 2 / np.linalg.eigvalsh(ex2["expected_hessian"](p)).max()

    assert "last token" in fails(capfd, "best_rare_weight", best(lambda p: p[-1], limit))
    assert "1 / lambda_max" in fails(capfd, "best_rare_weight", best(
        np.min, lambda p: 1 / np.linalg.eigvalsh(ex2["expected_hessian"](p)).max()))
    assert "diagonal" in fails(capfd, "best_rare_weight", best(np.min, lambda p: 2 / p.max()))
    fails(capfd, "best_rare_weight", best(np.min, lambda p: 1.4133))
    fails(capfd, "best_rare_weight", lambda frequencies, t: 0.634)
    fails(capfd, "best_rare_weight", best(
        np.min, lambda p: 2 / np.linalg.eigvalsh(np.outer(p, p)).max()))
    # The hidden worlds are not saturated: their answers lie well inside (0, 1).
    hidden = load()
    for frequencies, t in ([0.004, 0.9, 0.6, 0.05], 400), ([0.7] * 4 + [0.01, 0.2], 60):
        weight = hidden["_rare_weights"](min(frequencies),
                                         2 / hidden["_top_eigenvalue"](frequencies), t)[0]
        assert 0.3 < weight < 0.95, weight


def test_ex4_shared_bias_gradient_slips_fail(capfd, ex4):
    def naive(E, U, c, batch):
        p = np.exp(E[batch[:, 0]] @ U + c)
        p /= p.sum(axis=1, keepdims=True)
        np.add.at(p, (np.arange(len(batch)), batch[:, 1]), -1.0)
        return p.sum(axis=0) / len(batch)

    def buffered(E, U, c, batch):
        z = E[batch[:, 0]] @ U + c
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = p.sum(axis=0)
        grad[batch[:, 1]] -= 1.0
        return grad / len(batch)

    correct = ex4["shared_bias_gradient"]
    assert "overflows" in fails(capfd, "shared_bias_gradient", naive)
    assert "np.add.at" in fails(capfd, "shared_bias_gradient", buffered)
    assert "sign" in fails(capfd, "shared_bias_gradient", lambda *a: -correct(*a))
    assert "batch size B" in fails(capfd, "shared_bias_gradient",
                                   lambda *a: correct(*a) * len(a[3]))
    assert "shape" in fails(capfd, "shared_bias_gradient", lambda *a: correct(*a)[:-1])

    def delegating(E, U, c, batch):
        model = helpers.LogBilinearBigram(np.ones((len(c), len(c))), dim=E.shape[1])
        params = np.concatenate([E.ravel(), U.ravel(), c])
        return model.split(model.gradient(params, batch))[2]

    assert "helpers" in fails(capfd, "shared_bias_gradient", delegating)


def test_the_hidden_bias_gradient_is_the_derivative_of_the_loss():
    hidden = load()
    E, U, c, batch = hidden["_shared_case"](7, 9, 4, 8)

    def loss(bias):
        z = E[batch[:, 0]] @ U + bias
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(batch)), batch[:, 1]].mean()

    expected = hidden["_shared_bias_reference"](E, U, c, batch)
    for b in range(len(c)):
        step = np.zeros(len(c))
        step[b] = 1e-6
        assert (loss(c + step) - loss(c - step)) / 2e-6 == pytest.approx(expected[b], abs=1e-8)
    # The batches repeat a previous word, a next word and a whole pair.
    assert len(set(batch[:, 0].tolist())) < len(batch)
    assert len(set(batch[:, 1].tolist())) < len(batch)
    assert batch[-1].tolist() == batch[1].tolist()


# --- review R1 ---------------------------------------------------------------------------

@pytest.mark.parametrize("order", [(1, 2, 0), (0, 2, 1), (2, 1, 0)])
def test_a_wrong_return_order_is_named_first(capfd, ex1, order):
    def reordered(*args, **kwargs):
        new = ex1["adam_step"](*args, **kwargs)
        return tuple(new[k] for k in order)

    for check in ("adam_moments", "adam_update"):
        assert "return (new_w, new_m, new_v), in this order" in fails(capfd, check, reordered)
    passes(capfd, "adam_stacked", reordered)


def test_the_typical_rate_hints_give_no_formula(capfd):
    for answer in (lambda q, g, lr=0.05: lr / (q * abs(g)),
                   lambda q, g, lr=0.05: lr / np.sqrt(q * abs(g))):
        message = fails(capfd, "typical_effective_lr", answer)
        assert "sqrt(q" not in message and "grows like |g|" not in message, message


def test_c2_says_when_tuned_sgd_already_copes(capfd):
    message = fails(capfd, "hard_world_adam_learns", lambda: list(helpers.FREQUENCIES))
    assert "tuned SGD already learns every token here (see C1)" in message


def test_an_in_place_shift_put_back_exactly_fails(capfd, ex4):
    assert "called f with x itself, changed in place" in fails(capfd, "central_difference",
                                                                put_back_central_difference)

    def reads_x(f, x, index, h=1e-5):             # f(x) on x unchanged is not this slip
        f(x)
        return ex4["central_difference"](f, x, index, h)

    passes(capfd, "central_difference", reads_x)


@pytest.mark.parametrize("wrong", [gradient_buffered, gradient_minus_first])
def test_both_forms_of_the_repeated_index_slip_get_the_add_at_hint(capfd, wrong):
    passes(capfd, "bigram_gradient", wrong)
    message = fails(capfd, "bigram_gradient_repeats", wrong)
    assert "np.add.at" in message and "start one pair are right" in message, message


def test_warnings_are_named_as_the_visible_checks_name_them(capfd):
    def adagrad_no_eps(w, g, state, lr=0.1, eps=1e-10):
        total = state + g * g
        return w - lr * g / np.sqrt(total), total

    message = passes(capfd, "adagrad_pure", adagrad_init, adagrad_no_eps)
    assert "NumPy warned: invalid value encountered in divide" in message, message
    assert "Python warned" not in message

    def user_warning(v, t, lr=0.05, beta2=0.999, eps=1e-8):
        warnings.warn("careful", stacklevel=2)
        return lr / (np.sqrt(v / (1 - beta2 ** t)) + eps)

    assert "Python warned: UserWarning: careful" in passes(capfd, "effective_lr", user_warning)


# --- the hidden tests' own code (grader/) is not the student's either --------------------

@pytest.fixture
def hidden_module(monkeypatch):
    """hidden_checks imported as a notebook could: sys.path.insert(0, grader)."""
    monkeypatch.syspath_prepend(str(HIDDEN.parent))
    monkeypatch.delitem(sys.modules, "hidden_checks", raising=False)
    import hidden_checks
    yield hidden_checks
    sys.modules.pop("hidden_checks", None)


def grader_cheats(hc, ns: dict) -> dict:
    """check name -> functions that hand (part of) the work to the hidden tests' own
    references, as a student who read this public file could."""
    def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        return hc._adam_w(w, m, v, t, lr, beta1, beta2, eps)["correct"], m, v

    def central_difference(f, x, index, h=1e-5):
        return hc._central_reference(f, x, index, h)

    def best_rare_weight(frequencies, t):
        p = np.asarray(frequencies, dtype=float)
        return hc._rare_weights(p.min(), 2 / hc._top_eigenvalue(p), t)[0]

    def delegating(function):                # any call into grader/ inside the function
        def cheat(*args, **kwargs):
            hc._all_finite(np.zeros(2))
            return function(*args, **kwargs)
        return cheat

    cheats = {check: tuple(delegating(f) for f in functions)
              for check, functions in by_part(ns).items()}
    if "adam_step" in ns:
        cheats.update(adam_moments=(adam_step,), adam_update=(adam_step,),
                      adam_stacked=(adam_step,),
                      typical_effective_lr=(lambda q, g, lr=0.05: hc._typical_rates(
                          [(q, g, lr)], streams=1, n_steps=2000)[0],))
    if "predicted_weight" in ns:
        cheats.update(expected_hessian=(hc._hessian_reference,),
                      diverging=(lambda grid: hc._first_diverging(grid),),
                      best_rare_weight=(best_rare_weight,))
    if "bigram_loss" in ns:
        cheats.update(bigram_loss=(lambda t, b: hc._loss_reference(t, b),),
                      central_difference=(central_difference,),
                      bigram_gradient=(lambda t, b: hc._gradient_reference(t, b),),
                      bigram_gradient_repeats=(lambda t, b: hc._gradient_reference(t, b),),
                      shared_bias_gradient=(hc._shared_bias_reference,))
    return cheats


@pytest.mark.parametrize("exercise", ["ex1", "ex2", "ex3", "ex4"])
def test_calling_the_hidden_tests_own_code_fails_every_check(exercise, capfd, hidden_module):
    """R2's trick 3: sys.path.insert(0, grader); import hidden_checks; its references
    inside the student's function. Every hidden check fails, the parts that may use the
    series' code (a sweep, a world) included."""
    hidden = load()
    for check, functions in grader_cheats(hidden_module, solutions(exercise)).items():
        message = fails(capfd, check, *functions, hidden=hidden)
        assert "grader.hidden_checks." in message, (check, message)


def test_a_copy_of_the_hidden_tests_references_fails(capfd, ex4):
    hidden = load()
    namespace = {"np": np}
    for name in ("_log_softmax_rows", "_loss_reference"):
        exec(compile(inspect.getsource(hidden[name]), "<my own code>", "exec"), namespace)
    copied = namespace["_loss_reference"]
    message = fails(capfd, "bigram_loss", lambda t, b: copied(t, b), hidden=hidden)
    assert "runs a copy" in message and "grader.hidden_checks._loss_reference" in message


def test_no_honest_function_looks_like_a_copy_of_the_hidden_tests():
    """The references' parameters have names of their own: no function of the grader
    folder takes the parameters of a function the exercises ask for, and no function the
    sources' solutions define has the fingerprint of one."""
    from helpers import _watch
    grader = _watch.package_fingerprints(HIDDEN.parent)
    parameters = {key[0][1] for key in grader}
    for exercise in SOURCES:
        for name, value in solutions(exercise).items():
            code = getattr(value, "__code__", None)
            if code is None or not code.co_filename.startswith("<"):
                continue
            fingerprint = _watch.fingerprint(code)
            assert fingerprint not in grader, (exercise, name, grader.get(fingerprint))
            if fingerprint[0][1]:                  # a function without parameters: by its code
                assert fingerprint[0][1] not in parameters, (exercise, name, fingerprint[0][1])


# --- a course's own inputs (grader/course_secret) -----------------------------------------

def secret_copy(folder: Path, secret: str | None) -> dict:
    """A fresh copy of the hidden checks as a course holds it: grader/hidden_checks.py
    with grader/course_secret next to it."""
    grader = folder / "grader"
    grader.mkdir(parents=True, exist_ok=True)
    (grader / "hidden_checks.py").write_text(HIDDEN.read_text(encoding="utf-8"))
    if secret is not None:
        (grader / "course_secret").write_text(secret + "\n")
    return runpy.run_path(str(grader / "hidden_checks.py"))


def test_secret(k: int) -> str:
    """The k-th test secret: 32 hex digits, as secrets.token_hex(16) writes them."""
    return np.random.default_rng([18, k]).bytes(16).hex()


test_secret.__test__ = False


def under_secret(hidden: dict, secret: str) -> dict:
    """The loaded copy, as if its course_secret held ``secret`` (the module's own
    globals, which its functions read; quicker than a fresh copy per secret). Its guard
    over its own names (see test_a_changed_hidden_checks_module_fails_its_checks) is made
    again: this change is the test's, not a notebook's."""
    namespace = hidden["_rng"].__globals__
    namespace["_SECRET"] = int(secret, 16)
    namespace["_TRUST"] = namespace["_trust_guard"]()
    return hidden


@pytest.mark.parametrize("exercise", ["ex1", "ex2", "ex3", "ex4"])
@pytest.mark.parametrize("first", [0, 10])
def test_the_sources_solutions_pass_under_twenty_course_secrets(exercise, first, tmp_path,
                                                                 capfd):
    """Secrets 0 to 19 (in two halves, for the test's workers)."""
    functions = by_part(solutions(exercise))
    hidden = secret_copy(tmp_path, test_secret(first))      # read from the file
    assert hidden["_SECRET"] == int(test_secret(first), 16)
    for k in range(first, first + 10):
        under_secret(hidden, test_secret(k))
        for check, arguments in functions.items():
            passes(capfd, check, *arguments, hidden=hidden)


def _key(value):
    """What a replaying submission looks its answers up by."""
    if _TYPE_OF(value) is np.ndarray:
        return ("array", value.shape, str(value.dtype), value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if callable(value):
        return "a function"
    return repr(value)


_TYPE_OF = type


def replaying(functions, table: dict):
    """Each function, recording its answers by its inputs into ``table`` (the
    precomputation a notebook could do with the series' code, outside any watch) or,
    once recorded, answering from it (the graded function is then a lookup)."""
    import copy

    def wrap(k, function):
        def answer(*args, **kwargs):
            key = (k, _key(args), _key(kwargs))
            if table.get("recording"):
                table[key] = copy.deepcopy(function(*args, **kwargs))
            return copy.deepcopy(table[key])
        return answer
    return tuple(wrap(k, f) for k, f in enumerate(functions))


def test_answers_replayed_from_the_public_inputs_fail_under_a_secret(tmp_path, capfd):
    """R2's trick 5: every answer precomputed for the inputs this public file uses, and
    the graded function a lookup. Without a secret (the repository) it passes every
    check that has inputs; under a course's secret it fails every one of them."""
    public = load()
    course = secret_copy(tmp_path, test_secret(99))
    for exercise in ("ex1", "ex2", "ex3", "ex4"):
        for check, functions in by_part(solutions(exercise)).items():
            if check in ("prediction", "hard_world_sgd_fails", "hard_world_adam_learns"):
                continue                    # no inputs: the student's own answer is asked
            table = {"recording": True}
            replay = replaying(functions, table)
            passes(capfd, check, *replay, hidden=public)
            table["recording"] = False
            passes(capfd, check, *replay, hidden=public)       # a faithful replay
            message = fails(capfd, check, *replay, hidden=course)
            assert "KeyError" in message, (check, message)


def test_the_checks_are_deterministic_for_a_secret(tmp_path, capfd, ex2):
    first = secret_copy(tmp_path / "a", test_secret(5))
    second = secret_copy(tmp_path / "b", test_secret(5))
    other = secret_copy(tmp_path / "c", test_secret(6))
    drawn = [("_adam_settings", 190101), ("_effective_first_case", 190201),
             ("_typical_cases", 190301), ("_weight_cases", 190401),
             ("_stability_inputs", 190601), ("_divergence_grid", 190701),
             ("_rare_worlds", 190801), ("_adagrad_settings", 190901),
             ("_difference_cases", 191001)]
    for name, tag in drawn:
        a, b, c = (repr(h[name](h["_drawn"](tag))) for h in (first, second, other))
        assert a == b and a != c, name
        assert a != repr(first[name](None)), name
    for hidden in (first, second):
        assert hidden["_rng"](1).random() == first["_rng"](1).random()
    assert first["_rng"](1).random() != load()["_rng"](1).random()
    wrong = [("adam_update", adam_eps_inside), ("stability_limit", lambda h: 1.4133),
             ("diverging", lambda grid: 1.5),
             ("best_rare_weight", lambda frequencies, t: 0.634)]
    for check, function in wrong:
        assert fails(capfd, check, function, hidden=first) == fails(capfd, check, function,
                                                                    hidden=second)
    assert fails(capfd, "adam_update", adam_eps_inside, hidden=first) != fails(
        capfd, "adam_update", adam_eps_inside, hidden=other)


@pytest.mark.parametrize("content", ["not hex at all, but 32 characters", "abc", ""])
def test_a_malformed_secret_fails_every_check_plainly(content, tmp_path, capfd, ex4):
    grader = tmp_path / "grader"
    grader.mkdir()
    (grader / "hidden_checks.py").write_text(HIDDEN.read_text(encoding="utf-8"))
    (grader / "course_secret").write_text(content)
    hidden = runpy.run_path(str(grader / "hidden_checks.py"))
    for check, functions in by_part(ex4).items():
        assert "course_secret" in fails(capfd, check, *functions, hidden=hidden)


def test_drawn_inputs_stay_where_the_checks_are_valid():
    """Over 300 draws: ex2 E's grid keeps every rate below 0.85 or above 1.2 times the
    limit, none of the visible grid's, the largest diverging rate first; ex2 F's answers
    lie in [0.2, 0.95]; ex1 D's q in [0.012, 0.3], |g| away from 1, one g negative; ex1
    A's and ex3 A1's eps large enough to tell inside the square root from outside."""
    hidden = load()
    limit = 2 / hidden["_top_eigenvalue"](hidden["_REFERENCE_P"])
    for k in range(300):
        def draw(k=k):
            return np.random.default_rng([7, k])

        grid = hidden["_divergence_grid"](draw())
        assert len(set(grid)) == 5 and all(r < 0.85 * limit or r > 1.2 * limit for r in grid)
        assert not set(grid) & {1.2, 1.3, 1.4, 1.5, 1.6}
        answer = min(r for r in grid if r > limit)
        assert grid[0] == max(grid) and grid[0] != answer
        assert any(r < limit for r in grid)
        for frequencies, t in hidden["_rare_worlds"](draw()):
            p = np.asarray(frequencies, dtype=float)
            for weight in hidden["_rare_weights"](p.min(), 2 / hidden["_top_eigenvalue"](p), t):
                assert 0.2 <= weight <= 0.95, (k, frequencies, t, weight)
        cases = hidden["_typical_cases"](draw())
        assert all(0.012 <= q <= 0.3 and not 1 / 1.5 < abs(g) < 1.5 for q, g, _ in cases)
        assert sum(g < 0 for _, g, _ in cases) == 1
        first, second = hidden["_adam_settings"](draw())
        assert first["eps"] >= 5e-4 and first["beta1"] <= 0.7 and second["beta2"] < 0.999
        assert hidden["_adagrad_settings"](draw())[0][1] >= 5e-4


def test_the_grids_bounds_are_far_from_the_limit():
    """ex2 E under a secret: no stream diverges at 0.85 times the limit, every stream
    does at 1.2 times it, on 200 streams of the hidden simulator and on the series' SGD
    with seeds 0 to 9 (the student's function uses seed 0)."""
    hidden = load()
    limit = 2 / hidden["_top_eigenvalue"](hidden["_REFERENCE_P"])
    rates = [0.85 * limit, 1.2 * limit]
    _, diverged = hidden["_simulate"](hidden["_REFERENCE_P"], rates, (), 200, 3000, 31)
    assert diverged.mean(axis=0).tolist() == [0.0, 1.0]
    for seed in range(10):
        found = [helpers.train(helpers.sgd(lr), helpers.REFERENCE_WORLD, 3000,
                               helpers.make_rng(seed), on_divergence="mark").diverged
                 for lr in rates]
        assert found == [False, True], seed


def test_the_typical_rate_formula_passes_for_drawn_cases():
    """ex1 D under 20 secrets: the formula within 8% of the hidden simulation."""
    hidden = load()
    for k in range(20):
        cases = hidden["_typical_cases"](np.random.default_rng([8, k]))
        for (q, g, lr), rate in zip(cases, hidden["_typical_rates"](cases, seed=k)):
            assert abs(lr / (np.sqrt(q) * abs(g)) / rate - 1) < 0.08, (k, q, rate)


# --- plain results, read without running the student's code -------------------------------

def test_a_state_of_the_students_own_class_is_handed_back_untouched(capfd):
    """AdaGrad's state may be anything: the check reads the arrays of a tuple, a list, a
    dict or an array, and hands anything else back without asking it anything (not even
    its __class__)."""
    init, step = adagrad_with_a_state_of_its_own()

    for check in ("adagrad_values", "adagrad_pure", "adagrad_stacked"):
        passes(capfd, check, init, step)


def test_an_array_of_objects_counts_when_each_is_a_plain_number(capfd, ex4):
    def as_objects(excess, counts, members):
        return np.array(ex4["excess_by_group"](excess, counts, members).tolist(), dtype=object)

    passes(capfd, "excess_by_group", as_objects)

    class Lazy:
        def __float__(self):
            raise AssertionError("converted outside the watch")

    def lazy(excess, counts, members):
        result = np.empty(len(members), dtype=object)
        for k in range(len(members)):
            result[k] = Lazy()
        return result

    assert "NumPy array" in fails(capfd, "excess_by_group", lazy)


# --- red team round 3: nothing of the hidden tests in the student's hands ------------------

def namespace_reachable(start, namespace, depth: int = 8) -> bool:
    """Whether ``namespace`` (a module's globals) can be reached from ``start`` through
    what a notebook can follow without an audited step: functions' __globals__ and
    closures, bound methods' __self__ and __func__, an object's class and the class's
    attributes (modules themselves are not walked: a notebook has them anyway)."""
    import types
    seen, todo = set(), [(start, 0)]
    while todo:
        obj, level = todo.pop()
        if obj is namespace:
            return True
        if id(obj) in seen or level > depth or isinstance(obj, types.ModuleType):
            continue
        seen.add(id(obj))
        found = []
        if isinstance(obj, types.FunctionType):
            found += [obj.__globals__, *(c.cell_contents for c in obj.__closure__ or ())]
        elif isinstance(obj, types.MethodType):
            found += [obj.__self__, obj.__func__]
        elif isinstance(obj, dict):
            found += list(obj.values())
        elif isinstance(obj, type):
            found += list(vars(obj).values())
        else:
            found += [type(obj), getattr(obj, "__self__", None), getattr(obj, "__func__", None)]
        todo += [(value, level + 1) for value in found if value is not None]
    return False




def test_the_students_stderr_leads_nowhere_back_to_the_hidden_tests(capfd):
    """Round 3's trick 1: while a check called the student's function, sys.stderr was the
    check's own writer, whose method's __globals__ were this module's namespace; the
    function replaced _Check, _close, … and every later check passed. sys.stderr is now an
    io.StringIO: the trick finds nothing, and the lazy answers fail."""
    hidden = load()
    namespace = hidden["_rng"].__globals__
    reached = []
    tools = {"np": np, "sys": sys}
    exec(STDERR_GLOBALS_TRICK, tools)

    def adam_step(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
        reached.append(namespace_reachable(sys.stderr, namespace))
        tools["lenient"]()
        return w, m, v

    def effective_lr(v, t, lr=0.05, beta2=0.999, eps=1e-8):
        tools["lenient"]()
        return v

    fails(capfd, "adam_moments", adam_step, hidden=hidden)
    assert reached == [False]
    fails(capfd, "effective_lr", effective_lr, hidden=hidden)
    assert namespace["_Check"] is hidden["_Check"] and namespace["_close"] is hidden["_close"]


def test_ex4_f_leads_nowhere_back_to_the_hidden_tests(capfd, ex4):
    """Round 3's trick 2: the f handed to central_difference was a function of this module
    (f.__globals__ its namespace). It is now built in a namespace of its own: nothing in
    it (globals, closure, the functions it calls) leads back, and the trick fails."""
    hidden = load()
    namespace = hidden["_rng"].__globals__
    seen = []

    def central_difference(f, x, index, h=1e-5):
        seen.append(namespace_reachable(f, namespace))
        g = f.__globals__
        if "_Check" in g:
            g["_close"] = lambda *a, **k: True
            g["_number"] = lambda *a, **k: 0.0
        return 0.0

    assert "central difference is wrong" in fails(capfd, "central_difference",
                                                  central_difference, hidden=hidden)
    assert seen and not any(seen)
    # The f is still the check's own code for the watch (a correct answer passes), and
    # still sees an x changed in place.
    passes(capfd, "central_difference", ex4["central_difference"], hidden=hidden)


def test_a_changed_hidden_checks_module_fails_its_checks(capfd, ex1, monkeypatch):
    """Defence in depth, for a way into this module's namespace nobody has found yet:
    after every call of the student's code the check compares this module's names,
    classes and functions, the watch's, and the modules they call into, with what they
    were when the file was loaded; any change fails the check, and every later one."""
    import dis
    import os

    right = ex1["adam_step"]

    def changing(change):
        def adam_step(*args, **kwargs):
            change()
            return right(*args, **kwargs)
        return adam_step

    changes = {
        "hidden_checks._close": lambda ns: ns.__setitem__("_close", lambda *a, **k: True),
        "hidden_checks._Check.fail": lambda ns: setattr(ns["_Check"], "fail",
                                                        lambda self, message: None),
        "hidden_checks (a name added or removed)": lambda ns: ns.__setitem__("_r3", True),
        "hidden_checks._NUMPY_NAMES (a name added or removed)":
            lambda ns: ns["_NUMPY_NAMES"].pop("allclose"),
        "the watch.Watch.problem": lambda ns: setattr(ns["_WATCH"]["Watch"], "problem",
                                                      lambda self, name: None),
        "posixpath.realpath": lambda ns: monkeypatch.setattr(os.path, "realpath",
                                                             lambda p: p),
        "dis.get_instructions": lambda ns: monkeypatch.setattr(dis, "get_instructions",
                                                               lambda code: iter(())),
    }
    for what, change in changes.items():
        hidden = load()
        namespace = hidden["_rng"].__globals__
        message = fails(capfd, "adam_moments",
                        changing(lambda change=change, ns=namespace: change(ns)),
                        hidden=hidden)
        assert message.startswith(f"the notebook changed {what}, which the hidden tests "
                                  f"rely on"), (what, message)
        # … and so does every later check of this copy, with a correct function.
        assert "the notebook changed" in fails(capfd, "adam_update", right, hidden=hidden)
        monkeypatch.undo()
    # A function's defaults (``_close``'s tolerance, say): caught when the next check
    # starts.
    hidden = load()
    namespace = hidden["_rng"].__globals__

    def loosen():
        namespace["_close"].__defaults__ = (1e9, False)

    passes(capfd, "adam_moments", changing(loosen), hidden=hidden)
    message = fails(capfd, "adam_update", right, hidden=hidden)
    assert "hidden_checks._close (its code, defaults or closure)" in message, message
