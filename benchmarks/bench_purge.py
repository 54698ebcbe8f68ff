"""Retention purge on SQLite and PostgreSQL: half of N stored posts are old.

20,000 posts by default (SIGNALERING_BENCH_PURGE_POSTS=N for another size). Measured:
the purge itself (deletes, network refresh, FTS5 merge and WAL truncation on SQLite,
VACUUM on PostgreSQL) and, on SQLite, what ``secure_delete`` costs saving posts.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import event

from benchmarks.bench_store import KEY, database, posts, row
from signalering.store import Store
from signalering.store.retention import purge


def _size() -> int:
    return int(os.environ.get("SIGNALERING_BENCH_PURGE_POSTS", "20000"))


def _fill(store: Store, n: int, *, batch: int = 2000) -> float:
    """``n`` posts, the even ones posted in 2023, the odd ones yesterday."""
    start = time.perf_counter()
    chunk = []
    for i, post in enumerate(posts(n)):
        when = "2023-03-01T10:00:00+00:00" if i % 2 == 0 else None
        chunk.append(post.with_(posted_at=when))
        if len(chunk) == batch:
            store.save_posts(chunk)
            chunk = []
    if chunk:
        store.save_posts(chunk)
    return time.perf_counter() - start


def run() -> list[dict[str, Any]]:
    n = _size()
    rows: list[dict[str, Any]] = []
    for engine in ("sqlite", "postgresql"):
        with database(engine) as url, Store.open(url, pseudonym_key=KEY) as store:
            rows.append(row(f"purge: save {n:,} posts ({engine})", n, _fill(store, n)))
            start = time.perf_counter()
            report = purge(store, older_than_days=365, user="bench")
            rows.append(
                row(f"purge: {report.posts:,} of {n:,} posts ({engine})", report.posts,
                    time.perf_counter() - start)
            )  # fmt: skip
    with database("sqlite") as url, Store.open(url, pseudonym_key=KEY) as store:
        # The same save with secure_delete off, for its cost.
        @event.listens_for(store.engine, "connect")
        def _off(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.execute("PRAGMA secure_delete = OFF")

        store.engine.dispose()
        rows.append(row(f"purge: save {n:,} posts (sqlite, secure_delete off)", n, _fill(store, n)))
    return rows
