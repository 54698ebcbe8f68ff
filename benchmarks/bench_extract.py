"""Throughput of normalise, language and extract over the corpus texts (one process).

The stages are chained as the pipeline chains them: extract reads the
``Normalised`` the normalise stage produced. ``extract (from raw text)``, which
normalises again, is reported for comparison and not counted in the total.
"""

from __future__ import annotations

import itertools
import resource
import time
from collections.abc import Callable
from pathlib import Path

from signalering import corpus
from signalering.extract import extract_many
from signalering.language import detect
from signalering.text import Normalised, normalise

ROOT = Path(__file__).resolve().parents[1]


def _texts(n: int) -> list[str]:
    records = corpus.load(ROOT / "annotaties" / "corpus.jsonl")
    return list(itertools.islice(itertools.cycle(r["text"] for r in records), n))


def _measure(stage: str, n: int, run: Callable[[], object]) -> dict:
    # Peak resident memory of the process (tracemalloc would slow the stage down 5x).
    # CPU seconds next to wall seconds: on a shared machine the wall clock also
    # counts the time other processes held the core.
    start, cpu_start = time.perf_counter(), time.process_time()
    run()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "stage": stage,
        "items": n,
        "seconds": round(seconds, 4),
        "cpu_seconds": round(cpu, 4),
        "items_per_s": round(n / seconds, 1),
        "items_per_cpu_s": round(n / cpu, 1) if cpu else None,
        "peak_mb": round(peak / 2**20, 2),
    }


def run(n: int = 2000) -> list[dict]:
    """Rows ``{stage, items, seconds, items_per_s, peak_mb}``; models load before timing."""
    texts = _texts(n)
    # Load rules and langdetect's profiles outside the timed region (a Latin-script
    # text that no script rule claims reaches the profiles).
    detect("Safe crossing from Calais to the UK tonight, call us now for the price")
    list(extract_many(texts[:1], langs=["en"]))
    langs: list[str] = []
    norms: list[Normalised] = []
    rows = [
        _measure("normalise", n, lambda: norms.extend(normalise(t) for t in texts)),
        _measure("language", n, lambda: langs.extend(detect(t).code for t in texts)),
        _measure("extract", n, lambda: list(extract_many(norms, langs=langs))),
    ]
    total = sum(r["seconds"] for r in rows)
    cpu = sum(r["cpu_seconds"] for r in rows)
    raw = _measure("extract (from raw text)", n, lambda: list(extract_many(texts, langs=langs)))
    rows.append(
        {
            "stage": "normalise+language+extract",
            "items": n,
            "seconds": round(total, 4),
            "cpu_seconds": round(cpu, 4),
            "items_per_s": round(n / total, 1),
            "items_per_cpu_s": round(n / cpu, 1) if cpu else None,
            "peak_mb": max(r["peak_mb"] for r in rows),
        }
    )
    rows.append(raw)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
