"""The model side: everything that flags one post, and how it is trained and measured.

- ``classifier``: the TF-IDF (+ cues, + embeddings) classifier, saved with skops;
- ``similarity``: nearest known offers of a post and the rule that flags by them;
- ``combiner``: the learned rule over P(offer) and similarity (combiner.json);
- ``training``: ``train_model`` (``signalering train``) and the model card;
- ``metrics``: P/R/F1, calibration, PR curve and the keyword baseline.

Clustering and networks, which work on the stored posts, are ``signalering.link``.
"""
