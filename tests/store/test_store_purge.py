"""Retention: purge removes a post with everything derived from it, holds keep a post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, inspect, select

from signalering.post import Post
from signalering.store import Store
from signalering.store.links import EmbeddingRow, NetworkRow, PostCluster
from signalering.store.models import all_models
from signalering.store.retention import (
    PurgedDecision,
    hold_of,
    holds,
    lift_hold,
    place_hold,
    purge,
)

OLD_TEXT = "Boat Zuwara to Lampedusa 3500 euro, oldwordxyz, WhatsApp +218 92 260 1815"
NEW_TEXT = "Crossing Calais to Dover 2000 euro, newwordxyz, contact +44 7700 900456"
PHONE_OLD = {"value": "+218922601815", "text": "+218 92 260 1815", "start": 56, "end": 72}
PHONE_NEW = {"value": "+447700900456", "text": "+44 7700 900456", "start": 55, "end": 70}
# Tables that hold a row per post: purge must delete from each (or keep it on purpose).
PER_POST = {"post_versions", "scores", "entities", "decisions", "post_clusters", "holds"}
NOW = datetime.now(UTC)


def _post(post_id: str, text: str, *, posted_at: str | None, fetched_at: str, phone: dict) -> Post:
    return Post(
        text=text,
        source="forum",
        post_id=post_id,
        posted_at=posted_at,
        fetched_at=fetched_at,
        label="offer",
        scores={"offer": 0.9, "unrelated": 0.1},
        flagged=True,
        model_version="v1",
        entities={"phones": [phone], "places": [{"value": "Calais"}]},
    )


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()


def _fill(store: Store) -> tuple[int, int, int]:
    """An old post (edited once), a recent one and a third one, linked in one network."""
    store.save_posts(
        [_post("old", OLD_TEXT + " v1", posted_at="2023-03-01T10:00:00Z",
               fetched_at="2023-03-02T10:00:00Z", phone=PHONE_OLD)]
    )  # fmt: skip
    store.save_posts(
        [_post("old", OLD_TEXT, posted_at="2023-03-01T10:00:00Z",
               fetched_at="2023-04-02T10:00:00Z", phone=PHONE_OLD)]
    )  # fmt: skip
    recent = (NOW - timedelta(days=3)).isoformat()
    store.save_posts(
        [
            _post("new", NEW_TEXT, posted_at=recent, fetched_at=recent, phone=PHONE_NEW),
            _post("third", NEW_TEXT + " again", posted_at=None, fetched_at=recent,
                  phone=PHONE_NEW),
        ]
    )  # fmt: skip
    old, new, third = (p.id for p in store.iter_posts())
    hashes = {p.id: p.content_hash for p in store.iter_posts()}
    with store._session(write=True) as session:
        for h in hashes.values():
            session.add(EmbeddingRow(content_hash=h, encoder="e", dim=1, vector=b"\0\0\0\0"))
        old_version = store.versions(int(old))[0]["content_hash"]
        session.add(EmbeddingRow(content_hash=old_version, encoder="e", dim=1, vector=b"\0" * 4))
        for pk in (old, new, third):
            session.add(PostCluster(post_id=int(pk), cluster="c1", network="n-1"))
        session.add(
            NetworkRow(
                id="n-1",
                posts=3,
                summary={"id": "n-1", "posts": 3, "post_ids": [old, new, third],
                         "contacts": ["phone:old", "phone:new"]},
            )
        )  # fmt: skip
    store.add_decision(int(old), "anna", "confirm", label="offer", note="same as +218922601815")
    store.add_decision(int(old), "ben", "escalate", note="call +218922601815")
    store.add_decision(int(new), "anna", "dismiss", note="keep me")
    return int(old), int(new), int(third)


def test_purge_removes_an_old_post_with_every_row_derived_from_it(store: Store) -> None:
    old, new, third = _fill(store)

    report = purge(store, older_than_days=365, user="cli:anna")

    assert (report.posts, report.held, report.decisions, report.days) == (1, 0, 2, 365)
    assert [int(p.id) for p in store.iter_posts()] == [new, third]
    assert store.versions(old) == []
    with store._session() as session:
        per_post = {
            t.name: set(session.scalars(select(t.c.post_id)))
            for t in all_models().sorted_tables
            if t.name in PER_POST
        }
        embeddings = set(session.scalars(select(EmbeddingRow.content_hash)))
        clusters = dict(session.execute(select(PostCluster.post_id, PostCluster.network)).all())
        network = session.get(NetworkRow, "n-1")
        kept = session.execute(
            select(PurgedDecision.user, PurgedDecision.action, PurgedDecision.label)
        ).all()
    assert all(old not in ids for ids in per_post.values()), per_post
    assert per_post["decisions"] == {new}
    assert embeddings == {p.content_hash for p in store.iter_posts()}
    assert clusters == {new: "n-1", third: "n-1"}
    # The network's summary is made again from the posts that are left.
    assert network is not None and network.posts == 2
    assert network.summary["post_ids"] == [str(new), str(third)]
    assert sorted(kept) == [("anna", "confirm", "offer"), ("ben", "escalate", None)]
    # What an analyst wrote about the purged post leaves the audit trail with it.
    details = {(e["target"], e["action"]): e["detail"] for e in store.audit_log()}
    assert details[(f"post:{old}", "decision.confirm")] == {"label": "offer"}
    assert details[(f"post:{new}", "decision.dismiss")] == {"label": None, "note": "keep me"}
    assert store.search("oldwordxyz") == []
    assert sorted(int(p.id) for p in store.search("newwordxyz")) == [new, third]


def test_every_table_that_points_at_a_post_is_purged(store: Store) -> None:
    # A table added later with a posts.id foreign key must be handled by the purge.
    pointing = {
        t.name
        for t in all_models().sorted_tables
        for fk in t.foreign_keys
        if isinstance(fk, ForeignKey) and fk.column.table.name == "posts"
    }
    assert pointing == PER_POST
    assert set(inspect(store.engine).get_table_names()) >= pointing | {"purged_decisions"}


def test_a_post_on_hold_is_kept_until_the_hold_is_lifted(store: Store) -> None:
    old, _new, _third = _fill(store)
    place_hold(store, old, "anna", reason="case 2024-17")
    assert hold_of(store, old)["reason"] == "case 2024-17"  # type: ignore[index]

    report = purge(store, older_than_days=365, user="job:run")
    assert (report.posts, report.held) == (0, 1)
    assert store.get(old) is not None
    assert [h["post"] for h in holds(store)] == [old]

    assert lift_hold(store, old, "anna") is True
    assert lift_hold(store, old, "anna") is False
    report = purge(store, older_than_days=365, user="job:run")
    assert (report.posts, report.held) == (1, 0)
    assert store.get(old) is None
    actions = [(e["user"], e["action"]) for e in reversed(store.audit_log())]
    assert actions[-4:] == [
        ("anna", "hold.place"),
        ("job:run", "purge"),
        ("anna", "hold.lift"),
        ("job:run", "purge"),
    ]
    # The hold's reason, free text about the post, went with it.
    hold_entry = next(e for e in store.audit_log() if e["action"] == "hold.place")
    assert hold_entry["detail"] == {}


def test_every_purge_writes_one_audit_line_and_a_dry_run_none(store: Store) -> None:
    old, _new, _third = _fill(store)
    place_hold(store, _third, "anna")
    before = len(store.audit_log())

    dry = purge(store, older_than_days=365, user="cli:anna", dry_run=True)
    assert (dry.posts, dry.held, dry.decisions, dry.dry_run) == (1, 0, 2, True)
    assert store.get(old) is not None
    assert len(store.audit_log()) == before

    done = purge(store, older_than_days=0, user="cli:anna")
    assert (done.posts, done.held) == (2, 1)  # the old one and the recent one; third on hold
    [line] = [e for e in store.audit_log() if e["action"] == "purge"]
    assert (line["user"], line["target"]) == ("cli:anna", "posts")
    assert line["detail"]["posts"] == 2 and line["detail"]["held"] == 1
    assert line["detail"]["days"] == 0 and line["detail"]["before"] == done.before


def test_a_post_is_old_by_posted_at_else_by_fetched_at(store: Store) -> None:
    fresh = (NOW - timedelta(days=1)).isoformat()
    store.save_posts(
        [
            # Posted long ago, fetched yesterday: old.
            _post("a", "a text", posted_at="2022-01-01T00:00:00Z", fetched_at=fresh,
                  phone=PHONE_OLD),
            # Posted yesterday, fetched yesterday: kept.
            _post("b", "b text", posted_at=fresh, fetched_at=fresh, phone=PHONE_OLD),
            # No posted_at, fetched long ago: old.
            _post("c", "c text", posted_at=None, fetched_at="2022-01-01T00:00:00Z",
                  phone=PHONE_OLD),
        ]
    )  # fmt: skip
    assert purge(store, older_than_days=30, user="t").posts == 2
    assert [p.post_id for p in store.iter_posts()] == ["b"]


def test_purge_needs_one_period(store: Store) -> None:
    from signalering.errors import InputError

    with pytest.raises(InputError, match="older_than_days or before"):
        purge(store, user="t")
    with pytest.raises(InputError, match="negative"):
        purge(store, older_than_days=-1, user="t")


def _raw(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_purged_text_and_phone_are_nowhere_in_the_sqlite_files(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    with Store.open(f"sqlite:///{db}", pseudonym_key=b"k") as store:
        old, _new, _third = _fill(store)
        pseudonym = store.get(old).entities["phones"][0]["pseudonym"]  # type: ignore[index]
        forms = [b"oldwordxyz", b"Zuwara to Lampedusa", b"+218922601815", b"218922601815",
                 b"92 260 1815", pseudonym.encode(), b"same as", b"call +"]  # fmt: skip
        assert all(form in _raw(db) for form in forms[:2])
        # A reader elsewhere keeps its connection open: the purge must not wait on it.
        with store.engine.connect() as reader:
            reader.exec_driver_sql("SELECT count(*) FROM posts").scalar()
        purge(store, older_than_days=365, user="t")
        found = _raw(db)  # the -wal and -shm files too, while the store is still open
        assert [f for f in forms if f in found] == []
        assert b"newwordxyz" in found and b"+447700900456" in found


@pytest.mark.postgres
def test_postgres_vacuums_the_purged_tables(postgres_url: str) -> None:
    with Store.open(postgres_url, pseudonym_key=b"k") as store:
        _fill(store)
        purge(store, older_than_days=365, user="t")
        with store.engine.connect() as conn:
            vacuumed = dict(
                conn.exec_driver_sql(
                    "SELECT relname, last_vacuum IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE relname IN ('posts', 'post_versions', 'entities', 'embeddings')"
                ).all()
            )
            dead = conn.exec_driver_sql(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'posts'"
            ).scalar()
    assert vacuumed == dict.fromkeys(("posts", "post_versions", "entities", "embeddings"), True)
    assert dead == 0


def test_a_hold_placed_while_a_purge_runs_keeps_the_post(store: Store) -> None:
    from signalering.store.retention import _purge_chunk

    old, new, _third = _fill(store)
    # The purge chose its posts; then an analyst puts one on hold before its chunk is deleted.
    place_hold(store, old, "anna")
    with store._session(write=True) as session:
        assert _purge_chunk(session, [old, new]) == ([new], 1)
    assert store.get(old) is not None and store.get(new) is None
