"""signalering: find online migrant-smuggling offers in public posts.

Collect (Scrapy spiders) → flag (multilingual classifier, explained) → link
(reposts, translations, shared contacts) → review (analysts decide).
"""

from __future__ import annotations

__version__ = "0.1.0"
LABELS = ("offer", "request", "warning", "unrelated")
