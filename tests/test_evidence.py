"""Typed evidence: what the classifier and the similarity stage write, read back by type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signalering.classify import Classifier
from signalering.errors import InputError
from signalering.evidence import Rule, SimilarMatch, Span, parse, parse_all
from signalering.link.similar import Match
from signalering.text import normalise

OFFER = "Boat Zuwara to Lampedusa guaranteed 100%, 3500€ per person, whatsapp +218 91 234 5678"


@pytest.mark.parametrize(
    "item",
    [
        Span(4, 8, "3500", 1.25),
        Span(0, 14, "100% guaranteed", 0.5, "guarantee", "guarantee"),
        SimilarMatch("post-12", 0.91, "en", "confirmed", "0.91 like confirmed offer post-12, en"),
        Rule("logistic", "flagged: combined score 0.83 >= 0.70", 0.8321),
        Rule("cosine", "flagged: 0.93 like known offer ar-000001"),
    ],
)
def test_each_kind_survives_its_json_form(item: Span | SimilarMatch | Rule) -> None:
    assert parse(json.loads(json.dumps(item.to_dict()))) == item


def test_evidence_stored_before_the_types_reads_the_same() -> None:
    # The dicts classify.py and link/similar.py wrote before this module existed.
    stored = [
        {"start": 10, "end": 25, "text": "guaranteed 100%", "weight": 0.31},
        {"kind": "similar", "exemplar": "ar-000001", "lang": "ar", "score": 0.88, "text": "…"},
        {"kind": "rule", "rule": "logistic", "text": "flagged: …", "score": 0.8},
    ]
    kinds = [type(e) for e in parse_all(stored, strict=True)]
    assert kinds == [Span, SimilarMatch, Rule]


def test_the_classifier_writes_spans_that_point_into_the_original_text(
    trained_model: Path,
) -> None:
    [prediction] = Classifier.load(trained_model).predict([normalise(OFFER)], explain="all")
    spans = parse_all(prediction.evidence, strict=True)
    assert spans and all(isinstance(s, Span) for s in spans)
    assert all(OFFER[s.start : s.end] == s.text for s in spans)  # type: ignore[union-attr]


def test_a_similarity_match_is_written_as_similar_evidence() -> None:
    match = Match("post-7", "en", 0.912, "confirmed")
    typed = parse(match.evidence())
    assert typed == SimilarMatch("post-7", 0.91, "en", text="0.91 like confirmed offer post-7, en")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("a span", "an evidence item must be an object"),
        ({"kind": "hunch"}, "unknown evidence kind 'hunch'"),
        ({"start": 5, "end": 2}, "a span needs whole start <= end"),
        ({"start": "5", "end": 8}, "evidence start '5' is not a number"),
        ({"kind": "similar", "score": 0.9}, "similar evidence names no exemplar"),
        ({"kind": "rule", "text": "why"}, "rule evidence names no rule"),
    ],
)
def test_bad_evidence_is_one_line_naming_the_item(item: object, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_all([Span(0, 1, "x").to_dict(), item], strict=True, where="post 12 evidence")
    assert str(info.value).startswith("post 12 evidence[1]: ") and "\n" not in str(info.value)


def test_without_strict_a_bad_item_is_skipped_and_the_rest_kept() -> None:
    good = {"kind": "similar", "exemplar": "post-3", "score": 0.8}
    assert parse_all([{"kind": "hunch"}, good]) == [SimilarMatch("post-3", 0.8)]
