"""The review queue reads the rank index page by page on SQLite: no sort of every flagged post."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from signalering.post import Post
from signalering.store import Store
from signalering.web.review import QueueFilter, queue


def _queue_plan(store: Store, f: QueueFilter) -> str:
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM scores JOIN posts" in statement:
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        queue(store, f)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(sent) == 1
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sent[0][0]}", sent[0][1])
        return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("f", "index"),
    [
        (QueueFilter(), "ix_scores_current_rank"),
        (QueueFilter(after="0.5:3"), "ix_scores_current_rank"),
        (QueueFilter(label="offer", after="0.5:3"), "ix_scores_current_label_rank"),
        (QueueFilter(lang="ar", source="s", platform="whatsapp"), "ix_scores_current_rank"),
        (QueueFilter(status="all", q="boat"), "ix_scores_current_rank"),
    ],
    ids=["first-page", "deep-page", "label", "post-filters", "search"],
)
def test_queue_pages_walk_the_rank_index_without_sorting(
    sqlite_url: str, f: QueueFilter, index: str
) -> None:
    with Store.open(sqlite_url) as store:
        store.save_posts(
            [
                Post(
                    text=f"boat {i}",
                    source="s",
                    post_id=str(i),
                    label="offer",
                    scores={"offer": i / 10, "unrelated": 1 - i / 10},
                    flagged=True,
                    model_version="v1",
                )
                for i in range(10)
            ]
        )
        plan = _queue_plan(store, f)
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    assert "(score,post_id)<(?,?)" in plan or f.after is None, plan


def test_filter_menus_are_reused_briefly_then_show_new_values(sqlite_url: str) -> None:
    from signalering.web.review import facets

    with Store.open(sqlite_url) as store:
        store.save_posts([Post(text="a", source="forum-a", post_id="1", lang="nl")])
        assert facets(store)["source"] == ["forum-a"]
        store.save_posts([Post(text="b", source="forum-b", post_id="2", lang="ar")])
        assert facets(store)["source"] == ["forum-a"]  # within the cache's lifetime
        fresh = facets(store, max_age=0)
        assert fresh["source"] == ["forum-a", "forum-b"] and fresh["lang"] == ["ar", "nl"]
    with Store.open(sqlite_url.replace(".db", "-other.db")) as other:
        assert facets(other)["source"] == []  # another store never sees these menus
