"""The corpus bank is kept whole beside the embedding cache: a start reads one file
instead of parsing the corpus and normalising its offers; an edited corpus or a broken
file gives a bank built afresh, never a stale one."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from signalering import corpus
from signalering.model.similarity import load_bank


def _small_corpus(path: Path, n: int = 40) -> list[dict]:
    records = [r for r in corpus.load() if r["label"] == "offer"][:n]
    records += [r for r in corpus.load() if r["label"] == "warning"][:5]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def test_a_second_start_reads_the_same_bank_from_its_file(tmp_path: Path) -> None:
    source = tmp_path / "corpus.jsonl"
    records = _small_corpus(source)
    cache = tmp_path / "cache"
    first = load_bank(encoder="use-m3", corpus=source, cache_dir=cache)
    assert len(list(cache.glob("bank-use-m3-*.npz"))) == 1
    again = load_bank(encoder="use-m3", corpus=source, cache_dir=cache)
    assert again.ids == first.ids == [r["id"] for r in records if r["label"] == "offer"]
    assert again.langs == first.langs and again.origins == first.origins
    assert again.vectors is not None and first.vectors is not None
    assert np.array_equal(again.vectors, first.vectors)


def test_an_edited_corpus_or_a_broken_bank_file_gives_a_fresh_bank(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "corpus.jsonl"
    records = _small_corpus(source)
    cache = tmp_path / "cache"
    load_bank(encoder="use-m3", corpus=source, cache_dir=cache)
    added = {**records[0], "id": "added-offer", "text": "Boat from Zuwara on Friday, 2000 euro"}
    with source.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(added) + "\n")
    edited = load_bank(encoder="use-m3", corpus=source, cache_dir=cache)
    assert edited.ids[-1] == "added-offer"
    (file,) = cache.glob("bank-use-m3-*.npz")  # the earlier corpus's bank is gone
    file.write_bytes(b"not a bank")
    with caplog.at_level(logging.WARNING):
        rebuilt = load_bank(encoder="use-m3", corpus=source, cache_dir=cache)
    assert "unreadable exemplar bank" in caplog.text and str(file) in caplog.text
    assert rebuilt.ids == edited.ids
    assert rebuilt.vectors is not None and edited.vectors is not None
    assert np.allclose(rebuilt.vectors, edited.vectors, atol=1e-6)
