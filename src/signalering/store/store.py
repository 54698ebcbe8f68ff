"""The Store: the one object the crawler, the stages, the review app and reports write through."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Engine,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from signalering import entities as entity_kinds
from signalering.errors import InputError, StoreError
from signalering.post import Post
from signalering.privacy import pseudonymise
from signalering.store import engine as engines
from signalering.store import fulltext
from signalering.store.accounts import AccountQueries
from signalering.store.campaign import CampaignQueries
from signalering.store.decisions import DecisionQueries
from signalering.store.jobs import RescoreQueries
from signalering.store.links import LinkQueries
from signalering.store.models import (
    DECISION_ACTIONS,
    AuditEntry,
    CrawlRun,
    Decision,
    Entity,
    PostRow,
    PostVersion,
    Score,
    Source,
    post_of,
    utcnow,
)
from signalering.store.review import ReviewQueries

logger = logging.getLogger(__name__)

UNVERSIONED = "unversioned"
_SAVE_ATTEMPTS = 5
_CHUNK = 500  # ids per IN (...) list


def copy_rows(cursor: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys) into ``table`` with PostgreSQL ``COPY``
    on a psycopg ``cursor``; JSON columns are serialised."""
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f"COPY {table.name} ({names}) FROM STDIN"
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                    for c in columns
                ]
            )


def _concurrent_write(error: BaseException | None) -> bool:
    """Whether a failed batch lost a race with another writer and may simply be retried:
    a duplicate key, or on PostgreSQL a deadlock or serialisation failure."""
    if isinstance(error, IntegrityError):
        return True
    return getattr(getattr(error, "orig", None), "sqlstate", None) in ("40001", "40P01")


class SaveResult(NamedTuple):
    """How many posts of a batch were new, updated (edited or reappeared) and unchanged."""

    new: int
    updated: int
    unchanged: int


@dataclass
class _Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{field} {value!r} is not an ISO 8601 time — write it like 2024-05-01T12:00:00+00:00"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _label_score(label: str | None, probabilities: dict[str, Any] | None) -> float | None:
    if not probabilities:
        return None
    if label is not None and label in probabilities:
        return float(probabilities[label])
    return float(max(probabilities.values()))


class Store(
    ReviewQueries, DecisionQueries, AccountQueries, RescoreQueries, LinkQueries, CampaignQueries
):
    """Posts and everything learned about them, in SQLite or PostgreSQL.

    The one door to the database: no module outside ``signalering.store`` opens a session.
    The queries of each part live beside its tables and are mixed in here (the review
    queue, decisions, accounts, re-scoring jobs, links, campaign counts).

    >>> with Store.open("sqlite:///data/signalering.db", pseudonym_key=b"k") as store:  # doctest: +SKIP
    ...     store.save_posts([Post(text="...", source="forum", post_id="1")])
    SaveResult(new=1, updated=0, unchanged=0)
    """

    def __init__(self, engine: Engine, *, pseudonym_key: bytes | None = None) -> None:
        self.engine = engine
        self.pseudonym_key = pseudonym_key
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, pseudonym_key: bytes | None = None, migrate: bool = True) -> Store:
        """Connect to ``url`` (and bring its schema up to date); StoreError if unusable."""
        if isinstance(pseudonym_key, str):
            pseudonym_key = pseudonym_key.encode("utf-8")
        engine = engines.create(url)
        try:
            if migrate:
                engines.migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, pseudonym_key=pseudonym_key)

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({engines.masked(self.engine.url)!r})"

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction: committed at the end, rolled back on any error."""
        factory = self._write if write else self._read
        try:
            with factory() as session, session.begin():
                yield session
        except DBAPIError as exc:
            raise StoreError(
                f"database {engines.masked(self.engine.url)} failed: {engines._first_line(exc)}"
                " — nothing of this batch was written; check the server and retry"
            ) from exc

    # -- writing posts -----------------------------------------------------

    def save_posts(self, posts: Iterable[Post], *, run_id: int | None = None) -> SaveResult:
        """Store a batch in one transaction: each post with its score and entities, or nothing.

        A post already stored (same source and post id, or without a post id the same
        url and content hash) is unchanged; the same key with a new text is updated and
        its previous text kept in ``post_versions``; a removed post that reappears is
        unmarked.
        """
        batch = list(posts)
        for attempt in range(1, _SAVE_ATTEMPTS + 1):
            try:
                counts = self._save_once(batch, run_id)
                break
            except StoreError as exc:
                # Two writers inserting the same new post at once: the loser retries and
                # then finds the winner's row (PostgreSQL; SQLite writers queue instead).
                if not _concurrent_write(exc.__cause__) or attempt == _SAVE_ATTEMPTS:
                    raise
                logger.info("concurrent write of the same post; retrying batch (%s)", attempt)
                time.sleep(random.uniform(0.0, 0.05 * attempt))  # let the winner commit
        logger.debug("saved posts: %s new, %s updated, %s unchanged", *vars(counts).values())
        return SaveResult(counts.new, counts.updated, counts.unchanged)

    def _save_once(self, batch: list[Post], run_id: int | None) -> _Counts:
        counts = _Counts()
        with self._session(write=True) as session:
            known = self._prefetch(session, batch)
            saved: list[tuple[PostRow, Post, bool]] = []
            for post in batch:
                row, state = self._upsert_post(session, post, known)
                setattr(counts, state, getattr(counts, state) + 1)
                saved.append((row, post, state != "new"))
            session.flush()  # one multi-row INSERT for the new posts; gives their ids
            self._write_stage_outputs(session, [(row.id, post, old) for row, post, old in saved])
            if run_id is not None:
                session.execute(
                    update(CrawlRun)
                    .where(CrawlRun.id == run_id)
                    .values(
                        posts_new=CrawlRun.posts_new + counts.new,
                        posts_updated=CrawlRun.posts_updated + counts.updated,
                    )
                )
        return counts

    @staticmethod
    def _key(post: Post, content_hash: str) -> tuple[Any, ...]:
        """The identity of a post: source + post id, else url + content (+ source without url)."""
        if post.post_id is not None:
            return ("id", post.source, str(post.post_id))
        if post.url is not None:
            return ("url", post.url, content_hash)
        return ("text", post.source, content_hash)

    @staticmethod
    def _row_key(row: PostRow) -> tuple[Any, ...]:
        if row.post_id is not None:
            return ("id", row.source, row.post_id)
        if row.url is not None:
            return ("url", row.url, row.content_hash)
        return ("text", row.source, row.content_hash)

    def _prefetch(self, session: Session, batch: list[Post]) -> dict[tuple[Any, ...], PostRow]:
        """The stored rows a batch may match, fetched in a few queries instead of one per post."""
        ids_by_source: dict[str | None, set[str]] = {}
        for p in batch:
            if p.post_id is not None:
                ids_by_source.setdefault(p.source, set()).add(str(p.post_id))
        hashes = sorted(
            {p.content_hash for p in batch if p.post_id is None and isinstance(p.text, str)}
        )
        known: dict[tuple[Any, ...], PostRow] = {}
        for source, id_set in ids_by_source.items():
            # By source and post id: the unique index's own order. Post ids alone made the
            # planner scan the whole index, and saving slowed with every post stored
            # (PostgreSQL: 4,500 posts/s at 20k stored, 900/s at 60k).
            post_ids = sorted(id_set)
            for start in range(0, len(post_ids), _CHUNK):
                query = select(PostRow).where(
                    PostRow.source.is_(None) if source is None else PostRow.source == source,
                    self._in(PostRow.post_id, post_ids[start : start + _CHUNK]),
                )
                for row in session.scalars(query):
                    known[self._row_key(row)] = row
        for start in range(0, len(hashes), _CHUNK):
            query = select(PostRow).where(
                PostRow.post_id.is_(None), PostRow.content_hash.in_(hashes[start : start + _CHUNK])
            )
            for row in session.scalars(query):
                known.setdefault(self._row_key(row), row)
        return known

    def _upsert_post(
        self, session: Session, post: Post, known: dict[tuple[Any, ...], PostRow]
    ) -> tuple[PostRow, str]:
        if not isinstance(post.text, str):
            raise InputError(
                f"post {post.post_id or post.id or post.url!r} has no text string "
                f"(got {type(post.text).__name__}) — give every post a text"
            )
        content_hash = post.content_hash
        fetched_at = _parse_time(post.fetched_at, "fetched_at") or utcnow()
        fields: dict[str, Any] = {
            "source": post.source,
            "kind": post.kind,
            "url": post.url,
            "post_id": str(post.post_id) if post.post_id is not None else None,
            "author": post.author,
            "author_pseudonym": self._pseudonym(post.author, "author"),
            "posted_at": _parse_time(post.posted_at, "posted_at"),
            "text": post.text,
            "content_hash": content_hash,
            # The truncated marker rides in extras (no column): _to_post reads it back.
            "extras": {**post.extras, **({"truncated": True} if post.truncated else {})} or None,
        }
        if post.lang is not None:
            fields["lang"] = post.lang
            fields["lang_confidence"] = post.lang_confidence

        key = self._key(post, content_hash)
        row = known.get(key)
        if row is None:
            extracted_at = utcnow() if post.entities is not None else None
            row = PostRow(**fields, fetched_at=fetched_at, extracted_at=extracted_at)
            session.add(row)
            known[key] = row
            return row, "new"
        if row.content_hash == content_hash:
            if row.removed_at is not None:
                row.removed_at = None
                return row, "updated"
            if post.lang is not None and row.lang is None:
                row.lang, row.lang_confidence = post.lang, post.lang_confidence
            return row, "unchanged"
        # Edited: keep the text we had, then take the new one. (A post edited twice in
        # one batch may not have an id yet: flush to get it.)
        if row.id is None:
            session.flush()
        session.add(
            PostVersion(
                post_id=row.id,
                text=row.text,
                content_hash=row.content_hash,
                fetched_at=row.fetched_at,
            )
        )
        for name, value in fields.items():
            setattr(row, name, value)
        row.fetched_at = fetched_at
        row.removed_at = None
        # Stored entities describe the old text: unmarked, re-score extracts the new one
        # (unless this save brings entities: _write_stage_outputs marks it again).
        row.extracted_at = None
        return row, "updated"

    def _pseudonym(self, value: Any, kind: str) -> str | None:
        if value is None or value == "" or not self.pseudonym_key:
            return None
        return pseudonymise(str(value), self.pseudonym_key, kind=kind)

    def _in(self, column: Any, ids: list[Any]) -> Any:
        """``column IN ids``; on PostgreSQL ``= ANY(array)``, one parameter instead of
        hundreds (psycopg parses a long parameter list on every call)."""
        if self.engine.dialect.name == "postgresql":
            item = String() if isinstance(column.type, String) else Integer()
            return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(item)))
        return column.in_(ids)

    def _insert(self, session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert many rows at once: PostgreSQL ``COPY``, else one executemany."""
        if not rows:
            return
        if self.engine.dialect.name != "postgresql":
            session.execute(insert(table), rows)
            return
        import psycopg  # the PostgreSQL driver; only imported where it is used

        driver = session.connection().connection.driver_connection
        try:
            with driver.cursor() as cursor:
                copy_rows(cursor, table, rows)
        except psycopg.Error as exc:
            statement = f"COPY {table.name} FROM STDIN"
            # COPY runs on the driver's own cursor, past SQLAlchemy: wrap its error the way
            # SQLAlchemy does, so a concurrent writer's duplicate is an IntegrityError and
            # the batch is retried like any other insert race.
            raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc

    def _write_stage_outputs(self, session: Session, items: list[tuple[int, Post, bool]]) -> None:
        """Scores and entities of ``(post pk, post, may already have some)``, in bulk."""
        scores: dict[tuple[int, str], tuple[Post, bool]] = {}
        entities: dict[int, tuple[Post, bool]] = {}
        items_existing: dict[int, bool] = {}
        for pk, post, existing in items:
            items_existing[pk] = (
                items_existing.get(pk, False) or existing
            )  # the last of duplicates in a batch wins
            if post.label is not None:
                key = (pk, post.model_version or UNVERSIONED)
                scores[key] = (post, existing or scores.get(key, (post, False))[1])
            if post.entities is not None:
                entities[pk] = (post, existing or entities.get(pk, (post, False))[1])

        # Replace, so the newest row per post (highest id) is its latest score.
        stale: dict[str, list[int]] = {}
        for (pk, version), (_, existing) in scores.items():
            if existing:
                stale.setdefault(version, []).append(pk)
        for version, pks in stale.items():
            for start in range(0, len(pks), _CHUNK):
                chunk = pks[start : start + _CHUNK]
                session.execute(
                    # coalesce(): looked up by post id (the unique index), never through the
                    # queue index by version: statistics taken before a re-score see the
                    # new version as rare, and scanning all its rows per batch was quadratic.
                    delete(Score).where(
                        self._in(Score.post_id, chunk),
                        func.coalesce(Score.model_version, "") == version,
                    )
                )
        # The new rows become current: clear the flag first (one current row per post).
        rescored = sorted({pk for pk, _ in scores if items_existing.get(pk)})
        for start in range(0, len(rescored), _CHUNK):
            session.execute(
                update(Score)
                .where(self._in(Score.post_id, rescored[start : start + _CHUNK]), Score.is_current)
                .values(is_current=False)
            )
        last_version = {pk: version for pk, version in scores}  # the last row per post wins
        # Sorted: two writers lock the same posts in the same order (PostgreSQL).
        old = sorted(pk for pk, (_, existing) in entities.items() if existing)
        posts = PostRow.__table__
        now = utcnow()
        for start in range(0, len(old), _CHUNK):
            chunk = old[start : start + _CHUNK]
            session.execute(delete(Entity).where(self._in(Entity.post_id, chunk)))
            # Marked even when nothing was found (new posts are marked as inserted).
            # updated_at stays: like scores and entities, the marker is not the post's own.
            session.execute(
                update(posts)
                .where(self._in(posts.c.id, chunk))
                .values(extracted_at=now, updated_at=posts.c.updated_at)
            )

        # Core executemany, not ORM objects: the unit of work cost more than the SQL
        # (re-scoring writes a million of these rows).
        score_rows = []
        for (pk, version), (post, _) in scores.items():
            probabilities = dict(post.scores) if post.scores is not None else None
            score_rows.append(
                {
                    "post_id": pk,
                    "model_version": version,
                    "label": post.label,
                    "score": _label_score(post.label, probabilities),
                    "probabilities": probabilities,
                    "flagged": bool(post.flagged),
                    "evidence": list(post.evidence) if post.evidence is not None else None,
                    "is_current": last_version[pk] == version,
                    "created_at": now,
                }
            )
        entity_rows = []
        for pk, (post, _) in entities.items():
            entity_rows.extend(self._entity_rows(pk, post.entities or {}))
        self._insert(session, Score.__table__, score_rows)
        self._insert(session, Entity.__table__, entity_rows)

    def _entity_rows(
        self, post_pk: int, entities: dict[str, list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        rows = []
        for key, items in entities.items():
            # Post.entities uses plural keys ("phones"); the entities table one kind per row.
            spec = entity_kinds.by_key(key)
            kind = spec.kind if spec else key.rstrip("s")
            own = spec.fields if spec else ()
            for item in items or []:
                if not isinstance(item, dict):
                    item = {"value": item}
                value = item.get("value")
                if value is None:
                    value = item.get("e164") or item.get("handle") or item.get("text")
                value = str(value) if value is not None else None
                amount = item.get("amount")
                fields = {f: item[f] for f in own if item.get(f) is not None}
                rows.append(
                    {
                        "post_id": post_pk,
                        "kind": kind,
                        "value": value,
                        "value_pseudonym": self._pseudonym(value, kind)
                        if spec is not None and spec.contact
                        else None,
                        "platform": item.get("platform"),
                        "amount": float(amount) if amount is not None else None,
                        "currency": item.get("currency"),
                        "start": item.get("start"),
                        "end": item.get("end"),
                        "text": item.get("text"),
                        "fields": fields or None,
                    }
                )
        return rows

    def save_scores(self, posts: Iterable[Post]) -> int:
        """Write scores and entities of already stored posts (by ``Post.id``), in one transaction.

        Returns how many posts were written; a post no longer stored is skipped.
        """
        items: list[tuple[int, Post]] = []
        for post in posts:
            try:
                items.append((int(post.id), post))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InputError(
                    f"post id {post.id!r} is not a stored post id — "
                    "use posts from Store.iter_posts or Store.get"
                ) from None
        for attempt in range(1, _SAVE_ATTEMPTS + 1):
            try:
                return self._save_scores_once(items)
            except StoreError as exc:
                # Two writers giving one post a new current score at once (PostgreSQL):
                # the loser's insert hits uq_scores_current_post_id; it retries after.
                if not isinstance(exc.__cause__, IntegrityError) or attempt == _SAVE_ATTEMPTS:
                    raise
                logger.info("concurrent score of the same post; retrying batch (%s)", attempt)
        return 0  # unreachable: the last attempt returns or raises

    def _save_scores_once(self, items: list[tuple[int, Post]]) -> int:
        with self._session(write=True) as session:
            pks = sorted({pk for pk, _ in items})
            stored: set[int] = set()
            for start in range(0, len(pks), _CHUNK):
                chunk = pks[start : start + _CHUNK]
                stored.update(
                    session.scalars(select(PostRow.id).where(self._in(PostRow.id, chunk)))
                )
            for pk in sorted(set(pks) - stored):
                logger.warning("post %s is no longer stored; its score is skipped", pk)
            kept = [(pk, post, True) for pk, post in items if pk in stored]
            self._write_stage_outputs(session, kept)
        return len(kept)

    def mark_removed(self, source: str, post_ids: Iterable[str]) -> int:
        """Mark posts that disappeared from their source; they are kept. Returns how many."""
        ids = [str(p) for p in post_ids]
        marked = 0
        with self._session(write=True) as session:
            for start in range(0, len(ids), 500):
                result = session.execute(
                    update(PostRow)
                    .where(
                        PostRow.source == source,
                        PostRow.post_id.in_(ids[start : start + 500]),
                        PostRow.removed_at.is_(None),
                    )
                    .values(removed_at=utcnow())
                )
                marked += result.rowcount or 0
        return marked

    # -- sources and runs --------------------------------------------------

    def upsert_source(
        self, name: str, kind: str, url: str | None = None, metadata: dict | None = None
    ) -> None:
        """Create or update a source definition."""
        with self._session(write=True) as session:
            row = self._source_row(session, name)
            row.kind, row.url, row.metadata_ = kind, url, metadata

    @staticmethod
    def _source_row(session: Session, name: str) -> Source:
        """The row of source ``name``, created if missing; crawler nodes starting at once
        may both create it, so the insert does nothing when another node won."""
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        session.execute(
            dialect_insert(Source).values(name=name).on_conflict_do_nothing(index_elements=["name"])
        )
        return session.scalars(select(Source).where(Source.name == name)).one()

    def start_run(self, source: str) -> int:
        """Record the start of a crawl of ``source``; returns the run id."""
        now = utcnow()
        with self._session(write=True) as session:
            row = self._source_row(session, source)
            row.first_crawled = row.first_crawled or now
            row.last_crawled = now
            run = CrawlRun(source=source, started_at=now, status="running")
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, summary: dict) -> None:
        """Close a run with its summary (``pages``, ``errors``, ``status`` are read from it)."""
        with self._session(write=True) as session:
            run = session.get(CrawlRun, run_id)
            if run is None:
                raise StoreError(
                    f"crawl run {run_id} is not in the store — start it with start_run"
                )
            run.finished_at = utcnow()
            run.summary = dict(summary)
            for name in ("pages", "errors", "posts_new", "posts_updated"):
                if isinstance(summary.get(name), int):
                    setattr(run, name, summary[name])
            run.status = str(summary.get("status") or ("failed" if run.errors else "finished"))

    def runs(self, *, source: str | None = None, limit: int = 20) -> list[dict]:
        """The latest crawl runs, newest first."""
        query = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
        if source is not None:
            query = query.where(CrawlRun.source == source)
        with self._session() as session:
            return [
                {
                    "id": r.id,
                    "source": r.source,
                    "started_at": _iso(r.started_at),
                    "finished_at": _iso(r.finished_at),
                    "pages": r.pages,
                    "posts_new": r.posts_new,
                    "posts_updated": r.posts_updated,
                    "errors": r.errors,
                    "status": r.status,
                    "summary": r.summary,
                }
                for r in session.scalars(query)
            ]

    def sources_overview(self) -> list[dict]:
        """Every source with its last finished crawl: status, posts, and any markup drift
        warnings (``summary["drift"]``), by name."""
        with self._session() as session:
            sources = list(session.scalars(select(Source).order_by(Source.name)))
            out = []
            for src in sources:
                run = session.scalars(
                    select(CrawlRun)
                    .where(CrawlRun.source == src.name, CrawlRun.finished_at.is_not(None))
                    .order_by(CrawlRun.id.desc())
                    .limit(1)
                ).first()
                summary = (run.summary or {}) if run else {}
                out.append(
                    {
                        "name": src.name,
                        "kind": src.kind,
                        "url": src.url,
                        "last_crawled": _iso(src.last_crawled),
                        "status": run.status if run else None,
                        "posts": summary.get("posts"),
                        "drift": list(summary.get("drift") or []),
                    }
                )
            return out

    # -- reading -----------------------------------------------------------

    def _to_posts(
        self, session: Session, rows: list[PostRow], scores: dict[int, Score] | None = None
    ) -> list[Post]:
        pks = [r.id for r in rows]
        if not pks:
            return []
        if scores is None:
            scores = {}
            for start in range(0, len(pks), _CHUNK):
                chunk = pks[start : start + _CHUNK]
                scores.update(
                    (s.post_id, s)
                    for s in session.scalars(
                        select(Score).where(Score.post_id.in_(chunk), Score.is_current)
                    )
                )
        entities: dict[int, dict[str, list[dict[str, Any]]]] = {}
        for e in session.scalars(select(Entity).where(Entity.post_id.in_(pks)).order_by(Entity.id)):
            item = {
                "value": e.value,
                "pseudonym": e.value_pseudonym,
                "platform": e.platform,
                "amount": e.amount,
                "currency": e.currency,
                "start": e.start,
                "end": e.end,
                "text": e.text,
                **(e.fields or {}),
            }
            spec = entity_kinds.by_kind(e.kind)
            entities.setdefault(e.post_id, {}).setdefault(
                spec.key if spec else e.kind + "s", []
            ).append({k: v for k, v in item.items() if v is not None})
        return [self._to_post(r, scores.get(r.id), entities.get(r.id)) for r in rows]

    @staticmethod
    def _to_post(row: PostRow, score: Score | None, entities: dict | None) -> Post:
        post = post_of(
            row,
            author=row.author,
            posted_at=_iso(row.posted_at),
            fetched_at=_iso(row.fetched_at),
            entities=entities,
        )
        if score is not None:
            post = post.with_(
                label=score.label,
                scores=score.probabilities,
                flagged=score.flagged,
                evidence=score.evidence,
                model_version=score.model_version,
            )
        return post

    def get(self, post_pk: int) -> Post | None:
        """A stored post with its entities and the fields of its latest score."""
        with self._session() as session:
            row = session.get(PostRow, int(post_pk))
            return self._to_posts(session, [row])[0] if row is not None else None

    def iter_posts(
        self, *, source: str | None = None, batch_size: int = 1000, after_pk: int = 0
    ) -> Iterator[Post]:
        """Every stored post in id order, one short read per batch (resume with ``after_pk``)."""
        last = after_pk
        while True:
            query = select(PostRow).where(PostRow.id > last).order_by(PostRow.id).limit(batch_size)
            if source is not None:
                query = query.where(PostRow.source == source)
            with self._session() as session:
                batch = self._to_posts(session, list(session.scalars(query)))
            if not batch:
                return
            yield from batch
            last = int(batch[-1].id)  # type: ignore[arg-type]

    def versions(self, post_pk: int) -> list[dict]:
        """Earlier texts of an edited post, oldest first."""
        with self._session() as session:
            return [
                {"text": v.text, "content_hash": v.content_hash, "fetched_at": _iso(v.fetched_at)}
                for v in session.scalars(
                    select(PostVersion)
                    .where(PostVersion.post_id == post_pk)
                    .order_by(PostVersion.id)
                )
            ]

    def flagged(
        self,
        *,
        label: str | None = None,
        lang: str | None = None,
        limit: int = 20,
        model_version: str | None = None,
    ) -> list[Post]:
        """Flagged posts, highest score first: by their latest score, or by ``model_version``'s."""
        query = select(PostRow, Score).join(Score, Score.post_id == PostRow.id)
        if model_version is not None:
            query = query.where(Score.model_version == model_version)
        else:
            query = query.where(Score.is_current)
        query = query.where(Score.flagged.is_(True))
        if label is not None:
            query = query.where(Score.label == label)
        if lang is not None:
            query = query.where(PostRow.lang == lang)
        query = query.order_by(Score.score.desc(), Score.post_id.desc()).limit(limit)
        with self._session() as session:
            pairs = session.execute(query).all()
            rows = [p for p, _ in pairs]
            return self._to_posts(session, rows, {p.id: s for p, s in pairs})

    def iter_flagged(self, *, batch_size: int = 1000) -> Iterator[Post]:
        """Every post its current score flags, in id order, one short read per batch."""
        last = 0
        while True:
            # Keyset over the current scores' post ids (their partial unique index), so
            # each batch is one index range, not a scan of every flagged score.
            query = (
                select(Score)
                .where(Score.is_current, Score.post_id > last)
                .order_by(Score.post_id)
                .limit(batch_size)
            )
            with self._session() as session:
                scores = list(session.scalars(query))
                if not scores:
                    return
                last = scores[-1].post_id
                flagged = {s.post_id: s for s in scores if s.flagged}
                rows = list(
                    session.scalars(
                        select(PostRow).where(PostRow.id.in_(flagged)).order_by(PostRow.id)
                    )
                )
                batch = self._to_posts(session, rows, flagged)
            yield from batch

    def search(self, query: str, *, limit: int = 50) -> list[Post]:
        """Posts containing every word of ``query`` (whole words, any case), newest first.

        SQLite uses its FTS5 table ``posts_fts``, PostgreSQL its full-text index
        (``simple`` configuration, as posts are multilingual). Query syntax characters
        are searched as text; a query without a letter or digit finds nothing.
        """
        ids = fulltext.newest_matches(self.engine.dialect.name, query, limit)
        if ids is None:
            return []
        with self._session() as session:
            pks = list(session.scalars(ids))
            rows = {r.id: r for r in session.scalars(select(PostRow).where(PostRow.id.in_(pks)))}
            return self._to_posts(session, [rows[pk] for pk in pks if pk in rows])

    def counts(self) -> list[dict]:
        """Rows ``{label, lang, flagged, posts}`` over each post's latest score (None: unscored)."""
        query = (
            select(Score.label, PostRow.lang, Score.flagged, func.count(PostRow.id))
            .select_from(PostRow)
            .outerjoin(Score, and_(Score.post_id == PostRow.id, Score.is_current))
            .group_by(Score.label, PostRow.lang, Score.flagged)
        )
        with self._session() as session:
            rows = [
                {"label": label, "lang": lang, "flagged": flagged, "posts": n}
                for label, lang, flagged, n in session.execute(query)
            ]
        return sorted(rows, key=lambda r: (-r["posts"], str(r["label"]), str(r["lang"])))

    # -- decisions, audit, retention ----------------------------------------

    def add_decision(
        self,
        post_pk: int,
        user: str,
        action: str,
        *,
        label: str | None = None,
        note: str | None = None,
    ) -> int:
        """Record an analyst's decision on a post (and an audit row); returns its id."""
        if action not in DECISION_ACTIONS:
            raise InputError(
                f"decision {action!r} is unknown — use one of {', '.join(DECISION_ACTIONS)}"
            )
        with self._session(write=True) as session:
            if session.get(PostRow, int(post_pk)) is None:
                raise StoreError(f"post {post_pk} is not in the store — it may have been purged")
            decision = Decision(
                post_id=int(post_pk), user=user, action=action, label=label, note=note
            )
            session.add(decision)
            session.add(
                AuditEntry(
                    user=user,
                    action=f"decision.{action}",
                    target=f"post:{post_pk}",
                    detail={"label": label, "note": note},
                )
            )
            session.flush()
            return decision.id

    def decisions(self, post_pk: int) -> list[dict]:
        """Decisions on a post, oldest first."""
        with self._session() as session:
            return [
                {
                    "id": d.id,
                    "user": d.user,
                    "action": d.action,
                    "label": d.label,
                    "note": d.note,
                    "created_at": _iso(d.created_at),
                }
                for d in session.scalars(
                    select(Decision).where(Decision.post_id == post_pk).order_by(Decision.id)
                )
            ]

    def audit(self, user: str, action: str, target: str, detail: dict | None = None) -> None:
        """Append to the audit log (who did what to which thing)."""
        with self._session(write=True) as session:
            session.add(AuditEntry(user=user, action=action, target=target, detail=detail))

    def audit_log(self, *, limit: int = 100) -> list[dict]:
        """The newest audit entries first."""
        with self._session() as session:
            return [
                {
                    "id": a.id,
                    "user": a.user,
                    "action": a.action,
                    "target": a.target,
                    "detail": a.detail,
                    "created_at": _iso(a.created_at),
                }
                for a in session.scalars(
                    select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
                )
            ]

    def purge(self, *, before: datetime, user: str = "library") -> int:
        """Retention: delete posts older than ``before`` that are not on hold, with every row
        derived from them; returns how many (see ``signalering.store.retention.purge``)."""
        from signalering.store.retention import purge

        return purge(self, before=before, user=user).posts
