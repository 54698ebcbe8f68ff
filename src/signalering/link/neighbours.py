"""Embedding neighbours: pairs of posts whose vectors have cosine >= a threshold.

Up to ``EXACT_LIMIT`` posts the search is exact (blockwise dot products). Above it,
an inverted-file index keeps it sub-quadratic: a few k-means steps on a sample give
about sqrt(n) cells, each post lives in its nearest cell (and in its second one when
it sits near the border), and exact dot products run only inside a cell.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

EXACT_LIMIT = 12_000
_BLOCK = 2048
_BORDER = 0.05  # a post this close to its second cell is searched there as well


def _pairs_within(vectors: np.ndarray, ids: np.ndarray, threshold: float) -> list[np.ndarray]:
    found = []
    for s in range(0, len(ids), _BLOCK):
        block = vectors[ids[s : s + _BLOCK]]
        sims = block @ vectors[ids[s:]].T
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols > rows  # the upper triangle: each pair once, no self pairs
        found.append(np.stack([ids[s + rows[keep]], ids[s + cols[keep]]], axis=1))
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


def neighbour_pairs(
    vectors: np.ndarray, *, threshold: float = 0.85, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of unit-length rows with cosine >= ``threshold``."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n <= EXACT_LIMIT:
        found = _pairs_within(vectors, np.arange(n), threshold)
    else:
        k = int(np.sqrt(n))
        centroids = _kmeans(vectors, k, iterations=6, seed=seed)
        first = np.empty(n, dtype=np.int64)
        second = np.full(n, -1, dtype=np.int64)
        for s in range(0, n, 16384):
            scores = vectors[s : s + 16384] @ centroids.T
            top = np.argpartition(-scores, 1, axis=1)[:, :2]
            top_scores = np.take_along_axis(scores, top, axis=1)
            swap = top_scores[:, 1] > top_scores[:, 0]
            top[swap] = top[swap][:, ::-1]
            top_scores[swap] = top_scores[swap][:, ::-1]
            first[s : s + 16384] = top[:, 0]
            near = top_scores[:, 0] - top_scores[:, 1] <= _BORDER
            second[s : s + 16384] = np.where(near, top[:, 1], -1)
        cells = np.concatenate([first, second[second >= 0]])
        members = np.concatenate([np.arange(n), np.flatnonzero(second >= 0)])
        order = np.argsort(cells, kind="stable")
        cells, members = cells[order], members[order]
        bounds = np.flatnonzero(np.diff(cells)) + 1
        found = []
        for ids in np.split(members, bounds):
            if len(ids) > 1:
                found.extend(_pairs_within(vectors, np.sort(ids), threshold))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    if len(pairs):
        lo, hi = pairs.min(axis=1), pairs.max(axis=1)
        packed = np.unique(lo.astype(np.int64) * n + hi)
        return packed // n, packed % n
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
