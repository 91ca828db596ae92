"""The compiled kernels against plain NumPy formulas on random inputs."""

import numpy as np
import pytest

from helpers import REFERENCE
from helpers.kernels import batch_gradient


@pytest.mark.parametrize("S, G, n, B", [(1, 1, 6, 32), (5, 3, 6, 32), (4, 2, 3, 7)])
def test_batch_gradient_matches_the_matrix_formula(S, G, n, B):
    rng = np.random.default_rng(S * 100 + G)
    tokens = rng.integers(0, 2 ** 32, size=(S, n, B), dtype=np.uint32)
    p = np.linspace(1.0, 0.01, n)                   # p = 1 (always present) included
    thresholds = np.floor(p * 2.0 ** 32).astype(np.uint64)
    w = rng.normal(size=(S, G, n))
    true_w = rng.normal(size=n)
    noise = rng.normal(size=(S, B))
    X = (tokens < thresholds[:, None]).astype(float)            # (S, n, B)
    y = np.einsum("sij,i->sj", X, true_w) + noise
    expected = np.einsum("sij,sgj->sgi", X, np.einsum("sij,sgi->sgj", X, w) - y[:, None]) / B

    grad = np.full((S, G, n), np.nan)
    counts = np.zeros((S, G, n), dtype=np.int64)
    counts[0, 0, 0] = 7                                          # counts accumulate
    batch_gradient(tokens, thresholds, w, true_w, noise, grad, counts, REFERENCE.grad_zero_tol)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)
    nonzero = (np.abs(expected) > REFERENCE.grad_zero_tol).astype(int)
    nonzero[0, 0, 0] += 7
    np.testing.assert_array_equal(counts, nonzero)
    assert np.all(X[:, 0] == 1.0)                                # p = 1: in every sample


def test_an_absent_token_gets_exactly_zero_gradient():
    tokens = np.full((1, 2, 4), 2 ** 32 - 1, dtype=np.uint32)
    thresholds = np.array([2 ** 32, 0], dtype=np.uint64)        # token 1 never present
    grad, counts = np.empty((1, 1, 2)), np.zeros((1, 1, 2), dtype=np.int64)
    batch_gradient(tokens, thresholds, np.zeros((1, 1, 2)), np.ones(2), np.zeros((1, 4)),
                   grad, counts, 1e-9)
    assert grad[0, 0].tolist() == [-1.0, 0.0]
    assert counts[0, 0].tolist() == [1, 0]
