"""The one record that flows through every stage.

A stage never mutates a ``Post``: it returns a copy with its own fields added
(``dataclasses.replace``), so what an earlier stage wrote stays as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Fields a JSONL record may carry that map onto Post attributes; anything else
# is kept verbatim in ``extras`` and written back out unchanged.
_INPUT_FIELDS = (
    "id",
    "text",
    "source",
    "kind",
    "url",
    "post_id",
    "author",
    "posted_at",
    "fetched_at",
)
# Fields the stages add; written to JSONL only when a stage has set them.
_OUTPUT_FIELDS = (
    "lang",
    "lang_confidence",
    "label",
    "scores",
    "flagged",
    "evidence",
    "model_version",
    "entities",
    "cluster",
    "truncated",
)


@dataclass(frozen=True)
class Post:
    """A public post and everything the stages learned about it."""

    text: str
    id: str | None = None
    source: str | None = None
    kind: str | None = None
    url: str | None = None
    post_id: str | None = None
    author: str | None = None
    posted_at: str | None = None  # ISO 8601 with zone, as crawled
    fetched_at: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Stage outputs.
    lang: str | None = None
    lang_confidence: float | None = None
    label: str | None = None
    scores: dict[str, float] | None = None
    flagged: bool | None = None
    evidence: list[dict[str, Any]] | None = None
    model_version: str | None = None
    entities: dict[str, list[dict[str, Any]]] | None = None
    cluster: str | None = None
    # True when a stage read only the first part of the text (``limits.*_chars``) or the
    # crawl stored it capped (``limits.crawl_text_chars``); None (not written) otherwise.
    truncated: bool | None = None
    # The normalise stage's result (text + offset map); not written to JSONL.
    normalised: Any = field(default=None, repr=False, compare=False)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the text: the identity of a post's content across URLs."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()

    def with_(self, **changes: Any) -> Post:
        """A copy with ``changes`` applied (a stage's way to add its fields)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Post:
        """Build a post from a JSONL object; unknown keys are kept in ``extras``."""
        known = {k: record[k] for k in _INPUT_FIELDS + _OUTPUT_FIELDS if k in record}
        for key in ("id", "post_id"):
            if known.get(key) is not None:
                known[key] = str(known[key])
        for key in ("posted_at", "fetched_at"):
            if isinstance(known.get(key), datetime):
                known[key] = known[key].isoformat()
        extras = {k: v for k, v in record.items() if k not in known}
        return cls(**known, extras=extras)

    def to_record(self) -> dict[str, Any]:
        """The JSONL object: input keys in their order, then the stage outputs."""
        out: dict[str, Any] = {}
        for key in _INPUT_FIELDS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update(self.extras)
        for key in _OUTPUT_FIELDS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out
