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

The rule tables live in ``signalering/data/*.yaml``. :func:`alternation` turns a
word list into a prefix-trie regex; the extraction rules use it for their
gazetteer and currency/phrase lists.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from . import yamlio

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

    def head(self, n: int) -> Normalised:
        """The first ``n`` characters of ``.text``, offsets still into the same original."""
        if len(self.text) <= n:
            return self
        return Normalised(self.original, self.text[:n], self.starts[:n], self.ends[:n])


class _Buffer:
    """Characters of the text being built, each with its span in the original."""

    __slots__ = ("chars", "starts", "ends", "_text")

    def __init__(self, chars: list[str], starts: list[int], ends: list[int]) -> None:
        self.chars = chars
        self.starts = starts
        self.ends = ends
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.chars)
        return self._text

    def set_chars(self, start: int, new: str) -> None:
        """Overwrite characters in place (same length, so offsets stay)."""
        self.chars[start : start + len(new)] = list(new)
        self._text = None

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
            self._text = None


def alternation(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, the longest first, as a prefix trie.

    Equivalent to ``"|".join(sorted(words, key=len, reverse=True))`` (escaped)
    but much faster to match over thousands of words, because the regex engine
    follows one branch per character instead of trying every word in turn.

    >>> re.fullmatch(alternation(["dun", "dunkirk", "dover"]), "dunkirk") is not None
    True
    """
    trie: dict[str, Any] = {}
    for word in words:
        if not word:
            continue
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _trie_regex(trie) or "(?!)"


def _starts_with(chars: set[str]) -> str:
    return "(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])"


def _trie_regex(node: dict[str, Any]) -> str:
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:  # a word ends here: try the longer words first (greedy ``?``)
        return f"(?:{body})?"
    return body


def _load(name: str) -> Any:
    with resources.files("signalering.data").joinpath(name).open(encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


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


class _CharTable(dict):  # type: ignore[type-arg]
    """``str.translate`` table filled on first sight of each character."""

    def __init__(self) -> None:
        super().__init__()
        # Characters whose normal form is not exactly one character (dropped or
        # expanded): a text with none of them keeps one-to-one offsets.
        self.uneven: set[str] = set()

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        out = ch.lower() if ch.isascii() else _char(ch)
        if len(out) != 1:
            self.uneven.add(ch)
        if len(self) < _TABLE_MAX:  # hostile input must not grow it without bound
            self[cp] = out
        return out


_TABLE_MAX = 1 << 16
_TABLE = _CharTable()


def _char_pass(text: str) -> _Buffer:
    n = len(text)
    if text.isascii():
        return _Buffer(list(text.lower()), list(range(n)), list(range(1, n + 1)))
    out = text.translate(_TABLE)  # fills the table, so ``uneven`` is complete below
    if len(out) == n and _TABLE.uneven.isdisjoint(text):
        return _Buffer(list(out), list(range(n)), list(range(1, n + 1)))
    table = _TABLE
    starts = [i for i, ch in enumerate(text) for _ in table[ord(ch)]]
    return _Buffer(list(out), starts, [i + 1 for i in starts])


@functools.lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    homoglyphs = _load("homoglyphs.yaml")
    table = str.maketrans({k: v for k, v in homoglyphs.items()})
    kw = _load("keywords.yaml")
    leet: dict[str, str] = kw["leet"]
    seps = re.escape(kw["separators"])
    keyword_of: dict[str, str] = {}
    branches = []
    for i, word in enumerate(sorted(kw["keywords"], key=len, reverse=True)):
        classes = [
            f"[{re.escape(c + leet.get(c, ''))}]" if c in leet else re.escape(c) for c in word
        ]
        sep = f"[{seps}]?" if len(word) >= 5 else ""
        branches.append(f"(?P<k{i}>{sep.join(classes)})")
        keyword_of[f"k{i}"] = word
    # One pass for all keywords, the longest first (as separate passes did).
    # The lookaheads name the characters a match can start with: they change no
    # match, but let the regex engine skip every other position quickly.
    firsts = {c for w in kw["keywords"] for c in w[0] + leet.get(w[0], "")}
    keyword_re = re.compile(
        rf"{_starts_with(firsts)}(?<![\w@])(?:{'|'.join(branches)})(?![^\W\d_])"
    )
    words: dict[str, int] = {}
    for lang_words in _load("number_words.yaml").values():
        for w, d in lang_words.items():
            words[_char_pass(str(w)).text] = int(d)
    alt = alternation(words)
    token = rf"(?:(?:{alt})(?![^\W\d_])|\d+)"
    ahead = _starts_with({w[0] for w in words} | set("0123456789"))
    number_run = re.compile(rf"{ahead}(?<![^\W\d_]){token}(?:[\s,.\-]{{1,3}}{token})+")
    return {
        "homoglyphs": table,
        "homoglyph_char": re.compile("[" + re.escape("".join(homoglyphs)) + "]"),
        "keyword_re": keyword_re,
        "keyword_of": keyword_of,
        "number_words": words,
        "number_word": re.compile(rf"(?:{alt})(?![^\W\d_])|\d+"),
        "number_run": number_run,
    }


_MIXED_WORD = re.compile(r"[^\W\d_]{2,}")
_SPACED_LETTERS = re.compile(r"(?<![^\s(\[])(?:[^\W\d_][ .\-_*]){3,}[^\W\d_](?![^\W\d_])")


_LATIN = re.compile("[a-z\u00c0-\u024f]")


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

    text_now = buf.text
    if (
        not text_now.isascii()
        and rules["homoglyph_char"].search(text_now)
        and _LATIN.search(text_now)
    ):
        table = rules["homoglyphs"]
        # length-preserving, so per-character offsets stay
        for m in _MIXED_WORD.finditer(text_now):
            w = m.group(0)
            if w.isascii() or not any(_is_latin(c) for c in w):
                continue
            folded = w.translate(table)
            if folded != w and len(folded) == len(w):
                buf.set_chars(m.start(), folded)

    keyword_of = rules["keyword_of"]
    buf.sub(rules["keyword_re"], lambda m: keyword_of[m.lastgroup])

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
