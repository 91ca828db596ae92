"""Colours of the series and a check that they survive colour-vision deficiency.

Simulation: Machado, Oliveira and Fernandes (2009), severity 1.0, applied in linear RGB.
Difference: CIE76 Delta E in CIELAB (D65). About 2 is barely visible side by side;
thin lines in a plot need much more, so the series asks for at least ``MIN_DELTA_E``
and gives every token its own marker and line style as a second cue."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb

from .optimizers import REGISTRY
from .validation import check_int, check_key

# The tutorial's ramp, blue (frequent) to red (rare); kept for the faithful reproduction.
SPEC_TOKEN_COLOURS = ("#1a5276", "#2471a3", "#5dade2", "#e67e22", "#c0392b", "#7d2a2a")
SPEC_SGD_COLOUR, SPEC_ADAM_COLOUR = "#c0392b", "#2471a3"
SPEC_BACKGROUND, SPEC_TEXT = "#fafaf8", "#1a1a1a"

# The series' own ramp: a blue-to-orange-to-dark-red sequence chosen so that adjacent
# tokens differ in lightness as well as hue (checked by tests under three deficiencies).
TOKEN_COLOURS = ("#08306b", "#2c7fb8", "#7fcdbb", "#fdae61", "#d7301f", "#5e0d0d")
# Each optimizer's colour (Okabe-Ito: safe for all common deficiencies) and hatch (a
# second cue for bars) live in its registry entry (helpers.optimizers); these are views.
OPTIMIZER_COLOURS = {name: spec.colour for name, spec in REGISTRY.items()}
OPTIMIZER_HATCHES = {name: spec.hatch for name, spec in REGISTRY.items()}
TOKEN_MARKERS = ("o", "s", "^", "D", "v", "P")
TOKEN_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)))

MIN_DELTA_E = 10.0

_MACHADO_2009 = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
VISION_TYPES = ("normal",) + tuple(_MACHADO_2009)


def _to_linear(srgb):
    srgb = np.asarray(srgb, dtype=float)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear):
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def simulate(colours, vision: str = "normal") -> np.ndarray:
    """sRGB colours (names or hex) as seen with the given vision, shape (n, 3) in [0, 1]."""
    check_key("vision", vision, VISION_TYPES)
    rgb = np.array([_rgb(i, c) for i, c in enumerate(_colour_list(colours))])
    if vision == "normal":
        return rgb
    return _to_srgb(_to_linear(rgb) @ _MACHADO_2009[vision].T)


def _to_lab(srgb):
    xyz = _to_linear(srgb) @ np.array([[0.4124564, 0.3575761, 0.1804375],
                                       [0.2126729, 0.7151522, 0.0721750],
                                       [0.0193339, 0.1191920, 0.9503041]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])          # D65 white
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], axis=1)


def _colour_list(colours) -> list:
    """``colours`` as a list: a sequence of colour names or hex strings (or RGB tuples)."""
    if isinstance(colours, (str, bytes)) or not hasattr(colours, "__len__"):
        raise TypeError(f"colours must be a list of colours such as ['#0072b2', 'navy'], got "
                        f"{type(colours).__name__}")
    return list(colours)


def _rgb(index: int, colour) -> tuple:
    try:
        return to_rgb(colour)
    except (TypeError, ValueError):
        raise ValueError(f"colours[{index}] is {colour!r}, not a colour matplotlib knows "
                         f"(a name such as 'navy' or a hex string such as '#0072b2')") from None


def adjacent_delta_e(colours, vision: str = "normal") -> np.ndarray:
    """CIE76 Delta E between each colour and the next, as seen with ``vision``."""
    if len(_colour_list(colours)) < 2:
        raise ValueError(f"colours must hold at least two colours to compare, got "
                         f"{len(_colour_list(colours))}")
    lab = _to_lab(simulate(colours, vision))
    return np.linalg.norm(np.diff(lab, axis=0), axis=1)


def distinguishability(colours=TOKEN_COLOURS) -> dict[str, np.ndarray]:
    """Adjacent-pair Delta E for normal vision and each simulated deficiency."""
    return {vision: adjacent_delta_e(colours, vision) for vision in VISION_TYPES}


# Frequency groups (notebooks 11-13), most frequent first: navy, blue, bluish green, orange,
# dark red. They differ in hue *and* lightness, every pair by at least 15 Delta E under
# each simulated deficiency (tested), and each group also gets its own line style.
FREQUENCY_GROUP_COLOURS = ("#08306b", "#0072b2", "#009e73", "#e69f00", "#b2182b")
MAX_FREQUENCY_GROUPS = 1000      # far more than a legend can tell apart


def frequency_group_colours(n_groups: int) -> np.ndarray:
    """One colour per frequency group, most frequent first, RGBA rows of shape
    (n_groups, 4). Up to five groups take :data:`FREQUENCY_GROUP_COLOURS` (evenly spread,
    the first and last always included, so the rarest group is always the dark red); more
    groups take matplotlib's cividis map, which stays ordered under colour-vision
    deficiency. At most :data:`MAX_FREQUENCY_GROUPS` groups."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba
    n_groups = check_int("n_groups", n_groups, minimum=1, maximum=MAX_FREQUENCY_GROUPS)
    if n_groups <= len(FREQUENCY_GROUP_COLOURS):
        picks = np.rint(np.linspace(0, len(FREQUENCY_GROUP_COLOURS) - 1, n_groups)).astype(int)
        return np.array([to_rgba(FREQUENCY_GROUP_COLOURS[k]) for k in picks])
    return colormaps["cividis"](np.linspace(0.0, 0.85, n_groups))


def frequency_group_linestyles(n_groups: int) -> list:
    """One line style per frequency group (a second cue beside the colour): the tokens'
    styles for up to six groups, solid beyond."""
    n_groups = check_int("n_groups", n_groups, minimum=1, maximum=MAX_FREQUENCY_GROUPS)
    return [TOKEN_LINESTYLES[g] if g < len(TOKEN_LINESTYLES) else "-" for g in range(n_groups)]
