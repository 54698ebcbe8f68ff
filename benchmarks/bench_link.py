"""Repost clustering at scale: synthetic ad families, 10k and 100k posts (1M with FULL=1).

Run one size: ``python -c "import benchmarks.bench_link as b; print(b._one(1_000_000))"``.

Each size runs in a fresh process so ``peak_mb`` is that run's peak resident memory.
Vectors are synthetic (a family direction plus noise, as cached embeddings would be):
embedding throughput is measured by ``bench_embed``, not here.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

WORDS = (  # noqa: SIM905
    "boat trip zuwara lampedusa safe captain price euro children half call whatsapp "
    "telegram lorry dunkirk england trailer driver papers passport visa guaranteed "
    "departure tonight places limited family discount payment office guarantee route "
    "greece turkey border walk guide car taxi italy germany hotel pickup"
).split()
DIM = 384
PLACES = ("Zuwara", "Lampedusa", "Calais", "London", "Izmir", "Italy", "Van", "Istanbul", "Minsk")


def synthetic(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[list[str]], np.ndarray]:
    """``n`` posts in families of 1-8 reposts (edited price, phone, a typo), with vectors."""
    texts, vectors, contacts, family, _ = synthetic_ads(n, seed)
    return texts, vectors, contacts, family


def synthetic_ads(
    n: int, seed: int = 0
) -> tuple[list[str], np.ndarray, list[list[str]], np.ndarray, list]:
    """As ``synthetic``, plus each post's fingerprint (route of 2-3 places, its price)."""
    from signalering.link.fingerprint import Fingerprint

    rng = np.random.default_rng(seed)
    prints: list[Fingerprint] = []
    texts: list[str] = []
    contacts: list[list[str]] = []
    family: list[int] = []
    fam = 0
    vectors = np.empty((n, DIM), dtype=np.float32)
    while len(texts) < n:
        size = int(rng.integers(1, 9))
        base = [WORDS[i] for i in rng.integers(0, len(WORDS), size=int(rng.integers(15, 35)))]
        direction = rng.standard_normal(DIM).astype(np.float32)
        phone = f"+2189{rng.integers(10**7, 10**8)}"
        route = tuple(PLACES[i] for i in rng.choice(len(PLACES), int(rng.integers(2, 4)), False))
        for _ in range(min(size, n - len(texts))):
            words = list(base)
            words[int(rng.integers(len(words)))] += "x"
            price = int(rng.integers(10, 60)) * 100
            texts.append(" ".join(words) + f" {price} EUR {phone}")
            contacts.append([f"phones::{phone}"])
            prints.append(
                Fingerprint(
                    frozenset(contacts[-1]), route, ((float(price), "EUR"),), frozenset(), ()
                )
            )
            noise = rng.standard_normal(DIM).astype(np.float32) * 0.3
            vectors[len(texts) - 1] = direction + noise
            family.append(fam)
        fam += 1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors, contacts, np.array(family), prints


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    VmHWM, not ``ru_maxrss``: Linux keeps ``ru_maxrss`` across fork and exec, so a fresh
    process started by ``make bench`` would report the parent's peak as its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one(n: int) -> dict[str, Any]:
    from signalering.link.cluster import bcubed, cluster_labels

    texts, vectors, contacts, family, prints = synthetic_ads(n)
    load = os.getloadavg()[0]
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    # With the fingerprint: its links and its veto on embedding links (prints are made
    # outside the clock, as the extract stage made entities before clustering).
    labels = cluster_labels(texts, vectors=vectors, contacts=contacts, prints=prints)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    peak = peak_rss_mb()
    sample = slice(0, min(n, 20_000))
    quality = bcubed(labels[sample].tolist(), family[sample].tolist())
    return {
        "stage": f"cluster {n:,} posts",
        "items": n,
        "seconds": round(seconds, 1),
        "items_per_s": round(n / seconds, 1),
        "peak_mb": round(peak, 1),
        "cpu_s": round(cpu_s, 1),  # the machine is shared: CPU time is the steadier number
        "load_1min": round(load, 1),
        "bcubed_f1": round(quality["f1"], 4),
    }


def run() -> list[dict[str, Any]]:
    sizes = [10_000, 100_000]
    if os.environ.get("SIGNALERING_BENCH_FULL") == "1":
        sizes.append(1_000_000)
    rows = []
    for n in sizes:
        code = f"import json, benchmarks.bench_link as b; print(json.dumps(b._one({n})))"
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
