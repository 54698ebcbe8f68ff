"""Store throughput on SQLite and PostgreSQL: save, read back, search, the review queue.

100,000 posts by default; also 1,000,000 when SIGNALERING_BENCH_FULL=1
(SIGNALERING_BENCH_POSTS=N measures N only). PostgreSQL is the server at
SIGNALERING_BENCH_PG (default postgresql+psycopg://postgres@127.0.0.1:5432/test); each
run uses a throw-away database. ``peak_mb`` is the process's peak resident memory so far.
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from signalering import corpus
from signalering.post import Post
from signalering.store import Store

PG_ADMIN = os.environ.get(
    "SIGNALERING_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
KEY = b"bench-key"
QUERIES = 20  # review-queue pages and searches timed per size


def sizes() -> list[int]:
    """Post counts to measure, from the environment."""
    if os.environ.get("SIGNALERING_BENCH_POSTS"):
        return [int(os.environ["SIGNALERING_BENCH_POSTS"])]
    return [100_000, 1_000_000] if os.environ.get("SIGNALERING_BENCH_FULL") == "1" else [100_000]


def peak_mb(*, children: bool = False) -> float:
    """Peak resident memory (MB) of this process, or of its finished children."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def row(stage: str, items: int, seconds: float, *, memory: float | None = None) -> dict[str, Any]:
    return {
        "stage": stage,
        "items": items,
        "seconds": round(seconds, 3),
        "items_per_s": round(items / seconds, 1) if seconds else None,
        "peak_mb": memory if memory is not None else peak_mb(),
    }


@contextlib.contextmanager
def database(engine: str) -> Iterator[str]:
    """A throw-away database URL on ``engine`` (sqlite or postgresql)."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN)
    name = f"signalering_bench_{uuid.uuid4().hex[:10]}"
    connect = dict(host=admin.host, port=admin.port, user=admin.username, dbname=admin.database)
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**connect, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def posts(n: int, *, model_version: str | None = "bench-old-v1") -> Iterator[Post]:
    """``n`` corpus posts with distinct post ids (and an older model's score when given)."""
    records = corpus.load()
    for i in range(n):
        r = records[i % len(records)]
        post = Post(text=r["text"], source=f"s{i % 7}", post_id=str(i), lang=r.get("lang"))
        if model_version:
            post = post.with_(
                label=r["label"],
                scores={r["label"]: 0.9},
                flagged=r["label"] == "offer",
                model_version=model_version,
            )
        yield post


def fill(store: Store, n: int, *, batch: int = 2000) -> float:
    """Store ``n`` posts in batches; returns the seconds it took."""
    start = time.perf_counter()
    chunk: list[Post] = []
    for post in posts(n):
        chunk.append(post)
        if len(chunk) == batch:
            store.save_posts(chunk)
            chunk = []
    if chunk:
        store.save_posts(chunk)
    return time.perf_counter() - start


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in sizes():
        for engine in ("sqlite", "postgresql"):
            with database(engine) as url, Store.open(url, pseudonym_key=KEY) as store:
                rows.append(
                    row(f"store: save {n:,} posts with scores ({engine})", n, fill(store, n))
                )
                count, seconds = _timed(lambda: sum(1 for _ in store.iter_posts(batch_size=2000)))
                rows.append(row(f"store: iter_posts {n:,} ({engine})", count, seconds))
                _, seconds = _timed(lambda: [store.flagged(limit=50) for _ in range(QUERIES)])
                rows.append(
                    row(f"store: review queue page, {n:,} posts ({engine})", QUERIES, seconds)
                )
                _, seconds = _timed(
                    lambda: [store.search("Italy boat", limit=50) for _ in range(QUERIES)]
                )
                rows.append(row(f"store: search, {n:,} posts ({engine})", QUERIES, seconds))
    return rows
