"""Several writer processes on one database (parallel crawls, re-score workers)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select

from signalering.post import Post
from signalering.store import SaveResult, Store
from signalering.store.models import PostRow, Score

WRITER = """
import sys
from signalering.post import Post
from signalering.store import Store

url, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with Store.open(url, pseudonym_key=b"k") as store:
    for start in range(first, last, 20):
        store.save_posts(
            Post(text=f"post {i}", source="forum", post_id=str(i), label="offer",
                 scores={"offer": 0.9}, flagged=True, model_version="v1",
                 entities={"phones": [{"value": f"+3161234{i:04d}"}]})
            for i in range(start, min(start + 20, last))
        )
"""


@pytest.mark.slow
def test_three_writers_on_a_fresh_database_store_overlapping_posts_once(store_url: str) -> None:
    # Overlapping ranges, and nobody migrated first: the writers race on both.
    ranges = [(0, 300), (200, 500), (100, 400)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, str(a), str(b)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for a, b in ranges
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
    with Store.open(store_url) as store:
        posts = list(store.iter_posts())
        assert sorted(int(p.post_id) for p in posts) == list(range(500))  # type: ignore[arg-type]
        assert all(p.label == "offer" and len(p.entities["phones"]) == 1 for p in posts)  # type: ignore[index]


def test_a_post_another_writer_inserts_meanwhile_is_counted_unchanged(store: Store) -> None:
    post = Post(text="same post", source="forum", post_id="1")
    # The other writer has inserted the post but not committed yet.
    other = store.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    other.begin()
    other.execute(
        insert(PostRow).values(
            source="forum",
            post_id="1",
            text=post.text,
            content_hash=post.content_hash,
            fetched_at=datetime.now(UTC),
        )
    )
    results: list[SaveResult] = []
    saver = threading.Thread(target=lambda: results.append(store.save_posts([post])))
    saver.start()
    time.sleep(0.5)  # the saver is now waiting on the other writer's lock
    other.commit()
    other.close()
    saver.join(timeout=60)
    assert results == [SaveResult(new=0, updated=0, unchanged=1)]
    assert len(list(store.iter_posts())) == 1


def test_a_score_another_writer_replaces_meanwhile_is_replaced_once(store: Store) -> None:
    """Two writers re-scoring one post with one model version: the second one to commit
    wins, and the post keeps one score per version (CI once lost a batch here)."""

    def scored(label: str) -> Post:
        return Post(
            text="same post",
            source="forum",
            post_id="1",
            label=label,
            scores={label: 0.9},
            flagged=True,
            model_version="v1",
        )

    store.save_posts([scored("offer")])
    with store.engine.connect() as conn:
        pk = conn.execute(select(PostRow.id)).scalar_one()
    # The other writer has replaced the post's v1 score but not committed yet.
    other = store.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    other.begin()
    other.execute(delete(Score).where(Score.post_id == pk))
    other.execute(
        insert(Score).values(
            post_id=pk,
            model_version="v1",
            label="warning",
            score=0.8,
            flagged=False,
            is_current=True,
        )
    )
    results: list[SaveResult] = []
    saver = threading.Thread(target=lambda: results.append(store.save_posts([scored("request")])))
    saver.start()
    time.sleep(0.5)  # the saver now waits on the other writer's row (or database) lock
    other.commit()
    other.close()
    saver.join(timeout=60)
    assert results == [SaveResult(new=0, updated=0, unchanged=1)]
    with store.engine.connect() as conn:
        rows = conn.execute(select(Score.label, Score.is_current).where(Score.post_id == pk)).all()
    assert [tuple(row) for row in rows] == [("request", True)]
