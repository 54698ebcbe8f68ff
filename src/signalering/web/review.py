"""What the review app reads: the ranked queue, one post in full, nearest known offers, networks.

Plain functions over a ``Store`` (whose queries live in ``signalering.store.review``) so the
CLI, tests and the web routes share them.

>>> page = queue(store, QueueFilter(label="offer", status="open"))  # doctest: +SKIP
>>> [p.id for p in page.posts], page.next_cursor  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import weakref
from time import monotonic
from typing import Any

from signalering import entities as entity_kinds
from signalering.errors import SignaleringError
from signalering.evidence import SimilarMatch
from signalering.evidence import parse_all as parse_evidence
from signalering.post import Post
from signalering.store import Store
from signalering.store.review import (
    PAGE_SIZE,
    SNIPPET_CHARS,
    STATUSES,
    QueueFilter,
    QueuePage,
    QueueRow,
    Status,
)

__all__ = [
    "PAGE_SIZE",
    "STATUSES",
    "QueueFilter",
    "QueuePage",
    "QueueRow",
    "Status",
    "facets",
    "nearest_offers",
    "network",
    "next_open",
    "queue",
]

logger = logging.getLogger(__name__)
_EXEMPLAR_POOL = 2000


def queue(store: Store, f: QueueFilter) -> QueuePage:
    """Flagged posts matching ``f``, highest score first, one keyset page at a time."""
    return store.review_queue(f)


def next_open(store: Store, post_pk: int) -> int | None:
    """The open flagged post ranked just below ``post_pk`` (or the top one), for "next"."""
    return store.next_open(post_pk)


FACETS_TTL_S = 30.0
# Per Store object (weakly: a closed, collected store leaves no stale menus behind).
_facets_cache: weakref.WeakKeyDictionary[Store, tuple[float, dict[str, list[str]]]] = (
    weakref.WeakKeyDictionary()
)


def facets(store: Store, *, max_age: float = FACETS_TTL_S) -> dict[str, list[str]]:
    """Values the filter menus offer: labels, languages, sources, platforms.

    Four DISTINCT scans cost ~70 ms at 100,000 posts, more than a queue page itself,
    so the menus are reused for ``max_age`` seconds (a new source shows up after that).
    """
    now = monotonic()
    cached = _facets_cache.get(store)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    found = _facets(store)
    _facets_cache[store] = (now, found)
    return found


def _facets(store: Store) -> dict[str, list[str]]:
    return store.facet_values()


# -- one post ------------------------------------------------------------------------------


def evidence_segments(text: str, spans: list[dict] | None) -> list[tuple[str, bool]]:
    """Split ``text`` into (segment, highlighted) pieces by evidence offsets on the original string.

    Overlapping or touching spans merge; spans outside the text are clipped or dropped.

    >>> evidence_segments("pay 3500 euro now", [{"start": 4, "end": 8}])
    [('pay ', False), ('3500', True), (' euro now', False)]
    """
    ranges = []
    for span in spans or []:
        try:
            start, end = int(span["start"]), int(span["end"])
        except (KeyError, TypeError, ValueError):
            continue
        start, end = max(0, start), min(len(text), end)
        if start < end:
            ranges.append((start, end))
    ranges.sort()
    merged: list[list[int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merged:
        if pos < start:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text) or not out:
        out.append((text[pos:], False))
    return out


def latest_decision(decisions: list[dict]) -> dict | None:
    """The newest of a post's decisions, or None."""
    return decisions[-1] if decisions else None


def _grams(text: str) -> set[str]:
    low = " ".join(text.lower().split())
    return {low[i : i + 3] for i in range(max(0, len(low) - 2))}


def exemplars(store: Store, *, limit: int = _EXEMPLAR_POOL) -> list[int]:
    """The confirmed part of the exemplar bank: posts analysts confirmed as offers (or
    corrected to ``offer``), most recently decided first — the rule ``model.similarity`` uses."""
    return store.confirmed_offer_ids(limit=limit)


@functools.lru_cache(maxsize=1)
def _corpus_exemplars() -> dict[str, dict[str, Any]]:
    """Offers of the annotated corpus by id (the known part of the exemplar bank)."""
    from signalering import corpus

    try:
        records = corpus.load()
    except SignaleringError as exc:
        logger.warning("corpus exemplars unavailable: %s", exc)
        return {}
    return {str(r["id"]): r for r in records if r.get("label") == "offer"}


def _stored_pk(exemplar: str) -> int | None:
    """``post-12`` (a confirmed offer in the store, as ``model.similarity`` names it) -> 12."""
    if exemplar.startswith("post-") and exemplar[5:].isdigit():
        return int(exemplar[5:])
    return None


def nearest_offers(store: Store, post: Post, *, k: int = 5, max_chars: int = 20_000) -> list[dict]:
    """Known offers closest to ``post``, best first.

    From the pipeline's similarity evidence (``{"kind": "similar", ...}``: nearest
    exemplars by embedding) when the post has it, plus confirmed offers sharing a
    phone number or handle; otherwise by character-trigram overlap with confirmed offers.
    Rows: ``id`` (stored post or None), ``exemplar``, ``origin`` (``confirmed`` or
    ``corpus``), ``similarity``, ``method`` (``embedding`` or ``characters``),
    ``shared_contacts``, ``lang``, ``text``.
    """
    pk = int(post.id or 0)
    similar = [e for e in parse_evidence(post.evidence) if isinstance(e, SimilarMatch)]
    bank = [p for p in exemplars(store) if p != pk]
    shared = _shared_contacts(store, post, bank)
    if not similar:
        return _by_characters(store, post, bank, shared, k, max_chars)
    rows: list[dict] = []
    for entry in similar:
        exemplar = entry.exemplar
        other = _stored_pk(exemplar)
        if other == pk:
            continue
        similarity = round(entry.score, 2)
        rows.append(
            {
                "id": other,
                "exemplar": exemplar,
                "origin": "confirmed" if other is not None else "corpus",
                "similarity": similarity,
                "method": "embedding",
                "shared_contacts": shared.pop(other, 0) if other is not None else 0,
                "lang": entry.lang,
                "text": None,
            }
        )
    # Confirmed offers with the same contacts are as near as it gets, whatever the wording.
    for other, n in shared.items():
        rows.append(
            {
                "id": other,
                "exemplar": f"post-{other}",
                "origin": "confirmed",
                "similarity": None,
                "method": "contacts",
                "shared_contacts": n,
                "lang": None,
                "text": None,
            }
        )
    rows.sort(key=lambda r: (-r["shared_contacts"], -(r["similarity"] or 0)))
    rows = rows[:k]
    _fill_texts(store, rows)
    return rows


def _shared_contacts(store: Store, post: Post, bank: list[int]) -> dict[int, int]:
    """Confirmed offers sharing a phone number or handle with ``post``: id -> how many."""
    contacts = {
        item.get("pseudonym")
        for key in entity_kinds.contact_keys()
        for item in (post.entities or {}).get(key, [])
        if item.get("pseudonym")
    }
    return store.shared_contacts(bank, contacts)


def _fill_texts(store: Store, rows: list[dict]) -> None:
    """Snippets: stored exemplars from the store (gone ones dropped), corpus ones from the corpus."""
    stored = [r["id"] for r in rows if r["id"] is not None]
    texts = store.post_texts(stored)
    corpus = _corpus_exemplars() if any(r["id"] is None for r in rows) else {}
    for row in list(rows):
        if row["id"] is not None:
            if row["id"] not in texts:  # purged since the post was scored
                rows.remove(row)
                continue
            text, lang = texts[row["id"]]
        else:
            record = corpus.get(row["exemplar"], {})
            text, lang = record.get("text") or "", record.get("lang")
        row["text"] = text[:SNIPPET_CHARS]
        row["lang"] = row["lang"] or lang


def _by_characters(
    store: Store, post: Post, bank: list[int], shared: dict[int, int], k: int, max_chars: int
) -> list[dict]:
    """Fallback without similarity evidence: character-trigram overlap with confirmed offers
    (the first ``max_chars`` of each text, ``limits.cluster_chars``)."""
    if not bank:
        return []
    grams = _grams(post.text[:max_chars])
    texts = store.post_texts(bank)
    scored = []
    for other, (text, lang) in texts.items():
        theirs = _grams(text[:max_chars])
        union = len(grams | theirs) or 1
        similarity = len(grams & theirs) / union
        if similarity >= 0.15 or other in shared:
            scored.append(
                {
                    "id": other,
                    "exemplar": f"post-{other}",
                    "origin": "confirmed",
                    "similarity": round(similarity, 2),
                    "method": "characters",
                    "shared_contacts": shared.get(other, 0),
                    "lang": lang,
                    "text": text[:SNIPPET_CHARS],
                }
            )
    scored.sort(key=lambda r: (-r["shared_contacts"], -r["similarity"], -r["id"]))
    return scored[:k]


# -- networks (built by signalering.link) ------------------------------------------------------


def network_posts(store: Store, network_id: str) -> list[int]:
    """Ids of the posts of one network, by id."""
    return store.network_posts(network_id)


def network(store: Store, network_id: str) -> dict[str, Any] | None:
    """One network for its page: summary, posts, clear contacts, routes and a timeline."""
    summary = store.network_summary(network_id)
    if summary is None:
        return None
    posts = [p for p in (store.get(pk) for pk in network_posts(store, network_id)) if p]
    contacts: dict[tuple[str, str], set[str]] = {}
    for post in posts:
        for key in entity_kinds.contact_keys():
            for item in (post.entities or {}).get(key, []):
                value = item.get("value")
                if value:
                    kind = item.get("platform") or key.rstrip("s")
                    contacts.setdefault((kind, value), set()).add(str(post.id))
    timeline = sorted(posts, key=lambda p: p.posted_at or p.fetched_at or "")
    return {
        "id": network_id,
        "summary": summary,
        "posts": timeline,
        "contacts": [
            {"kind": kind, "value": value, "posts": sorted(ids, key=int)}
            for (kind, value), ids in sorted(contacts.items(), key=lambda kv: -len(kv[1]))
        ],
        "routes": summary.get("routes", {}),
    }
