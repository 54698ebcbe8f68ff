"""spaCy components that find dates, places, prices, handles and phones.

Each component reads the normalised post (``doc.user_data["norm"].text``, see
:mod:`signalering.text`) and the context the caller put in ``doc.user_data``,
and appends findings to ``doc.user_data["entities"]`` and ``doc.spans["sc"]``.
They run in an order that lets later rules skip what earlier ones claimed: a
date, price or wa.me link is never read again as a phone number.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

import phonenumbers
from price_parser import Price
from spacy.language import Language
from spacy.tokens import Doc, Span

from signalering import entities as entity_kinds
from signalering.extract.rules import Rules, case_sensitive, load_rules
from signalering.text import Normalised

logger = logging.getLogger(__name__)

_DIGIT = re.compile(r"\d")


def _rules(doc: Doc) -> Rules:
    """The rule tables; first gives a doc made by ``nlp(text)`` the context extract() sets.

    Such a doc's text is taken as already normalised, so offsets are into it.
    """
    if "entities" not in doc.user_data:
        text = doc.text
        n = len(text)
        norm = Normalised(
            original=text, text=text, starts=list(range(n)), ends=list(range(1, n + 1))
        )
        doc.user_data.update(norm=norm, taken=[], entities=empty())
        doc.spans["sc"] = []
    return load_rules(doc.user_data.get("gazetteer"))


def empty() -> dict[str, list[dict[str, Any]]]:
    """An empty result: one list per registered entity kind (:mod:`signalering.entities`)."""
    return {key: [] for key in entity_kinds.all_keys()}


def _taken(doc: Doc, start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in doc.user_data["taken"])


def _emit(doc: Doc, kind: str, start: int, end: int, *, claim: bool = True, **fields: Any) -> None:
    """Record one finding, with offsets into the original text."""
    norm = doc.user_data["norm"]
    o_start, o_end = norm.to_original(start, end)
    item = dict(fields)
    item.update(start=o_start, end=o_end, text=norm.original[o_start:o_end])
    doc.user_data["entities"].setdefault(kind, []).append(item)
    if claim:
        doc.user_data["taken"].append((start, end))
    if end > start:  # tokens are characters (see CharTokenizer)
        doc.spans["sc"].append(Span(doc, start, end, label=kind))


def _text(doc: Doc) -> str:
    """The normalised text (``doc.text`` would rebuild it from every token)."""
    norm = doc.user_data.get("norm")
    return norm.text if norm is not None else doc.text


@Language.component("signalering_dates_v1")
def dates_component(doc: Doc) -> Doc:
    """Dates (ISO when complete), times (HH:MM) and day words."""
    rules = _rules(doc)
    text = _text(doc)
    digits = _DIGIT.search(text) is not None  # dates and times need one
    for pattern in rules.date_res if digits else ():
        for m in pattern.finditer(text):
            if _taken(doc, *m.span()):
                continue
            value = _iso_date(m.group(0))
            if value:
                _emit(doc, "dates", *m.span(), value=value)
    for pattern in rules.time_res if digits else ():
        for m in pattern.finditer(text):
            if not _taken(doc, *m.span()):
                hh, mm = re.split(r"[:h]", m.group(0))
                _emit(doc, "dates", *m.span(), value=f"{int(hh):02d}:{mm}")
    for m in rules.date_word_re.finditer(text):
        _emit(doc, "dates", *m.span(), claim=False, value=m.group(0))
    return doc


def _iso_date(s: str) -> str | None:
    parts = [int(p) for p in re.split(r"[/.\-]", s)]
    if len(parts) == 3 and parts[0] > 31:  # yyyy-mm-dd
        y, mo, d = parts
    elif len(parts) == 3:
        d, mo, y = parts
        y = y + 2000 if y < 100 else y
    else:
        d, mo = parts
        y = None
    if not (1 <= d <= 31 and 1 <= mo <= 12):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}" if y else f"--{mo:02d}-{d:02d}"


@Language.component("signalering_places_v1")
def places_component(doc: Doc) -> Doc:
    """Places from the gazetteer, resolved to canonical name, country and role."""
    rules = _rules(doc)
    if rules.place_re is None:
        return doc
    norm = doc.user_data["norm"]
    text = _text(doc)
    inside = _handle_spans(rules, text)
    lang = (doc.user_data.get("lang") or "").split("-")[0]
    only_in = rules.data.get("place_alias_languages") or {}
    for m in rules.place_re.finditer(text):
        group = next(g for g in ("ar", "et", "la", "other") if m.groupdict().get(g))
        alias = m.group(group)
        start, end = m.span(group)
        if any(s <= start and end <= e for s, e in inside):
            continue  # "@paris_trip", "t.me/london_boats": a name, not a place
        if alias in only_in and lang not in only_in[alias]:
            continue  # "nga" is Russia in Vietnamese, "from" in Albanian
        if group in ("la", "other") and case_sensitive(alias):
            o_start, _ = norm.to_original(start, end)
            if not norm.original[o_start : o_start + 1].isupper():
                continue
        place = rules.place_of[alias]
        _emit(
            doc,
            "places",
            start,
            end,
            claim=False,
            value=place.name,
            country=place.country,
            role=place.role,
        )
    return doc


# A web address, or a user name with an underscore ("paris_trip"), wherever it stands.
_URL_OR_USERNAME = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|(?<![\w.@/])(?:[a-z0-9-]+\.)+[a-z]{2,6}/\S*"
    r"|(?<![^\W_])[a-z0-9.]*[a-z0-9]_[a-z0-9_.]*[a-z0-9](?![^\W_])"
)


def _handle_spans(rules: Rules, text: str) -> list[tuple[int, int]]:
    """Spans of links, @handles, URLs and user names: no place is read inside them."""
    spans = [m.span() for m in rules.link_re.finditer(text)]
    spans += [m.span() for m in rules.at_re.finditer(text)]
    spans += [m.span() for m in _URL_OR_USERNAME.finditer(text)]
    return spans


def _amount(text: str, multiplier: int) -> float | None:
    compact = text.replace(" ", "").replace("'", "")
    price = Price.fromstring(compact)
    if price.amount is None:
        return None
    value = float(price.amount)
    if not math.isfinite(value):  # hundreds of digits: no price (and no Infinity in JSON)
        return None
    if multiplier > 1 and value < 1000:
        value *= multiplier
    return value


def _regions(doc: Doc) -> list[str]:
    rules = _rules(doc)
    out: list[str] = []
    for r in doc.user_data.get("region_hints", ()):
        out.append(str(r).upper())
    for place in doc.user_data["entities"]["places"]:
        if place.get("country"):
            out.append(place["country"])
    for price in doc.user_data["entities"]["prices"]:
        if price["currency"] not in ("EUR", "USD"):  # ISO 4217 starts with the country
            out.append(price["currency"][:2])
    lang = doc.user_data.get("lang") or ""
    by_lang = rules.data["regions_by_lang"]
    out.extend(by_lang.get(lang) or by_lang.get(lang.split("-")[0]) or [])
    return list(dict.fromkeys(out))


@Language.component("signalering_prices_v1")
def prices_component(doc: Doc) -> Doc:
    """Amounts with an ISO 4217 currency, and who the price is for."""
    rules = _rules(doc)
    text = _text(doc)
    if _DIGIT.search(text) is None:  # no amount, no price
        return doc
    window = int(rules.data.get("per_window", 25))
    found = []
    for m in rules.price_re.finditer(text):
        if _taken(doc, *m.span()):
            continue
        amt = m.group("amt1") or m.group("amt2")
        cur = m.group("cur1") or m.group("cur2")
        mult = m.group("mult1") or m.group("mult2")
        amount = _amount(amt, rules.multiplier_of.get(mult, 1) if mult else 1)
        if not amount:
            continue
        code = rules.currency_of[cur]
        if code == "DINAR":
            dinar = rules.data["dinar"]
            code = next(
                (dinar["by_country"][r] for r in _regions(doc) if r in dinar["by_country"]),
                dinar["default"],
            )
        found.append((m, amount, code))
    for i, (m, amount, code) in enumerate(found):
        limit = found[i + 1][0].start() if i + 1 < len(found) else len(text)
        after = rules.per_re.search(text, m.end(), min(limit, m.end() + window))
        per = rules.per_of[after.group("w")] if after else None
        _emit(doc, "prices", *m.span(), amount=amount, currency=code, per=per)
    return doc


@Language.component("signalering_handles_v1")
def handles_component(doc: Doc) -> Doc:
    """Messaging handles and links (wa.me, t.me, @name, "insta: name" ...)."""
    rules = _rules(doc)
    text = _text(doc)
    seen: set[tuple[str, str]] = set()

    def emit(platform: str, value: str, start: int, end: int) -> None:
        value = value.strip("._-").lower()
        if platform in rules.numeric_platforms and value.isdigit():
            value = value.lstrip("0")
        if len(value) < 3:
            return
        seen.add((platform, value))
        _emit(doc, "handles", start, end, platform=platform, value=value)

    for m in rules.link_re.finditer(text):
        if not _taken(doc, *m.span()):
            platform, group = rules.link_of[m.lastgroup or ""]
            emit(platform, m.group(group), *m.span())
    label_words = _label_words(rules, text)
    for lab in label_words:
        m = rules.label_tail_re.match(text, lab.end())
        if m is None:
            continue
        value = m.group("value")
        if value[0].isdigit() or value[0] == "+" or _taken(doc, *m.span("value")):
            continue  # a number after "whatsapp:" is a phone; the phone rule reads it
        if value in rules.label_platform or value in rules.handle_stopwords:
            continue
        platform = rules.label_platform[lab.group(0)]
        if platform in rules.numeric_platforms:
            continue  # WhatsApp, Viber, IMO have no user names: a word here is prose
        explicit = m.group("at") or ":" in m.group("gap") or re.search(r"[\d_.]", value)
        if not explicit and (
            not rules.data["platforms"][platform].get("bare_word_handles")
            or _PROSE_AFTER.match(text, m.end("value"))
        ):
            continue  # "TikTok para más info": a bare word that runs on into prose
        start = m.start("at") if m.group("at") else m.start("value")
        emit(platform, value, start, m.end("value"))
    labels = [
        (lab.start(), rules.label_platform[lab.group(0)])
        for lab in label_words
        if rules.label_platform[lab.group(0)] not in rules.numeric_platforms
    ]
    for m in rules.at_re.finditer(text):
        if _taken(doc, *m.span()):
            continue
        before = [p for pos, p in labels if pos < m.start()]
        platform = before[-1] if before else rules.data["default_at_platform"]
        emit(platform, m.group("value"), *m.span())
    return doc


# Another word on the same line after a bare word: the bare word is prose, not a handle.
_PROSE_AFTER = re.compile(r"[ \t]+[^\W\d_]")
_LABEL_WORDS: dict[int, re.Pattern[str]] = {}


def _label_words(rules: Rules, text: str) -> list[re.Match[str]]:
    key = id(rules)
    if key not in _LABEL_WORDS:
        alt = "|".join(re.escape(w) for w in sorted(rules.label_platform, key=len, reverse=True))
        _LABEL_WORDS[key] = re.compile(rf"(?<![^\W_])(?:{alt})(?![^\W_])")
    return list(_LABEL_WORDS[key].finditer(text))


_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


# Cached: reposts repeat the same numbers, and phonenumbers is the slowest step
# of extraction.
@functools.lru_cache(maxsize=1 << 16)
def _valid(number: str, region: str | None) -> str | None:
    """``number`` in E.164 when it is valid in ``region`` (None: not a phone number)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=1 << 16)
def _is_mobile(e164: str) -> bool:
    return phonenumbers.number_type(phonenumbers.parse(e164)) in _MOBILE


def _national(digits: str, regions: list[str], *, mobile_only: bool) -> str | None:
    """The number in the first region where it is a mobile, else the first where it is valid."""
    first = None
    for region in regions:
        found = _valid(digits, region)
        if found is None:
            continue
        if _is_mobile(found):
            return found
        first = first or found
    return None if mobile_only else first


@Language.component("signalering_phones_v1")
def phones_component(doc: Doc) -> Doc:
    """Phone numbers in E.164, from every obfuscated form normalisation undoes."""
    rules = _rules(doc)
    text = _text(doc)
    if _DIGIT.search(text) is None:
        return doc
    regions: list[str] | None = None
    for m in rules.phone_re.finditer(text):
        if _taken(doc, *m.span()):
            continue
        if rules.id_cue_re.search(text[max(0, m.start() - 20) : m.start()]):
            continue
        cue = bool(rules.phone_cue_re.search(text[max(0, m.start() - 40) : m.start()]))
        groups = [
            (g.start() + m.start(), g.end() + m.start()) for g in re.finditer(r"\d+", m.group(0))
        ]
        plus = m.group(0).lstrip("(").startswith("+")
        i = 0
        while i < len(groups):
            hit = None
            for j in range(len(groups), i, -1):
                digits = "".join(text[a:b] for a, b in groups[i:j])
                if len(digits) > 17:
                    continue
                if len(digits) < 7:
                    break
                if regions is None:
                    regions = _regions(doc)
                whole = i == 0 and j == len(groups)
                value = _phone(digits, plus and i == 0, cue and whole, whole, regions)
                if value:
                    hit = (j, value)
                    break
            if hit is None:
                i += 1
                continue
            j, value = hit
            start = m.start() if i == 0 else groups[i][0]
            _emit(doc, "phones", start, groups[j - 1][1], value=value)
            i = j
    return doc


def _phone(digits: str, plus: bool, cue: bool, whole: bool, regions: list[str]) -> str | None:
    if plus:
        return _valid("+" + digits, None)
    if digits.startswith("00"):
        return _valid("+" + digits[2:], None)
    if digits.startswith("0"):
        return _national(digits, regions, mobile_only=False)
    # A bare number: believable as international when long and standing alone,
    # as a national mobile when it stands alone, as any national number right
    # after a phone word.
    if cue or (whole and len(digits) >= 11):
        value = _valid("+" + digits, None)
        if value:
            return value
    if whole and len(digits) >= 8:
        return _national(digits, regions, mobile_only=not cue)
    return None


@Language.component("signalering_patterns_v1")
def patterns_component(doc: Doc) -> Doc:
    """Kinds the registry gives a ``pattern`` (no component of their own); runs first.

    A contact kind claims its spans, so the handle and phone rules do not read an
    e-mail address, say, as an @handle.
    """
    _rules(doc)
    text = _text(doc)
    for kind in entity_kinds.kinds():
        if kind.pattern is None:
            continue
        for m in kind.pattern.finditer(text):
            if m.end() > m.start() and not _taken(doc, *m.span()):
                _emit(doc, kind.key, *m.span(), claim=kind.contact, value=m.group(0))
    return doc


PIPES = (
    "signalering_patterns_v1",
    "signalering_dates_v1",
    "signalering_places_v1",
    "signalering_prices_v1",
    "signalering_handles_v1",
    "signalering_phones_v1",
)
