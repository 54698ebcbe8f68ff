"""What the review app reads and writes: the ranked queue, one post in full, decisions, aggregates.

Plain functions over a ``Store`` so the CLI, tests and the web routes share them.

>>> page = queue(store, QueueFilter(label="offer", status="open"))  # doctest: +SKIP
>>> [p.id for p in page.posts], page.next_cursor  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from time import monotonic
from typing import Any, Literal

from sqlalchemy import Text, and_, exists, false, func, select, tuple_
from sqlalchemy.sql import Select

from signalering import entities as entity_kinds
from signalering.errors import InputError, SignaleringError
from signalering.evidence import SimilarMatch
from signalering.evidence import parse_all as parse_evidence
from signalering.post import Post
from signalering.store import Store, fulltext
from signalering.store.decisions import confirmed_offer_ids
from signalering.store.links import NetworkRow, PostCluster
from signalering.store.models import Decision, Entity, PostRow, Score

logger = logging.getLogger(__name__)

Status = Literal["open", "decided", "confirm", "correct", "escalate", "dismiss", "all"]
STATUSES: tuple[str, ...] = ("open", "decided", "confirm", "correct", "escalate", "dismiss", "all")
PAGE_SIZE = 50
SNIPPET_CHARS = 280
_EXEMPLAR_POOL = 2000


@dataclass(frozen=True)
class QueueFilter:
    """The filters of the queue page; every field is optional."""

    label: str | None = None
    lang: str | None = None
    source: str | None = None
    platform: str | None = None  # a contact platform seen in the post: whatsapp, telegram ...
    date_from: str | None = None  # YYYY-MM-DD, on posted_at (fetched_at when unknown)
    date_to: str | None = None
    status: str = "open"
    q: str | None = None
    after: str | None = None  # keyset cursor "score:id" of the last row of the previous page
    limit: int = PAGE_SIZE
    cluster: str | None = None  # repost cluster id (signalering.link)
    network: str | None = None  # network id (signalering.link)

    def params(self) -> dict[str, str]:
        """The filters as the queue page's query parameters (set ones only, no cursor)."""
        values = {
            "label": self.label,
            "lang": self.lang,
            "source": self.source,
            "platform": self.platform,
            "from": self.date_from,
            "to": self.date_to,
            "status": self.status,
            "q": self.q,
            "cluster": self.cluster,
            "network": self.network,
        }
        return {k: v for k, v in values.items() if v}


@dataclass
class QueueRow:
    """One line of the queue."""

    id: int
    score: float
    label: str | None
    lang: str | None
    source: str | None
    posted_at: datetime | None
    text: str
    decision: str | None = None


@dataclass
class QueuePage:
    """A page of the queue and the cursor of the next one (None on the last page)."""

    rows: list[QueueRow] = field(default_factory=list)
    next_cursor: str | None = None


def _day(value: str | None, name: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date — write it like 2024-05-01") from None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _cursor(value: str | None) -> tuple[float, int] | None:
    if not value:
        return None
    try:
        score, pk = value.split(":", 1)
        return float(score), int(pk)
    except ValueError:
        raise InputError(f"page cursor {value!r} is malformed — start again from page 1") from None


def _filtered(store: Store, f: QueueFilter) -> Select:
    # From the current scores, in rank order (ix_scores_current_rank), to the posts.
    stmt = (
        select(Score.post_id, Score.score, Score.label, PostRow.lang, PostRow.source)
        .add_columns(PostRow.posted_at, func.substr(PostRow.text, 1, SNIPPET_CHARS))
        .select_from(Score)
        .join(PostRow, PostRow.id == Score.post_id)
        .where(Score.is_current, Score.flagged.is_(True), PostRow.removed_at.is_(None))
    )
    if f.label:
        stmt = stmt.where(Score.label == f.label)
    if f.lang:
        stmt = stmt.where(PostRow.lang == f.lang)
    if f.source:
        stmt = stmt.where(PostRow.source == f.source)
    if f.platform:
        stmt = stmt.where(
            exists().where(Entity.post_id == PostRow.id, Entity.platform == f.platform)
        )
    if f.cluster:
        stmt = stmt.where(
            exists().where(PostCluster.post_id == PostRow.id, PostCluster.cluster == f.cluster)
        )
    if f.network:
        stmt = stmt.where(
            exists().where(PostCluster.post_id == PostRow.id, PostCluster.network == f.network)
        )
    when = func.coalesce(PostRow.posted_at, PostRow.fetched_at)
    start, stop = _day(f.date_from, "from"), _day(f.date_to, "to", end=True)
    if start is not None:
        stmt = stmt.where(when >= start)
    if stop is not None:
        stmt = stmt.where(when <= stop)
    decided = exists().where(Decision.post_id == PostRow.id)
    if f.status == "open":
        stmt = stmt.where(~decided)
    elif f.status == "decided":
        stmt = stmt.where(decided)
    elif f.status in ("confirm", "correct", "escalate", "dismiss"):
        stmt = stmt.where(
            exists().where(Decision.post_id == PostRow.id, Decision.action == f.status)
        )
    elif f.status != "all":
        raise InputError(f"status {f.status!r} is unknown — use one of {', '.join(STATUSES)}")
    if f.q:
        match = fulltext.text_match(store.engine.dialect.name, f.q)
        # A search without a letter or digit (only punctuation) matches nothing.
        stmt = stmt.where(match if match is not None else false())
    return stmt


_RANK = (Score.score.desc(), Score.post_id.desc())


def queue(store: Store, f: QueueFilter) -> QueuePage:
    """Flagged posts matching ``f``, highest score first, one keyset page at a time."""
    stmt = _filtered(store, f)
    after = _cursor(f.after)
    if after is not None:
        score, pk = after
        stmt = stmt.where(tuple_(Score.score, Score.post_id) < tuple_(score, pk))
    limit = max(1, min(int(f.limit), 500))
    stmt = stmt.order_by(*_RANK).limit(limit + 1)
    with store._session() as session:
        found = session.execute(stmt).all()
        rows = [
            QueueRow(pk, float(score or 0), label, lang, source, posted, snippet)
            for pk, score, label, lang, source, posted, snippet in found[:limit]
        ]
        if rows:
            latest = _latest_decisions(session, [r.id for r in rows])
            for row in rows:
                row.decision = latest.get(row.id)
    page = QueuePage(rows=rows)
    if len(found) > limit:
        page.next_cursor = f"{rows[-1].score!r}:{rows[-1].id}"
    return page


def _latest_decisions(session: Any, pks: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for pk, action in session.execute(
        select(Decision.post_id, Decision.action)
        .where(Decision.post_id.in_(pks))
        .order_by(Decision.id)
    ):
        out[pk] = action
    return out


def next_open(store: Store, post_pk: int) -> int | None:
    """The open flagged post ranked just below ``post_pk`` (or the top one), for "next"."""
    stmt = _filtered(store, QueueFilter(status="open"))
    with store._session() as session:
        current = session.execute(
            select(Score.score).where(Score.post_id == post_pk, Score.is_current)
        ).scalar()
        ordered = stmt.order_by(*_RANK).limit(1)
        if current is not None:
            below = ordered.where(tuple_(Score.score, Score.post_id) < tuple_(current, post_pk))
            row = session.execute(below).first()
            if row is not None:
                return int(row[0])
        row = session.execute(ordered.where(Score.post_id != post_pk)).first()
        return int(row[0]) if row is not None else None


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
    with store._session() as session:
        return {
            "label": sorted(x for x in session.scalars(select(Score.label).distinct()) if x),
            "lang": sorted(x for x in session.scalars(select(PostRow.lang).distinct()) if x),
            "source": sorted(x for x in session.scalars(select(PostRow.source).distinct()) if x),
            "platform": sorted(x for x in session.scalars(select(Entity.platform).distinct()) if x),
        }


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
    return confirmed_offer_ids(store, limit=limit)


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
    shared: dict[int, int] = {}
    if not contacts or not bank:
        return shared
    with store._session() as session:
        for other, _ in session.execute(
            select(Entity.post_id, Entity.value_pseudonym)
            .where(Entity.post_id.in_(bank), Entity.value_pseudonym.in_(contacts))
            .distinct()
        ):
            shared[other] = shared.get(other, 0) + 1
    return shared


def _fill_texts(store: Store, rows: list[dict]) -> None:
    """Snippets: stored exemplars from the store (gone ones dropped), corpus ones from the corpus."""
    stored = [r["id"] for r in rows if r["id"] is not None]
    texts: dict[int, tuple[str, str | None]] = {}
    if stored:
        with store._session() as session:
            texts = {
                other: (text, lang)
                for other, text, lang in session.execute(
                    select(PostRow.id, PostRow.text, PostRow.lang).where(PostRow.id.in_(stored))
                )
            }
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
    with store._session() as session:
        texts = {
            other: (text, lang)
            for other, text, lang in session.execute(
                select(PostRow.id, PostRow.text, PostRow.lang).where(PostRow.id.in_(bank))
            )
        }
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
    with store._session() as session:
        return list(
            session.scalars(
                select(PostCluster.post_id)
                .where(PostCluster.network == network_id)
                .order_by(PostCluster.post_id)
            )
        )


def network(store: Store, network_id: str) -> dict[str, Any] | None:
    """One network for its page: summary, posts, clear contacts, routes and a timeline."""
    with store._session() as session:
        row = session.get(NetworkRow, network_id)
        if row is None:
            return None
        summary = dict(row.summary)
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


# -- campaign aggregates -----------------------------------------------------------------------


def aggregates(store: Store) -> dict[str, Any]:
    """What campaign teams may see: counts and pseudonyms, never a clear contact, author or URL."""
    month = func.substr(
        func.cast(func.coalesce(PostRow.posted_at, PostRow.fetched_at), Text()), 1, 7
    )
    with store._session() as session:
        by_month = [
            {"month": m, "label": label, "posts": n}
            for m, label, n in session.execute(
                select(month, Score.label, func.count(PostRow.id))
                .join(Score, and_(Score.post_id == PostRow.id, Score.is_current))
                .group_by(month, Score.label)
                .order_by(month)
            )
        ]
        # Source kinds, not source names: a channel name is itself a handle.
        by_kind = [
            {"kind": kind, "flagged": n}
            for kind, n in session.execute(
                select(PostRow.kind, func.count(PostRow.id))
                .join(Score, and_(Score.post_id == PostRow.id, Score.is_current))
                .where(Score.flagged.is_(True))
                .group_by(PostRow.kind)
                .order_by(func.count(PostRow.id).desc())
            )
        ]
        contacts = [
            {"kind": kind, "pseudonym": pseud, "platform": platform, "posts": n}
            for kind, pseud, platform, n in session.execute(
                select(
                    Entity.kind,
                    Entity.value_pseudonym,
                    Entity.platform,
                    func.count(func.distinct(Entity.post_id)),
                )
                .where(Entity.value_pseudonym.is_not(None))
                .group_by(Entity.kind, Entity.value_pseudonym, Entity.platform)
                .order_by(func.count(func.distinct(Entity.post_id)).desc())
                .limit(20)
            )
        ]
        places = [
            {"place": place, "posts": n}
            for place, n in session.execute(
                select(Entity.value, func.count(func.distinct(Entity.post_id)))
                .where(Entity.kind == "place")
                .group_by(Entity.value)
                .order_by(func.count(func.distinct(Entity.post_id)).desc())
                .limit(20)
            )
        ]
        decisions = {
            action: n
            for action, n in session.execute(
                select(Decision.action, func.count(Decision.id)).group_by(Decision.action)
            )
        }
    return {
        "counts": store.counts(),
        "by_month": by_month,
        "by_kind": by_kind,
        "contacts": contacts,
        "places": places,
        "decisions": decisions,
    }
