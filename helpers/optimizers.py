"""The optimizers of the series, each defined once, in the spirit of optax.

An optimizer is three things, registered together in :data:`REGISTRY`:

* its **state**: a named tuple whose first field is the step count ``t`` and whose
  other fields are the arrays it remembers (Adam's ``m`` and ``v``);
* its **update rule**: a plain function ``rule(w, g, t, *state arrays, *hyperparameters)
  -> (new w, *new state arrays)``, written like the paper's pseudocode, with ``t`` the
  number of the step being taken (1 on the first step). It uses only elementwise
  arithmetic, so the same function serves NumPy arrays of any shape *and* single
  numbers inside the compiled loops of :mod:`helpers.kernels`: no formula is written
  twice;
* its **factory**, e.g. :func:`adam`, which checks the hyperparameters and returns an
  :class:`Optimizer`. Its signature is where the defaults live.

The registry entry also holds the display name, colour, hatch, the role of each
hyperparameter (which control of the explorer sets it) and the paper it comes from, so
that training, the engine, the explorer, the colours and the exercises all read the
same place. Adding an optimizer means adding one such block below (and, if it should
run compiled in the explorer, one dispatch line in :mod:`helpers.kernels`; a test says
so if it is missing).

Using one::

    opt = adam(lr=0.05)
    state = opt.init(w)                       # AdamState(t=0, m=0, v=0)
    w, state = opt.step(w, grad, state)       # inputs are never modified

``w`` may carry leading axes of independent runs, shape ``(..., n_params)``, and a
hyperparameter may be an array that broadcasts against ``w``, e.g. ``lr`` of shape
``(k, 1)`` with ``w`` of shape ``(k, 6)``: k learning rates trained side by side.
Every formula follows torch.optim's defaults, so the numbers match PyTorch's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .validation import (UnknownKeyError, check_beta, check_bool, check_finite,
                         check_function_of_one, check_int, check_key, check_positive,
                         check_real, frozen_copy, is_real_number, shown)

REQUIRED = inspect.Parameter.empty

# What a hyperparameter *is*, so that one control can set the same idea everywhere: the
# explorer's β1 slider sets every "momentum" decay (Adam's beta1, momentum's beta,
# Signum's beta), its β2 slider every "second moment" decay (Adam's beta2, RMSProp's beta).
ROLES = ("lr", "momentum", "second_moment", "eps", "switch")


@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry: everything the series knows about an optimizer."""

    name: str                       # "adam": the key used everywhere in code
    display_name: str               # "Adam": legends, tables, the explorer
    state: type                     # a NamedTuple: t, then the remembered arrays
    update: Callable                # the update rule (see the module docstring)
    factory: Callable               # adam(lr, ...): checks hyperparameters, builds one
    defaults: Mapping[str, object]  # hyperparameter -> default (REQUIRED if none), rule order
    roles: Mapping[str, str]        # hyperparameter -> one of ROLES
    derived: Mapping[str, Callable]  # quantity -> f(state, hyperparameters)
    colour: str                     # Okabe-Ito colours (colour-blind safe)
    hatch: str                      # a second cue for bars
    citation: str                   # where the idea comes from
    elementwise: bool = True        # each weight's update depends on its own g only
    non_negative: tuple[str, ...] = ()   # state arrays that hold sums or means of g**2

    @property
    def slots(self) -> tuple[str, ...]:
        """The arrays the optimizer remembers (its state without ``t``)."""
        return self.state._fields[1:]

    @property
    def hyperparameters(self) -> tuple[str, ...]:
        return tuple(self.defaults)

    def parameter_for(self, role: str) -> str | None:
        """The hyperparameter that plays ``role`` (e.g. "momentum"), or None."""
        return next((name for name, r in self.roles.items() if r == role), None)


REGISTRY: dict[str, OptimizerSpec] = {}


def get_spec(name: str) -> OptimizerSpec:
    """The registry entry of an optimizer by name (an unknown name is a KeyError)."""
    check_key("optimizer", name, REGISTRY)
    return REGISTRY[name]


def register(name: str, *, display_name: str, state: type, update: Callable, colour: str,
             hatch: str, citation: str, roles: Mapping[str, str],
             derived: Mapping[str, Callable] | None = None, elementwise: bool = True,
             non_negative: tuple[str, ...] = ()):
    """Decorator for a factory whose body checks the hyperparameters and returns them as
    a dict; registers the optimizer and returns the factory that builds it."""
    def decorate(validate: Callable) -> Callable:
        signature = inspect.signature(validate)
        defaults = {p.name: p.default for p in signature.parameters.values()}
        rule_parameters = list(inspect.signature(update).parameters)
        expected = ["w", "g", "t", *state._fields[1:], *defaults]
        if rule_parameters != expected:      # caught at import: a mismatch is a bug
            raise TypeError(f"{name}: the update rule takes {rule_parameters}, but the state "
                            f"and the factory say {expected}")
        if set(roles) - set(defaults) or set(roles.values()) - set(ROLES):
            raise TypeError(f"{name}: roles {dict(roles)} must name hyperparameters and use "
                            f"{ROLES}")

        @functools.wraps(validate)
        def factory(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{name}{signature}: {error}") from None
            bound.apply_defaults()
            hyperparams = dict(validate(*bound.args, **bound.kwargs))
            # An array hyperparameter (a grid of rates) is the optimizer's own: changing
            # the caller's array afterwards must not change the optimizer.
            return Optimizer(REGISTRY[name], {key: frozen_copy(value)
                                              if isinstance(value, np.ndarray) else value
                                              for key, value in hyperparams.items()})

        REGISTRY[name] = OptimizerSpec(name, display_name, state, update, factory, defaults,
                                       dict(roles), dict(derived or {}), colour, hatch,
                                       citation, elementwise, tuple(non_negative))
        return factory
    return decorate


# --- the optimizer object -------------------------------------------------------------

@dataclass(frozen=True)
class Optimizer:
    """An optimizer with its hyperparameters: pure ``init`` and ``step``.

    ``schedule`` (see :func:`scheduled`) multiplies the learning rate at step t by
    ``schedule(t)``. ``derived`` quantities such as Adam's ``v_hat`` and
    ``effective_lr`` are read with :meth:`derive`."""

    spec: OptimizerSpec
    hyperparams: Mapping[str, object]
    schedule: Callable[[int], float] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def derived(self) -> Mapping[str, Callable]:
        return self.spec.derived

    def __repr__(self) -> str:
        def value(v):
            return f"array{v.shape}" if isinstance(v, np.ndarray) else repr(v)
        args = ", ".join(f"{k}={value(v)}" for k, v in self.hyperparams.items())
        return f"{self.name}({args})" + (" with a schedule" if self.schedule else "")

    @property
    def label(self) -> str:
        """A short label for legends, e.g. ``Adam (lr=0.05)``."""
        lr = self.hyperparams["lr"]
        lr_text = f"{lr:g}" if isinstance(lr, float) else "array"
        return f"{self.spec.display_name} (lr={lr_text})"

    def _check_broadcast(self, w: np.ndarray) -> None:
        for key, value in self.hyperparams.items():
            if isinstance(value, np.ndarray):
                try:
                    shape = np.broadcast_shapes(value.shape, w.shape)
                except ValueError:
                    shape = None
                if shape != w.shape:
                    raise ValueError(
                        f"{key} has shape {value.shape}, which does not broadcast to the "
                        f"weights' shape {w.shape}; give w leading run axes that match "
                        f"(e.g. w of shape {value.shape[:-1] + w.shape[-1:]})"
                    )

    def init(self, w):
        """The starting state for weights ``w`` of shape ``(..., n_params)``: t = 0 and
        every remembered array at zero."""
        w = check_finite("w", w, min_ndim=1)
        self._check_broadcast(w)
        return self.spec.state(0, *(np.zeros(w.shape) for _ in self.spec.slots))

    def lr_at(self, t: int):
        """The learning rate used on step ``t`` (1 on the first step; the schedule
        applied)."""
        return self._lr_at(check_int("t", t, minimum=1))

    def _lr_at(self, t: int):
        lr = self.hyperparams["lr"]
        if self.schedule is None:
            return lr
        factor = self.schedule(t)
        if not is_real_number(factor):
            raise TypeError(f"schedule(t) must return a finite number > 0 at every step, "
                            f"got {shown(factor)} at t = {t}")
        if not (np.isfinite(factor) and factor > 0):
            raise ValueError(f"schedule(t) must return a finite number > 0 at every step, "
                             f"got {shown(factor)} at t = {t}")
        return lr * factor

    def step(self, w, grad, state, *, check: bool = True):
        """One update: returns ``(new_w, new_state)``; ``w``, ``grad``, ``state`` untouched.

        ``check=False`` skips the argument checks, for inner loops that checked once."""
        if check:
            w, grad = self._check_step(w, grad, state)
        t = state.t + 1
        hp = self.hyperparams if self.schedule is None else {**self.hyperparams,
                                                              "lr": self._lr_at(t)}
        new_w, *slots = self.spec.update(w, grad, t, *state[1:], **hp)
        return new_w, self.spec.state(t, *slots)

    def _check_step(self, w, grad, state):
        w = check_finite("w", w, min_ndim=1)
        grad = check_finite("grad", grad)
        if grad.shape != w.shape:
            raise ValueError(
                f"grad must have the same shape as w {w.shape}, got shape {grad.shape}"
            )
        if not isinstance(state, self.spec.state):
            raise TypeError(
                f"state must be the {self.spec.state.__name__} that {self.name}.init "
                f"returned, got {type(state).__name__}"
            )
        self._check_state_count(state)
        for name, value in zip(self.spec.slots, state[1:]):
            if not isinstance(value, np.ndarray):
                raise TypeError(f"state.{name} must be an array of w's shape {w.shape} (as "
                                f"{self.name}.init makes it), got {shown(value)}")
            if value.shape != w.shape:
                raise ValueError(
                    f"state.{name} has shape {value.shape} but w has shape {w.shape}; "
                    f"was the state made for other weights?"
                )
            check_finite(f"state.{name}", value)
            if name in self.spec.non_negative and np.any(value < 0):
                raise ValueError(f"state.{name} must be >= 0 (it accumulates squared "
                                 f"gradients), got {shown(value)}")
        self._check_broadcast(w)
        return w, grad

    def _check_state_count(self, state) -> None:
        """The step count of a state (one built by hand, too): a whole number >= 0."""
        t = state.t
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"state.t must be a whole number of steps taken (0 for a new "
                            f"state), got {shown(t)}")
        if t < 0:
            raise ValueError(f"state.t must be >= 0 (the number of steps taken), got {t}")

    def derive(self, quantity: str, state):
        """A derived quantity (e.g. ``"v_hat"``, ``"effective_lr"``) of ``state``."""
        if not isinstance(quantity, str) or quantity not in self.spec.derived:
            allowed = ", ".join(repr(k) for k in self.spec.derived) or "none"
            raise UnknownKeyError(
                f"{self.name} has no derived quantity {quantity!r}; it has: {allowed}")
        if not isinstance(state, self.spec.state):
            raise TypeError(f"state must be a {self.spec.state.__name__}, "
                            f"got {type(state).__name__}")
        self._check_state_count(state)
        if state.t < 1:
            raise ValueError(f"{quantity} is defined only after at least one step (state.t = 0)")
        hp = {**self.hyperparams, "lr": self._lr_at(state.t)}
        return self.spec.derived[quantity](state, hp)


def scheduled(optimizer: Optimizer, schedule: Callable[[int], float]) -> Optimizer:
    """The same optimizer with its learning rate multiplied by ``schedule(t)`` at step t
    (1-based), like torch.optim.lr_scheduler.LambdaLR; e.g. a step decay
    ``scheduled(adam(0.05), lambda t: 1.0 if t <= 1500 else 0.1)``. The value is checked
    on every step: a schedule that returns 0, a negative number or NaN at any step
    stops the run with an error naming that step."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a helpers optimizer, got {type(optimizer).__name__}")
    if optimizer.schedule is not None:
        raise ValueError("optimizer already has a schedule; combine both in one function")
    check_function_of_one("schedule", schedule, example="lambda t: 1.0 if t <= 1500 else 0.1")
    scheduled_optimizer = Optimizer(optimizer.spec, optimizer.hyperparams, schedule)
    scheduled_optimizer.lr_at(1)          # a schedule that fails at once fails here
    return scheduled_optimizer


# --- the optimizers -------------------------------------------------------------------
# Each block: the state, the rule (as in the paper), the registered factory.

class SGDState(NamedTuple):
    t: int                  # steps taken so far


def sgd_update(w, g, t, lr):
    """w <- w - lr g  (Robbins and Monro, 1951)."""
    return (w - lr * g,)


@register("sgd", display_name="SGD", state=SGDState, update=sgd_update, colour="#D55E00",
          hatch="//", citation="Robbins & Monro (1951)", roles={"lr": "lr"})
def sgd(lr):
    """Plain SGD: ``w <- w - lr * g`` (torch.optim.SGD)."""
    return {"lr": check_positive("lr", lr)}


class MomentumState(NamedTuple):
    t: int
    buf: np.ndarray         # velocity: running sum of past gradients, decayed by beta


def momentum_update(w, g, t, buf, lr, beta):
    """Heavy ball as torch.optim.SGD(momentum=beta, dampening=0) (Polyak, 1964):
    buf <- beta buf + g;  w <- w - lr buf. The buffer starts at 0, so its first value
    is g itself, exactly as torch's first step."""
    buf = beta * buf + g
    return w - lr * buf, buf


@register("momentum", display_name="Momentum", state=MomentumState, update=momentum_update,
          colour="#E69F00", hatch="\\\\", citation="Polyak (1964); Goh (2017)",
          roles={"lr": "lr", "beta": "momentum"})
def momentum(lr, beta=0.9):
    """Heavy-ball momentum as torch.optim.SGD(momentum=beta): ``buf <- beta*buf + g;
    w <- w - lr*buf``. At steady state it steps ``lr/(1-beta)`` times the gradient."""
    return {"lr": check_positive("lr", lr), "beta": check_beta("beta", beta)}


class AdaGradState(NamedTuple):
    t: int
    sum_sq: np.ndarray      # sum of all squared gradients so far


def adagrad_update(w, g, t, sum_sq, lr, eps):
    """s <- s + g^2;  w <- w - lr g / (sqrt(s) + eps)  (Duchi, Hazan and Singer, 2011)."""
    sum_sq = sum_sq + g * g
    return w - lr * g / (np.sqrt(sum_sq) + eps), sum_sq


def _adagrad_effective_lr(state, hp):
    return hp["lr"] / (np.sqrt(state.sum_sq) + hp["eps"])


@register("adagrad", display_name="AdaGrad", state=AdaGradState, update=adagrad_update,
          colour="#009E73", hatch="..", citation="Duchi, Hazan & Singer (2011)",
          roles={"lr": "lr", "eps": "eps"}, derived={"effective_lr": _adagrad_effective_lr},
          non_negative=("sum_sq",))
def adagrad(lr, eps=1e-10):
    """AdaGrad as torch.optim.Adagrad (no lr decay, zero initial accumulator):
    ``s <- s + g^2; w <- w - lr * g / (sqrt(s) + eps)``."""
    return {"lr": check_positive("lr", lr), "eps": check_positive("eps", eps)}


class RMSPropState(NamedTuple):
    t: int
    v: np.ndarray           # running mean of squared gradients


def rmsprop_update(w, g, t, v, lr, beta, eps):
    """v <- beta v + (1 - beta) g^2;  w <- w - lr g / (sqrt(v) + eps)
    (Tieleman and Hinton, 2012)."""
    v = beta * v + (1 - beta) * g * g
    return w - lr * g / (np.sqrt(v) + eps), v


def _rmsprop_effective_lr(state, hp):
    return hp["lr"] / (np.sqrt(state.v) + hp["eps"])


@register("rmsprop", display_name="RMSProp", state=RMSPropState, update=rmsprop_update,
          colour="#CC79A7", hatch="xx", citation="Tieleman & Hinton (2012)",
          roles={"lr": "lr", "beta": "second_moment", "eps": "eps"},
          derived={"effective_lr": _rmsprop_effective_lr}, non_negative=("v",))
def rmsprop(lr, beta=0.99, eps=1e-8):
    """RMSProp as torch.optim.RMSprop (``beta`` is torch's ``alpha``):
    ``v <- beta*v + (1-beta)*g^2; w <- w - lr * g / (sqrt(v) + eps)``."""
    return {"lr": check_positive("lr", lr), "beta": check_beta("beta", beta),
            "eps": check_positive("eps", eps)}


class AdamState(NamedTuple):
    t: int
    m: np.ndarray           # first moment: running mean of gradients
    v: np.ndarray           # second moment: running mean of squared gradients


def adam_update(w, g, t, m, v, lr, beta1, beta2, eps, bias_correction):
    """Kingma and Ba (2015), Algorithm 1."""
    m = beta1 * m + (1 - beta1) * g          # m_t = b1 m_{t-1} + (1 - b1) g_t
    v = beta2 * v + (1 - beta2) * g * g      # v_t = b2 v_{t-1} + (1 - b2) g_t^2
    if bias_correction:
        m_hat = m / (1 - beta1 ** t)         # undo the pull towards the zero start
        v_hat = v / (1 - beta2 ** t)
    else:
        m_hat, v_hat = m, v
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_m_hat(state, hp):
    return state.m / (1 - hp["beta1"] ** state.t) if hp["bias_correction"] else state.m


def _adam_v_hat(state, hp):
    return state.v / (1 - hp["beta2"] ** state.t) if hp["bias_correction"] else state.v


def _adam_effective_lr(state, hp):
    return hp["lr"] / (np.sqrt(_adam_v_hat(state, hp)) + hp["eps"])


ADAM_DERIVED = {"m_hat": _adam_m_hat, "v_hat": _adam_v_hat, "effective_lr": _adam_effective_lr}


def _adam_hyperparameters(lr, beta1, beta2, eps, bias_correction):
    return {"lr": check_positive("lr", lr), "beta1": check_beta("beta1", beta1),
            "beta2": check_beta("beta2", beta2), "eps": check_positive("eps", eps),
            "bias_correction": check_bool("bias_correction", bias_correction)}


@register("adam", display_name="Adam", state=AdamState, update=adam_update, colour="#0072B2",
          hatch="", citation="Kingma & Ba (2015)",
          roles={"lr": "lr", "beta1": "momentum", "beta2": "second_moment", "eps": "eps",
                 "bias_correction": "switch"}, derived=ADAM_DERIVED, non_negative=("v",))
def adam(lr, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True):
    """Adam (Kingma and Ba, Algorithm 1; torch.optim.Adam):
    ``m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  m_hat = m/(1-b1^t);
    v_hat = v/(1-b2^t);  w <- w - lr * m_hat / (sqrt(v_hat) + eps)``.

    With ``bias_correction=False`` the raw ``m`` and ``v`` are used (an ablation)."""
    return _adam_hyperparameters(lr, beta1, beta2, eps, bias_correction)


class SignState(NamedTuple):
    t: int


def sign_update(w, g, t, lr):
    """w <- w - lr sign(g); sign(0) = 0, so a weight without a gradient does not move."""
    return (w - lr * np.sign(g),)


@register("sign_descent", display_name="Sign descent", state=SignState, update=sign_update,
          colour="#56B4E9", hatch="--", citation="Bernstein et al. (2018)",
          roles={"lr": "lr"})
def sign_descent(lr):
    """Sign descent: ``w <- w - lr * sign(g)``. For a non-zero gradient it is Adam with
    beta1 = beta2 = 0 and eps = 0: every step has size lr, whatever the gradient's."""
    return {"lr": check_positive("lr", lr)}


class SignumState(NamedTuple):
    t: int
    m: np.ndarray           # momentum: running mean of gradients


def signum_update(w, g, t, m, lr, beta):
    """Signum, sign descent with momentum (Bernstein et al., 2018):
    m <- beta m + (1 - beta) g;  w <- w - lr sign(m). Momentum keeps a rare weight moving
    on the steps after its gradient; each step still has size lr."""
    m = beta * m + (1 - beta) * g
    return w - lr * np.sign(m), m


@register("signum", display_name="Signum", state=SignumState, update=signum_update,
          colour="#000000", hatch="++", citation="Bernstein et al. (2018)",
          roles={"lr": "lr", "beta": "momentum"})
def signum(lr, beta=0.9):
    """Signum (signSGD with momentum): ``m <- beta*m + (1-beta)*g; w <- w - lr*sign(m)``."""
    return {"lr": check_positive("lr", lr), "beta": check_beta("beta", beta)}


def select(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false``: ``np.where`` on arrays.
    (The compiled kernels give it a version for single numbers, where ``np.where`` would
    return a 0-d array.)"""
    return np.where(condition, if_true, if_false)


def lazy_adam_update(w, g, t, m, v, lr, beta1, beta2, eps, bias_correction):
    """Lazy (sparse) Adam, as torch.optim.SparseAdam and TensorFlow's LazyAdam: Adam's
    update, applied only to weights whose gradient is non-zero on this step; the others
    keep their moments and do not move. Bias correction uses the global step t."""
    present = g != 0
    m = select(present, beta1 * m + (1 - beta1) * g, m)
    v = select(present, beta2 * v + (1 - beta2) * g * g, v)
    if bias_correction:
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
    else:
        m_hat, v_hat = m, v
    return select(present, w - lr * m_hat / (np.sqrt(v_hat) + eps), w), m, v


@register("lazy_adam", display_name="Lazy Adam", state=AdamState, update=lazy_adam_update,
          colour="#999999", hatch="oo", citation="torch.optim.SparseAdam; Kingma & Ba (2015)",
          roles={"lr": "lr", "beta1": "momentum", "beta2": "second_moment", "eps": "eps",
                 "bias_correction": "switch"}, derived=ADAM_DERIVED, non_negative=("v",))
def lazy_adam(lr, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True):
    """Lazy Adam: Adam's moments and step only where the gradient is non-zero (the usual
    choice for embedding tables, whose rows are mostly untouched by a batch)."""
    return _adam_hyperparameters(lr, beta1, beta2, eps, bias_correction)


class NormalizedGDState(NamedTuple):
    t: int


def normalized_gd_update(w, g, t, lr, eps):
    """Normalised gradient descent: w <- w - lr g / (||g|| + eps), the norm taken over
    each run's whole parameter vector (the last axis). Every step has length lr, but
    along the gradient's direction, so a coordinate with a small gradient still moves
    little: it normalises the step, not each coordinate."""
    norm = np.sqrt(np.sum(g * g, axis=-1, keepdims=True))
    return (w - lr * g / (norm + eps),)


@register("normalized_gd", display_name="Normalised GD", state=NormalizedGDState,
          update=normalized_gd_update, colour="#F0E442", hatch="\\\\\\\\",
          citation="Nesterov (1984); Kunstner et al. (2024)", roles={"lr": "lr"},
          elementwise=False)
def normalized_gd(lr, eps=1e-12):
    """Normalised GD: ``w <- w - lr * g / (||g|| + eps)`` (one norm per run)."""
    return {"lr": check_positive("lr", lr), "eps": check_positive("eps", eps)}


# --- views of the registry, for code that wants one dict --------------------------------

DISPLAY_NAMES = {name: spec.display_name for name, spec in REGISTRY.items()}
STATE_TYPES = {name: spec.state for name, spec in REGISTRY.items()}


def optimizer_from_roles(name: str, **by_role) -> Optimizer:
    """The optimizer ``name`` with each hyperparameter set from the value given for its
    role, e.g. ``optimizer_from_roles("momentum", lr=0.1, momentum=0.8)`` is
    ``momentum(0.1, beta=0.8)``. Roles the optimizer does not use are ignored."""
    spec = get_spec(name)
    unknown = set(by_role) - set(ROLES)
    if unknown:
        raise UnknownKeyError(f"roles {sorted(unknown)} are unknown; known: {ROLES}")
    kwargs = {parameter: by_role[role] for parameter, role in spec.roles.items()
              if role in by_role}
    return spec.factory(**kwargs)


def check_optimizer(name: str, value) -> Optimizer:
    """``value`` if it is an :class:`Optimizer`, else a TypeError naming ``name``."""
    if not isinstance(value, Optimizer):
        raise TypeError(f"{name} must be made by helpers (e.g. helpers.sgd(lr=0.05)), "
                        f"got {type(value).__name__}")
    return value


def kernel_hyperparameters(optimizer: Optimizer) -> np.ndarray:
    """The hyperparameters as the compiled loop reads them: floats in the rule's order
    (a switch such as bias_correction as 1.0 or 0.0). Each must be a single number."""
    values = []
    for name in optimizer.spec.hyperparameters:
        value = optimizer.hyperparams[name]
        values.append(float(value) if isinstance(value, (bool, np.bool_))
                      else check_real(name, value))
    return np.array(values)
