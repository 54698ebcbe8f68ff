"""The annotated corpus: load it, check it, split it by family, count it.

The corpus is ``annotaties/corpus.jsonl`` (rendered by ``annotaties/build_corpus.py``), one
post per line with ``id``, ``text``, ``lang``, ``label``, ``family``, ``source_kind``,
``hard_negative`` and gold ``entities``. Reposts and translations of one ad share a
``family``; splits keep a family on one side so a score never rewards remembering an ad.

>>> records = load()
>>> train, test = family_split(records, test_size=0.25, seed=0)
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import phonenumbers

from signalering import LABELS
from signalering import entities as entity_kinds
from signalering.errors import InputError

logger = logging.getLogger(__name__)

DEFAULT_PATH: Path = Path(__file__).resolve().parents[2] / "annotaties" / "corpus.jsonl"
# Texts that really appeared in public, with their provenance (annotaties/real/README.md).
REAL_PATH: Path = DEFAULT_PATH.parent / "real" / "corpus.jsonl"

LANGS = (
    "en", "nl", "de", "fr", "tr", "sq", "vi", "uk", "ru",
    "ar", "ar-Latn", "fa", "prs", "ps", "ckb", "kmr", "ti", "es", "it", "pt", "el", "pl",
)  # fmt: skip
SOURCE_KINDS = (
    "telegram",
    "forum",
    "classifieds",
    "facebook",
    "news",
    "ngo",
    "government",
    "website",
)
PLATFORMS = (
    "whatsapp", "telegram", "signal", "viber", "imo", "snapchat", "instagram", "tiktok", "facebook",
)  # fmt: skip
MIN_POSTS_PER_LANG = 130
MIN_LABEL_SHARE = 0.10
MIN_HARD_NEGATIVE_SHARE = 1 / 3

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "text": str,
    "lang": str,
    "label": str,
    "family": str,
    "source_kind": str,
    "hard_negative": bool,
    "entities": dict,
}


def load(path: str | Path | None = None) -> list[dict]:
    """Read the corpus JSONL; strict: the first broken line raises InputError with file:line."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.exists():
        raise InputError(
            f"{path}: corpus not found — run `.venv/bin/python annotaties/build_corpus.py`"
        )
    records: list[dict] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{lineno}: not valid JSON ({exc.msg}) — fix or regenerate the corpus"
                ) from exc
            if not isinstance(record, dict):
                raise InputError(f"{path}:{lineno}: a line must hold one JSON object")
            records.append(record)
    logger.debug("loaded %s records from %s", len(records), path)
    return records


def _entity_problems(rid: str, entities: dict) -> list[str]:
    problems: list[str] = []
    for key in (k.key for k in entity_kinds.kinds() if k.gold):
        if not isinstance(entities.get(key), list):
            problems.append(f"{rid}: entities.{key} must be a list")
    for phone in entities.get("phones") or []:
        try:
            num = phonenumbers.parse(phone, None)
            ok = (
                phonenumbers.is_valid_number(num)
                and phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) == phone
            )
        except (phonenumbers.NumberParseException, TypeError):
            ok = False
        if not ok:
            problems.append(f"{rid}: gold phone {phone!r} is not a valid E.164 number")
    for handle in entities.get("handles") or []:
        if (
            not isinstance(handle, dict)
            or handle.get("platform") not in PLATFORMS
            or not isinstance(handle.get("value"), str)
            or handle["value"] != handle["value"].lower()
            or handle["value"].startswith("@")
        ):
            problems.append(
                f"{rid}: handle {handle!r} needs a known platform and a lower-case value"
            )
    for price in entities.get("prices") or []:
        if (
            not isinstance(price, dict)
            or not isinstance(price.get("amount"), int | float)
            or not isinstance(price.get("currency"), str)
            or len(price["currency"]) != 3
            or not price["currency"].isupper()
        ):
            problems.append(f"{rid}: price {price!r} needs a number amount and an ISO 4217 code")
    for place in entities.get("places") or []:
        if not isinstance(place, str) or not place:
            problems.append(f"{rid}: place {place!r} must be a canonical name")
    return problems


def check(records: list[dict]) -> list[str]:
    """Human-readable problems in the corpus; an empty list means it is usable."""
    problems: list[str] = []
    ids: Counter[str] = Counter()
    text_families: dict[str, set[str]] = defaultdict(set)
    per_lang: dict[str, Counter[str]] = defaultdict(Counter)
    hard: Counter[str] = Counter()
    for i, rec in enumerate(records):
        rid = str(rec.get("id", f"record #{i + 1}"))
        bad = [
            name
            for name, kind in _FIELDS.items()
            if name not in rec or not isinstance(rec[name], kind)
        ]
        if bad:
            problems.append(f"{rid}: missing or wrongly typed fields {bad}")
            continue
        ids[rec["id"]] += 1
        if not rec["text"].strip():
            problems.append(f"{rid}: empty text")
        if rec["lang"] not in LANGS:
            problems.append(f"{rid}: unknown lang {rec['lang']!r}")
        if rec["label"] not in LABELS:
            problems.append(f"{rid}: unknown label {rec['label']!r}")
        if rec["source_kind"] not in SOURCE_KINDS:
            problems.append(f"{rid}: unknown source_kind {rec['source_kind']!r}")
        if rec["hard_negative"] and rec["label"] != "unrelated":
            problems.append(f"{rid}: hard_negative is only for unrelated posts")
        problems.extend(_entity_problems(rid, rec["entities"]))
        text_families[rec["text"].strip()].add(rec["family"])
        per_lang[rec["lang"]][rec["label"]] += 1
        hard[rec["lang"]] += bool(rec["hard_negative"] and rec["label"] == "unrelated")
    problems.extend(f"{rid}: id used {n} times" for rid, n in ids.items() if n > 1)
    for text, fams in text_families.items():
        if len(fams) > 1:
            problems.append(f"same text in families {sorted(fams)}: {text[:60]!r}")
    for lang in sorted(per_lang):
        counts = per_lang[lang]
        total = sum(counts.values())
        if total < MIN_POSTS_PER_LANG:
            problems.append(f"{lang}: {total} posts, needs at least {MIN_POSTS_PER_LANG}")
        for label in LABELS:
            if counts[label] < MIN_LABEL_SHARE * total:
                problems.append(
                    f"{lang}: label {label} has {counts[label]} of {total} posts (under 10%)"
                )
        if counts["unrelated"] and hard[lang] < MIN_HARD_NEGATIVE_SHARE * counts["unrelated"]:
            problems.append(
                f"{lang}: {hard[lang]} hard negatives of {counts['unrelated']} unrelated "
                "(needs at least a third)"
            )
    return problems


def family_split(
    records: list[dict], *, test_size: float = 0.25, seed: int = 0
) -> tuple[list[dict], list[dict]]:
    """Split by family (translations stay whole); every (lang, label) with >= 2 families is in test.

    Deterministic for a given seed. ``test_size`` is the target share of posts in test.
    """
    if not 0 < test_size < 1:
        raise InputError(f"test_size={test_size}: must be between 0 and 1 (e.g. 0.25)")
    members: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        members[rec["family"]].append(rec)
    pairs_of: dict[str, set[tuple[str, str]]] = {
        fam: {(r["lang"], r["label"]) for r in recs} for fam, recs in members.items()
    }
    families_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    for fam in order:
        for pair in sorted(pairs_of[fam]):
            families_of[pair].append(fam)

    test: set[str] = set()
    train_left = {pair: len(fams) for pair, fams in families_of.items()}

    def keeps_train(fam: str) -> bool:
        return all(train_left[p] > 1 for p in pairs_of[fam])

    def take(fam: str) -> None:
        test.add(fam)
        for p in pairs_of[fam]:
            train_left[p] -= 1

    for pair in sorted(families_of):
        fams = families_of[pair]
        if len(fams) < 2 or any(f in test for f in fams):
            continue
        candidates = [f for f in fams if keeps_train(f)] or fams
        take(candidates[0])

    target = test_size * len(records)
    n_test = sum(len(members[f]) for f in test)
    for fam in order:
        if n_test >= target:
            break
        if fam in test or not keeps_train(fam):
            continue
        take(fam)
        n_test += len(members[fam])

    train_records = [r for r in records if r["family"] not in test]
    test_records = [r for r in records if r["family"] in test]
    logger.info(
        "family split: %s train / %s test posts, %s test families",
        len(train_records),
        len(test_records),
        len(test),
    )
    return train_records, test_records


def fingerprint(records: Sequence[dict]) -> str:
    """A short hash of what a model learns from: each post's family, label and text.

    A model card keeps the fingerprint of its training part of the family split, so
    `evaluate` can tell when the corpus changed since training: a new family reshuffles
    the split, and the hold-out then holds posts the model was trained on.
    """
    h = hashlib.sha256()
    for fam, label, text in sorted((r["family"], r["label"], r["text"]) for r in records):
        h.update(f"{fam}\x1f{label}\x1f{text}\x1e".encode())
    return h.hexdigest()[:16]


def summary(records: list[dict]) -> dict[str, dict[str, int]]:
    """Counts per language and label: ``{"en": {"offer": 50, ...}, ...}``."""
    table: dict[str, dict[str, int]] = {}
    for rec in records:
        row = table.setdefault(rec["lang"], {label: 0 for label in LABELS})
        row[rec["label"]] = row.get(rec["label"], 0) + 1
    return dict(sorted(table.items()))


# -- the real-text corpus ----------------------------------------------------------
_REAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "text": str,
    "lang": str,
    "label": str,
    "translated": bool,
    "source_url": str,
    "source_title": str,
    "source": str,
    "context": str,
    "family": str,
    "hard_negative": bool,
}


def load_real(path: str | Path | None = None) -> list[dict]:
    """The real-text corpus (``annotaties/real/corpus.jsonl``); strict like :func:`load`."""
    path = Path(path) if path is not None else REAL_PATH
    if not path.exists():
        raise InputError(f"{path}: real-text corpus not found — see annotaties/real/README.md")
    return load(path)


def check_real(records: list[dict]) -> list[str]:
    """Problems in the real-text corpus: missing provenance, bad labels, duplicate ids or texts."""
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_texts: dict[str, str] = {}
    for rec in records:
        rid = str(rec.get("id", "?"))
        for key, typ in _REAL_FIELDS.items():
            if not isinstance(rec.get(key), typ):
                problems.append(f"{rid}: field {key!r} missing or not {typ.__name__}")
        if rec.get("label") not in LABELS:
            problems.append(f"{rid}: label {rec.get('label')!r} not one of {', '.join(LABELS)}")
        if not str(rec.get("source_url", "")).startswith(("http://", "https://")):
            problems.append(f"{rid}: source_url is not a web address")
        if rec.get("hard_negative") and rec.get("label") != "unrelated":
            problems.append(f"{rid}: hard_negative on a {rec.get('label')!r} post")
        if rid in seen_ids:
            problems.append(f"{rid}: duplicate id")
        seen_ids.add(rid)
        key = " ".join(str(rec.get("text", "")).split()).lower()
        if key in seen_texts:
            problems.append(f"{rid}: same text as {seen_texts[key]}")
        seen_texts.setdefault(key, rid)
    return problems


def _page_key(url: str) -> str:
    """A page's address without scheme, ``www.``, fragment or trailing slash."""
    url = url.split("#", 1)[0].strip().lower()
    url = url.split("://", 1)[-1].removeprefix("www.")
    return url.rstrip("/")


def source_groups(records: list[dict]) -> list[str]:
    """One group per record such that no source and no family spans two groups.

    Records quoted from one source (one ``source`` id, or one page address) share a group,
    and so do the copies of one ad quoted by several sources (one family): grouped cross-validation on these groups never
    tests on a source, or an ad, it trained on.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, rec in enumerate(records):
        src = "s:" + str(rec.get("source") or rec.get("source_url") or f"#{i}")
        fam = "f:" + str(rec.get("family") or rec.get("id") or f"#{i}")
        parent[find(src)] = find(fam)
        if rec.get("source_url"):  # one page under two source ids is still one source
            parent[find("u:" + _page_key(str(rec["source_url"])))] = find(fam)
    return [
        find("s:" + str(rec.get("source") or rec.get("source_url") or f"#{i}"))
        for i, rec in enumerate(records)
    ]


def real_summary(records: list[dict]) -> dict[str, dict[str, int]]:
    """Counts per label, language and translated: ``{"offer": {"en (translated)": 37}}``."""
    table: dict[str, Counter] = {label: Counter() for label in LABELS}
    for rec in records:
        lang = rec.get("lang", "und") + (" (translated)" if rec.get("translated") else "")
        table.setdefault(rec["label"], Counter())[lang] += 1
    return {label: dict(sorted(c.items())) for label, c in table.items()}
