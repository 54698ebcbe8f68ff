"""Embedding neighbours: pairs of posts whose vectors have cosine >= a threshold.

Up to ``EXACT_LIMIT`` posts the search is exact (blockwise dot products). Above it,
an inverted-file index keeps it sub-quadratic: a few k-means steps on a sample give
about sqrt(n) cells, and each post is stored in its nearest cell only. Exact dot
products run inside each cell; a post near the border of other cells (score gap within
``border_for(threshold)``) is also compared with those cells' members, as a query, not
stored twice, so the work grows by the border fraction rather than by its square.

Chosen by measurement over FAISS (IVF range search, HNSW), hnswlib and usearch on
512-d vectors like ours (``benchmarks/bench_ann.py``, numbers in
``docs/architecture.md``): at the same recall (>= 0.99) this index was the fastest,
and it needs no memory beyond the vectors and the pairs.
"""

from __future__ import annotations

import logging

import numpy as np

from .minhash import unique_pairs

logger = logging.getLogger(__name__)

EXACT_LIMIT = 12_000
BORDER = 0.05  # at cosine 0.85, a post this close to another cell is also compared with it
_EXTRA_CELLS = 6  # a post is compared with at most this many cells besides its own
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's nearest cell, and (row, cell) for up to ``_EXTRA_CELLS`` more cells whose
    score is within ``border`` of the nearest one."""
    n, k = len(vectors), len(centroids)
    extra = min(_EXTRA_CELLS, k - 1)
    first = np.empty(n, dtype=np.int64)
    guest_rows, guest_cells = [], []
    for s in range(0, n, _ASSIGN_CHUNK):
        scores = vectors[s : s + _ASSIGN_CHUNK] @ centroids.T
        top = np.argpartition(-scores, extra, axis=1)[:, : extra + 1]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        first[s : s + _ASSIGN_CHUNK] = top[:, 0]
        rows, cols = np.nonzero(top_scores[:, :1] - top_scores[:, 1:] <= border)
        guest_rows.append(s + rows)
        guest_cells.append(top[rows, cols + 1])
    return first, np.concatenate(guest_rows), np.concatenate(guest_cells)


def border_for(threshold: float) -> float:
    """The border that keeps pair recall >= 0.99 at ``threshold``.

    Measured on 512-d ad-like vectors (``tests/link/test_neighbours.py``,
    ``benchmarks/bench_ann.py``): 0.05 suffices at cosine 0.85 (recall 0.9999), but at
    0.6 a pair is far enough apart to sit in cells that are not each other's runner-up:
    0.05 found 93-95 % of the pairs, 0.25 (with up to six extra cells) 99.3-100 %.
    Linear in between.
    """
    return max(BORDER, BORDER + 0.8 * (0.85 - threshold))


def neighbour_pairs(
    vectors: np.ndarray,
    *,
    threshold: float = 0.85,
    seed: int = 0,
    exact_limit: int = EXACT_LIMIT,
    border: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of unit-length rows with cosine >= ``threshold``.

    Exact up to ``exact_limit`` rows; above it, the cell index described above, with
    ``border`` from ``border_for(threshold)`` unless given.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n <= exact_limit:
        found = _pairs_within(vectors, np.arange(n), threshold)
    else:
        k = max(2, int(np.sqrt(n)))
        border = border_for(threshold) if border is None else border
        centroids = _kmeans(vectors, k, iterations=6, seed=seed)
        first, guests, guest_cells = _assign(vectors, centroids, border)
        order = np.argsort(first, kind="stable")
        starts = np.searchsorted(first[order], np.arange(k + 1))
        by_cell = np.argsort(guest_cells, kind="stable")
        guests = guests[by_cell]
        guest_starts = np.searchsorted(guest_cells[by_cell], np.arange(k + 1))
        found = []
        for cell in range(k):
            members = order[starts[cell] : starts[cell + 1]]
            if not len(members):
                continue
            if len(members) > 1:
                found.extend(_pairs_within(vectors, members, threshold))
            queries = guests[guest_starts[cell] : guest_starts[cell + 1]]
            if len(queries):
                found.extend(_pairs_between(vectors, queries, members, threshold))
        logger.debug("neighbours: %s cells, %s border queries", k, len(guests))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    return unique_pairs(pairs[:, 0], pairs[:, 1], n)
