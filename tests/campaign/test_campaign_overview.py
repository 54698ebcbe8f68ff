"""The campaign overview (counts grouped in SQL) says what the full aggregates say, on
both engines."""

from __future__ import annotations

from signalering.campaign import aggregates, overview
from signalering.post import Post
from signalering.store import Store


def _post(i: int, label: str | None, lang: str, kind: str, when: str, platforms: list[str]) -> Post:
    return Post(
        text=f"Boat from Zuwara to Lampedusa, post {i}",
        source=f"channel_{i % 3}",
        kind=kind,
        post_id=str(i),
        posted_at=when,
        lang=lang,
        label=label,
        scores={label: 0.9} if label else None,
        flagged=label == "offer",
        model_version="m1" if label else None,
        entities={
            "handles": [
                {"platform": p, "value": f"h{i}{k}", "start": 0, "end": 3}
                for k, p in enumerate(platforms)
            ]
        },
    )


def _fill(store: Store) -> None:
    store.save_posts(
        [
            _post(1, "offer", "en", "telegram", "2024-04-01T00:30:00+00:00", ["telegram"]),
            _post(2, "offer", "ar", "telegram", "2024-04-07T23:59:00+00:00", ["telegram", "whatsapp"]),
            _post(3, "request", "ar", "forum", "2024-04-08T00:00:00+00:00", []),
            _post(4, "warning", "nl", "website", "2024-04-30T12:00:00+02:00", ["telegram"]),
            _post(5, None, "fa", "forum", "2024-05-02T12:00:00+00:00", []),
            _post(6, "offer", "en", "forum", "2024-06-15T12:00:00+00:00", ["whatsapp"]),
        ]
    )  # fmt: skip
    # Re-scored: the current score (not the first) is the post's label.
    (first,) = [p for p in store.iter_posts() if p.post_id == "1"]
    store.save_scores([first.with_(label="request", scores={"request": 0.7}, model_version="m2")])


def test_the_overview_counts_are_the_aggregates_counts(store: Store) -> None:
    _fill(store)
    for window in ({}, {"since": "2024-04-02", "until": "2024-05-31"}):
        full = aggregates(store, themes=False, **window)
        counts = overview(store, **window)
        for key in ("posts", "labels", "volume", "languages", "platforms", "first_post"):
            assert counts[key] == full[key], key
        kinds: dict[tuple[str, str], int] = {}
        for r in full["sources"]:
            kinds[(r["kind"], r["label"])] = kinds.get((r["kind"], r["label"]), 0) + r["posts"]
        assert {(r["kind"], r["label"]): r["posts"] for r in counts["kinds"]} == kinds


def test_the_overview_weeks_are_iso_weeks_in_utc_with_the_current_label(store: Store) -> None:
    _fill(store)
    data = overview(store)
    volume = {(r["period"], r["label"]): r["posts"] for r in data["volume"]}
    assert volume == {
        ("2024-W14", "request"): 1,  # re-scored from offer
        ("2024-W14", "offer"): 1,  # Sunday 23:59 UTC is still week 14
        ("2024-W15", "request"): 1,
        ("2024-W18", "warning"): 1,  # 12:00+02:00 is 10:00 UTC
        ("2024-W18", "unscored"): 1,
        ("2024-W24", "offer"): 1,
    }
    assert data["posts"] == 6 and data["labels"]["offer"] == 2
    assert "sources" not in data, "source names can be handles"
    # Contacts as pseudonyms only, and only those of posts in the window.
    clear = {f"h{i}{k}" for i in range(1, 7) for k in range(2)}
    assert len(data["contacts"]) == 5 and not clear & {c["pseudonym"] for c in data["contacts"]}
    assert len(overview(store, since="2024-04-08")["contacts"]) == 2
