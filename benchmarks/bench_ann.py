"""Near-neighbour indexes for the linking task: every pair with cosine >= t.

The candidates are our own k-means cell index (``link.neighbours``), FAISS (IVF range
search, HNSW k-NN), hnswlib and usearch (HNSW k-NN, then pairs filtered by their exact
cosine). Each index and size runs in a fresh process; ``extra_mb`` is its peak resident
memory above the loaded vectors (``data_mb``). Pair recall is against exact brute force:
all pairs up to ``EXACT_ALL``, above it the exact neighbours of ``SAMPLE`` random posts.

Vectors are like ours: USE-m3 embeddings (512-d) of the annotated corpus, tiled with
noise into families of 1-8 posts around a corpus post, so cosines straddle the threshold
and the topic structure of the corpus (many similar offers) stays.

The libraries are not dependencies of signalering (the cell index won): install them
with ``pip install -e '.[bench]'``; without them only ``exact`` and ``own`` run.
Default sizes keep ``make bench`` short; more with e.g.
``SIGNALERING_BENCH_ANN_SIZES=10000,100000,1000000`` and
``SIGNALERING_BENCH_ANN_METHODS=own,faiss-ivf``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_link import peak_rss_mb

THRESHOLDS = (0.85, 0.6)  # ClusterSettings.cosine and .contact_cosine
EXACT_ALL = 50_000
EXACT_RUN = 100_000  # brute force itself is timed up to this size
SAMPLE = 1000
K = 30  # neighbours per post for the k-NN indexes; the pairs are then filtered by cosine
_CHUNK = 50_000
_PAIR_CHUNK = 20_000


def corpus_vectors() -> np.ndarray:
    """USE-m3 vectors of the annotated corpus (the encoder the linker uses by default)."""
    from signalering import corpus
    from signalering.embed import encode

    return encode([r["text"] for r in corpus.load()], encoder="use-m3")


def tiled(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors in families of 1-8 around random ``base`` rows.

    A family centre is a base row plus noise of squared norm U(0.3, 0.8) (so two centres
    from one base stay below cosine 0.8); members add noise of squared norm U(0.02, 0.3),
    so cosines within a family spread around 0.85.
    """
    rng = np.random.default_rng(seed)
    dim = base.shape[1]
    sizes = rng.integers(1, 9, size=n)
    family = np.repeat(np.arange(n), sizes)[:n]
    n_fam = int(family[-1]) + 1
    out = np.empty((n, dim), dtype=np.float32)
    centres = base[rng.integers(0, len(base), size=n_fam)]
    spread = np.sqrt(rng.uniform(0.3, 0.8, size=(n_fam, 1)) / dim).astype(np.float32)
    for s in range(0, n_fam, _CHUNK):
        noise = rng.standard_normal((min(_CHUNK, n_fam - s), dim), dtype=np.float32)
        centres[s : s + _CHUNK] += noise * spread[s : s + _CHUNK]
    for s in range(0, n, _CHUNK):
        rows = slice(s, min(n, s + _CHUNK))
        noise = rng.standard_normal((rows.stop - s, dim), dtype=np.float32)
        member = np.sqrt(rng.uniform(0.02, 0.3, size=(rows.stop - s, 1)) / dim)
        out[rows] = centres[family[rows]] + noise * member.astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


# Each method returns (left, right, build_s); pairs with i < j, filtered by exact cosine.


def _own(x: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float | None]:
    from signalering.link.neighbours import neighbour_pairs

    i, j = neighbour_pairs(x, threshold=t, exact_limit=0)
    return i, j, None


def _exact(x: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float | None]:
    from signalering.link.neighbours import neighbour_pairs

    i, j = neighbour_pairs(x, threshold=t, exact_limit=len(x))
    return i, j, None


def _from_knn(x: np.ndarray, ids: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j from k-NN ids (-1 or self dropped), kept when the exact cosine >= t."""
    n, k = ids.shape
    left = np.repeat(np.arange(n), k)
    right = ids.ravel().astype(np.int64)
    ok = (right >= 0) & (right != left)
    left, right = np.minimum(left[ok], right[ok]), np.maximum(left[ok], right[ok])
    code = np.unique(left * n + right)
    left, right = code // n, code % n
    keep = np.zeros(len(left), dtype=bool)
    for s in range(0, len(left), _PAIR_CHUNK):
        a, b = left[s : s + _PAIR_CHUNK], right[s : s + _PAIR_CHUNK]
        keep[s : s + _PAIR_CHUNK] = np.einsum("ij,ij->i", x[a], x[b]) >= t
    return left[keep], right[keep]


def _knn_in_chunks(search: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.vstack([search(x[s : s + _CHUNK]) for s in range(0, len(x), _CHUNK)])


def _faiss_ivf(x: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float | None]:
    import faiss

    n, dim = x.shape
    nlist = max(2, int(np.sqrt(n)))
    start = time.perf_counter()
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    index.train(x[rng.choice(n, size=min(n, 40 * nlist), replace=False)])
    index.add(x)
    index.nprobe = int(os.environ.get("SIGNALERING_BENCH_ANN_NPROBE", "3"))
    build = time.perf_counter() - start
    left, right = [], []
    for s in range(0, n, _CHUNK):
        lims, _, ids = index.range_search(x[s : s + _CHUNK], t)
        lims = lims.astype(np.int64)
        rows = s + np.repeat(np.arange(len(lims) - 1), np.diff(lims))
        keep = ids > rows
        left.append(rows[keep])
        right.append(ids[keep])
    return np.concatenate(left), np.concatenate(right), build


def _faiss_hnsw(x: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float | None]:
    import faiss

    start = time.perf_counter()
    index = faiss.IndexHNSWFlat(x.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    index.add(x)
    build = time.perf_counter() - start
    index.hnsw.efSearch = 64
    ids = _knn_in_chunks(lambda q: index.search(q, K)[1], x)
    return (*_from_knn(x, ids, t), build)


def _hnswlib(x: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float | None]:
    import hnswlib

    start = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=100, M=16, random_seed=0)
    index.add_items(x, num_threads=2)
    build = time.perf_counter() - start
    index.set_ef(64)
    ids = _knn_in_chunks(lambda q: index.knn_query(q, k=K, num_threads=2)[0], x)
    return (*_from_knn(x, ids, t), build)


def _usearch(x: np.ndarray, t: float, dtype: str) -> tuple[np.ndarray, np.ndarray, float | None]:
    from usearch.index import Index

    start = time.perf_counter()
    index = Index(ndim=x.shape[1], metric="ip", dtype=dtype, connectivity=16, expansion_add=128)
    index.add(np.arange(len(x)), x, threads=2)
    build = time.perf_counter() - start
    index.expansion_search = 64
    ids = _knn_in_chunks(lambda q: index.search(q, K, threads=2).keys.astype(np.int64), x)
    return (*_from_knn(x, ids, t), build)


_MODULES = {"exact": "signalering.link.neighbours", "own": "signalering.link.neighbours"}
_MODULES |= {"faiss-ivf": "faiss", "faiss-hnsw": "faiss", "hnswlib": "hnswlib"}
_MODULES |= {"usearch-f32": "usearch.index", "usearch-i8": "usearch.index"}

METHODS: dict[str, Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray, float | None]]] = {
    "exact": _exact,
    "own": _own,
    "faiss-ivf": _faiss_ivf,
    "faiss-hnsw": _faiss_hnsw,
    "hnswlib": _hnswlib,
    "usearch-f32": lambda x, t: _usearch(x, t, "f32"),
    "usearch-i8": lambda x, t: _usearch(x, t, "i8"),
}


def _recall(x: np.ndarray, t: float, left: np.ndarray, right: np.ndarray) -> tuple[float, int]:
    """Pair recall against brute force (all pairs, or those of a random sample of posts)."""
    n = len(x)
    found = np.sort(left * n + right)
    if n <= EXACT_ALL:
        i, j, _ = _exact(x, t)
        truth = i * n + j
    else:
        queries = np.sort(np.random.default_rng(1).choice(n, size=SAMPLE, replace=False))
        parts = []
        for s in range(0, n, _CHUNK):
            rows, cols = np.nonzero(x[queries] @ x[s : s + _CHUNK].T >= t)
            cols = cols + s
            keep = cols != queries[rows]
            a, b = queries[rows[keep]], cols[keep]
            parts.append(np.minimum(a, b) * n + np.maximum(a, b))
        truth = np.unique(np.concatenate(parts))
    if not len(truth):
        return 1.0, 0
    hit = np.searchsorted(found, truth)
    hit = np.minimum(hit, max(len(found) - 1, 0))
    matched = found[hit] == truth if len(found) else np.zeros(len(truth), dtype=bool)
    return float(matched.mean()), len(truth)


def _one(path: str, method: str, threshold: float) -> dict[str, Any]:
    importlib.import_module(_MODULES[method])  # imports are not part of the timing
    x = np.load(path)
    n = len(x)
    base_mb = peak_rss_mb()
    load = os.getloadavg()[0]
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    left, right, build = METHODS[method](x, threshold)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = peak_rss_mb()
    recall, truth = _recall(x, threshold, np.asarray(left), np.asarray(right))
    return {
        "stage": f"ann {method} t={threshold} {n:,}",
        "method": method,
        "threshold": threshold,
        "items": n,
        "seconds": round(seconds, 1),
        "build_s": None if build is None else round(build, 1),
        "items_per_s": round(n / seconds, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 1),
        "peak_mb": round(peak_mb, 1),
        "data_mb": round(x.nbytes / 2**20, 1),
        "extra_mb": round(peak_mb - base_mb, 1),
        "pairs": len(left),
        "exact_pairs_checked": truth,
        "pair_recall": round(recall, 4),
        "load_1min": round(load, 1),
    }


def _env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def run() -> list[dict[str, Any]]:
    sizes = [int(v) for v in _env_list("SIGNALERING_BENCH_ANN_SIZES", "10000")]
    methods = _env_list("SIGNALERING_BENCH_ANN_METHODS", ",".join(m for m in METHODS))
    default = ",".join(map(str, THRESHOLDS))
    thresholds = [float(v) for v in _env_list("SIGNALERING_BENCH_ANN_THRESHOLDS", default)]
    missing = [m for m in methods if importlib.util.find_spec(_MODULES[m].split(".")[0]) is None]
    if missing:
        print(f"bench_ann: skipping {missing}: pip install -e '.[bench]'", file=sys.stderr)
        methods = [m for m in methods if m not in missing]
    base = corpus_vectors()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = str(Path(tmp) / f"x{n}.npy")
            np.save(path, tiled(base, n))
            for threshold in thresholds:
                for method in methods:
                    if method == "exact" and n > EXACT_RUN:
                        continue
                    code = (
                        "import json, benchmarks.bench_ann as b; "
                        f"print(json.dumps(b._one({path!r}, {method!r}, {threshold})))"
                    )
                    done = subprocess.run(
                        [sys.executable, "-c", code], capture_output=True, text=True
                    )
                    if done.returncode:
                        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
                        rows.append({"stage": f"ann {method} {n:,}", "error": tail[0]})
                        continue
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                    print(rows[-1], file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
