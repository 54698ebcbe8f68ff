"""Measure the link stage on the annotated corpus: clustering B-cubed against ``family``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np

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


def combiner_quality(
    records: list[dict] | None = None,
    *,
    encoder: str = "use-m3",
    features: Literal["tfidf", "tfidf+embed"] = "tfidf",
    folds: int = 4,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> dict[str, dict]:
    """Classifier alone, similarity alone, OR rule and the combiner, measured honestly.

    Exactly what ``signalering train`` ships: on the train part of the family split, the
    combiner is fitted and every rule's cut chosen on out-of-fold scores
    (``link.combine.fit_combiner``); the classifier trained on the whole train part then
    scores the held-out part, where ``link.combine.compare_rules`` reports new ads and
    reposts. ``chosen_on_train`` holds the fitted combiner and cuts.
    """
    from dataclasses import asdict

    from ..classify import Classifier
    from ..text import normalise
    from .combine import compare_rules, embed_records, fit_combiner

    records = corpus_mod.load() if records is None else records
    train, test = corpus_mod.family_split(list(records), test_size=0.25, seed=seed)
    train_vecs = embed_records(train, encoder=encoder, cache_dir=cache_dir)
    test_vecs = embed_records(test, encoder=encoder, cache_dir=cache_dir)
    combiner = fit_combiner(
        train, features=features, encoder=encoder, folds=folds, seed=seed, vectors=train_vecs
    )
    clf = Classifier.train(train, features=features, random_state=seed)
    p_test = clf.predict_proba([normalise(r["text"]).text for r in test])[
        :, clf.labels.index("offer")
    ]
    offers = np.array([r["label"] == "offer" for r in train])
    held = compare_rules(
        combiner, p_test, test_vecs, test, train_vecs[offers], threshold=clf.threshold
    )
    chosen = {k: v for k, v in asdict(combiner).items() if k != "measurement"}
    result = {"chosen_on_train": chosen, **held}
    logger.info("combiner quality: %s", result)
    return result
