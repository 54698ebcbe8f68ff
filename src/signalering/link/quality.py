"""Measure the link stage on the annotated corpus: clustering B-cubed against ``family``."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np

from .. import corpus as corpus_mod
from ..config import DEFAULT_ENCODER
from ..post import Post
from .cluster import ClusterSettings, bcubed, cluster_posts

logger = logging.getLogger(__name__)


def _gold_entities(record: dict) -> dict:
    ents = record.get("entities") or {}
    return {
        "phones": [{"value": v} for v in ents.get("phones") or []],
        "handles": [dict(h) for h in ents.get("handles") or []],
        "prices": [dict(p) for p in ents.get("prices") or []],
        "places": [{"value": v} for v in ents.get("places") or []],
    }


def clustering_quality(
    records: list[dict] | None = None,
    *,
    encoder: str | None = DEFAULT_ENCODER,
    contacts: Literal["extract", "gold", "none"] = "extract",
    pairs: bool = False,
    settings: ClusterSettings | None = None,
) -> dict[str, dict[str, float]]:
    """B-cubed P/R/F1 of ``cluster_posts`` on the corpus families: all, and translation
    families only (a family in two or more languages).

    ``contacts="extract"`` takes entities from the extract stage (what a user gets from
    raw posts), ``"gold"`` from the annotations, ``"none"`` clusters on text and vectors
    alone. ``pairs=True`` adds ``language_pairs`` and ``mixed_offer_warning``.
    """
    records = records if records is not None else corpus_mod.load()
    posts = []
    for rec in records:
        post = Post(text=rec["text"], id=rec["id"], lang=rec.get("lang"))
        if contacts == "gold":
            post = post.with_(entities=_gold_entities(rec))
        elif contacts == "none":
            post = post.with_(entities={})
        posts.append(post)  # "extract": cluster_posts extracts, as for raw JSONL
    clustered = cluster_posts(posts, encoder=encoder, settings=settings)
    predicted = [p.cluster for p in clustered]
    gold = [r["family"] for r in records]
    langs: dict[str, set] = {}
    for r in records:
        langs.setdefault(r["family"], set()).add(r.get("lang"))
    xl = [i for i, g in enumerate(gold) if len(langs[g]) > 1]
    result: dict[str, dict[str, float]] = {"all": bcubed(predicted, gold)}
    if xl:
        result["cross_language"] = bcubed([predicted[i] for i in xl], [gold[i] for i in xl])
    if pairs:
        result["language_pairs"] = language_pairs(records, predicted)  # type: ignore[assignment]
        result["mixed_offer_warning"] = {"clusters": float(mixed_clusters(records, predicted))}
    logger.info("clustering quality: %s", result)
    return result


def language_pairs(
    records: Sequence[dict], predicted: Sequence[str | None]
) -> dict[str, dict[str, float]]:
    """Same-ad pairs across two languages: gold pairs (one family), predicted pairs (one
    cluster), precision and recall, per language pair that has either."""
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_lang[str(rec.get("lang"))].append(i)
    out = {}
    for a, b in combinations(sorted(by_lang), 2):
        gold = pred = both = 0
        for i in by_lang[a]:
            for j in by_lang[b]:
                same = records[i]["family"] == records[j]["family"]
                joined = predicted[i] is not None and predicted[i] == predicted[j]
                gold += same
                pred += joined
                both += same and joined
        if gold or pred:
            out[f"{a}-{b}"] = {
                "gold_pairs": gold,
                "predicted_pairs": pred,
                "precision": both / pred if pred else float("nan"),
                "recall": both / gold if gold else float("nan"),
            }
    return out


def mixed_clusters(records: Sequence[dict], predicted: Sequence[str | None]) -> int:
    """How many clusters hold both an ``offer`` and a ``warning``."""
    labels: dict[str, set[str]] = defaultdict(set)
    for rec, cid in zip(records, predicted, strict=True):
        if cid is not None:
            labels[cid].add(rec["label"])
    return sum(1 for found in labels.values() if {"offer", "warning"} <= found)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m signalering.link.quality``: B-cubed and the language-pair table."""
    import argparse

    from ..embed import unread_languages

    parser = argparse.ArgumentParser(description="Clustering quality on the corpus families")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="use-m3, st:<path> or none")
    parser.add_argument("--contacts", default="extract", choices=["extract", "gold", "none"])
    args = parser.parse_args(argv)
    encoder = None if args.encoder == "none" else args.encoder
    result = clustering_quality(encoder=encoder, contacts=args.contacts, pairs=True)
    for key in ("all", "cross_language"):
        print(key, " ".join(f"{k} {v:.4f}" for k, v in result[key].items()))
    print("clusters mixing offer and warning:", int(result["mixed_offer_warning"]["clusters"]))
    if encoder:
        unread = sorted(unread_languages(encoder))
        print(f"{encoder} does not read (no embedding links): {', '.join(unread) or 'none'}")
    print(f"{'pair':16} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6}")
    for pair, row in result["language_pairs"].items():
        print(
            f"{pair:16} {row['gold_pairs']:5d} {row['predicted_pairs']:5d} "
            f"{row['precision']:6.3f} {row['recall']:6.3f}"
        )


if __name__ == "__main__":
    main()


def combiner_quality(
    records: list[dict] | None = None,
    *,
    encoder: str = DEFAULT_ENCODER,
    features: Literal["tfidf", "tfidf+embed"] = "tfidf",
    folds: int = 4,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> dict[str, dict]:
    """Classifier alone, similarity alone, OR rule and the combiner, measured honestly.

    Exactly what ``signalering train`` ships: on the train part of the family split, the
    combiner is fitted and every rule's cut chosen on out-of-fold scores
    (``model.combiner.fit_combiner``); the classifier trained on the whole train part then
    scores the held-out part, where ``model.combiner.compare_rules`` reports new ads and
    reposts. ``chosen_on_train`` holds the fitted combiner and cuts.
    """
    from dataclasses import asdict

    from ..model.classifier import Classifier
    from ..model.combiner import compare_rules, embed_records, fit_combiner
    from ..text import normalise

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
