"""Networks from clusters and shared contacts, stored and listed; similarity to known offers."""

from __future__ import annotations

from signalering.link import build_networks, list_networks, post_links
from signalering.model.similarity import ExemplarBank
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store

PHONE = "+218912345678"


def _post(pid: str, text: str, phone: str | None, lang: str, when: str) -> Post:
    ents = {"phones": [{"value": phone}] if phone else [], "places": []}
    return Post(text=text, source="forum", post_id=pid, lang=lang, posted_at=when, entities=ents)


def test_posts_sharing_a_number_form_one_stored_network_with_a_summary(store: Store) -> None:
    store.save_posts(
        [
            _post("1", "Boat Zuwara to Lampedusa 3500 euro, call now", PHONE, "en", "2024-01-02T10:00:00+00:00"),
            _post("2", "Lorry from Dunkirk to England, safe, 4000 pounds", PHONE, "en", "2024-03-05T10:00:00+00:00"),
            _post("3", "Selling a used fridge, works well", "+31612345678", "nl", "2024-02-01T10:00:00+00:00"),
        ]
    )  # fmt: skip
    networks = build_networks(store, encoder=None)
    assert len(networks) == 1
    listed = list_networks(store)
    assert len(listed) == 1
    net = listed[0]
    assert net["posts"] == 2
    assert net["first_seen"].startswith("2024-01-02") and net["last_seen"].startswith("2024-03-05")
    assert net["languages"] == {"en": 2}
    assert len(net["contacts"]) == 1 and PHONE not in net["contacts"][0]  # pseudonymised
    first = post_links(store, int(net["post_ids"][0]))
    assert first["network"] == net["id"]


def test_rebuilding_replaces_the_previous_networks(store: Store) -> None:
    store.save_posts(
        [_post(str(i), f"ad number {i} with words", PHONE, "en", "2024-01-01T00:00:00+00:00")
         for i in range(3)]
    )  # fmt: skip
    build_networks(store, encoder=None)
    build_networks(store, encoder=None)
    assert [n["posts"] for n in list_networks(store)] == [3]


def test_a_post_like_a_known_offer_gets_evidence_and_is_flagged_by_the_rule() -> None:
    bank = ExemplarBank().add(
        ["ar-000123"],
        ["Safe boat trip from Zuwara to Lampedusa tonight, 3500 euro, children half price"],
        ["en"],
        origin="corpus",
    )
    stages = Stages(None, stages=("normalise", "language"), bank=bank, rule="or", flag_cosine=0.85)
    near, far = stages.process(
        [
            Post(text="Safe boat trip from Zuwara to Lampedusa tonight, 3000 euro, kids half"),
            Post(text="The museum opens a new exhibition about Dutch painters"),
        ]
    )
    similar = [e for e in near.evidence if e["kind"] == "similar"]
    assert similar[0]["exemplar"] == "ar-000123" and similar[0]["score"] >= 0.85
    assert "like known offer ar-000123" in similar[0]["text"]
    assert near.flagged is True
    assert any(e["kind"] == "rule" for e in near.evidence)
    assert not far.flagged


def test_an_offer_an_analyst_confirms_joins_the_exemplar_bank(store: Store) -> None:
    store.save_posts([Post(text="Lorry to England from Calais, 5000 pounds", source="f", post_id="9",
                           label="offer", scores={"offer": 0.6}, model_version="m")])  # fmt: skip
    pk = int(next(store.iter_posts()).id)  # type: ignore[arg-type]
    store.add_decision(pk, "anna", "confirm")
    bank = ExemplarBank().add_confirmed(store)
    assert bank.ids == [f"post-{pk}"] and bank.origins == ["confirmed"]
