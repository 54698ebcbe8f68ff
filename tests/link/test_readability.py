"""Per-language readability: measured separation decides which posts get embedding links."""

from __future__ import annotations

import numpy as np

from signalering.embed import unread_languages
from signalering.link.readability import separation


def _records(lang: str, families: int, per: int = 2) -> list[dict]:
    return [{"lang": lang, "family": f"f{f}"} for f in range(families) for _ in range(per)]


def test_a_language_whose_translations_are_no_closer_than_other_ads_is_unreadable() -> None:
    rng = np.random.default_rng(0)
    families = 30
    anchors = rng.standard_normal((families, 16))
    records, rows = [], []
    for f in range(families):
        # "good": its post sits on its family's direction, as its English translation does.
        for lang, vec in (
            ("en", anchors[f]),
            ("good", anchors[f] + 0.2 * rng.standard_normal(16)),
            ("bad", rng.standard_normal(16)),  # read as noise: no relation to the ad
        ):
            records.append({"lang": lang, "family": f"f{f}"})
            rows.append(vec)
    vectors = np.array(rows, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    table = separation(records, vectors)
    assert table["good"]["readable"] and table["good"]["auc"] > 0.95
    assert not table["bad"]["readable"] and table["bad"]["margin"] < 0.15


def test_a_language_of_unknown_word_pieces_only_is_unreadable() -> None:
    records = _records("ti", 5) + _records("en", 5)
    for i, rec in enumerate(records[10:]):
        rec["family"] = records[i]["family"]
    vectors = np.zeros((20, 4), dtype=np.float32)
    vectors[10:, 0] = 1.0
    assert separation(records, vectors)["ti"] == {
        "pairs": 0,
        "readable": False,
        "reason": "unknown word pieces",
    }


def test_use_m3_is_measured_not_to_read_vietnamese_sorani_kurmanji_or_tigrinya() -> None:
    # The shipped table (python -m signalering.link.readability), not a hard-coded list.
    unread = unread_languages("use-m3")
    assert {"vi", "ckb", "kmr", "ti"} <= unread
    assert not {"en", "de", "fr", "nl", "ru", "tr"} & unread
    assert unread_languages("st:never-measured") == frozenset()


def test_posts_in_an_unread_language_get_zero_vectors_and_so_no_embedding_links() -> None:
    from signalering.embed import get_encoder, readable

    model = get_encoder("use-m3")
    texts = ["Đi Anh bằng xe container, giá 12000 bảng", "Lorry to England, 12000 pounds"]
    vectors = model.encode(texts)
    gated = readable(texts, model, vectors, langs=["vi", "en"])
    assert not gated[0].any()
    assert np.array_equal(gated[1], vectors[1])
    assert np.array_equal(readable(texts, model, vectors), vectors)  # no langs: coverage only
