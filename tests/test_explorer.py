"""The explorer: settings validation, compiled runs equal to the helpers optimizers on
the same batches, draws that do not depend on the run length, the readout, the widgets
driven as a student would (in plain pytest, no browser), and the same runs and frames for
the same settings whatever the order of changes (kept runs, kept parts of the figure).
Speed is measured by `make benchmark-explorer`, not here."""

import itertools
from dataclasses import replace

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
    titles = [panel.title.get_text() for panel in explorer.figure.trajectories.shown]
    assert titles == ["SGD  (lr = 0.01)", "Adam  (lr = 0.01)"]
    line = explorer.figure.trajectories.by_name["adam"].lines[-1]
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
    assert explorer.figure.effective_lr.message.get_text().startswith("Choose Adam")


def test_divergence_is_shown_in_the_view(explorer):
    explorer.reset()
    explorer.controls["lr"].value = 2.5
    sgd_panel = explorer.figure.trajectories.by_name["sgd"]
    assert "SGD diverged" in sgd_panel.message.get_text()
    assert all(len(line.get_xdata()) == 0 for line in sgd_panel.lines)
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
    labels = [t.get_text() for t in explorer.figure.trajectories.by_name["sgd"].step_labels]
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
    points, _ = smallest_text(explorer.figure.fig)
    assert points * explorer.figure.dpi / 72 >= MIN_TEXT_PX


# --- set changes: behaviour whatever the order of changes ------------------------------

def numpy_path(monkeypatch):
    """Makes the explorer's model run on the NumPy path, as without Numba."""
    import functools

    import helpers.explorer
    from helpers.kernels import run_optimizers
    monkeypatch.setattr(helpers.explorer, "run_optimizers",
                        functools.partial(run_optimizers, compiled=False))


@pytest.mark.parametrize("path", ["default", "numpy"])
def test_a_run_does_not_depend_on_the_optimizers_beside_it_or_the_order(path, monkeypatch):
    if path == "numpy":
        numpy_path(monkeypatch)
    settings = ExplorerSettings(optimizers=("sgd", "momentum", "adam"), n_steps=400)
    together = ExplorerModel().run(settings)
    model = ExplorerModel()
    one_by_one = {}
    for name in ("adam", "momentum", "sgd"):          # added one at a time, another order
        one_by_one.update(model.run(ExplorerSettings(optimizers=(name,), n_steps=400)))
    for name in settings.optimizers:
        np.testing.assert_array_equal(together[name].weights, one_by_one[name].weights)
        for kept, alone in zip(together[name].state, one_by_one[name].state, strict=True):
            np.testing.assert_array_equal(kept, alone)


def test_a_change_computes_only_the_runs_it_changes():
    model = ExplorerModel()
    settings = ExplorerSettings(optimizers=("sgd", "adam"), n_steps=300)
    model.run(settings)
    assert model.runs_computed == 2

    def computed(**changes):
        before = model.runs_computed
        runs = model.run(replace(settings, **changes))
        return model.runs_computed - before, runs

    assert computed(optimizers=("sgd", "momentum", "adam"))[0] == 1     # the added one
    assert computed(optimizers=("adam",))[0] == 0                       # removing: none
    assert computed(beta2=0.99)[0] == 1                                 # Adam's, not SGD's
    assert computed(eps=1e-6)[0] == 1
    assert computed(beta1=0.5)[0] == 1
    assert computed(lr=0.1)[0] == 2                                     # every optimizer's
    assert computed(seed=7)[0] == 2
    assert computed()[0] == 0                                           # seen before
    count, runs = computed(optimizers=("adam", "sgd"))                  # the order chosen
    assert count == 0 and list(runs) == ["adam", "sgd"]


def test_kept_runs_are_read_only_and_a_small_budget_only_recomputes():
    settings = ExplorerSettings(optimizers=("sgd", "adam"), n_steps=300)
    runs = ExplorerModel().run(settings)
    with pytest.raises(ValueError, match="read-only"):
        runs["adam"].weights[0, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        runs["adam"].state.v[0] = 5.0
    small = ExplorerModel(cache_bytes=0)              # keeps only the newest run
    first = small.run(settings)
    again = small.run(settings)
    assert small.runs_computed == 3                   # SGD was dropped and run again
    np.testing.assert_array_equal(first["sgd"].weights, again["sgd"].weights)
    np.testing.assert_array_equal(runs["sgd"].weights, again["sgd"].weights)


@pytest.mark.parametrize("call, error, message", [
    (lambda: ExplorerModel().run({"lr": 0.1}), TypeError, "^settings must be ExplorerSettings"),
    (lambda: ExplorerModel().draws(None), TypeError, "^settings must be ExplorerSettings"),
    (lambda: ExplorerModel(cache_bytes=-1), ValueError, "^cache_bytes must"),
    (lambda: ExplorerModel(cache_bytes=1.5), TypeError, "^cache_bytes must be a whole number"),
])
def test_the_model_refuses_what_is_not_settings(call, error, message):
    with pytest.raises(error, match=message):
        call()


def frame(explorer) -> np.ndarray:
    """The pixels of the explorer's last frame."""
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(bytes(explorer.image.value))).convert("RGB"))


def whole_draw(figure) -> np.ndarray:
    """The same figure drawn whole, as without kept backgrounds: every static artist,
    then the data (the error panel's legend among them)."""
    import matplotlib
    with matplotlib.rc_context(figure.style):
        canvas = figure.fig.canvas
        canvas.draw()
        for artist in figure.dynamic:
            figure.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


SET_CHANGES = [("optimizers", ("sgd", "rmsprop", "adagrad", "adam")),
               ("optimizers", ("sgd", "rmsprop", "adam")),
               ("optimizers", ("sgd", "momentum", "adam")), ("lr", 0.4),
               ("optimizers", ("adam",)), ("n_steps", 500), ("rare_frequency", 1e-4),
               ("eps", 1e-4), ("optimizers", OPTIMIZER_NAMES), ("lr", 2.5),
               ("optimizers", ("sgd", "adagrad", "rmsprop", "adam")), ("eps", 1e-8),
               ("optimizers", ("signum", "sgd")), ("lr", 0.05)]


def test_every_frame_equals_the_figure_drawn_whole():
    # The kept bands of the figure part through empty space: at every number of panels
    # and every axis range met here (Adam's effective lr up to its widest tick labels,
    # weights up to the widest range), a frame is pixel for pixel the whole figure.
    explorer = Explorer()
    ranges = set()
    for name, value in [(None, None)] + SET_CHANGES:
        if name is not None:
            explorer.controls[name].value = value
        shown = frame(explorer)
        np.testing.assert_array_equal(shown, whole_draw(explorer.figure), err_msg=f"{name}")
        ranges.add((explorer.figure.effective_lr.ax.get_ylim()[1],
                    explorer.figure.trajectories.panels[0].ax.get_ylim()[1]))
    highest = {level[1] for level in ranges}
    assert {3e3, 3e5, 3e9} <= {level[0] for level in ranges} and {1.75, 12.0} <= highest


def test_the_same_settings_show_the_same_image_whatever_the_order_of_changes():
    driven = Explorer()
    for name, value in SET_CHANGES:
        driven.controls[name].value = value
    driven.controls["optimizers"].value = ("sgd", "momentum", "adam")
    direct = Explorer(driven.settings)
    assert driven.settings == direct.settings
    assert bytes(driven.image.value) == bytes(direct.image.value)
    assert driven.readout.value == direct.readout.value
    for name in driven.settings.optimizers:
        np.testing.assert_array_equal(driven.runs[name].weights, direct.runs[name].weights)


def test_a_set_change_makes_no_axes_and_draws_only_what_looks_different():
    explorer = Explorer()
    figure = explorer.figure
    axes = list(figure.fig.axes)
    weight_range = figure.trajectories.panels[0].ax.get_ylim
    first_range = weight_range()
    explorer.controls["optimizers"].value = ("sgd", "rmsprop", "adam")
    drawn = dict(figure.region_draws)              # a new row of three panels; the bottom
    assert drawn == {"legend": 1, "trajectories": 2, "bottom": 1}   # row's ranges as before
    explorer.controls["optimizers"].value = ("sgd", "sign_descent", "adam")
    assert weight_range() == first_range                     # the same row of three and
    assert figure.region_draws == drawn                      # ranges: nothing static drawn
    before = figure.background_draws
    for names in (("sgd", "adam"), ("sgd", "rmsprop", "adam"), ("sgd", "sign_descent", "adam")):
        explorer.controls["optimizers"].value = names       # each seen before
    assert figure.background_draws == before
    assert figure.fig.axes == axes
    shown = [panel.ax for panel in figure.trajectories.shown]
    assert [ax.get_visible() for ax in figure.fig.axes].count(True) == len(shown) + 2


@pytest.mark.parametrize("k", [2, 3, 4, 8])
def test_the_step_numbers_never_touch_at_any_width_or_run_length(k):
    # Numbers of one panel, and of neighbouring panels, are measured in the drawn frame:
    # at least 3 px apart, whatever the number of panels and steps.
    explorer = Explorer(ExplorerSettings(optimizers=OPTIMIZER_NAMES[:k], n_steps=500))
    figure = explorer.figure
    renderer = figure.fig.canvas.get_renderer()
    for n_steps in h.explorer.STEP_CHOICES:
        explorer.controls["n_steps"].value = n_steps
        boxes = sorted(((label.get_window_extent(renderer).x0,
                         label.get_window_extent(renderer).x1), label.get_text())
                       for panel in figure.trajectories.shown for label in panel.step_labels)
        assert boxes[0][1] == "0" and len(boxes) == (6 + 5 * (k - 1) if k <= 3 else 3)
        for left, right in itertools.pairwise(boxes):
            assert right[0][0] - left[0][1] >= 3, (k, n_steps, left, right)
        shown = figure.trajectories.shown
        for panel, right in itertools.pairwise(shown):    # clear of the next 0 tick
            for label in panel.step_labels:
                assert label.get_window_extent(renderer).x1 <= right.ax.bbox.x0 - 3, (
                    k, n_steps, label.get_text())
        compact = n_steps >= 5000 or k >= 3
        last = shown[0].step_labels[-1].get_text()
        assert last == (f"{n_steps / 1000:g}k" if compact and n_steps >= 1000
                        else f"{n_steps:,}")


def test_each_optimizers_bars_are_its_final_errors():
    explorer = Explorer(ExplorerSettings(optimizers=("sgd", "momentum", "adam")))
    errors = explorer.figure.errors
    tops = {}
    for name, (bar, _, _) in errors.bars.items():
        vertices = bar.get_path().vertices.reshape(-1, 5, 2)
        assert np.all(vertices[:, [0, 1, 4], 1] == 0)            # each rectangle from 0
        tops[name] = vertices[:, 2, 1]
        np.testing.assert_array_equal(vertices[:, 2, 1], vertices[:, 3, 1])
        np.testing.assert_allclose(tops[name], explorer.runs[name].final_error, rtol=0)
    lefts = np.sort(np.concatenate([bar.get_path().vertices.reshape(-1, 5, 2)[:, 0, 0]
                                    for bar, _, _ in errors.bars.values()]))
    widths = np.diff(lefts)                                      # side by side, no overlap
    assert np.all(widths >= 0.8 / 3 - 1e-12)


def test_showing_more_panels_makes_no_tick_objects():
    # The ticks are made with the figure: the first change to eight panels finds them.
    explorer = Explorer()
    panels = explorer.figure.trajectories.panels
    counts = [(len(p.ax.xaxis.majorTicks), len(p.ax.yaxis.majorTicks)) for p in panels]
    ranges = set()
    for names, lr in ((OPTIMIZER_NAMES, 0.05), (OPTIMIZER_NAMES[:3], 0.4),
                      (OPTIMIZER_NAMES[:2], 0.1), (OPTIMIZER_NAMES, 0.4)):
        explorer.controls["optimizers"].value = names
        explorer.controls["lr"].value = lr
        ranges.add(panels[0].ax.get_ylim())
    assert len(ranges) == len(h.explorer.WEIGHT_RANGES)          # every weight range met
    assert [(len(p.ax.xaxis.majorTicks), len(p.ax.yaxis.majorTicks)) for p in panels] == counts


@pytest.mark.parametrize("kwargs, message", [
    ({"n_steps": 12345}, "n_steps=12345 is not on the explorer's n_steps control; choose "
                         "one of 500, 1000"),
    ({"eps": 1e-5}, "eps=1e-05 is not on"),
    ({"beta2": 0.95}, "beta2=0.95 is not on"),
    ({"batch_size": 48}, "batch_size=48 is not on"),
    ({"lr": 5.0}, r"lr=5.0 is outside the explorer's lr control, which runs from 0.0001 "
                  r"to 3.16228"),
    ({"beta1": 0.995}, "beta1=0.995 is outside"),
    ({"rare_frequency": 0.5}, "rare_frequency=0.5 is outside"),
    ({"seed": 10 ** 7}, "seed=10000000 is outside"),
])
def test_settings_the_controls_cannot_show_are_refused_not_moved(kwargs, message):
    # A slider would move 5.0 to its end without a word, or fail with a widget error.
    settings = ExplorerSettings(**kwargs)
    ExplorerModel().run(settings)                     # valid settings for the model
    with pytest.raises(ValueError, match=message):
        Explorer(settings)


def test_the_error_panel_says_what_its_bars_leave_out_or_cut():
    # Eight optimizers at lr 2.5: two diverge and Signum's error (about 290) is beyond
    # the top level, so its bars end there; the legend's title, beside the bars, says
    # both.
    explorer = Explorer(ExplorerSettings(optimizers=OPTIMIZER_NAMES, lr=2.5, n_steps=20_000))
    figure = explorer.figure
    errors, renderer = figure.errors, figure.fig.canvas.get_renderer()
    said = errors.message.get_text().split("\n")
    assert said[:2] == ["diverged, not shown:", "SGD, Momentum"], said
    assert said[2] == "cut at 12:" and said[3].startswith("Signum ") and len(said) == 4
    assert errors.ax.get_ylim() == (0.0, 12.0)
    for name, (bar, _, _) in errors.bars.items():       # drawn up to 12 at the most
        run = explorer.runs[name]
        heights = bar.get_path().vertices.reshape(-1, 5, 2)[:, 2, 1]
        expected = 0.0 if run.diverged else np.minimum(run.final_error, 12.0)
        np.testing.assert_array_equal(heights, expected)
    # The legend lies between the error panel and the effective-lr panel's labels, inside
    # the figure, even with seven lines of title (three names under each heading).
    errors.legend.set_title("\n".join(["diverged, not shown:", "Sign descent, Lazy", "Adam",
                                       "cut at 12:", "Signum 291,", "RMSProp 26.1,",
                                       "Lazy Adam 27.9"]))
    legend = errors.legend.get_window_extent(renderer)
    assert errors.ax.bbox.x1 < legend.x0
    assert legend.x1 + 2 < figure.effective_lr.ax.get_tightbbox(renderer).x0
    assert legend.y0 > 0 and legend.y1 <= errors.ax.bbox.y1 + 1
    for panel in figure.trajectories.shown:             # each divergence box in its panel
        if panel.message.get_text():
            box = panel.message.get_bbox_patch().get_window_extent(renderer)
            assert panel.ax.bbox.x0 <= box.x0 and box.x1 <= panel.ax.bbox.x1
    explorer.controls["lr"].value = 0.05                # nothing to say: no title
    assert errors.message.get_text() == ""


def test_the_error_panels_message_keeps_each_name_whole_and_each_value_above_the_top():
    from helpers.explorer import MESSAGE_WIDTH, _above, _wrapped
    lines = _wrapped(["RMSProp 26.1", "Adam 31.4", "Lazy Adam 27.9"])
    assert lines == ["RMSProp 26.1,", "Adam 31.4,", "Lazy Adam 27.9"]
    assert _wrapped(["SGD", "Momentum"]) == ["SGD, Momentum"]
    assert _wrapped(["SGD", "Momentum", "AdaGrad", "Adam"]) == ["4 optimizers"]
    assert all(len(line) <= MESSAGE_WIDTH for line in _wrapped(["Sign descent", "Lazy Adam"]))
    assert _above(291.4, 12.0) == "291" and _above(12.004, 12.0) == "12.004"
    assert float(_above(12.0000000001, 12.0)) > 12.0


@pytest.mark.parametrize("name, value", [("rare_frequency", 0.05), ("rare_frequency", 1e-4),
                                         ("lr", 1e-4), ("lr", 10 ** 0.5), ("beta1", 0.99),
                                         ("seed", 999_999), ("n_steps", 20_000)])
def test_the_ends_of_each_control_are_kept_exactly(name, value):
    explorer = Explorer(replace(ExplorerSettings(), **{name: value}))
    assert explorer.controls[name].value == value == getattr(explorer.settings, name)


def test_a_ratio_beyond_the_widest_range_is_said_and_the_labels_stay_narrow():
    # Adam with beta1 0.99 at lr 2.5 for 500 steps of batch 8: thalweg (p = 1e-4)
    # reaches a ratio of about 1e10, above the widest range's 3e9.
    explorer = Explorer(ExplorerSettings(optimizers=("adam",), lr=2.5, n_steps=500, eps=1e-10,
                                         batch_size=8, rare_frequency=1e-4, seed=1,
                                         beta1=0.99))
    panel = explorer.figure.effective_lr
    ratio = explorer.runs["adam"].effective_lr() / 2.5
    assert panel.ax.get_ylim()[1] == 3e9 and ratio.max() > 3e9
    assert panel.message.get_text() == f"off the scale: thalweg {ratio.max():.2g}"
    from helpers.explorer import _ratio_text
    assert [_ratio_text(v) for v in (0.003, 1.0, 1000.0, 1e4, 1e8)] == [
        "0.003", "1", "1,000", "1e4", "1e8"]


def test_a_browsers_slider_end_counts_as_the_end():
    # JavaScript's 10 ** log10(0.05) is 0.05000000000000002: an explorer made from the
    # settings a student left there is made, and a value clearly past the end is not.
    Explorer(ExplorerSettings(rare_frequency=0.05000000000000002))
    with pytest.raises(ValueError, match="rare_frequency=0.0500001 is outside"):
        Explorer(ExplorerSettings(rare_frequency=0.0500001))
