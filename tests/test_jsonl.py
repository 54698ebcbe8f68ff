from __future__ import annotations

import io

from signalering.jsonl import ReadReport, read_posts
from signalering.post import Post


def _read(data: bytes) -> tuple[list[Post], ReadReport]:
    report = ReadReport()
    posts = list(
        read_posts(io.BytesIO(data), name="in.jsonl", report=report, on_error=lambda e: None)
    )
    return posts, report


def test_bad_lines_are_named_and_the_rest_is_read() -> None:
    data = (
        b'{"id": 1, "text": "first"}\n'
        b"this is not json\n"
        b'{"id": 3}\n'
        b'["a list"]\n'
        b'{"id": 5, "text": 42}\n'
        b'{"id": 6, "text": "caf\xe9 latin-1"}\n'
        b"\n"
        b'{"id": 8, "text": "last", "channel": "x"}\n'
    )
    posts, report = _read(data)
    assert [p.text for p in posts] == ["first", "last"]
    messages = [str(e) for e in report.skipped]
    assert messages[0].startswith("in.jsonl:2: not valid JSON")
    assert messages[1] == "in.jsonl:3: no 'text' field"
    assert messages[2].startswith("in.jsonl:4: expected a JSON object")
    assert messages[3].startswith("in.jsonl:5: 'text' must be a string")
    assert messages[4].startswith("in.jsonl:6: not UTF-8")
    assert len(messages) == 5


def test_unknown_fields_survive_the_round_trip() -> None:
    (post,), _ = _read(b'{"id": 7, "text": "x", "channel": "c", "meta": {"a": [1]}}\n')
    record = post.to_record()
    assert record["id"] == "7"
    assert record["channel"] == "c" and record["meta"] == {"a": [1]}


def test_a_byte_order_mark_on_the_first_line_is_accepted() -> None:
    posts, report = _read(b'\xef\xbb\xbf{"text": "with bom"}\n')
    assert [p.text for p in posts] == ["with bom"] and not report.skipped
