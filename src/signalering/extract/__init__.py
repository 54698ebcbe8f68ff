"""Entity extraction: phones, handles and links, prices, places, dates.

A blank spaCy pipeline (``spacy.blank("xx")`` with one token per character,
``signalering.char_tokenizer.v1``: the rules read characters, not words) runs the registered components ``signalering_{dates,places,prices,handles,phones}_v1``
(spaCy forbids dots in factory names) over the normalised text
(:func:`signalering.text.normalise`); every finding carries offsets into the
ORIGINAL post so the review app can highlight it. Rules are data:
``signalering/data/entities.yaml`` and the gazetteer
``annotaties/gazetteers/places.yaml``.

A caller that already normalised the post (the pipeline keeps
``post.normalised``) may pass that :class:`~signalering.text.Normalised`
instead of the text, which saves normalising twice.

>>> ents = extract("Boat Zuwara → Lampedusa 3.500€ p.p. WhatsApp +218 92 260 1815")
>>> ents["phones"][0]["value"], ents["prices"][0]["amount"]
('+218922601815', 3500.0)
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

# First: spaCy without letting thinc import torch (see _spacy).
from signalering.extract import _spacy  # noqa: F401

# isort: split
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from signalering import entities as entity_kinds
from signalering.entities import route  # re-exported: routes read stored entities
from signalering.extract import components
from signalering.extract.components import PIPES, empty
from signalering.extract.rules import DEFAULT_GAZETTEER, load_gazetteer, load_rules
from signalering.text import Normalised, normalise

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_GAZETTEER",
    "evaluate",
    "extract",
    "extract_many",
    "load_gazetteer",
    "pipeline",
    "route",
]
assert components  # registers the spaCy factories


_SURROGATE = re.compile("[\ud800-\udfff]")


class CharTokenizer:
    """One token per character of the (normalised) text.

    The extraction rules read characters, not words, so tokens only anchor
    ``doc.spans``: with one token per character every finding is an exact
    span, building the Doc is four times faster than spaCy's rule-based
    tokenizer, and the vocabulary stays the size of the alphabet instead of
    growing with every phone number and handle a long crawl sees.
    """

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words = list(text)
        if _SURROGATE.search(text):
            # spaCy hashes each token as UTF-8, which a lone surrogate (a JSON "\ud800"
            # escape) is not; U+FFFD keeps one token per character, so offsets stay.
            words = [_SURROGATE.sub("\ufffd", w) for w in words]
        return Doc(self.vocab, words=words, spaces=[False] * len(text))

    def to_bytes(self, **_: Any) -> bytes:
        return b""

    def from_bytes(self, _data: bytes, **__: Any) -> CharTokenizer:
        return self

    def to_disk(self, _path: Any, **__: Any) -> None:
        return None

    def from_disk(self, _path: Any, **__: Any) -> CharTokenizer:
        return self


@spacy.registry.tokenizers("signalering.char_tokenizer.v1")
def create_char_tokenizer() -> Callable[[Language], CharTokenizer]:
    """spaCy registry entry for :class:`CharTokenizer`."""

    def make(nlp: Language) -> CharTokenizer:
        return CharTokenizer(nlp.vocab)

    return make


@functools.lru_cache(maxsize=4)
def pipeline(gazetteer: str | None = None) -> Language:
    """The extraction pipeline (built once per gazetteer path and cached)."""
    load_rules(gazetteer)  # fail early on a bad gazetteer
    nlp = spacy.blank(
        "xx", config={"nlp": {"tokenizer": {"@tokenizers": "signalering.char_tokenizer.v1"}}}
    )
    for name in PIPES:
        nlp.add_pipe(name)
    return nlp


def _prepare(
    nlp: Language,
    text: str | Normalised,
    lang: str | None,
    region_hints: Sequence[str],
    gazetteer: str | None,
) -> Doc:
    if isinstance(text, Normalised):
        norm = text
    elif isinstance(text, str):
        norm = normalise(text)
    else:
        raise TypeError(f"extract expects str or Normalised, got {type(text).__name__}")
    if lang is None:
        from signalering.language import detect

        lang = detect(norm.original).code
    doc = nlp.make_doc(norm.text)
    doc.user_data.update(
        norm=norm,
        lang=lang,
        region_hints=tuple(region_hints),
        gazetteer=gazetteer,
        taken=[],
        entities=empty(),
    )
    doc.spans["sc"] = []
    return doc


def _result(doc: Doc) -> dict[str, list[dict[str, Any]]]:
    entities = doc.user_data["entities"]
    return {
        key: sorted(entities.get(key) or [], key=lambda e: e["start"])
        for key in entity_kinds.all_keys()
    }


def extract(
    text: str | Normalised,
    *,
    lang: str | None = None,
    region_hints: Sequence[str] = (),
    gazetteer: Path | str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Entities in ``text``: one list per kind of :func:`signalering.entities.all_keys`.

    ``text`` is the post, or its :func:`~signalering.text.normalise` result.
    ``lang`` (BCP 47, detected when None) and ``region_hints`` (ISO 3166 codes,
    e.g. the source's country) pick the region of phone numbers written
    without a country code.
    """
    gaz = str(gazetteer) if gazetteer is not None else None
    nlp = pipeline(gaz)
    return _result(nlp(_prepare(nlp, text, lang, region_hints, gaz)))


def extract_many(
    texts: Iterable[str | Normalised],
    *,
    langs: Iterable[str | None] | None = None,
    region_hints: Sequence[str] = (),
    gazetteer: Path | str | None = None,
    batch_size: int = 256,
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Like :func:`extract` for many texts, batched through ``nlp.pipe``."""
    gaz = str(gazetteer) if gazetteer is not None else None
    nlp = pipeline(gaz)
    lang_iter = iter(langs) if langs is not None else itertools.repeat(None)
    docs = (
        _prepare(nlp, text, lang, region_hints, gaz)
        for text, lang in zip(texts, lang_iter, strict=False)
    )
    for doc in nlp.pipe(docs, batch_size=batch_size):
        yield _result(doc)


# How a gold record and a finding compare, for the kinds whose gold is not a plain value.
_GOLD_ITEM: dict[str, Callable[[Any], Any]] = {
    "handles": lambda h: (h["platform"], str(h["value"]).lower().lstrip("@")),
    "prices": lambda p: (round(float(p["amount"]), 2), p["currency"]),
}
_FOUND_ITEM: dict[str, Callable[[Any], Any]] = {
    "handles": lambda h: (h["platform"], h["value"]),
    "prices": lambda p: (round(float(p["amount"]), 2), p["currency"]),
}


def _gold_keys() -> tuple[str, ...]:
    return tuple(k.key for k in entity_kinds.kinds() if k.gold)


def _gold_sets(entities: dict[str, Any]) -> dict[str, set[Any]]:
    return {
        key: {_GOLD_ITEM.get(key, str)(g) for g in entities.get(key) or []} for key in _gold_keys()
    }


def _found_sets(found: dict[str, list[dict[str, Any]]]) -> dict[str, set[Any]]:
    return {
        key: {_FOUND_ITEM.get(key, lambda e: e["value"])(e) for e in found.get(key) or []}
        for key in _gold_keys()
    }


def evaluate(records: list[dict[str, Any]], *, errors: int = 0) -> dict[str, Any]:
    """Micro precision/recall/F1 per entity type against the corpus gold ``entities``.

    Each record needs ``text`` and ``entities``; ``lang`` is used when present.
    ``errors`` > 0 adds up to that many example misses/false finds per type.
    """
    records = [r for r in records if r.get("entities") is not None]
    counts = {k: {"tp": 0, "fp": 0, "fn": 0} for k in _gold_keys()}
    examples: dict[str, list[dict[str, Any]]] = {k: [] for k in counts}
    found_iter = extract_many((r["text"] for r in records), langs=(r.get("lang") for r in records))
    for record, found in zip(records, found_iter, strict=True):
        gold = _gold_sets(record["entities"])
        got = _found_sets(found)
        for kind, c in counts.items():
            tp = gold[kind] & got[kind]
            c["tp"] += len(tp)
            c["fp"] += len(got[kind] - gold[kind])
            c["fn"] += len(gold[kind] - got[kind])
            if errors and (got[kind] != gold[kind]) and len(examples[kind]) < errors:
                examples[kind].append(
                    {
                        "id": record.get("id"),
                        "missed": sorted(map(str, gold[kind] - got[kind])),
                        "extra": sorted(map(str, got[kind] - gold[kind])),
                    }
                )
    out: dict[str, Any] = {"n": len(records)}
    for kind, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[kind] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), **c}
        if errors:
            out[kind]["examples"] = examples[kind]
    return out
