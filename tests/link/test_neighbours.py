"""Embedding neighbours: exact below the size limit, the cell index above it."""

from __future__ import annotations

import numpy as np
import pytest

from signalering.link.cluster import ClusterSettings
from signalering.link.neighbours import neighbour_pairs

THRESHOLDS = (ClusterSettings.cosine, ClusterSettings.contact_cosine)


def ad_like_vectors(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    """Unit vectors in families of 1-8 around 40 topics, with cosines spread around 0.85."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, dim))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    family = np.repeat(np.arange(n), rng.integers(1, 9, size=n))[:n]
    n_fam = family[-1] + 1
    spread = np.sqrt(rng.uniform(0.3, 0.8, size=(n_fam, 1)) / dim)
    centres = topics[rng.integers(0, 40, size=n_fam)] + spread * rng.standard_normal((n_fam, dim))
    member = np.sqrt(rng.uniform(0.02, 0.3, size=(n, 1)) / dim)
    vectors = centres[family] + member * rng.standard_normal((n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def brute_force(vectors: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    sims = vectors @ vectors.T
    left, right = np.nonzero(np.triu(sims >= threshold, k=1))
    return set(zip(left.tolist(), right.tolist(), strict=True))


def as_set(pairs: tuple[np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    return set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_below_the_size_limit_the_pairs_are_exactly_those_of_brute_force(threshold: float) -> None:
    vectors = ad_like_vectors(1500)
    expected = brute_force(vectors, threshold)
    assert len(expected) > 1000
    assert as_set(neighbour_pairs(vectors, threshold=threshold)) == expected


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_the_cell_index_finds_99_percent_of_the_brute_force_pairs(threshold: float) -> None:
    vectors = ad_like_vectors(4000, seed=1)
    expected = brute_force(vectors, threshold)
    found = as_set(neighbour_pairs(vectors, threshold=threshold, exact_limit=1000))
    assert len(expected) > 5000
    assert found <= expected  # every reported pair is a true pair: scores are exact
    assert len(found) >= 0.99 * len(expected)


def test_pairs_come_once_with_the_smaller_index_first() -> None:
    vectors = ad_like_vectors(3000, seed=2)
    left, right = neighbour_pairs(vectors, threshold=0.85, exact_limit=500)
    assert len(left) > 1000
    assert np.all(left < right)
    assert len(set(zip(left.tolist(), right.tolist(), strict=True))) == len(left)


def test_fewer_than_two_vectors_have_no_pairs() -> None:
    for n in (0, 1):
        left, right = neighbour_pairs(np.ones((n, 8), dtype=np.float32) / np.sqrt(8))
        assert len(left) == len(right) == 0
