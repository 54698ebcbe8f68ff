"""Store tables of re-scoring jobs: one job per model version, its chunks and their progress.

Registered on the same ``Base`` as the core models and created by migration 0004.
A chunk is a keyset range of post ids ``first_pk..last_pk``; it is ``done`` once its
scores are saved, so a killed job resumes with the chunks that are not.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signalering.store.models import Base, utcnow


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
