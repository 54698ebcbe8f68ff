"""Throughput of normalise, language and extract over the corpus texts (one process)."""

from __future__ import annotations

import itertools
import resource
import time
from collections.abc import Callable
from pathlib import Path

from signalering import corpus
from signalering.extract import extract_many
from signalering.language import detect
from signalering.text import normalise

ROOT = Path(__file__).resolve().parents[1]


def _texts(n: int) -> list[str]:
    records = corpus.load(ROOT / "annotaties" / "corpus.jsonl")
    return list(itertools.islice(itertools.cycle(r["text"] for r in records), n))


def _measure(stage: str, n: int, run: Callable[[], object]) -> dict:
    # Peak resident memory of the process (tracemalloc would slow the stage down 5x).
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "stage": stage,
        "items": n,
        "seconds": round(seconds, 4),
        "items_per_s": round(n / seconds, 1),
        "peak_mb": round(peak / 2**20, 2),
    }


def run(n: int = 2000) -> list[dict]:
    """Rows ``{stage, items, seconds, items_per_s, peak_mb}``; models load before timing."""
    texts = _texts(n)
    detect(texts[0])  # load profiles and rules outside the timed region
    list(extract_many(texts[:1], langs=["en"]))
    langs: list[str] = []
    rows = [
        _measure("normalise", n, lambda: [normalise(t) for t in texts]),
        _measure("language", n, lambda: langs.extend(detect(t).code for t in texts)),
        _measure("extract", n, lambda: list(extract_many(texts, langs=langs))),
    ]
    total = sum(r["seconds"] for r in rows)
    rows.append(
        {
            "stage": "normalise+language+extract",
            "items": n,
            "seconds": round(total, 4),
            "items_per_s": round(n / total, 1),
            "peak_mb": max(r["peak_mb"] for r in rows),
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
