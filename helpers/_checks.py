"""Argument checks shared by every public function.

Each check raises ``ValueError`` with a message that names the argument, shows the value
that was given and says what is allowed, so that a student who mistypes a learning rate
reads what to change rather than a traceback from deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np


def _shown(value) -> str:
    """A short, readable rendering of a value for an error message."""
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"array {np.array2string(value, separator=', ')}"
        return f"array of shape {value.shape}"
    return repr(value)


def as_float_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, or a ValueError saying it is not numeric."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be a number or an array of numbers, got {_shown(value)}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number or an array of numbers, got {_shown(value)}"
        ) from None
    return array


def _scalar_or_array(array: np.ndarray):
    """Plain float for 0-d input (keeps reprs readable), the array otherwise."""
    return float(array) if array.ndim == 0 else array


def check_positive(name: str, value, *, hint: str = ""):
    """A finite number (or array of them) > 0, such as a learning rate or eps."""
    array = as_float_array(name, value)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all(array > 0):
        raise ValueError(
            f"{name} must be a finite number greater than 0, got {_shown(value)}{hint}"
        )
    return _scalar_or_array(array)


def check_non_negative(name: str, value, *, hint: str = ""):
    """A finite number (or array of them) >= 0, such as a noise level."""
    array = as_float_array(name, value)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all(array >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {_shown(value)}{hint}")
    return _scalar_or_array(array)


def check_beta(name: str, value):
    """A decay rate in [0, 1): 0 keeps no memory, values near 1 keep a long one."""
    array = as_float_array(name, value)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all((array >= 0) & (array < 1)):
        raise ValueError(
            f"{name} must lie in [0, 1) (0 = no memory, close to 1 = long memory), "
            f"got {_shown(value)}"
        )
    return _scalar_or_array(array)


def check_int(name: str, value, *, minimum: int) -> int:
    """A whole number >= minimum (bools are refused: True is not a step count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {_shown(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value}")
    return int(value)


def check_finite(name: str, value, *, shape: tuple[int, ...] | None = None,
                 min_ndim: int = 0) -> np.ndarray:
    """A float array with no NaN or infinity, optionally of an exact shape."""
    array = as_float_array(name, value)
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got shape {array.shape}")
    if array.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(
            f"{name} must contain only finite numbers, but {bad} of its {array.size} "
            f"entries are NaN or infinite"
        )
    return array


def check_frequencies(name: str, value) -> np.ndarray:
    """Per-sample appearance probabilities: a non-empty 1-D array with entries in (0, 1]."""
    array = as_float_array(name, value)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D list of probabilities, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)) or not np.all((array > 0) & (array <= 1)):
        raise ValueError(
            f"{name} must lie in (0, 1]: each is the probability that a token appears in "
            f"one sample, got {_shown(array)}"
        )
    return array


def check_choice(name: str, value, allowed) -> str:
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
