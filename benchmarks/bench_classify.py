"""Classification throughput: normalise + language separately, then the model."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks._measure import measure
from signalering import corpus, language
from signalering.model.classifier import Classifier
from signalering.model.training import train_model
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.text import normalise


def _texts(n: int) -> list[str]:
    texts = [r["text"] for r in corpus.load()]
    return (texts * (n // len(texts) + 1))[:n]


def run(n: int = 5000) -> list[dict[str, Any]]:
    texts = _texts(n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "m"
        train_model(None, folder, features="tfidf")
        clf = Classifier.load(folder)
        normed = [normalise(t) for t in texts]
        rows = [
            measure("normalise", lambda xs: [normalise(t) for t in xs], texts),
            measure("language", lambda xs: [language.detect(t) for t in xs], texts),
            measure(
                "classify (tfidf, no evidence)", lambda xs: clf.predict(xs, explain="none"), normed
            ),
            measure("classify (tfidf, evidence when flagged)", lambda xs: clf.predict(xs), normed),
        ]
        posts = [Post(text=t) for t in texts[:2000]]
        stages = Stages(clf)
        rows.append(measure("pipeline without embeddings (all stages)", stages.process, posts))
    return rows
