import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import REFERENCE_WORLD, distinguishability, make_rng, reference_runs, sgd, train
from helpers import colours as C
from helpers import plotting as P


@pytest.fixture(scope="module")
def runs():
    return reference_runs(seed=42, n_steps=600)


def test_style_file_is_loaded_by_path():
    assert P.STYLE_PATH.is_file()
    P.use_series_style()
    import matplotlib
    assert matplotlib.rcParams["axes.facecolor"] == "#fafaf8"


def test_series_palette_survives_colour_vision_deficiency():
    for vision, delta_e in distinguishability(C.TOKEN_COLOURS).items():
        assert delta_e.min() >= 20, (vision, delta_e)


def test_spec_palette_needs_a_second_cue_and_every_token_has_one():
    worst = min(d.min() for d in distinguishability(C.SPEC_TOKEN_COLOURS).values())
    assert worst < 20          # 'the' and 'model' are close blues for every viewer
    assert len(set(C.TOKEN_MARKERS)) == len(C.TOKEN_MARKERS) == 6
    assert len({str(s) for s in C.TOKEN_LINESTYLES}) == 6


def test_simulation_keeps_greys_grey():
    for vision in C.VISION_TYPES:
        np.testing.assert_allclose(C.simulate(["#808080"], vision), [[0.50196] * 3], atol=2e-3)


def test_reference_figure_layout_and_data(runs, tmp_path):
    path = tmp_path / "figure.png"
    fig = P.reference_figure(runs.sgd, runs.adam, path=path)
    assert isinstance(fig, Figure)
    assert tuple(fig.get_size_inches()) == (16, 11)
    assert len(fig.axes) == 4
    sgd_ax = fig.axes[0]
    assert sgd_ax.get_ylim() == (-0.3, 1.6)
    np.testing.assert_array_equal(sgd_ax.lines[5].get_ydata(), runs.sgd.weights[:, 5])
    assert fig.axes[3].get_xscale() == "log" and fig.axes[3].get_yscale() == "log"
    from matplotlib.image import imread
    assert imread(path).shape[:2] == (11 * 150, 16 * 150)


def test_improved_figure_draws_thinned_lines_with_the_real_endpoints(runs):
    fig = P.improved_figure(runs.sgd, runs.adam)
    ax = fig.axes[0]
    line = ax.lines[5]
    assert len(line.get_xdata()) <= P.MAX_POINTS_DRAWN + 1
    assert line.get_xdata()[-1] == runs.sgd.n_steps
    assert line.get_ydata()[-1] == runs.sgd.final_weights[5]
    for axis in fig.axes:
        assert axis.get_xlabel() and axis.get_ylabel()


def test_a_diverged_run_is_reported_not_drawn():
    result = train(sgd(np.array([[3.0]])), REFERENCE_WORLD, 100, make_rng(0),
                   w0=np.zeros((1, 6)), on_divergence="mark")
    single = type(result)(result.optimizer, result.world, result.w0[0], result.weights[:, 0],
                          result.grad_nonzero_steps[0], result.final_state,
                          result.diverged_at[0], {})
    fig = Figure()
    ax = fig.add_subplot()
    P.plot_trajectories(ax, single)
    assert not ax.lines
    assert "diverged at step" in ax.texts[0].get_text()


def test_group_curves_draw_medians_and_check_shapes():
    plot_group_curves = P.plot_group_curves
    ax = Figure().subplots()
    curves = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)        # (draw, step, group)
    plot_group_curves(ax, [0, 1, 2], curves, ["a", "b", "c", "d"])
    assert len(ax.lines) == 4 and len(ax.collections) == 4
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.median(curves[:, :, 0], axis=0))
    plot_group_curves(ax, [0, 1, 2], curves[0], ["a", "b", "c", "d"])  # (step, group): no band
    assert len(ax.lines) == 8 and len(ax.collections) == 4
    with pytest.raises(ValueError, match="groups"):
        plot_group_curves(ax, [0, 1, 2], curves, ["a"])
