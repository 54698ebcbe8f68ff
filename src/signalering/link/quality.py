"""Measure the link stage on the annotated corpus: clustering B-cubed against ``family``."""

from __future__ import annotations

import logging
from typing import Literal

from .. import corpus as corpus_mod
from ..post import Post
from .cluster import ClusterSettings, bcubed, cluster_posts

logger = logging.getLogger(__name__)


def _gold_entities(record: dict) -> dict:
    ents = record.get("entities") or {}
    return {
        "phones": [{"value": v} for v in ents.get("phones") or []],
        "handles": [dict(h) for h in ents.get("handles") or []],
    }


def clustering_quality(
    records: list[dict] | None = None,
    *,
    encoder: str | None = "use-m3",
    contacts: Literal["extract", "gold", "none"] = "extract",
    settings: ClusterSettings | None = None,
) -> dict[str, dict[str, float]]:
    """B-cubed P/R/F1 of ``cluster_posts`` on the corpus families: all, and ``xl-`` only.

    ``contacts="extract"`` takes phones and handles from the extract stage (what a user
    gets), ``"gold"`` from the annotations, ``"none"`` clusters on text alone.
    """
    records = records if records is not None else corpus_mod.load()
    posts = []
    for rec in records:
        post = Post(text=rec["text"], id=rec["id"], lang=rec.get("lang"))
        if contacts == "gold":
            post = post.with_(entities=_gold_entities(rec))
        elif contacts == "extract":
            from ..extract import extract

            post = post.with_(entities=extract(rec["text"], lang=rec.get("lang")))
        posts.append(post)
    clustered = cluster_posts(posts, encoder=encoder, settings=settings)
    predicted = [p.cluster for p in clustered]
    gold = [r["family"] for r in records]
    xl = [i for i, g in enumerate(gold) if g.startswith("xl-")]
    result = {"all": bcubed(predicted, gold)}
    if xl:
        result["cross_language"] = bcubed([predicted[i] for i in xl], [gold[i] for i in xl])
    logger.info("clustering quality: %s", result)
    return result
