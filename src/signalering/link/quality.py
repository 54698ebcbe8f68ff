"""Measure the link stage on the annotated corpus: clustering B-cubed against ``family``."""

from __future__ import annotations

import logging
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


def _offer_rates(flags: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    tp = int((flags & positive).sum())
    return {
        "precision": round(tp / max(int(flags.sum()), 1), 4),
        "recall": round(tp / max(int(positive.sum()), 1), 4),
        "flagged": int(flags.sum()),
    }


def _lowest_threshold(score: np.ndarray, positive: np.ndarray, precision: float) -> float:
    """The lowest cut of ``score`` whose precision (on these rows) is still >= ``precision``."""
    best = float("inf")
    for t in np.unique(score)[::-1]:
        flags = score >= t
        if (flags & positive).sum() / flags.sum() < precision:
            break
        best = float(t)
    return best


def _bank_top(vectors: np.ndarray, bank: np.ndarray) -> np.ndarray:
    if not len(bank):
        return np.zeros(len(vectors), dtype=np.float32)
    return (vectors @ bank.T).max(axis=1)


def combiner_quality(
    records: list[dict] | None = None,
    *,
    encoder: str = "use-m3",
    features: Literal["tfidf", "tfidf+embed"] = "tfidf",
    folds: int = 4,
    seed: int = 0,
) -> dict[str, dict]:
    """Classifier alone, similarity alone, OR rule and a logistic combiner, measured honestly.

    Rules are chosen on the train part of the family split only, from out-of-fold classifier
    scores (family-grouped folds) and out-of-fold similarity (the bank holds the other
    folds' offers); each rule's cut keeps the classifier's own out-of-fold precision.
    Reported on the held-out part twice:

    - ``new_ads``: held-out families are new ads, the bank is the train part's offers;
    - ``reposts``: the first post of each held-out offer family joins the bank and the
      family's later posts (and every non-first held-out post) are the queries, the case
      similarity exists for.
    """
    from sklearn.linear_model import LogisticRegression

    from ..classify import Classifier, grouped_folds
    from ..embed import get_encoder
    from ..text import normalise

    records = corpus_mod.load() if records is None else records
    train, test = corpus_mod.family_split(list(records), test_size=0.25, seed=seed)
    model = get_encoder(encoder)
    train_vecs = model.encode([r["text"] for r in train])
    test_vecs = model.encode([r["text"] for r in test])
    y_train = np.array([r["label"] == "offer" for r in train])
    y_test = np.array([r["label"] == "offer" for r in test])

    # Out-of-fold classifier P(offer) and similarity on the train part.
    oof_p = np.zeros(len(train))
    oof_sim = np.zeros(len(train))
    for fit_idx, held_idx in grouped_folds([r["family"] for r in train], n_splits=folds):
        clf = Classifier.train([train[i] for i in fit_idx], features=features, random_state=seed)
        proba = clf.predict_proba([normalise(train[i]["text"]).text for i in held_idx])
        oof_p[held_idx] = proba[:, clf.labels.index("offer")]
        bank = train_vecs[fit_idx[y_train[fit_idx]]]
        oof_sim[held_idx] = _bank_top(train_vecs[held_idx], bank)
    clf = Classifier.train(train, features=features, random_state=seed)
    threshold = clf.threshold
    clf_train_precision = _offer_rates(oof_p >= threshold, y_train)["precision"]

    # Rules, chosen on train at the classifier's own out-of-fold precision.
    sim_cut = _lowest_threshold(oof_sim, y_train, clf_train_precision)
    or_cut = float("inf")
    for t in np.round(np.arange(0.99, 0.5, -0.01), 2):
        flags = (oof_p >= threshold) | (oof_sim >= t)
        if _offer_rates(flags, y_train)["precision"] < clf_train_precision:
            break
        or_cut = float(t)

    def design(p: np.ndarray, sim: np.ndarray) -> np.ndarray:
        logit = np.log(np.clip(p, 1e-4, 1 - 1e-4) / np.clip(1 - p, 1e-4, 1))
        return np.column_stack([logit, sim, logit * sim])

    combiner = LogisticRegression(C=1.0, max_iter=1000).fit(design(oof_p, oof_sim), y_train)
    lr_train = combiner.predict_proba(design(oof_p, oof_sim))[:, 1]
    lr_cut = _lowest_threshold(lr_train, y_train, clf_train_precision)
    chosen = {
        "classifier_threshold": threshold,
        "train_oof_classifier_precision": clf_train_precision,
        "similarity_cut": round(sim_cut, 4),
        "or_cosine": or_cut,
        "logistic_cut": round(lr_cut, 4),
        "logistic_coef": [round(float(c), 3) for c in combiner.coef_[0]],
    }

    def report(p: np.ndarray, sim: np.ndarray, positive: np.ndarray) -> dict[str, dict]:
        lr = combiner.predict_proba(design(p, sim))[:, 1]
        return {
            "posts": {"n": int(len(p)), "offers": int(positive.sum())},
            "classifier": _offer_rates(p >= threshold, positive),
            "similarity": _offer_rates(sim >= sim_cut, positive),
            "or_rule": _offer_rates((p >= threshold) | (sim >= or_cut), positive),
            "logistic": _offer_rates(lr >= lr_cut, positive),
        }

    p_test = clf.predict_proba([normalise(r["text"]).text for r in test])[
        :, clf.labels.index("offer")
    ]
    train_bank = train_vecs[y_train]
    new_ads = report(p_test, _bank_top(test_vecs, train_bank), y_test)

    first_of: dict[str, int] = {}
    for i, rec in enumerate(test):
        first_of.setdefault(rec["family"], i)
    seeds = [i for i in first_of.values() if y_test[i]]
    queries = np.array([i for i in range(len(test)) if first_of[test[i]["family"]] != i])
    repost_bank = np.vstack([train_bank, test_vecs[seeds]])
    reposts = report(p_test[queries], _bank_top(test_vecs[queries], repost_bank), y_test[queries])
    result = {"chosen_on_train": chosen, "new_ads": new_ads, "reposts": reposts}
    logger.info("combiner quality: %s", result)
    return result
