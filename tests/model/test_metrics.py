"""Typed evaluation results: what crosses modules is a dataclass, what is written is the
same JSON as before."""

from __future__ import annotations

import json
from pathlib import Path

from signalering import corpus
from signalering.model.classifier import Classifier
from signalering.model.metrics import (
    EvaluationReport,
    LabelScores,
    Scores,
    evaluate_classifier,
    label_metrics,
    prf,
)
from signalering.text import normalise


def test_prf_and_label_metrics_count_by_hand() -> None:
    assert prf(3, 1, 2) == {"precision": 0.75, "recall": 0.6, "f1": 0.6667}
    per = label_metrics(["offer", "offer", "request"], ["offer", "request", "request"])
    assert per["offer"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}


def test_the_report_is_typed_and_its_json_is_the_plain_metrics(trained_model: Path) -> None:
    clf = Classifier.load(trained_model)
    _, test = corpus.family_split(corpus.load(), test_size=0.25, seed=0)
    test = test[:200]
    report = evaluate_classifier(clf, test)
    assert isinstance(report, EvaluationReport)
    assert isinstance(report.offer, LabelScores) and isinstance(report.flagged, Scores)
    assert len(report.p_offer) == len(test)

    written = json.loads(json.dumps(report.to_dict()))
    assert list(written) == [
        "n",
        "per_label",
        "macro_f1",
        "accuracy",
        "per_language",
        "confusion",
        "calibration",
        "flagged",
        "pr_curve",
    ]
    proba = clf.predict_proba([normalise(r["text"]).text for r in test])
    y_pred = [clf.labels[i] for i in proba.argmax(axis=1)]
    assert written["per_label"] == label_metrics([r["label"] for r in test], y_pred)
    some = next(iter(written["per_language"].values()))
    assert list(some) == ["n", "offers", "offer", "flagged", "macro_f1"]
    assert list(some["offer"]) == ["precision", "recall", "f1"]
    worst = min(v.flagged.recall for v in report.per_language.values() if v.offers)
    assert report.worst_language_recall() == worst
