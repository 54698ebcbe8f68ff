"""Re-scoring stored posts with a new model: posts/s on SQLite and PostgreSQL, 2 workers.

The store is filled the fast way (bulk inserts; PostgreSQL ``COPY``) with what the
normal save path would have stored for each post: its text, language, entities, the
``extracted_at`` marker (also where extraction found nothing, so a re-score extracts
nothing again) and a score of an older model. The posts are the corpus texts with
variations (an emoji, punctuation, a number tag), so most texts are distinct, as in a
real crawl. The fill is reported as its own row.

Sizes: ``SIGNALERING_BENCH_RESCORE_SIZES=100000,1000000`` (default 100,000; with
``SIGNALERING_BENCH_FULL=1`` also 1,000,000; ``SIGNALERING_BENCH_POSTS=N``: N only;
``SIGNALERING_BENCH_RESCORE_ENGINES=sqlite``: one engine).
A re-score row adds ``extracted`` (posts the job extracted: 0 after a fill like this),
``cpu_ms_per_post`` (the job's own processes, split into ``cpu_s_main`` and
``cpu_s_workers``; a PostgreSQL server's CPU is not in it) and ``load`` (1-minute load
average at the end: the machine is shared).
``peak_mb`` is the largest resident memory of one worker process.
"""

from __future__ import annotations

import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from benchmarks.bench_store import KEY, database, peak_mb, row
from signalering import corpus
from signalering.config import Settings
from signalering.extract import extract
from signalering.language import detect
from signalering.model.training import train_model
from signalering.post import Post
from signalering.rescore import rescore
from signalering.store import Store
from signalering.store.models import Entity, PostRow, Score
from signalering.store.store import copy_rows

WORKERS = int(os.environ.get("SIGNALERING_BENCH_WORKERS", "2"))
CHUNK_SIZE = int(os.environ.get("SIGNALERING_BENCH_CHUNK_SIZE", "1000"))
OLD_VERSION = "bench-old-v1"
_BATCH = 20_000
_SUFFIXES = ("", " 🙏", "!!", " .", "\n\n📞", " ✅✅")


def sizes() -> list[int]:
    """Post counts to re-score, from the environment."""
    if os.environ.get("SIGNALERING_BENCH_POSTS"):
        return [int(os.environ["SIGNALERING_BENCH_POSTS"])]
    if os.environ.get("SIGNALERING_BENCH_RESCORE_SIZES"):
        return [int(n) for n in os.environ["SIGNALERING_BENCH_RESCORE_SIZES"].split(",") if n]
    return [100_000, 1_000_000] if os.environ.get("SIGNALERING_BENCH_FULL") == "1" else [100_000]


def _templates(store: Store) -> list[dict[str, Any]]:
    """Per corpus record: text, language, entity rows and an older model's score."""
    out = []
    for r in corpus.load():
        lang = detect(r["text"])
        post = Post(text=r["text"], entities=extract(r["text"], lang=lang.code))
        entity_rows = store._entity_rows(0, post.entities or {})
        label = r["label"]
        out.append(
            {
                "text": r["text"],
                "lang": lang.code,
                "lang_confidence": round(lang.confidence, 4),
                "entities": entity_rows,
                "score": {
                    "model_version": OLD_VERSION,
                    "label": label,
                    "score": 0.9,
                    "probabilities": {label: 0.9},
                    "flagged": label == "offer",
                    "evidence": [],
                    "is_current": True,
                },
            }
        )
    return out


def generate(store: Store, n: int, *, seed: int = 0) -> Iterator[tuple[dict, dict, list[dict]]]:
    """``n`` (post row, score row, entity rows) with post ids 1..n, as the store keeps them."""
    templates = _templates(store)
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for pk in range(1, n + 1):
        t = templates[rng.randrange(len(templates))]
        body = t["text"] + rng.choice(_SUFFIXES)
        if rng.random() < 0.8:  # a repost with its own tag; otherwise the same text again
            body += f" #{rng.randrange(10**6)}"
        when = start + timedelta(seconds=pk * 7)
        post = {
            "id": pk,
            "source": f"s{pk % 7}",
            "kind": "telegram",
            "url": None,
            "post_id": str(pk),
            "author": None,
            "author_pseudonym": None,
            "posted_at": when,
            "fetched_at": when,
            "text": body,
            "content_hash": Post(text=body).content_hash,
            "lang": t["lang"],
            "lang_confidence": t["lang_confidence"],
            "extras": None,
            "removed_at": None,
            "extracted_at": when,
            "created_at": when,
            "updated_at": when,
        }
        score = {**t["score"], "post_id": pk, "created_at": when}
        yield post, score, [{**e, "post_id": pk} for e in t["entities"]]


def fill(url: str, n: int) -> float:
    """Bulk-load ``n`` generated posts with entities and an old score; returns seconds."""
    started = time.perf_counter()
    with Store.open(url, pseudonym_key=KEY) as store:
        rows = generate(store, n)
        if store.engine.dialect.name == "postgresql":
            _copy_postgresql(store, rows)
        else:
            _insert_sqlite(store, rows)
    return time.perf_counter() - started


def _batches(rows: Iterator[tuple[dict, dict, list[dict]]]) -> Iterator[tuple[list, list, list]]:
    posts: list[dict] = []
    scores: list[dict] = []
    entities: list[dict] = []
    for post, score, ents in rows:
        posts.append(post)
        scores.append(score)
        entities.extend(ents)
        if len(posts) == _BATCH:
            yield posts, scores, entities
            posts, scores, entities = [], [], []
    if posts:
        yield posts, scores, entities


def _insert_sqlite(store: Store, rows: Iterator[tuple[dict, dict, list[dict]]]) -> None:
    for posts, scores, entities in _batches(rows):
        with store.engine.begin() as conn:
            conn.execute(insert(PostRow.__table__), posts)
            conn.execute(insert(Score.__table__), scores)
            if entities:
                conn.execute(insert(Entity.__table__), entities)


def _copy_postgresql(store: Store, rows: Iterator[tuple[dict, dict, list[dict]]]) -> None:
    tables = [(PostRow.__table__, 0), (Score.__table__, 1), (Entity.__table__, 2)]
    raw = store.engine.raw_connection()
    try:
        conn = raw.driver_connection
        for batch in _batches(rows):
            with conn.cursor() as cursor:
                for table, i in tables:
                    items = batch[i]
                    if not items:
                        continue
                    copy_rows(cursor, table, items)
            conn.commit()
        with conn.cursor() as cursor:
            for table in ("posts", "scores", "entities"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            cursor.execute("ANALYZE posts; ANALYZE scores; ANALYZE entities")
        conn.commit()
    finally:
        raw.close()


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (the workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def engines() -> list[str]:
    """``SIGNALERING_BENCH_RESCORE_ENGINES=sqlite`` measures one engine only."""
    chosen = os.environ.get("SIGNALERING_BENCH_RESCORE_ENGINES", "sqlite,postgresql")
    return [e for e in chosen.split(",") if e]


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        train_model(None, model, features="tfidf")
        for n in sizes():
            for engine in engines():
                with database(engine) as url:
                    seconds = fill(url, n)
                    rows.append(row(f"rescore: bulk fill {n:,} posts ({engine})", n, seconds))
                    if engine == "sqlite":
                        with Store.open(url) as store, store.engine.connect() as conn:
                            conn.execute(text("ANALYZE"))
                    cpu = _cpu_seconds()
                    start = time.perf_counter()
                    settings = Settings.model_validate(
                        {"database": {"url": url}, "privacy": {"pseudonym_key": KEY.decode()}}
                    )
                    result = rescore(
                        settings, model_path=model, workers=WORKERS, chunk_size=CHUNK_SIZE
                    )
                    seconds = time.perf_counter() - start
                    main_cpu, workers_cpu = (
                        b - a for a, b in zip(cpu, _cpu_seconds(), strict=True)
                    )
                    stage = f"rescore {n:,} stored posts ({engine}, {WORKERS} workers)"
                    found = row(stage, result["scored"], seconds, memory=peak_mb(children=True))
                    scored = max(1, result["scored"])
                    found["extracted"] = result["extracted"]
                    found["cpu_ms_per_post"] = round(1000 * (main_cpu + workers_cpu) / scored, 3)
                    found["cpu_s_main"] = round(main_cpu, 1)
                    found["cpu_s_workers"] = round(workers_cpu, 1)
                    found["load"] = round(os.getloadavg()[0], 2)
                    rows.append(found)
    return rows
