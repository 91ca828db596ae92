"""Argument checks shared by every public function of ``helpers``.

The rule, everywhere: a value of the wrong *type* is a ``TypeError``, a value of the
right type but outside what is allowed is a ``ValueError``, and an unknown *name*
(an optimizer, a token, an arm of a sweep) is a ``KeyError``. Each message names the
argument, shows the value that was given and says what is allowed, so that a student
who mistypes a learning rate reads what to change rather than a traceback from deep
inside NumPy. Booleans and complex numbers are not numbers here: ``sgd(lr=True)`` is a
mistake, not a learning rate of 1.

Sizes are checked before anything is allocated: a run that would need more than
:data:`MEMORY_LIMIT_BYTES` is refused with the estimate (:func:`check_allocation`).
"""

from __future__ import annotations

import numbers

import numpy as np

# "A few GB": the largest single allocation a helper makes without asking. The series'
# own computations stay below 0.5 GB; anything above this is almost surely a typo
# (batch_size=10**6) that would otherwise end in a MemoryError or a frozen laptop.
MEMORY_LIMIT_BYTES = 4 * 2 ** 30


class UnknownKeyError(KeyError):
    """A ``KeyError`` whose message reads as a sentence (KeyError quotes its message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def shown(value) -> str:
    """A short, readable rendering of a value for an error message."""
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"array {np.array2string(value, separator=', ')}"
        return f"array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _flat_items(value):
    """The scalars of a (nested) list or tuple, for the bool/complex check."""
    for item in value:
        if isinstance(item, (list, tuple)):
            yield from _flat_items(item)
        else:
            yield item


def is_real_number(value) -> bool:
    """True for an int or float (NumPy's too); False for bool, complex, str and the rest."""
    return (isinstance(value, (numbers.Real, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def as_float_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array; a ``TypeError`` if it is not made of real numbers."""
    what = f"{name} must be a number or an array of numbers"
    if value is None or isinstance(value, (str, bytes, bool, np.bool_, complex,
                                           np.complexfloating)):
        raise TypeError(f"{what}, got {shown(value)}")
    if isinstance(value, (list, tuple)):
        for item in _flat_items(value):
            if not is_real_number(item) and not isinstance(item, np.ndarray):
                raise TypeError(f"{what}, got {shown(value)} (it holds {shown(item)})")
    if isinstance(value, np.ndarray) and value.dtype.kind not in "fiu":
        raise TypeError(f"{what}, got an array of dtype {value.dtype}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{what}, got {shown(value)}") from None
    return array


def _scalar_or_array(array: np.ndarray):
    """Plain float for 0-d input (keeps reprs readable), the array otherwise."""
    return float(array) if array.ndim == 0 else array


def check_positive(name: str, value, *, hint: str = ""):
    """A finite number (or array of them) > 0, such as a learning rate or eps."""
    array = as_float_array(name, value)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all(array > 0):
        raise ValueError(
            f"{name} must be a finite number greater than 0, got {shown(value)}{hint}"
        )
    return _scalar_or_array(array)


def check_non_negative(name: str, value, *, hint: str = ""):
    """A finite number (or array of them) >= 0, such as a noise level."""
    array = as_float_array(name, value)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all(array >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {shown(value)}{hint}")
    return _scalar_or_array(array)


def check_beta(name: str, value):
    """A decay rate in [0, 1): 0 keeps no memory, values near 1 keep a long one."""
    array = as_float_array(name, value)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all((array >= 0) & (array < 1)):
        raise ValueError(
            f"{name} must lie in [0, 1) (0 = no memory, close to 1 = long memory), "
            f"got {shown(value)}"
        )
    return _scalar_or_array(array)


def check_probability(name: str, value, *, open_low: bool = True) -> float:
    """One number in (0, 1) (``open_low``) or [0, 1), e.g. a confidence level."""
    number = check_real(name, value)
    low_ok = number > 0 if open_low else number >= 0
    if not (low_ok and number < 1):
        interval = "(0, 1)" if open_low else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {shown(value)}")
    return number


def check_real(name: str, value) -> float:
    """One finite real number (not a bool, not complex, not a string)."""
    if not is_real_number(value):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
            value = value.item()
        else:
            raise TypeError(f"{name} must be a number, got {shown(value)}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {shown(value)}")
    return number


def check_int(name: str, value, *, minimum: int, maximum: int | None = None) -> int:
    """A whole number in [minimum, maximum] (bools are refused: True is not a step count)."""
    allowed = (f"a whole number >= {minimum}" if maximum is None
               else f"a whole number from {minimum} to {maximum:,}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}, got {shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value:,}")
    return int(value)


def check_whole_numbers(name: str, value, *, minimum: int,
                        maximum: int | None = None) -> np.ndarray:
    """A non-empty 1-D list (or integer array) of whole numbers in [minimum, maximum], as
    int64. Floats are refused, not rounded (a step 1.5 is a mistake, not step 1), and so
    are bools (True is not step 1)."""
    what = (f"a non-empty 1-D list of whole numbers >= {minimum}" if maximum is None
            else f"a non-empty 1-D list of whole numbers from {minimum} to {maximum:,}")
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, range,
                                                                  np.ndarray)):
        raise TypeError(f"{name} must be {what}, got {shown(value)}")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu":
            raise TypeError(f"{name} must be {what}, got an array of dtype {value.dtype}")
        array = value.astype(np.int64)
    else:
        for item in _flat_items(value):
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral):
                raise TypeError(f"{name} must be {what}, got {shown(value)} (it holds "
                                f"{shown(item)})")
        try:
            array = np.array(list(value), dtype=np.int64) if len(value) else np.zeros(0, np.int64)
        except OverflowError:
            raise ValueError(f"{name} must be {what}, got {shown(value)}") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be {what}, got shape {array.shape}")
    if array.min() < minimum or (maximum is not None and array.max() > maximum):
        raise ValueError(f"{name} must be {what}, got {shown(value)}")
    return array


def check_axis(name: str, value, ndim: int) -> int:
    """An axis of an array of ``ndim`` dimensions: a whole number in -ndim..ndim-1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number (an axis), got {shown(value)}")
    if not -ndim <= value < ndim:
        raise ValueError(f"{name} must be an axis of an array of {ndim} dimension(s), from "
                         f"{-ndim} to {ndim - 1}, got {value}")
    return int(value)


def check_function_of_one(name: str, value, *, example: str) -> None:
    """A function that can be called with one positional argument (a schedule of the step
    t, a monitor of the parameters): refused before the first call, so that the error is
    about the function given, not a traceback from inside the loop that calls it."""
    import inspect
    if not callable(value):
        raise TypeError(f"{name} must be a function of one argument, e.g. {example}, got "
                        f"{shown(value)}")
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):          # a builtin without a signature: trust it
        return
    try:
        signature.bind(0)
    except TypeError:
        raise TypeError(f"{name} must be a function of one argument, e.g. {example}, got "
                        f"a function of {signature}") from None


def check_text(name: str, value) -> str:
    """A non-empty string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {shown(value)}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def check_bool(name: str, value) -> bool:
    """True or False, nothing else (1 and "yes" are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {shown(value)}")
    return bool(value)


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
            f"one sample, got {shown(array)}"
        )
    return array


def check_choice(name: str, value, allowed):
    """One of a few fixed values (a wrong value, so a ValueError)."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}, got {shown(value)}")
    return value


def check_key(name: str, value, allowed):
    """A name looked up among ``allowed`` (an unknown one is an :class:`UnknownKeyError`)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a name (a string), got {shown(value)}")
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed) or "none"
        raise UnknownKeyError(f"{name} {value!r} is unknown; known: {options}")
    return value


def check_names(name: str, value, allowed) -> tuple[str, ...]:
    """A non-empty list or tuple of distinct known names. A lone string is refused, not
    read letter by letter ("sgd" would otherwise mean 's', 'g', 'd')."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be a list or tuple of names, got the single string "
                        f"{value!r}; write ({value!r},) for one")
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of names, got {shown(value)}")
    names = tuple(value)
    if not names:
        raise ValueError(f"{name} must name at least one of: "
                         + ", ".join(repr(a) for a in allowed))
    for item in names:
        check_key(f"each of {name}", item, allowed)
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must be distinct, got {names}")
    return names


def frozen_copy(array: np.ndarray) -> np.ndarray:
    """A read-only copy: what a model or a world keeps of a caller's array, so that
    changing the caller's array later changes nothing in it (and nothing may change its
    own)."""
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def check_allocation(what: str, n_bytes: float, *, advice: str) -> None:
    """Refuse, before allocating, anything larger than :data:`MEMORY_LIMIT_BYTES`."""
    if n_bytes > MEMORY_LIMIT_BYTES:
        raise ValueError(
            f"{what} would need about {n_bytes / 2 ** 30:,.1f} GiB of memory, more than the "
            f"{MEMORY_LIMIT_BYTES / 2 ** 30:.0f} GiB this package allows itself; {advice}"
        )
