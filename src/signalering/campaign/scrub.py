"""Remove contacts and names from excerpts before a campaign team sees them.

Contacts found by :func:`signalering.extract.extract` (which sees through
obfuscation) — every contact kind of :mod:`signalering.entities`, each by its
placeholder — are replaced first, then URLs, e-mail addresses, ``@handles``,
digit runs that could be a phone and the authors' names by regex; the result is
checked with the extractor again.

>>> scrub("Call +218 92 260 1815 or t.me/captain_ali, ask Ali", authors=["Ali"])
'Call [phone] or [handle], ask [name]'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from signalering import entities as entity_kinds

logger = logging.getLogger(__name__)

PHONE, HANDLE, LINK, EMAIL, NAME = "[phone]", "[handle]", "[link]", "[email]", "[name]"

URL_RE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b(?:[\w-]+\.)+(?:com|me|org|net|info|io|ly|tk|ru|ua|de|fr|nl|uk|it|gr|tr|be|al|vn|co|app)"
    r"(?:/\S*)?",
    re.IGNORECASE,
)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
HANDLE_RE = re.compile(r"(?<![\w@])@[\w.]{2,}")
# A Latin token with an underscore (captain_ali) is a user name, whatever script surrounds it.
USERNAME_RE = re.compile(r"(?<![\w\[])[A-Za-z0-9.]*[A-Za-z0-9]_[A-Za-z0-9_.]*[A-Za-z0-9](?![\w\]])")
# Seven or more digits, allowing the separators people put inside numbers.
PHONE_RE = re.compile(r"\+?\(?\d[\d\s().\-/]{5,}\d")
_DIGITS = re.compile(r"\d")
# A platform name followed by a user name ("telegram: captain_ali", "snap lori_vip").
PLATFORM_HANDLE_RE = re.compile(
    r"\b(whatsapp|whats|telegram|tg|signal|viber|imo|snapchat|snap|instagram|insta|ig|tiktok"
    r"|facebook|fb|messenger|ቴሌግራም|ዋትስኣፕ|تلغرام|تلگرام|ټلګرام|واتس|واتساپ|واټساپ|телеграм|вайбер"
    r"|تێلێگرام|سناپ)"
    # "telegram: name", "snap @name", or a bare name that has a digit, dot or underscore.
    r"(?:\s*[:=]\s*@?|\s*@|\s+(?=[A-Za-z0-9]*[_.\d]))([A-Za-z0-9_.]{3,})",
    re.IGNORECASE,
)
_PLACEHOLDERS = (PHONE, HANDLE, LINK, EMAIL, NAME)
_MAX_PASSES = 3


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a span to whole whitespace-separated tokens, so '(+218)' leaves no '(' or digit."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    while end > start and text[end - 1] in ",;:!?":  # keep the sentence's punctuation
        end -= 1
    return start, end


def _replace_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    merged: list[tuple[int, int, str]] = []
    for start, end, token in sorted(spans):
        if merged and start <= merged[-1][1]:
            prev = merged[-1]
            merged[-1] = (prev[0], max(prev[1], end), prev[2])
        else:
            merged.append((start, end, token))
    for start, end, token in reversed(merged):
        text = text[:start] + token + text[end:]
    return text


def placeholder_re() -> re.Pattern[str]:
    """Every placeholder, the contact kinds' included (a registered kind brings its own)."""
    tokens = set(_PLACEHOLDERS) | {k.placeholder for k in entity_kinds.contact_kinds()}
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True) if t))


def _extracted_spans(text: str, lang: str | None) -> list[tuple[int, int, str]]:
    from signalering.extract import extract  # spaCy: loaded when a text is scrubbed

    found = extract(text, lang=lang or "und")
    spans = []
    for kind in entity_kinds.contact_kinds():
        token = kind.placeholder or PHONE
        for item in found.get(kind.key) or []:
            if item.get("start") is None or item.get("end") is None:
                continue
            start, end = _widen(text, int(item["start"]), int(item["end"]))
            spans.append((start, end, token))
    return spans


def _regex_pass(text: str, authors: Iterable[str]) -> str:
    text = EMAIL_RE.sub(EMAIL, text)  # before links: an address ends in a domain
    text = URL_RE.sub(LINK, text)
    text = PLATFORM_HANDLE_RE.sub(lambda m: f"{m.group(1)} {HANDLE}", text)
    text = HANDLE_RE.sub(HANDLE, text)
    text = USERNAME_RE.sub(HANDLE, text)
    text = PHONE_RE.sub(
        lambda m: PHONE if len(_DIGITS.findall(m.group())) >= 7 else m.group(), text
    )
    for name in sorted(
        {a.strip() for a in authors if a and len(a.strip()) >= 2}, key=len, reverse=True
    ):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME, text, flags=re.IGNORECASE)
    return text


def contacts_left(text: str, *, lang: str | None = None) -> list[str]:
    """Contacts, links and e-mails still findable in ``text`` (empty when clean)."""
    from signalering.extract import extract

    probe = placeholder_re().sub(" ", text)
    found = extract(probe, lang=lang or "und")
    left = [e["value"] for k in entity_kinds.contact_kinds() for e in found.get(k.key) or []]
    left += URL_RE.findall(probe) + EMAIL_RE.findall(probe) + HANDLE_RE.findall(probe)
    left += USERNAME_RE.findall(probe)
    left += [m for m in PHONE_RE.findall(probe) if len(_DIGITS.findall(m)) >= 7]
    return left


def scrub(text: str, *, authors: Iterable[str] = (), lang: str | None = None) -> str:
    """``text`` with phones, handles, links, e-mails and ``authors`` replaced by placeholders."""
    authors = list(authors)
    out = text
    for _ in range(_MAX_PASSES):
        out = EMAIL_RE.sub(EMAIL, out)
        out = _replace_spans(out, _extracted_spans(out, lang))
        out = _regex_pass(out, authors)
        if not contacts_left(out, lang=lang):
            return out
    # Whatever the rules still see after three passes: drop the tokens that carry it.
    for value in contacts_left(out, lang=lang):
        out = out.replace(value, PHONE)
    logger.debug("excerpt needed a forced scrub")
    return out


def excerpt(
    text: str, *, authors: Iterable[str] = (), lang: str | None = None, limit: int = 240
) -> str:
    """A scrubbed, one-line excerpt of at most ``limit`` characters."""
    clean = " ".join(scrub(text, authors=authors, lang=lang).split())
    if len(clean) <= limit:
        return clean
    cut = clean[:limit].rsplit(" ", 1)[0]
    return cut + " …"
