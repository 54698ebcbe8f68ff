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


# -- full-text search on both engines: scripts, query syntax, edits -----------------------------

MULTILINGUAL = [
    ("ar", "رحلات بحرية من ليبيا إلى إيطاليا مضمونة السعر ٣٠٠٠ يورو واتساب"),
    ("fa", "قاچاقبر مطمئن می‌خواهم برای رفتن به ترکیه، تماس در تلگرام"),
    ("en", "Boat to Lampedusa, call now"),
]


def test_search_finds_arabic_and_persian_words(store: Store) -> None:
    store.save_posts(
        [Post(text=t, source="s", post_id=lang, lang=lang) for lang, t in MULTILINGUAL]
    )
    assert [p.post_id for p in store.search("إيطاليا")] == ["ar"]
    assert [p.post_id for p in store.search("ليبيا واتساب")] == ["ar"]
    assert [p.post_id for p in store.search("قاچاقبر")] == ["fa"]
    # A Persian word written with a zero-width non-joiner, as people type it.
    assert [p.post_id for p in store.search("می‌خواهم")] == ["fa"]
    assert [p.post_id for p in store.search("تلگرام ترکیه")] == ["fa"]
    assert store.search("ليبيا قاچاقبر") == []


FTS_SYNTAX = [
    '"',
    'boat"',
    '"boat',
    "boat*",
    "NEAR(boat lampedusa)",
    "boat OR",
    "AND",
    "-boat",
    "text:boat",
    "(boat",
    "^boat",
    "boat'",
    "boat & !lampedusa | :*",
    "{text}: boat",
    "\\",
    "''",
]


def test_queries_with_search_syntax_characters_never_error(store: Store) -> None:
    store.save_posts(_posts())
    for query in FTS_SYNTAX:
        found = store.search(query)  # must not raise
        assert all("boat" in p.text.lower() for p in found), query
    # The characters are text, not operators: the word around them is still found.
    assert [p.post_id for p in store.search('boat"')] == ["0"]
    assert [p.post_id for p in store.search("-boat")] == ["0"]
    assert [p.post_id for p in store.search("(boat) lampedusa*")] == ["0"]
    assert store.search("AND") == []


def test_search_follows_edits_and_purges(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    store.save_posts([Post(text="Boat to Lampedusa", source="s", post_id="1")])
    store.save_posts([Post(text="Truck to Dover", source="s", post_id="1")])
    assert store.search("lampedusa") == []
    assert [p.text for p in store.search("dover")] == ["Truck to Dover"]
    store.purge(before=datetime.now(UTC) + timedelta(days=1))
    assert store.search("dover") == []


def test_sqlite_search_index_is_filled_for_posts_stored_before_it_existed(
    sqlite_url: str,
) -> None:
    from alembic import command

    from signalering.store import engine as engines

    engine = engines.create(sqlite_url)
    command.upgrade(engines.alembic_config(engine), "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO posts (id, source, post_id, fetched_at, text, content_hash, "
            "created_at, updated_at) VALUES (7, 's', '7', '2024-01-01', "
            "'Zodiac from Zuwara tonight', 'h', '2024-01-01', '2024-01-01')"
        )
    engine.dispose()
    with Store.open(sqlite_url) as store:
        assert [p.post_id for p in store.search("zuwara")] == ["7"]


def test_sqlite_search_reads_the_fts5_index(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store:
        store.save_posts(_posts())
        from signalering.store.fulltext import newest_matches

        stmt = newest_matches("sqlite", "boat", 10)
        assert stmt is not None
        compiled = stmt.compile(store.engine)
        with store.engine.connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
                )
            )
    assert "VIRTUAL TABLE INDEX" in plan and "posts_fts" in plan
