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


def test_frequency_groups_differ_in_hue_and_lightness_for_every_viewer():
    from itertools import combinations
    for n in range(2, 6):
        colours = C.frequency_group_colours(n)
        assert colours.shape == (n, 4)
        assert tuple(colours[-1]) == tuple(C.frequency_group_colours(5)[-1])   # rarest: red
        for vision in C.VISION_TYPES:
            lab = C._to_lab(C.simulate([c[:3] for c in colours], vision))
            for i, j in combinations(range(n), 2):
                assert np.linalg.norm(lab[i] - lab[j]) >= 15, (n, vision, i, j)
    lightness = C._to_lab(C.simulate(C.FREQUENCY_GROUP_COLOURS))[:, 0]
    assert np.ptp(lightness) > 40                       # not one lightness in many hues
    assert len({str(s) for s in C.frequency_group_linestyles(5)}) == 5
    assert C.frequency_group_colours(8).shape == (8, 4)
    with pytest.raises(ValueError, match="n_groups"):
        C.frequency_group_colours(0)


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


def _captured_displays(monkeypatch):
    """What IPython's display would have sent to the notebook."""
    shown = []
    import IPython.display
    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw=False, metadata=None: shown.append((data, metadata)))
    return shown


def test_show_figure_fits_the_column_and_carries_alt_text(monkeypatch):
    import base64
    import struct

    shown = _captured_displays(monkeypatch)
    for width_in, expected in ((5.0, None), (14.0, P.COLUMN_WIDTH_PX)):
        fig = Figure(figsize=(width_in, 3))
        fig.add_subplot().plot([0, 1], [1, 0], label="a line")
        P.show_figure(fig, alt="A line falling from one to zero, left to right.")
        data, metadata = shown[-1]
        png = base64.b64decode(data["image/png"])
        pixels = struct.unpack(">I", png[16:20])[0]
        meta = metadata["image/png"]
        assert meta["alt"] == "A line falling from one to zero, left to right."
        assert data["text/plain"] == "[figure] " + meta["alt"]      # what nbval compares
        assert meta["width"] <= P.COLUMN_WIDTH_PX
        if expected is None:                 # fits: shown at its own size, rendered at 2x
            assert meta["width"] == round(pixels * 100 / P.RENDER_DPI)
        else:                                # too wide: scaled into the column
            assert meta["width"] == expected


def test_text_too_small_at_the_shown_width_is_refused():
    fig = Figure(figsize=(16, 4))
    ax = fig.add_subplot()
    ax.plot([0, 1])
    ax.set_title("tiny", fontsize=7)
    with pytest.raises(ValueError, match=r"smallest text, 'tiny' at 7 pt, at [\d.]+ px"):
        P.render_figure(fig, alt="A line rising from zero to one, left to right.")


def test_alt_text_must_describe():
    with pytest.raises(TypeError, match="alt must be a string"):
        P.check_alt(None)
    with pytest.raises(ValueError, match="at least 6 words"):
        P.check_alt("a plot")
    assert P.check_alt("  A   line\nthat rises from one to three ") == \
        "A line that rises from one to three"
    with pytest.raises(TypeError, match="png must be the bytes of a PNG image"):
        P.show_png(b"GIF89a....", "A figure of six or more words here.")


def test_plot_bowl_draws_contours_paths_and_the_optimum():
    hessian, target = np.diag([0.95, 0.001]), np.ones(2)
    path = np.column_stack([np.linspace(0.1, 1, 50), np.linspace(0.0, 0.2, 50)])
    ax = Figure().subplots()
    P.plot_bowl(ax, hessian, target, [("GD", path, {"color": "#D55E00", "linestyle": "-"})])
    lines = [line for line in ax.lines if line.get_label() == "GD"]
    assert len(lines) == 1 and lines[0].get_xydata()[0].tolist() == [0.0, 0.0]   # from w0 = 0
    assert ax.get_aspect() == 1.0                    # a stretched bowl looks stretched
    assert ax.get_xlim()[0] < 0 < 1 < ax.get_xlim()[1]
    star = [line for line in ax.lines if line.get_marker() == "*"]
    assert star and star[0].get_xydata()[0].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="plot_bowl draws two weights"):
        P.plot_bowl(ax, np.eye(3), np.ones(3), [])
