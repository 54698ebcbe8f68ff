"""Re-score stored posts with a new model version: parallel, chunked, resumable.

``rescore(settings, model_path=...)`` splits the posts of the store ``settings`` name into
keyset ranges of post ids (chunks), recorded in ``rescore_chunks`` under one job per model version. Worker
processes each take a chunk, recompute what the model decides (label, probabilities,
flag and evidence from the normalised text and, when asked, similarity to known offers,
whose post vectors come from the store's embedding cache) and save the scores with
``Store.save_scores``; the chunk is then marked done. Language and entities do not
depend on the model: stored ones are kept, and only posts never extracted (no
``posts.extracted_at``; an extraction that found nothing counts) are extracted and then
marked (see ``_process``). Each chunk is one short write transaction, so the review
app keeps reading (SQLite WAL, PostgreSQL MVCC) and writing between chunks.

A killed job resumes where it stopped: the next call with the same model version skips
the chunks already done. A chunk interrupted between saving and marking is scored again;
``save_scores`` replaces that version's rows, so every post ends with one score per model
version. Scores of older model versions stay in the store (``Store.flagged(model_version=)``).
Posts stored after a job started are picked up by the next call as new chunks. Linking
(repost clusters and networks over every post) runs once at the end when ``link=True``.

>>> rescore(load_config(), model_path="models/v2", workers=2)  # doctest: +SKIP
{'model_version': 'default-tfidf-2025...', 'posts': 1000000, 'chunks': 1000, ...}
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from . import model, pipeline
from .config import Settings
from .errors import InputError
from .model.classifier import Classifier
from .post import Post
from .store import Store
from .store.jobs import RescoreChunk, RescoreJob
from .store.models import PostRow, utcnow

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (posts done, posts in the job)


def _with_model(settings: Settings, model_path: str | Path | None) -> Settings:
    """``settings`` with ``model.path`` set to ``model_path`` (when given)."""
    if model_path is None:
        return settings
    return settings.model_copy(
        update={"model": settings.model.model_copy(update={"path": Path(model_path)})}
    )


# -- planning --------------------------------------------------------------------------


def _job(store: Store, version: str, model_path: str, chunk_size: int, restart: bool) -> int:
    """The id of this model version's job (created, or restarted when asked)."""
    with store._session(write=True) as session:
        job = session.scalars(select(RescoreJob).where(RescoreJob.model_version == version)).first()
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


def _plan(store: Store, job_id: int, chunk_size: int) -> None:
    """Add chunks for the posts after the job's last chunk (all posts for a new job)."""
    with store._session(write=True) as session:
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


def _pending(store: Store, job_id: int) -> tuple[list[tuple[int, int, int]], int, int]:
    """Chunks still to do as ``(chunk id, first pk, last pk)``, posts already done, and all."""
    with store._session() as session:
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


# -- one chunk ---------------------------------------------------------------------------


def _read_chunk(store: Store, first: int, last: int) -> tuple[list[Post], set[int]]:
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
    with store._session() as session:
        for row in session.execute(query):
            extras = dict(row.extras or {})
            truncated = bool(extras.pop("truncated", False)) or None
            posts.append(
                Post(
                    text=row.text,
                    id=str(row.id),
                    source=row.source,
                    kind=row.kind,
                    url=row.url,
                    post_id=row.post_id,
                    extras=extras,
                    lang=row.lang,
                    lang_confidence=row.lang_confidence,
                    truncated=truncated,
                )
            )
            if row.extracted_at is not None:
                extracted.add(row.id)
    return posts, extracted


def _process(stages: Any, posts: list[Post], extracted: set[int]) -> list[Post]:
    """What a new model changes: scores, flags, evidence (and nearest known offers).

    Normalised text, language and entities do not depend on the model: a post's stored
    language is reused, and only posts never extracted (not in ``extracted``) go through
    language detection (when none is stored) and extraction; the others keep their
    entities. Extracted posts carry ``entities`` (``{}`` when nothing was found), so
    ``save_scores`` stores them and marks the posts extracted.
    """
    lim = getattr(stages, "limits", None) or pipeline.LimitsSettings()
    out = [pipeline.normalise(p, max_chars=lim.normalise_chars) for p in posts]
    out = pipeline.classify(
        out, stages.classifier, max_chars=lim.classify_chars, normalise_chars=lim.normalise_chars
    )
    out = stages.similar(out)  # the same rule and combiner as ingest
    for i, post in enumerate(out):
        if int(post.id or 0) not in extracted:
            if post.lang is None:
                post = pipeline.language(post, max_chars=lim.language_chars)
            out[i] = pipeline.extract(
                post, max_chars=lim.extract_chars, normalise_chars=lim.normalise_chars
            )
    return out


def _score_chunk(store: Store, stages: Any, chunk: tuple[int, int, int]) -> tuple[int, int]:
    """Score one chunk, save it, mark it done; returns how many posts it held and
    how many of them were extracted."""
    chunk_id, first, last = chunk
    posts, extracted = _read_chunk(store, first, last)
    if posts:
        store.save_scores(_process(stages, posts, extracted))
    with store._session(write=True) as session:
        session.execute(
            update(RescoreChunk)
            .where(RescoreChunk.id == chunk_id)
            .values(status="done", posts=len(posts), done_at=utcnow())
        )
    return len(posts), len(posts) - len(extracted)


def _stages(settings: Settings, classifier: Classifier, store: Store, similar: bool) -> Any:
    """The stages of ``settings`` around ``classifier``: with ``similar``, the similarity
    step as ingest runs it (``similarity.*``, the combiner beside the new model)."""
    if not similar:
        return pipeline.Stages(classifier, store=store)
    # With the store, the similarity step reads post vectors from its embedding cache
    # (written when the posts were ingested) instead of embedding every post again.
    return pipeline.Stages.load(settings, store=store, classifier=classifier)


# Worker process state: one store connection and one loaded model per process.
_worker: dict[str, Any] = {}


def _init_worker(settings_json: str, similar: bool) -> None:
    logging.getLogger("signalering").setLevel(logging.WARNING)
    settings = Settings.model_validate_json(settings_json)
    store = Store.open(settings.database_url, pseudonym_key=settings.pseudonym_key(), migrate=False)
    classifier = model.load(settings)
    _worker["store"] = store
    _worker["stages"] = _stages(settings, classifier, store, similar)


def _work(chunk: tuple[int, int, int]) -> tuple[int, int]:
    return _score_chunk(_worker["store"], _worker["stages"], chunk)


# -- the job -------------------------------------------------------------------------------


def rescore(
    settings: Settings,
    *,
    model_path: str | Path | None = None,
    workers: int = 2,
    chunk_size: int = 1000,
    progress: Progress | None = None,
    restart: bool = False,
    similar: bool = False,
    link: bool = False,
) -> dict[str, Any]:
    """Re-score every post of ``settings``' store with the model in ``model_path``
    (default ``model.path``); resumes a killed job.

    Everything else comes from ``settings``: the store (``database_url``), the pseudonym
    key, ``model.threshold`` and, with ``similar``, the similarity step as ingest runs it
    (``similarity.*``: the bank of ``model.corpus`` and confirmed offers, ``k``, ``rule``
    with the combiner beside the new model, ``flag_cosine``). ``workers`` processes
    (1: in this process) take chunks of ``chunk_size`` posts. ``progress(done, total)`` is
    called after each chunk. ``restart`` forgets the progress of an earlier job for this
    model version. ``link`` rebuilds repost clusters and networks at the end.
    Returns ``{model_version, posts, scored, extracted, chunks, resumed_from, seconds,
    posts_per_s}``; ``extracted`` counts the posts this call extracted (never extracted
    before).
    """
    if workers < 1 or chunk_size < 1:
        raise InputError(
            f"workers={workers}, chunk_size={chunk_size} — both must be at least 1 "
            "(e.g. --workers 2 --chunk-size 1000)"
        )
    started = time.perf_counter()
    settings = _with_model(settings, model_path)
    model_path = settings.model.path
    classifier = model.load(settings)
    version = classifier.version
    store_url, pseudonym_key = settings.database_url, settings.pseudonym_key()
    with Store.open(store_url, pseudonym_key=pseudonym_key) as store:
        job_id = _job(store, version, str(model_path), chunk_size, restart)
        _plan(store, job_id, chunk_size)
        pending, done, total = _pending(store, job_id)
    resumed_from = done
    if done:
        logger.info("resuming re-score with %s: %s of %s posts done", version, done, total)
    if progress is not None:
        progress(done, total)

    scored = extracted = 0
    if pending and workers == 1:
        with Store.open(store_url, pseudonym_key=pseudonym_key, migrate=False) as store:
            stages = _stages(settings, classifier, store, similar)
            for chunk in pending:
                n, m = _score_chunk(store, stages, chunk)
                scored += n
                extracted += m
                if progress is not None:
                    progress(done + scored, total)
    elif pending:
        # spawn, not fork: a forked child would share the parent's database sockets.
        context = multiprocessing.get_context("spawn")
        args = (settings.model_dump_json(), similar)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(pending)),
            mp_context=context,
            initializer=_init_worker,
            initargs=args,
        ) as pool:
            # At most two chunks queued per worker, so a kill loses little queued work.
            queue = list(reversed(pending))
            running: set[Future[tuple[int, int]]] = set()
            while queue or running:
                while queue and len(running) < 2 * workers:
                    running.add(pool.submit(_work, queue.pop()))
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    n, m = future.result()
                    scored += n
                    extracted += m
                    if progress is not None:
                        progress(done + scored, total)

    with Store.open(store_url, pseudonym_key=pseudonym_key, migrate=False) as store:
        networks = None
        if link:
            from .link import build_networks

            networks = len(build_networks(store, encoder=settings.similarity.encoder))
        with store._session(write=True) as session:
            session.execute(
                update(RescoreJob)
                .where(RescoreJob.id == job_id)
                .values(status="finished", finished_at=utcnow(), posts=done + scored)
            )
    seconds = time.perf_counter() - started
    result = {
        "model_version": version,
        "posts": done + scored,
        "scored": scored,
        "extracted": extracted,
        "chunks": len(pending),
        "resumed_from": resumed_from,
        "seconds": round(seconds, 3),
        "posts_per_s": round(scored / seconds, 1) if seconds else None,
    }
    if networks is not None:
        result["networks"] = networks
    logger.info(
        "re-scored %s posts with %s in %.1f s (%s extracted)", scored, version, seconds, extracted
    )
    return result


def jobs(store: Store) -> list[dict[str, Any]]:
    """Re-scoring jobs, newest first, with their progress."""
    with store._session() as session:
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
