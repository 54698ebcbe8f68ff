"""Language identification: script and letter rules first, langdetect's profiles for the rest.

Rules (``signalering/data/language.yaml``) decide what langdetect lacks or
confuses: Pashto (``ps``), Sorani (``ckb``), Dari (``prs``) vs Persian (``fa``),
Urdu, Tigrinya (``ti``) vs Amharic (``am``), Kurmanji (``kmr``), Arabizi
(``ar-Latn``) and Ukrainian vs Russian. Everything else is scored with
langdetect's own n-gram profiles, but exactly (naive Bayes over every 1-3
gram) instead of by langdetect's random sampling: the answer is deterministic
without a seed and about fifty times faster, which the throughput target needs.
Each word's summed n-gram scores are cached (bounded), since posts repeat words.

>>> detect("Safe crossing from Calais to the UK tonight, call us now").code
'en'
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import yamlio

logger = logging.getLogger(__name__)

UNDETERMINED = "und"
# (?=[^\W_]): every word starts with a letter or digit; lets the engine skip the rest.
_WORD = re.compile(r"(?=[^\W_])(?:[^\W\d_]+(?:[\d][^\W\d_]+)*|\d*[^\W\d_]+)", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|[@#]\w+")
_FOLD = str.maketrans({"ي": "ی", "ك": "ک", "ى": "ی"})


@dataclass(frozen=True)
class Language:
    """A BCP 47 code (``und`` when the text is too short) and a confidence in [0, 1]."""

    code: str
    confidence: float


@functools.lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    with resources.files("signalering.data").joinpath("language.yaml").open(encoding="utf-8") as f:
        data = yamlio.safe_load(f)
    ar = data["arabic_script"]
    for key in ("prs_words", "fa_words"):
        ar[key] = frozenset(w.translate(_FOLD) for w in ar[key])
    for section, keys in (("ethiopic", ("ti_words", "am_words")), ("latin", ("kmr_words",))):
        for key in keys:
            data[section][key] = frozenset(data[section][key])
    data["latin"]["arabizi_words"] = frozenset(data["latin"]["arabizi_words"])
    data["latin"]["arabizi_digit_re"] = re.compile(data["latin"]["arabizi_digit_word"])
    return data


class _Profiles:
    """langdetect's n-gram profiles as a log-probability matrix (n-gram x language)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        """``cache_dir``: where the built matrix is kept between runs (None: built here)."""
        import langdetect

        folder = Path(langdetect.__file__).parent / "profiles"
        cached = _cache_files(folder, cache_dir)
        if cached is not None and self._read(*cached):
            return
        self._build(folder)
        if cached is not None:
            self._write(*cached)

    # Building the matrix from langdetect's 55 JSON profiles costs 0.4 s CPU, a tenth of
    # a one-post classify; the result is kept as a memory-mapped .npy plus its index.
    def _read(self, matrix_file: Path, index_file: Path) -> bool:
        if not (index_file.is_file() and matrix_file.is_file()):
            return False  # not made yet: the first run builds it, nothing to warn about
        try:
            saved = json.loads(index_file.read_text(encoding="utf-8"))
            matrix = np.load(matrix_file, mmap_mode="r", allow_pickle=False)
            langs, grams = saved["langs"], saved["grams"]
            table = {int(k): v for k, v in saved["table"].items()}
            if matrix.shape != (len(grams), len(langs)):
                raise ValueError(f"matrix {matrix.shape} for {len(grams)} n-grams")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("ignoring unreadable language profile cache %s: %s", index_file, exc)
            return False
        self.langs = langs
        self.index = {g: i for i, g in enumerate(grams)}
        self.matrix = matrix
        self.table = table
        self.lang_index = {lang: i for i, lang in enumerate(self.langs)}
        self.word_scores = {}
        return True

    def _write(self, matrix_file: Path, index_file: Path) -> None:
        from .files import replace_atomically

        saved = {"langs": self.langs, "grams": list(self.index), "table": self.table}
        try:
            replace_atomically(
                matrix_file,
                lambda tmp: np.save(tmp, self.matrix, allow_pickle=False),
                suffix=".npy",
            )
            replace_atomically(
                index_file,
                lambda tmp: tmp.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8"),
            )
        except OSError as exc:
            logger.warning("cannot write language profile cache %s (%s)", index_file, exc.strerror)

    def _build(self, folder: Path) -> None:
        from langdetect.utils.ngram import NGram

        profiles = []
        for path in sorted(folder.iterdir()):
            with path.open(encoding="utf-8") as f:
                profiles.append(json.load(f))
        self.langs = [p["name"] for p in profiles]
        index: dict[str, int] = {}
        rows: list[list[tuple[int, float]]] = []
        for li, prof in enumerate(profiles):
            n_words = prof["n_words"]
            for gram, freq in prof["freq"].items():
                n = len(gram)
                if n > 3 or not n_words[n - 1]:
                    continue
                gi = index.setdefault(gram, len(index))
                if gi == len(rows):
                    rows.append([])
                rows[gi].append((li, freq / n_words[n - 1]))
        matrix = np.full((len(index), len(self.langs)), 0.0, dtype=np.float32)
        for gi, row in enumerate(rows):
            floor = min(p for _, p in row) * 0.1
            matrix[gi, :] = math.log(floor)
            for li, p in row:
                matrix[gi, li] = math.log(p)
        self.index = index
        self.matrix = matrix
        # langdetect folds characters (e.g. all CJK of one class to one
        # representative) before counting; precompute that for the BMP.
        table = {}
        for cp in range(0x20, 0x3000):
            ch = chr(cp)
            out = NGram.normalize(ch)
            if out != ch:
                table[cp] = out
        self.table = table
        self.lang_index = {lang: i for i, lang in enumerate(self.langs)}
        self.word_scores: dict[str, np.ndarray] = {}

    def scores(self, text: str) -> np.ndarray | None:
        """Summed log-probabilities of the text's 1-3 grams per language (None: no known gram)."""
        text = text.translate(self.table)
        cache = self.word_scores
        vectors = []
        for word in text.split():
            vec = cache.get(word)
            if vec is None:
                vec = self._word_scores(word)
                if len(cache) < _WORD_CACHE_MAX:
                    cache[word] = vec
            if vec is not _NO_GRAMS:
                vectors.append(vec)
        if not vectors:
            return None
        return np.sum(vectors, axis=0, dtype=np.float64)

    def _word_scores(self, word: str) -> np.ndarray:
        index = self.index
        padded = f" {word} "
        grams: list[int] = []
        for n in (1, 2, 3):
            for i in range(len(padded) - n + 1):
                g = padded[i : i + n]
                if g == " " or (n == 3 and g.endswith(" ") and g.startswith(" ")):
                    continue
                gi = index.get(g)
                if gi is not None:
                    grams.append(gi)
        if not grams:
            return _NO_GRAMS
        # summed in float64, kept in float32 (a quarter of a kilobyte per cached word)
        return self.matrix[grams].sum(axis=0, dtype=np.float64).astype(np.float32)


# Words seen by the statistical detector, with their summed n-gram scores:
# posts repeat words, so most words are looked up, not recounted.
_WORD_CACHE_MAX = 50_000
_NO_GRAMS = np.zeros(0)


def _cache_files(folder: Path, cache_dir: Path | None) -> tuple[Path, Path] | None:
    """The cache files of the profiles in ``folder``, named by their sizes and mtimes."""
    if cache_dir is None:
        return None
    import hashlib

    try:
        stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()]
    except OSError:
        return None
    key = hashlib.sha256(repr(sorted(stats)).encode()).hexdigest()[:16]
    stem = cache_dir / f"langdetect-profiles-{key}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


@functools.lru_cache(maxsize=1)
def _profiles() -> _Profiles:
    from .config import SimilaritySettings

    return _Profiles(SimilaritySettings().cache_dir)


@functools.lru_cache(maxsize=65536)
def _script_of(ch: str) -> str | None:
    """The script of a letter (None for everything else)."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    if cp < 0x250 or 0x1E00 <= cp < 0x1F00:
        return "latin"
    if 0x400 <= cp < 0x530:
        return "cyrillic"
    if 0x600 <= cp < 0x700 or 0x750 <= cp < 0x780 or 0xFB50 <= cp < 0xFF00:
        return "arabic"
    if 0x1200 <= cp < 0x13A0 or 0x2D80 <= cp < 0x2DE0:
        return "ethiopic"
    return unicodedata.name(ch, "OTHER").split()[0].lower()


def _script_counts(chars: Counter[str]) -> Counter[str]:
    """Letters per script, from the text's character counts."""
    counts: Counter[str] = Counter()
    for ch, n in chars.items():
        script = _script_of(ch)
        if script is not None:
            counts[script] += n
    return counts


def _softmax_top(scores: np.ndarray, allowed: list[int], n_words: int) -> tuple[int, float]:
    sub = scores[allowed]
    # Log-likelihoods over many n-grams are very peaked; temper by text length
    # so the confidence means something on short posts.
    tempered = (sub - sub.max()) / max(1.0, math.sqrt(n_words) * 2)
    probs = np.exp(tempered)
    probs /= probs.sum()
    best = int(np.argmax(probs))
    return allowed[best], float(probs[best])


def _statistical(text: str, script: str, n_words: int) -> Language:
    profiles = _profiles()
    scores = profiles.scores(text.lower())
    if scores is None:
        return Language(UNDETERMINED, 0.0)
    allowed_codes = _rules()["candidates"].get(script) or profiles.langs
    allowed = [profiles.lang_index[c] for c in allowed_codes if c in profiles.lang_index]
    best, conf = _softmax_top(scores, allowed, n_words)
    return Language(profiles.langs[best], round(conf, 3))


def _arabic_script(count: Counter[str], words: list[str]) -> Language:
    r = _rules()["arabic_script"]
    ps = sum(count[c] for c in r["ps"])
    ckb = sum(count[c] for c in r["ckb"])
    ur = sum(count[c] for c in r["ur"])
    if ckb >= r["ckb_min"] and ckb > ps:
        return Language("ckb", 0.95 if ckb >= 4 else 0.8)
    if ps >= r["ps_min"] and ps >= ur:
        return Language("ps", 0.95 if ps >= 4 else 0.8)
    if ur >= 3:
        return Language("ur", 0.8)
    persian = sum(count[c] for c in r["persian"])
    arabic = sum(count[c] for c in r["arabic"])
    if persian > arabic:
        folded = [w.translate(_FOLD) for w in words]
        prs = sum(w in r["prs_words"] for w in folded)
        fa = sum(w in r["fa_words"] for w in folded)
        if prs > fa:
            return Language("prs", round(min(0.95, 0.6 + 0.1 * (prs - fa)), 3))
        return Language("fa", round(min(0.95, 0.6 + 0.1 * (fa - prs + 1)), 3))
    return Language("ar", 0.9 if arabic >= 2 else 0.7)


def _ethiopic(count: Counter[str], words: list[str]) -> Language:
    r = _rules()["ethiopic"]
    ti = sum(count[c] for c in r["ti_letters"]) + 2 * sum(w in r["ti_words"] for w in words)
    am = sum(count[c] for c in r["am_letters"]) + 2 * sum(w in r["am_words"] for w in words)
    am += count["አ"] - count["ኣ"] if count["አ"] > count["ኣ"] else 0
    if am > ti:
        return Language("am", round(min(0.95, 0.6 + 0.05 * (am - ti)), 3))
    return Language("ti", round(min(0.95, 0.6 + 0.05 * (ti - am + 1)), 3))


def _latin_rules(count: Counter[str], words: list[str]) -> Language | None:
    r = _rules()["latin"]
    arabizi = sum(1 for w in words if r["arabizi_digit_re"].fullmatch(w)) * 2
    arabizi += sum(w in r["arabizi_words"] for w in words)
    kmr = 0
    if not any(count[c] for c in r["tr_only_letters"]):
        kmr = sum(w in r["kmr_words"] for w in words)
        kmr += sum(count[c] for c in r["kmr_letters"]) // 2
    # Kurmanji and Arabizi share short words (li, bi, min): the stronger evidence wins.
    if kmr > arabizi and kmr >= r["kmr_min"] and kmr >= r["kmr_share"] * len(words):
        return Language("kmr", round(min(0.95, 0.5 + kmr / (2 * len(words))), 3))
    if arabizi >= r["arabizi_min"] and arabizi >= r["arabizi_share"] * len(words):
        return Language("ar-Latn", round(min(0.95, 0.5 + arabizi / (2 * len(words))), 3))
    return None


def detect(text: str) -> Language:
    """The language of ``text`` (BCP 47 as in the corpus) and a confidence."""
    if not isinstance(text, str):
        raise TypeError(f"detect expects str, got {type(text).__name__}")
    rules = _rules()
    clean = unicodedata.normalize("NFKC", text)
    if "@" in clean or "#" in clean or "http" in clean or "www." in clean:  # else no _URL match
        clean = _URL.sub(" ", clean)
    clean = clean.lower()
    words = _WORD.findall(clean)
    chars = Counter(clean)
    scripts = _script_counts(chars)
    letters = sum(scripts.values())
    if letters < rules["min_letters"] or len(words) < rules["min_words"]:
        return Language(UNDETERMINED, 0.0)
    script, _ = scripts.most_common(1)[0]
    if script == "arabic":
        return _arabic_script(chars, words)
    if script == "ethiopic":
        return _ethiopic(chars, words)
    if script == "latin":
        # Only the Latin words: code-switched posts keep their own script's rules.
        found = _latin_rules(chars, words)
        if found is not None:
            return found
    if script == "cyrillic":
        cyr = rules["cyrillic"]
        uk = sum(chars[c] for c in cyr["uk"])
        ru = sum(chars[c] for c in cyr["ru"])
        if uk != ru:
            code = "uk" if uk > ru else "ru"
            return Language(code, round(min(0.99, 0.7 + 0.05 * abs(uk - ru)), 3))
    latin_only = " ".join(words) if script == "latin" else clean
    return _statistical(latin_only, script, len(words))


def evaluate(records: list[dict[str, Any]], *, min_words: int = 8) -> dict[str, Any]:
    """Accuracy per gold ``lang`` on records with at least ``min_words`` words.

    Returns ``{"overall": {...}, "per_lang": {lang: {"n", "correct", "accuracy",
    "confused_with": {code: count}}}}``.
    """
    per: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "correct": 0, "confused_with": Counter()}
    )
    for record in records:
        gold = record.get("lang")
        text = record.get("text") or ""
        if not gold or len(text.split()) < min_words:
            continue
        got = detect(text).code
        row = per[gold]
        row["n"] += 1
        if got == gold:
            row["correct"] += 1
        else:
            row["confused_with"][got] += 1
    out: dict[str, Any] = {"per_lang": {}}
    total = correct = 0
    for lang in sorted(per):
        row = per[lang]
        total += row["n"]
        correct += row["correct"]
        out["per_lang"][lang] = {
            "n": row["n"],
            "correct": row["correct"],
            "accuracy": round(row["correct"] / row["n"], 4) if row["n"] else None,
            "confused_with": dict(row["confused_with"].most_common(5)),
        }
    out["overall"] = {
        "n": total,
        "correct": correct,
        "accuracy": round(correct / total, 4) if total else None,
        "min_words": min_words,
    }
    return out
