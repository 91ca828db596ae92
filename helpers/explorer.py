"""The interactive explorer of notebook 10: move a control, see the rare weight respond.

Three layers, each usable on its own:

* :class:`ExplorerSettings`: the controls' values, validated (a bad value is a
  ``TypeError``, ``ValueError`` or ``KeyError`` that says what is allowed).
* :class:`ExplorerModel`: runs each chosen optimizer on the *same* batches of one seed
  of the series' stream (stream 1 of :mod:`helpers.streams`: at the reference settings
  these are exactly the runs of notebooks 02-05), through
  :func:`helpers.kernels.run_optimizers` (compiled when Numba is available). It keeps
  the seed's random draws, and each optimizer's run by that optimizer's own settings,
  so that a change computes only the runs it changes: adding an optimizer runs that
  one, moving β2 reruns only the optimizers that have a β2.
* :class:`Explorer`: the widgets. Figures are drawn with matplotlib's Agg canvas (no
  pyplot, no ``Output`` widget, no ``interact``) and sent as PNG bytes to a
  ``widgets.Image``, which works the same in JupyterLab, under nbval and in plain pytest.

The figure (:class:`ExplorerFigure`) is made once, with three panel builders
(trajectories, final error, Adam's effective learning rate). Drawing text is most of
matplotlib's cost and rarely changes, so the static parts are kept rendered, per region
of the figure and per state of that region (:class:`BackgroundCache`), and only the
data is drawn on top of them. A new set of optimizers moves panels made up front and
draws only what looks different: the top row for a number of panels (at a weight range)
not seen before, the set's legend on the error panel (``make benchmark-explorer``
measures every kind of change against the series' goal of 100 ms).
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .kernels import run_optimizers
from .metrics import steps_to_reach
from .optimizers import REGISTRY, Optimizer, optimizer_from_roles
from .plotting import STYLE_PATH, thinned, token_style
from .streams import SeriesDraws
from .validation import (UnknownKeyError, check_allocation, check_beta, check_int, check_names,
                         check_positive, check_real)
from .world import FREQUENCIES, REFERENCE, TOKENS, World, make_world

# The optimizers whose update treats each weight on its own (all of the registry's,
# today): the explorer offers every one of them.
OPTIMIZER_NAMES = tuple(name for name, spec in REGISTRY.items() if spec.elementwise)
REACH_LEVEL = 0.5                # the readout's milestone: a weight halfway to its target
MAX_POINTS = 300                 # points drawn per line; every step is still computed
MAX_STEPS = 20_000
BATCH_SIZES = (8, 16, 32, 64, 128)
RUN_CACHE_BYTES = 64 * 2 ** 20   # the weights of the runs kept: 466 runs of 3,000 steps


# --- settings -----------------------------------------------------------------------

def _single(name, value, check):
    """A checked hyperparameter that must be one number (the explorer runs one setting)."""
    checked = check(name, value)
    if isinstance(checked, np.ndarray):
        raise TypeError(f"{name} must be a single number in the explorer, got an array")
    return checked


@dataclass(frozen=True)
class ExplorerSettings:
    """What the controls say. ``beta1`` sets every optimizer's momentum decay (Adam's
    beta1, momentum's beta), ``beta2`` every second-moment decay (Adam's beta2,
    RMSProp's beta), ``eps`` every eps (the registry's roles say which is which).
    ``rare_frequency`` replaces the rarest token's p (thalweg's 0.001)."""

    optimizers: tuple[str, ...] = ("sgd", "adam")
    lr: float = REFERENCE.lr
    beta1: float = REFERENCE.beta1
    beta2: float = REFERENCE.beta2
    eps: float = REFERENCE.eps
    batch_size: int = REFERENCE.batch_size
    n_steps: int = REFERENCE.n_steps
    rare_frequency: float = FREQUENCIES[-1]
    seed: int = REFERENCE.seed

    def __post_init__(self):
        def store(name, value):
            object.__setattr__(self, name, value)

        if isinstance(self.optimizers, (list, tuple)) and not self.optimizers:
            raise ValueError("choose at least one optimizer to run (optimizers is empty)")
        store("optimizers", check_names("optimizers", self.optimizers, OPTIMIZER_NAMES))
        store("lr", _single("lr", self.lr, check_positive))
        store("beta1", _single("beta1", self.beta1, check_beta))
        store("beta2", _single("beta2", self.beta2, check_beta))
        store("eps", _single("eps", self.eps, check_positive))
        store("n_steps", check_int("n_steps", self.n_steps, minimum=1, maximum=MAX_STEPS))
        store("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        rare = check_real("rare_frequency", self.rare_frequency)
        if not 0 < rare <= 1:
            raise ValueError(f"rare_frequency must lie in (0, 1]: it is the probability that "
                             f"thalweg appears in one sample, got {rare!r}")
        store("rare_frequency", rare)
        store("seed", check_int("seed", self.seed, minimum=0, maximum=2 ** 32 - 1))
        check_allocation(f"{self.n_steps:,} steps of batch {self.batch_size}",
                         8.0 * self.n_steps * self.batch_size * (len(TOKENS) + 1),
                         advice=f"use a batch size such as {BATCH_SIZES[-1]} or fewer steps")

    def world(self) -> World:
        return make_world(FREQUENCIES[:-1] + (self.rare_frequency,), batch_size=self.batch_size)

    def optimizer(self, name: str) -> Optimizer:
        """The helpers optimizer that ``name`` means under these settings."""
        return optimizer_from_roles(name, lr=self.lr, momentum=self.beta1,
                                    second_moment=self.beta2, eps=self.eps)


# --- the runs -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ExplorerRun:
    """One optimizer's run: ``weights`` (n_steps, n_tokens) after every step (NaN from
    the step it diverged on), ``grad_nonzero_steps`` per weight, ``diverged_at`` (0 if it
    did not) and the optimizer's ``state`` after the last step. From
    :meth:`ExplorerModel.run` its arrays are read-only: the model keeps and shares them."""

    optimizer: Optimizer
    world: World
    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    diverged_at: int
    state: tuple = field(repr=False)

    @property
    def name(self) -> str:
        return self.optimizer.name

    @property
    def label(self) -> str:
        return self.optimizer.spec.display_name

    @property
    def diverged(self) -> bool:
        return self.diverged_at > 0

    @property
    def final_error(self) -> np.ndarray:
        return np.abs(self.weights[-1] - self.world.true_weights)

    def steps_to_reach(self, level: float = REACH_LEVEL) -> np.ndarray:
        """First step at which each weight is >= ``level`` (inf if never)."""
        return steps_to_reach(self.weights, _check_level(level))

    def effective_lr(self) -> np.ndarray:
        """lr / (sqrt(v_hat) + eps) per weight after the last step, for the optimizers
        that have one (Adam, RMSProp, AdaGrad)."""
        if "effective_lr" not in self.optimizer.derived:
            raise UnknownKeyError(f"{self.label} has no effective learning rate; Adam, "
                                  f"RMSProp and AdaGrad have one")
        return self.optimizer.derive("effective_lr", self.state)


class ExplorerModel:
    """Runs the chosen optimizers on one seed's batches of the series' stream.

    Each optimizer's run is computed on its own and kept, keyed by what it depends on:
    its own hyperparameters, the world (batch size, thalweg's p), the seed and the number
    of steps. A change therefore computes only the runs it changes (adding an optimizer
    runs that one; β2 reruns only the optimizers that have a β2; removing one runs
    nothing), settings seen before compute nothing, and a run's numbers never depend on
    which other optimizers were chosen with it or in what order the controls moved. The
    seed's draws (:class:`helpers.streams.SeriesDraws`) are kept too, so only a new seed
    or batch size draws anything. Kept runs are read-only; the oldest are dropped beyond
    ``cache_bytes`` of weights."""

    def __init__(self, cache_bytes: int = RUN_CACHE_BYTES):
        self.cache_bytes = check_int("cache_bytes", cache_bytes, minimum=0)
        self._draws: SeriesDraws | None = None
        self._runs: OrderedDict[tuple, ExplorerRun] = OrderedDict()
        self._kept_bytes = 0
        self.runs_computed = 0          # runs computed, not found kept (tests read it)

    def draws(self, settings: ExplorerSettings) -> tuple[np.ndarray, np.ndarray]:
        """Uniforms (n_steps, batch_size, n_tokens) and standard normals (n_steps,
        batch_size) of the seed, extended when more steps are asked for."""
        settings = _check_settings(settings)
        key = (settings.seed, settings.batch_size)
        if self._draws is None or (self._draws.seed, self._draws.batch_size) != key:
            self._draws = SeriesDraws(settings.seed, len(TOKENS), settings.batch_size)
        return self._draws.draws(settings.n_steps)

    def batches(self, settings: ExplorerSettings):
        """The same batches one at a time, ``(X, y)``, for a plain loop to check against."""
        world = _check_settings(settings).world()
        uniforms, normals = self.draws(settings)
        for u, z in zip(uniforms, normals):
            X = (u < world.frequencies).astype(float)
            yield X, X @ world.true_weights + world.noise_std * z

    def run(self, settings: ExplorerSettings) -> dict[str, ExplorerRun]:
        """Each chosen optimizer's run under ``settings``, in the order chosen."""
        settings = _check_settings(settings)
        world, runs = None, {}
        for name in settings.optimizers:
            optimizer = settings.optimizer(name)
            key = (name, tuple(optimizer.hyperparams.items()), settings.batch_size,
                   settings.rare_frequency, settings.seed, settings.n_steps)
            run = self._runs.get(key)
            if run is None:
                if world is None:
                    world = settings.world()
                # One optimizer per call: on the NumPy path, runs stepped together share a
                # matrix product whose rounding depends on how many there are.
                single, = run_optimizers([optimizer], world, *self.draws(settings))
                run = ExplorerRun(optimizer, world, _read_only(single.weights),
                                  _read_only(single.grad_nonzero_steps), single.diverged_at,
                                  type(single.state)(*map(_read_only, single.state)))
                self.runs_computed += 1
                self._keep(key, run)
            self._runs.move_to_end(key)
            runs[name] = run
        self._forget_oldest()
        return runs

    def _keep(self, key, run: ExplorerRun) -> None:
        self._runs[key] = run
        self._kept_bytes += run.weights.nbytes

    def _forget_oldest(self) -> None:
        """Drops the least recently used runs beyond the budget (never the newest one)."""
        while self._kept_bytes > self.cache_bytes and len(self._runs) > 1:
            _, run = self._runs.popitem(last=False)
            self._kept_bytes -= run.weights.nbytes


def _check_settings(settings) -> ExplorerSettings:
    if not isinstance(settings, ExplorerSettings):
        raise TypeError(f"settings must be ExplorerSettings (e.g. ExplorerSettings(lr=0.1)), "
                        f"got {type(settings).__name__}")
    return settings


def _read_only(value):
    """A run's array, frozen: kept runs are shared by every call that asks for them."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def _check_level(level) -> float:
    """A weight level to reach: a finite number (the explorer's targets are 1)."""
    from .validation import check_real
    level = check_real("level", level)
    if not np.isfinite(level):
        raise ValueError(f"level must be a finite weight, e.g. {REACH_LEVEL}, got {level!r}")
    return float(level)


def readout(runs: dict[str, ExplorerRun], token: int = -1, level: float = REACH_LEVEL) -> str:
    """One line: when ``token`` (default: the rarest) first reaches ``level`` under each
    optimizer, e.g. "thalweg (p = 0.001) reaches 0.5 at step 89 under Adam, never under
    SGD (3,000 steps)"."""
    if not isinstance(runs, dict):
        raise TypeError(f"runs must be a dict of ExplorerRun by optimizer name (what "
                        f"ExplorerModel.run returns), got {type(runs).__name__}")
    if not runs:
        raise ValueError("runs is empty: choose at least one optimizer")
    for name, run in runs.items():
        if not isinstance(run, ExplorerRun):
            raise TypeError(f"runs[{name!r}] must be an ExplorerRun, got {type(run).__name__}")
    level = _check_level(level)
    run = next(iter(runs.values()))
    world = run.world
    index = world.token_index(token)
    n_steps = run.weights.shape[0]
    reached, never, diverged = [], [], []
    for r in runs.values():
        if r.diverged:
            diverged.append(f"{r.label} diverged at step {r.diverged_at:,}")
            continue
        step = r.steps_to_reach(level)[index]
        if np.isfinite(step):
            reached.append(f"at step {int(step):,} under {r.label}")
        else:
            never.append(r.label)
    parts = reached + ([f"never under {' or '.join(never)}"] if never else [])
    if not parts:                                   # every run diverged
        return "; ".join(diverged)
    text = (f"{world.tokens[index]} (p = {world.frequencies[index]:g}) reaches {level:g} "
            f"{', '.join(parts)} ({n_steps:,} steps)")
    return "; ".join([text] + diverged)


# --- drawing ------------------------------------------------------------------------

# Axis ranges come in a few fixed levels, so that most frames keep every axis as it was
# and only the data moves.
X_TICK_FRACTIONS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)   # the step axis in a row of up to 3
NARROW_X_TICK_FRACTIONS = (0.0, 0.5, 1.0)           # in a row of 4 to 8 (narrow panels)
ALL_X_TICK_FRACTIONS = tuple(sorted(set(X_TICK_FRACTIONS + NARROW_X_TICK_FRACTIONS)))
WEIGHT_RANGES = ((-0.25, 1.75), (-1.0, 3.0), (-10.0, 12.0))
MOST_WEIGHT_TICKS = 6            # the y locator's ticks at the most, over WEIGHT_RANGES
ERROR_RANGES = ((0.0, 1.05), (0.0, 3.0), (0.0, 12.0))
MESSAGE_WIDTH = 18               # the error panel's message: characters per line
PANEL_FACE = "#fafaf8"           # the axes' background colour (series.mplstyle)
AMPLIFICATION_RANGES = ((0.3, 3e3), (0.03, 3e5), (3e-3, 3e9))
WARNING_RED = "#8b0000"


def _level(ranges, low, high) -> tuple[float, float]:
    """The first range that holds [low, high] (the last one if none does)."""
    for bottom, top in ranges:
        if bottom <= low and high <= top:
            return bottom, top
    return ranges[-1]


def _place_labels(fig, ax, below_px: float, left_px: float) -> None:
    """Fixed axis-label positions: matplotlib otherwise measures every tick label of every
    axis to place them, which was most of a full draw."""
    width_px, height_px = fig.get_size_inches() * fig.dpi
    box = ax.get_position()
    ax.xaxis.set_label_coords(0.5, -below_px / (box.height * height_px))
    ax.yaxis.set_label_coords(-left_px / (box.width * width_px), 0.5)


class BackgroundCache:
    """Rendered backgrounds of one region of the figure by that region's state (its axes
    ranges, its number of panels, ...), most recently used last."""

    def __init__(self, size: int = 16):
        self.size = size                 # well under 1 MB each: keep the recent ones
        self._backgrounds: OrderedDict = OrderedDict()

    def get(self, key):
        background = self._backgrounds.get(key)
        if background is not None:
            self._backgrounds.move_to_end(key)
        return background

    def put(self, key, background) -> None:
        self._backgrounds[key] = background
        while len(self._backgrounds) > self.size:
            self._backgrounds.popitem(last=False)


class TrajectoryPanel:
    """One column of the top row: each token's weight over a run, the true weight dashed.
    The x axis runs over the fraction of the run done, with its tick labels written as
    texts, so a new number of steps changes six labels, not the axes. A panel is not
    tied to an optimizer: whichever optimizer is chosen in its column is drawn in it."""

    def __init__(self, fig, subplot_spec, first: TrajectoryPanel | None):
        self.ax = ax = fig.add_subplot(subplot_spec,
                                       sharey=None if first is None else first.ax)
        ax.axhline(1.0, color="#4d4d4d", linestyle=(0, (4, 3)), linewidth=0.9)
        self.lines = [ax.plot([], [], linewidth=1.5, label=token, animated=True,
                              **_line_style(i))[0] for i, token in enumerate(TOKENS)]
        self.message = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center",
                               va="center", color=WARNING_RED, fontsize=10, animated=True,
                               bbox={"facecolor": PANEL_FACE, "edgecolor": WARNING_RED})
        # A fixed title position: otherwise every draw measures the tick labels.
        self.title = ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center",
                             va="bottom", fontsize=10.5, fontweight="bold", animated=True)
        ax.set_xlabel("step")
        ax.set_xlim(0, 1)
        self._all_step_labels = [
            ax.text(f, -0.04, "", transform=ax.get_xaxis_transform(), ha="center", va="top",
                    fontsize=9.5, animated=True) for f in ALL_X_TICK_FRACTIONS]
        self.step_labels: list = []
        self._marks: tuple = ()          # the fractions marked, and those numbered
        if first is None:
            ax.set_ylabel("weight w (true value 1)")
        else:
            ax.tick_params(labelleft=False)

    def place(self, fig, subplot_spec, column: int, n_panels: int) -> None:
        """Moves the panel to its column of a row of ``n_panels``. The panels share the
        step axis, as they share the weight axis: in a row of up to three, a panel after
        the first leaves its 0 to the end of the panel on its left (the two touched); in
        a narrower row of four to eight, three steps are marked and only the first panel
        numbers them and names the axis (eight panels repeating the same numbers were
        clutter, and a tenth of a frame)."""
        ax = self.ax
        ax.set_subplotspec(subplot_spec)
        ax.set_position(subplot_spec.get_position(fig))
        if n_panels <= 3:
            marked = X_TICK_FRACTIONS
            numbered = marked if column == 0 else marked[1:]
        else:
            marked = NARROW_X_TICK_FRACTIONS
            numbered = marked if column == 0 else ()
        if (marked, numbered) != self._marks:
            ax.set_xticks(marked, [""] * len(marked))
            self.step_labels = [label for label, f in zip(self._all_step_labels,
                                                          ALL_X_TICK_FRACTIONS)
                                if f in numbered]
            for label in self._all_step_labels:
                label.set_visible(label in self.step_labels)
            ax.set_xlabel("step" if numbered else "")
            self._marks = (marked, numbered)
        _place_labels(fig, ax, 30, 40)
        ax.set_visible(True)

    def make_ticks(self) -> None:
        """Makes the axes' tick objects now, while the figure is built: matplotlib makes
        them at an axis's first draw (about 2 ms a panel), which would otherwise fall on
        the first change that shows the panel."""
        self.ax.xaxis.get_major_ticks(max(len(X_TICK_FRACTIONS),
                                          len(NARROW_X_TICK_FRACTIONS)))
        self.ax.yaxis.get_major_ticks(MOST_WEIGHT_TICKS)

    @property
    def dynamic(self) -> list:
        return self.lines + [self.message, self.title] + self.step_labels


class TrajectoryPanels:
    """The top row: one :class:`TrajectoryPanel` per chosen optimizer, sharing the y axis,
    and the tokens' legend above it. A panel for every optimizer the explorer offers is
    made once, up front; choosing a set of optimizers moves the first ones to their
    columns and hides the rest, so that no change of the set makes axes."""

    def __init__(self, fig, subplot_spec):
        self.fig, self.subplot_spec = fig, subplot_spec
        grid = subplot_spec.subgridspec(1, len(OPTIMIZER_NAMES))
        self.panels: list[TrajectoryPanel] = []
        for column in range(len(OPTIMIZER_NAMES)):
            self.panels.append(TrajectoryPanel(fig, grid[0, column],
                                               self.panels[0] if self.panels else None))
            self.panels[-1].ax.set_visible(False)
        for panel in self.panels:
            panel.make_ticks()
        self.legend = fig.legend(handles=self.panels[0].lines, loc="upper center", ncol=6,
                                 bbox_to_anchor=(0.5, 1.0), fontsize=9, handlelength=2.6)
        self.by_name: dict[str, TrajectoryPanel] = {}
        self.names: tuple[str, ...] = ()
        self.shown: list[TrajectoryPanel] = []       # the panels of the current layout

    def show(self, names: tuple[str, ...]) -> None:
        self.layout(len(names))
        self.names, self.by_name = names, dict(zip(names, self.panels))

    def layout(self, k: int) -> None:
        """Shows the first ``k`` panels, in a row of ``k`` columns."""
        grid = self.subplot_spec.subgridspec(1, k, wspace=0.08 if k <= 3 else 0.2)
        for column, panel in enumerate(self.panels):
            if column < k:
                panel.place(self.fig, grid[0, column], column, k)
            else:
                panel.ax.set_visible(False)
        self.shown = self.panels[:k]

    @property
    def dynamic(self) -> list:
        return [artist for panel in self.shown for artist in panel.dynamic]

    def update(self, runs, settings) -> tuple[float, float]:
        rows = thinned(settings.n_steps, MAX_POINTS)
        fraction_done = (rows + 1) / settings.n_steps
        low, high = 0.0, 1.0
        for name, run in runs.items():
            panel = self.by_name[name]
            # The learning rate fits in a title only while the panels are wide.
            lr_text = f"  (lr = {settings.lr:.3g})" if len(runs) <= 3 else ""
            panel.title.set_text(run.label + lr_text)
            if run.diverged:
                for line in panel.lines:
                    line.set_data([], [])
                # A narrow panel's title names the optimizer; the box must fit its width.
                panel.message.set_text(
                    f"{run.label} diverged\nat step {run.diverged_at:,}:\nlower the "
                    f"learning rate" if len(runs) <= 3 else
                    f"diverged\nat step\n{run.diverged_at:,}")
                continue
            drawn = run.weights[rows]
            for i, line in enumerate(panel.lines):
                line.set_data(fraction_done, drawn[:, i])
            panel.message.set_text("")
            low, high = min(low, drawn.min()), max(high, drawn.max())
        # Thousands as "k" where whole numbers would come within 3 px of the next panel:
        # long runs, and rows of three panels or more.
        compact = settings.n_steps >= 5_000 or len(self.shown) >= 3
        for panel in self.shown:
            for label in panel.step_labels:
                label.set_text(_step_text(round(label.get_position()[0] * settings.n_steps),
                                          compact))
        weight_range = _level(WEIGHT_RANGES, low, high)
        self.panels[0].ax.set_ylim(*weight_range)
        return weight_range


class ErrorPanel:
    """Grouped bars: each token's final |w - 1| under each optimizer. The axes are made
    once; each set of optimizers gets its bars and their legend, kept for when the set
    comes back. Bars and legend are drawn as data, not as children of the axes, so that
    the axes' background is the same for every set. The legend stands beside the axes,
    one optimizer a line, and its title says which runs the bars leave out or cut."""

    def __init__(self, fig, subplot_spec):
        self.ax = ax = fig.add_subplot(subplot_spec)
        ax.set_xticks(np.arange(len(TOKENS)), TOKENS, fontsize=8, rotation=20, ha="right",
                      rotation_mode="anchor")
        # Every set's bars span the first token's left edge to the last one's right edge.
        ax.update_datalim([(-0.4, 0.0), (len(TOKENS) - 0.6, 0.0)])
        ax.autoscale_view(scaley=False)
        ax.set_ylabel("final |w - 1|")
        ax.set_title("Final error per token", fontsize=10.5)
        self.bars: dict[str, tuple] = {}      # name -> (patch, bars' left edges, width)
        self.legend = None
        self.message = None                   # the legend's title: what is not shown
        self._sets: OrderedDict[tuple[str, ...], tuple] = OrderedDict()
        _place_labels(fig, ax, 45, 40)

    def show(self, names: tuple[str, ...]) -> None:
        if names not in self._sets:
            self._sets[names] = self._make(names)
            while len(self._sets) > 16:
                self._sets.popitem(last=False)
        self._sets.move_to_end(names)
        self.bars, self.legend = self._sets[names]
        self.message = self.legend.get_title()

    def _make(self, names: tuple[str, ...]):
        """Each optimizer's bars as one patch of six rectangles (one draw, not six: the
        hatched bars were a third of a frame's drawing with eight optimizers) and the
        set's legend, whose handles are plain rectangles of the same look."""
        from matplotlib.legend import Legend
        from matplotlib.patches import PathPatch, Rectangle
        ax = self.ax
        width = 0.8 / len(names)
        bars, handles = {}, []
        for j, name in enumerate(names):
            spec = REGISTRY[name]
            look = {"facecolor": spec.colour, "edgecolor": "#1a1a1a", "linewidth": 0.4,
                    "hatch": spec.hatch}
            lefts = np.arange(len(TOKENS)) - 0.4 + width * j
            bar = PathPatch(_bars_path(lefts, width, np.zeros(len(TOKENS))), animated=True,
                            **look)
            bar.set_figure(ax.figure)
            bar.axes = ax
            bar.set_transform(ax.transData)
            bar.set_clip_path(ax.patch)
            bars[name] = (bar, lefts, width)
            handles.append(Rectangle((0, 0), 1, 1, **look))
        legend = Legend(ax, handles, [REGISTRY[name].display_name for name in names],
                        fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                        borderaxespad=0.0, alignment="left", title_fontsize=8.5,
                        labelspacing=0.3)
        legend.get_title().set_color(WARNING_RED)
        return bars, legend

    @property
    def dynamic(self) -> list:
        return [bar for bar, _, _ in self.bars.values()] + [self.legend]

    def update(self, runs) -> tuple[float, float]:
        errors = {name: np.zeros(run.world.n_tokens) if run.diverged else run.final_error
                  for name, run in runs.items()}
        bottom, top = _level(ERROR_RANGES, 0.0,
                             max((float(e.max()) for e in errors.values()), default=0.0))
        for name, error in errors.items():     # a bar beyond the top level ends there
            bar, lefts, width = self.bars[name]
            bar.set_path(_bars_path(lefts, width, np.minimum(error, top)))
        diverged = [run.label for run in runs.values() if run.diverged]
        beyond = [f"{run.label} {_above(run.final_error.max(), top)}" for run in runs.values()
                  if not run.diverged and run.final_error.max() > top]
        # Up to three named under each heading, more counted (a diverged run's own panel
        # says so too): the legend's column has room for eight entries and seven lines.
        lines = (["diverged, not shown:", *_wrapped(diverged)] if diverged else []) + (
            [f"cut at {top:g}:", *_wrapped(beyond)] if beyond else [])
        self.legend.set_title("\n".join(lines))
        self.ax.set_ylim(bottom, top)
        return bottom, top


class EffectiveLrPanel:
    """Adam's effective learning rate over the nominal one, against frequency."""

    def __init__(self, fig, subplot_spec):
        from matplotlib.ticker import FuncFormatter, NullLocator
        self.ax = ax = fig.add_subplot(subplot_spec)
        ax.set_xscale("log")
        ax.set_yscale("log")
        self.points = [ax.plot([], [], linestyle="none", markersize=7, animated=True,
                               markeredgecolor="#1a1a1a", markeredgewidth=0.6,
                               color=token_style(i)["color"], marker=token_style(i)["marker"])[0]
                       for i in range(len(TOKENS))]
        ax.axhline(1.0, color="#4d4d4d", linestyle=(0, (4, 3)), linewidth=0.9)
        # A label on the line instead of a legend: one text is cheaper to draw than a box.
        # At the left end: the frequent tokens, whose ratio is near 1, sit at the right.
        ax.text(0.02, 1.15, "nominal lr", transform=ax.get_yaxis_transform(), ha="left",
                va="bottom", fontsize=8.5, color="#4d4d4d")
        ax.set_xlim(1e-5, 2.5)
        ax.set_xlabel("token frequency p (per sample)")
        ax.set_ylabel("effective lr / nominal lr")
        ax.set_title("Adam's effective learning rate", fontsize=10.5)
        self.message = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center",
                               va="center", color="#4d4d4d", fontsize=10, animated=True)
        self.dynamic = self.points + [self.message]
        # Plain tick labels: log axes otherwise typeset theirs as mathematics.
        plain = FuncFormatter(lambda value, _: _ratio_text(value))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_locator(NullLocator())
        _place_labels(fig, ax, 32, 48)

    def update(self, runs, settings) -> tuple[float, float]:
        adam_run = runs.get("adam")
        amplification_range = AMPLIFICATION_RANGES[0]
        if adam_run is None or adam_run.diverged:
            for point in self.points:
                point.set_data([], [])
            self.message.set_text("Adam diverged" if adam_run is not None
                                  else "Choose Adam to see\nits effective learning rate")
            self.message.set(y=0.5, verticalalignment="center")
        else:
            world = adam_run.world
            amplification = adam_run.effective_lr() / settings.lr
            for i, point in enumerate(self.points):
                point.set_data([world.frequencies[i]], [amplification[i]])
            amplification_range = _level(AMPLIFICATION_RANGES, amplification.min(),
                                         amplification.max())
            low, high = amplification_range
            outside = [f"{world.tokens[i]} {value:.2g}" for i, value in enumerate(amplification)
                       if not low <= value <= high]       # beyond the widest range
            self.message.set_text(f"off the scale: {', '.join(outside)}" if outside else "")
            self.message.set(y=0.97, verticalalignment="top")
        self.ax.set_ylim(*amplification_range)
        return amplification_range


class ExplorerFigure:
    """The explorer's figure: one panel of weight trajectories per optimizer (top row),
    the final error per token and Adam's effective lr against frequency (bottom row).

    ``draw(runs, settings)`` returns PNG bytes. The figure is made once. Its static
    parts are kept rendered in three regions, bands across the figure, each drawn on its
    own and kept per state: the tokens' legend (never changes), the top row (the number
    of panels, the weight range) and the bottom row (the two panels' ranges). A frame
    restores each region's background for its current state, drawing only the regions
    not seen in that state, then draws the data (lines, bars, the set's legend, points,
    titles, step labels, messages) on top.
    :attr:`background_draws` counts the frames that had to draw a region."""

    REGIONS = ("legend", "trajectories", "bottom")

    def __init__(self, width: float = 10.0, height: float = 6.2, dpi: int = 82):
        import matplotlib
        from matplotlib import rc_params_from_file
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        self.size, self.dpi = (width, height), dpi
        self.style = rc_params_from_file(STYLE_PATH, use_default_template=False)
        self.style["axes.titley"] = 1.02
        with matplotlib.rc_context(self.style):
            self.fig = fig = Figure(figsize=self.size, dpi=dpi)
            FigureCanvasAgg(fig)
            # Fixed margins: a layout engine would redo the layout on every frame.
            fig.subplots_adjust(left=0.08, right=0.975, top=0.9, bottom=0.1, hspace=0.5)
            grid = fig.add_gridspec(2, 1, height_ratios=(1.1, 1.0))
            # Between the two bottom panels, a column for the error panel's legend: the
            # legend beside the bars never hides one.
            bottom = grid[1].subgridspec(1, 2, wspace=0.78)
            self.trajectories = TrajectoryPanels(fig, grid[0])
            self.errors = ErrorPanel(fig, bottom[0, 0])
            self.effective_lr = EffectiveLrPanel(fig, bottom[0, 1])
        self.names: tuple[str, ...] | None = None
        self._backgrounds = {region: BackgroundCache() for region in (
            *self.REGIONS, "bottom_axes", "error_axes", "effective_lr_axes")}
        self._boxes: dict | None = None        # each region's pixels, set by the first frame
        self._blank = None                     # the figure's background colour alone
        self.background_draws = 0
        self.region_draws = dict.fromkeys(self.REGIONS, 0)

    @property
    def full_draws(self) -> int:
        """Frames that drew some of the static figure rather than only the data (the name
        notebook 10 reads; the same as :attr:`background_draws`)."""
        return self.background_draws

    @property
    def dynamic(self) -> list:
        return self.trajectories.dynamic + self.errors.dynamic + self.effective_lr.dynamic

    def draw(self, runs: dict[str, ExplorerRun], settings: ExplorerSettings) -> bytes:
        import matplotlib
        names = tuple(runs)
        with matplotlib.rc_context(self.style):
            if names != self.names:
                self.trajectories.show(names)
                self.errors.show(names)
                self.names = names
            states = {"legend": (),
                      "trajectories": (len(names), self.trajectories.update(runs, settings)),
                      "bottom": (self.errors.update(runs),
                                 self.effective_lr.update(runs, settings))}
            self._restore_or_draw(states)
            for artist in self.dynamic:
                self.fig.draw_artist(artist)
            return _png(self.fig)

    def _draw_region(self, region: str, state, renderer) -> None:
        """Draws a region's static artists onto the blank figure. The bottom row's axes,
        the same for every set of optimizers, are kept by their ranges, each panel on
        its own."""
        if region == "legend":
            self.trajectories.legend.draw(renderer)
        elif region == "trajectories":
            for panel in self.trajectories.shown:
                panel.ax.draw(renderer)
        else:
            error_range, amplification_range = state
            if amplification_range == AMPLIFICATION_RANGES[-1]:
                # At its widest range the effective-lr panel's tick labels reach into
                # the error panel's side: the two are kept together.
                self._draw_part("bottom_axes", (error_range, amplification_range), "bottom",
                                [self.errors.ax, self.effective_lr.ax], renderer)
            else:
                self._draw_part("error_axes", error_range, "errors",
                                [self.errors.ax], renderer)
                self._draw_part("effective_lr_axes", amplification_range, "effective_lr",
                                [self.effective_lr.ax], renderer)

    def _draw_part(self, kept: str, state, box: str, artists: list, renderer) -> None:
        """Restores a part of a region kept for ``state``, or draws and keeps it."""
        canvas = self.fig.canvas
        background = self._backgrounds[kept].get(state)
        if background is None:
            for artist in artists:
                artist.draw(renderer)
            self._backgrounds[kept].put(state, canvas.copy_from_bbox(self._boxes[box]))
        else:
            canvas.restore_region(background)

    def _restore_or_draw(self, states: dict) -> None:
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        if self._boxes is None:
            renderer.clear()
            self.fig.patch.draw(renderer)
            self._blank = canvas.copy_from_bbox(self.fig.bbox)
            self._boxes = self._measure_regions(renderer)
        missing = [r for r in self.REGIONS if self._backgrounds[r].get(states[r]) is None]
        if missing:
            canvas.restore_region(self._blank)
            for region in missing:
                self._draw_region(region, states[region], renderer)
                self._backgrounds[region].put(states[region],
                                              canvas.copy_from_bbox(self._boxes[region]))
                self.region_draws[region] += 1
            self.background_draws += 1
        for region in self.REGIONS:
            canvas.restore_region(self._backgrounds[region].get(states[region]))

    def _measure_regions(self, renderer) -> dict:
        """Where each region (and each bottom panel) lies, in whole pixels. The figure is
        cut across halfway through the empty space between the legend and the top row's
        highest text, and between the top row's lowest text and the bottom row's titles;
        the bottom row is cut just right of the error panel's right edge (it has no
        right spine, and the effective-lr panel's text starts well to the right of it,
        except its tick labels at its widest range)."""
        from matplotlib.transforms import Bbox
        width, height = self.fig.bbox.width, self.fig.bbox.height
        top = [panel.ax.get_tightbbox(renderer) for panel in self.trajectories.shown]
        top_low, top_high = min(box.y0 for box in top), max(box.y1 for box in top)
        bottom_high = max(ax.get_tightbbox(renderer).y1
                          for ax in (self.errors.ax, self.effective_lr.ax))
        legend_low = self.trajectories.legend.get_window_extent(renderer).y0
        rows = float(np.floor((top_low + bottom_high) / 2))
        above = float(np.floor((top_high + legend_low) / 2))
        columns = float(np.ceil(self.errors.ax.get_window_extent(renderer).x1) + 1)
        if not (bottom_high < rows < top_low and top_high < above < legend_low):
            raise RuntimeError("the explorer's figure has no empty band between its rows "
                               "or below its legend: its parts cannot be drawn apart")
        return {"legend": Bbox([[0, above], [width, height]]),
                "trajectories": Bbox([[0, rows], [width, above]]),
                "bottom": Bbox([[0, 0], [width, rows]]),
                "errors": Bbox([[0, 0], [columns, rows]]),
                "effective_lr": Bbox([[columns, 0], [width, rows]])}


def _step_text(step: int, compact: bool) -> str:
    """A step axis's number: "1,500", or compact "1.5k" (a whole hundred of thousands;
    other numbers, which only the API can ask for, stay whole)."""
    if compact and step >= 1000 and step % 100 == 0:
        return f"{step / 1000:g}k"
    return f"{step:,}"


def _ratio_text(value: float) -> str:
    """A log axis's tick label: 0.001, 1, 1,000, then 1e4, 1e6, ... (100,000,000 was wider
    than the space for the labels)."""
    if value >= 1e4:
        exponent = round(np.log10(value))
        if np.isclose(value, 10.0 ** exponent):
            return f"1e{exponent}"
        return f"{value:.0e}"
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _wrapped(items: list[str]) -> list[str]:
    """Items joined by commas into lines of MESSAGE_WIDTH characters, never breaking an
    item ("Lazy Adam 27.9" stays on one line); more than three items are counted."""
    if len(items) > 3:
        return [f"{len(items)} optimizers"]
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= MESSAGE_WIDTH:
            lines[-1] += ", " + item
        else:
            if lines:
                lines[-1] += ","
            lines.append(item)
    return lines


def _above(value: float, top: float) -> str:
    """``value`` in three significant digits, or more if three would not show it above
    ``top`` (12.004 is not "12")."""
    for digits in (3, 6, 12):
        text = f"{value:.{digits}g}"
        if float(text) > top:
            return text
    return repr(float(value))


def _bars_path(lefts: np.ndarray, width: float, heights: np.ndarray):
    """One path of closed rectangles, from (left, 0) to (left + width, height) each."""
    from matplotlib.path import Path
    n = len(lefts)
    x = np.stack([lefts, lefts + width, lefts + width, lefts, lefts], axis=1)
    y = np.zeros((n, 5))
    y[:, 2:4] = np.asarray(heights, dtype=float)[:, None]
    vertices = np.stack([x, y], axis=2).reshape(-1, 2)
    codes = np.tile([Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], n)
    return Path(vertices, codes)


def _line_style(index: int) -> dict:
    """The token's colour and line style; markers would crowd 300-point lines."""
    return {key: value for key, value in token_style(index).items() if key != "marker"}


def _png(fig) -> bytes:
    """The canvas as PNG bytes; fast compression (the image lives for one frame)."""
    from PIL import Image
    width, height = fig.canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


# --- the widgets --------------------------------------------------------------------

BETA2_CHOICES = (0.5, 0.9, 0.99, 0.995, 0.999, 0.9995, 0.9999)
EPS_CHOICES = (1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2)
STEP_CHOICES = (500, 1000, 2000, 3000, 5000, 10_000, 20_000)
RARE_FREQUENCY_RANGE = (1e-4, 0.05)
LR_EXPONENTS = (-4.0, 0.5)       # the learning-rate slider: 10 ** -4 to 10 ** 0.5
BETA1_RANGE = (0.0, 0.99)
SEED_RANGE = (0, 999_999)


def _exponent_reaching(value: float, down: bool) -> float:
    """The log slider's end for ``value``: 10 ** log10(0.05) is 0.049999999999999996,
    and a slider ending there would move 0.05 to it; one ulp further makes it reach."""
    exponent = float(np.log10(value))
    while (10 ** exponent > value) if down else (10 ** exponent < value):
        exponent = float(np.nextafter(exponent, -np.inf if down else np.inf))
    return exponent


def _check_on_the_controls(settings: ExplorerSettings) -> None:
    """Settings the explorer's controls can show: a slider would otherwise move a value
    outside its range to its end without a word, or refuse one between its notches with
    a widget error. (ExplorerModel and ExplorerFigure take any valid settings.)"""
    ranges = {"lr": tuple(10 ** e for e in LR_EXPONENTS), "beta1": BETA1_RANGE,
              "rare_frequency": RARE_FREQUENCY_RANGE, "seed": SEED_RANGE}
    for name, (low, high) in ranges.items():
        value = getattr(settings, name)
        # A browser's log slider at its end gives 10 ** exponent in JavaScript's
        # arithmetic (0.05000000000000002): the last few ulps count as the end.
        if not low * (1 - 1e-12) <= value <= high * (1 + 1e-12):
            raise ValueError(f"{name}={value!r} is outside the explorer's {name} control, "
                             f"which runs from {low:g} to {high:g}; use ExplorerModel for "
                             f"other values")
    notches = {"beta2": BETA2_CHOICES, "eps": EPS_CHOICES, "batch_size": BATCH_SIZES,
               "n_steps": STEP_CHOICES}
    for name, choices in notches.items():
        value = getattr(settings, name)
        if value not in choices:
            raise ValueError(f"{name}={value!r} is not on the explorer's {name} control; "
                             f"choose one of {', '.join(f'{c:g}' for c in choices)} (or use "
                             f"ExplorerModel for other values)")


class Explorer:
    """Controls, a one-line readout and the figure, as one ``widgets.VBox``
    (``explorer.widget``). Every change of a control reruns the optimizers and redraws;
    ``last_timing`` holds the split of the last update into compute and render seconds.

    In code: ``explorer.controls["lr"].value = 0.2`` does what moving the slider does."""

    def __init__(self, settings: ExplorerSettings | None = None):
        import ipywidgets as widgets
        if settings is not None and not isinstance(settings, ExplorerSettings):
            raise TypeError(f"settings must be ExplorerSettings, got {type(settings).__name__}")
        if settings is not None:
            _check_on_the_controls(settings)
        self.model, self.figure = ExplorerModel(), ExplorerFigure()
        self.settings = settings or ExplorerSettings()
        self.runs: dict[str, ExplorerRun] = {}
        self.last_timing = {"compute": 0.0, "render": 0.0}
        wide = {"style": {"description_width": "190px"}, "layout": widgets.Layout(width="480px")}
        self.controls = {
            "optimizers": widgets.SelectMultiple(
                options=[(REGISTRY[n].display_name, n) for n in OPTIMIZER_NAMES],
                rows=len(OPTIMIZER_NAMES), description="optimizers",
                style={"description_width": "80px"}, layout=widgets.Layout(width="240px")),
            "lr": widgets.FloatLogSlider(base=10, min=LR_EXPONENTS[0], max=LR_EXPONENTS[1],
                                         step=0.05, description="learning rate",
                                         readout_format=".3g", **wide),
            "beta1": widgets.FloatSlider(min=BETA1_RANGE[0], max=BETA1_RANGE[1], step=0.01,
                                         description="β1 (momentum decay)", **wide),
            "beta2": widgets.SelectionSlider(options=BETA2_CHOICES,
                                             description="β2 (Adam, RMSProp)", **wide),
            "eps": widgets.SelectionSlider(options=[(f"{e:g}", e) for e in EPS_CHOICES],
                                           description="ε (Adam, RMSProp, AdaGrad)", **wide),
            "batch_size": widgets.SelectionSlider(options=BATCH_SIZES, description="batch size",
                                                  **wide),
            "n_steps": widgets.SelectionSlider(options=[(f"{n:,}", n) for n in STEP_CHOICES],
                                               description="steps", **wide),
            "rare_frequency": widgets.FloatLogSlider(
                base=10, min=_exponent_reaching(RARE_FREQUENCY_RANGE[0], down=True),
                max=_exponent_reaching(RARE_FREQUENCY_RANGE[1], down=False), step=0.1,
                description="p of thalweg",
                readout_format=".2g", **wide),
            "seed": widgets.BoundedIntText(min=SEED_RANGE[0], max=SEED_RANGE[1], description="seed",
                                           style={"description_width": "80px"},
                                           layout=widgets.Layout(width="240px")),
        }
        self.reset_button = widgets.Button(description="Reset to the reference",
                                           layout=widgets.Layout(width="240px"))
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._quiet = True
        self._show(self.settings)
        self._quiet = False
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.reset_button.on_click(lambda _: self.reset())
        sliders = ("lr", "beta1", "beta2", "eps", "batch_size", "n_steps", "rare_frequency")
        left = widgets.VBox([self.controls[k] for k in sliders])
        right = widgets.VBox([self.controls["optimizers"], self.controls["seed"],
                              self.reset_button])
        self.widget = widgets.VBox([widgets.HBox([left, right]), self.readout, self.image])
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        """Displayed as its widgets; where no kernel runs (a saved notebook on GitHub),
        the text says so instead of listing every control."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = ("Explorer: its controls and figure appear when this cell "
                                "runs in JupyterLab or Jupyter Notebook")
        return bundle

    def snapshot(self, alt: str | None = None) -> None:
        """Show the current figure as a still image, for readers without a live kernel.
        Its alt text says what the panels show and what the readout says, unless
        ``alt`` is given."""
        import re

        from .plotting import show_png
        if alt is None:
            s = self.settings
            names = " and ".join(REGISTRY[n].display_name for n in s.optimizers)
            said = re.sub(r"<[^>]+>", "", self.readout.value)
            alt = (f"The explorer's figure for {names} at learning rate {s.lr:g}, batch "
                   f"{s.batch_size}, seed {s.seed}: each optimizer's weight trajectories, "
                   f"the final error per token and Adam's effective learning rate against "
                   f"frequency. {said}.")
        width = self.figure.size[0] * self.figure.dpi       # one image pixel per CSS px
        show_png(bytes(self.image.value), alt, width)

    def _show(self, settings: ExplorerSettings) -> None:
        """Sets every control to ``settings`` without an update per control."""
        quiet, self._quiet = self._quiet, True
        try:
            for key, control in self.controls.items():
                control.value = getattr(settings, key)
        finally:
            self._quiet = quiet

    def reset(self) -> None:
        """Back to the reference experiment (one update, not one per control)."""
        self._show(ExplorerSettings())
        self.update()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.update()

    def update(self) -> None:
        """Reads the controls, runs, draws. A value the settings refuse (e.g. no
        optimizer chosen) is said in the readout; the last figure stays."""
        import html
        try:
            settings = ExplorerSettings(**{k: c.value for k, c in self.controls.items()})
        except (TypeError, ValueError, KeyError) as error:
            message = html.escape(str(error))
            self.readout.value = f'<span style="color:{WARNING_RED}">{message}</span>'
            return
        started = time.perf_counter()
        runs = self.model.run(settings)
        computed = time.perf_counter()
        png = self.figure.draw(runs, settings)
        self.image.value = png
        rendered = time.perf_counter()
        self.settings, self.runs = settings, runs
        self.readout.value = f"<b>{html.escape(readout(runs))}</b>"
        self.last_timing = {"compute": computed - started, "render": rendered - computed}
