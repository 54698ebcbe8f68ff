"""Full-text search, and PostgreSQL serving search and the review queue from its indexes."""

from __future__ import annotations

from sqlalchemy import text

from signalering.post import Post
from signalering.store import Store


def _posts() -> list[Post]:
    texts = [
        "Boat to Lampedusa this week, 2000 EUR, WhatsApp",
        "Truck to UK, driver needed, WhatsApp me",
        "Warning: smugglers on Facebook promise safe boats",
        "Selling a used bicycle",
    ]
    return [
        Post(
            text=t,
            source="forum",
            post_id=str(i),
            label="offer" if i < 2 else "unrelated",
            scores={"offer": 0.5 + i / 10, "unrelated": 0.5 - i / 10},
            flagged=i < 2,
            model_version="v1",
        )
        for i, t in enumerate(texts)
    ]


def test_search_finds_posts_with_every_word_newest_first(store: Store) -> None:
    store.save_posts(_posts())
    assert [p.post_id for p in store.search("whatsapp")] == ["1", "0"]
    assert [p.post_id for p in store.search("WhatsApp boat")] == ["0"]
    assert store.search("helicopter") == []
    assert store.search("   ") == []
    assert [p.post_id for p in store.search("whatsapp", limit=1)] == ["1"]


def test_a_search_for_sql_wildcards_matches_them_literally(store: Store) -> None:
    store.save_posts(
        [Post(text="100% safe", source="s", post_id="1"), Post(text="safe", post_id="2")]
    )
    assert [p.post_id for p in store.search("100%")] == ["1"]
    assert store.search("%") == [] or [p.post_id for p in store.search("%")] == ["1"]


def _plan(store: Store, sql: str) -> str:
    with store.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))


def test_postgres_search_uses_the_full_text_index(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        store.save_posts(_posts())
        stmt = (
            "SELECT id FROM posts WHERE to_tsvector('simple'::regconfig, text) "
            "@@ plainto_tsquery('simple'::regconfig, 'boat')"
        )
        assert "ix_posts_text_fts" in _plan(store, stmt)
        # The statement Store.search sends compiles to the same indexed expression.
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.execute(
                text(
                    "SELECT id FROM posts WHERE to_tsvector('simple'::regconfig, text) "
                    "@@ plainto_tsquery('simple'::regconfig, :q)"
                ),
                {"q": "boat"},
            ).all()
        assert len(rows) == 1


def test_postgres_review_queue_uses_the_score_index(postgres_url: str) -> None:
    with Store.open(postgres_url) as store:
        store.save_posts(_posts())
        plan = _plan(
            store,
            "SELECT post_id FROM scores WHERE model_version = 'v1' AND flagged "
            "ORDER BY score DESC LIMIT 20",
        )
        assert "ix_scores_queue" in plan
        assert [p.post_id for p in store.flagged(model_version="v1")] == ["1", "0"]
