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


def _first_posts(records: list[dict], rows: np.ndarray) -> tuple[list[int], list[int]]:
    """Among ``rows``: the first post of each family, and all the later ones."""
    seen: set[str] = set()
    first, later = [], []
    for i in rows.tolist():
        fam = records[i]["family"]
        (later if fam in seen else first).append(i)
        seen.add(fam)
    return first, later


def _design(p: np.ndarray, sim: np.ndarray) -> np.ndarray:
    logit = np.log(np.clip(p, 1e-4, 1 - 1e-4) / np.clip(1 - p, 1e-4, 1))
    return np.column_stack([logit, sim, logit * sim])


def _choose_rules(
    p: np.ndarray, sim: np.ndarray, positive: np.ndarray, threshold: float
) -> dict[str, object]:
    """Cuts that keep the classifier's own precision on these (train, out-of-fold) rows."""
    from sklearn.linear_model import LogisticRegression

    target = _offer_rates(p >= threshold, positive)["precision"]
    or_cut = float("inf")
    for t in np.round(np.arange(0.99, 0.5, -0.01), 2):
        if _offer_rates((p >= threshold) | (sim >= t), positive)["precision"] < target:
            break
        or_cut = float(t)
    combiner = LogisticRegression(C=1.0, max_iter=1000).fit(_design(p, sim), positive)
    lr = combiner.predict_proba(_design(p, sim))[:, 1]
    return {
        "train_classifier_precision": target,
        "similarity_cut": _lowest_threshold(sim, positive, target),
        "or_cosine": or_cut,
        "logistic_cut": _lowest_threshold(lr, positive, target),
        "logistic": combiner,
    }


def _report(
    rules: dict, p: np.ndarray, sim: np.ndarray, positive: np.ndarray, threshold: float
) -> dict[str, object]:
    from .similar import _recall_at_precision

    lr = rules["logistic"].predict_proba(_design(p, sim))[:, 1]
    clf = _offer_rates(p >= threshold, positive)
    target = clf["precision"]
    or_best = 0.0
    for t in np.round(np.arange(0.99, 0.5, -0.01), 2):
        rates = _offer_rates((p >= threshold) | (sim >= t), positive)
        if rates["precision"] >= target:
            or_best = max(or_best, rates["recall"])
    return {
        "posts": {"n": int(len(p)), "offers": int(positive.sum())},
        "classifier": clf,
        "similarity": _offer_rates(sim >= rules["similarity_cut"], positive),
        "or_rule": _offer_rates((p >= threshold) | (sim >= rules["or_cosine"]), positive),
        "logistic": _offer_rates(lr >= rules["logistic_cut"], positive),
        "recall_at_classifier_precision": {
            "precision": target,
            "classifier": round(_recall_at_precision(p, positive, target), 4),
            "similarity": round(_recall_at_precision(sim, positive, target), 4),
            "or_rule_best_cosine": round(or_best, 4),
            "logistic": round(_recall_at_precision(lr, positive, target), 4),
        },
    }


def combiner_quality(
    records: list[dict] | None = None,
    *,
    encoder: str = "use-m3",
    features: Literal["tfidf", "tfidf+embed"] = "tfidf",
    folds: int = 4,
    seed: int = 0,
) -> dict[str, dict]:
    """Classifier alone, similarity alone, OR rule and a logistic combiner, measured honestly.

    Everything is chosen on the train part of the family split: out-of-fold classifier
    scores (family-grouped folds) and out-of-fold similarity; each rule's cut keeps the
    classifier's own out-of-fold precision. Reported on the held-out part, per scenario:

    - ``new_ads``: the bank is the other folds' offers (held out: the train part's offers);
      held-out families are ads never seen;
    - ``reposts``: the first post of each offer family also joins the bank and the later
      posts are the queries, the case similarity exists for.

    ``recall_at_classifier_precision`` compares the continuous scores on the held-out
    part at the classifier's own held-out precision (its cut is picked there: optimistic
    for every method alike).
    """
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

    oof_p = np.zeros(len(train))
    oof_sim = {"new_ads": np.zeros(len(train)), "reposts": np.zeros(len(train))}
    later_rows: list[int] = []
    for fit_idx, held_idx in grouped_folds([r["family"] for r in train], n_splits=folds):
        clf = Classifier.train([train[i] for i in fit_idx], features=features, random_state=seed)
        proba = clf.predict_proba([normalise(train[i]["text"]).text for i in held_idx])
        oof_p[held_idx] = proba[:, clf.labels.index("offer")]
        bank = train_vecs[fit_idx[y_train[fit_idx]]]
        oof_sim["new_ads"][held_idx] = _bank_top(train_vecs[held_idx], bank)
        first, later = _first_posts(train, held_idx)
        seeds = [i for i in first if y_train[i]]
        repost_bank = np.vstack([bank, train_vecs[seeds]])
        oof_sim["reposts"][later] = _bank_top(train_vecs[later], repost_bank)
        later_rows.extend(later)
    clf = Classifier.train(train, features=features, random_state=seed)
    threshold = clf.threshold
    p_test = clf.predict_proba([normalise(r["text"]).text for r in test])[
        :, clf.labels.index("offer")
    ]
    train_bank = train_vecs[y_train]
    first, later = _first_posts(test, np.arange(len(test)))
    test_bank = np.vstack([train_bank, test_vecs[[i for i in first if y_test[i]]]])
    scenarios = {
        "new_ads": (
            np.arange(len(train)),
            np.arange(len(test)),
            _bank_top(test_vecs, train_bank),
        ),
        "reposts": (
            np.array(later_rows),
            np.array(later),
            _bank_top(test_vecs[later], test_bank),
        ),
    }
    result: dict[str, dict] = {}
    for name, (train_rows, test_rows, test_sim) in scenarios.items():
        rules = _choose_rules(
            oof_p[train_rows], oof_sim[name][train_rows], y_train[train_rows], threshold
        )
        held = _report(rules, p_test[test_rows], test_sim, y_test[test_rows], threshold)
        chosen = {k: v for k, v in rules.items() if k != "logistic"}
        chosen["logistic_coef"] = [round(float(c), 3) for c in rules["logistic"].coef_[0]]
        result[name] = {"chosen_on_train": chosen, "held_out": held}
    logger.info("combiner quality: %s", result)
    return result
