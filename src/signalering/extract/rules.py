"""Rule tables for extraction, loaded once from package data and the gazetteer."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import signalering
from signalering import yamlio
from signalering.errors import ConfigError
from signalering.text import alternation, normalise

logger = logging.getLogger(__name__)

DEFAULT_GAZETTEER = (
    Path(signalering.__file__).resolve().parents[2] / "annotaties" / "gazetteers" / "places.yaml"
)
# Latin aliases that are also ordinary words somewhere ("van" in Dutch, "kos"):
# matched only when the post writes them with a capital letter.
_CASE_SENSITIVE = {"van", "wan", "kos", "ý", "bar", "nice", "sale", "more", "hell", "polski"}
# Arabic-script proclitics a place name may carry (و, ف, ب, ل, ک + the article).
_PROCLITICS = "(?:[وف]?[بلک]?(?:ال)?)"
# Tigrinya prepositions written on the word: ብኩፍራ "via Kufra", ካብ/ናብ "from/to", ኣብ "in".
_ETHIOPIC_PROCLITICS = "(?:ካብ|ናብ|ኣብ|ምስ|ናይ|ከም|ብ|ን)?"
# Kurmanji oblique case on a Latin-script name: Hewlêrê, Almanyayê.
_LATIN_SUFFIX = "(?:y?ê)?"
_WORD_CHAR_LEFT = r"(?<![^\W_])"
_WORD_CHAR_RIGHT = r"(?![^\W_])"


def _norm(s: str) -> str:
    return normalise(str(s)).text.strip()


def _alternation(words: list[str]) -> str:
    # a prefix trie: one branch per character instead of one try per word
    return alternation(words)


def _starts_with(chars: set[str]) -> str:
    """A lookahead for the characters a match can start with.

    An optimisation only: Python's regex engine skips positions that cannot
    start a match when the pattern begins with a character set, instead of
    trying the whole pattern (its look-behind and optional parts) everywhere.
    """
    return "(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])"


def _leading_chars(pattern: str) -> set[str] | None:
    r"""The letters/digits ``pattern`` must start with, or None when not plain.

    Reads link patterns of the form ``name\.com/...`` or ``(?:a\.me|b\.com)/...``;
    anything else gives None (no lookahead, no harm).
    """
    alts = [pattern]
    if pattern.startswith("(?:"):
        end = pattern.find(")")
        inner = pattern[3:end]
        optional = pattern[end + 1 : end + 2] in ("?", "*", "{")
        if end < 0 or optional or "(" in inner or "[" in inner or inner.endswith("\\"):
            return None
        alts = inner.split("|")
    out = set()
    for alt in alts:
        if len(alt) < 2 or not alt[0].isalnum() or alt[1] in "?*{":
            return None
        out.add(alt[0])
    return out


@dataclass(frozen=True)
class Place:
    name: str
    country: str
    role: str


@dataclass(frozen=True)
class Rules:
    data: dict[str, Any]
    link_res: list[tuple[str, re.Pattern[str]]]
    link_re: re.Pattern[str]
    link_of: dict[str, tuple[str, int]]
    label_tail_re: re.Pattern[str]
    handle_stopwords: frozenset[str]
    label_platform: dict[str, str]
    at_re: re.Pattern[str]
    numeric_platforms: frozenset[str]
    price_re: re.Pattern[str]
    currency_of: dict[str, str]
    multiplier_of: dict[str, int]
    per_re: re.Pattern[str]
    per_of: dict[str, str]
    dinar_words: frozenset[str]
    id_cue_re: re.Pattern[str]
    phone_cue_re: re.Pattern[str]
    phone_re: re.Pattern[str]
    date_res: list[re.Pattern[str]]
    time_res: list[re.Pattern[str]]
    date_word_re: re.Pattern[str]
    place_re: re.Pattern[str] | None
    place_of: dict[str, Place]


def _load_data() -> dict[str, Any]:
    with resources.files("signalering.data").joinpath("entities.yaml").open(encoding="utf-8") as f:
        return yamlio.safe_load(f)


def load_gazetteer(path: Path | str | None = None) -> list[dict[str, Any]]:
    """Read the place gazetteer (a YAML list of ``{name, country, role, aliases}``)."""
    path = Path(path) if path is not None else DEFAULT_GAZETTEER
    if not path.exists():
        raise ConfigError(
            f"place gazetteer {path} not found — create it or pass gazetteer= to the extractor"
        )
    with path.open(encoding="utf-8") as f:
        entries = yamlio.safe_load(f) or []
    if not isinstance(entries, list):
        raise ConfigError(f"place gazetteer {path} is not a YAML list of places — fix the file")
    return entries


@functools.lru_cache(maxsize=4)
def load_rules(gazetteer: str | None = None) -> Rules:
    """Compile every rule table; cached, so pipelines share one copy."""
    data = _load_data()
    # --- handles
    link_res = []
    label_platform: dict[str, str] = {}
    numeric = set()
    # All link forms in one regex (one scan of the post instead of one per
    # platform): branch ``l{i}`` is a platform's pattern, its first group the handle.
    branches: list[str] = []
    link_of: dict[str, tuple[str, int]] = {}
    group = 1
    for platform, spec in data["platforms"].items():
        for pattern in spec.get("links") or []:
            link_res.append((platform, re.compile(r"(?:https?://)?(?:www\.)?" + pattern)))
            name = f"l{len(branches)}"
            branches.append(f"(?P<{name}>{pattern})")
            link_of[name] = (platform, group + 1)
            group += 1 + re.compile(pattern).groups
        for label in spec.get("labels") or []:
            label_platform[_norm(label)] = platform
        if spec.get("numeric"):
            numeric.add(platform)
    leads = [
        _leading_chars(p) for spec in data["platforms"].values() for p in spec.get("links") or []
    ]
    ahead = ""
    if all(lead is not None for lead in leads):
        ahead = _starts_with({"h", "w"}.union(*leads))  # h: https://, w: www.
    link_re = re.compile(ahead + r"(?:https?://)?(?:www\.)?(?:" + "|".join(branches) + ")")
    gap = data["label_gap"]
    label_tail_re = re.compile(
        rf"(?P<gap>{gap})(?P<at>@?)(?P<value>[a-z][a-z0-9_.]{{2,31}}[a-z0-9_]|\+?[0-9][0-9 \-]{{6,18}}[0-9])"
        r"(?![\w@])"
    )
    at_re = re.compile(r"(?=@)(?<![\w.@/])@(?P<value>[a-z][a-z0-9_.]{2,31}[a-z0-9_])(?![\w@])")
    # --- prices
    currency_of: dict[str, str] = {}
    for code, words in data["currencies"].items():
        for w in words:
            currency_of[_norm(w)] = code
    dinar_words = frozenset(_norm(w) for w in data["dinar"]["words"])
    for w in dinar_words:
        currency_of.setdefault(w, "DINAR")
    multiplier_of: dict[str, int] = {}
    for factor, words in data["multipliers"].items():
        for w in words:
            multiplier_of[_norm(w)] = int(factor)
    cur = _alternation(list(currency_of))
    after_only = {_norm(w) for w in data.get("after_amount_only") or ()}
    cur_before = _alternation([w for w in currency_of if w not in after_only])
    mult = _alternation(list(multiplier_of))
    amount = r"\d{1,3}(?:[.,' ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
    price_re = re.compile(
        _starts_with({w[0] for w in currency_of} | set("0123456789"))
        # Not inside a handle or a link's path ("@da0010", "t.me/da0010": no Algerian dinars).
        + rf"(?<![\da-z.,@_])(?<![a-z]/)(?:(?P<cur1>{cur_before})\s?(?P<amt1>{amount})(?:\s?(?P<mult1>{mult})(?![^\W\d_]))?"
        rf"|(?P<amt2>{amount})(?:\s?(?P<mult2>{mult})(?![^\W\d_]))?\s?(?P<cur2>{cur}))"
        rf"(?![^\W\d_])"
    )
    per_of: dict[str, str] = {}
    for kind, words in data["per"].items():
        for w in words:
            per_of[_norm(w)] = kind
    per_re = re.compile(
        rf"{_WORD_CHAR_LEFT}(?:{_PROCLITICS})?(?P<w>{_alternation(list(per_of))}){_WORD_CHAR_RIGHT}"
    )
    # --- phones
    id_cue_re = re.compile(
        rf"(?:{_alternation([_norm(w) for w in data['id_cues']])})\s*[:.#]?\s*[#:]?\s*$"
    )
    phone_cue_re = re.compile(
        rf"(?:{_alternation([_norm(w) for w in data['phone_cues']])})", re.IGNORECASE
    )
    phone_re = re.compile(
        r"(?=[\d+(])(?<![\w+])(?:\+\s?|00)?\(?\d(?:[ \-./()\u00a0]{0,3}\d){5,18}(?!\d)"
    )
    # --- dates
    date_res = [re.compile(p) for p in data["dates"]["patterns"]]
    time_res = [re.compile(p) for p in data["dates"]["times"]]
    date_word_re = re.compile(
        rf"{_WORD_CHAR_LEFT}(?:{_alternation([_norm(w) for w in data['dates']['words']])}){_WORD_CHAR_RIGHT}"
    )
    # --- places
    place_of: dict[str, Place] = {}
    try:
        entries = load_gazetteer(gazetteer)
    except ConfigError:
        if gazetteer is not None:
            raise
        logger.warning("no place gazetteer at %s; places will not be extracted", DEFAULT_GAZETTEER)
        entries = []
    for entry in entries:
        place = Place(str(entry["name"]), str(entry.get("country", "")), str(entry.get("role", "")))
        spellings = [entry["name"]]
        for forms in (entry.get("aliases") or {}).values():
            spellings.extend(forms or [])
        for s in spellings:
            key = _norm(s)
            if key:
                place_of.setdefault(key, place)
    place_re = None
    if place_of:
        arabic = [k for k in place_of if not k[0].isascii() and "\u0600" <= k[0] <= "\u06ff"]
        ethiopic = [k for k in place_of if "\u1200" <= k[0] <= "\u137f"]
        latin = [k for k in place_of if k[0].isascii() and k[-1].isalpha()]
        other = [k for k in place_of if k not in set(arabic) | set(ethiopic) | set(latin)]
        parts = []
        if arabic:
            parts.append(
                rf"{_WORD_CHAR_LEFT}{_PROCLITICS}(?P<ar>{_alternation(arabic)}){_WORD_CHAR_RIGHT}"
            )
        if ethiopic:
            parts.append(
                rf"{_WORD_CHAR_LEFT}{_ETHIOPIC_PROCLITICS}(?P<et>{_alternation(ethiopic)})"
                rf"{_WORD_CHAR_RIGHT}"
            )
        if latin:
            parts.append(
                rf"{_WORD_CHAR_LEFT}(?P<la>{_alternation(latin)}){_LATIN_SUFFIX}{_WORD_CHAR_RIGHT}"
            )
        if other:
            parts.append(rf"{_WORD_CHAR_LEFT}(?P<other>{_alternation(other)}){_WORD_CHAR_RIGHT}")
        firsts = (
            {k[0] for k in place_of}
            | {c for c in _PROCLITICS if "\u0600" <= c <= "\u06ff"}
            | {c for c in _ETHIOPIC_PROCLITICS if "\u1200" <= c <= "\u137f"}
        )
        place_re = re.compile(_starts_with(firsts) + "(?:" + "|".join(parts) + ")")
    logger.debug(
        "extraction rules loaded: %s places, %s currencies", len(place_of), len(currency_of)
    )
    return Rules(
        data=data,
        link_res=link_res,
        link_re=link_re,
        link_of=link_of,
        label_tail_re=label_tail_re,
        handle_stopwords=frozenset(_norm(w) for w in data.get("handle_stopwords") or []),
        label_platform=label_platform,
        at_re=at_re,
        numeric_platforms=frozenset(numeric),
        price_re=price_re,
        currency_of=currency_of,
        multiplier_of=multiplier_of,
        per_re=per_re,
        per_of=per_of,
        dinar_words=dinar_words,
        id_cue_re=id_cue_re,
        phone_cue_re=phone_cue_re,
        phone_re=phone_re,
        date_res=date_res,
        time_res=time_res,
        date_word_re=date_word_re,
        place_re=place_re,
        place_of=place_of,
    )


def case_sensitive(alias: str) -> bool:
    """Whether a Latin alias must be capitalised in the post to count as a place."""
    return alias in _CASE_SENSITIVE
