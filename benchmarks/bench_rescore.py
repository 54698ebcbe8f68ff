"""Re-scoring stored posts with a new model: posts/s on SQLite and PostgreSQL, 2 workers.

100,000 posts by default, also 1,000,000 with SIGNALERING_BENCH_FULL=1
(SIGNALERING_BENCH_POSTS=N: N only). The model is the TF-IDF recipe trained from
annotaties/; the stages are normalise, language, classify and extract (no embeddings).
``peak_mb`` is the largest resident memory of one worker process.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_store import KEY, database, fill, peak_mb, row, sizes
from signalering.evaluate import train_model
from signalering.rescore import rescore
from signalering.store import Store

WORKERS = int(os.environ.get("SIGNALERING_BENCH_WORKERS", "2"))


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        train_model(None, model, features="tfidf")
        for n in sizes():
            for engine in ("sqlite", "postgresql"):
                with database(engine) as url:
                    with Store.open(url, pseudonym_key=KEY) as store:
                        fill(store, n)
                    start = time.perf_counter()
                    result = rescore(
                        url, model_path=model, workers=WORKERS, chunk_size=1000, pseudonym_key=KEY
                    )
                    seconds = time.perf_counter() - start
                    stage = f"rescore {n:,} stored posts ({engine}, {WORKERS} workers)"
                    rows.append(
                        row(stage, result["scored"], seconds, memory=peak_mb(children=True))
                    )
    return rows
