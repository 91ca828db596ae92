"""The explorer: settings validation, compiled runs equal to the helpers optimizers on
the same batches, draws that do not depend on the run length, the readout, and the
widgets driven as a student would (in plain pytest, no browser)."""

import numpy as np
import pytest

import helpers as h
from helpers.explorer import OPTIMIZER_NAMES, Explorer, ExplorerModel, ExplorerSettings, readout


@pytest.mark.parametrize("kwargs, error, message", [
    ({"optimizers": ()}, ValueError, "choose at least one optimizer"),
    ({"optimizers": ("sgd", "lion")}, KeyError, "'lion' is unknown"),
    ({"optimizers": ("sgd", "sgd")}, ValueError, "optimizers must be distinct"),
    ({"optimizers": "sgd"}, TypeError, "single string 'sgd'"),
    ({"optimizers": None}, TypeError, "list or tuple of names"),
    ({"lr": 0.0}, ValueError, "^lr must"),
    ({"lr": float("nan")}, ValueError, "^lr must"),
    ({"lr": True}, TypeError, "^lr must be a number"),
    ({"lr": [0.1, 0.2]}, TypeError, "^lr must be a single number"),
    ({"beta1": 1.0}, ValueError, "^beta1 must lie in"),
    ({"beta2": -0.1}, ValueError, "^beta2 must lie in"),
    ({"eps": 0.0}, ValueError, "^eps must"),
    ({"batch_size": 0}, ValueError, "^batch_size must"),
    ({"batch_size": 32.0}, TypeError, "^batch_size must be a whole number"),
    ({"batch_size": 10 ** 6}, ValueError, r"GiB of memory"),
    ({"n_steps": 0}, ValueError, "^n_steps must"),
    ({"n_steps": 10 ** 6}, ValueError, "from 1 to 20,000"),
    ({"rare_frequency": 0.0}, ValueError, r"^rare_frequency must lie in \(0, 1\]"),
    ({"rare_frequency": 1.5}, ValueError, "^rare_frequency must lie in"),
    ({"rare_frequency": float("nan")}, ValueError, "^rare_frequency must be a finite"),
    ({"rare_frequency": "rare"}, TypeError, "^rare_frequency must be a number"),
    ({"seed": -1}, ValueError, "^seed must"),
    ({"seed": 4.2}, TypeError, "^seed must be a whole number"),
])
def test_bad_settings_are_refused_with_a_clear_message(kwargs, error, message):
    with pytest.raises(error, match=message):
        ExplorerSettings(**kwargs)


def test_at_the_reference_settings_the_explorer_shows_the_runs_of_notebooks_02_to_05():
    # Seed 42 means one stream everywhere: the explorer's SGD and Adam are exactly
    # train(sgd(0.05), ..., make_rng(42)) and train(adam(0.05), ..., make_rng(42)).
    runs = ExplorerModel().run(ExplorerSettings())
    for name, optimizer in (("sgd", h.sgd(0.05)), ("adam", h.adam(0.05))):
        run = h.train(optimizer, h.REFERENCE_WORLD, 3000, h.make_rng(42))
        np.testing.assert_allclose(runs[name].weights, run.weights, rtol=1e-12, atol=1e-13)
        np.testing.assert_array_equal(runs[name].grad_nonzero_steps, run.grad_nonzero_steps)
    assert runs["sgd"].grad_nonzero_steps[-1] == 96            # notebook 02's count


def plain_loop(optimizer, model, settings):
    w, state = np.zeros(6), optimizer.init(np.zeros(6))
    weights = []
    for X, y in model.batches(settings):
        w, state = optimizer.step(w, X.T @ (X @ w - y) / settings.batch_size, state)
        weights.append(w)
    return np.array(weights), state


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_compiled_runs_equal_the_helpers_optimizers_on_the_same_batches(name):
    settings = ExplorerSettings(optimizers=(name,), lr=0.03, beta1=0.8, beta2=0.99, eps=1e-6,
                                batch_size=16, n_steps=400, rare_frequency=0.01, seed=5)
    model = ExplorerModel()
    run = model.run(settings)[name]
    expected, state = plain_loop(settings.optimizer(name), model, settings)
    np.testing.assert_allclose(run.weights, expected, rtol=1e-12, atol=1e-14)
    assert not run.diverged
    if name == "adam":
        np.testing.assert_allclose(run.effective_lr(),
                                   settings.optimizer("adam").derive("effective_lr", state),
                                   rtol=1e-12)


def test_every_optimizer_sees_the_same_batches_and_counts_its_gradients():
    settings = ExplorerSettings(optimizers=("sgd", "adam"), n_steps=500)
    runs = ExplorerModel().run(settings)
    model = ExplorerModel()
    present = np.array([X.any(axis=0) for X, _ in model.batches(settings)])
    # A weight gets a gradient exactly when its token is in the batch (noise is continuous).
    for run in runs.values():
        assert run.grad_nonzero_steps.tolist() == present.sum(axis=0).tolist()


def test_a_seeds_first_steps_do_not_depend_on_the_run_length():
    short = ExplorerModel().run(ExplorerSettings(n_steps=200))
    model = ExplorerModel()
    model.run(ExplorerSettings(n_steps=100))           # drawn in two pieces
    long = model.run(ExplorerSettings(n_steps=300))
    for name in short:
        np.testing.assert_array_equal(short[name].weights, long[name].weights[:200])
    other = ExplorerModel().run(ExplorerSettings(n_steps=200, seed=43))
    assert not np.array_equal(other["adam"].weights, short["adam"].weights)


def test_a_diverging_run_says_where_and_leaves_nan_after():
    settings = ExplorerSettings(optimizers=("sgd", "adam"), lr=3.0, n_steps=500)
    model = ExplorerModel()
    runs = model.run(settings)
    sgd = runs["sgd"]
    assert sgd.diverged
    weights, _ = plain_loop_until_divergence(model, settings)
    assert sgd.diverged_at == len(weights)
    assert np.isnan(sgd.weights[sgd.diverged_at - 1:]).all()
    assert np.isfinite(sgd.weights[:sgd.diverged_at - 1]).all()
    assert f"SGD diverged at step {sgd.diverged_at:,}" in readout(runs)


def plain_loop_until_divergence(model, settings):
    optimizer = h.sgd(settings.lr)
    w, state, weights = np.zeros(6), optimizer.init(np.zeros(6)), []
    for X, y in model.batches(settings):
        w, state = optimizer.step(w, X.T @ (X @ w - y) / settings.batch_size, state)
        weights.append(w)
        if not np.all(np.abs(w) <= 1e6):
            break
    return weights, state


def test_readout_names_the_step_each_optimizer_reaches_half():
    runs = ExplorerModel().run(ExplorerSettings())
    adam_step = int(runs["adam"].steps_to_reach(0.5)[-1])
    assert np.isinf(runs["sgd"].steps_to_reach(0.5)[-1])
    assert readout(runs) == (f"thalweg (p = 0.001) reaches 0.5 at step {adam_step:,} under Adam, "
                             f"never under SGD (3,000 steps)")
    with pytest.raises(KeyError, match="SGD has no effective learning rate"):
        runs["sgd"].effective_lr()


@pytest.fixture(scope="module")
def explorer():
    return Explorer()


def test_moving_a_slider_changes_the_image_and_the_readout(explorer):
    explorer.reset()
    image, text = bytes(explorer.image.value), explorer.readout.value
    assert image.startswith(b"\x89PNG") and "thalweg" in text
    explorer.controls["lr"].value = 0.01
    assert bytes(explorer.image.value) != image
    assert explorer.readout.value != text
    assert explorer.settings.lr == 0.01
    titles = [t.get_text() for t in explorer.figure.scene.trajectories.titles.values()]
    assert titles == ["SGD  (lr = 0.01)", "Adam  (lr = 0.01)"]
    line = explorer.figure.scene.trajectories.lines["adam"][-1]
    np.testing.assert_allclose(line.get_ydata()[-1], explorer.runs["adam"].weights[-1, -1])
    assert explorer.last_timing["compute"] > 0 and explorer.last_timing["render"] > 0


def test_no_optimizer_chosen_is_said_in_the_readout_not_raised(explorer):
    explorer.reset()
    image = bytes(explorer.image.value)
    explorer.controls["optimizers"].value = ()
    assert "choose at least one optimizer" in explorer.readout.value
    assert bytes(explorer.image.value) == image
    explorer.controls["optimizers"].value = ("adagrad",)
    assert "AdaGrad" in explorer.readout.value
    assert explorer.figure.scene.effective_lr.message.get_text().startswith("Choose Adam")


def test_divergence_is_shown_in_the_view(explorer):
    explorer.reset()
    explorer.controls["lr"].value = 2.5
    panels = explorer.figure.scene.trajectories
    assert "SGD diverged" in panels.messages["sgd"].get_text()
    assert all(len(line.get_xdata()) == 0 for line in panels.lines["sgd"])
    assert "diverged at step" in explorer.readout.value


def test_reset_restores_the_reference_with_one_update(explorer, monkeypatch):
    explorer.controls["seed"].value = 7
    explorer.controls["rare_frequency"].value = 1e-4
    calls = []
    original = explorer.update
    monkeypatch.setattr(explorer, "update", lambda: (calls.append(1), original()))
    explorer.reset()
    assert calls == [1]
    assert explorer.settings == ExplorerSettings()
    assert explorer.controls["seed"].value == 42


def test_the_figure_redraws_only_the_data_while_the_axes_stay(explorer):
    explorer.reset()
    before = explorer.figure.full_draws
    for lr in (0.045, 0.055, 0.05):
        explorer.controls["lr"].value = lr
    explorer.controls["n_steps"].value = 2000
    labels = [t.get_text() for t in explorer.figure.scene.trajectories.step_labels["sgd"]]
    assert labels == ["0", "400", "800", "1,200", "1,600", "2,000"]
    assert explorer.figure.full_draws == before


def test_a_snapshot_is_legible_and_says_what_it_shows(explorer, monkeypatch):
    import IPython.display

    from helpers.plotting import COLUMN_WIDTH_PX, MIN_TEXT_PX, smallest_text
    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw=False, metadata=None: shown.append((data, metadata)))
    explorer.reset()
    explorer.snapshot()
    _, metadata = shown[-1]
    alt = metadata["image/png"]["alt"]
    assert "SGD and Adam at learning rate 0.05, batch 32, seed 42" in alt
    assert "reaches 0.5 at step" in alt and "<b>" not in alt          # the readout, as text
    width = metadata["image/png"]["width"]
    assert width == explorer.figure.size[0] * explorer.figure.dpi <= COLUMN_WIDTH_PX
    # one image pixel per CSS px: the smallest text, in points at the figure's dpi
    points, _ = smallest_text(explorer.figure.scene.fig)
    assert points * explorer.figure.dpi / 72 >= MIN_TEXT_PX
