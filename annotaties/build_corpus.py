"""Render the hand-written templates into the seed corpus ``annotaties/corpus.jsonl``.

Run ``.venv/bin/python annotaties/build_corpus.py``. The output is deterministic: every
variant is drawn from a random generator seeded by (seed, language, family, variant), so
adding a family never changes the rendering of another one.

Each ``templates/<lang>.yaml`` holds ``lang`` and a list of ``families``; every family has
``family``, ``label``, ``source_kind``, ``text`` and optionally ``hard_negative`` (default
false) and ``variants`` (1-8, default 4). The text carries slots whose gold value is recorded
while the surface form varies per variant:

    {phone:+218912345678}            E.164, must be valid for phonenumbers
    {handle:telegram:captain_ali}    platform:value (value is stored lower-case, without @)
    {price:3500 EUR}                 amount and ISO 4217 code
    {place:Zuwara} / {place:Lampedusa|لامبيدوزا}   canonical gazetteer name [| surface form]

The generator adds the platform cue to a handle ("t.me/x", "insta: x", "wa.me/…"); when the
text already names the platform right before the slot ("telegram {handle:...}"), it renders
the bare "@x" / "x". Every place name in the text must be a slot, or the gold misses it;
the build warns about gazetteer names it finds outside slots.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from signalering import LABELS

# The corpus schema is declared once, in signalering.corpus.
from signalering.corpus import LANGS, PLATFORMS, SOURCE_KINDS
from signalering.errors import InputError

logger = logging.getLogger("annotaties.build_corpus")

HERE = Path(__file__).resolve().parent
DEFAULT_TEMPLATES = HERE / "templates"
DEFAULT_GAZETTEER = HERE / "gazetteers" / "places.yaml"
DEFAULT_OUT = HERE / "corpus.jsonl"
# How reposts differ from their first post (emoji, edits, hashtags): data, not code.
DEFAULT_REPOSTS = HERE / "lexicons" / "reposts.yaml"

FAMILY_KEYS = {"family", "label", "source_kind", "hard_negative", "variants", "text"}
SLOT_RE = re.compile(r"\{([^{}]*)\}")
HANDLE_VALUE_RE = re.compile(r"^[A-Za-z0-9_.]{2,40}$")
PRICE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s+([A-Z]{3})$")
FAMILY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_DIGIT_LANGS = {"ar", "ckb", "ps"}
PERSIAN_DIGIT_LANGS = {"fa", "prs", "ps"}
KEYCAPS = {d: f"{d}\ufe0f\u20e3" for d in "0123456789"}

DIGIT_WORDS = {
    "en": "zero one two three four five six seven eight nine",
    "nl": "nul een twee drie vier vijf zes zeven acht negen",
    "de": "null eins zwei drei vier fünf sechs sieben acht neun",
    "fr": "zéro un deux trois quatre cinq six sept huit neuf",
    "tr": "sıfır bir iki üç dört beş altı yedi sekiz dokuz",
    "sq": "zero një dy tre katër pesë gjashtë shtatë tetë nëntë",
    "vi": "không một hai ba bốn năm sáu bảy tám chín",
    "uk": "нуль один два три чотири п'ять шість сім вісім дев'ять",
    "ru": "ноль один два три четыре пять шесть семь восемь девять",
    "ar": "صفر واحد اثنين ثلاثة اربعة خمسة ستة سبعة ثمانية تسعة",
    "fa": "صفر یک دو سه چهار پنج شش هفت هشت نه",
}

# Thousands separator habits per language (the first is the most common).
THOUSANDS = {
    "en": [",", ""], "nl": [".", ""], "de": [".", ""], "fr": [" ", "", "."], "tr": [".", ""],
    "sq": [".", "", " "], "vi": [".", ","], "uk": [" ", ""], "ru": [" ", ""],
    "el": [".", ""], "pl": [" ", ""],
}  # fmt: skip

# Currency surface forms: "{n}" is the number. Languages missing here use "default".
CURRENCY_FORMS: dict[str, dict[str, list[str]]] = {
    "EUR": {
        "default": ["{n}€", "€{n}", "{n} €", "{n} EUR", "{n} euro"],
        "en": ["{n}€", "€{n}", "{n} euro", "{n} euros", "{n} EUR"],
        "nl": ["€{n}", "{n} euro", "€ {n}", "{n} EUR"],
        "de": ["{n} €", "{n}€", "{n} Euro", "{n} EUR"],
        "fr": ["{n} €", "{n}€", "{n} euros", "{n} EUR"],
        "tr": ["{n} euro", "{n} €", "{n} avro", "{n}€"],
        "sq": ["{n} euro", "{n}€", "{n} €", "{n} EUR"],
        "vi": ["{n} euro", "{n}€", "{n} eur"],
        "uk": ["{n} євро", "{n}€", "{n} EUR"],
        "ru": ["{n} евро", "{n}€", "{n} EUR", "{n} евриков"],
        "ar": ["{n} يورو", "{n}€", "{n} اورو", "{n} euro"],
        "ar-Latn": ["{n} euro", "{n}€", "{n} oro"],
        "fa": ["{n} یورو", "{n}€", "{n} یرو"],
        "prs": ["{n} یورو", "{n}€"],
        "ps": ["{n} یورو", "{n}€"],
        "ckb": ["{n} یۆرۆ", "{n}€", "{n} یورو"],
        "kmr": ["{n} euro", "{n}€", "{n} ewro"],
        "ti": ["{n} ዩሮ", "{n}€", "{n} euro"],
        "el": ["{n} ευρώ", "{n}€", "€{n}", "{n} ευρώ"],
        "pl": ["{n} euro", "{n} €", "{n} EUR", "{n}€"],
    },
    "USD": {
        "default": ["${n}", "{n}$", "{n} USD", "{n} dollar"],
        "en": ["${n}", "{n}$", "{n} dollars", "{n} USD"],
        "nl": ["${n}", "{n} dollar", "{n} USD"],
        "de": ["{n} $", "{n} Dollar", "{n} USD"],
        "fr": ["{n} $", "{n} dollars", "{n} USD"],
        "tr": ["{n} dolar", "{n}$", "{n} USD"],
        "sq": ["{n} dollarë", "{n}$", "{n} USD"],
        "vi": ["{n} đô", "{n}$", "{n} USD"],
        "uk": ["{n} доларів", "{n}$", "{n} дол."],
        "ru": ["{n} долларов", "{n}$", "{n} баксов"],
        "ar": ["{n} دولار", "{n}$", "${n}"],
        "ar-Latn": ["{n} dollar", "{n}$", "{n} dolar"],
        "fa": ["{n} دلار", "{n}$"],
        "prs": ["{n} دالر", "{n}$"],
        "ps": ["{n} ډالر", "{n}$"],
        "ckb": ["{n} دۆلار", "{n}$"],
        "kmr": ["{n} dolar", "{n}$"],
        "ti": ["{n} ዶላር", "{n}$"],
        "el": ["{n} δολάρια", "{n}$", "${n}"],
        "pl": ["{n} dolarów", "{n} $", "{n} USD"],
    },
    "GBP": {
        "default": ["£{n}", "{n} £", "{n} GBP", "{n} pounds"],
        "ar": ["{n} جنيه استرليني", "£{n}", "{n} باوند"],
        "fa": ["{n} پوند", "£{n}"],
        "ru": ["{n} фунтов", "£{n}"],
        "uk": ["{n} фунтів", "£{n}"],
        "tr": ["{n} sterlin", "£{n}"],
        "vi": ["{n} bảng", "£{n}"],
        "de": ["{n} Pfund", "£{n}"],
        "nl": ["{n} pond", "£{n}"],
        "fr": ["{n} livres", "£{n}"],
        "sq": ["{n} paund", "£{n}"],
        "el": ["{n} λίρες Αγγλίας", "£{n}", "{n} στερλίνες"],
        "pl": ["{n} funtów", "£{n}", "{n} GBP"],
    },
    "TRY": {
        "default": ["{n} TL", "{n} lira", "₺{n}"],
        "tr": ["{n} TL", "{n} lira", "{n}₺", "{n} tl"],
        "ar": ["{n} ليرة تركية", "{n} TL"],
        "fa": ["{n} لیر", "{n} TL"],
    },
    "LYD": {"default": ["{n} LYD", "{n} dinar"], "ar": ["{n} دينار", "{n} د.ل"]},
    "TND": {"default": ["{n} TND", "{n} DT", "{n} dinars"], "ar": ["{n} دينار", "{n} د.ت"]},
    "DZD": {"default": ["{n} DA", "{n} DZD"], "ar": ["{n} دينار", "{n} دج"]},
    "MAD": {"default": ["{n} dh", "{n} MAD", "{n} dirham"], "ar": ["{n} درهم", "{n} dh"]},
    "EGP": {"default": ["{n} EGP", "{n} LE"], "ar": ["{n} جنيه", "{n} ج.م"]},
    "IRR": {"default": ["{n} IRR", "{n} rial"], "fa": ["{n} ریال"], "ckb": ["{n} ڕیاڵ"]},
    "AFN": {"default": ["{n} AFN", "{n} afghani"], "prs": ["{n} افغانی"], "ps": ["{n} افغانۍ"]},
    "PKR": {"default": ["Rs {n}", "{n} PKR", "{n} rupees"]},
    "IQD": {"default": ["{n} IQD", "{n} dinar"], "ar": ["{n} دينار عراقي", "{n} دينار"]},
    "UAH": {
        "default": ["{n} UAH", "{n} hryvnia"],
        "uk": ["{n} грн", "{n} гривень", "{n}₴"],
        "ru": ["{n} грн", "{n} гривен"],
    },
    "RUB": {
        "default": ["{n} RUB", "{n}₽"],
        "ru": ["{n} руб", "{n} рублей", "{n}₽", "{n} р."],
        "uk": ["{n} руб", "{n} рублів"],
    },
    "VND": {"default": ["{n} VND", "{n}đ"], "vi": ["{n}đ", "{n} đồng", "{n} VND", "{n} vnđ"]},
    "ALL": {"default": ["{n} ALL", "{n} lek"], "sq": ["{n} lekë", "{n} lek", "{n} ALL"]},
    "PLN": {
        "default": ["{n} PLN", "{n} zł", "{n} zloty"],
        "pl": ["{n} zł", "{n} złotych", "{n} PLN"],
    },
}

EMOJI_RE = re.compile(
    "[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u203c\u2049\u2139\ufe0f\U0001f1e6-\U0001f1ff]+"
)


class TemplateError(InputError):
    """A template file or family is unusable; the message names file and family."""


@dataclass(frozen=True)
class RepostEdits:
    """What a reposter adds: emoji by label, short edits by language and label, hashtags."""

    emoji: dict[str, list[str]]
    edits: dict[str, dict[str, list[str]]]
    hashtags: dict[str, list[str]]


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TemplateError(f"{where}: expected a list of non-empty strings")
    return value


@functools.cache
def load_reposts(path: Path = DEFAULT_REPOSTS) -> RepostEdits:
    """Read and check ``lexicons/reposts.yaml``; errors name the file and the key."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"emoji", "edits", "hashtags"}:
        raise TemplateError(f"{path}: expected exactly the keys emoji, edits, hashtags")
    emoji = doc["emoji"]
    if not isinstance(emoji, dict) or set(emoji) != set(LABELS):
        raise TemplateError(f"{path}: emoji: one list per label {', '.join(LABELS)}")
    edits: dict[str, dict[str, list[str]]] = {}
    for lang, by_label in (doc["edits"] or {}).items():
        if lang not in LANGS or not isinstance(by_label, dict):
            raise TemplateError(f"{path}: edits.{lang}: unknown language or not a mapping")
        for label, phrases in by_label.items():
            if label not in LABELS:
                raise TemplateError(f"{path}: edits.{lang}.{label}: unknown label")
            _strings(phrases, f"{path}: edits.{lang}.{label}")
        edits[lang] = by_label
    hashtags = doc["hashtags"] or {}
    for lang, tags in hashtags.items():
        if lang not in LANGS:
            raise TemplateError(f"{path}: hashtags.{lang}: unknown language")
        _strings(tags, f"{path}: hashtags.{lang}")
    return RepostEdits(
        {label: _strings(v, f"{path}: emoji.{label}") for label, v in emoji.items()},
        edits,
        hashtags,
    )


@dataclass(frozen=True)
class Slot:
    """One slot in a template text."""

    kind: str
    value: Any
    surface: str | None = None


@dataclass
class Family:
    """One validated template family."""

    path: Path
    lang: str
    family: str
    label: str
    source_kind: str
    hard_negative: bool
    variants: int
    text: str
    parts: list[str | Slot] = field(default_factory=list)


# --------------------------------------------------------------------------- loading


def load_gazetteer(path: Path = DEFAULT_GAZETTEER) -> dict[str, dict]:
    """Canonical name -> gazetteer entry; raises TemplateError on a broken file."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read the gazetteer ({exc}) — fix the YAML") from exc
    if not isinstance(entries, list):
        raise TemplateError(f"{path}: the gazetteer must be a YAML list of places")
    places: dict[str, dict] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("name") or "aliases" not in entry:
            raise TemplateError(f"{path}: place #{i + 1} needs `name` and `aliases`")
        if entry["name"] in places:
            raise TemplateError(f"{path}: place {entry['name']!r} is listed twice — merge them")
        places[entry["name"]] = entry
    return places


def _fail(path: Path, family: str, message: str) -> TemplateError:
    return TemplateError(f"{path.name}: family {family!r}: {message}")


def parse_slot(inner: str, path: Path, fam: str, places: dict[str, dict]) -> Slot:
    """Parse the inside of one ``{...}`` slot; raises TemplateError naming file and family."""
    kind, _, arg = inner.partition(":")
    kind = kind.strip()
    arg = arg.strip()
    if kind == "phone":
        try:
            num = phonenumbers.parse(arg, None)
        except phonenumbers.NumberParseException as exc:
            raise _fail(path, fam, f"phone {arg!r} is not E.164 ({exc})") from exc
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        if e164 != arg or not phonenumbers.is_valid_number(num):
            raise _fail(
                path, fam, f"phone {arg!r} is not a valid E.164 number — pick a valid mobile"
            )
        return Slot("phone", e164)
    if kind == "handle":
        platform, _, value = arg.partition(":")
        if platform not in PLATFORMS:
            raise _fail(path, fam, f"handle platform {platform!r} unknown — use {PLATFORMS}")
        if not HANDLE_VALUE_RE.match(value):
            raise _fail(path, fam, f"handle value {value!r} must be 2-40 of [A-Za-z0-9_.]")
        return Slot("handle", (platform, value.lower()))
    if kind == "price":
        m = PRICE_RE.match(arg)
        if not m:
            raise _fail(path, fam, f"price {arg!r} must look like '3500 EUR'")
        currency = m.group(2)
        if currency not in CURRENCY_FORMS:
            raise _fail(
                path, fam, f"price currency {currency!r} unsupported — use {sorted(CURRENCY_FORMS)}"
            )
        return Slot("price", (float(m.group(1)), currency))
    if kind == "place":
        name, bar, surface = arg.partition("|")
        name = name.strip()
        if name not in places:
            raise _fail(
                path, fam, f"place {name!r} is not in the gazetteer — add it to places.yaml"
            )
        if bar and not surface.strip():
            raise _fail(path, fam, f"place {name!r} has an empty surface form after '|'")
        return Slot("place", name, surface.strip() or None)
    raise _fail(path, fam, f"unknown slot {{{inner}}} — use phone, handle, price or place")


def parse_text(text: str, path: Path, fam: str, places: dict[str, dict]) -> list[str | Slot]:
    """Split a template text into literal strings and slots."""
    parts: list[str | Slot] = []
    pos = 0
    for m in SLOT_RE.finditer(text):
        parts.append(text[pos : m.start()])
        parts.append(parse_slot(m.group(1), path, fam, places))
        pos = m.end()
    parts.append(text[pos:])
    for literal in parts:
        if isinstance(literal, str) and ("{" in literal or "}" in literal):
            raise _fail(path, fam, "unbalanced '{' or '}' in text — slots look like {kind:value}")
    return [p for p in parts if p != ""]


def load_templates(path: Path, places: dict[str, dict]) -> list[Family]:
    """Load and validate one ``templates/<lang>.yaml`` file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemplateError(f"{path.name}: not valid YAML ({first}) — fix the file") from exc
    if not isinstance(doc, dict) or "families" not in doc or "lang" not in doc:
        raise TemplateError(f"{path.name}: needs top-level `lang` and `families`")
    lang = doc["lang"]
    if lang not in LANGS:
        raise TemplateError(f"{path.name}: lang {lang!r} unknown — use one of {LANGS}")
    if path.stem != lang:
        raise TemplateError(f"{path.name}: lang {lang!r} must match the file name ({lang}.yaml)")
    families: list[Family] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["families"] or []):
        fam = raw.get("family") if isinstance(raw, dict) else None
        if not isinstance(fam, str) or not FAMILY_ID_RE.match(fam):
            raise _fail(path, f"#{i + 1}", "needs a `family` id of [a-z0-9-]")
        if fam in seen:
            raise _fail(path, fam, "family id used twice in this file — make it unique")
        seen.add(fam)
        unknown = set(raw) - FAMILY_KEYS
        if unknown:
            raise _fail(
                path, fam, f"unknown keys {sorted(unknown)} — allowed: {sorted(FAMILY_KEYS)}"
            )
        label = raw.get("label")
        if label not in LABELS:
            raise _fail(path, fam, f"label {label!r} unknown — use {LABELS}")
        kind = raw.get("source_kind")
        if kind not in SOURCE_KINDS:
            raise _fail(path, fam, f"source_kind {kind!r} unknown — use {SOURCE_KINDS}")
        hard = raw.get("hard_negative", False)
        if not isinstance(hard, bool) or (hard and label != "unrelated"):
            raise _fail(path, fam, "hard_negative must be a boolean, true only for `unrelated`")
        variants = raw.get("variants", 4)
        if not isinstance(variants, int) or not 1 <= variants <= 8:
            raise _fail(path, fam, f"variants {variants!r} must be an integer 1-8")
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _fail(path, fam, "needs a non-empty `text`")
        parts = parse_text(text, path, fam, places)
        families.append(Family(path, lang, fam, label, kind, hard, variants, text, parts))
    if not families:
        raise TemplateError(f"{path.name}: has no families — add at least one")
    return families


# --------------------------------------------------------------------------- rendering


def _rng(seed: int, *keys: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(k) for k in (seed, *keys)).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _digits_script(text: str, lang: str, rng: random.Random, share: float = 0.4) -> str:
    if lang in PERSIAN_DIGIT_LANGS and rng.random() < share:
        return text.translate(PERSIAN)
    if lang in ARABIC_DIGIT_LANGS and rng.random() < share:
        return text.translate(ARABIC_INDIC)
    return text


def _group(digits: str, sizes: list[int]) -> list[str]:
    out, pos = [], 0
    for size in sizes:
        if pos >= len(digits):
            break
        out.append(digits[pos : pos + size])
        pos += size
    if pos < len(digits):
        out[-1] += digits[pos:]
    return out


def render_phone(e164: str, lang: str, rng: random.Random) -> str:
    """One realistic surface form of an E.164 number."""
    num = phonenumbers.parse(e164, None)
    cc = str(num.country_code)
    nsn = phonenumbers.national_significant_number(num)
    national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    trunk = re.sub(r"\D", "", national)
    r = rng.random()
    if r < 0.04 and lang in DIGIT_WORDS:
        words = DIGIT_WORDS[lang].split()
        return "+ " + " ".join(words[int(d)] for d in cc + nsn)
    if r < 0.08:
        return "+" + "".join(KEYCAPS[d] for d in cc + nsn)
    forms = [
        e164,
        "00" + cc + nsn,
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        "+" + cc + " " + " ".join(_group(nsn, [2, 3, 2, 2])),
        "+" + cc + "-" + "-".join(_group(nsn, [3, 3, 4])),
        national,
        trunk,
        ".".join(_group(trunk, [3, 3, 4])),
        cc + nsn,
        " ".join(_group(trunk, [2, 2, 2, 2, 2, 2])),
        "(+" + cc + ") " + nsn,
    ]
    return _digits_script(rng.choice(forms), lang, rng)


HANDLE_FORMS = {
    "telegram": ["@{v}", "t.me/{v}", "https://t.me/{v}", "telegram: {v}", "Telegram @{v}", "tg: @{v}"],
    "instagram": ["@{v}", "insta: {v}", "instagram.com/{v}", "IG: @{v}"],
    "snapchat": ["snap: {v}", "snapchat: {v}", "👻 {v}"],
    "tiktok": ["tiktok.com/@{v}", "tiktok: @{v}", "TikTok {v}"],
    "facebook": ["facebook.com/{v}", "fb.com/{v}", "fb: {v}"],
    "signal": ["signal: {v}", "Signal @{v}"],
    "viber": ["viber: {v}", "Viber {v}"],
    "imo": ["imo: {v}", "IMO {v}"],
    "whatsapp": ["whatsapp: {v}", "WA: {v}"],
}  # fmt: skip


# A platform word right before the slot ("telegram {handle:...}"): render the bare handle.
PLATFORM_CUE_RE = re.compile(
    r"(telegram|telegramm?|tg|whats(app)?|wa|insta(gram)?|ig|snap(chat)?|tiktok|facebook|fb|signal"
    r"|viber|imo|تلغرام|تليجرام|تيليجرام|تلگرام|واتس(اب)?|واتساب|انستا|سناب|فايبر|ایمو|ایتا"
    r"|телеграм+|тг|инста|інста|вайбер|вотсап|ватсап|ቴሌግራም)\W{0,3}$",
    re.IGNORECASE,
)


def render_handle(platform: str, value: str, rng: random.Random, *, cued: bool = False) -> str:
    """One surface form of a handle; the gold value stays lower-case without @."""
    if cued and not (platform == "whatsapp" and value.isdigit()):
        return rng.choice(["@{v}", "{v}", "@{v}"]).format(v=value)
    if platform == "whatsapp" and value.isdigit():
        form = rng.choice(["wa.me/{v}", "https://wa.me/{v}", "wa.me/{v}"])
    else:
        form = rng.choice(HANDLE_FORMS[platform])
    shown = value
    if rng.random() < 0.2 and not value.isdigit():
        shown = "_".join(w[:1].upper() + w[1:] for w in value.split("_"))
    return form.format(v=shown)


def _format_number(amount: float, lang: str, rng: random.Random) -> str:
    if amount != int(amount):
        text = f"{amount:.2f}"
        return text.replace(".", ",") if lang not in ("en", "ar-Latn") else text
    n = int(amount)
    if lang == "vi" and n >= 1_000_000 and n % 1_000_000 == 0 and rng.random() < 0.6:
        return f"{n // 1_000_000} triệu"
    if (
        n >= 1000
        and n % 1000 == 0
        and rng.random() < 0.12
        and lang in ("en", "fr", "vi", "ar-Latn")
    ):
        return f"{n // 1000}k"
    sep = rng.choice(THOUSANDS.get(lang, ["", ","]))
    plain = str(n)
    if n < 1000 or not sep:
        return plain
    groups = []
    while plain:
        groups.insert(0, plain[-3:])
        plain = plain[:-3]
    return sep.join(groups)


def render_price(amount: float, currency: str, lang: str, rng: random.Random) -> str:
    """One surface form of an amount with its currency."""
    forms = CURRENCY_FORMS[currency]
    form = rng.choice(forms.get(lang) or forms["default"])
    number = _format_number(amount, lang, rng)
    if number.endswith(" triệu"):
        form = rng.choice(["{n} VND", "{n} đồng", "{n}"])
    return _digits_script(form.format(n=number), lang, rng)


def _nice(amount: float) -> float:
    step = 500 if amount >= 5000 else 100 if amount >= 1000 else 10
    return float(max(step, round(amount / step) * step))


def _swap_phone(e164: str, rng: random.Random) -> str:
    """A different valid number of the same country: the same ad reposted with a new line."""
    for _ in range(50):
        tail = f"{rng.randrange(100):02d}"
        candidate = e164[:-2] + tail
        if candidate != e164:
            num = phonenumbers.parse(candidate, None)
            if phonenumbers.is_valid_number(num):
                return candidate
    return e164


def _typo(text: str, rng: random.Random) -> str:
    words = [m for m in re.finditer(r"\w{5,}", text) if not any(c.isdigit() for c in m.group())]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group()
    i = rng.randrange(1, len(w) - 2)
    w2 = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if rng.random() < 0.6 else w[:i] + w[i + 1 :]
    return text[: m.start()] + w2 + text[m.end() :]


def render_variant(
    fam: Family,
    variant: int,
    places: dict[str, dict],
    seed: int,
    reposts: RepostEdits | None = None,
) -> dict:
    """Render one variant; returns text and gold entities."""
    rng = _rng(seed, fam.lang, fam.family, variant)
    repost = variant > 0
    literal_edit = repost and rng.random() < 0.5
    lower = (
        repost
        and fam.lang not in ARABIC_DIGIT_LANGS | PERSIAN_DIGIT_LANGS | {"ti"}
        and (rng.random() < 0.15)
    )
    swap_phone = repost and fam.label == "offer" and rng.random() < 0.15
    price_factor = 1.0
    if repost and fam.label in ("offer", "request") and rng.random() < 0.3:
        price_factor = rng.choice([0.8, 0.9, 1.1, 1.2])

    pieces: list[str] = []
    phones: list[str] = []
    handles: list[dict[str, str]] = []
    prices: list[dict[str, Any]] = []
    found_places: list[str] = []
    for part in fam.parts:
        if isinstance(part, str):
            text = part
            if literal_edit and rng.random() < 0.5:
                text = _typo(text, rng)
            if lower:
                text = text.lower()
            pieces.append(text)
        elif part.kind == "phone":
            number = _swap_phone(part.value, rng) if swap_phone else part.value
            pieces.append(render_phone(number, fam.lang, rng))
            if number not in phones:
                phones.append(number)
        elif part.kind == "handle":
            platform, value = part.value
            cued = bool(pieces) and bool(PLATFORM_CUE_RE.search(pieces[-1]))
            pieces.append(render_handle(platform, value, rng, cued=cued))
            gold = {"platform": platform, "value": value}
            if gold not in handles:
                handles.append(gold)
        elif part.kind == "price":
            amount, currency = part.value
            if price_factor != 1.0:
                amount = _nice(amount * price_factor)
            pieces.append(render_price(amount, currency, fam.lang, rng))
            gold_price = {"amount": float(amount), "currency": currency}
            if gold_price not in prices:
                prices.append(gold_price)
        else:
            aliases = places[part.value]["aliases"]
            choices = aliases.get(fam.lang) or aliases.get("en") or [part.value]
            surface = part.surface or rng.choice(choices)
            pieces.append(surface)
            if part.value not in found_places:
                found_places.append(part.value)
    text = "".join(pieces)

    if repost:
        reposts = reposts or load_reposts()
        label_emoji = reposts.emoji[fam.label]
        r = rng.random()
        if r < 0.3:
            text = f"{rng.choice(label_emoji)} {text}"
        elif r < 0.5:
            text = f"{text} {rng.choice(label_emoji)}"
        elif r < 0.6:
            text = EMOJI_RE.sub("", text).strip()
        edits = reposts.edits.get(fam.lang, {}).get(fam.label, [])
        if edits and rng.random() < 0.45:
            edit = rng.choice(edits)
            text = f"{edit} {text}" if edit.endswith(":") else f"{text} {edit}"
        if rng.random() < 0.35:
            text = re.sub(r"([.!?،؟]) ", r"\1\n", text, count=rng.randint(1, 3))
        tags = reposts.hashtags.get(fam.lang)
        if tags and rng.random() < 0.3:
            text = f"{text}\n{' '.join(rng.sample(tags, k=rng.randint(1, 2)))}"
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    return {
        "text": text,
        "entities": {
            "phones": phones,
            "handles": handles,
            "prices": prices,
            "places": found_places,
        },
    }


def _literal_place_warnings(fam: Family, places: dict[str, dict]) -> list[str]:
    """Gazetteer names written as plain text (not slots): the gold would miss them."""
    literal = " ".join(p for p in fam.parts if isinstance(p, str))
    warnings = []
    for name, entry in places.items():
        aliases = entry["aliases"].get(fam.lang) or []
        for alias in aliases:
            if len(alias) >= 4 and re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", literal):
                warnings.append(
                    f"{fam.path.name}: family {fam.family!r}: {alias!r} ({name}) is not a slot"
                )
    return warnings


def build(
    templates_dir: Path = DEFAULT_TEMPLATES,
    gazetteer: Path = DEFAULT_GAZETTEER,
    *,
    seed: int = 0,
    langs: list[str] | None = None,
    reposts: Path = DEFAULT_REPOSTS,
) -> tuple[list[dict], list[str]]:
    """Render every template file; returns (records, warnings). Raises TemplateError."""
    places = load_gazetteer(gazetteer)
    edits = load_reposts(reposts)
    files = sorted(templates_dir.glob("*.yaml"))
    if langs:
        files = [f for f in files if f.stem in langs]
    if not files:
        raise TemplateError(f"{templates_dir}: no template files — add templates/<lang>.yaml")
    all_families = [fam for f in files for fam in load_templates(f, places)]

    warnings: list[str] = []
    by_id: dict[str, list[Family]] = {}
    for fam in all_families:
        by_id.setdefault(fam.family, []).append(fam)
        warnings.extend(_literal_place_warnings(fam, places))
    for fid, group in by_id.items():
        if len({f.label for f in group}) > 1:
            raise _fail(group[0].path, fid, "translation family has different labels across files")
        slots = [
            sorted(repr((s.kind, s.value)) for s in f.parts if isinstance(s, Slot)) for f in group
        ]
        if any(s != slots[0] for s in slots[1:]):
            warnings.append(f"family {fid!r}: translations carry different slot values")

    records: list[dict] = []
    counters: Counter[str] = Counter()
    text_owner: dict[str, str] = {}
    for fam in all_families:
        seen_texts: set[str] = set()
        for variant in range(fam.variants):
            rendered = None
            for attempt in range(10):
                candidate = render_variant(fam, variant + 100 * attempt, places, seed, edits)
                if candidate["text"] not in seen_texts:
                    rendered = candidate
                    break
            if rendered is None:
                warnings.append(
                    f"{fam.path.name}: family {fam.family!r}: variant {variant} duplicates"
                )
                continue
            text = rendered["text"]
            owner = text_owner.setdefault(text, fam.family)
            if owner != fam.family:
                raise _fail(fam.path, fam.family, f"renders the same text as family {owner!r}")
            seen_texts.add(text)
            counters[fam.lang] += 1
            records.append(
                {
                    "id": f"{fam.lang}-{counters[fam.lang]:06d}",
                    "text": text,
                    "lang": fam.lang,
                    "label": fam.label,
                    "family": fam.family,
                    "source_kind": fam.source_kind,
                    "hard_negative": fam.hard_negative,
                    "entities": rendered["entities"],
                }
            )
    return records, warnings


def write_jsonl(records: list[dict], out: Path) -> None:
    """Write records as UTF-8 JSONL, one per line."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        description="Render annotaties/templates/*.yaml into the seed corpus.",
        epilog="example: .venv/bin/python annotaties/build_corpus.py --lang en --lang nl",
    )
    parser.add_argument("--templates", type=Path, default=DEFAULT_TEMPLATES)
    parser.add_argument("--gazetteer", type=Path, default=DEFAULT_GAZETTEER)
    parser.add_argument("--reposts", type=Path, default=DEFAULT_REPOSTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lang", action="append", help="only these languages (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no summary table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        records, warnings = build(
            args.templates, args.gazetteer, seed=args.seed, langs=args.lang, reposts=args.reposts
        )
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_jsonl(records, args.out)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not args.quiet:
        from signalering.corpus import check, summary

        table = summary(records)
        print(f"{'lang':8} " + " ".join(f"{lab:>9}" for lab in LABELS) + "     total  families")
        for lang, row in table.items():
            fams = len({r["family"] for r in records if r["lang"] == lang})
            cells = " ".join(f"{row.get(lab, 0):>9}" for lab in LABELS)
            print(f"{lang:8} {cells} {sum(row.values()):>9} {fams:>9}")
        print(f"{'total':8} {len(records):>49}")
        print(f"wrote {args.out}")
        for problem in check(records):
            print(f"check: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
