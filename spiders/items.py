"""What the spiders yield: dataclass items, as Scrapy recommends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Top-level JSONL keys; everything in ``extras`` is written beside them.
POST_FIELDS = ("source", "kind", "url", "post_id", "text", "posted_at", "author", "fetched_at")


@dataclass
class PostItem:
    """One public post as crawled (raw: no analysis yet)."""

    source: str
    kind: str
    url: str
    post_id: str
    text: str
    posted_at: str | None = None  # ISO 8601 with zone, None when the page shows no date
    author: str | None = None
    fetched_at: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The JSONL object: the common fields, then the kind-specific extras."""
        record: dict[str, Any] = {name: getattr(self, name) for name in POST_FIELDS}
        for key, value in self.extras.items():
            record.setdefault(key, value)
        return record


@dataclass
class SourceItem:
    """Metadata about a source (a channel's title, description, subscribers)."""

    name: str
    kind: str
    url: str
    metadata: dict[str, Any] = field(default_factory=dict)
