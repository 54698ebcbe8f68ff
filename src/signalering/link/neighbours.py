"""Embedding neighbours: pairs of posts whose vectors have cosine >= a threshold.

Up to ``EXACT_LIMIT`` posts the search is exact (blockwise dot products). Above it,
an inverted-file index keeps it sub-quadratic: a few k-means steps on a sample give
about sqrt(n) cells, and each post is stored in its nearest cell only. Exact dot
products run inside each cell; a post near the border of a second cell (score gap
``<= BORDER``) is also compared with that cell's members, as a query, not stored twice,
so the work grows by the border fraction rather than by its square.
"""

from __future__ import annotations

import logging

import numpy as np

from .minhash import unique_pairs

logger = logging.getLogger(__name__)

EXACT_LIMIT = 12_000
BORDER = 0.05  # a post this close to its second cell is also compared with that cell
_BLOCK = 2048
_ASSIGN_CHUNK = 8192


def _pairs_within(vectors: np.ndarray, ids: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Pairs among ``ids`` (upper triangle: each pair once, no self pairs)."""
    found = []
    for s in range(0, len(ids), _BLOCK):
        block = vectors[ids[s : s + _BLOCK]]
        sims = block @ vectors[ids[s:]].T
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols > rows
        found.append(np.stack([ids[s + rows[keep]], ids[s + cols[keep]]], axis=1))
    return found


def _pairs_between(
    vectors: np.ndarray, queries: np.ndarray, members: np.ndarray, threshold: float
) -> list[np.ndarray]:
    """Pairs (query, member) across two disjoint id sets."""
    stored = vectors[members]
    found = []
    for s in range(0, len(queries), _BLOCK):
        sims = vectors[queries[s : s + _BLOCK]] @ stored.T
        rows, cols = np.nonzero(sims >= threshold)
        found.append(np.stack([queries[s + rows], members[cols]], axis=1))
    return found


def _kmeans(vectors: np.ndarray, k: int, *, iterations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), size=min(len(vectors), 40 * k), replace=False)]
    centroids = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(iterations):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        filled = norms[:, 0] > 0
        centroids[filled] = sums[filled] / norms[filled]
    return centroids


def _assign(
    vectors: np.ndarray, centroids: np.ndarray, border: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest cell, and its second cell when within ``border`` (else -1)."""
    n = len(vectors)
    first = np.empty(n, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    for s in range(0, n, _ASSIGN_CHUNK):
        scores = vectors[s : s + _ASSIGN_CHUNK] @ centroids.T
        rows = np.arange(len(scores))
        top = scores.argmax(axis=1)
        best = scores[rows, top]
        scores[rows, top] = -np.inf
        runner = scores.argmax(axis=1)
        first[s : s + _ASSIGN_CHUNK] = top
        near = best - scores[rows, runner] <= border
        second[s : s + _ASSIGN_CHUNK] = np.where(near, runner, -1)
    return first, second


def neighbour_pairs(
    vectors: np.ndarray,
    *,
    threshold: float = 0.85,
    seed: int = 0,
    exact_limit: int = EXACT_LIMIT,
    border: float = BORDER,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of unit-length rows with cosine >= ``threshold``.

    Exact up to ``exact_limit`` rows; above it, the inverted-file search described above.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n <= exact_limit:
        found = _pairs_within(vectors, np.arange(n), threshold)
    else:
        k = max(2, int(np.sqrt(n)))
        first, second = _assign(vectors, _kmeans(vectors, k, iterations=6, seed=seed), border)
        order = np.argsort(first, kind="stable")
        starts = np.searchsorted(first[order], np.arange(k + 1))
        guests = np.flatnonzero(second >= 0)
        guest_order = guests[np.argsort(second[guests], kind="stable")]
        guest_starts = np.searchsorted(second[guest_order], np.arange(k + 1))
        found = []
        for cell in range(k):
            members = order[starts[cell] : starts[cell + 1]]
            if not len(members):
                continue
            if len(members) > 1:
                found.extend(_pairs_within(vectors, members, threshold))
            queries = guest_order[guest_starts[cell] : guest_starts[cell + 1]]
            if len(queries):
                found.extend(_pairs_between(vectors, queries, members, threshold))
        logger.debug("neighbours: %s cells, %s border queries", k, len(guests))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    return unique_pairs(pairs[:, 0], pairs[:, 1], n)
