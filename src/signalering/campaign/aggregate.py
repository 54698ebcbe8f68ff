"""Campaign aggregates over stored posts: volumes, languages, sources, platforms, routes,
claims, prices and themes — counts and scrubbed excerpts only, never an identity.

>>> with Store.open(url) as store:  # doctest: +SKIP
...     data = aggregates(store, since=date(2024, 1, 1), until=date(2024, 6, 30))
"""

from __future__ import annotations

import logging
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from signalering.campaign.claims import claim_labels, detect_claims
from signalering.campaign.routes import route_name, route_of
from signalering.campaign.scrub import excerpt
from signalering.campaign.themes import ThemeInput, find_themes, unthemed
from signalering.config import LimitsSettings
from signalering.errors import InputError
from signalering.post import Post
from signalering.store.campaign import CampaignPost
from signalering.text import normalise

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

UNSCORED = "unscored"
THEME_LABELS = ("offer", "request")  # offers: how smugglers advertise; requests: the demand
CLAIM_LABELS = ("offer",)  # claims are counted on offers (the classifier's verdict)
_EXAMPLES_PER_CLAIM = 3
_CANDIDATES_PER_CLAIM = 12  # in different languages, to pick examples no other claim shows
# Claims and themes read what the classifier reads of a post (limits.classify_chars): a
# 20 MB post in the store must not be normalised whole for a report.
TEXT_CHARS = LimitsSettings().classify_chars


def _bound(value: date | datetime | str | None, *, end: bool) -> datetime | None:
    """A UTC datetime; a date ``until`` covers that whole day."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            raise InputError(f"date {value!r} is not ISO 8601 — write it like 2024-05-31") from None
    if not isinstance(value, datetime):
        value = datetime.combine(value + timedelta(days=1) if end else value, time(), tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _item(post: Post, text_chars: int = TEXT_CHARS) -> CampaignPost:
    return CampaignPost(
        post.text[:text_chars],
        post.lang,
        post.source,
        post.kind,
        post.author,
        _when(post),
        post.label,
        post.entities or {},
        post.normalised.text[:text_chars] if post.normalised is not None else None,
    )


def _when(post: Post) -> datetime | None:
    raw = post.posted_at or post.fetched_at
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def week_of(when: datetime) -> str:
    """ISO week ``2024-W07``: the period of weekly trends."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


class _Accumulator:
    """Streams posts into counters; keeps only small seeded samples of text."""

    def __init__(self, *, seed: int, theme_sample: int) -> None:
        self.seed = seed
        self.theme_sample = theme_sample
        self.rng = random.Random(seed)
        self.n = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.c: dict[str, Counter[tuple[Any, ...]]] = defaultdict(Counter)
        self.prices: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.samples: dict[str, list[ThemeInput]] = {label: [] for label in THEME_LABELS}
        self.seen: Counter[str] = Counter()
        self.examples: dict[str, list[tuple[str, str | None, tuple[str, ...]]]] = defaultdict(list)

    def add(self, post: CampaignPost) -> None:
        label = post.label or UNSCORED
        lang = post.lang or "?"
        when = post.when
        period = week_of(when) if when else "?"
        if when is not None:
            self.first = when if self.first is None or when < self.first else self.first
            self.last = when if self.last is None or when > self.last else self.last
        self.n += 1
        c = self.c
        c["labels"][(label,)] += 1
        c["volume"][(period, label)] += 1
        c["languages"][(lang, label)] += 1
        c["sources"][(post.source or "?", post.kind or "?", label)] += 1
        entities = post.entities
        for platform in sorted({h.get("platform") or "?" for h in entities.get("handles") or []}):
            c["platforms"][(platform, label)] += 1
        pair = route_of(entities)
        route = route_name(pair) if pair else None
        if pair:
            c["routes"][(pair[0], pair[1], label)] += 1
            if label == "request":
                c["demand_routes"][(pair[0], pair[1], lang)] += 1
        if label == "request":
            c["demand_languages"][(lang,)] += 1
        claims: tuple[str, ...] = ()
        if label in CLAIM_LABELS:
            claims = self._claims(post)
            c["claim_posts"][(label,)] += 1
            for claim in claims:
                c["claims"][(claim,)] += 1
                c["claims_lang"][(claim, lang)] += 1
                c["claims_period"][(claim, period)] += 1
                if route:
                    c["claims_route"][(claim, route)] += 1
                examples = self.examples[claim]
                # Examples in different languages: reposts of one ad would say the same thing.
                if len(examples) < _CANDIDATES_PER_CLAIM and all(
                    e[1] != post.lang for e in examples
                ):
                    examples.append((post.text, post.lang, self._authors(post)))
            for price in entities.get("prices") or []:
                if price.get("amount") and price.get("currency"):
                    self.prices[(route or "?", price["currency"])].append(float(price["amount"]))
        if label in THEME_LABELS:
            self._sample(label, post, claims if label in CLAIM_LABELS else None)

    @staticmethod
    def _claims(post: CampaignPost) -> tuple[str, ...]:
        return tuple(
            detect_claims(post.text, normalised=post.normalised or normalise(post.text).text)
        )

    @staticmethod
    def _authors(post: CampaignPost) -> tuple[str, ...]:
        return (post.author,) if post.author else ()

    def _sample(self, label: str, post: CampaignPost, claims: tuple[str, ...] | None) -> None:
        """Reservoir sampling: every post of ``label`` has the same chance, seeded.

        Claims of posts not counted for claims are found only when they enter the sample.
        """
        self.seen[label] += 1
        sample = self.samples[label]
        if len(sample) < self.theme_sample:
            slot = len(sample)
            sample.append(None)  # type: ignore[arg-type]
        else:
            slot = self.rng.randrange(self.seen[label])
            if slot >= self.theme_sample:
                return
        if claims is None:
            claims = self._claims(post)
        sample[slot] = ThemeInput(post.text, post.lang, self._authors(post), claims)


def _rows(counter: Counter[tuple[Any, ...]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [dict(zip(names, key, strict=True), posts=n) for key, n in counter.items()]
    return sorted(rows, key=lambda r: (-r["posts"], *(str(r[k]) for k in names)))


def _finish(
    acc: _Accumulator,
    *,
    since: datetime | None,
    until: datetime | None,
    themes: bool,
    store: Store | None,
) -> dict[str, Any]:
    c = acc.c
    labels = {k[0]: n for k, n in c["labels"].items()}
    n_claim = c["claim_posts"][("offer",)]
    names = claim_labels()
    shown: set[str] = set()
    picked: dict[str, list[tuple[str, str | None, tuple[str, ...]]]] = {}
    for claim in sorted(names, key=lambda k: (-c["claims"][(k,)], k)):
        # The same popular ad makes many claims: show each claim with posts not shown yet.
        candidates = acc.examples[claim]
        fresh = [e for e in candidates if e[0] not in shown]
        picked[claim] = (fresh + [e for e in candidates if e[0] in shown])[:_EXAMPLES_PER_CLAIM]
        shown.update(e[0] for e in picked[claim])
    claims = [
        {
            "claim": claim,
            "name": names.get(claim, claim),
            "posts": c["claims"][(claim,)],
            "share": round(c["claims"][(claim,)] / n_claim, 4) if n_claim else 0.0,
            "examples": [excerpt(t, authors=a, lang=lg) for t, lg, a in picked[claim]],
        }
        for claim in names
    ]
    claims.sort(key=lambda r: (-r["posts"], r["claim"]))
    prices = []
    for (route, currency), amounts in acc.prices.items():
        prices.append(
            {
                "route": route,
                "currency": currency,
                "posts": len(amounts),
                "median": round(statistics.median(amounts), 2),
                "min": min(amounts),
                "max": max(amounts),
            }
        )
    prices.sort(key=lambda r: (-r["posts"], r["route"], r["currency"]))
    theme_out: dict[str, Any] = {}
    unthemed_out: dict[str, Any] = {}
    for label in THEME_LABELS:
        sample = acc.samples[label]
        found = find_themes(sample, seed=acc.seed, store=store) if themes else []
        total = labels.get(label, 0)
        theme_out[label] = [
            {**t.as_dict(), "estimated_posts": round(t.share * total)} for t in found
        ]
        if themes:
            # Posts the encoder cannot read are in no theme: say how many, and in which languages.
            langs = unthemed(sample)
            n = sum(langs.values())
            unthemed_out[label] = {
                "posts": n,
                "estimated_posts": round(n / len(sample) * total) if sample else 0,
                "languages": langs,
            }
    out: dict[str, Any] = {
        "since": since.date().isoformat() if since else None,
        "until": (until - timedelta(days=1)).date().isoformat() if until else None,
        "first_post": acc.first.isoformat() if acc.first else None,
        "last_post": acc.last.isoformat() if acc.last else None,
        "posts": acc.n,
        "labels": labels,
        "volume": _rows(c["volume"], ("period", "label")),
        "languages": _rows(c["languages"], ("lang", "label")),
        "sources": _rows(c["sources"], ("source", "kind", "label")),
        "platforms": _rows(c["platforms"], ("platform", "label")),
        "routes": _rows(c["routes"], ("departure", "destination", "label")),
        "demand_routes": _rows(c["demand_routes"], ("departure", "destination", "lang")),
        "demand_languages": _rows(c["demand_languages"], ("lang",)),
        "claims": claims,
        "claims_by_lang": _rows(c["claims_lang"], ("claim", "lang")),
        "claims_by_route": _rows(c["claims_route"], ("claim", "route")),
        "claims_by_period": _rows(c["claims_period"], ("claim", "period")),
        "prices": prices,
        "themes": theme_out,
        "unthemed": unthemed_out,
        "theme_sample": {label: len(acc.samples[label]) for label in THEME_LABELS},
    }
    out["summary"] = summary(out)
    return out


def summary(data: dict[str, Any]) -> list[str]:
    """The executive summary: a few plain sentences from the aggregates."""
    lines = []
    labels = data["labels"]
    span = f"{data['since'] or data['first_post'] or '…'} to {data['until'] or data['last_post'] or '…'}"
    lines.append(
        f"{data['posts']} posts from {span}: {labels.get('offer', 0)} smuggling offers, "
        f"{labels.get('request', 0)} requests for smugglers, {labels.get('warning', 0)} warnings."
    )
    offer_langs = [r for r in data["languages"] if r["label"] == "offer"][:3]
    if offer_langs:
        lines.append(
            "Offers are mostly in "
            + ", ".join(f"{r['lang']} ({r['posts']})" for r in offer_langs)
            + "."
        )
    offer_routes = [r for r in data["routes"] if r["label"] == "offer"][:3]
    if offer_routes:
        lines.append(
            "Most advertised routes: "
            + ", ".join(
                f"{r['departure']} → {r['destination']} ({r['posts']})" for r in offer_routes
            )
            + "."
        )
    top_claims = [r for r in data["claims"] if r["posts"]][:3]
    if top_claims:
        lines.append(
            "Most common promises in offers: "
            + ", ".join(f"{r['name'].lower()} ({r['share']:.0%})" for r in top_claims)
            + "."
        )
    if data["demand_routes"]:
        top = data["demand_routes"][:3]
        lines.append(
            "People asking for smugglers most often mention "
            + ", ".join(f"{r['departure']} → {r['destination']} ({r['lang']})" for r in top)
            + "."
        )
    weeks = sorted({r["period"] for r in data["volume"] if r["period"] != "?"})
    if len(weeks) >= 2:
        per_week = Counter()
        for r in data["volume"]:
            if r["label"] == "offer":
                per_week[r["period"]] += r["posts"]
        first, last = per_week[weeks[0]], per_week[weeks[-1]]
        lines.append(f"Offers per week went from {first} ({weeks[0]}) to {last} ({weeks[-1]}).")
    offer_themes = data["themes"].get("offer") or []
    if offer_themes:
        lines.append(
            "Largest offer themes: " + "; ".join(t["label"] for t in offer_themes[:3]) + "."
        )
    left_out = [
        f"{n['posts']} {label}s ({', '.join(f'{lg} {k}' for lg, k in n['languages'].items())})"
        for label, n in (data.get("unthemed") or {}).items()
        if n["posts"]
    ]
    if left_out:
        lines.append(
            "Themes leave out sampled posts the encoder cannot read: " + "; ".join(left_out) + "."
        )
    return lines


def aggregates_from_posts(
    posts: Iterable[Post],
    *,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    themes: bool = True,
    theme_sample: int = 200,
    seed: int = 0,
    store: Store | None = None,
    text_chars: int = TEXT_CHARS,
) -> dict[str, Any]:
    """The campaign aggregates of ``posts`` (labelled by the classifier) within the dates.

    A post's time is ``posted_at``, else ``fetched_at``; ``until`` as a date includes
    that day. Themes come from a seeded sample of ``theme_sample`` offers and requests.
    Claims and themes read the first ``text_chars`` of each post (``limits.classify_chars``).
    """
    start, end = _bound(since, end=False), _bound(until, end=True)
    acc = _Accumulator(seed=seed, theme_sample=theme_sample)
    for post in posts:
        item = post if isinstance(post, CampaignPost) else _item(post, text_chars)
        when = item.when
        if when is not None and ((start and when < start) or (end and when >= end)):
            continue
        acc.add(item)
    return _finish(acc, since=start, until=end, themes=themes, store=store)


def _rows_of(counts: dict[tuple[Any, ...], int], names: tuple[str, ...]) -> list[dict[str, Any]]:
    counter: Counter[tuple[Any, ...]] = Counter()
    for key, n in counts.items():
        counter[tuple(v if v is not None else "?" for v in key[:-1]) + (key[-1] or UNSCORED,)] += n
    return _rows(counter, names)


def overview(
    store: Store,
    *,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
) -> dict[str, Any]:
    """The counts of :func:`aggregates` — ``posts``, ``labels``, weekly ``volume``,
    ``languages``, ``platforms``, first and last post, and ``kinds`` (``sources`` without
    the source names, which can be handles) — grouped in SQL; plus the most shared
    ``contacts`` as pseudonyms.

    The same numbers as the full aggregates without reading every post: the campaign
    overview page stays fast at 100,000s of posts. Claims, routes, prices and themes
    need the texts; they are in the report (:func:`aggregates`).
    """
    start, end = _bound(since, end=False), _bound(until, end=True)
    if start and end and start >= end:
        raise InputError(f"--from {since} is after --to {until} — swap the dates")
    counts = store.campaign_counts(start, end)
    weeks: Counter[tuple[Any, ...]] = Counter()
    labels: Counter[str] = Counter()
    for (day, label), n in counts.days.items():
        period = week_of(datetime.fromisoformat(day)) if day != "?" else "?"
        weeks[(period, label or UNSCORED)] += n
        labels[label or UNSCORED] += n
    return {
        "since": start.date().isoformat() if start else None,
        "until": (end - timedelta(days=1)).date().isoformat() if end else None,
        "first_post": counts.first.isoformat() if counts.first else None,
        "last_post": counts.last.isoformat() if counts.last else None,
        "posts": counts.posts,
        "labels": dict(labels),
        "volume": _rows(weeks, ("period", "label")),
        "languages": _rows_of(counts.languages, ("lang", "label")),
        # Source kinds, not source names: a channel name is itself a handle.
        "kinds": _rows_of(counts.kinds, ("kind", "label")),
        "platforms": _rows_of(counts.platforms, ("platform", "label")),
        # Contacts shared by several posts, as pseudonyms (keyed hashes), never in clear.
        "contacts": [
            {"kind": kind, "pseudonym": pseudonym, "platform": platform, "posts": n}
            for kind, pseudonym, platform, n in counts.contacts
        ],
    }


def aggregates(
    store: Store,
    *,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    themes: bool = True,
    theme_sample: int = 200,
    seed: int = 0,
    text_chars: int = TEXT_CHARS,
) -> dict[str, Any]:
    """The campaign aggregates over the store's posts between ``since`` and ``until``.

    Counts stream over every post in the window (by each post's current score);
    themes embed a seeded sample, cached in the store. Each post is read up to its first
    ``text_chars`` characters (``limits.classify_chars``).
    """
    start, end = _bound(since, end=False), _bound(until, end=True)
    if start and end and start >= end:
        raise InputError(f"--from {since} is after --to {until} — swap the dates")
    return aggregates_from_posts(
        (p for p in store.campaign_posts(start, end, text_chars=text_chars)),
        since=start,
        until=end,
        themes=themes,
        theme_sample=theme_sample,
        seed=seed,
        store=store,
        text_chars=text_chars,
    )
