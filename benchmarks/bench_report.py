"""The campaign report over a store of 100,000 posts (SQLite), as `signalering report` runs it.

Setup (not timed): the corpus texts go through normalise → language → extract once,
carry their gold label as the stored score, and are copied to 100,000 posts with a
distinct marker each (so no two texts, and no two embedding-cache keys, are equal)
spread over 26 weeks. Timed: the aggregates (claims on every offer, counts in SQL
batches, themes from a seeded sample of 200 offers and 200 requests embedded on a
cold cache), the HTML, and a second run with the embeddings cached.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from signalering import corpus
from signalering.campaign import aggregates, write_report
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 1, 1, tzinfo=UTC)
WEEKS = 26


def _posts(n: int, seed: int = 0) -> list[Post]:
    records = corpus.load(ROOT / "annotaties" / "corpus.jsonl")
    stages = Stages(None, stages=("normalise", "language", "extract"))
    base = stages.process([Post(text=r["text"]) for r in records])
    rng = random.Random(seed)
    out = []
    for i in range(n):
        record, post = records[i % len(records)], base[i % len(records)]
        out.append(
            post.with_(
                text=f"{post.text}\n#{i:06d}",  # past the last entity: offsets stay valid
                source=f"bench-{record['source_kind']}",
                kind=record["source_kind"],
                post_id=str(i),
                author=f"user{rng.randrange(10**6)}",
                posted_at=(
                    START + timedelta(minutes=rng.randrange(WEEKS * 7 * 24 * 60))
                ).isoformat(),
                label=record["label"],
                scores={record["label"]: 1.0},
                flagged=record["label"] == "offer",
                model_version="gold",
                normalised=None,
            )
        )
    return out


def _row(stage: str, n: int, seconds: float, cpu: float) -> dict:
    return {
        "stage": stage,
        "items": n,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "items_per_s": round(n / seconds, 1) if seconds else None,
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(n: int = 100_000) -> list[dict]:
    """Rows ``{stage, items, seconds, items_per_s, peak_mb}`` for the report over ``n`` posts."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        posts = _posts(n)
        with Store.open(url, pseudonym_key=b"bench") as store:
            start = time.perf_counter()
            for i in range(0, n, 5000):
                store.save_posts(posts[i : i + 5000])
            setup = time.perf_counter() - start
            del posts
            until = (START + timedelta(weeks=WEEKS)).date()
            for stage in (
                "report: aggregates + themes (cold embedding cache)",
                "report: aggregates + themes (cached)",
            ):
                start, cpu = time.perf_counter(), time.process_time()
                data = aggregates(store, since=START.date(), until=until)
                rows.append(
                    _row(
                        stage, data["posts"], time.perf_counter() - start, time.process_time() - cpu
                    )
                )
            start, cpu = time.perf_counter(), time.process_time()
            write_report(data, Path(tmp) / "report.html")
            rows.append(
                _row(
                    "report: HTML with plots",
                    data["posts"],
                    time.perf_counter() - start,
                    time.process_time() - cpu,
                )
            )
            start, cpu = time.perf_counter(), time.process_time()
            aggregates(store, since=START.date(), until=until, themes=False)
            rows.append(
                _row(
                    "report: aggregates without themes",
                    data["posts"],
                    time.perf_counter() - start,
                    time.process_time() - cpu,
                )
            )
        rows.append(
            {
                "stage": "report: setup, save 100k posts (not the report)",
                "items": n,
                "seconds": round(setup, 1),
                "items_per_s": round(n / setup, 1),
                "peak_mb": rows[-1]["peak_mb"],
            }
        )
    return rows


if __name__ == "__main__":
    import json
    import sys

    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000):
        print(json.dumps(row))
