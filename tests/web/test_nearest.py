"""Nearest known offers on the post page: from the pipeline's embedding evidence, else wording."""

from __future__ import annotations

from fastapi.testclient import TestClient

from signalering import corpus
from signalering.embed import DEFAULT_ENCODER
from signalering.model.similarity import ExemplarBank, similar
from signalering.store.decisions import confirmed_offer_ids
from signalering.web import review as rv

from .conftest import Review, login


def _bank(review: Review, corpus_offers: int = 4) -> ExemplarBank:
    """A real exemplar bank: a few corpus offers plus the store's confirmed offers."""
    offers = [r for r in corpus.load() if r["label"] == "offer"][:corpus_offers]
    bank = ExemplarBank(encoder=DEFAULT_ENCODER).add(
        [r["id"] for r in offers],
        [r["text"] for r in offers],
        [r.get("lang") for r in offers],
        origin="corpus",
        store=review.store,
    )
    return bank.add_confirmed(review.store)


def test_post_page_lists_the_nearest_offers_the_pipeline_found_by_meaning(
    review: Review, client: TestClient
) -> None:
    store = review.store
    store.add_decision(review.ids["101"], "anna", "confirm", label="offer")
    bank = _bank(review)
    repost = store.get(review.ids["105"])
    assert repost is not None
    store.save_scores(similar([repost], bank, store=store, rule="off"))
    scored = store.get(review.ids["105"])
    assert scored is not None
    evidence = [e for e in scored.evidence or [] if e.get("kind") == "similar"]
    assert evidence, "the repost is close to the confirmed offer"

    nearest = rv.nearest_offers(store, scored)
    found_by_meaning = {n["exemplar"] for n in nearest if n["method"] == "embedding"}
    assert found_by_meaning and found_by_meaning <= {e["exemplar"] for e in evidence}
    first = nearest[0]
    # The confirmed original shares the WhatsApp number and is the closest in meaning.
    assert first["id"] == review.ids["101"] and first["origin"] == "confirmed"
    assert first["method"] == "embedding" and first["similarity"] >= 0.6
    assert first["shared_contacts"] == 1
    assert "Lampedusa" in first["text"]
    for row in nearest:
        if row["origin"] == "corpus":  # corpus exemplars show their corpus text
            assert row["id"] is None and row["text"]

    page = login(client, "anna").get(f"/posts/{review.ids['105']}")
    assert page.status_code == 200
    assert f'href="/posts/{review.ids["101"]}"' in page.text
    assert 'data-method="embedding"' in page.text


def test_without_similarity_evidence_the_page_falls_back_to_shared_wording(
    review: Review,
) -> None:
    store = review.store
    store.add_decision(review.ids["101"], "anna", "confirm", label="offer")
    post = store.get(review.ids["201"])
    assert post is not None and not any(e.get("kind") == "similar" for e in post.evidence or [])
    nearest = rv.nearest_offers(store, post)
    assert [(n["id"], n["method"]) for n in nearest] == [(review.ids["101"], "characters")]


def test_corrected_to_offer_counts_as_a_confirmed_offer_and_later_decisions_win(
    review: Review,
) -> None:
    store = review.store
    ids = review.ids
    store.add_decision(ids["103"], "anna", "correct", label="offer")
    store.add_decision(ids["104"], "anna", "confirm", label="unrelated")  # confirms it is NOT
    store.add_decision(ids["101"], "anna", "confirm", label="offer")
    store.add_decision(ids["105"], "anna", "confirm", label="offer")
    store.add_decision(ids["105"], "anna", "dismiss")  # taken back
    store.add_decision(ids["102"], "anna", "escalate")
    assert confirmed_offer_ids(store) == [ids["101"], ids["103"]]
    assert rv.exemplars(store) == [ids["101"], ids["103"]]
    # The embedding bank reads the same rule.
    bank = ExemplarBank(encoder=DEFAULT_ENCODER).add_confirmed(store)
    assert sorted(bank.ids) == sorted([f"post-{ids['101']}", f"post-{ids['103']}"])
