"""Near-duplicate detection: vectorised MinHash over character shingles, banded LSH.

Everything runs on numpy arrays a chunk of posts at a time, so a million posts take
minutes and memory stays flat: shingle hashes are rolled over the code points of a
whole chunk at once, minima are taken per post with ``np.minimum.reduceat``, and
LSH buckets are found by sorting band hashes (no Python dict per bucket).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

NUM_PERM = 64
SHINGLE = 5
_MASK32 = np.uint64(0xFFFFFFFF)
_SHINGLES_PER_CHUNK = 150_000
_NON_WORD = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\d+")


def normalise_for_dedup(text: str) -> str:
    """Fold what reposters change: case, width, punctuation, emoji, and every number.

    Prices and phone numbers are edited between reposts, so a digit run becomes ``0``.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIGITS.sub("0", text)
    return " ".join(_NON_WORD.sub(" ", text).replace("_", " ").split())


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def _shingle_hashes(texts: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every k-character shingle of each text, and each text's first index."""
    padded = [t.ljust(k) for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    n_windows = len(codes) - k + 1
    h = np.zeros(max(n_windows, 0), dtype=np.uint64)
    mult = np.uint64(0x100000001B3)
    for j in range(k):
        h = h * mult + codes[j : j + n_windows]
    # A window is valid when it ends inside the text it starts in.
    counts = lengths - k + 1
    owner = np.repeat(np.arange(len(padded)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.repeat(starts, counts) + offsets
    h = h[idx]
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    first = np.searchsorted(owner, np.arange(len(padded)))
    return h, first


def signatures(
    texts: Sequence[str],
    *,
    num_perm: int = NUM_PERM,
    shingle: int = SHINGLE,
    seed: int = 1,
    normalise: bool = True,
) -> np.ndarray:
    """MinHash signatures, shape (n, num_perm) uint32, of the (normalised) texts."""
    a, b = _permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    start = 0
    while start < len(texts):
        # Grow the chunk until it holds about _SHINGLES_PER_CHUNK shingles.
        stop, size = start, 0
        while stop < len(texts) and (size < _SHINGLES_PER_CHUNK or stop == start):
            size += len(texts[stop]) + 1
            stop += 1
        chunk = [normalise_for_dedup(t) if normalise else t for t in texts[start:stop]]
        h, first = _shingle_hashes(chunk, shingle)
        # (num_perm, shingles): each permutation's row is contiguous for reduceat.
        values = ((a[:, None] * h[None, :] + b[:, None]) >> np.uint64(32)).astype(np.uint32)
        out[start:stop] = np.minimum.reduceat(values, first, axis=1).T
        start = stop
    return out


def bucket_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (head, member) joining each member of a bucket of equal ``keys`` to its first one."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    new_run = np.ones(len(keys), dtype=bool)
    new_run[1:] = sorted_keys[1:] != sorted_keys[:-1]
    head_pos = np.maximum.accumulate(np.where(new_run, np.arange(len(keys)), 0))
    keep = ~new_run
    return order[head_pos[keep]], order[keep]


def lsh_pairs(
    sigs: np.ndarray, *, threshold: float = 0.5, bands: int = 16, seed: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows whose estimated Jaccard similarity is >= ``threshold`` (banded LSH)."""
    n, num_perm = sigs.shape
    rows = num_perm // bands
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    for band in range(bands):
        part = sigs[:, band * rows : (band + 1) * rows].astype(np.uint64)
        keys = (part * mult).sum(axis=1, dtype=np.uint64) ^ np.uint64(band)
        i, j = bucket_pairs(keys)
        left.append(i)
        right.append(j)
    i = np.concatenate(left) if left else np.zeros(0, dtype=np.int64)
    j = np.concatenate(right) if right else np.zeros(0, dtype=np.int64)
    if len(i):
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        pairs = np.unique(lo.astype(np.int64) * n + hi)
        i, j = pairs // n, pairs % n
    keep = np.zeros(len(i), dtype=bool)
    for s in range(0, len(i), 200_000):
        agree = (sigs[i[s : s + 200_000]] == sigs[j[s : s + 200_000]]).mean(axis=1)
        keep[s : s + 200_000] = agree >= threshold
    logger.debug("minhash: %s candidate pairs, %s kept", len(i), int(keep.sum()))
    return i[keep], j[keep]
