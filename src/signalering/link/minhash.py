"""Near-duplicate detection: vectorised one-permutation MinHash over character shingles, LSH.

Everything runs on numpy arrays a chunk of posts at a time, so a million posts take
a minute or two and memory stays flat:

- shingle hashes are rolled over the 32-bit code points of a whole chunk at once;
- one-permutation hashing (Li, Owen & Zhang 2012): each shingle is hashed once, its top
  bits pick one of ``num_perm`` bins and the rest is the value; a bin keeps its minimum
  (``np.minimum.at``), so the cost per shingle does not grow with ``num_perm``;
- empty bins (short texts) borrow the next filled bin's value plus a per-distance offset
  ("rotation" densification, Shrivastava & Li 2014), which keeps the LSH property;
- LSH buckets are found by sorting band hashes (no Python dict per bucket).
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
_EMPTY = np.uint32(0xFFFFFFFF)
_ROTATE = np.uint32(0x9E3779B1)  # offset per bin of distance when densifying
_SHINGLES_PER_CHUNK = 400_000
_NON_WORD = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\d+")


def normalise_for_dedup(text: str) -> str:
    """Fold what reposters change: case, width, punctuation, emoji, and every number.

    Prices and phone numbers are edited between reposts, so a digit run becomes ``0``.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIGITS.sub("0", text)
    return " ".join(_NON_WORD.sub(" ", text).replace("_", " ").split())


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: every input bit reaches every output bit."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _shingle_hashes(texts: Sequence[str], k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of every k-character shingle of each text, and the text it belongs to."""
    padded = [t.ljust(k) for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32)
    n_windows = len(codes) - k + 1
    # A 32-bit polynomial roll: code points are < 2**21, so k <= 8 stays collision-poor.
    h = codes[:n_windows].copy()
    mult = np.uint32(0x01000193)
    for j in range(1, k):
        h *= mult
        h ^= codes[j : j + n_windows]
    # A window is valid when it ends inside the text it starts in: drop the k-1 windows
    # that straddle each boundary.
    valid = np.ones(n_windows, dtype=bool)
    ends = np.cumsum(lengths)
    for j in range(1, k):
        cut = ends[:-1] - j
        valid[cut[cut >= 0]] = False
    counts = lengths - k + 1
    owner = np.repeat(np.arange(len(padded), dtype=np.int64), counts)
    wide = h[valid].astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    return _mix64(wide), owner


def _densify(sig: np.ndarray) -> np.ndarray:
    """Fill empty bins from the next filled bin to the right (circular), offset by distance."""
    rows = np.flatnonzero((sig == _EMPTY).any(axis=1))
    if not len(rows):
        return sig
    part = sig[rows]
    out = part.copy()
    todo = out == _EMPTY
    for step in range(1, sig.shape[1]):
        if not todo.any():
            break
        donor = np.roll(part, -step, axis=1)
        take = todo & (donor != _EMPTY)
        out[take] = donor[take] + np.uint32((step * int(_ROTATE)) % 2**32)
        todo &= ~take
    sig[rows] = out
    return sig


def signatures(
    texts: Sequence[str],
    *,
    num_perm: int = NUM_PERM,
    shingle: int = SHINGLE,
    seed: int = 1,
    normalise: bool = True,
) -> np.ndarray:
    """MinHash signatures, shape (n, num_perm) uint32, of the (normalised) texts.

    Two rows agree in a column with probability close to the Jaccard similarity of the
    texts' shingle sets.
    """
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    start = 0
    while start < len(texts):
        # Grow the chunk until it holds about _SHINGLES_PER_CHUNK shingles.
        stop, size = start, 0
        while stop < len(texts) and (size < _SHINGLES_PER_CHUNK or stop == start):
            size += len(texts[stop]) + 1
            stop += 1
        chunk = [normalise_for_dedup(t) if normalise else t for t in texts[start:stop]]
        h, owner = _shingle_hashes(chunk, shingle, seed)
        bins = ((h >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)
        values = np.minimum(h & np.uint64(0xFFFFFFFF), np.uint64(0xFFFFFFFE)).astype(np.uint32)
        sig = np.full(len(chunk) * num_perm, _EMPTY, dtype=np.uint32)
        np.minimum.at(sig, owner * num_perm + bins.astype(np.int64), values)
        out[start:stop] = _densify(sig.reshape(len(chunk), num_perm))
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


def unique_pairs(i: np.ndarray, j: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unordered pair once, as (lo, hi) sorted; a sort, not ``np.unique``'s hash table."""
    packed = np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j)
    packed.sort()
    if len(packed):
        packed = packed[np.r_[True, packed[1:] != packed[:-1]]]
    return packed // n, packed % n


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
        i, j = unique_pairs(i, j, n)
    keep = np.zeros(len(i), dtype=bool)
    for s in range(0, len(i), 200_000):
        agree = (sigs[i[s : s + 200_000]] == sigs[j[s : s + 200_000]]).mean(axis=1)
        keep[s : s + 200_000] = agree >= threshold
    logger.debug("minhash: %s candidate pairs, %s kept", len(i), int(keep.sum()))
    return i[keep], j[keep]
