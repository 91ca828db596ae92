"""Six optimizers as small, pure pieces: ``init`` gives a state, ``step`` gives new ones.

Every optimizer follows torch.optim's defaults and formulas, so the numbers a student
meets here are the numbers PyTorch gives for the same gradients::

    opt = adam(lr=0.05)
    state = opt.init(w)                       # a named tuple: AdamState(t, m, v)
    w, state = opt.step(w, grad, state)       # inputs are never modified

``w`` may carry leading axes of independent runs, shape ``(..., n_params)``, and a
hyperparameter may be an array that broadcasts against ``w``, e.g. ``lr`` of shape
``(k, 1)`` with ``w`` of shape ``(k, 6)``: k learning rates trained side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from ._checks import check_beta, check_finite, check_positive


# --- states: what each optimizer remembers between steps ----------------------------

class SGDState(NamedTuple):
    t: int                  # steps taken so far


class MomentumState(NamedTuple):
    t: int
    buf: np.ndarray         # velocity: running sum of past gradients, decayed by beta


class AdaGradState(NamedTuple):
    t: int
    sum_sq: np.ndarray      # sum of all squared gradients so far


class RMSPropState(NamedTuple):
    t: int
    v: np.ndarray           # running mean of squared gradients


class AdamState(NamedTuple):
    t: int
    m: np.ndarray           # first moment: running mean of gradients
    v: np.ndarray           # second moment: running mean of squared gradients


class SignState(NamedTuple):
    t: int


# --- the updates, one function each, in the papers' notation -------------------------

def _sgd_update(w, g, state, *, lr):
    return w - lr * g, SGDState(state.t + 1)


def _momentum_update(w, g, state, *, lr, beta):
    # Heavy ball as torch.optim.SGD(momentum=beta, dampening=0): the buffer starts at
    # zero, so its first value is g itself, exactly as torch's first step.
    buf = beta * state.buf + g
    return w - lr * buf, MomentumState(state.t + 1, buf)


def _adagrad_update(w, g, state, *, lr, eps):
    sum_sq = state.sum_sq + g * g
    return w - lr * g / (np.sqrt(sum_sq) + eps), AdaGradState(state.t + 1, sum_sq)


def _rmsprop_update(w, g, state, *, lr, beta, eps):
    v = beta * state.v + (1 - beta) * g * g
    return w - lr * g / (np.sqrt(v) + eps), RMSPropState(state.t + 1, v)


def _adam_update(w, g, state, *, lr, beta1, beta2, eps, bias_correction):
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * g          # m_t = b1 m_{t-1} + (1 - b1) g_t
    v = beta2 * state.v + (1 - beta2) * g * g      # v_t = b2 v_{t-1} + (1 - b2) g_t^2
    if bias_correction:
        m_hat = m / (1 - beta1 ** t)               # undo the pull towards the zero start
        v_hat = v / (1 - beta2 ** t)
    else:
        m_hat, v_hat = m, v
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(t, m, v)


def _sign_update(w, g, state, *, lr):
    # sign(0) = 0: a weight whose gradient is exactly zero does not move.
    return w - lr * np.sign(g), SignState(state.t + 1)


# --- quantities derived from a state (for plots: Adam's v_hat, effective LR) ---------

def _require_steps(state, what):
    if state.t < 1:
        raise ValueError(f"{what} is defined only after at least one step (state.t = 0)")


def _adam_m_hat(state, hp):
    _require_steps(state, "m_hat")
    return state.m / (1 - hp["beta1"] ** state.t) if hp["bias_correction"] else state.m


def _adam_v_hat(state, hp):
    _require_steps(state, "v_hat")
    return state.v / (1 - hp["beta2"] ** state.t) if hp["bias_correction"] else state.v


def _adam_effective_lr(state, hp):
    return hp["lr"] / (np.sqrt(_adam_v_hat(state, hp)) + hp["eps"])


def _rmsprop_effective_lr(state, hp):
    _require_steps(state, "effective_lr")
    return hp["lr"] / (np.sqrt(state.v) + hp["eps"])


def _adagrad_effective_lr(state, hp):
    _require_steps(state, "effective_lr")
    return hp["lr"] / (np.sqrt(state.sum_sq) + hp["eps"])


# --- the optimizer object -------------------------------------------------------------

@dataclass(frozen=True)
class Optimizer:
    """An optimizer: a name, its hyperparameters, and pure ``init``/``step`` functions.

    ``derived`` names quantities computed from a state, such as Adam's ``v_hat`` and
    ``effective_lr``; read them with :meth:`derive`.
    """

    name: str
    hyperparams: Mapping[str, object]
    _init: Callable = field(repr=False)
    _update: Callable = field(repr=False)
    derived: Mapping[str, Callable] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        def shown(value):
            if isinstance(value, np.ndarray):
                return f"array{value.shape}"
            return repr(value)
        args = ", ".join(f"{k}={shown(v)}" for k, v in self.hyperparams.items())
        return f"{self.name}({args})"

    @property
    def label(self) -> str:
        """A short label for legends, e.g. ``Adam (lr=0.05)``."""
        lr = self.hyperparams["lr"]
        lr_text = f"{lr:g}" if isinstance(lr, float) else "array"
        return f"{DISPLAY_NAMES[self.name]} (lr={lr_text})"

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
        """The starting state for weights ``w`` of shape ``(..., n_params)``."""
        w = check_finite("w", w, min_ndim=1)
        self._check_broadcast(w)
        return self._init(w)

    def step(self, w, grad, state):
        """One update: returns ``(new_w, new_state)``; ``w``, ``grad``, ``state`` untouched."""
        w = check_finite("w", w, min_ndim=1)
        grad = check_finite("grad", grad)
        if grad.shape != w.shape:
            raise ValueError(
                f"grad must have the same shape as w {w.shape}, got shape {grad.shape}"
            )
        if not isinstance(state, self._state_type):
            raise ValueError(
                f"state must be the {self._state_type.__name__} that {self.name}.init "
                f"returned, got {type(state).__name__}"
            )
        for name, value in zip(state._fields, state):
            if isinstance(value, np.ndarray) and value.shape != w.shape:
                raise ValueError(
                    f"state.{name} has shape {value.shape} but w has shape {w.shape}; "
                    f"was the state made for other weights?"
                )
        self._check_broadcast(w)
        return self._update(w, grad, state, **self.hyperparams)

    @property
    def _state_type(self):
        return STATE_TYPES[self.name]

    def derive(self, quantity: str, state):
        """A derived quantity (e.g. ``"v_hat"``, ``"effective_lr"``) of ``state``."""
        if quantity not in self.derived:
            allowed = ", ".join(repr(k) for k in self.derived) or "none"
            raise ValueError(
                f"{self.name} has no derived quantity {quantity!r}; it has: {allowed}"
            )
        return self.derived[quantity](state, self.hyperparams)


STATE_TYPES = {
    "sgd": SGDState, "momentum": MomentumState, "adagrad": AdaGradState,
    "rmsprop": RMSPropState, "adam": AdamState, "sign_descent": SignState,
}

DISPLAY_NAMES = {
    "sgd": "SGD", "momentum": "Momentum", "adagrad": "AdaGrad",
    "rmsprop": "RMSProp", "adam": "Adam", "sign_descent": "Sign descent",
}


def _zeros_like(w):
    return np.zeros_like(w, dtype=float)


def sgd(lr) -> Optimizer:
    """Plain SGD: ``w <- w - lr * g`` (torch.optim.SGD)."""
    hp = {"lr": check_positive("lr", lr)}
    return Optimizer("sgd", hp, lambda w: SGDState(0), _sgd_update)


def momentum(lr, beta=0.9) -> Optimizer:
    """Heavy-ball momentum as torch.optim.SGD(momentum=beta): ``buf <- beta*buf + g;
    w <- w - lr*buf``. At steady state it steps ``lr/(1-beta)`` times the gradient."""
    hp = {"lr": check_positive("lr", lr), "beta": check_beta("beta", beta)}
    return Optimizer("momentum", hp, lambda w: MomentumState(0, _zeros_like(w)),
                     _momentum_update)


def adagrad(lr, eps=1e-10) -> Optimizer:
    """AdaGrad as torch.optim.Adagrad (no lr decay, zero initial accumulator):
    ``s <- s + g^2; w <- w - lr * g / (sqrt(s) + eps)``."""
    hp = {"lr": check_positive("lr", lr), "eps": check_positive("eps", eps)}
    return Optimizer("adagrad", hp, lambda w: AdaGradState(0, _zeros_like(w)),
                     _adagrad_update, {"effective_lr": _adagrad_effective_lr})


def rmsprop(lr, beta=0.99, eps=1e-8) -> Optimizer:
    """RMSProp as torch.optim.RMSprop (``beta`` is torch's ``alpha``):
    ``v <- beta*v + (1-beta)*g^2; w <- w - lr * g / (sqrt(v) + eps)``."""
    hp = {"lr": check_positive("lr", lr), "beta": check_beta("beta", beta),
          "eps": check_positive("eps", eps)}
    return Optimizer("rmsprop", hp, lambda w: RMSPropState(0, _zeros_like(w)),
                     _rmsprop_update, {"effective_lr": _rmsprop_effective_lr})


def adam(lr, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True) -> Optimizer:
    """Adam (Kingma and Ba, Algorithm 1; torch.optim.Adam):
    ``m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  m_hat = m/(1-b1^t);
    v_hat = v/(1-b2^t);  w <- w - lr * m_hat / (sqrt(v_hat) + eps)``.

    With ``bias_correction=False`` the raw ``m`` and ``v`` are used (an ablation)."""
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise ValueError(f"bias_correction must be True or False, got {bias_correction!r}")
    hp = {"lr": check_positive("lr", lr), "beta1": check_beta("beta1", beta1),
          "beta2": check_beta("beta2", beta2), "eps": check_positive("eps", eps),
          "bias_correction": bool(bias_correction)}
    derived = {"m_hat": _adam_m_hat, "v_hat": _adam_v_hat,
               "effective_lr": _adam_effective_lr}
    return Optimizer("adam", hp, lambda w: AdamState(0, _zeros_like(w), _zeros_like(w)),
                     _adam_update, derived)


def sign_descent(lr) -> Optimizer:
    """Sign descent: ``w <- w - lr * sign(g)``. For a non-zero gradient it is Adam with
    beta1 = beta2 = 0 and eps = 0: every step has size lr, whatever the gradient's."""
    hp = {"lr": check_positive("lr", lr)}
    return Optimizer("sign_descent", hp, lambda w: SignState(0), _sign_update)



def scheduled(optimizer: Optimizer, schedule: Callable[[int], float], name: str = "") -> Optimizer:
    """The same optimizer with its learning rate multiplied by ``schedule(t)`` at step t
    (1-based), like torch.optim.lr_scheduler.LambdaLR; e.g. a step decay
    ``scheduled(adam(0.05), lambda t: 1.0 if t <= 1500 else 0.1)``."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a helpers optimizer, got {type(optimizer).__name__}")
    if not callable(schedule):
        raise ValueError(f"schedule must be a function of the step t, got {schedule!r}")
    first = schedule(1)
    if not (isinstance(first, (int, float, np.floating)) and np.isfinite(first) and first > 0):
        raise ValueError(f"schedule(t) must return a finite number > 0, got {first!r} at t = 1")
    inner_update, inner_derived = optimizer._update, dict(optimizer.derived)

    def update(w, g, state, *, lr, **rest):
        return inner_update(w, g, state, lr=lr * schedule(state.t + 1), **rest)

    def at_step(function):
        def derive(state, hp):
            return function(state, {**hp, "lr": hp["lr"] * schedule(max(state.t, 1))})
        return derive

    return Optimizer(optimizer.name, optimizer.hyperparams, optimizer._init, update,
                     {key: at_step(f) for key, f in inner_derived.items()})
