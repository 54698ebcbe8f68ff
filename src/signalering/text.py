"""Normalisation that undoes the obfuscation smugglers use, keeping the way back.

``normalise(text)`` returns a :class:`Normalised` whose ``.text`` is what the
extraction rules read and whose :meth:`Normalised.to_original` maps any span of
it back to the original post, so every finding can be highlighted where the
analyst sees it.

What ``.text`` is, in order of the passes:

1. Unicode NFKC per character; format and zero-width characters (ZWSP, ZWNJ,
   ZWJ, bidi marks, soft hyphen, variation selectors, the keycap mark of
   ``1️⃣``) removed; Arabic diacritics and tatweel removed; 🔟 becomes ``10``.
2. Every decimal digit system (Arabic-Indic, Persian, Devanagari, fullwidth,
   ...) becomes ASCII ``0-9``.
3. Lower case. Arabic-script letter variants are folded (أ إ آ ٱ → ا,
   Arabic ي ى → Persian ی, Arabic ك → Persian ک) so one spelling rule covers
   Arabic, Persian, Pashto and Kurdish posts.
4. Cyrillic/Greek look-alikes are folded to Latin inside mixed-script words.
5. Spaced, dotted and leet-speak keywords (``w h a t s a p p``,
   ``t.e.l.e.g.r.a.m``, ``wh@tsapp``) become the plain word; other runs of
   four or more single spaced letters are joined.
6. Runs of digits written as words (en, nl, de, fr, tr, ar, fa, ps, ckb) become
   digits, when the run is long enough to be a number rather than prose.

The rule tables live in ``signalering/data/*.yaml``.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

logger = logging.getLogger(__name__)

# Characters dropped outright (besides Unicode category Cf): variation
# selectors and the combining keycap that turns "1" into the 1️⃣ emoji.
_DROP = {0xFE0E, 0xFE0F, 0x20E3, 0x0640}  # 0x0640: Arabic tatweel (kashida)
_ARABIC_DIACRITICS = range(0x064B, 0x0660)
_FOLD = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ي": "ی",
    "ى": "ی",
    "ك": "ک",
    "🔟": "10",
    "İ": "i",
}


@dataclass(frozen=True)
class Normalised:
    """A post's text as the rules read it, with a map back to the original."""

    original: str
    text: str
    starts: list[int] = field(default_factory=list, repr=False, compare=False)
    ends: list[int] = field(default_factory=list, repr=False, compare=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the span ``[start, end)`` of ``.text`` to a span of ``.original``."""
        if not self.text:
            return (0, 0)
        start = max(0, min(start, len(self.text) - 1))
        if end <= start:
            return (self.starts[start], self.starts[start])
        end = min(end, len(self.text))
        return (self.starts[start], self.ends[end - 1])


class _Buffer:
    """Characters of the text being built, each with its span in the original."""

    __slots__ = ("chars", "starts", "ends")

    def __init__(self, chars: list[str], starts: list[int], ends: list[int]) -> None:
        self.chars = chars
        self.starts = starts
        self.ends = ends

    @property
    def text(self) -> str:
        return "".join(self.chars)

    def sub(self, pattern: re.Pattern[str], repl: Any) -> None:
        """Replace each match by ``repl(match)`` (a string or None to keep it)."""
        text = self.text
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        changed = False
        for m in pattern.finditer(text):
            new = repl(m)
            if new is None or new == m.group(0):
                continue
            changed = True
            a, b = m.span()
            chars.extend(self.chars[pos:a])
            starts.extend(self.starts[pos:a])
            ends.extend(self.ends[pos:a])
            if isinstance(new, list):  # explicit (char, first, last source index) pieces
                for ch, i, j in new:
                    chars.append(ch)
                    starts.append(self.starts[i])
                    ends.append(self.ends[j])
            else:
                s, e = self.starts[a], self.ends[b - 1]
                chars.extend(new)
                starts.extend([s] * len(new))
                ends.extend([e] * len(new))
            pos = b
        if changed:
            chars.extend(self.chars[pos:])
            starts.extend(self.starts[pos:])
            ends.extend(self.ends[pos:])
            self.chars, self.starts, self.ends = chars, starts, ends


def _load(name: str) -> Any:
    with resources.files("signalering.data").joinpath(name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@functools.lru_cache(maxsize=8192)
def _char(ch: str) -> str:
    """The normalised form of one character ('' to drop it)."""
    cp = ord(ch)
    if cp in _DROP or cp in _ARABIC_DIACRITICS:
        return ""
    if ch in _FOLD:
        return _FOLD[ch]
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return ""
    if cat == "Nd":
        return str(unicodedata.decimal(ch))
    out = unicodedata.normalize("NFKC", ch)
    if out != ch:
        return "".join(_char(c) if c != ch else c.lower() for c in out)
    return ch.lower()


def _char_pass(text: str) -> _Buffer:
    if text.isascii():
        low = text.lower()
        idx = list(range(len(text)))
        return _Buffer(list(low), idx, [i + 1 for i in idx])
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        out = ch.lower() if ch.isascii() else _char(ch)
        for c in out:
            chars.append(c)
            starts.append(i)
            ends.append(i + 1)
    return _Buffer(chars, starts, ends)


@functools.lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    homoglyphs = _load("homoglyphs.yaml")
    table = str.maketrans({k: v for k, v in homoglyphs.items()})
    kw = _load("keywords.yaml")
    leet: dict[str, str] = kw["leet"]
    seps = re.escape(kw["separators"])
    keyword_res = []
    for word in sorted(kw["keywords"], key=len, reverse=True):
        classes = [
            f"[{re.escape(c + leet.get(c, ''))}]" if c in leet else re.escape(c) for c in word
        ]
        sep = f"[{seps}]?" if len(word) >= 5 else ""
        body = sep.join(classes)
        keyword_res.append((word, re.compile(rf"(?<![\w@]){body}(?![^\W\d_])")))
    words: dict[str, int] = {}
    for lang_words in _load("number_words.yaml").values():
        for w, d in lang_words.items():
            words[_char_pass(str(w)).text] = int(d)
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    token = rf"(?:(?:{alternation})(?![^\W\d_])|\d+)"
    number_run = re.compile(rf"(?<![^\W\d_]){token}(?:[\s,.\-]{{1,3}}{token})+")
    return {
        "homoglyphs": table,
        "keywords": keyword_res,
        "number_words": words,
        "number_word": re.compile(rf"(?:{alternation})(?![^\W\d_])|\d+"),
        "number_run": number_run,
    }


_MIXED_WORD = re.compile(r"[^\W\d_]{2,}")
_SPACED_LETTERS = re.compile(r"(?<![^\s(\[])(?:[^\W\d_][ .\-_*]){3,}[^\W\d_](?![^\W\d_])")


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z" or ("\u00c0" <= ch <= "\u024f")


def normalise(text: str) -> Normalised:
    """Undo obfuscation in ``text``; ``.to_original`` maps spans back.

    >>> n = normalise("W h a t s A p p ٠٦١٢")
    >>> n.text
    'whatsapp 0612'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalise expects str, got {type(text).__name__}")
    rules = _rules()
    buf = _char_pass(text)

    if not buf.text.isascii():
        table = rules["homoglyphs"]

        def fold(m: re.Match[str]) -> str | None:
            w = m.group(0)
            if w.isascii() or not any(_is_latin(c) for c in w):
                return None
            folded = w.translate(table)
            return folded if folded != w else None

        # length-preserving, so keep per-character offsets
        text_now = buf.text
        for m in _MIXED_WORD.finditer(text_now):
            new = fold(m)
            if new is not None and len(new) == len(m.group(0)):
                buf.chars[m.start() : m.end()] = list(new)

    for word, pattern in rules["keywords"]:
        buf.sub(pattern, lambda m, w=word: w)

    def join_letters(m: re.Match[str]) -> list[tuple[str, int, int]]:
        a = m.start()
        return [(c, a + i, a + i) for i, c in enumerate(m.group(0)) if c not in " .-_*"]

    buf.sub(_SPACED_LETTERS, join_letters)

    words = rules["number_words"]
    word_re = rules["number_word"]

    def digits(m: re.Match[str]) -> list[tuple[str, int, int]] | None:
        toks = list(word_re.finditer(m.group(0)))
        spelled = [t for t in toks if not t.group(0).isdigit()]
        n_digits = sum(len(t.group(0)) if t.group(0).isdigit() else 1 for t in toks)
        if not spelled or len(spelled) < 2 or n_digits < 6:
            return None
        a = m.start()
        out: list[tuple[str, int, int]] = []
        pos = 0
        run = m.group(0)
        for t in toks:
            out.extend((run[i], a + i, a + i) for i in range(pos, t.start()))
            if t.group(0).isdigit():
                out.extend((run[i], a + i, a + i) for i in range(t.start(), t.end()))
            else:
                out.append((str(words[t.group(0)]), a + t.start(), a + t.end() - 1))
            pos = t.end()
        out.extend((run[i], a + i, a + i) for i in range(pos, len(run)))
        return out

    buf.sub(rules["number_run"], digits)
    return Normalised(original=text, text=buf.text, starts=buf.starts, ends=buf.ends)
