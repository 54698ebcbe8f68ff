"""Fuzzing the readers of raw text: the JSONL reader, normalisation and language id."""

from __future__ import annotations

import io
import json

from hypothesis import example, given
from hypothesis import strategies as st

from signalering.jsonl import dumps, parse_line, read_posts
from signalering.language import detect
from signalering.text import normalise

# Text as strangers write it: any code point, obfuscation-prone scripts and digits weighted.
texts = st.text() | st.text(
    st.sampled_from(list("0123456789 +-.()@_/wWhatsApp٠١٢٣٤٥٦٧٨٩۰۱۲۳ ابپتآ€$£₺ЕОАРСе\u200b\u00a0"))
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def _non_blank_lines(data: bytes) -> int:
    return sum(1 for line in io.BytesIO(data) if line.strip())


@given(st.binary())
@example(b"\xef\xbb\xbf{}\n\xff\n")
@example(b'{"text": "\\ud800"}\n')
@example(b"\r\n \n\t{\n")
def test_the_jsonl_reader_reads_or_reports_every_line_of_any_bytes(data: bytes) -> None:
    reported = []
    posts = list(read_posts(io.BytesIO(data), name="in.jsonl", on_error=reported.append))
    assert len(posts) + len(reported) == _non_blank_lines(data)
    for err in reported:
        message = str(err)
        assert message.startswith("in.jsonl:") and "\n" not in message


@given(
    texts,
    st.dictionaries(
        st.text().filter(lambda k: k not in ("text", "id", "post_id", "posted_at", "fetched_at")),
        json_values,
        max_size=4,
    ),
)
@example("\ud800 lone surrogate", {"k\udfff": ["\udc00"]})
@example("line\nbreak\u2028and\u0085more", {"channel": "x"})
def test_a_post_read_from_jsonl_is_written_and_read_back_the_same(text: str, other: dict) -> None:
    # Any JSON object (lone surrogates escaped, as json.dumps does) is read as a post ...
    post = parse_line(json.dumps({"text": text, **other}).encode(), 1, "in.jsonl")
    # ... that is written as one strict UTF-8 line and reads back unchanged.
    line = dumps(post.to_record()).encode("utf-8")
    assert b"\n" not in line
    assert parse_line(line, 1, "in.jsonl").to_record() == post.to_record()


@given(st.lists(json_values, max_size=4))
def test_any_json_line_is_a_post_or_one_reported_error(values: list) -> None:
    data = b"".join(json.dumps(v).encode() + b"\n" for v in values)
    reported = []
    posts = list(read_posts(io.BytesIO(data), on_error=reported.append))
    assert len(posts) + len(reported) == len(values)


@given(texts)
@example("W h a t s A p p ٠٦١٢")
@example("zero one two three four five six")
@example("\u0130" * 3)  # İ: lower() makes two characters of one
def test_normalise_never_raises_and_maps_every_character_back_into_the_original(
    text: str,
) -> None:
    norm = normalise(text)
    assert norm.original == text
    assert len(norm.starts) == len(norm.ends) == len(norm.text)
    for start, end in zip(norm.starts, norm.ends, strict=True):
        assert 0 <= start < end <= len(text)  # [start, end) in the original
    if norm.text:
        a, b = norm.to_original(0, len(norm.text))
        assert 0 <= a <= b <= len(text)


@given(texts)
@example("")
@example("\U000e0001" * 20)
def test_language_id_never_raises_and_gives_a_code_and_a_confidence(text: str) -> None:
    found = detect(text)
    assert isinstance(found.code, str) and found.code
    assert 0.0 <= found.confidence <= 1.0
    assert detect(text) == found
