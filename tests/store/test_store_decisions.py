"""One confirm rule: the exports' reviewed labels and the confirmed offers (the exemplar
bank) read the same decisions the same way, on both engines."""

from __future__ import annotations

import io
import json

from signalering.post import Post
from signalering.store import Store
from signalering.store.decisions import confirmed_offer_ids
from signalering.web.export import export_annotations, reviewed_labels, reviewed_records


def _fill(store: Store) -> dict[str, int]:
    posts = [
        Post(
            text=f"Boat from Zuwara, post {name}",
            source="forum",
            post_id=name,
            label=label,
            scores={label: 0.9},
            flagged=label == "offer",
            model_version="m1",
        )
        for name, label in (
            ("kept", "offer"),
            ("withdrawn", "offer"),
            ("corrected-away", "offer"),
            ("corrected-in", "request"),
            ("plain-confirm-request", "request"),
            ("escalated", "offer"),
            ("dismissed-request", "request"),
        )
    ]
    store.save_posts(posts)
    return {p.post_id: int(p.id) for p in store.iter_posts()}  # type: ignore[arg-type,misc]


def test_export_and_confirmed_offers_agree_when_another_analyst_takes_a_confirm_back(
    store: Store,
) -> None:
    ids = _fill(store)
    store.add_decision(ids["kept"], "anna", "confirm", label="offer")
    store.add_decision(ids["withdrawn"], "anna", "confirm", label="offer")
    store.add_decision(ids["withdrawn"], "ben", "dismiss")  # later, another analyst
    store.add_decision(ids["corrected-away"], "anna", "confirm")
    store.add_decision(ids["corrected-away"], "ben", "correct", label="warning")
    store.add_decision(ids["corrected-in"], "anna", "correct", label="offer")
    store.add_decision(ids["plain-confirm-request"], "anna", "confirm")  # confirms "request"
    store.add_decision(ids["escalated"], "anna", "confirm", label="offer")
    store.add_decision(ids["escalated"], "ben", "escalate")  # says nothing about the label
    store.add_decision(ids["dismissed-request"], "ben", "dismiss")

    confirmed = confirmed_offer_ids(store)
    labels = {pk: r["label"] for pk, r in reviewed_labels(store).items()}
    records = {int(r["id"].removeprefix("review-")): r["label"] for r in reviewed_records(store)}
    out = io.StringIO()
    export_annotations(store, out, user="anna")
    exported = {
        int(r["id"].removeprefix("review-")): r["label"]
        for r in map(json.loads, out.getvalue().splitlines())
    }

    assert confirmed == [ids["escalated"], ids["corrected-in"], ids["kept"]]
    expected = {
        ids["kept"]: "offer",
        ids["withdrawn"]: "unrelated",
        ids["corrected-away"]: "warning",
        ids["corrected-in"]: "offer",
        ids["plain-confirm-request"]: "request",
        ids["escalated"]: "offer",
        ids["dismissed-request"]: "request",
    }
    assert labels == records == exported == expected
    # The agreement itself: a post is exported as an offer exactly when it is confirmed.
    assert sorted(pk for pk, label in exported.items() if label == "offer") == sorted(confirmed)


def test_a_confirm_without_a_label_confirms_the_current_score_not_an_older_one(
    store: Store,
) -> None:
    ids = _fill(store)
    pk = ids["corrected-in"]
    (post,) = [p for p in store.iter_posts() if int(p.id or 0) == pk]  # type: ignore[arg-type]
    store.save_scores([post.with_(label="offer", scores={"offer": 0.8}, model_version="m2")])
    store.add_decision(pk, "anna", "confirm")
    assert pk in confirmed_offer_ids(store)
    assert reviewed_labels(store)[pk]["label"] == "offer"
