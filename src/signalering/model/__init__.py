"""The model side: everything that flags one post, and how it is trained and measured.

- ``classifier``: the TF-IDF (+ cues, + embeddings) classifier, saved with skops;
- ``similarity``: nearest known offers of a post and the rule that flags by them;
- ``combiner``: the learned rule over P(offer) and similarity (combiner.json);
- ``training``: ``train_model`` (``signalering train``) and the model card;
- ``metrics``: P/R/F1, calibration, PR curve and the keyword baseline.

Clustering and networks, which work on the stored posts, are ``signalering.link``.

``load(settings)`` is the one way in from settings. Nothing here trains at run time:
only ``signalering train`` (and ``make install``, which runs it) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings
    from .classifier import Classifier


def load(settings: Settings) -> Classifier:
    """The model in ``model.path`` with ``model.threshold``; a missing or unreadable one is
    a ``ModelError`` saying how to make it.

    >>> load(load_config()).version  # doctest: +SKIP
    'default-tfidf+cues-20260101120000'
    """
    from .classifier import Classifier

    return Classifier.load(settings.model.path, threshold=settings.model.threshold)
