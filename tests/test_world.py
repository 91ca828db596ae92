import numpy as np
import pytest

from helpers import FREQUENCIES, REFERENCE_WORLD, TOKENS, make_rng, make_world


def test_reference_world_constants():
    assert REFERENCE_WORLD.tokens == TOKENS
    assert REFERENCE_WORLD.frequencies.tolist() == list(FREQUENCIES)
    assert REFERENCE_WORLD.true_weights.tolist() == [1.0] * 6
    assert (REFERENCE_WORLD.batch_size, REFERENCE_WORLD.noise_std) == (32, 0.1)
    # four orders of magnitude between the most and the least frequent token
    p = REFERENCE_WORLD.frequencies
    assert p.max() / p.min() == pytest.approx(950)


def test_world_is_read_only():
    with pytest.raises(ValueError):
        REFERENCE_WORLD.frequencies[0] = 0.5


def test_legacy_sampling_follows_the_reference_protocol_bit_for_bit():
    rng, manual = make_rng(42), np.random.RandomState(42)
    for _ in range(3):
        X, y = REFERENCE_WORLD.sample_batch(rng)
        X_ref = (manual.rand(32, 6) < np.array(FREQUENCIES)).astype(float)
        y_ref = X_ref @ np.ones(6) + 0.1 * manual.randn(32)
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("legacy", [True, False])
def test_sampled_frequencies_match_p_within_statistical_tolerance(legacy):
    rng = make_rng(123, legacy=legacy)
    X = np.concatenate([REFERENCE_WORLD.sample_batch(rng)[0] for _ in range(2000)])
    n = X.shape[0]                                     # 64,000 samples
    p = REFERENCE_WORLD.frequencies
    z = (X.mean(axis=0) - p) / np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(z) < 4.5), z


def test_per_batch_appearance_matches_sampled_batches():
    rng = make_rng(5, legacy=False)
    present = np.array([REFERENCE_WORLD.sample_batch(rng)[0].any(axis=0) for _ in range(4000)])
    q = REFERENCE_WORLD.per_batch_appearance()
    np.testing.assert_allclose(q, 1 - (1 - REFERENCE_WORLD.frequencies) ** 32)
    z = (present.mean(axis=0) - q) / np.sqrt(np.maximum(q * (1 - q), 1e-12) / 4000)
    assert np.all(np.abs(z) < 4.5), z


def test_noise_has_the_stated_standard_deviation():
    world = make_world(true_weights=0.0)
    rng = make_rng(9, legacy=False)
    y = np.concatenate([world.sample_batch(rng)[1] for _ in range(1000)])
    assert abs(y.std() - 0.1) < 0.005


def test_expected_hessian():
    H = REFERENCE_WORLD.expected_hessian()
    p = np.array(FREQUENCIES)
    assert np.allclose(np.diag(H), p)
    assert H[0, 5] == pytest.approx(0.95 * 0.001)
    # matches the empirical E[x x^T]
    rng = make_rng(3, legacy=False)
    X = np.concatenate([REFERENCE_WORLD.sample_batch(rng)[0] for _ in range(3000)])
    np.testing.assert_allclose(X.T @ X / len(X), H, atol=0.01)


def test_custom_world_names_its_tokens():
    world = make_world([0.5, 0.1])
    assert world.tokens == ("token0", "token1")
    assert world.token_index("token1") == 1
