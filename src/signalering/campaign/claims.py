"""Persuasion claims in a post: rules as data (``data/claims.yaml``), matched on normalised text.

>>> detect_claims("100% guaranteed, pay on arrival, children half price")
['safety_guarantee', 'pay_on_arrival', 'group_discount']
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from signalering.errors import ConfigError
from signalering.lexicon import cue_regex
from signalering.text import normalise

logger = logging.getLogger(__name__)

DEFAULT_RULES = "claims.yaml"


@dataclass(frozen=True)
class ClaimRule:
    """One claim type: its id, report group and label, and the compiled cue pattern."""

    id: str
    group: str
    label: str
    pattern: re.Pattern[str]
    n_cues: int


@functools.lru_cache(maxsize=4)
def load_claims(path: str | None = None) -> tuple[ClaimRule, ...]:
    """The claim rules from ``path`` (default: the packaged ``claims.yaml``), compiled once."""
    try:
        if path is None:
            raw = resources.files("signalering.campaign").joinpath("data", DEFAULT_RULES)
            data = yaml.safe_load(raw.read_text(encoding="utf-8"))
            where = f"signalering/campaign/data/{DEFAULT_RULES}"
        else:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            where = path
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"claim rules {path or DEFAULT_RULES} unreadable ({exc}) — fix the YAML"
        ) from exc
    claims = (data or {}).get("claims")
    if not isinstance(claims, dict) or not claims:
        raise ConfigError(f"claim rules {where} have no `claims:` mapping — see the packaged file")
    rules = []
    for claim_id, spec in claims.items():
        cues = [c for per_lang in (spec.get("cues") or {}).values() for c in per_lang or []]
        if not cues:
            raise ConfigError(f"claim {claim_id!r} in {where} has no cues — add some under `cues:`")
        rules.append(
            ClaimRule(
                id=str(claim_id),
                group=str(spec.get("group", claim_id)),
                label=str(spec.get("label", claim_id)),
                pattern=re.compile(cue_regex(cues)),
                n_cues=len(cues),
            )
        )
    logger.debug("loaded %s claim types from %s", len(rules), where)
    return tuple(rules)


def claim_labels(path: str | None = None) -> dict[str, str]:
    """``{claim id: readable label}`` in rule order."""
    return {r.id: r.label for r in load_claims(path)}


def detect_claims(
    text: str, *, normalised: str | None = None, rules_path: str | None = None
) -> list[str]:
    """Ids of the claims a post makes, in rule order (``normalised``: reuse a normalised text)."""
    norm = normalised if normalised is not None else normalise(text).text
    return [rule.id for rule in load_claims(rules_path) if rule.pattern.search(norm)]
