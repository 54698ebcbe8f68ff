"""Similarity + classifier: the learned combiner and the measurement that chooses the rule.

A post is flagged by the ``logistic`` rule when the classifier flags it (P(offer) >=
``model.threshold``) *or* when a logistic regression over ``[logit P(offer), top cosine
to a known offer, their product]`` scores at least a cut. ``signalering train`` fits it on
out-of-fold scores of the train part (family-grouped folds: out-of-fold classifier
probabilities, and the top cosine to the *other* folds' offers — plus, for reposts, the
first post of their own family) and picks the cut that keeps the classifier's own
out-of-fold precision. It is saved beside the model as ``combiner.json``::

    combiner = Combiner.load("models/default")  # None when it was never trained
    combiner.flags(p_offer, top_cosine, threshold=0.5)

:func:`compare_rules` measures the classifier alone, similarity alone, the OR rule and
the combiner on the held-out part, for new ads and for reposts.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..config import DEFAULT_ENCODER
from ..errors import ModelError

logger = logging.getLogger(__name__)

Rule = Literal["logistic", "or", "off"]
RULES: tuple[Rule, ...] = ("logistic", "or", "off")
COMBINER_FILE = "combiner.json"
FOLDS = 4
Progress = Callable[[str], None]


def design(p: np.ndarray, sim: np.ndarray) -> np.ndarray:
    """The combiner's inputs: logit of P(offer), the top cosine, and their product."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    logit = np.log(p / (1 - p))
    sim = np.asarray(sim, dtype=np.float64)
    return np.column_stack([logit, sim, logit * sim])


@dataclass(frozen=True)
class Combiner:
    """A fitted combiner: coefficients, intercept, its cut and what it was measured at."""

    coef: tuple[float, float, float]
    intercept: float
    cut: float
    encoder: str
    threshold: float  # the classifier threshold the cut was chosen with
    train_precision: float  # the classifier's out-of-fold precision, kept by the cut
    or_cosine: float  # the OR rule's cut, chosen on the same rows (for the comparison)
    similarity_cut: float  # similarity alone, chosen on the same rows
    measurement: dict[str, Any] = field(default_factory=dict)

    def score(self, p: np.ndarray, sim: np.ndarray) -> np.ndarray:
        """The combined score in [0, 1] of P(offer) and top cosine."""
        z = design(p, sim) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def flags(self, p: np.ndarray, sim: np.ndarray, *, threshold: float) -> np.ndarray:
        """``P(offer) >= threshold OR combined score >= cut``."""
        return (np.asarray(p) >= threshold) | (self.score(p, sim) >= self.cut)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / COMBINER_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> Combiner | None:
        """The combiner saved in ``folder``; ``None`` if there is none (raises if unreadable)."""
        path = Path(folder) / COMBINER_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            combiner = cls(**{**data, "coef": tuple(float(c) for c in data["coef"])})
            numbers = [*combiner.coef, combiner.intercept, combiner.cut]
            if len(combiner.coef) != 3 or not all(math.isfinite(float(x)) for x in numbers):
                raise ValueError("coef must be three finite numbers")
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ModelError(
                f"combiner {path} is unreadable ({exc}) — run `signalering train` to remake "
                'it, or set similarity.rule = "or"'
            ) from exc
        return combiner


# -- embeddings and out-of-fold scores ------------------------------------------------------
def embed_records(
    records: Sequence[dict], *, encoder: str, cache_dir: Path | None = None
) -> np.ndarray:
    """Unit vectors of the records' normalised texts (as the product compares posts), cached
    in ``cache_dir`` (``similarity.cache_dir``; ``None``: no cache)."""
    from ..embed import FileEmbeddingCache, get_encoder, readable, recent_encode
    from ..text import normalise

    model = get_encoder(encoder)
    texts = [normalise(r["text"]).text for r in records]
    if cache_dir is None:
        vectors = recent_encode(texts, model)
    else:
        vectors = FileEmbeddingCache(cache_dir).encode(texts, model)
    return readable(texts, model, vectors)  # as the product sees them


def _top(vectors: np.ndarray, bank: np.ndarray) -> np.ndarray:
    if not len(bank) or not len(vectors):
        return np.zeros(len(vectors), dtype=np.float32)
    return (vectors @ bank.T).max(axis=1)


def first_and_later(records: Sequence[dict], rows: Sequence[int]) -> tuple[list[int], list[int]]:
    """Among ``rows``: the first post of each family, and all the later ones (its reposts)."""
    seen: set[str] = set()
    first, later = [], []
    for i in rows:
        fam = records[i]["family"]
        (later if fam in seen else first).append(i)
        seen.add(fam)
    return first, later


@dataclass
class OutOfFold:
    """Out-of-fold scores of the train part: P(offer), and top cosine per scenario."""

    p: np.ndarray
    sim_new: np.ndarray  # to the other folds' offers: ads never seen
    sim_repost: np.ndarray  # also to the first post of an offer family in its own fold
    later: np.ndarray  # rows that are reposts (not the first post of their family)


def out_of_fold(
    train: Sequence[dict],
    vectors: np.ndarray,
    *,
    features: str = "tfidf",
    folds: int = FOLDS,
    seed: int = 0,
    progress: Progress | None = None,
) -> OutOfFold:
    """Family-grouped folds: each fold scored by a classifier and a bank built without it."""
    from ..text import normalise
    from .classifier import Classifier, grouped_folds

    y = np.array([r["label"] == "offer" for r in train])
    p = np.zeros(len(train))
    sim_new = np.zeros(len(train), dtype=np.float32)
    sim_repost = np.zeros(len(train), dtype=np.float32)
    later_rows: list[int] = []
    splits = grouped_folds([r["family"] for r in train], n_splits=folds)
    for n, (fit_idx, held_idx) in enumerate(splits, 1):
        if progress:
            progress(f"combiner: fold {n} of {len(splits)}")
        clf = Classifier.train(
            [train[i] for i in fit_idx],
            features=features,  # type: ignore[arg-type]
            random_state=seed,
        )
        proba = clf.predict_proba([normalise(train[i]["text"]).text for i in held_idx])
        p[held_idx] = proba[:, clf.labels.index("offer")]
        bank = vectors[fit_idx[y[fit_idx]]]
        sim_new[held_idx] = _top(vectors[held_idx], bank)
        first, later = first_and_later(train, held_idx.tolist())
        seeds = vectors[[i for i in first if y[i]]]
        sim_repost[later] = _top(vectors[later], np.vstack([bank, seeds]))
        later_rows.extend(later)
    return OutOfFold(p, sim_new, sim_repost, np.array(sorted(later_rows), dtype=np.int64))


# -- choosing cuts --------------------------------------------------------------------------
def rates(flags: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    tp = int((flags & positive).sum())
    return {
        "precision": round(tp / max(int(flags.sum()), 1), 4),
        "recall": round(tp / max(int(positive.sum()), 1), 4),
        "flagged": int(flags.sum()),
    }


def _precision(flags: np.ndarray, positive: np.ndarray) -> float:
    return float((flags & positive).sum() / flags.sum()) if flags.any() else 1.0


def lowest_cut(
    score: np.ndarray, positive: np.ndarray, precision: float, *, base: np.ndarray | None = None
) -> float:
    """The lowest cut of ``score`` (flags: ``base | score >= cut``) keeping ``precision``.

    Walks down from the highest score and stops at the first cut below ``precision``;
    ``inf`` when even the highest cut costs precision.
    """
    base = np.zeros(len(score), dtype=bool) if base is None else base
    best = float("inf")
    for t in np.unique(score)[::-1]:
        if _precision(base | (score >= t), positive) < precision:
            break
        best = float(t)
    return best


def best_recall(
    score: np.ndarray, positive: np.ndarray, precision: float, *, base: np.ndarray | None = None
) -> float:
    """The best recall of ``base | score >= t`` over cuts ``t`` that keep ``precision``."""
    base = np.zeros(len(score), dtype=bool) if base is None else base
    best = 0.0
    total = max(int(positive.sum()), 1)
    for t in [*np.unique(score), float("inf")]:
        flags = base | (score >= t)
        if flags.any() and _precision(flags, positive) >= precision:
            best = max(best, float((flags & positive).sum()) / total)
    return round(best, 4)


def fit_combiner(
    train: Sequence[dict],
    *,
    features: str = "tfidf",
    encoder: str = DEFAULT_ENCODER,
    threshold: float = 0.5,
    folds: int = FOLDS,
    seed: int = 0,
    vectors: np.ndarray | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> Combiner:
    """Fit the combiner and choose every rule's cut on out-of-fold scores of ``train``.

    Its rows are both situations similarity meets in use: every post against the other
    folds' offers (a new ad) and every repost also against its family's first post.
    """
    from sklearn.linear_model import LogisticRegression

    vectors = (
        embed_records(train, encoder=encoder, cache_dir=cache_dir) if vectors is None else vectors
    )
    oof = out_of_fold(train, vectors, features=features, folds=folds, seed=seed, progress=progress)
    y = np.array([r["label"] == "offer" for r in train])
    p = np.concatenate([oof.p, oof.p[oof.later]])
    sim = np.concatenate([oof.sim_new, oof.sim_repost[oof.later]])
    positive = np.concatenate([y, y[oof.later]])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(design(p, sim), positive)
    classifier = p >= threshold
    target = _precision(classifier, positive)
    unfitted = Combiner(
        coef=tuple(round(float(c), 6) for c in model.coef_[0]),  # type: ignore[arg-type]
        intercept=round(float(model.intercept_[0]), 6),
        cut=1.0,
        encoder=encoder,
        threshold=threshold,
        train_precision=round(target, 4),
        or_cosine=lowest_cut(sim, positive, target, base=classifier),
        similarity_cut=lowest_cut(sim, positive, target),
    )
    cut = lowest_cut(unfitted.score(p, sim), positive, target, base=classifier)
    combiner = Combiner(**{**asdict(unfitted), "cut": round(min(cut, 1.0), 6)})
    logger.info(
        "combiner: coef %s, cut %.3f at out-of-fold precision %.3f",
        combiner.coef,
        combiner.cut,
        target,
    )
    return combiner


# -- the held-out comparison ---------------------------------------------------------------
METHODS = ("classifier", "similarity", "or_rule", "logistic")


def compare_rules(
    combiner: Combiner,
    p: np.ndarray,
    vectors: np.ndarray,
    records: Sequence[dict],
    bank: np.ndarray,
    *,
    threshold: float,
) -> dict[str, dict[str, Any]]:
    """Classifier alone, similarity alone, OR rule and combiner on ``records`` (held out).

    ``bank`` holds the vectors of the known (train) offers. ``new_ads``: every post against
    that bank; ``reposts``: the later posts of each family, against the bank plus the first
    post of each offer family. Precision, recall and flagged at the cuts chosen on train,
    and ``recall_at_classifier_precision``: each method's best recall, over cuts picked on
    these rows, that keeps the classifier's precision here (optimistic for all alike).
    """
    y = np.array([r["label"] == "offer" for r in records])
    first, later = first_and_later(records, range(len(records)))
    seeds = vectors[[i for i in first if y[i]]]
    scenarios = {
        "new_ads": (np.arange(len(records)), _top(vectors, bank)),
        "reposts": (
            np.array(later, dtype=np.int64),
            _top(vectors[later], np.vstack([bank, seeds])),
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (rows, sim) in scenarios.items():
        pp, pos = p[rows], y[rows]
        clf = pp >= threshold
        combined = combiner.score(pp, sim)
        flags = {
            "classifier": clf,
            "similarity": sim >= combiner.similarity_cut,
            "or_rule": clf | (sim >= combiner.or_cosine),
            "logistic": clf | (combined >= combiner.cut),
        }
        target = _precision(clf, pos)
        at = {
            "classifier": best_recall(pp, pos, target),
            "similarity": best_recall(sim, pos, target),
            "or_rule": best_recall(sim, pos, target, base=clf),
            "logistic": best_recall(combined, pos, target, base=clf),
        }
        out[name] = {
            "posts": int(len(rows)),
            "offers": int(pos.sum()),
            "classifier_precision": round(target, 4),
            **{
                m: {**rates(flags[m], pos), "recall_at_classifier_precision": at[m]}
                for m in METHODS
            },
        }
    return out
