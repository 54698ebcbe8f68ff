"""Incremental, transactional saving of posts: each post once, edits kept, removals marked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signalering.errors import InputError
from signalering.post import Post
from signalering.store import SaveResult, Store


def forum_post(post_id: str, text: str, **fields: object) -> Post:
    return Post(
        text=text,
        source="forum",
        kind="forum",
        url=f"https://forum.example/t/{post_id}",
        post_id=post_id,
        **fields,  # type: ignore[arg-type]
    )


def test_saving_the_same_posts_twice_stores_them_once(store: Store) -> None:
    posts = [forum_post(str(i), f"text {i}") for i in range(5)]
    assert store.save_posts(posts) == SaveResult(new=5, updated=0, unchanged=0)
    assert store.save_posts(posts) == SaveResult(new=0, updated=0, unchanged=5)
    assert len(list(store.iter_posts())) == 5


def test_a_duplicate_inside_one_batch_is_stored_once(store: Store) -> None:
    post = forum_post("1", "same")
    assert store.save_posts([post, post]) == SaveResult(new=1, updated=0, unchanged=1)


def test_an_edited_post_is_updated_and_keeps_its_earlier_text(store: Store) -> None:
    store.save_posts([forum_post("7", "Boat to Italy, 2000 EUR")])
    result = store.save_posts([forum_post("7", "Boat to Italy, now 1500 EUR")])
    assert result == SaveResult(new=0, updated=1, unchanged=0)
    [post] = list(store.iter_posts())
    assert post.text == "Boat to Italy, now 1500 EUR"
    history = store.versions(int(post.id))  # type: ignore[arg-type]
    assert [v["text"] for v in history] == ["Boat to Italy, 2000 EUR"]


def test_the_same_content_at_two_urls_is_two_posts(store: Store) -> None:
    text = "Safe trip to UK, call +44 7700 900123"
    a = Post(text=text, source="feed", url="https://a.example/1")
    b = Post(text=text, source="feed", url="https://b.example/9")
    assert store.save_posts([a, b]) == SaveResult(new=2, updated=0, unchanged=0)
    # Without a post id, url + content hash is the identity: a re-crawl adds nothing.
    assert store.save_posts([b, a]) == SaveResult(new=0, updated=0, unchanged=2)
    assert sorted(p.url for p in store.iter_posts()) == [  # type: ignore[type-var]
        "https://a.example/1",
        "https://b.example/9",
    ]


def test_the_same_post_id_in_two_sources_is_two_posts(store: Store) -> None:
    a = Post(text="x", source="one", post_id="1")
    b = Post(text="x", source="two", post_id="1")
    assert store.save_posts([a, b]).new == 2


def test_a_removed_post_is_marked_kept_and_unmarked_when_it_reappears(store: Store) -> None:
    store.save_posts([forum_post("1", "first"), forum_post("2", "second")])
    assert store.mark_removed("forum", ["1", "404"]) == 1
    assert store.mark_removed("forum", ["1"]) == 0  # already marked
    assert len(list(store.iter_posts())) == 2  # marked, not deleted
    with store.engine.connect() as conn:
        removed = conn.exec_driver_sql(
            "SELECT post_id FROM posts WHERE removed_at IS NOT NULL"
        ).all()
    assert removed == [("1",)]

    assert store.save_posts([forum_post("1", "first")]) == SaveResult(0, 1, 0)
    with store.engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM posts WHERE removed_at IS NOT NULL").scalar()
            == 0
        )


def test_a_batch_whose_third_post_fails_writes_nothing_of_that_batch(store: Store) -> None:
    store.save_posts([forum_post("0", "stored before")])
    batch = [
        forum_post("1", "fine", label="offer", scores={"offer": 0.9}, flagged=True),
        forum_post("2", "fine too", entities={"phones": [{"value": "+447700900123"}]}),
        forum_post("3", None),  # type: ignore[arg-type]
        forum_post("4", "never reached"),
    ]
    with pytest.raises(InputError, match="text"):
        store.save_posts(batch)
    assert [p.post_id for p in store.iter_posts()] == ["0"]
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM scores").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM entities").scalar() == 0


def test_a_bad_time_fails_its_batch_with_a_message_naming_the_value(store: Store) -> None:
    batch = [forum_post("1", "a"), forum_post("2", "b"), forum_post("3", "c", posted_at="gisteren")]
    with pytest.raises(InputError, match="gisteren"):
        store.save_posts(batch)
    assert list(store.iter_posts()) == []


def test_times_come_back_timezone_aware_in_utc(store: Store) -> None:
    store.save_posts(
        [
            forum_post(
                "1",
                "t",
                posted_at="2024-05-01T14:00:00+02:00",
                fetched_at="2024-05-02T08:30:00Z",
            )
        ]
    )
    [post] = list(store.iter_posts())
    assert datetime.fromisoformat(post.posted_at) == datetime(2024, 5, 1, 12, tzinfo=UTC)  # type: ignore[arg-type]
    assert post.posted_at.endswith("+00:00")  # type: ignore[union-attr]
    assert datetime.fromisoformat(post.fetched_at) == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)  # type: ignore[arg-type]


def test_a_stored_post_comes_back_with_its_fields_and_extras(store: Store) -> None:
    original = forum_post(
        "42",
        "Driver wanted, good pay",
        author="boss_77",
        extras={"thread": "jobs", "replies": 3},
        lang="en",
        lang_confidence=0.98,
    )
    store.save_posts([original])
    [stored] = list(store.iter_posts())
    again = store.get(int(stored.id))  # type: ignore[arg-type]
    assert again == stored
    for name in ("text", "source", "kind", "url", "post_id", "author", "extras", "lang"):
        assert getattr(stored, name) == getattr(original, name)
    assert store.get(10_000) is None


def test_author_is_pseudonymised_with_the_key(store: Store) -> None:
    store.save_posts([forum_post("1", "x", author="boss_77")])
    with store.engine.connect() as conn:
        pseudonym = conn.exec_driver_sql("SELECT author_pseudonym FROM posts").scalar()
    assert pseudonym.startswith("author:")
    assert "boss_77" not in pseudonym


def test_iter_posts_pages_by_id_and_resumes_after_a_given_id(store: Store) -> None:
    store.save_posts([forum_post(str(i), f"t{i}") for i in range(25)])
    store.save_posts([Post(text="other", source="elsewhere", post_id="1")])
    ids = [int(p.id) for p in store.iter_posts(batch_size=4)]  # type: ignore[arg-type]
    assert ids == sorted(ids) and len(ids) == 26
    assert [int(p.id) for p in store.iter_posts(after_pk=ids[9], batch_size=7)] == ids[10:]  # type: ignore[arg-type]
    assert [p.text for p in store.iter_posts(source="elsewhere")] == ["other"]


def test_crawl_runs_count_what_their_batches_stored(store: Store) -> None:
    store.upsert_source("forum", "listing", "https://forum.example", {"delay": 2})
    run = store.start_run("forum")
    store.save_posts([forum_post("1", "a"), forum_post("2", "b")], run_id=run)
    store.save_posts([forum_post("1", "a edited"), forum_post("3", "c")], run_id=run)
    store.finish_run(run, {"pages": 4, "errors": 0})
    [row] = store.runs(source="forum")
    assert (row["posts_new"], row["posts_updated"], row["pages"]) == (3, 1, 4)
    assert row["status"] == "finished" and row["finished_at"] is not None
    with store.engine.connect() as conn:
        first, last = conn.exec_driver_sql(
            "SELECT first_crawled, last_crawled FROM sources WHERE name = 'forum'"
        ).one()
    assert first is not None and last is not None


def test_crawler_nodes_starting_at_once_create_their_source_once(store: Store) -> None:
    # Distributed crawl nodes register the same source at the same moment; the loser
    # of the insert race must neither fail nor create a second row.
    import threading

    url = store.engine.url.render_as_string(hide_password=False)
    stores = [Store.open(url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def node(s: Store) -> None:
        try:
            barrier.wait()
            s.upsert_source("shared", "listing", "https://shared.example", None)
            s.finish_run(s.start_run("shared"), {"pages": 1, "errors": 0})
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert not errors, errors
    with store.engine.connect() as conn:
        [n] = conn.exec_driver_sql("SELECT count(*) FROM sources WHERE name = 'shared'").one()
    assert n == 1
    assert len(store.runs(source="shared")) == 4


def test_a_post_edited_twice_in_one_batch_keeps_both_earlier_texts(store: Store) -> None:
    batch = [
        forum_post("9", "v1", label="offer", scores={"offer": 0.7}, flagged=True),
        forum_post("9", "v2"),
        forum_post("9", "v3", label="offer", scores={"offer": 0.8}, flagged=True),
    ]
    assert store.save_posts(batch) == SaveResult(new=1, updated=2, unchanged=0)
    [post] = list(store.iter_posts())
    assert post.text == "v3" and post.scores == {"offer": 0.8}
    assert [v["text"] for v in store.versions(int(post.id))] == ["v1", "v2"]  # type: ignore[arg-type]
