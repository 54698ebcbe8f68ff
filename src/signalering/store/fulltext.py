"""Full-text search over post texts: SQLite FTS5 (``posts_fts``) or PostgreSQL's GIN index.

Both engines match whole words, case-insensitively, every word of the query (AND).
What a person types is never passed as query syntax: each word becomes a quoted
phrase (FTS5) or goes through ``plainto_tsquery`` (PostgreSQL), so ``"``, ``*``,
``NEAR``, ``-`` or ``:`` in a search are just text.

>>> print(fts5_query("boat* 100% NEAR"))
"boat*" "100%" "NEAR"
>>> fts5_query("%% --") is None
True
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import column, func, literal_column, select, table

from signalering.store.models import PostRow

logger = logging.getLogger(__name__)

# The FTS5 table the 0005 migration creates (external content: the text lives in posts).
posts_fts = table("posts_fts", column("rowid"), column("posts_fts"))


def words(query: str) -> list[str]:
    """The searchable words of ``query``: whitespace-separated, each with a letter or digit."""
    return [w for w in query.split() if any(ch.isalnum() for ch in w)]


def fts5_query(query: str) -> str | None:
    """``query`` as an FTS5 MATCH expression of quoted phrases, or None when it has no word."""
    found = words(query)
    if not found:
        return None
    return " ".join('"' + w.replace('"', '""') + '"' for w in found)


def text_match(dialect: str, query: str) -> Any | None:
    """A WHERE clause on ``PostRow`` for posts containing every word, or None for no words."""
    found = words(query)
    if not found:
        return None
    if dialect == "postgresql":
        # The config must be a literal so the planner matches ix_posts_text_fts.
        simple = literal_column("'simple'::regconfig")
        return func.to_tsvector(simple, PostRow.text).op("@@")(
            func.plainto_tsquery(simple, " ".join(found))
        )
    matching = select(posts_fts.c.rowid).where(posts_fts.c.posts_fts.op("MATCH")(fts5_query(query)))
    return PostRow.id.in_(matching)


def newest_matches(dialect: str, query: str, limit: int) -> Any | None:
    """A SELECT of the ids of the ``limit`` newest posts matching ``query`` (None: no words).

    On SQLite FTS5 walks its own index newest first, so a common word stays cheap.
    """
    if dialect != "postgresql":
        expression = fts5_query(query)
        if expression is None:
            return None
        return (
            select(posts_fts.c.rowid)
            .where(posts_fts.c.posts_fts.op("MATCH")(expression))
            .order_by(posts_fts.c.rowid.desc())
            .limit(limit)
        )
    clause = text_match(dialect, query)
    if clause is None:
        return None
    return select(PostRow.id).where(clause).order_by(PostRow.id.desc()).limit(limit)
