"""The aggregate queries on both engines: SQLite and PostgreSQL."""

from __future__ import annotations

from signalering.campaign import aggregates
from signalering.post import Post
from signalering.store import Store


def _post(i: int, label: str, lang: str, text: str, places: list[str], day: int) -> Post:
    return Post(
        text=text,
        source="forum",
        kind="forum",
        post_id=str(i),
        author=f"author{i}",
        posted_at=f"2024-04-{day:02d}T12:00:00+00:00",
        lang=lang,
        label=label,
        scores={label: 0.9},
        flagged=label == "offer",
        model_version="test",
        entities={
            "places": [{"value": p, "start": 10 * k} for k, p in enumerate(places)],
            "handles": [{"platform": "telegram", "value": f"h{i}", "start": 0, "end": 3}],
        },
    )


def test_counts_routes_and_claims_agree_on_both_engines(store: Store) -> None:
    store.save_posts(
        [
            _post(
                1,
                "offer",
                "en",
                "Boat Zuwara to Lampedusa, 100% guaranteed",
                ["Zuwara", "Lampedusa"],
                1,
            ),
            _post(
                2, "offer", "en", "Zuwara to Lampedusa, pay on arrival", ["Zuwara", "Lampedusa"], 2
            ),
            _post(3, "request", "ar", "ابحث عن مهرب من زوارة", ["Zuwara", "Italy"], 3),
            _post(4, "warning", "nl", "Pas op voor smokkelaars", [], 20),
            _post(5, "offer", "en", "Out of range, guaranteed", ["Calais", "Dover"], 30),
        ]
    )
    data = aggregates(store, since="2024-04-01", until="2024-04-20", themes=False)
    assert data["posts"] == 4
    assert data["labels"] == {"offer": 2, "request": 1, "warning": 1}
    routes = {(r["departure"], r["destination"], r["label"]): r["posts"] for r in data["routes"]}
    assert routes == {("Zuwara", "Lampedusa", "offer"): 2, ("Zuwara", "Italy", "request"): 1}
    claims = {r["claim"]: r["posts"] for r in data["claims"]}
    assert claims["safety_guarantee"] == 1 and claims["pay_on_arrival"] == 1
    assert data["demand_languages"] == [{"lang": "ar", "posts": 1}]
    assert {(r["platform"], r["label"]): r["posts"] for r in data["platforms"]}[
        ("telegram", "offer")
    ] == 2
