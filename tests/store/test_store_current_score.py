"""Each post's current score: the latest one written, kept by save_posts and save_scores."""

from __future__ import annotations

from sqlalchemy import func, select, text

from signalering.post import Post
from signalering.store import Store
from signalering.store.models import Score


def _scored(post_id: str, version: str, label: str, p: float, flagged: bool) -> Post:
    return Post(
        text=f"post {post_id}",
        source="s",
        post_id=post_id,
        label=label,
        scores={label: p, "unrelated": 1 - p},
        flagged=flagged,
        model_version=version,
    )


def _current_rows(store: Store) -> dict[int, str]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(Score.post_id, Score.model_version).where(Score.is_current))
        return {pk: version for pk, version in rows}


def test_a_rescore_becomes_what_every_reader_sees(store: Store) -> None:
    store.save_posts(
        [_scored("1", "v1", "offer", 0.9, True), _scored("2", "v1", "offer", 0.8, True)]
    )
    stored = {p.post_id: p for p in store.iter_posts()}
    # The new model no longer flags post 1.
    store.save_scores([stored["1"].with_(model_version="v2", label="unrelated", flagged=False)])
    one = store.get(int(stored["1"].id or 0))
    assert one is not None and one.model_version == "v2" and one.label == "unrelated"
    assert [p.post_id for p in store.flagged()] == ["2"]
    assert [p.post_id for p in store.flagged(model_version="v1")] == ["1", "2"]
    counts = {(r["label"], r["flagged"]): r["posts"] for r in store.counts()}
    assert counts == {("unrelated", False): 1, ("offer", True): 1}
    assert _current_rows(store) == {int(stored["1"].id or 0): "v2", int(stored["2"].id or 0): "v1"}


def test_exactly_one_current_score_per_scored_post(store: Store) -> None:
    store.save_posts([_scored("1", "v1", "offer", 0.9, True), Post(text="plain", post_id="9")])
    stored = {p.post_id: p for p in store.iter_posts()}
    for version in ("v2", "v3", "v1"):  # v1 again: replaced, and now the latest
        store.save_scores([stored["1"].with_(model_version=version)])
    # Two versions in one batch: the last one written is current.
    store.save_scores(
        [stored["1"].with_(model_version="v4"), stored["1"].with_(model_version="v5")]
    )
    with store.engine.connect() as conn:
        per_post = conn.execute(
            select(Score.post_id, func.count()).where(Score.is_current).group_by(Score.post_id)
        ).all()
        newest = conn.execute(select(func.max(Score.id))).scalar()
        current_id = conn.execute(select(Score.id).where(Score.is_current)).scalar()
    assert per_post == [(int(stored["1"].id or 0), 1)]
    assert current_id == newest
    again = store.get(int(stored["1"].id or 0))
    assert again is not None and again.model_version == "v5"
    plain = store.get(int(stored["9"].id or 0))
    assert plain is not None and plain.label is None


def test_saving_a_post_again_with_the_old_model_makes_that_score_current(store: Store) -> None:
    store.save_posts([_scored("1", "v1", "offer", 0.9, True)])
    pk = int(next(store.iter_posts()).id or 0)
    store.save_scores([_scored("1", "v2", "request", 0.7, True).with_(id=str(pk))])
    store.save_posts([_scored("1", "v1", "warning", 0.6, False)])
    post = store.get(pk)
    assert post is not None and (post.model_version, post.label) == ("v1", "warning")
    assert _current_rows(store) == {pk: "v1"}


def test_migration_marks_the_latest_score_of_existing_posts_current(store_url: str) -> None:
    from alembic import command

    from signalering.store import engine as engines

    engine = engines.create(store_url)
    command.upgrade(engines.alembic_config(engine), "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO posts (id, source, post_id, fetched_at, text, content_hash, "
            "created_at, updated_at) VALUES (1, 's', '1', '2024-01-01', 'old post', 'h', "
            "'2024-01-01', '2024-01-01')"
        )
        for pk, version, label, flagged in (
            (1, "v1", "offer", True),
            (2, "v2", "unrelated", False),
        ):
            conn.execute(
                text(
                    "INSERT INTO scores (id, post_id, model_version, label, score, flagged, "
                    "created_at) VALUES (:id, 1, :version, :label, 0.9, :flagged, '2024-01-01')"
                ),
                {"id": pk, "version": version, "label": label, "flagged": flagged},
            )
    engine.dispose()
    with Store.open(store_url) as store:
        post = store.get(1)
        assert post is not None and post.model_version == "v2"
        assert store.flagged() == []
        assert _current_rows(store) == {1: "v2"}


def _plans(store: Store, call) -> list[str]:  # type: ignore[no-untyped-def]
    """The SQLite query plans of every SELECT that ``call()`` sends."""
    from sqlalchemy import event

    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    plans = []
    with store.engine.connect() as conn:
        for statement, parameters in sent:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans.append("\n".join(str(r[-1]) for r in rows))
    return plans


def test_sqlite_finds_current_scores_by_post_through_an_index(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store:
        store.save_posts([_scored(str(i), "v1", "offer", i / 10, True) for i in range(10)])
        pk = int(next(store.iter_posts()).id or 0)
        for call in (store.counts, lambda: store.get(pk), lambda: store.flagged(limit=3)):
            plans = [p for p in _plans(store, call) if "scores" in p]
            assert plans
            for plan in plans:
                # Per post through the current-score index, never all current scores per post.
                assert "SCAN scores" not in plan, plan
                assert "(is_current=?)" not in plan, plan
