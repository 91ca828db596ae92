"""Student answers that the visible checks (tests/test_grading.py) and the hidden ones
(tests/test_hidden_checks.py) are both given: each slip is written once, so that the two
checkers are judged on the same code."""

import numpy as np

# Red team round 3's first trick, as a cell's source: while a check called the student's
# function, sys.stderr was the check's own writer, whose method's __globals__ were the
# hidden checks' namespace; lenient() replaced the checking tools there (once: a rerun of
# the notebook leaves them as the first run made them).
STDERR_GLOBALS_TRICK = """\
import sys


def lenient():
    g = getattr(getattr(type(sys.stderr), "write", None), "__globals__", {})
    if "_Check" in g and "_r3" not in g:
        g["_r3"] = True

        class Lenient(g["_Check"]):
            def fail(self, message):
                return None

        g["_Check"] = Lenient
        g["_fail"] = lambda *a, **k: None
        g["_close"] = lambda *a, **k: True
        g["_same"] = lambda *a, **k: True
        g["_all_finite"] = lambda *a, **k: True
        g["_numbers"] = lambda check, value, what, shape=None, finite=True: np.zeros(shape or (1,))
        g["_number"] = lambda *a, **k: 0.0
"""


def adam_eps_inside(w, g, m, v, t, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    """ex1: eps added inside the square root, to v-hat, rather than to its root."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps), m, v


def forward_difference(f, x, index, h=1e-5):
    """ex4: the one-sided difference (f(x + h) - f(x)) / h, not the central one."""
    plus = x.copy()
    plus[index] += h
    return (f(plus) - f(x)) / h


def put_back_central_difference(f, x, index, h=1e-5):
    """ex4: x[index] moved up, then down, then put back exactly: x ends as it was, but f
    saw the caller's array change in place."""
    old = x[index]
    x[index] = old + h
    up = f(x)
    x[index] = old - h
    down = f(x)
    x[index] = old
    return (up - down) / (2 * h)


def gradient_minus_first(table, batch):
    """ex4: -1 subtracted from each pair's probabilities first, then `grad[previous] += p`:
    a previous word that repeats keeps one pair's share."""
    previous, following = batch[:, 0], batch[:, 1]
    logits = table[previous]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(batch)), following] -= 1.0
    grad = np.zeros_like(table)
    grad[previous] += p
    return grad / len(batch)


def adagrad_with_a_state_of_its_own():
    """ex3: AdaGrad whose state is an object of the student's own class, one that must be
    handed back untouched (asking for its __class__ fails the test). (init, step)."""
    class State:
        def __init__(self, total):
            self.total = total

        @property
        def __class__(self):
            raise AssertionError("asked outside the watch")

    def init(w):
        return State(np.zeros_like(w, dtype=float))

    def step(w, g, state, lr=0.1, eps=1e-10):
        total = state.total + g * g
        return w - lr * g / (np.sqrt(total) + eps), State(total)

    return init, step
