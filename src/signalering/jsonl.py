"""Reading and writing JSONL posts, with bad lines reported and skipped.

A line that is not UTF-8, not JSON, not an object, or has no string ``text``
is reported once (``<name>:<line>: <what is wrong>``) and skipped; the rest of
the file is still read. Blank lines are ignored. A line longer than the limit
(``limits.line_mb``, 50 MB) is refused the same way without being held in memory:
it is read in chunks up to the limit, then skipped to its newline.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import InputError
from .post import Post

logger = logging.getLogger(__name__)

MB = 1024 * 1024
DEFAULT_MAX_LINE_BYTES = 50 * MB
_SKIP_CHUNK = MB  # what is read at a time while skipping the rest of a refused line


@dataclass
class ReadReport:
    """What a reader skipped, for the exit code and the summary."""

    read: int = 0
    skipped: list[InputError] = field(default_factory=list)


# JSON may spell a lone UTF-16 surrogate ("\ud800"), which no UTF-8 output, database or
# tokenizer accepts; the reader puts U+FFFD in its place (pairs are joined by json.loads).
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def parse_line(raw: bytes, lineno: int, name: str) -> Post:
    """One JSONL line to a ``Post``; raises ``InputError`` naming the line."""
    try:
        line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}:{lineno}: not UTF-8 (byte {exc.start}); re-encode the file as UTF-8"
        ) from exc
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    if _ESCAPED_SURROGATE.search(raw):
        record = _without_lone_surrogates(record)
    if not isinstance(record, dict):
        raise InputError(f"{name}:{lineno}: expected a JSON object, got {type(record).__name__}")
    if "text" not in record:
        raise InputError(f"{name}:{lineno}: no 'text' field")
    if not isinstance(record["text"], str):
        raise InputError(
            f"{name}:{lineno}: 'text' must be a string, got {type(record['text']).__name__}"
        )
    return Post.from_record(record)


def _mb(n: int) -> str:
    return f"{n / MB:.0f}" if n >= 10 * MB else f"{n / MB:.1f}".rstrip("0").rstrip(".")


def iter_lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line number, line, size)``; the line is None when it is longer than ``max_bytes``.

    At most ``max_bytes + 1`` bytes of a line are ever held: the rest of a long line is
    read in 1 MB chunks and dropped, only counted.
    """
    lineno = 0
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) <= max_bytes or raw.endswith(b"\n"):
            yield lineno, raw, len(raw)
            continue
        size = len(raw)
        del raw
        while True:
            piece = stream.readline(_SKIP_CHUNK)
            size += len(piece)
            if not piece or piece.endswith(b"\n"):
                break
        yield lineno, None, size


def read_posts(
    stream: IO[bytes],
    *,
    name: str = "<stdin>",
    report: ReadReport | None = None,
    on_error: Callable[[InputError], None] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Post]:
    """Yield the posts of a binary JSONL stream, reporting and skipping bad lines.

    A line above ``max_line_bytes`` is one such bad line: ``name:line: line is N MB,
    above the limit``.
    """
    report = report if report is not None else ReadReport()
    for lineno, raw, size in iter_lines(stream, max_line_bytes):
        try:
            if raw is None:
                raise InputError(
                    f"{name}:{lineno}: line is {_mb(size)} MB, above the limit "
                    f"({_mb(max_line_bytes)} MB, setting limits.line_mb)"
                )
            if not raw.strip():
                continue
            post = parse_line(raw.rstrip(b"\r\n"), lineno, name)
        except InputError as err:
            report.skipped.append(err)
            if on_error:
                on_error(err)
            else:
                logger.warning("%s", err)
            continue
        report.read += 1
        yield post


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


def write_posts(posts: Iterable[Post], stream: IO[str]) -> int:
    n = 0
    for post in posts:
        stream.write(dumps(post.to_record()) + "\n")
        n += 1
    stream.flush()
    return n
