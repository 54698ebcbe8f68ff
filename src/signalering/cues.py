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
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import ConfigError
from .lexicon import cue_counts, cue_matches, cue_regex

DEFAULT_CUES = "cues.yaml"
SIDES = ("offer", "request", "warning", "unrelated")


def load_lexicon(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """``{slot: {"side", "label", "cues": [...]}}`` from ``path`` (default: the packaged file)."""
    where = str(path or f"signalering/data/{DEFAULT_CUES}")
    try:
        if path is None:
            raw = resources.files("signalering").joinpath("data", DEFAULT_CUES).read_text("utf-8")
        else:
            raw = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cue lexicon {where} unreadable ({exc}) — fix the YAML") from exc
    slots = (data or {}).get("slots")
    if not isinstance(slots, dict) or not slots:
        raise ConfigError(f"cue lexicon {where} has no `slots:` mapping — see the packaged file")
    out: dict[str, dict[str, Any]] = {}
    for slot, spec in slots.items():
        cues = [str(c) for per_lang in (spec.get("cues") or {}).values() for c in per_lang or []]
        side = spec.get("side")
        if not cues or side not in SIDES:
            raise ConfigError(
                f"cue slot {slot!r} in {where} needs `cues:` and a `side:` of {', '.join(SIDES)}"
            )
        out[str(slot)] = {"side": side, "label": str(spec.get("label", slot)), "cues": cues}
    return out


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
