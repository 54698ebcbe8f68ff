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

from . import model, pipeline
from .config import Settings
from .errors import InputError
from .model.classifier import Classifier
from .post import Post
from .store import Store

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (posts done, posts in the job)


def _with_model(settings: Settings, model_path: str | Path | None) -> Settings:
    """``settings`` with ``model.path`` set to ``model_path`` (when given)."""
    if model_path is None:
        return settings
    return settings.model_copy(
        update={"model": settings.model.model_copy(update={"path": Path(model_path)})}
    )


# -- one chunk ---------------------------------------------------------------------------


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
    posts, extracted = store.rescore_posts(first, last)
    if posts:
        store.save_scores(_process(stages, posts, extracted))
    store.finish_rescore_chunk(chunk_id, len(posts))
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
        job_id = store.rescore_job(version, str(model_path), chunk_size, restart)
        store.plan_rescore(job_id, chunk_size)
        pending, done, total = store.pending_rescore(job_id)
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
        store.finish_rescore(job_id, done + scored)
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
    return store.rescore_jobs()
