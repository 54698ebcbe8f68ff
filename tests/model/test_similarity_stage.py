"""The similarity step in the product: settings, Stages.load's exemplar bank, its cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from signalering import corpus
from signalering.config import load_config
from signalering.embed import FileEmbeddingCache, get_encoder
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store

UNRELATED = "The museum opens a new exhibition about Dutch landscape painters on Sunday"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """Twenty corpus records (twelve offers), as a corpus file the settings can point at."""
    records = corpus.load()
    offers = [r for r in records if r["label"] == "offer"][:12]
    others = [r for r in records if r["label"] != "offer"][:8]
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in offers + others),
        encoding="utf-8",
    )
    return path, offers


def _settings(model: Path, corpus_path: Path, cache: Path, **similarity: object):
    return load_config(
        env={},
        overrides={
            "model": {"path": model, "corpus": corpus_path},
            "similarity": {"cache_dir": cache, **similarity},
        },
    )


def test_classify_stages_name_the_nearest_known_offer_and_flag_a_repost(
    trained_model: Path, small_corpus: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    path, offers = small_corpus
    stages = Stages.load(_settings(trained_model, path, tmp_path / "cache"))
    assert stages.bank is not None and set(stages.bank.ids) == {r["id"] for r in offers}
    repost, other = stages.process([Post(text=offers[3]["text"]), Post(text=UNRELATED)])
    similar = [e for e in repost.evidence if e.get("kind") == "similar"]
    assert similar[0]["exemplar"] == offers[3]["id"] and similar[0]["score"] >= 0.99
    assert f"like known offer {offers[3]['id']}" in similar[0]["text"]
    assert repost.flagged is True
    assert not [e for e in other.evidence if e.get("kind") == "similar" and e["score"] >= 0.85]


def test_similarity_can_be_switched_off_and_k_limits_the_evidence(
    trained_model: Path, small_corpus: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    path, offers = small_corpus
    off = Stages.load(_settings(trained_model, path, tmp_path, enabled=False))
    assert off.bank is None
    (post,) = off.process([Post(text=offers[0]["text"])])
    assert not [e for e in post.evidence if e.get("kind") == "similar"]
    one = Stages.load(_settings(trained_model, path, tmp_path, k=1, flag_cosine=1.0))
    (post,) = one.process([Post(text=offers[0]["text"] + " !!")])
    assert len([e for e in post.evidence if e.get("kind") == "similar"]) == 1


def test_the_known_offers_are_embedded_once_and_read_from_the_cache_file(
    small_corpus: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    _, offers = small_corpus
    texts = [r["text"] for r in offers]
    model = get_encoder("use-m3")
    first = FileEmbeddingCache(tmp_path)
    fresh = first.encode(texts, model)
    assert first.misses == len(set(texts)) and first.hits == 0
    again = FileEmbeddingCache(tmp_path)
    cached = again.encode(texts, model)
    assert again.misses == 0 and again.hits == len(set(texts))
    assert np.allclose(fresh, cached)
    assert (tmp_path / "use-m3.npz").is_file()


def test_with_a_store_offers_confirmed_by_analysts_join_the_bank(
    trained_model: Path, small_corpus: tuple[Path, list[dict]], store: Store, tmp_path: Path
) -> None:
    path, offers = small_corpus
    confirmed = "Lorry from Calais to Dover every night, 4500 pounds, hidden place, call Samir"
    store.save_posts([Post(text=confirmed, source="f", post_id="9", label="offer",
                           scores={"offer": 0.6}, model_version="m")])  # fmt: skip
    pk = int(next(store.iter_posts()).id)  # type: ignore[arg-type]
    store.add_decision(pk, "anna", "confirm")
    stages = Stages.load(_settings(trained_model, path, tmp_path), store=store)
    assert f"post-{pk}" in stages.bank.ids and len(stages.bank) == len(offers) + 1
    (post,) = stages.process([Post(text=confirmed.replace("4500", "4000"))])
    top = [e for e in post.evidence if e.get("kind") == "similar"][0]
    assert top["exemplar"] == f"post-{pk}" and "confirmed offer" in top["text"]


def test_stages_built_from_a_classifier_alone_still_work_without_a_bank(
    trained_model: Path,
) -> None:
    from signalering.model.classifier import Classifier

    stages = Stages(Classifier.load(trained_model))
    (post,) = stages.process([Post(text=UNRELATED)])
    assert post.label is not None
    assert not [e for e in post.evidence or [] if e.get("kind") == "similar"]


def test_a_post_the_encoder_cannot_read_resembles_no_known_offer() -> None:
    # USE-m3 reads Tigrinya as mostly <unk>: every Tigrinya text embeds alike, so an
    # unrelated Tigrinya post would look like a Tigrinya offer. It gets no such evidence.
    from signalering.model.similarity import ExemplarBank, similar

    records = corpus.load()
    ti_offer = next(r for r in records if r["lang"] == "ti" and r["label"] == "offer")
    ti_other = next(r for r in records if r["lang"] == "ti" and r["label"] == "unrelated")
    en_offer = next(r for r in records if r["lang"] == "en" and r["label"] == "offer")
    bank = ExemplarBank().add(
        [ti_offer["id"], en_offer["id"]],
        [ti_offer["text"], en_offer["text"]],
        ["ti", "en"],
        origin="corpus",
    )
    raw = get_encoder("use-m3").encode([ti_offer["text"], ti_other["text"]])
    assert float(raw[0] @ raw[1]) > 0.8  # the noise this guards against
    (post,) = similar([Post(text=ti_other["text"], lang="ti")], bank, rule="or", flag_cosine=0.8)
    assert post.flagged is False
    assert not [e for e in post.evidence or [] if e["kind"] == "similar"]
    # A post it can read still finds its near-copy.
    (en,) = similar([Post(text=en_offer["text"] + " !!", lang="en")], bank, rule="off")
    assert [e["exemplar"] for e in en.evidence if e["kind"] == "similar"][0] == en_offer["id"]
