"""Cue phrases per language compiled into one regex: shared by the campaign claims and
the classifier's cue slots, so both match a phrase the same way.

A cue is matched on :func:`signalering.text.normalise` text (lower case, digits folded,
Arabic letter variants folded). A Latin, Greek or Cyrillic cue must start at a word
start and may continue ("guarant" covers "guaranteed"); Arabic-script and Ge'ez cues
match anywhere (clitics attach in front).

>>> import re
>>> bool(re.search(cue_regex(["guarant", "pay on arrival"]), "100% guaranteed"))
True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError
from .text import normalise


def _bounded(cue: str) -> bool:
    """Latin/Cyrillic cues start at a word start; Arabic-script and Ge'ez clitics attach in front."""
    return cue[:1].isalpha() and ord(cue[0]) < 0x0590


def _trie_regex(cues: list[str]) -> str:
    """One regex for many cues, shared prefixes merged (fast: no scan per alternative)."""
    trie: dict[str, dict] = {}
    for cue in cues:
        node = trie
        for ch in cue:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        if "" in node:  # a cue ends here: searching needs nothing longer
            return ""
        alts = [(r"\s+" if ch == " " else re.escape(ch)) + emit(node[ch]) for ch in sorted(node)]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(trie)


def cue_regex(cues: list[str]) -> str:
    """One pattern matching any of ``cues`` (normalised like the texts they are matched on)."""
    norms = {" ".join(normalise(str(c)).text.split()) for c in cues}
    norms.discard("")
    bounded = sorted(c for c in norms if _bounded(c))
    free = sorted(c for c in norms if not _bounded(c))
    parts = []
    if bounded:
        parts.append(rf"(?<![^\W\d_]){_trie_regex(bounded)}")
    if free:
        parts.append(_trie_regex(free))
    return "|".join(parts)


@functools.lru_cache(maxsize=64)
def compiled(pattern: str) -> re.Pattern[str]:
    """``re.compile`` of a cue pattern, once per process."""
    return re.compile(pattern)


def cue_counts(patterns: Sequence[str], texts: Sequence[str], weight: float = 1.0) -> np.ndarray:
    """Per text and pattern: has a match (0/1) and log(1 + matches), times ``weight``.

    The cue block of the classifier's features (``signalering.cues.CueFeatures``), shared
    with the model's array form (``signalering.model.arrays``).
    """
    regexes = [compiled(p) for p in patterns]
    out = np.zeros((len(texts), 2 * len(regexes)), dtype=np.float32)
    for i, text in enumerate(texts):
        for j, pat in enumerate(regexes):
            n = sum(1 for _ in pat.finditer(text))
            if n:
                out[i, 2 * j] = 1.0
                out[i, 2 * j + 1] = np.log1p(n)
    return out * weight


def cue_matches(
    slots: Sequence[str], patterns: Sequence[str], text: str
) -> list[tuple[str, int, int, str]]:
    """``(slot, start, end, cue text)`` of each cue in normalised ``text``, in text order."""
    found = []
    for slot, pattern in zip(slots, patterns, strict=True):
        for m in compiled(pattern).finditer(text):
            if m.end() > m.start():
                found.append((slot, m.start(), m.end(), m.group()))
    return sorted(found, key=lambda f: (f[1], f[2]))


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


@functools.cache
def _offer_patterns() -> tuple[str, ...]:
    """The packaged cue lexicon's patterns of the slots on the offer side, built on first use."""
    return tuple(
        cue_regex(spec["cues"]) for spec in load_lexicon().values() if spec["side"] == "offer"
    )


def has_offer_cue(text: str) -> bool:
    """Whether normalised ``text`` has a cue of a slot on the offer side (crossing, vehicle,
    guarantee, payment, schedule, private contact, documents, disguise, recruitment,
    speaking to a client) in the packaged lexicon (``data/cues.yaml``)."""
    return any(compiled(p).search(text) for p in _offer_patterns())
