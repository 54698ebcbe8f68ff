"""Measures of a classifier on held-out records: P/R/F1, calibration, PR curve, baseline.

Pure functions of labels and scores, shared by training (model choice and the card),
``signalering evaluate`` and the real-text measurements (``realtext``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .. import LABELS
from ..config import PROJECT_ROOT
from ..text import normalise
from .classifier import Classifier, fold_case

KEYWORDS_FILE = PROJECT_ROOT / "annotaties" / "lexicons" / "offer_keywords.yaml"
# Greetings, thanks and "ok" in every template language, kept out of training: most of what a
# public group's stream holds, and none of it should reach the review queue.
EVERYDAY_CHAT_FILE = Path(__file__).resolve().parents[1] / "data" / "everyday_chat.tsv"


# -- typed results ---------------------------------------------------------------
@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one decision (rounded to 4 places)."""

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, m: dict[str, float]) -> Scores:
        return cls(m["precision"], m["recall"], m["f1"])


@dataclass(frozen=True)
class LabelScores(Scores):
    """``Scores`` of one label, with its number of held-out posts."""

    support: int


@dataclass(frozen=True)
class LanguageScores:
    """One language's held-out posts: the offer label, the offer flag, macro-F1."""

    n: int
    offers: int
    offer: Scores
    flagged: Scores
    macro_f1: float


@dataclass
class EvaluationReport:
    """Everything ``evaluate_classifier`` measures of one model on held-out records.

    ``to_dict()`` is the JSON of ``signalering evaluate`` and of model.json's
    ``metrics``; ``p_offer`` (P(offer) per record) is kept for later steps, not written.
    """

    n: int
    per_label: dict[str, LabelScores]
    macro_f1: float
    accuracy: float
    per_language: dict[str, LanguageScores]
    confusion: dict[str, Any]
    calibration: dict[str, Any]
    flagged: Scores
    pr_curve: list[dict[str, float]]
    p_offer: np.ndarray = field(repr=False)

    @property
    def offer(self) -> LabelScores:
        return self.per_label["offer"]

    def worst_language_recall(self) -> float:
        """The lowest share of offers flagged in any language that has offers."""
        recalls = [v.flagged.recall for v in self.per_language.values() if v.offers]
        return min(recalls) if recalls else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["p_offer"]
        return out


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    tp, fp, fn = int(tp), int(fp), int(fn)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def label_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for lab in LABELS:
        tp = sum(t == lab and p == lab for t, p in zip(y_true, y_pred, strict=True))
        fp = sum(t != lab and p == lab for t, p in zip(y_true, y_pred, strict=True))
        fn = sum(t == lab and p != lab for t, p in zip(y_true, y_pred, strict=True))
        out[lab] = {**prf(tp, fp, fn), "support": sum(t == lab for t in y_true)}
    return out


def macro_f1(per_label: dict[str, dict[str, float]]) -> float:
    present = [m["f1"] for m in per_label.values() if m["support"]]
    return round(float(np.mean(present)), 4) if present else 0.0


def calibration(y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Brier score per label (one-vs-rest) and a 10-bin reliability table for ``offer``."""
    onehot = np.array([[t == lab for lab in labels] for t in y_true], dtype=float)
    brier = {
        lab: round(float(np.mean((proba[:, i] - onehot[:, i]) ** 2)), 4)
        for i, lab in enumerate(labels)
    }
    multi = round(float(np.mean(np.sum((proba - onehot) ** 2, axis=1))), 4)
    rows = []
    if "offer" in labels:
        i = list(labels).index("offer")
        bins = np.linspace(0, 1, 11)
        which = np.clip(np.digitize(proba[:, i], bins) - 1, 0, 9)
        for b in range(10):
            mask = which == b
            if mask.any():
                rows.append(
                    {
                        "bin": f"{bins[b]:.1f}-{bins[b + 1]:.1f}",
                        "mean_predicted": round(float(proba[mask, i].mean()), 3),
                        "observed": round(float(onehot[mask, i].mean()), 3),
                        "n": int(mask.sum()),
                    }
                )
    return {"brier": brier, "brier_multiclass": multi, "reliability_offer": rows}


def pr_curve(is_offer: Sequence[bool], p_offer: np.ndarray) -> list[dict[str, float]]:
    """Precision and recall of ``flagged`` at a range of thresholds."""
    truth = np.asarray(is_offer, dtype=bool)
    out = []
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        flag = p_offer >= t
        m = prf(int((flag & truth).sum()), int((flag & ~truth).sum()), int((~flag & truth).sum()))
        out.append({"threshold": t, "precision": m["precision"], "recall": m["recall"]})
    return out


def precision_at_recall(truth: np.ndarray, score: np.ndarray, recall: float) -> tuple[float, float]:
    """Best precision of ``score >= t`` over thresholds whose recall is at least ``recall``."""
    best = (0.0, 0.0)
    positives = truth.sum()
    for t in np.unique(score):
        flag = score >= t
        tp = int((flag & truth).sum())
        r = tp / positives if positives else 0.0
        if r + 1e-9 >= recall:
            p = tp / int(flag.sum())
            if p > best[0]:
                best = (round(float(p), 4), round(float(r), 4))
    return best


# -- keyword baseline ------------------------------------------------------------
def load_keywords(path: Path = KEYWORDS_FILE) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return sorted({fold_case(w) for words in data.values() for w in words or []})


def keyword_baseline(texts: Sequence[str], keywords: Sequence[str]) -> list[str]:
    """'offer' when any keyword occurs in the normalised text, else 'unrelated'."""
    pattern = re.compile("|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True)))
    return ["offer" if pattern.search(fold_case(normalise(t).text)) else "unrelated" for t in texts]


# -- evaluation ------------------------------------------------------------------
def evaluate_classifier(clf: Classifier, test: Sequence[dict[str, Any]]) -> EvaluationReport:
    """All held-out metrics of one model on ``test`` records."""
    texts = [normalise(r["text"]).text for r in test]
    proba = clf.predict_proba(texts)
    labels = clf.labels
    y_true = [r["label"] for r in test]
    y_pred = [labels[i] for i in proba.argmax(axis=1)]
    per_label = label_metrics(y_true, y_pred)
    offer_i = labels.index("offer")
    p_offer = proba[:, offer_i]
    flagged = p_offer >= clf.threshold

    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(test):
        by_lang[r.get("lang") or "und"].append(i)
    per_lang = {}
    for lang, idx in sorted(by_lang.items()):
        t = [y_true[i] for i in idx]
        p = [y_pred[i] for i in idx]
        lm = label_metrics(t, p)
        tp = sum(flagged[i] and y_true[i] == "offer" for i in idx)
        fn = sum(not flagged[i] and y_true[i] == "offer" for i in idx)
        fp = sum(flagged[i] and y_true[i] != "offer" for i in idx)
        per_lang[lang] = LanguageScores(
            n=len(idx),
            offers=sum(x == "offer" for x in t),
            offer=Scores.of(lm["offer"]),
            flagged=Scores.of(prf(tp, fp, fn)),
            macro_f1=macro_f1(lm),
        )
    confusion = [
        [sum(t == a and p == b for t, p in zip(y_true, y_pred, strict=True)) for b in LABELS]
        for a in LABELS
    ]
    truth = np.array([t == "offer" for t in y_true])
    return EvaluationReport(
        n=len(test),
        per_label={
            lab: LabelScores(m["precision"], m["recall"], m["f1"], int(m["support"]))
            for lab, m in per_label.items()
        },
        macro_f1=macro_f1(per_label),
        accuracy=round(float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)])), 4),
        per_language=per_lang,
        confusion={"labels": list(LABELS), "matrix": confusion},
        calibration=calibration(y_true, proba, labels),
        flagged=Scores.of(
            prf(
                int((flagged & truth).sum()),
                int((flagged & ~truth).sum()),
                int((~flagged & truth).sum()),
            )
        ),
        pr_curve=pr_curve(truth, p_offer),
        p_offer=p_offer,
    )


def compare_with_baseline(test: Sequence[dict[str, Any]], p_offer: np.ndarray) -> dict[str, Any]:
    """Keyword baseline vs the model's offer precision at the baseline's recall."""
    truth = np.array([r["label"] == "offer" for r in test])
    base = np.array(
        [p == "offer" for p in keyword_baseline([r["text"] for r in test], load_keywords())]
    )
    b = prf(int((base & truth).sum()), int((base & ~truth).sum()), int((~base & truth).sum()))
    model_p, model_r = precision_at_recall(truth, p_offer, b["recall"])
    return {
        "baseline": b,
        "model_at_baseline_recall": {"precision": model_p, "recall": model_r},
        "precision_gain_points": round(100 * (model_p - b["precision"]), 1),
    }


def everyday_chat(path: Path = EVERYDAY_CHAT_FILE) -> list[tuple[str, str]]:
    """``(lang, text)`` of the everyday-chat check (tab-separated, ``#`` comments)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            rows.append((lang, text))
    return rows


def chat_false_flags(
    clf: Classifier, rows: Sequence[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """How many everyday-chat messages ``clf`` flags as offers, and its highest P(offer) on them."""
    rows = list(rows if rows is not None else everyday_chat())
    predictions = clf.predict([normalise(text) for _, text in rows], explain="none")
    flagged = [
        {"lang": lang, "text": text, "p_offer": round(p.scores["offer"], 3)}
        for (lang, text), p in zip(rows, predictions, strict=True)
        if p.flagged
    ]
    return {
        "n": len(rows),
        "languages": len({lang for lang, _ in rows}),
        "flagged": len(flagged),
        "max_p_offer": round(max((p.scores["offer"] for p in predictions), default=0.0), 3),
        "examples": flagged[:10],
    }
