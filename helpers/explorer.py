"""The interactive explorer of notebook 10: move a control, see the rare weight respond.

Three layers, each usable on its own:

* :class:`ExplorerSettings`: the controls' values, validated (a bad value is a
  ``ValueError`` that says what is allowed).
* :class:`ExplorerModel`: runs every chosen optimizer on the *same* batches of one seed,
  in compiled code (:func:`helpers.kernels.run_single`), and keeps the seed's random
  draws between calls, so that moving a learning rate costs milliseconds.
* :class:`Explorer`: the widgets. Figures are drawn with matplotlib's Agg canvas (no
  pyplot, no ``Output`` widget, no ``interact``) and sent as PNG bytes to a
  ``widgets.Image``, which works the same in JupyterLab, under nbval and in plain pytest.
  Artists are kept and updated between frames; the figure is rebuilt only when the set
  of optimizers changes. Lines are drawn with at most ``MAX_POINTS`` points each (the
  runs themselves keep every step).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from . import colours as C
from ._checks import check_beta, check_int, check_positive
from .engine import _thresholds, batches_from_draws
from .metrics import steps_to_reach
from .plotting import STYLE_PATH, _thinned, token_style
from .optimizers import (DISPLAY_NAMES, AdamState, Optimizer, adagrad, adam, momentum,
                         rmsprop, sgd, sign_descent)
from .world import FREQUENCIES, REFERENCE, TOKENS, World, make_world

OPTIMIZER_NAMES = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "sign_descent")
DIVERGENCE_THRESHOLD = 1e6       # |w| above this, or not finite: the run diverged
REACH_LEVEL = 0.5                # the readout's milestone: a weight halfway to its target
MAX_POINTS = 300                 # points drawn per line; every step is still computed
MAX_STEPS = 20_000
BATCH_SIZES = (8, 16, 32, 64, 128)


# --- settings -----------------------------------------------------------------------

@dataclass(frozen=True)
class ExplorerSettings:
    """What the controls say. ``beta1`` is also momentum's beta; ``beta2`` is also
    RMSProp's; ``eps`` is used by Adam, RMSProp and AdaGrad. ``rare_frequency`` replaces
    the rarest token's p (thalweg's 0.001)."""

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
        names = tuple(self.optimizers)
        if not names:
            raise ValueError("choose at least one optimizer to run")
        unknown = [n for n in names if n not in OPTIMIZER_NAMES]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"optimizers must be distinct names from {OPTIMIZER_NAMES}, got {names}")
        object.__setattr__(self, "optimizers", names)
        check_positive("lr", self.lr)
        check_beta("beta1", self.beta1)
        check_beta("beta2", self.beta2)
        check_positive("eps", self.eps)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("n_steps", self.n_steps, minimum=1)
        if self.n_steps > MAX_STEPS:
            raise ValueError(f"n_steps must be at most {MAX_STEPS:,} in the explorer, got {self.n_steps}")
        check_int("seed", self.seed, minimum=0)
        self.world()                       # checks rare_frequency lies in (0, 1]

    def world(self) -> World:
        return make_world(FREQUENCIES[:-1] + (self.rare_frequency,), batch_size=self.batch_size)

    def optimizer(self, name: str) -> Optimizer:
        """The helpers optimizer that ``name`` means under these settings."""
        if name == "sgd":
            return sgd(self.lr)
        if name == "momentum":
            return momentum(self.lr, beta=self.beta1)
        if name == "adagrad":
            return adagrad(self.lr, eps=self.eps)
        if name == "rmsprop":
            return rmsprop(self.lr, beta=self.beta2, eps=self.eps)
        if name == "adam":
            return adam(self.lr, beta1=self.beta1, beta2=self.beta2, eps=self.eps)
        if name == "sign_descent":
            return sign_descent(self.lr)
        raise ValueError(f"unknown optimizer {name!r}; choose from {OPTIMIZER_NAMES}")


# --- the runs -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ExplorerRun:
    """One optimizer's run: ``weights`` (n_steps, n_tokens) after every step (NaN from
    the step it diverged on), ``grad_nonzero_steps`` per weight, ``diverged_at`` (0 if it
    did not) and the optimizer's memory after the last step (``state``: two rows)."""

    name: str
    optimizer: Optimizer
    world: World
    weights: np.ndarray
    grad_nonzero_steps: np.ndarray
    diverged_at: int
    state: np.ndarray = field(repr=False)

    @property
    def label(self) -> str:
        return DISPLAY_NAMES[self.name]

    @property
    def diverged(self) -> bool:
        return self.diverged_at > 0

    @property
    def final_error(self) -> np.ndarray:
        return np.abs(self.weights[-1] - self.world.true_weights)

    def steps_to_reach(self, level: float = REACH_LEVEL) -> np.ndarray:
        """First step at which each weight is >= ``level`` (inf if never)."""
        return steps_to_reach(self.weights, level)

    def effective_lr(self) -> np.ndarray:
        """Adam's lr / (sqrt(v_hat) + eps) per weight after the last step."""
        if self.name != "adam":
            raise ValueError(f"the effective learning rate is Adam's; this run is {self.label}")
        state = AdamState(self.weights.shape[0], self.state[0], self.state[1])
        return self.optimizer.derive("effective_lr", state)


class ExplorerModel:
    """Runs the chosen optimizers on one seed's batches; keeps that seed's draws.

    The explorer has its own streams (not the engine's, which draw 25 seeds at a time):
    one seed's draws for 3,000 steps take a few milliseconds. As in the engine, token
    integers and label noise come from two streams, so a seed's first steps do not
    depend on how many steps follow, and every optimizer sees the identical batches."""

    def __init__(self):
        self._draws_key = None
        self._tokens = self._normals = None

    @staticmethod
    def _streams(seed: int, batch_size: int):
        tokens, noise = np.random.SeedSequence([seed, batch_size, 2026, 10]).spawn(2)
        return np.random.SFC64(tokens), np.random.Generator(np.random.SFC64(noise))

    def draws(self, settings: ExplorerSettings) -> tuple[np.ndarray, np.ndarray]:
        """Token integers (n_steps, n_tokens, batch_size) as uint32 and standard normals
        (n_steps, batch_size), drawn once per seed and batch size and extended when more
        steps are asked for (never redrawn)."""
        key = (settings.seed, settings.batch_size)
        n, B = len(TOKENS), settings.batch_size
        if key != self._draws_key:
            self._streams_now = self._streams(*key)
            self._tokens = np.empty((0, n, B), dtype=np.uint32)
            self._normals = np.empty((0, B))
            self._draws_key = key
        missing = settings.n_steps - self._tokens.shape[0]
        if missing > 0:
            token_bits, noise = self._streams_now
            raw = token_bits.random_raw(-(-missing * n * B // 2)).view(np.uint32)
            self._tokens = np.concatenate([self._tokens, raw[:missing * n * B].reshape(missing, n, B)])
            self._normals = np.concatenate([self._normals, noise.standard_normal((missing, B))])
        return self._tokens[:settings.n_steps], self._normals[:settings.n_steps]

    def batches(self, settings: ExplorerSettings):
        """The same batches one at a time, ``(X, y)``, for a plain loop to check against."""
        yield from batches_from_draws(settings.world(), *self.draws(settings))

    def run(self, settings: ExplorerSettings) -> dict[str, ExplorerRun]:
        from .kernels import KIND_CODES, run_single   # Numba loads on first use
        world = settings.world()
        tokens, normals = self.draws(settings)
        noise = world.noise_std * normals
        thresholds = _thresholds(world)
        runs = {}
        for name in settings.optimizers:
            optimizer = settings.optimizer(name)
            hyper = _kernel_hyperparameters(name, optimizer.hyperparams)
            weights = np.empty((settings.n_steps, world.n_tokens))
            counts = np.zeros(world.n_tokens, dtype=np.int64)
            state = np.zeros((2, world.n_tokens))
            diverged_at = run_single(KIND_CODES[name], hyper, tokens, thresholds, noise,
                                     world.true_weights, REFERENCE.grad_zero_tol,
                                     DIVERGENCE_THRESHOLD, weights, counts, state)
            runs[name] = ExplorerRun(name, optimizer, world, weights, counts, int(diverged_at), state)
        return runs


def _kernel_hyperparameters(name: str, hp) -> np.ndarray:
    """(lr, beta1, beta2, eps, bias_correction) as run_single reads them."""
    beta1 = hp["beta"] if name == "momentum" else hp.get("beta1", 0.0)
    beta2 = hp["beta"] if name == "rmsprop" else hp.get("beta2", 0.0)
    return np.array([hp["lr"], beta1, beta2, hp.get("eps", 0.0),
                     float(hp.get("bias_correction", True))])


def readout(runs: dict[str, ExplorerRun], token: int = -1, level: float = REACH_LEVEL) -> str:
    """One line: when ``token`` (default: the rarest) first reaches ``level`` under each
    optimizer, e.g. "thalweg (p = 0.001) reaches 0.5 at step 1,734 under Adam, never
    under SGD (3,000 steps)"."""
    run = next(iter(runs.values()))
    world = run.world
    index = token % world.n_tokens
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
# and only the data moves (see ExplorerFigure.draw).
X_TICK_FRACTIONS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
WEIGHT_RANGES = ((-0.25, 1.75), (-1.0, 3.0), (-10.0, 12.0))
ERROR_RANGES = ((0.0, 1.05), (0.0, 3.0), (0.0, 12.0))
AMPLIFICATION_RANGES = ((0.3, 3e3), (0.03, 3e5), (3e-3, 3e9))


def _level(ranges, low, high) -> tuple[float, float]:
    """The first range that holds [low, high] (the last one if none does)."""
    for bottom, top in ranges:
        if bottom <= low and high <= top:
            return bottom, top
    return ranges[-1]


class ExplorerFigure:
    """The explorer's figure: one panel of weight trajectories per optimizer (top row),
    the final error per token and Adam's effective LR against frequency (bottom row).

    ``draw(runs, settings)`` returns PNG bytes. Drawing text (ticks, labels, legends) is
    most of matplotlib's cost, and it rarely changes: the figure keeps a rendered
    background of everything static and, while the axes stay as they were, redraws only
    the data (lines, bars, points, titles, messages) on top of it. Axes change only when
    the set of optimizers, the number of steps or an axis range level changes."""

    def __init__(self, width: float = 10.0, height: float = 6.2, dpi: int = 76):
        from matplotlib import rc_params_from_file
        self.size, self.dpi = (width, height), dpi
        self.style = rc_params_from_file(STYLE_PATH, use_default_template=False)
        # A fixed title height: otherwise every draw measures the tick labels to place it.
        self.style["axes.titley"] = 1.02
        self.names: tuple[str, ...] | None = None
        self.full_draws = 0            # how many frames needed the whole figure drawn
        # A figure per set of optimizers, each with its rendered backgrounds by axes
        # state: going back to a set or a state seen before draws no text.
        self._built: dict[tuple[str, ...], SimpleNamespace] = {}
        self.scene: SimpleNamespace | None = None

    def _build(self, names: tuple[str, ...]) -> SimpleNamespace:
        """A new figure for this set of optimizers: its artists, and no background yet."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        scene = SimpleNamespace()
        fig = Figure(figsize=self.size, dpi=self.dpi)
        FigureCanvasAgg(fig)
        k = len(names)
        # Fixed margins: a layout engine would redo the layout on every frame.
        fig.subplots_adjust(left=0.08, right=0.975, top=0.9, bottom=0.1, hspace=0.5)
        grid = fig.add_gridspec(2, 1, height_ratios=(1.1, 1.0))
        top = grid[0].subgridspec(1, k, wspace=0.08 if k <= 3 else 0.2)
        bottom = grid[1].subgridspec(1, 2, wspace=0.28)
        dynamic = []
        scene.trajectory_axes, scene.lines, scene.messages, scene.titles = {}, {}, {}, {}
        scene.step_labels = {}
        for column, name in enumerate(names):
            ax = fig.add_subplot(top[0, column],
                                 sharey=scene.trajectory_axes[names[0]] if column else None)
            ax.axhline(1.0, color="#4d4d4d", linestyle=(0, (4, 3)), linewidth=0.9)
            scene.lines[name] = [ax.plot([], [], linewidth=1.5, label=token, animated=True,
                                        **_line_style(i))[0] for i, token in enumerate(TOKENS)]
            scene.messages[name] = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center",
                                          va="center", color="#8b0000", fontsize=10,
                                          animated=True, bbox={"facecolor": "#fafaf8",
                                                               "edgecolor": "#8b0000"})
            scene.titles[name] = ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center",
                                        va="bottom", fontsize=10.5, fontweight="bold",
                                        animated=True)
            dynamic += scene.lines[name] + [scene.messages[name], scene.titles[name]]
            ax.set_xlabel("step")
            # The x axis runs over the fraction of the run done, with its tick labels
            # drawn as data: changing the number of steps then changes six labels, not
            # the axes (which would mean drawing the whole figure again).
            ax.set_xlim(0, 1)
            fractions = X_TICK_FRACTIONS if k <= 3 else X_TICK_FRACTIONS[::2]
            ax.set_xticks(fractions, [""] * len(fractions))
            scene.step_labels[name] = [
                ax.text(f, -0.04, "", transform=ax.get_xaxis_transform(), ha="center",
                        va="top", fontsize=9.5, animated=True) for f in fractions]
            dynamic += scene.step_labels[name]
            if column == 0:
                ax.set_ylabel("weight w (true value 1)")
            else:
                ax.tick_params(labelleft=False)
            scene.trajectory_axes[name] = ax
        fig.legend(handles=scene.lines[names[0]], loc="upper center", ncol=6,
                   bbox_to_anchor=(0.5, 1.0), fontsize=9, handlelength=2.6)

        scene.error_ax = ax = fig.add_subplot(bottom[0, 0])
        width = 0.8 / k
        positions = np.arange(len(TOKENS))
        scene.bars = {}
        for j, name in enumerate(names):
            bars = ax.bar(positions - 0.4 + width * (j + 0.5), np.zeros(len(TOKENS)), width,
                          color=C.OPTIMIZER_COLOURS[name], hatch=C.OPTIMIZER_HATCHES[name],
                          edgecolor="#1a1a1a", linewidth=0.4, label=DISPLAY_NAMES[name])
            for bar in bars:
                bar.set_animated(True)
            scene.bars[name] = list(bars)
            dynamic += scene.bars[name]
        ax.set_xticks(positions, TOKENS, fontsize=8, rotation=20, ha="right",
                      rotation_mode="anchor")
        ax.set_ylabel("final |w - 1|")
        ax.set_title("Final error per token", fontsize=10.5)
        ax.legend(fontsize=8.5, ncol=min(k, 3), loc="upper left")
        scene.error_message = ax.text(0.98, 0.97, "", transform=ax.transAxes, ha="right",
                                     va="top", color="#8b0000", fontsize=9, animated=True)

        scene.lr_ax = ax = fig.add_subplot(bottom[0, 1])
        ax.set_xscale("log")
        ax.set_yscale("log")
        scene.lr_points = [ax.plot([], [], linestyle="none", markersize=7, animated=True,
                                  markeredgecolor="#1a1a1a", markeredgewidth=0.6,
                                  color=C.TOKEN_COLOURS[i], marker=C.TOKEN_MARKERS[i])[0]
                          for i in range(len(TOKENS))]
        ax.axhline(1.0, color="#4d4d4d", linestyle=(0, (4, 3)), linewidth=0.9)
        # A label on the line instead of a legend: one text is cheaper to draw than a box.
        ax.text(0.98, 1.15, "nominal lr", transform=ax.get_yaxis_transform(), ha="right",
                va="bottom", fontsize=8.5, color="#4d4d4d")
        ax.set_xlim(1e-5, 2.5)
        ax.set_xlabel("token frequency p (per sample)")
        ax.set_ylabel("effective lr / nominal lr")
        ax.set_title("Adam's effective learning rate", fontsize=10.5)
        scene.lr_message = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center",
                                  va="center", color="#4d4d4d", fontsize=10, animated=True)
        dynamic += scene.lr_points + [scene.error_message, scene.lr_message]
        # Fixed label positions and plain tick labels: matplotlib otherwise measures every
        # tick label of every axis to place the axis labels, and typesets log-axis labels
        # as mathematics; together that was most of a full draw.
        from matplotlib.ticker import FuncFormatter, NullLocator
        width_px, height_px = fig.get_size_inches() * fig.dpi
        for ax, below_px, left_px in ([(ax, 30, 40) for ax in scene.trajectory_axes.values()]
                                      + [(scene.error_ax, 45, 40), (scene.lr_ax, 32, 48)]):
            box = ax.get_position()
            ax.xaxis.set_label_coords(0.5, -below_px / (box.height * height_px))
            ax.yaxis.set_label_coords(-left_px / (box.width * width_px), 0.5)
        plain = FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
        for axis in (scene.lr_ax.xaxis, scene.lr_ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_locator(NullLocator())
        scene.fig, scene.dynamic, scene.backgrounds = fig, dynamic, {}
        return scene

    def draw(self, runs: dict[str, ExplorerRun], settings: ExplorerSettings) -> bytes:
        import matplotlib
        names = tuple(runs)
        with matplotlib.rc_context(self.style):
            if names != self.names:
                self._switch(names)
            scene = self.scene
            axes_state = self._update(runs, settings)
            canvas = scene.fig.canvas
            background = scene.backgrounds.get(axes_state)
            if background is None:
                canvas.draw()                      # everything but the animated artists
                background = scene.backgrounds[axes_state] = canvas.copy_from_bbox(scene.fig.bbox)
                self.full_draws += 1
                while len(scene.backgrounds) > 16:  # about 1.5 MB each: keep the recent ones
                    scene.backgrounds.pop(next(iter(scene.backgrounds)))
            else:
                canvas.restore_region(background)
            for artist in scene.dynamic:
                scene.fig.draw_artist(artist)
            return _png(scene.fig)

    def _switch(self, names: tuple[str, ...]) -> None:
        """Makes the figure of this set of optimizers current, building it if new; a
        set seen before comes back with its artists and rendered backgrounds."""
        if names not in self._built:
            self._built[names] = self._build(names)
        self._built[names] = self._built.pop(names)      # most recently used last
        self.scene, self.names = self._built[names], names
        while len(self._built) > 8:
            self._built.pop(next(iter(self._built)))

    def _update(self, runs, settings) -> tuple:
        """Puts the runs' data into the artists; returns what the axes depend on."""
        scene = self.scene
        world = next(iter(runs.values())).world
        rows = _thinned(settings.n_steps, MAX_POINTS)
        fraction_done = (rows + 1) / settings.n_steps
        low, high = 0.0, 1.0
        for name, run in runs.items():
            # The learning rate fits in a title only while the panels are wide.
            lr_text = f"  (lr = {settings.lr:.3g})" if len(runs) <= 3 else ""
            scene.titles[name].set_text(run.label + lr_text)
            if run.diverged:
                for line in scene.lines[name]:
                    line.set_data([], [])
                scene.messages[name].set_text(f"{run.label} diverged\nat step {run.diverged_at:,}:\n"
                                             f"lower the learning rate")
                continue
            drawn = run.weights[rows]
            for i, line in enumerate(scene.lines[name]):
                line.set_data(fraction_done, drawn[:, i])
            scene.messages[name].set_text("")
            low, high = min(low, drawn.min()), max(high, drawn.max())
        weight_range = _level(WEIGHT_RANGES, low, high)
        for labels in scene.step_labels.values():
            for label in labels:
                label.set_text(f"{round(label.get_position()[0] * settings.n_steps):,}")
        scene.trajectory_axes[self.names[0]].set_ylim(*weight_range)

        diverged = [run.label for run in runs.values() if run.diverged]
        largest = 0.0
        for name, run in runs.items():
            error = np.zeros(world.n_tokens) if run.diverged else run.final_error
            largest = max(largest, float(error.max()))
            for bar, value in zip(scene.bars[name], error):
                bar.set_height(value)
        error_range = _level(ERROR_RANGES, 0.0, largest)
        scene.error_ax.set_ylim(*error_range)
        scene.error_message.set_text(f"diverged, not shown: {', '.join(diverged)}" if diverged else "")

        adam_run = runs.get("adam")
        amplification_range = AMPLIFICATION_RANGES[0]
        if adam_run is None or adam_run.diverged:
            for point in scene.lr_points:
                point.set_data([], [])
            scene.lr_message.set_text("Adam diverged" if adam_run is not None
                                     else "Choose Adam to see\nits effective learning rate")
        else:
            amplification = adam_run.effective_lr() / settings.lr
            for i, point in enumerate(scene.lr_points):
                point.set_data([world.frequencies[i]], [amplification[i]])
            scene.lr_message.set_text("")
            amplification_range = _level(AMPLIFICATION_RANGES, amplification.min(),
                                         amplification.max())
        scene.lr_ax.set_ylim(*amplification_range)
        return weight_range, error_range, amplification_range


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


class Explorer:
    """Controls, a one-line readout and the figure, as one ``widgets.VBox``
    (``explorer.widget``). Every change of a control reruns the optimizers and redraws;
    ``last_timing`` holds the split of the last update into compute and render seconds.

    In code: ``explorer.controls["lr"].value = 0.2`` does what moving the slider does."""

    def __init__(self, settings: ExplorerSettings | None = None):
        import ipywidgets as widgets
        self.model, self.figure = ExplorerModel(), ExplorerFigure()
        self.settings = settings or ExplorerSettings()
        self.runs: dict[str, ExplorerRun] = {}
        self.last_timing = {"compute": 0.0, "render": 0.0}
        wide = {"style": {"description_width": "190px"}, "layout": widgets.Layout(width="480px")}
        self.controls = {
            "optimizers": widgets.SelectMultiple(
                options=[(DISPLAY_NAMES[n], n) for n in OPTIMIZER_NAMES], rows=6,
                description="optimizers", style={"description_width": "80px"},
                layout=widgets.Layout(width="240px")),
            "lr": widgets.FloatLogSlider(base=10, min=-4, max=0.5, step=0.05,
                                         description="learning rate", readout_format=".3g", **wide),
            "beta1": widgets.FloatSlider(min=0.0, max=0.99, step=0.01,
                                         description="β1 (Adam, momentum)", **wide),
            "beta2": widgets.SelectionSlider(options=BETA2_CHOICES,
                                             description="β2 (Adam, RMSProp)", **wide),
            "eps": widgets.SelectionSlider(options=[(f"{e:g}", e) for e in EPS_CHOICES],
                                           description="ε (Adam, RMSProp, AdaGrad)", **wide),
            "batch_size": widgets.SelectionSlider(options=BATCH_SIZES, description="batch size", **wide),
            "n_steps": widgets.SelectionSlider(options=[(f"{n:,}", n) for n in STEP_CHOICES],
                                               description="steps", **wide),
            "rare_frequency": widgets.FloatLogSlider(
                base=10, min=np.log10(RARE_FREQUENCY_RANGE[0]), max=np.log10(RARE_FREQUENCY_RANGE[1]),
                step=0.1, description="p of thalweg", readout_format=".2g", **wide),
            "seed": widgets.BoundedIntText(min=0, max=999_999, description="seed",
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
        left = widgets.VBox([self.controls[k] for k in
                             ("lr", "beta1", "beta2", "eps", "batch_size", "n_steps", "rare_frequency")])
        right = widgets.VBox([self.controls["optimizers"], self.controls["seed"], self.reset_button])
        self.widget = widgets.VBox([widgets.HBox([left, right]), self.readout, self.image])
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        """Displayed as its widgets; where no kernel runs (a saved notebook on GitHub),
        the text says so instead of listing every control."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = ("Explorer: its controls and figure appear when this cell "
                                "runs in JupyterLab or Jupyter Notebook")
        return bundle

    def snapshot(self):
        """The current figure as a still image (for readers without a live kernel)."""
        from IPython.display import Image
        return Image(data=bytes(self.image.value), format="png")

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
        except ValueError as error:
            self.readout.value = f'<span style="color:#8b0000">{html.escape(str(error))}</span>'
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
