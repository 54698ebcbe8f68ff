"""Messaging themes: clusters of post embeddings, described by c-TF-IDF keywords.

Posts are embedded with :func:`signalering.embed.encode` (multilingual, so a
translated ad lands with its original), clustered with seeded k-means (k picked by
silhouette), and each cluster is described by class-based TF-IDF over its scrubbed,
normalised text — overall and per language — plus the posts nearest its centre as
scrubbed excerpts. The same input and seed give the same themes.

Posts the encoder cannot read (Tigrinya under USE-m3: mostly ``<unk>`` word pieces, so
they all embed alike) would make one "theme" of their language; they are left out of
the clustering and counted per language by :func:`unthemed` instead.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from signalering.campaign.scrub import excerpt, placeholder_re, scrub
from signalering.text import normalise

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

MIN_POSTS = 12  # fewer posts than this make no themes worth reporting
COMMON_SHARE = 0.6  # a token in more of a language's posts than this is a function word
_TOKEN = re.compile(r"[^\W\d_]{3,}")
# Words that describe how to reach someone, not what is promised.
_STOP = frozenset(
    [
        "whatsapp",
        "whats",
        "telegram",
        "signal",
        "viber",
        "imo",
        "snapchat",
        "snap",
        "instagram",
        "insta",
        "tiktok",
        "facebook",
        "messenger",
        "call",
        "contact",
        "the",
        "and",
        "for",
        "with",
        "you",
        "your",
        "from",
        "per",
        "van",
        "het",
        "een",
        "voor",
        "met",
        "naar",
        "der",
        "die",
        "das",
        "und",
        "mit",
        "les",
        "des",
        "pour",
        "avec",
        "par",
        "une",
    ]
)


@dataclass(frozen=True)
class ThemeInput:
    """One post offered to the theme finder."""

    text: str
    lang: str | None = None
    authors: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()


@dataclass
class Theme:
    """A messaging theme: its keywords (overall and per language), size and excerpts."""

    id: int
    label: str
    keywords: list[str]
    keywords_by_lang: dict[str, list[str]]
    size: int
    share: float
    languages: dict[str, int]
    claims: dict[str, int]
    excerpts: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _tokens(text: str, authors: Sequence[str], lang: str | None) -> list[str]:
    clean = placeholder_re().sub(" ", scrub(text, authors=authors, lang=lang))
    return [t for t in _TOKEN.findall(normalise(clean).text) if t not in _STOP]


def _drop_common(tokens: list[list[str]], items: Sequence[ThemeInput]) -> list[list[str]]:
    """Drop a language's function words: tokens in most of that language's posts."""
    by_lang: dict[str, list[int]] = {}
    for j, item in enumerate(items):
        by_lang.setdefault(item.lang or "?", []).append(j)
    common: set[tuple[str, str]] = set()
    for lang, members in by_lang.items():
        if len(members) < 8:
            continue
        df = Counter(t for j in members for t in set(tokens[j]))
        common.update((lang, t) for t, n in df.items() if n > COMMON_SHARE * len(members))
    return [
        [t for t in toks if ((items[j].lang or "?"), t) not in common]
        for j, toks in enumerate(tokens)
    ]


def _pick_k(vectors: np.ndarray, seed: int, max_themes: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(max_themes, n // 4) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(vectors)
        score = silhouette_score(vectors, labels, metric="cosine", random_state=seed)
        if best is None or score > best[0] + 1e-9:
            best = (score, labels)
    assert best is not None
    return best[1]


def c_tf_idf(docs: Sequence[Sequence[str]]) -> list[dict[str, float]]:
    """Class-based TF-IDF: one weight map per class from the tokens of each class."""
    counts = [Counter(d) for d in docs]
    total = Counter()
    for c in counts:
        total.update(c)
    avg_words = sum(sum(c.values()) for c in counts) / max(len(counts), 1)
    out = []
    for c in counts:
        size = sum(c.values()) or 1
        out.append({t: (n / size) * math.log(1 + avg_words / total[t]) for t, n in c.items()})
    return out


def _top(weights: dict[str, float], n: int) -> list[str]:
    return [t for t, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _unreadable(items: Sequence[ThemeInput], encoder: str) -> np.ndarray:
    from signalering.embed import get_encoder, low_coverage

    return low_coverage([i.text for i in items], get_encoder(encoder))


def unthemed(items: Sequence[ThemeInput], *, encoder: str = "use-m3") -> dict[str, int]:
    """Posts :func:`find_themes` leaves out because the encoder cannot read them, per
    language, most first (``{"ti": 31}``); {} when it reads them all."""
    if not items:
        return {}
    unread = _unreadable(items, encoder)
    langs = Counter(item.lang or "?" for item, skip in zip(items, unread, strict=True) if skip)
    return dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0])))


def find_themes(
    items: Sequence[ThemeInput],
    *,
    seed: int = 0,
    max_themes: int = 10,
    n_keywords: int = 8,
    n_excerpts: int = 3,
    encoder: str = "use-m3",
    store: Store | None = None,
) -> list[Theme]:
    """Themes in ``items``, largest first; [] when fewer than ``MIN_POSTS`` can be themed.

    Posts the encoder cannot read join no theme (see :func:`unthemed`); a theme's
    ``share`` is of all ``items``. With a ``store`` the embeddings are cached there by
    content hash.
    """
    if len(items) < MIN_POSTS:
        return []
    from signalering.embed import encode

    everything = items
    items = [i for i, skip in zip(items, _unreadable(items, encoder), strict=True) if not skip]
    if len(items) < MIN_POSTS:
        return []
    vectors = encode([i.text for i in items], encoder=encoder, store=store)
    labels = _pick_k(vectors, seed, max_themes)
    tokens = _drop_common([_tokens(i.text, i.authors, i.lang) for i in items], items)
    cluster_ids = sorted(set(int(x) for x in labels))
    docs = [
        [t for j, toks in enumerate(tokens) if labels[j] == c for t in toks] for c in cluster_ids
    ]
    weights = c_tf_idf(docs)
    themes = []
    for c, weight in zip(cluster_ids, weights, strict=True):
        members = [j for j in range(len(items)) if labels[j] == c]
        langs = Counter(items[j].lang or "?" for j in members)
        by_lang = {}
        for lang, n in langs.most_common():
            if n < 2:
                continue
            lang_counts = Counter(
                t for j in members if (items[j].lang or "?") == lang for t in tokens[j]
            )
            by_lang[lang] = _top({t: k * weight.get(t, 0.0) for t, k in lang_counts.items()}, 5)
        centre = vectors[members].mean(axis=0)
        nearest = sorted(members, key=lambda j: (-float(vectors[j] @ centre), j))[:n_excerpts]
        keywords = _top(weight, n_keywords)
        themes.append(
            Theme(
                id=0,
                label=" · ".join(keywords[:3]),
                keywords=keywords,
                keywords_by_lang=by_lang,
                size=len(members),
                share=round(len(members) / len(everything), 4),
                languages=dict(langs.most_common()),
                claims=dict(Counter(cl for j in members for cl in items[j].claims).most_common()),
                excerpts=[
                    {
                        "lang": items[j].lang or "?",
                        "text": excerpt(
                            items[j].text, authors=items[j].authors, lang=items[j].lang
                        ),
                    }
                    for j in nearest
                ],
            )
        )
    themes.sort(key=lambda t: (-t.size, t.label))
    for i, theme in enumerate(themes, 1):
        theme.id = i
    logger.debug(
        "found %s themes in %s posts (%s unreadable left out)",
        len(themes),
        len(items),
        len(everything) - len(items),
    )
    return themes
