"""Cue slots as classifier features: what a post *does*, from a multilingual lexicon.

Each slot of ``data/cues.yaml`` (crossing offered, vehicle, guarantee, payment, departure
soon, move to private messages, documents, disguise, recruitment, speaking to a client;
asking; reporting, awareness; legal business) becomes two features: whether the post
has a cue of that slot, and how many (log-scaled). They carry across languages and
wordings where character n-grams of template posts do not, and each matched cue is
evidence an analyst can read ("cue: guarantee '100% guaranteed'").

>>> f = CueFeatures().fit(["x"])
>>> [s for s, _, _, _ in f.matches("100% guaranteed trip to the uk, write me privately")]
['crossing', 'guarantee', 'private_contact']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .lexicon import DEFAULT_CUES, SIDES, cue_counts, cue_matches, cue_regex, load_lexicon

__all__ = ["DEFAULT_CUES", "SIDES", "CueFeatures", "load_lexicon"]


class CueFeatures(TransformerMixin, BaseEstimator):
    """Per slot: has a cue (0/1) and log(1 + cue count), on normalised text.

    ``fit`` copies the lexicon into the model (``slots_``, ``cues_``), so a saved model
    keeps matching the cues it was trained with whatever later happens to the file, and
    each slot's pattern (``patterns_``): building them normalises every cue (~3,000,
    0.13 s), which a loaded model would otherwise repeat on every start.
    """

    def __init__(self, lexicon: str | None = None, weight: float = 1.0) -> None:
        self.lexicon = lexicon
        self.weight = weight

    def fit(self, X: Sequence[str], y: Any = None) -> CueFeatures:
        lex = load_lexicon(self.lexicon)
        self.slots_ = list(lex)
        self.sides_ = [lex[s]["side"] for s in self.slots_]
        self.labels_ = [lex[s]["label"] for s in self.slots_]
        self.cues_ = [list(lex[s]["cues"]) for s in self.slots_]
        self.patterns_ = [cue_regex(c) for c in self.cues_]
        return self

    def patterns(self) -> list[str]:
        """Each slot's pattern (a model saved before ``patterns_`` existed builds them)."""
        if getattr(self, "patterns_", None) is None:
            self.patterns_ = [cue_regex(c) for c in self.cues_]
        return list(self.patterns_)

    def transform(self, X: Sequence[str]) -> np.ndarray:
        return cue_counts(self.patterns(), X, self.weight)

    def matches(self, text: str) -> list[tuple[str, int, int, str]]:
        """``(slot, start, end, cue text)`` of each cue in normalised ``text``, in text order."""
        return cue_matches(self.slots_, self.patterns(), text)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"cue_{s}{suffix}" for s in self.slots_ for suffix in ("", "_log")]
        return np.array(names, dtype=object)
