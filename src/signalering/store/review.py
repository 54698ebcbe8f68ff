"""The review app's queries: the ranked queue of flagged posts, its filter menus, contacts
shared with confirmed offers, post texts and the posts of a network.

Read through the Store (``store.review_queue(QueueFilter(label="offer"))``); the filters
and page types live here, beside the tables they query, and ``signalering.web.review``
re-exports them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import exists, false, func, select, tuple_
from sqlalchemy.sql import Select

from signalering.errors import InputError
from signalering.store import fulltext
from signalering.store.links import NetworkRow, PostCluster
from signalering.store.models import Decision, Entity, PostRow, Score

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

Status = Literal["open", "decided", "confirm", "correct", "escalate", "dismiss", "all"]
STATUSES: tuple[str, ...] = ("open", "decided", "confirm", "correct", "escalate", "dismiss", "all")
PAGE_SIZE = 50
SNIPPET_CHARS = 280


@dataclass(frozen=True)
class QueueFilter:
    """The filters of the queue page; every field is optional."""

    label: str | None = None
    lang: str | None = None
    source: str | None = None
    platform: str | None = None  # a contact platform seen in the post: whatsapp, telegram ...
    date_from: str | None = None  # YYYY-MM-DD, on posted_at (fetched_at when unknown)
    date_to: str | None = None
    status: str = "open"
    q: str | None = None
    after: str | None = None  # keyset cursor "score:id" of the last row of the previous page
    limit: int = PAGE_SIZE
    cluster: str | None = None  # repost cluster id (signalering.link)
    network: str | None = None  # network id (signalering.link)

    def params(self) -> dict[str, str]:
        """The filters as the queue page's query parameters (set ones only, no cursor)."""
        values = {
            "label": self.label,
            "lang": self.lang,
            "source": self.source,
            "platform": self.platform,
            "from": self.date_from,
            "to": self.date_to,
            "status": self.status,
            "q": self.q,
            "cluster": self.cluster,
            "network": self.network,
        }
        return {k: v for k, v in values.items() if v}


@dataclass
class QueueRow:
    """One line of the queue."""

    id: int
    score: float
    label: str | None
    lang: str | None
    source: str | None
    posted_at: datetime | None
    text: str
    decision: str | None = None


@dataclass
class QueuePage:
    """A page of the queue and the cursor of the next one (None on the last page)."""

    rows: list[QueueRow] = field(default_factory=list)
    next_cursor: str | None = None


def _day(value: str | None, name: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date — write it like 2024-05-01") from None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _cursor(value: str | None) -> tuple[float, int] | None:
    if not value:
        return None
    try:
        score, pk = value.split(":", 1)
        return float(score), int(pk)
    except ValueError:
        raise InputError(f"page cursor {value!r} is malformed — start again from page 1") from None


def _filtered(dialect: str, f: QueueFilter) -> Select:
    # From the current scores, in rank order (ix_scores_current_rank), to the posts.
    stmt = (
        select(Score.post_id, Score.score, Score.label, PostRow.lang, PostRow.source)
        .add_columns(PostRow.posted_at, func.substr(PostRow.text, 1, SNIPPET_CHARS))
        .select_from(Score)
        .join(PostRow, PostRow.id == Score.post_id)
        .where(Score.is_current, Score.flagged.is_(True), PostRow.removed_at.is_(None))
    )
    if f.label:
        stmt = stmt.where(Score.label == f.label)
    if f.lang:
        stmt = stmt.where(PostRow.lang == f.lang)
    if f.source:
        stmt = stmt.where(PostRow.source == f.source)
    if f.platform:
        stmt = stmt.where(
            exists().where(Entity.post_id == PostRow.id, Entity.platform == f.platform)
        )
    if f.cluster:
        stmt = stmt.where(
            exists().where(PostCluster.post_id == PostRow.id, PostCluster.cluster == f.cluster)
        )
    if f.network:
        stmt = stmt.where(
            exists().where(PostCluster.post_id == PostRow.id, PostCluster.network == f.network)
        )
    when = func.coalesce(PostRow.posted_at, PostRow.fetched_at)
    start, stop = _day(f.date_from, "from"), _day(f.date_to, "to", end=True)
    if start is not None:
        stmt = stmt.where(when >= start)
    if stop is not None:
        stmt = stmt.where(when <= stop)
    decided = exists().where(Decision.post_id == PostRow.id)
    if f.status == "open":
        stmt = stmt.where(~decided)
    elif f.status == "decided":
        stmt = stmt.where(decided)
    elif f.status in ("confirm", "correct", "escalate", "dismiss"):
        stmt = stmt.where(
            exists().where(Decision.post_id == PostRow.id, Decision.action == f.status)
        )
    elif f.status != "all":
        raise InputError(f"status {f.status!r} is unknown — use one of {', '.join(STATUSES)}")
    if f.q:
        match = fulltext.text_match(dialect, f.q)
        # A search without a letter or digit (only punctuation) matches nothing.
        stmt = stmt.where(match if match is not None else false())
    return stmt


_RANK = (Score.score.desc(), Score.post_id.desc())


class ReviewQueries:
    """The review app's reads (mixed into ``Store``)."""

    def review_queue(self: Store, f: QueueFilter) -> QueuePage:  # type: ignore[misc]
        """Flagged posts matching ``f``, highest score first, one keyset page at a time."""
        stmt = _filtered(self.engine.dialect.name, f)
        after = _cursor(f.after)
        if after is not None:
            score, pk = after
            stmt = stmt.where(tuple_(Score.score, Score.post_id) < tuple_(score, pk))
        limit = max(1, min(int(f.limit), 500))
        stmt = stmt.order_by(*_RANK).limit(limit + 1)
        with self._session() as session:
            found = session.execute(stmt).all()
            rows = [
                QueueRow(pk, float(score or 0), label, lang, source, posted, snippet)
                for pk, score, label, lang, source, posted, snippet in found[:limit]
            ]
            if rows:
                latest = _latest_decisions(session, [r.id for r in rows])
                for row in rows:
                    row.decision = latest.get(row.id)
        page = QueuePage(rows=rows)
        if len(found) > limit:
            page.next_cursor = f"{rows[-1].score!r}:{rows[-1].id}"
        return page

    def next_open(self: Store, post_pk: int) -> int | None:  # type: ignore[misc]
        """The open flagged post ranked just below ``post_pk`` (or the top one), for "next"."""
        stmt = _filtered(self.engine.dialect.name, QueueFilter(status="open"))
        with self._session() as session:
            current = session.execute(
                select(Score.score).where(Score.post_id == post_pk, Score.is_current)
            ).scalar()
            ordered = stmt.order_by(*_RANK).limit(1)
            if current is not None:
                below = ordered.where(tuple_(Score.score, Score.post_id) < tuple_(current, post_pk))
                row = session.execute(below).first()
                if row is not None:
                    return int(row[0])
            row = session.execute(ordered.where(Score.post_id != post_pk)).first()
            return int(row[0]) if row is not None else None

    def facet_values(self: Store) -> dict[str, list[str]]:  # type: ignore[misc]
        """Values the queue's filter menus offer: labels, languages, sources, platforms."""
        with self._session() as session:
            return {
                "label": sorted(x for x in session.scalars(select(Score.label).distinct()) if x),
                "lang": sorted(x for x in session.scalars(select(PostRow.lang).distinct()) if x),
                "source": sorted(
                    x for x in session.scalars(select(PostRow.source).distinct()) if x
                ),
                "platform": sorted(
                    x for x in session.scalars(select(Entity.platform).distinct()) if x
                ),
            }

    def shared_contacts(self: Store, post_pks: list[int], pseudonyms: set[str]) -> dict[int, int]:  # type: ignore[misc]
        """Of ``post_pks``, those with a contact among ``pseudonyms``: id -> how many they share."""
        shared: dict[int, int] = {}
        if not post_pks or not pseudonyms:
            return shared
        with self._session() as session:
            for other, _ in session.execute(
                select(Entity.post_id, Entity.value_pseudonym)
                .where(Entity.post_id.in_(post_pks), Entity.value_pseudonym.in_(pseudonyms))
                .distinct()
            ):
                shared[other] = shared.get(other, 0) + 1
        return shared

    def post_texts(self: Store, post_pks: list[int]) -> dict[int, tuple[str, str | None]]:  # type: ignore[misc]
        """Id -> (text, language) of the stored posts among ``post_pks`` (gone ones absent)."""
        if not post_pks:
            return {}
        with self._session() as session:
            return {
                pk: (text, lang)
                for pk, text, lang in session.execute(
                    select(PostRow.id, PostRow.text, PostRow.lang).where(PostRow.id.in_(post_pks))
                )
            }

    def network_posts(self: Store, network_id: str) -> list[int]:  # type: ignore[misc]
        """Ids of the posts of one network, by id."""
        with self._session() as session:
            return list(
                session.scalars(
                    select(PostCluster.post_id)
                    .where(PostCluster.network == network_id)
                    .order_by(PostCluster.post_id)
                )
            )

    def network_summary(self: Store, network_id: str) -> dict[str, Any] | None:  # type: ignore[misc]
        """The stored summary of one network, or None."""
        with self._session() as session:
            row = session.get(NetworkRow, network_id)
            return None if row is None else dict(row.summary)


def _latest_decisions(session: Any, pks: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for pk, action in session.execute(
        select(Decision.post_id, Decision.action)
        .where(Decision.post_id.in_(pks))
        .order_by(Decision.id)
    ):
        out[pk] = action
    return out
