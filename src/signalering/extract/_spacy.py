"""spaCy, imported without torch: ``signalering.extract`` imports this first.

spaCy imports thinc, and thinc's ``compat`` imports torch only to learn whether it
is installed (for its PyTorch wrappers and GPU support). That one import was the
largest part of starting ``signalering classify`` (torch: 1.2-1.8 s; spaCy without
it: 0.7-0.9 s). Our pipeline is ``spacy.blank`` with rule components and never
touches thinc's torch layers, so while spaCy is first imported ``import torch``
fails as if it were absent (``signalering._imports.torch_hidden``); afterwards torch
imports normally for whatever needs it (the sentence-transformers encoders), only
thinc goes on believing it absent. If torch is already loaded, nothing is hidden.
"""

from __future__ import annotations

from signalering._imports import torch_hidden

with torch_hidden():
    import spacy  # noqa: F401
