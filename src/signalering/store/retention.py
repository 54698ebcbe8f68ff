"""Retention: purge old posts with everything derived from them, and holds that keep a post.

A post is old by ``posted_at``, else by ``fetched_at``. ``purge(store, older_than_days=365,
user="cli:anna")`` removes each old post that is not on hold together with its versions,
scores, entities, embeddings, cluster and network membership and full-text index rows.
What stays of its decisions is the action, the label, who and when (``purged_decisions``);
the notes of decisions and holds are taken out of the audit trail. One audit line records
the purge. Afterwards the deleted text is made unreadable in the database files as far as
the engine allows: SQLite zeroes freed space (``secure_delete``, on for every connection),
the full-text index is merged so no segment keeps a deleted word, and the WAL is
checkpointed and truncated; PostgreSQL vacuums the tables it touched (see README,
"Limits and retention").

>>> purge(store, older_than_days=365, user="cli:anna", dry_run=True)  # doctest: +SKIP
PurgeReport(before=..., posts=12, held=1, decisions=3, dry_run=True)
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from signalering.errors import InputError, StoreError
from signalering.store.links import EmbeddingRow, NetworkRow, PostCluster
from signalering.store.models import (
    AuditEntry,
    Base,
    Decision,
    Entity,
    PostRow,
    PostVersion,
    Score,
    utcnow,
)

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

_CHUNK = 500  # posts per purge transaction: bounded memory and short write locks
# Free text an analyst wrote about a post; taken out of the audit trail with the post.
_PRIVATE_DETAIL = ("note", "reason")
# Tables a purge deletes from or rewrites: PostgreSQL vacuums exactly these afterwards.
TOUCHED_TABLES = (
    "posts",
    "post_versions",
    "scores",
    "entities",
    "decisions",
    "embeddings",
    "post_clusters",
    "networks",
    "audit_log",
)


class Hold(Base):
    """A post an analyst keeps for an investigation: the purge skips it until lifted."""

    __tablename__ = "holds"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    user: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurgedDecision(Base):
    """What stays of a decision once its post is purged: action, label, who and when."""

    __tablename__ = "purged_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    label: Mapped[str | None] = mapped_column(String(50))
    decided_at: Mapped[datetime]
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or, with ``dry_run``, would remove)."""

    before: str  # posts older than this (ISO 8601, UTC) were purged
    days: int | None
    posts: int
    held: int  # old posts kept because they are on hold
    decisions: int  # decisions kept as counts without their post
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- holds ---------------------------------------------------------------------


def place_hold(store: Store, post_pk: int, user: str, *, reason: str | None = None) -> None:
    """Keep post ``post_pk`` from the purge until the hold is lifted (audited)."""
    reason = (reason or "").strip() or None
    with store._session(write=True) as session:
        if session.get(PostRow, int(post_pk)) is None:
            raise StoreError(f"post {post_pk} is not in the store — it may have been purged")
        hold = session.get(Hold, int(post_pk))
        if hold is None:
            session.add(Hold(post_id=int(post_pk), user=user, reason=reason))
        else:
            hold.user, hold.reason, hold.created_at = user, reason, utcnow()
        session.add(
            AuditEntry(
                user=user, action="hold.place", target=f"post:{post_pk}", detail={"reason": reason}
            )
        )


def lift_hold(store: Store, post_pk: int, user: str) -> bool:
    """Lift the hold on ``post_pk`` (audited); False when it had none."""
    with store._session(write=True) as session:
        result = session.execute(delete(Hold).where(Hold.post_id == int(post_pk)))
        if not result.rowcount:
            return False
        session.add(AuditEntry(user=user, action="hold.lift", target=f"post:{post_pk}"))
        return True


def hold_of(store: Store, post_pk: int) -> dict[str, Any] | None:
    """The hold on ``post_pk`` (user, reason, since) or None."""
    with store._session() as session:
        hold = session.get(Hold, int(post_pk))
        if hold is None:
            return None
        return {
            "user": hold.user,
            "reason": hold.reason,
            "created_at": hold.created_at.isoformat(),
        }


def holds(store: Store) -> list[dict[str, Any]]:
    """Every hold, oldest first."""
    with store._session() as session:
        return [
            {
                "post": h.post_id,
                "user": h.user,
                "reason": h.reason,
                "created_at": h.created_at.isoformat(),
            }
            for h in session.scalars(select(Hold).order_by(Hold.created_at, Hold.post_id))
        ]


# -- purge ---------------------------------------------------------------------


def _age() -> Any:
    return func.coalesce(PostRow.posted_at, PostRow.fetched_at)


def purge(
    store: Store,
    *,
    older_than_days: int | None = None,
    before: datetime | None = None,
    user: str,
    dry_run: bool = False,
    vacuum_full: bool = False,
) -> PurgeReport:
    """Delete posts older than ``older_than_days`` (or ``before``) that are not on hold.

    ``user`` is who or which job asked (``cli:anna``, ``job:run``); it goes into the one
    audit line the purge writes. ``dry_run`` counts and changes nothing.
    """
    if (older_than_days is None) == (before is None):
        raise InputError("purge needs either older_than_days or before — give exactly one")
    if older_than_days is not None:
        if older_than_days < 0:
            raise InputError(
                f"--older-than {older_than_days}: days cannot be negative — give 0 or more"
            )
        before = utcnow() - timedelta(days=older_than_days)
    assert before is not None
    if before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    before = before.astimezone(UTC)
    is_old = _age() < before
    is_held = exists().where(Hold.post_id == PostRow.id)
    with store._session() as session:
        held = session.scalar(select(func.count()).where(is_old, is_held)) or 0
        ids = list(session.scalars(select(PostRow.id).where(is_old, ~is_held).order_by(PostRow.id)))
        decisions = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            decisions += (
                session.scalar(select(func.count()).where(Decision.post_id.in_(chunk))) or 0
            )
    report = PurgeReport(
        before=before.isoformat(),
        days=older_than_days,
        posts=len(ids),
        held=int(held),
        decisions=int(decisions),
        dry_run=dry_run,
    )
    if dry_run:
        return report
    purged: set[int] = set()
    decisions = 0
    for start in range(0, len(ids), _CHUNK):
        with store._session(write=True) as session:
            done, kept = _purge_chunk(session, ids[start : start + _CHUNK])
        purged.update(done)
        decisions += kept
    if len(purged) != len(ids):  # holds placed (or posts deleted) while the purge ran
        spared = [pk for pk in ids if pk not in purged]
        with store._session() as session:
            for start in range(0, len(spared), _CHUNK):
                chunk = spared[start : start + _CHUNK]
                held += session.scalar(select(func.count()).where(Hold.post_id.in_(chunk))) or 0
    report = replace(report, posts=len(purged), held=int(held), decisions=decisions)
    if purged:
        _refresh_networks(store, purged)
    with store._session(write=True) as session:
        if store.engine.dialect.name == "sqlite" and purged:
            # Merge the full-text index into one segment: FTS5 records a deletion as a
            # marker in a new segment, so the old segments still hold the deleted words.
            session.execute(text("INSERT INTO posts_fts(posts_fts) VALUES ('optimize')"))
        detail = report.as_dict()
        del detail["dry_run"]
        session.add(AuditEntry(user=user, action="purge", target="posts", detail=detail))
    scrub_files(store, full=vacuum_full)
    logger.info(
        "purged %s posts older than %s (%s kept by holds)", report.posts, report.before, held
    )
    return report


def _purge_chunk(session: Session, chunk: list[int]) -> tuple[list[int], int]:
    """Delete posts ``chunk`` with every row derived from them, in one transaction, except
    those put on hold meanwhile; returns the ids deleted and how many decisions were kept."""
    # Lock the posts first (SQLite: the write lock is already held): a hold being placed
    # on one of them waits for this transaction or is seen by the next statement.
    locked = select(PostRow.id).where(PostRow.id.in_(chunk))
    if session.get_bind().dialect.name == "postgresql":
        locked = locked.with_for_update()
    present = set(session.scalars(locked))
    held = set(session.scalars(select(Hold.post_id).where(Hold.post_id.in_(chunk))))
    chunk = [pk for pk in chunk if pk in present and pk not in held]
    if not chunk:
        return [], 0
    hashes = set(session.scalars(select(PostRow.content_hash).where(PostRow.id.in_(chunk))))
    hashes.update(
        session.scalars(select(PostVersion.content_hash).where(PostVersion.post_id.in_(chunk)))
    )
    now = utcnow()
    kept = [
        {"user": u, "action": a, "label": lab, "decided_at": at, "purged_at": now}
        for u, a, lab, at in session.execute(
            select(Decision.user, Decision.action, Decision.label, Decision.created_at)
            .where(Decision.post_id.in_(chunk))
            .order_by(Decision.id)
        )
    ]
    if kept:
        session.execute(insert(PurgedDecision), kept)
    targets = [f"post:{pk}" for pk in chunk]
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.target.in_(targets))):
        detail = entry.detail or {}
        if any(key in detail for key in _PRIVATE_DETAIL):
            entry.detail = {k: v for k, v in detail.items() if k not in _PRIVATE_DETAIL}
    # Explicit deletes, not only ON DELETE CASCADE: SQLite honours that only when
    # foreign keys are switched on for the connection.
    for table in (Score, Entity, PostVersion, Decision, PostCluster, Hold):
        session.execute(delete(table).where(table.post_id.in_(chunk)))
    session.execute(delete(PostRow).where(PostRow.id.in_(chunk)))
    if hashes:
        # An embedding is keyed by its text's hash: keep those another post still has.
        still = set(
            session.scalars(select(PostRow.content_hash).where(PostRow.content_hash.in_(hashes)))
        )
        still.update(
            session.scalars(
                select(PostVersion.content_hash).where(PostVersion.content_hash.in_(hashes))
            )
        )
        gone = sorted(hashes - still)
        if gone:
            session.execute(delete(EmbeddingRow).where(EmbeddingRow.content_hash.in_(gone)))
    return chunk, len(kept)


def _refresh_networks(store: Store, purged: set[int]) -> None:
    """Summarise again every network that lost a member (its contacts, routes, counts);
    a network left with fewer than two posts is dropped."""
    gone = {str(pk) for pk in purged}
    with store._session(write=True) as session:
        touched = [
            row
            for row in session.scalars(select(NetworkRow))
            if gone.intersection(str(pk) for pk in (row.summary or {}).get("post_ids", []))
        ]
        if not touched:
            return
        from signalering.link.network import summarise

        for row in touched:
            members = [int(pk) for pk in row.summary.get("post_ids", []) if str(pk) not in gone]
            if len(members) < 2:
                session.execute(
                    update(PostCluster).where(PostCluster.network == row.id).values(network=None)
                )
                session.delete(row)
                continue
            rows = list(session.scalars(select(PostRow).where(PostRow.id.in_(members))))
            cluster_of = dict(
                session.execute(
                    select(PostCluster.post_id, PostCluster.cluster).where(
                        PostCluster.post_id.in_(members)
                    )
                ).all()
            )
            posts = [
                p.with_(cluster=cluster_of.get(int(p.id)))  # type: ignore[arg-type]
                for p in store._to_posts(session, rows)
            ]
            row.summary = {"id": row.id, **summarise(posts)}
            row.posts = len(posts)


def scrub_files(store: Store, *, full: bool = False) -> None:
    """Leave no deleted row readable where the engine allows it.

    SQLite: freed space is already zeroed (``secure_delete``); move the WAL into the
    database file and truncate it. PostgreSQL: ``VACUUM`` the touched tables so their
    dead rows' space is reclaimed (``full``: ``VACUUM FULL``, which rewrites each table
    into a new file and locks it meanwhile).
    """
    if store.engine.dialect.name == "sqlite":
        raw = store.engine.raw_connection()  # autocommit: a checkpoint outside a transaction
        try:
            busy, _log, _done = raw.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).fetchone()
        finally:
            raw.close()
        if busy:
            logger.warning(
                "the WAL of %s could not be truncated: another connection is reading; "
                "deleted text stays in the WAL until the next checkpoint",
                store,
            )
    elif store.engine.dialect.name == "postgresql":
        verb = "VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"{verb} {', '.join(TOUCHED_TABLES)}")
