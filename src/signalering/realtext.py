"""Measuring the classifier on texts that really appeared in public.

Scores on the template corpus say little about real posts: a model learns how the
templates are written. The numbers that count are measured here, on
``annotaties/real/corpus.jsonl`` (see its README):

- :func:`cross_validate`: templates + real texts, grouped cross-validation by *source*
  (no article, report or channel, and no ad quoted by several of them, on both sides), with
  the keyword baseline on the same texts;
- :func:`templates_only`: a model trained on templates alone, tested on every real text;
- :func:`learning_curve`: offer recall on held-out sources as the real training texts grow;
- :func:`reviewed_gain`: what analysts' decisions add, on a time split of reviewed posts;
- :func:`partition_spread`: the same CV over other random partitions of the sources, since
  one partition's recall at fixed precision moves by a few hundredths as texts come in.

Real texts and reviewed posts are weighted (``REAL_WEIGHT``) so that a few hundred of them
are not drowned by thousands of template posts.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from . import LABELS, corpus
from .model.classifier import CLASSIFIER_ENCODER, Classifier, Features
from .model.metrics import keyword_baseline, label_metrics, load_keywords, macro_f1, prf
from .text import normalise

logger = logging.getLogger(__name__)

# Each real or reviewed text counts this many times against one template post; measured
# by source-grouped CV (docs/architecture.md, "Real texts").
REAL_WEIGHT = 6.0
FOLDS = 5
FRACTIONS = (0.0, 0.25, 0.5, 1.0)
TARGET_PRECISION = (0.90, 0.85)
Progress = Callable[[str], None]


def training_set(
    templates: Sequence[dict[str, Any]],
    real: Sequence[dict[str, Any]] = (),
    reviewed: Sequence[dict[str, Any]] = (),
    *,
    weight: float = REAL_WEIGHT,
) -> tuple[list[dict[str, Any]], list[float]]:
    """Records and their weights: templates 1, real texts and reviewed posts ``weight``."""
    records = [*templates, *real, *reviewed]
    weights = [1.0] * len(templates) + [weight] * (len(real) + len(reviewed))
    return records, weights


def embed_ahead(
    feature_sets: Sequence[str],
    encoder: str,
    cache_dir: Path | None,
    *groups: Sequence[dict[str, Any]],
    progress: Progress | None = None,
) -> None:
    """When a feature set has embeddings, embed every record once through the file cache in
    ``cache_dir``: the folds then read the vectors instead of embedding them again."""
    if cache_dir is None or not any("embed" in f.split("+") for f in feature_sets):
        return
    from .embed import preload

    if progress:
        progress(f"embedding the corpus ({encoder}, cached in {cache_dir})")
    preload([normalise(r["text"]).text for g in groups for r in g], encoder, cache_dir)


def recall_at_precision(truth: np.ndarray, score: np.ndarray, precision: float) -> float:
    """The highest recall of ``score >= t`` over thresholds whose precision is at least ``precision``."""
    positives = int(truth.sum())
    if not positives:
        return 0.0
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(truth[order])
    n = np.arange(1, len(score) + 1)
    # Only cut where the score changes (ties are flagged together).
    s = score[order]
    cut = np.r_[s[1:] != s[:-1], True]
    ok = (tp / n >= precision - 1e-9) & cut
    return round(float(tp[ok].max() / positives), 4) if ok.any() else 0.0


def keyword_flags(texts: Sequence[str]) -> np.ndarray:

    return np.array([p == "offer" for p in keyword_baseline(list(texts), load_keywords())])


def metrics(
    records: Sequence[dict[str, Any]], proba: np.ndarray, labels: Sequence[str], threshold: float
) -> dict[str, Any]:
    """Per label and per language P/R/F1, the offer flag, recall at fixed precision, baseline."""

    y_true = [r["label"] for r in records]
    y_pred = [labels[i] for i in proba.argmax(axis=1)]
    p_offer = proba[:, list(labels).index("offer")]
    truth = np.array([t == "offer" for t in y_true])
    flagged = p_offer >= threshold
    base = keyword_flags([r["text"] for r in records])

    def flag_prf(idx: np.ndarray, flags: np.ndarray) -> dict[str, float]:
        t, f = truth[idx], flags[idx]
        return prf(int((f & t).sum()), int((f & ~t).sum()), int((~f & t).sum()))

    every = np.arange(len(records))
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_lang[r.get("lang") or "und"].append(i)
    per_lang = {}
    for lang, idx in sorted(by_lang.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        ix = np.array(idx)
        lm = label_metrics([y_true[i] for i in idx], [y_pred[i] for i in idx])
        per_lang[lang] = {
            "n": len(idx),
            "offers": int(truth[ix].sum()),
            "flags": int(flagged[ix].sum()),
            "baseline_flags": int(base[ix].sum()),
            "flagged": flag_prf(ix, flagged),
            "baseline": flag_prf(ix, base),
            "per_label": {lab: lm[lab] for lab in LABELS},
        }
    per_label = label_metrics(y_true, y_pred)
    return {
        "n": len(records),
        "per_label": per_label,
        "macro_f1": macro_f1(per_label),
        "flagged": flag_prf(every, flagged),
        "baseline": flag_prf(every, base),
        "recall_at_precision": {
            f"{p:.2f}": recall_at_precision(truth, p_offer, p) for p in TARGET_PRECISION
        },
        "per_language": per_lang,
        "translated": {
            key: flag_prf(np.array(ix), flagged)
            for key, ix in (
                ("original", [i for i, r in enumerate(records) if not r.get("translated")]),
                ("translated", [i for i, r in enumerate(records) if r.get("translated")]),
            )
            if ix
        },
        "_p_offer": p_offer,
    }


def defined_prf(m: dict[str, float], offers: int, flags: int) -> list[float | str]:
    """P, R, F1 of an offer flag, with "–" where a number is undefined, not a score of 0.

    Precision needs a flag, recall an offer: in a language with no real offer a recall of
    0.000 would read as "misses them all". F1 is defined where recall is (0 without flags).
    """
    return [
        m["precision"] if flags else "–",
        m["recall"] if offers else "–",
        m["f1"] if offers else "–",
    ]


def _predict(clf: Classifier, records: Sequence[dict[str, Any]]) -> np.ndarray:
    return clf.predict_proba([normalise(r["text"]).text for r in records])


def _aligned(clf: Classifier, proba: np.ndarray) -> np.ndarray:
    """Columns in LABELS order, whatever labels the fold's training set had."""
    out = np.zeros((len(proba), len(LABELS)))
    for j, lab in enumerate(clf.labels):
        out[:, LABELS.index(lab)] = proba[:, j]
    return out


def source_folds(
    groups: Sequence[str], folds: int = FOLDS, partition: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test indices of ``folds`` folds that keep each source group on one side.
    ``partition`` 0 is the fixed assignment (groups dealt by size); 1, 2 … shuffle the
    groups with that seed first, for another partition of the same sources."""
    n_splits = min(folds, len(set(groups)))
    kfold = (
        GroupKFold(n_splits=n_splits, shuffle=True, random_state=partition)
        if partition
        else GroupKFold(n_splits=n_splits)
    )
    return list(kfold.split(np.arange(len(groups)), groups=list(groups)))


def cross_validate(
    templates: Sequence[dict[str, Any]],
    real: Sequence[dict[str, Any]],
    *,
    reviewed: Sequence[dict[str, Any]] = (),
    features: Features = "tfidf",
    threshold: float = 0.5,
    folds: int = FOLDS,
    seed: int = 0,
    weight: float = REAL_WEIGHT,
    fractions: Sequence[float] = (1.0,),
    progress: Progress | None = None,
    encoder: str = CLASSIFIER_ENCODER,
    partition: int = 0,
) -> dict[float, dict[str, Any]]:
    """Out-of-fold scores of every real text, grouped by source, for each share of real training.

    Each fold trains on all ``templates`` and ``reviewed`` posts plus the real texts of the other
    folds (``fraction`` of their source groups, drawn with ``seed``) and scores the real texts of
    its own fold; ``partition`` chooses the folds (:func:`source_folds`). Returns
    ``{fraction: metrics}``.
    """
    groups = corpus.source_groups(list(real))
    splits = source_folds(groups, folds, partition)
    n_splits = len(splits)
    proba = {f: np.zeros((len(real), len(LABELS))) for f in fractions}
    for k, (train_idx, test_idx) in enumerate(splits, start=1):
        fold_groups = sorted({groups[i] for i in train_idx})
        random.Random(seed + k).shuffle(fold_groups)
        test = [real[i] for i in test_idx]
        for frac in fractions:
            keep = set(fold_groups[: round(frac * len(fold_groups))])
            train_real = [real[i] for i in train_idx if groups[i] in keep]
            if progress:
                progress(
                    f"real texts, fold {k}/{n_splits}: {features}, {frac:.0%} of real training"
                )
            records, weights = training_set(templates, train_real, reviewed, weight=weight)
            clf = Classifier.train(
                records, features=features, random_state=seed, weights=weights, encoder=encoder
            )
            proba[frac][test_idx] = _aligned(clf, _predict(clf, test))
    return {f: metrics(real, proba[f], LABELS, threshold) for f in fractions}


def templates_only(
    templates: Sequence[dict[str, Any]],
    real: Sequence[dict[str, Any]],
    *,
    features: Features = "tfidf",
    threshold: float = 0.5,
    seed: int = 0,
    encoder: str = CLASSIFIER_ENCODER,
) -> dict[str, Any]:
    """A model trained on templates alone, tested on every real text."""
    clf = Classifier.train(list(templates), features=features, random_state=seed, encoder=encoder)
    return metrics(real, _aligned(clf, _predict(clf, real)), LABELS, threshold)


def learning_curve(results: dict[float, dict[str, Any]]) -> list[dict[str, Any]]:
    """Offer recall (at the threshold and at fixed precision) per share of real training texts."""
    return [
        {
            "fraction": frac,
            "flagged": m["flagged"],
            "recall_at_precision": m["recall_at_precision"],
            "macro_f1": m["macro_f1"],
        }
        for frac, m in sorted(results.items())
    ]


def reviewed_gain(
    templates: Sequence[dict[str, Any]],
    real: Sequence[dict[str, Any]],
    reviewed: Sequence[dict[str, Any]],
    *,
    features: Features = "tfidf",
    threshold: float = 0.5,
    test_share: float = 0.3,
    seed: int = 0,
    encoder: str = CLASSIFIER_ENCODER,
) -> dict[str, Any] | None:
    """Offer P/R/F1 on the latest reviewed posts, trained without and with the earlier ones.

    The split is by decision time (``review.at``): the model never sees a decision made after
    the ones it is tested on. ``None`` when there are too few reviewed posts to split.
    """
    dated = sorted(reviewed, key=lambda r: str((r.get("review") or {}).get("at", "")))
    n_test = round(test_share * len(dated))
    if n_test < 2 or len(dated) - n_test < 2:
        return None
    earlier, later = dated[:-n_test], dated[-n_test:]
    out: dict[str, Any] = {"train": len(earlier), "test": len(later)}
    for name, extra in (("without_reviewed", []), ("with_reviewed", earlier)):
        records, weights = training_set(templates, real, extra)
        clf = Classifier.train(
            records, features=features, random_state=seed, weights=weights, encoder=encoder
        )
        m = metrics(later, _aligned(clf, _predict(clf, later)), LABELS, threshold)
        out[name] = {"flagged": m["flagged"], "macro_f1": m["macro_f1"]}
    return out


def partition_spread(
    templates: Sequence[dict[str, Any]],
    real: Sequence[dict[str, Any]],
    partitions: int,
    *,
    fixed: dict[str, Any] | None = None,
    reviewed: Sequence[dict[str, Any]] = (),
    features: Features = "tfidf",
    threshold: float = 0.5,
    seed: int = 0,
    progress: Progress | None = None,
    encoder: str = CLASSIFIER_ENCODER,
) -> dict[str, Any]:
    """Recall at fixed precision over ``partitions`` partitions of the sources: the fixed one
    (``fixed``: its metrics, when already measured) and ``partitions - 1`` shuffled ones.
    Returns per precision the values, their mean, minimum and maximum."""
    runs = [fixed] if fixed is not None else []
    for partition in range(len(runs), partitions):
        if progress:
            progress(f"real texts: source partition {partition + 1} of {partitions}")
        runs.append(
            cross_validate(
                templates,
                real,
                reviewed=reviewed,
                features=features,
                threshold=threshold,
                seed=seed,
                encoder=encoder,
                partition=partition,
            )[1.0]
        )
    out: dict[str, Any] = {"partitions": len(runs)}
    for key in runs[0]["recall_at_precision"] if runs else ():
        values = [float(r["recall_at_precision"][key]) for r in runs]
        out[key] = {
            "values": values,
            "mean": round(float(np.mean(values)), 4),
            "min": min(values),
            "max": max(values),
        }
    return out


def public(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if not k.startswith("_")}
