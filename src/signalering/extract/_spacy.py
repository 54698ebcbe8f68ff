"""spaCy, imported without torch: ``signalering.extract`` imports this first.

spaCy imports thinc, and thinc's ``compat`` imports torch only to learn whether it
is installed (for its PyTorch wrappers and GPU support). That one import was the
largest part of starting ``signalering classify`` (torch: 1.2-1.8 s; spaCy without
it: 0.7-0.9 s). Our pipeline is ``spacy.blank`` with rule components and never
touches thinc's torch layers, so while spaCy is first imported ``import torch``
fails as if it were absent; afterwards torch imports normally for whatever needs
it (the sentence-transformers encoders), only thinc goes on believing it absent.
If torch or thinc is already loaded, nothing is hidden.
"""

from __future__ import annotations

import sys


def _import_spacy_without_torch() -> None:
    if "torch" in sys.modules or "thinc" in sys.modules:
        import spacy  # noqa: F401

        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` -> ImportError
    try:
        import spacy  # noqa: F401
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


_import_spacy_without_torch()
