"""Figures of the series. Every function draws on axes it is given or returns a new
``matplotlib.figure.Figure`` (no pyplot state, so a notebook shows each figure once)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.figure import Figure

from . import colours as C
from .metrics import effective_lr, final_error
from .stats import seed_band
from .training import TrainResult
from .validation import as_float_array, check_finite, check_int, shown

STYLE_PATH = Path(__file__).with_name("series.mplstyle")
MAX_POINTS_DRAWN = 600   # downsample what is drawn, never what is computed


def use_series_style() -> None:
    """Apply the series' matplotlib style (loaded from its file, by path)."""
    matplotlib.style.use(STYLE_PATH)


def token_style(index: int, palette=C.TOKEN_COLOURS) -> dict:
    """Colour, line style and marker of token ``index`` (0 to 5): three cues, not one."""
    index = check_int("index", index, minimum=0,
                      maximum=min(len(palette), len(C.TOKEN_MARKERS)) - 1)
    return {"color": palette[index], "linestyle": C.TOKEN_LINESTYLES[index],
            "marker": C.TOKEN_MARKERS[index]}


def thinned(n_steps: int, max_points: int = MAX_POINTS_DRAWN) -> np.ndarray:
    """Indices of evenly spaced steps of ``n_steps``, at most ``max_points`` of them plus
    the last step, which is always kept: downsample what is drawn, never what is computed."""
    n_steps = check_int("n_steps", n_steps, minimum=1)
    max_points = check_int("max_points", max_points, minimum=2)
    stride = max(1, int(np.ceil(n_steps / max_points)))
    index = np.arange(0, n_steps, stride)
    return index if index[-1] == n_steps - 1 else np.append(index, n_steps - 1)


def _require_axes(ax) -> None:
    from matplotlib.axes import Axes
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be matplotlib axes (fig.add_subplot() or plt.subplots()), "
                        f"got {type(ax).__name__}")


def _require_figure(fig) -> None:
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure (plt.figure() or "
                        f"matplotlib.figure.Figure()), got {type(fig).__name__}")


def _require_drawable(result: TrainResult) -> None:
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if result.weights.ndim != 2:
        raise ValueError(f"this plot draws a single run; got weights of shape "
                         f"{result.weights.shape} (select one run first)")


def plot_trajectories(ax, result: TrainResult, *, palette=C.TOKEN_COLOURS,
                      markers: bool = True, label_lines: bool = True,
                      legend: bool = True) -> None:
    """Each token's weight over the steps, with the true weight dashed; the legend goes
    below the axes, where it cannot hide a line.

    A diverged run is not drawn as NaN: the axes say where it diverged instead."""
    _require_axes(ax)
    _require_drawable(result)
    if result.diverged:
        step = int(result.diverged_at)
        ax.text(0.5, 0.5, f"{result.optimizer.label} diverged at step {step}:\n"
                f"nothing to plot. Lower the learning rate.", transform=ax.transAxes,
                ha="center", va="center", color="#8b0000", fontsize=11)
        return
    index = thinned(result.n_steps)
    steps = result.steps[index]
    ends = result.weights[-1]
    # Label a line at its end only where no other line ends nearby; the legend names
    # the clustered ones (labels stacked on top of each other help nobody).
    gap = 0.04 * max(np.ptp(result.weights), 1e-12)
    isolated = [np.all(np.abs(np.delete(ends, i) - ends[i]) > gap) for i in range(ends.size)]
    for i, token in enumerate(result.world.tokens):
        style = token_style(i, palette)
        if not markers:
            style.pop("marker")
        line, = ax.plot(steps, result.weights[index, i],
                        label=f"{token} (p={result.world.frequencies[i]:g})",
                        markevery=max(1, len(index) // 8), markersize=4.5, **style)
        if label_lines and isolated[i]:
            ax.annotate(token, (steps[-1], ends[i]), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=9,
                        color=line.get_color())
    for value in np.unique(result.world.true_weights):
        ax.axhline(value, color="#555555", linestyle=(0, (4, 3)), linewidth=1.0, zorder=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("weight w (true value 1.0)")
    ax.set_xlim(0, result.n_steps * 1.1)       # room for the end labels
    if legend:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3,
                  title="token (frequency per sample)")


def plot_exposure(ax, result: TrainResult, *, palette=C.TOKEN_COLOURS) -> None:
    """Bar chart: percentage of steps on which each weight received a gradient."""
    _require_axes(ax)
    _require_drawable(result)
    share = 100.0 * result.grad_nonzero_steps / result.n_steps
    bars = ax.bar(result.world.tokens, share, color=palette, edgecolor="#1a1a1a", linewidth=0.6)
    for bar, value, count in zip(bars, share, result.grad_nonzero_steps):
        ax.annotate(f"{count}\n({value:.1f}%)", (bar.get_x() + bar.get_width() / 2, value),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8.5)
    ax.set_ylim(0, 118)
    ax.set_ylabel(f"steps with a gradient (% of {result.n_steps})")
    ax.set_xlabel("token (most to least frequent)")


def plot_effective_lr(ax, result: TrainResult, *, palette=C.TOKEN_COLOURS,
                      fit: bool = True, legend_below: bool = False) -> float:
    """Log-log scatter of the final effective LR against frequency; returns the fitted
    slope (the exponent of effective LR as a power of p)."""
    from .metrics import loglog_slope
    _require_axes(ax)
    _require_drawable(result)
    p = result.world.frequencies
    lr_eff = effective_lr(result)
    for i, token in enumerate(result.world.tokens):
        ax.scatter(p[i], lr_eff[i], s=60, color=palette[i], marker=C.TOKEN_MARKERS[i],
                   edgecolor="#1a1a1a", linewidth=0.6, zorder=3)
        ax.annotate(token, (p[i], lr_eff[i]), xytext=(6, 4), textcoords="offset points",
                    fontsize=8.5)
    nominal = result.optimizer.hyperparams["lr"]
    ax.axhline(nominal, color="#555555", linestyle=(0, (4, 3)), linewidth=1.0,
               label=f"nominal lr = {nominal:g}")
    slope = loglog_slope(p, lr_eff)
    if fit:
        grid = np.geomspace(p.min(), p.max(), 50)
        intercept = np.mean(np.log10(lr_eff) - slope * np.log10(p))
        ax.plot(grid, 10 ** intercept * grid ** slope, color="#1a1a1a", linewidth=1.0,
                label=f"fit: effective lr ∝ $p^{{{slope:.2f}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("token frequency p (probability per sample)")
    ax.set_ylabel("effective learning rate lr / (√v̂ + ε)")
    if legend_below:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    else:
        ax.legend(loc="upper right")
    return slope


def reference_figure(sgd_result: TrainResult, adam_result: TrainResult,
                     path=None) -> Figure:
    """The tutorial's four-panel figure, reproduced from our runs (its 16 x 11 inch
    layout, colours and annotations). Saved as a 150-dpi PNG when ``path`` is given.

    Its text is larger than the original's: shown in an 850 px notebook column, a
    16-inch figure is scaled to about half its size, and text must be at least 12.5 pt
    to stay legible (9 px) there."""
    for r in (sgd_result, adam_result):
        _require_drawable(r)
    with matplotlib.rc_context({"axes.facecolor": C.SPEC_BACKGROUND,
                                "figure.facecolor": C.SPEC_BACKGROUND,
                                "text.color": C.SPEC_TEXT, "axes.labelcolor": C.SPEC_TEXT,
                                "font.size": 14, "axes.titlesize": 16, "axes.labelsize": 14,
                                "xtick.labelsize": 13.5, "ytick.labelsize": 13.5,
                                "legend.fontsize": 13}):
        # Fixed margins rather than a layout engine: the layout never changes, and
        # constrained layout would double the time to render (measured: 0.6 of 1.3 s).
        fig = Figure(figsize=(16, 11))
        grid = fig.add_gridspec(2, 3, left=0.055, right=0.98, top=0.96, bottom=0.07,
                                hspace=0.42, wspace=0.3)
        ax_sgd, ax_adam = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[1, :2])
        ax_bar, ax_lr = fig.add_subplot(grid[0, 2]), fig.add_subplot(grid[1, 2])
        world = sgd_result.world
        for ax, run, title in ((ax_sgd, sgd_result, "SGD: weight trajectories"),
                               (ax_adam, adam_result, "Adam: weight trajectories")):
            for i, token in enumerate(world.tokens):
                ax.plot(run.steps, run.weights[:, i], color=C.SPEC_TOKEN_COLOURS[i],
                        linewidth=1.6, label=f"{token} (p={world.frequencies[i]:g})")
            ax.axhline(1.0, color=C.SPEC_TEXT, linestyle="--", linewidth=1.0, label="true w = 1.0")
            ax.set_ylim(-0.3, 1.6)
            ax.set_title(title)
            ax.set_xlabel("step")
            ax.set_ylabel("weight")
            ax.legend(loc="upper right", ncol=4)   # the empty band above 1.25
        rare = world.n_tokens - 1
        ax_sgd.annotate("rare tokens stay near zero",
                        xy=(sgd_result.n_steps * 0.8,
                            sgd_result.weights[int(sgd_result.n_steps * 0.8), rare]),
                        xytext=(sgd_result.n_steps * 0.45, -0.2), color=C.SPEC_SGD_COLOUR,
                        arrowprops={"arrowstyle": "->", "color": C.SPEC_SGD_COLOUR})
        ax_adam.annotate("rare tokens converge despite sparse gradients",
                         xy=(adam_result.n_steps * 0.8,
                             adam_result.weights[int(adam_result.n_steps * 0.8), rare]),
                         xytext=(adam_result.n_steps * 0.35, 0.25), color=C.SPEC_ADAM_COLOUR,
                         arrowprops={"arrowstyle": "->", "color": C.SPEC_ADAM_COLOUR})
        x = np.arange(world.n_tokens)
        ax_bar.bar(x - 0.2, final_error(sgd_result), 0.4, color=C.SPEC_SGD_COLOUR, label="SGD")
        ax_bar.bar(x + 0.2, final_error(adam_result), 0.4, color=C.SPEC_ADAM_COLOUR, label="Adam")
        ax_bar.set_xticks(x, world.tokens, rotation=30, ha="right")
        ax_bar.set_xlabel("token")
        ax_bar.set_ylabel("|final w − 1|")
        ax_bar.set_title("final error per token")
        ax_bar.legend()
        lr_eff = effective_lr(adam_result)
        ax_lr.scatter(world.frequencies, lr_eff, c=C.SPEC_TOKEN_COLOURS, s=70, zorder=3)
        for i, token in enumerate(world.tokens):
            ax_lr.annotate(token, (world.frequencies[i], lr_eff[i]), xytext=(5, 5),
                           textcoords="offset points")
        ax_lr.axhline(adam_result.optimizer.hyperparams["lr"], color=C.SPEC_TEXT,
                      linestyle="--", linewidth=1.0, label="nominal lr")
        ax_lr.set_xscale("log")
        ax_lr.set_yscale("log")
        ax_lr.set_xlabel("token frequency")
        ax_lr.set_ylabel("Adam effective lr")
        ax_lr.set_title("Adam's effective learning rate")
        ax_lr.legend()
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def improved_figure(sgd_result: TrainResult, adam_result: TrainResult,
                    path=None) -> Figure:
    """The same story, redrawn for the notebook column (8.5 inches wide): colour-blind-safe
    colours with markers and line styles, lines labelled at their ends, the two runs one
    above the other on the same axes, errors on one axis, and the effective-LR panel with
    what it shows (every token far above the nominal lr). The annotations say what is
    seen, not why: the series finds the cause later."""
    for r in (sgd_result, adam_result):
        _require_drawable(r)
    world = sgd_result.world
    fig = Figure(figsize=(8.5, 10.5), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=(1, 1, 0.95))
    ax_sgd, ax_adam = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, :])
    ax_bar, ax_lr = fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1])
    for ax, run in ((ax_sgd, sgd_result), (ax_adam, adam_result)):
        plot_trajectories(ax, run, legend=run is adam_result)
        ax.set_ylim(-0.05, 1.75)
        ax.set_title(f"{run.optimizer.label}: weight of each token over training")
    rare = world.n_tokens - 1
    ax_sgd.annotate(f"{world.tokens[rare]} (p = {world.frequencies[rare]:g}) ends at "
                    f"w = {sgd_result.final_weights[rare]:.2f}",
                    xy=(sgd_result.n_steps * 0.6,
                        sgd_result.weights[int(sgd_result.n_steps * 0.6), rare]),
                    xytext=(sgd_result.n_steps * 0.25, 0.55), fontsize=9.5,
                    arrowprops={"arrowstyle": "->", "color": "#1a1a1a"})
    ax_adam.annotate(f"{world.tokens[rare]} reaches w = {adam_result.final_weights[rare]:.2f}"
                     f" (rare weights overshoot and wobble)",
                     xy=(adam_result.n_steps * 0.95, adam_result.final_weights[rare]),
                     xytext=(adam_result.n_steps * 0.3, 0.3), fontsize=9.5,
                     arrowprops={"arrowstyle": "->", "color": "#1a1a1a"})
    x = np.arange(world.n_tokens)
    for offset, run, name, hatch in ((-0.2, sgd_result, "sgd", "//"),
                                     (0.2, adam_result, "adam", "")):
        ax_bar.bar(x + offset, final_error(run), 0.4, color=C.OPTIMIZER_COLOURS[name],
                   hatch=hatch, edgecolor="#1a1a1a", linewidth=0.5, label=run.optimizer.label)
    ax_bar.set_xticks(x, world.tokens, rotation=35, ha="right")
    ax_bar.set_xlabel("token (most to least frequent)")
    ax_bar.set_ylabel("final error |w − 1|")
    ax_bar.set_title("error after training")
    ax_bar.legend(loc="upper left")
    plot_effective_lr(ax_lr, adam_result, fit=False)
    lr_eff = effective_lr(adam_result)
    nominal = adam_result.optimizer.hyperparams["lr"]
    ax_lr.set_title("Adam's effective lr, last step")
    ax_lr.set_xlabel("token frequency p")
    ax_lr.set_ylabel("lr / (√v̂ + ε)")
    ax_lr.legend(loc="lower right")
    # The lower left is empty: rare tokens sit top left, frequent ones to the right.
    ax_lr.text(0.04, 0.1, f"every token far above\nthe nominal lr:\n"
               f"{world.tokens[0]} ×{lr_eff[0] / nominal:.0f}, {world.tokens[rare]} "
               f"×{lr_eff[rare] / nominal:.0f}", transform=ax_lr.transAxes, fontsize=9.5,
               ha="left", va="bottom")
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


# Where the series is read: JupyterLab's notebook column shows an image at most about
# 850 CSS px wide; a wider one is scaled down, its text with it.
COLUMN_WIDTH_PX = 850
MIN_TEXT_PX = 9.0          # the smallest text a reader must make out, at the shown size
RENDER_DPI = 200           # twice the 100 px per inch of the shown size: sharp on HiDPI
MIN_ALT_WORDS = 6


def check_alt(alt) -> str:
    """Alt text for a figure: one or two sentences saying what it shows (not its title)."""
    if not isinstance(alt, str):
        raise TypeError(f"alt must be a string describing what the figure shows, "
                        f"got {type(alt).__name__}")
    alt = " ".join(alt.split())
    if len(alt.split()) < MIN_ALT_WORDS:
        raise ValueError(f"alt must say what the figure shows in a sentence or two (at least "
                         f"{MIN_ALT_WORDS} words), got {alt!r}")
    return alt


def smallest_text(fig) -> tuple[float, str]:
    """The font size in points of the smallest visible, non-empty text of ``fig``, and
    that text (draw the figure first: tick labels exist only once drawn)."""
    from matplotlib.text import Text
    sizes = [(t.get_fontsize(), t.get_text()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return min(sizes, key=lambda pair: pair[0]) if sizes else (float("inf"), "")


def shown_size(png: bytes, css_width: float | None = None,
               column: int = COLUMN_WIDTH_PX) -> tuple[int, float]:
    """The width (CSS px) at which a PNG rendered at ``RENDER_DPI`` is shown in the
    column, and the factor by which it is scaled down to get there (1 if it fits)."""
    import struct
    pixels = struct.unpack(">I", png[16:20])[0]                  # IHDR width
    natural = pixels * 100 / RENDER_DPI if css_width is None else css_width
    width = min(column, natural)
    return round(width), width / natural


def render_figure(fig: Figure, alt: str) -> tuple[bytes, dict]:
    """``fig`` as PNG bytes and the output metadata that shows it legibly in the notebook
    column: at most :data:`COLUMN_WIDTH_PX` wide, with alt text. A ``ValueError`` names
    the text that would be smaller than :data:`MIN_TEXT_PX` at that size."""
    import io
    _require_figure(fig)
    alt = check_alt(alt)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=RENDER_DPI, bbox_inches="tight", pad_inches=0.08)
    png = buffer.getvalue()
    width, scale = shown_size(png)
    points, text = smallest_text(fig)
    shown_px = points * 100 / 72 * scale
    if shown_px < MIN_TEXT_PX:
        raise ValueError(
            f"the figure would show {width} px wide, and its smallest text, {text!r} at "
            f"{points:g} pt, at {shown_px:.1f} px (at least {MIN_TEXT_PX:g} px is needed): "
            f"make the text at least {MIN_TEXT_PX * 72 / 100 / scale:.1f} pt or the figure "
            f"narrower (at most {COLUMN_WIDTH_PX / 100:g} inches keeps it at full size)")
    return png, {"width": width, "alt": alt}


def show_figure(fig: Figure, alt: str) -> None:
    """Show ``fig`` in the notebook, legible where it is read, with alt text.

    Renders the figure once at twice the screen's resolution, displays it at most
    850 CSS px wide (JupyterLab's column) with ``alt`` in the output's metadata (which
    nbconvert and site builders turn into ``<img alt>``), and closes it so the inline
    backend does not show it a second time. The text form of the output is the alt
    text itself: it is what a reader without images gets, and what nbval compares."""
    png, metadata = render_figure(fig, alt)
    show_png(png, metadata["alt"], metadata["width"])
    import matplotlib.pyplot as plt
    if plt.fignum_exists(getattr(fig, "number", -1)) and plt.figure(fig.number) is fig:
        plt.close(fig)


def show_png(png: bytes, alt: str, width: int | None = None) -> None:
    """Display PNG bytes (made elsewhere, e.g. the explorer's frame) at ``width`` CSS px,
    at most the column's width, with alt text."""
    import base64

    from IPython.display import display
    if not isinstance(png, (bytes, bytearray, memoryview)) or \
            bytes(png[:8]) != b"\x89PNG\r\n\x1a\n":
        raise TypeError(f"png must be the bytes of a PNG image, got {type(png).__name__}")
    png = bytes(png)
    alt = check_alt(alt)
    width, _ = shown_size(png, width)
    display({"image/png": base64.b64encode(png).decode("ascii"),
             "text/plain": f"[figure] {alt}"},
            raw=True, metadata={"image/png": {"width": width, "alt": alt}})


def _require_arm(arm) -> None:
    from .engine import ArmResult
    if not isinstance(arm, ArmResult):
        raise TypeError(f"arm must be one arm of a sweep (result['name']), "
                        f"got {type(arm).__name__}")


def plot_seed_band(ax, arm, token, *, color, label, linestyle="-", level=0.95) -> None:
    """Mean over seeds of one token's weight, with its confidence band shaded.

    ``arm`` is a :class:`helpers.engine.ArmResult` with no grid axes left (use
    ``arm.sel(lr=...)`` first)."""
    _require_axes(ax)
    _require_arm(arm)
    if arm.grid_dims:
        raise ValueError(f"select one setting first (sel on {arm.grid_dims})")
    index = arm.world.token_index(token)
    band = arm.band(level=level)
    ax.plot(arm.steps, band.mean[:, index], color=color, linestyle=linestyle, label=label)
    ax.fill_between(arm.steps, band.low[:, index], band.high[:, index], color=color,
                    alpha=0.25, linewidth=0)


def plot_lr_sweep(ax, arm, tokens, *, palette=C.TOKEN_COLOURS, level=0.95) -> dict:
    """Final weight (mean over seeds, with its confidence interval) against the learning
    rate, one line per token. Settings where any seed diverged are not averaged: they
    are marked along the top of the axes with the step at which they diverged.

    Returns {lr: median divergence step} for the diverged settings."""
    _require_axes(ax)
    _require_arm(arm)
    if isinstance(tokens, (str, int, np.integer)):
        raise TypeError(f"tokens must be a list of tokens (names or indices), got "
                        f"{shown(tokens)}; write [{tokens!r}] for one")
    if arm.grid_dims != ("lr",):
        raise ValueError(f"plot_lr_sweep needs a sweep over lr alone, got grid {arm.grid_dims}")
    lrs = arm.coords["lr"]
    diverged = np.any(arm.diverged_at > 0, axis=0)
    stable = ~diverged
    for token in tokens:
        index = arm.world.token_index(token)
        band = seed_band(arm.final_weights[:, stable, index], axis=0, level=level)
        style = token_style(index, palette)
        ax.errorbar(lrs[stable], band.mean, yerr=[band.mean - band.low, band.high - band.mean],
                    capsize=3, label=token, **style)
    divergence = {}
    for lr in lrs[diverged]:
        steps = arm.diverged_at[:, np.flatnonzero(lrs == lr)[0]]
        divergence[float(lr)] = float(np.median(steps[steps > 0]))
        ax.axvline(lr, color="#8b0000", linestyle=":", linewidth=1)
        ax.plot([lr], [0.97], marker="x", markersize=9, color="#8b0000",
                transform=ax.get_xaxis_transform(), clip_on=False)
    if divergence:   # one line of text, not one label per setting (they would collide)
        ax.text(0.02, 0.97, "✕ diverged: " + ", ".join(
                f"lr {lr:g} (median step {step:.0f})" for lr, step in divergence.items()),
                transform=ax.transAxes, ha="left", va="top", fontsize=9, color="#8b0000")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(f"final weight (mean over {arm.final_weights.shape[0]} seeds, {level:.0%} CI)")
    return divergence


def plot_group_curves(ax, steps, curves, labels) -> None:
    """One line per frequency group against ``steps``, each with its own colour and line
    style (:func:`helpers.colours.frequency_group_colours`). ``curves``: (step, group), or
    (draw, step, group) for several draws, drawn as the median with a band from the
    lowest to the highest draw. ``labels``: the legend text of each group. NaN (a
    diverged run) leaves a gap; infinities are refused."""
    _require_axes(ax)
    curves = as_float_array("curves", curves)
    steps = as_float_array("steps", steps)
    if np.any(np.isinf(curves)) or not np.all(np.isfinite(steps)):
        raise ValueError("curves must not contain infinities, and steps must be finite")
    if isinstance(labels, str):
        raise TypeError(f"labels must be a list of legend texts, one per group, got the "
                        f"single string {labels!r}")
    if curves.ndim not in (2, 3) or curves.shape[-2] != len(steps) \
            or curves.shape[-1] != len(labels):
        raise ValueError(f"curves must have shape (step, group) or (draw, step, group) with "
                         f"{len(steps)} steps and {len(labels)} groups, got {curves.shape}")
    colours = C.frequency_group_colours(len(labels))
    styles = C.frequency_group_linestyles(len(labels))
    for g, label in enumerate(labels):
        if curves.ndim == 3:
            ax.fill_between(steps, curves[:, :, g].min(0), curves[:, :, g].max(0),
                            color=colours[g], alpha=0.2, linewidth=0)
            line = np.median(curves[:, :, g], axis=0)
        else:
            line = curves[:, g]
        ax.plot(steps, line, color=colours[g], linestyle=styles[g], label=label)


BOWL_MARKS = {10: "o", 100: "s", 1000: "^"}     # where each path is after so many steps


def plot_bowl(ax, hessian, target, paths, *, marks=BOWL_MARKS, margin: float = 0.3,
              n_levels: int = 10) -> None:
    """The loss ``½ (w - w*)ᵀ H (w - w*)`` over two weights as contours, with optimizer
    paths on it, each marked where it is after the steps in ``marks``.

    ``paths`` is a list of ``(label, trajectory, style)``: ``trajectory`` of shape
    ``(n_steps, 2)`` (weights after steps 1..n, all starting from 0), ``style`` keyword
    arguments of ``ax.plot`` (colour and line style: two cues, not one); later paths are
    drawn on top. The view is
    square, with equal scales, around the start and the optimum: a stretched bowl looks
    stretched."""
    _require_axes(ax)
    hessian = check_finite("hessian", hessian)
    target = check_finite("target", target)
    if hessian.shape != (2, 2) or target.shape != (2,):
        raise ValueError(f"plot_bowl draws two weights: hessian must be 2 x 2 and target of "
                         f"length 2, got shapes {hessian.shape} and {target.shape}")
    low, high = np.minimum(0.0, target) - margin, np.maximum(0.0, target) + margin
    half, middle = (high - low).max() / 2, (high + low) / 2
    x = np.linspace(middle[0] - half, middle[0] + half, 301)
    y = np.linspace(middle[1] - half, middle[1] + half, 301)
    grid_x, grid_y = np.meshgrid(x, y)
    error = np.stack([grid_x - target[0], grid_y - target[1]], axis=-1)
    loss = 0.5 * np.einsum("...i,ij,...j->...", error, hessian, error)
    smallest = 0.5 * np.linalg.eigvalsh(hessian)[0] * 0.1 ** 2    # 0.1 along the flattest
    levels = np.geomspace(smallest, loss.max(), n_levels)
    # light where the loss is low, darker up the walls: one hue, read by lightness alone
    from matplotlib import colormaps
    shades = colormaps["Greys"](np.linspace(0.0, 0.5, levels.size + 1))
    ax.contourf(grid_x, grid_y, loss, levels=np.concatenate([[0.0], levels, [np.inf]]),
                colors=shades)
    ax.grid(False)
    ax.contour(grid_x, grid_y, loss, levels=levels, colors="#8c8c8c", linewidths=0.6)
    # the optimum first and hollow, so that marks which reached it stay visible on top
    ax.plot(*target, marker="*", markersize=15, markerfacecolor="none",
            markeredgecolor="#1a1a1a", markeredgewidth=1.2, linestyle="none", zorder=2)
    for label, trajectory, style in paths:
        path = np.vstack([np.zeros(2), np.asarray(trajectory, dtype=float)])
        ax.plot(path[:, 0], path[:, 1], label=label, **{"linewidth": 1.7, **style})
        for step, marker in marks.items():
            if step < len(path):
                ax.plot(*path[step], marker=marker, markersize=6.5, color=style.get("color"),
                        markeredgecolor="#1a1a1a", markeredgewidth=0.6, linestyle="none",
                        zorder=4)
    ax.set_aspect("equal")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])


def bowl_marks_legend(ax, marks=BOWL_MARKS, **kwargs):
    """A legend that says what the marks on :func:`plot_bowl`'s paths mean."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker=marker, color="#ffffff", markeredgecolor="#1a1a1a",
                      markersize=6.5, linestyle="none", label=f"after {step:,} steps")
               for step, marker in marks.items()]
    handles.append(Line2D([], [], marker="*", markerfacecolor="none", markeredgecolor="#1a1a1a",
                          markersize=12, linestyle="none", label="the optimum w*"))
    return ax.legend(handles=handles, **kwargs)
