"""The campaign aggregates' queries: stored posts in a date window with their current label,
and the same window's counts grouped in SQL (for the campaign overview page).

Both read a post's label from its current score (``Score.is_current``) and its time as
``posted_at``, else ``fetched_at``; ``signalering.campaign`` builds the aggregates from them.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.sql import ColumnElement

from signalering.store.models import Entity, PostRow, Score

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

_BATCH = 2000


class CampaignPost(NamedTuple):
    """What the campaign aggregates read of a post (lighter than a Post, for 100,000s of them)."""

    text: str
    lang: str | None
    source: str | None
    kind: str | None
    author: str | None
    when: datetime | None
    label: str | None
    entities: dict[str, list[dict[str, Any]]]
    normalised: str | None = None  # set by callers that hold a normalised post


class CampaignCounts(NamedTuple):
    """Counts of the posts in a window, grouped in SQL; keys as in the campaign aggregates.

    ``days`` is per ``(YYYY-MM-DD, label)`` in UTC ("?" without a date), for the caller to
    fold into weeks; ``label`` None is an unscored post.
    """

    posts: int
    first: datetime | None
    last: datetime | None
    days: dict[tuple[str, str | None], int]
    languages: dict[tuple[str | None, str | None], int]
    kinds: dict[tuple[str | None, str | None], int]  # source kinds: a source name can be a handle
    platforms: dict[tuple[str | None, str | None], int]
    contacts: list[tuple[str, str, str | None, int]]  # (kind, pseudonym, platform, posts)


def _day(dialect: str, when: ColumnElement[Any]) -> ColumnElement[Any]:
    """The UTC day of a timestamp as ``YYYY-MM-DD`` text, on either engine."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", when), "YYYY-MM-DD")
    # SQLite holds naive UTC text "YYYY-MM-DD HH:MM:SS..." (see models.UTCDateTime).
    return func.substr(when, 1, 10)


class CampaignQueries:
    """The campaign aggregates' reads (mixed into ``Store``)."""

    def _campaign_window(  # type: ignore[misc]
        self: Store, query: Any, since: datetime | None, until: datetime | None
    ) -> Any:
        when = func.coalesce(PostRow.posted_at, PostRow.fetched_at)
        query = query.where(PostRow.removed_at.is_(None))
        if since is not None:
            query = query.where(when >= since)
        if until is not None:
            query = query.where(when < until)
        return query

    def campaign_posts(  # type: ignore[misc]
        self: Store, since: datetime | None, until: datetime | None, *, text_chars: int
    ) -> Iterator[CampaignPost]:
        """Posts in ``[since, until)`` with their current label, places, handle platforms and
        prices, in id batches (far lighter than full posts for every row)."""
        last = 0
        while True:
            query = self._campaign_window(
                select(
                    PostRow.id,
                    func.substr(PostRow.text, 1, text_chars).label("text"),
                    PostRow.lang,
                    PostRow.source,
                    PostRow.kind,
                    PostRow.author,
                    PostRow.posted_at,
                    PostRow.fetched_at,
                    Score.label,
                )
                .select_from(PostRow)
                .outerjoin(Score, and_(Score.post_id == PostRow.id, Score.is_current))
                .where(PostRow.id > last)
                .order_by(PostRow.id)
                .limit(_BATCH),
                since,
                until,
            )
            with self._session() as session:
                rows = session.execute(query).all()
                if not rows:
                    return
                ids = [r.id for r in rows]
                entities: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
                ent_query = (
                    select(
                        Entity.post_id,
                        Entity.kind,
                        Entity.value,
                        Entity.platform,
                        Entity.amount,
                        Entity.currency,
                        Entity.start,
                        Entity.fields,
                    )
                    .where(Entity.post_id.in_(ids), Entity.kind.in_(("place", "handle", "price")))
                    .order_by(Entity.id)
                )
                for e in session.execute(ent_query):
                    if e.kind == "place":
                        # role (departure, transit, destination) decides the route
                        item = {"value": e.value, "start": e.start or 0, **(e.fields or {})}
                    elif e.kind == "handle":
                        item = {"platform": e.platform}
                    else:
                        item = {"amount": e.amount, "currency": e.currency}
                    entities[e.post_id].setdefault(e.kind + "s", []).append(item)
            for r in rows:
                yield CampaignPost(
                    r.text,
                    r.lang,
                    r.source,
                    r.kind,
                    r.author,
                    r.posted_at or r.fetched_at,
                    r.label,
                    entities.get(r.id) or {},
                )
            last = ids[-1]

    def campaign_counts(  # type: ignore[misc]
        self: Store, since: datetime | None, until: datetime | None, *, contact_limit: int = 20
    ) -> CampaignCounts:
        """The window's counts by day, language, source kind and handle platform, and its
        ``contact_limit`` most shared contacts as pseudonyms, grouped in SQL."""
        when = func.coalesce(PostRow.posted_at, PostRow.fetched_at)
        day = _day(self.engine.dialect.name, when)
        current = and_(Score.post_id == PostRow.id, Score.is_current)

        def grouped(*columns: Any) -> Any:
            return self._campaign_window(
                select(*columns, func.count(PostRow.id))
                .select_from(PostRow)
                .outerjoin(Score, current)
                .group_by(*columns),
                since,
                until,
            )

        with self._session() as session:
            posts, first, last = session.execute(
                self._campaign_window(
                    select(func.count(PostRow.id), func.min(when), func.max(when)), since, until
                )
            ).one()
            days = {
                (d or "?", label): n for d, label, n in session.execute(grouped(day, Score.label))
            }
            languages: Counter[tuple[str | None, str | None]] = Counter()
            kinds: Counter[tuple[str | None, str | None]] = Counter()
            for lang, kind, label, n in session.execute(
                grouped(PostRow.lang, PostRow.kind, Score.label)
            ):
                languages[(lang, label)] += n
                kinds[(kind, label)] += n
            platform = func.coalesce(Entity.platform, "?")
            platforms = {
                (p, label): n
                for p, label, n in session.execute(
                    self._campaign_window(
                        select(platform, Score.label, func.count(func.distinct(PostRow.id)))
                        .select_from(PostRow)
                        .join(Entity, and_(Entity.post_id == PostRow.id, Entity.kind == "handle"))
                        .outerjoin(Score, current)
                        .group_by(platform, Score.label),
                        since,
                        until,
                    )
                )
            }
            # Pseudonyms only (keyed hashes): never a clear contact.
            shared = func.count(func.distinct(Entity.post_id))
            contacts = [
                (kind, pseudonym, platform, n)
                for kind, pseudonym, platform, n in session.execute(
                    self._campaign_window(
                        select(Entity.kind, Entity.value_pseudonym, Entity.platform, shared)
                        .select_from(Entity)
                        .join(PostRow, PostRow.id == Entity.post_id)
                        .where(Entity.value_pseudonym.is_not(None))
                        .group_by(Entity.kind, Entity.value_pseudonym, Entity.platform)
                        .order_by(shared.desc(), Entity.kind, Entity.value_pseudonym)
                        .limit(contact_limit),
                        since,
                        until,
                    )
                )
            ]
        return CampaignCounts(
            int(posts or 0),
            first,
            last,
            days,
            dict(languages),
            dict(kinds),
            dict(platforms),
            contacts,
        )
