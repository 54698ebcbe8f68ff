"""Store tables of re-scoring jobs: one job per model version, its chunks and their progress.

Registered on the same ``Base`` as the core models and created by migration 0004.
A chunk is a keyset range of post ids ``first_pk..last_pk``; it is ``done`` once its
scores are saved, so a killed job resumes with the chunks that are not.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from signalering.post import Post
from signalering.store.models import Base, PostRow, post_of, utcnow

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)


class RescoreJob(Base):
    """Re-scoring of the stored posts with one model version."""

    __tablename__ = "rescore_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(100), unique=True)
    model_path: Mapped[str | None] = mapped_column(Text)
    chunk_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|finished
    posts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class RescoreChunk(Base):
    """Posts ``first_pk..last_pk`` (inclusive) of a job; ``done`` once their scores are saved."""

    __tablename__ = "rescore_chunks"
    __table_args__ = (
        UniqueConstraint("job_id", "first_pk"),
        Index("ix_rescore_chunks_job_id_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("rescore_jobs.id", ondelete="CASCADE"))
    first_pk: Mapped[int] = mapped_column(Integer)
    last_pk: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|done
    posts: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[datetime | None]


class RescoreQueries:
    """The re-scoring job's reads and writes (mixed into ``Store``)."""

    def rescore_job(  # type: ignore[misc]
        self: Store, version: str, model_path: str, chunk_size: int, restart: bool
    ) -> int:
        """The id of this model version's job (created, or restarted when asked)."""
        with self._session(write=True) as session:
            job = session.scalars(
                select(RescoreJob).where(RescoreJob.model_version == version)
            ).first()
            if job is not None and restart:
                # Explicit: SQLite honours ON DELETE CASCADE only with foreign keys switched on.
                session.execute(delete(RescoreChunk).where(RescoreChunk.job_id == job.id))
                session.delete(job)
                session.flush()
                job = None
            if job is None:
                job = RescoreJob(
                    model_version=version, model_path=model_path, chunk_size=chunk_size, posts=0
                )
                session.add(job)
                session.flush()
            job.status = "running"
            job.finished_at = None
            return job.id

    def plan_rescore(self: Store, job_id: int, chunk_size: int) -> int:  # type: ignore[misc]
        """Add chunks for the posts after the job's last chunk (all posts for a new job)."""
        with self._session(write=True) as session:
            last = session.scalar(
                select(func.max(RescoreChunk.last_pk)).where(RescoreChunk.job_id == job_id)
            )
            ids = session.scalars(
                select(PostRow.id).where(PostRow.id > (last or 0)).order_by(PostRow.id)
            ).all()
            chunks = [
                RescoreChunk(
                    job_id=job_id,
                    first_pk=ids[i],
                    last_pk=ids[min(i + chunk_size, len(ids)) - 1],
                    status="pending",
                )
                for i in range(0, len(ids), chunk_size)
            ]
            session.add_all(chunks)
        if chunks:
            logger.info("planned %s chunks of up to %s posts", len(chunks), chunk_size)
        return len(chunks)

    def pending_rescore(  # type: ignore[misc]
        self: Store, job_id: int
    ) -> tuple[list[tuple[int, int, int]], int, int]:
        """Chunks still to do as ``(chunk id, first pk, last pk)``, posts already done, and all."""
        with self._session() as session:
            pending = [
                (c.id, c.first_pk, c.last_pk)
                for c in session.scalars(
                    select(RescoreChunk)
                    .where(RescoreChunk.job_id == job_id, RescoreChunk.status != "done")
                    .order_by(RescoreChunk.first_pk)
                )
            ]
            done = session.scalar(
                select(func.coalesce(func.sum(RescoreChunk.posts), 0)).where(
                    RescoreChunk.job_id == job_id, RescoreChunk.status == "done"
                )
            )
            todo = 0
            for _, first, last in pending:
                todo += session.scalar(
                    select(func.count(PostRow.id)).where(PostRow.id >= first, PostRow.id <= last)
                )
        return pending, int(done or 0), int(done or 0) + todo

    def rescore_posts(self: Store, first: int, last: int) -> tuple[list[Post], set[int]]:  # type: ignore[misc]
        """The posts of ``first..last`` with what the stages need, and which were extracted."""
        query = (
            select(
                PostRow.id,
                PostRow.text,
                PostRow.source,
                PostRow.kind,
                PostRow.url,
                PostRow.post_id,
                PostRow.extras,
                PostRow.lang,
                PostRow.lang_confidence,
                PostRow.extracted_at,
            )
            .where(PostRow.id >= first, PostRow.id <= last)
            .order_by(PostRow.id)
        )
        posts: list[Post] = []
        extracted: set[int] = set()
        with self._session() as session:
            for row in session.execute(query):
                posts.append(post_of(row))
                if row.extracted_at is not None:
                    extracted.add(row.id)
        return posts, extracted

    def rescore_jobs(self: Store) -> list[dict[str, Any]]:  # type: ignore[misc]
        """Re-scoring jobs, newest first, with their progress."""
        with self._session() as session:
            rows = session.execute(
                select(
                    RescoreJob,
                    func.count(RescoreChunk.id),
                    func.count(RescoreChunk.done_at),
                )
                .outerjoin(RescoreChunk, RescoreChunk.job_id == RescoreJob.id)
                .group_by(RescoreJob.id)
                .order_by(RescoreJob.id.desc())
            ).all()
            return [
                {
                    "model_version": job.model_version,
                    "status": job.status,
                    "posts": job.posts,
                    "chunks": chunks,
                    "chunks_done": done,
                    "started_at": job.started_at.isoformat(),
                    "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                }
                for job, chunks, done in rows
            ]

    def finish_rescore_chunk(self: Store, chunk_id: int, posts: int) -> None:  # type: ignore[misc]
        """Mark a chunk done with how many posts it held."""
        with self._session(write=True) as session:
            session.execute(
                update(RescoreChunk)
                .where(RescoreChunk.id == chunk_id)
                .values(status="done", posts=posts, done_at=utcnow())
            )

    def finish_rescore(self: Store, job_id: int, posts: int) -> None:  # type: ignore[misc]
        """Mark a job finished with how many posts it scored."""
        with self._session(write=True) as session:
            session.execute(
                update(RescoreJob)
                .where(RescoreJob.id == job_id)
                .values(status="finished", finished_at=utcnow(), posts=posts)
            )
