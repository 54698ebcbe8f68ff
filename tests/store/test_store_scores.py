"""Scores per model version, the flagged queue, counts, and pseudonymised entities."""

from __future__ import annotations

from signalering.post import Post
from signalering.privacy import pseudonymise
from signalering.store import Store

PHONE = "+447700900123"


def scored(post_id: str, label: str, p: float, version: str, **fields: object) -> Post:
    rest = {"offer": 1 - p, "unrelated": 1 - p} if label not in ("offer", "unrelated") else {}
    other = "unrelated" if label == "offer" else "offer"
    return Post(
        text=f"post {post_id}",
        source="forum",
        post_id=post_id,
        label=label,
        scores={label: p, other: round(1 - p, 6), **rest},
        flagged=label == "offer",
        model_version=version,
        **fields,  # type: ignore[arg-type]
    )


def test_two_model_versions_stay_queryable_and_get_returns_the_latest(store: Store) -> None:
    store.save_posts([scored("1", "offer", 0.91, "clf-1")])
    [post] = list(store.iter_posts())
    pk = int(post.id)  # type: ignore[arg-type]
    assert (
        store.save_scores(
            [
                post.with_(
                    label="unrelated",
                    scores={"unrelated": 0.8, "offer": 0.2},
                    flagged=False,
                    model_version="clf-2",
                )
            ]
        )
        == 1
    )

    latest = store.get(pk)
    assert (latest.label, latest.model_version, latest.flagged) == ("unrelated", "clf-2", False)  # type: ignore[union-attr]
    assert [p.id for p in store.flagged(model_version="clf-1")] == [str(pk)]
    assert store.flagged(model_version="clf-1")[0].scores["offer"] == 0.91  # type: ignore[index]
    assert store.flagged() == []  # by latest score the post is no longer flagged
    assert store.flagged(model_version="clf-2") == []


def test_rescoring_the_same_version_replaces_its_score(store: Store) -> None:
    store.save_posts([scored("1", "offer", 0.6, "clf-1")])
    store.save_posts([scored("1", "offer", 0.95, "clf-1")])
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM scores").scalar() == 1
    assert store.flagged()[0].scores["offer"] == 0.95  # type: ignore[index]


def test_flagged_lists_the_highest_scores_first_with_filters(store: Store) -> None:
    store.save_posts(
        [
            scored("low", "offer", 0.55, "v1", lang="en"),
            scored("high", "offer", 0.97, "v1", lang="ar"),
            scored("mid", "offer", 0.80, "v1", lang="en"),
            scored("not", "unrelated", 0.99, "v1", lang="en"),
        ]
    )
    assert [p.post_id for p in store.flagged()] == ["high", "mid", "low"]
    assert [p.post_id for p in store.flagged(limit=2)] == ["high", "mid"]
    assert [p.post_id for p in store.flagged(lang="en")] == ["mid", "low"]
    assert store.flagged(label="request") == []


def test_counts_group_posts_by_their_latest_label_language_and_flag(store: Store) -> None:
    store.save_posts(
        [
            scored("1", "offer", 0.9, "v1", lang="en"),
            scored("2", "offer", 0.8, "v1", lang="en"),
            scored("3", "unrelated", 0.9, "v1", lang="ar"),
            Post(text="not scored yet", source="forum", post_id="4", lang="ar"),
        ]
    )
    store.save_posts([scored("2", "unrelated", 0.7, "v2", lang="en")])
    rows = {(r["label"], r["lang"], r["flagged"]): r["posts"] for r in store.counts()}
    assert rows == {
        ("offer", "en", True): 1,
        ("unrelated", "en", False): 1,
        ("unrelated", "ar", False): 1,
        (None, "ar", None): 1,
    }


def test_save_scores_skips_a_post_that_is_no_longer_stored(store: Store) -> None:
    store.save_posts([scored("1", "offer", 0.9, "v1")])
    [post] = list(store.iter_posts())
    gone = post.with_(id="999999", model_version="v2")
    assert store.save_scores([post.with_(model_version="v2"), gone]) == 1


def _pseudonyms(store: Store) -> list[tuple[str, str, str | None]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT kind, value, value_pseudonym FROM entities ORDER BY id"
            ).all()
        ]


ENTITIES = {
    "phones": [{"value": PHONE, "start": 10, "end": 24, "text": "+44 7700 900123"}],
    "handles": [{"value": "@fastcross", "platform": "telegram"}],
    "prices": [{"amount": 1500, "currency": "EUR", "text": "1500 euro"}],
    "places": [{"value": "Calais"}],
}


def test_entity_pseudonyms_are_stable_under_one_key_and_never_the_clear_value(
    store_url: str,
) -> None:
    with Store.open(store_url, pseudonym_key=b"key-one") as store:
        store.save_posts([Post(text="a", source="s", post_id="1", entities=ENTITIES)])
        store.save_posts([Post(text="b", source="s", post_id="2", entities=ENTITIES)])
        rows = _pseudonyms(store)
        again = store.get(1)
    phones = [r for r in rows if r[0] == "phone"]
    assert len(phones) == 2 and phones[0][2] == phones[1][2]  # same phone, same pseudonym
    assert phones[0][2] == pseudonymise(PHONE, b"key-one", kind="phone")
    for kind, value, pseudonym in rows:
        if kind in ("phone", "handle"):
            assert pseudonym and value not in pseudonym and "7700900123" not in pseudonym
        else:
            assert pseudonym is None
    [price] = again.entities["prices"]  # type: ignore[index]
    assert (price["amount"], price["currency"], price["text"]) == (1500.0, "EUR", "1500 euro")
    assert again.entities["handles"][0]["platform"] == "telegram"  # type: ignore[index]


def test_entity_pseudonyms_differ_under_another_key(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    post = Post(text="a", source="s", post_id="1", entities=ENTITIES)
    pseudonyms = []
    for url, key in ((sqlite_url, b"key-one"), (other_url, b"key-two")):
        with Store.open(url, pseudonym_key=key) as store:
            store.save_posts([post])
            pseudonyms.append([r[2] for r in _pseudonyms(store) if r[0] == "phone"][0])
    assert pseudonyms[0] != pseudonyms[1]


def test_new_entities_replace_the_old_ones_and_none_keeps_them(store: Store) -> None:
    store.save_posts([Post(text="a", source="s", post_id="1", entities=ENTITIES)])
    store.save_posts([Post(text="a", source="s", post_id="1")])  # no extraction ran
    assert len(_pseudonyms(store)) == 4
    store.save_posts(
        [Post(text="a", source="s", post_id="1", entities={"phones": [{"value": "+33612345678"}]})]
    )
    assert [r[1] for r in _pseudonyms(store)] == ["+33612345678"]
