"""An ad's fingerprint: what survives translation, whatever the script or the encoder.

A translation of an ad keeps its phone numbers and handles, the places of its route in
order, its price and currency, its dates and often its emoji. The extract stage already
writes those in canonical form (E.164, lower-case handle, gazetteer name, ISO 4217, ISO
date), so an Arabic, a Sorani and an English post of one ad give the same values.

Rules (``same_ad``), chosen on the translation families of ``annotaties/``:

- a shared contact (phone or handle) *and* the same route *and* compatible prices are one
  ad, in any language. Routes are the same when two or more places are named in the same
  order on both sides, or three or more shared in order and one place more on a side (a
  place the extractor read in one translation only: Albanian "nga" is also Vietnamese
  for Russia);
- with fewer than two places on either side, a shared contact, compatible prices and the
  same emoji sequence (three or more emoji) are one ad (a repost with its emoji intact);
- prices are compatible when either post names none, or they share a currency with amounts
  within ``PRICE_RATIO`` (reposts round or raise a price); two different currencies only
  are not compatible;
- dates are compatible when either post names none or they share one;
- a shared contact alone is *not* one ad (one smuggler runs several ads): the network stage
  joins such posts into a network (``link.network``), not into a cluster. ``conflict`` also
  vetoes the embedding links of ``link.cluster`` (similar vectors; shared contact + loosely
  similar vectors) when the routes, places, prices or dates say "different ads".

``fingerprint_pairs`` is linear in the posts: posts are grouped by contact, and a post is
compared with at most ``_MAX_HEADS`` distinct ads of its group.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import entities as entity_kinds
from ..post import Post

# A repost that rounds 3,450 to 3,500 or adds "now 4000" to a 3500 ad is the same ad; a
# different ad of one network (Zuwara boat 3,500 vs. truck 9,000) is not.
PRICE_RATIO = 1.35
MIN_ROUTE = 2
MIN_EMOJI = 3

_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    "|[\U0001f300-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]"
)
# Keycap digits spell phone numbers (1️⃣), not the ad's decoration.
_KEYCAP = re.compile("[0-9#*]\ufe0f?\u20e3")


@dataclass(frozen=True)
class Fingerprint:
    """What of one post survives translation (canonical values from the extract stage)."""

    contacts: frozenset[str]
    route: tuple[str, ...]
    prices: tuple[tuple[float, str], ...]
    dates: frozenset[str]
    emoji: tuple[str, ...]

    @property
    def has_route(self) -> bool:
        return len(self.route) >= MIN_ROUTE


def contact_keys(entities: dict | None) -> list[str]:
    """A post's contacts as linking keys (pseudonyms when the store made them)."""
    keys = []
    for kind in entity_kinds.contact_keys():
        for item in (entities or {}).get(kind) or []:
            value = item.get("pseudonym") or item.get("value")
            if value:
                platform = item.get("platform") or ""
                keys.append(f"{kind}:{platform}:{str(value).lower()}")
    return keys


def emoji_sequence(text: str) -> tuple[str, ...]:
    """The emoji of ``text`` in order, without skin tones, variation selectors or keycaps."""
    return tuple(_EMOJI.findall(_KEYCAP.sub(" ", text)))


def fingerprint(post: Post) -> Fingerprint:
    """The fingerprint of a post whose ``entities`` the extract stage filled."""
    ents = post.entities or {}
    places = [str(p["value"]) for p in ents.get("places") or [] if p.get("value")]
    prices = tuple(
        (float(p["amount"]), str(p["currency"]))
        for p in ents.get("prices") or []
        if p.get("amount") is not None and p.get("currency")
    )
    dates = frozenset(str(d.get("value")) for d in ents.get("dates") or [] if d.get("value"))
    return Fingerprint(
        contacts=frozenset(contact_keys(ents)),
        route=tuple(dict.fromkeys(places)),  # first mention order, each place once
        prices=prices,
        dates=dates,
        emoji=emoji_sequence(post.text),
    )


def compatible_prices(a: Sequence[tuple[float, str]], b: Sequence[tuple[float, str]]) -> bool:
    """True when either side names no price, or a price of each is in one currency and close.

    >>> compatible_prices([(3500.0, "EUR")], [(3700.0, "EUR")])
    True
    >>> compatible_prices([(3500.0, "EUR")], [(3500.0, "USD")])
    False
    """
    if not a or not b:
        return True
    for amount_a, cur_a in a:
        for amount_b, cur_b in b:
            if cur_a != cur_b or min(amount_a, amount_b) <= 0:
                continue
            if max(amount_a, amount_b) / min(amount_a, amount_b) <= PRICE_RATIO:
                return True
    return False


def compatible_dates(a: frozenset[str], b: frozenset[str]) -> bool:
    """True when either side names no date or they share one."""
    return not a or not b or bool(a & b)


def _common_in_order(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (routes are a handful of places)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(prev[j] + 1 if x == y else max(prev[j + 1], row[j]))
        prev = row
    return prev[-1]


def same_route(a: Sequence[str], b: Sequence[str]) -> bool:
    """The same places in the same order; one extra place on a side when three are shared.

    >>> same_route(("Bihac", "Italy", "Sarajevo"), ("Russia", "Bihac", "Italy", "Sarajevo"))
    True
    >>> same_route(("Poland", "Germany"), ("Minsk", "Poland", "Germany"))
    False
    >>> same_route(("Calais", "London"), ("London", "Calais"))
    False
    """
    if len(a) < MIN_ROUTE or len(b) < MIN_ROUTE:
        return False
    common = _common_in_order(a, b)
    extra = max(len(a), len(b)) - common
    # An extra place is tolerated only beside three shared ones: "Poland, Germany" (a taxi
    # after the forest) is not "Minsk, Poland, Germany" (the forest crossing itself).
    return extra == 0 or (common >= 3 and extra <= 1)


def conflict(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two posts are surely different ads: both name a route and the routes differ,
    both name places but none in common, or their prices or dates are incompatible."""
    if a.has_route and b.has_route and not same_route(a.route, b.route):
        return True
    if a.route and b.route and not set(a.route) & set(b.route):
        return True
    return not compatible_prices(a.prices, b.prices) or not compatible_dates(a.dates, b.dates)


def same_ad(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two posts are one ad by their fingerprints (see the module rules)."""
    if not (a.contacts & b.contacts):
        return False
    if not compatible_prices(a.prices, b.prices) or not compatible_dates(a.dates, b.dates):
        return False
    if a.has_route and b.has_route:
        return same_route(a.route, b.route)
    return len(a.emoji) >= MIN_EMOJI and a.emoji == b.emoji


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())


def fingerprint_pairs(
    prints: Sequence[Fingerprint], labels: Sequence[str | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of posts that are one ad by ``same_ad`` (a chain per group of equal posts).

    Posts with a route or an emoji run are bucketed by contact; inside a bucket, each post
    links to the first earlier distinct ad it is ``same_ad`` with. ``labels`` (from
    the classifier, when known) keep an offer and a warning that quotes it apart.
    """
    buckets: dict[int, list[int]] = {}
    for i, fp in enumerate(prints):
        if fp.has_route or len(fp.emoji) >= MIN_EMOJI:
            for contact in fp.contacts:
                buckets.setdefault(_key(contact), []).append(i)
    left: list[int] = []
    right: list[int] = []
    for members in buckets.values():
        if len(members) < 2:
            continue
        heads: list[int] = []  # one representative per distinct ad in the bucket
        for i in members:
            for h in heads[-_MAX_HEADS:]:
                if _apart(labels, h, i) or not same_ad(prints[h], prints[i]):
                    continue
                left.append(h)
                right.append(i)
                break
            else:
                heads.append(i)
    return np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)


_MAX_HEADS = 32  # bounds the work on a huge bucket (one contact in thousands of posts)
_OPPOSED = {"offer": "warning", "warning": "offer"}


def _apart(labels: Sequence[str | None] | None, i: int, j: int) -> bool:
    if labels is None or labels[i] is None:
        return False
    return _OPPOSED.get(str(labels[i])) == labels[j]
