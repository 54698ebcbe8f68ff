"""Candidate networks: posts joined by repost clusters and shared (pseudonymised) contacts.

Connected components of that graph with two or more posts are candidate networks, each
with a summary an analyst can start from: posts, sources, languages, contacts, routes,
first and last seen. ``build_networks(store)`` computes and stores them;
``list_networks(store)`` reads them back, largest first.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import DEFAULT_ENCODER
from ..post import Post
from .cluster import ClusterSettings, cluster_posts, components, contact_groups, post_contacts

if TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger(__name__)


def network_labels(posts: Sequence[Post]) -> np.ndarray:
    """Component label per post, joining posts of one cluster and posts sharing a contact."""
    n = len(posts)
    edges = []
    by_cluster: dict[str, int] = {}
    left, right = [], []
    for i, post in enumerate(posts):
        if post.cluster is not None:
            head = by_cluster.setdefault(post.cluster, i)
            if head != i:
                left.append(head)
                right.append(i)
    edges.append((np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)))
    for group in contact_groups([post_contacts(p) for p in posts]):
        edges.append((np.full(len(group) - 1, group[0]), group[1:]))
    return components(n, edges)


def summarise(posts: Sequence[Post]) -> dict[str, Any]:
    """What an analyst sees first about a network (contacts only as pseudonyms or values given)."""
    seen = sorted(t for p in posts for t in (p.posted_at or p.fetched_at,) if t)
    routes: Counter[str] = Counter()
    for p in posts:
        places = [e.get("value") or e.get("text") for e in (p.entities or {}).get("places") or []]
        places = [x for x in dict.fromkeys(places) if x]
        if len(places) >= 2:
            routes[" → ".join(places[:2])] += 1
        elif places:
            routes[places[0]] += 1
    return {
        "posts": len(posts),
        "post_ids": [p.id for p in posts],
        "clusters": sorted({p.cluster for p in posts if p.cluster}),
        "sources": dict(Counter(p.source or "unknown" for p in posts).most_common()),
        "languages": dict(Counter(p.lang or "unknown" for p in posts).most_common()),
        "labels": dict(Counter(p.label or "unscored" for p in posts).most_common()),
        "contacts": sorted({c for p in posts for c in post_contacts(p)}),
        "routes": dict(routes.most_common(10)),
        "first_seen": seen[0] if seen else None,
        "last_seen": seen[-1] if seen else None,
    }


def find_networks(posts: Sequence[Post]) -> list[dict[str, Any]]:
    """Networks (components of >= 2 posts) as summaries with an ``id``, largest first."""
    labels = network_labels(posts)
    groups: dict[int, list[Post]] = {}
    for label, post in zip(labels.tolist(), posts, strict=True):
        groups.setdefault(label, []).append(post)
    networks = []
    for members in groups.values():
        if len(members) < 2:
            continue
        key = min(p.content_hash for p in members)
        summary = summarise(members)
        networks.append({"id": f"n-{hashlib.sha256(key.encode()).hexdigest()[:16]}", **summary})
    return sorted(networks, key=lambda n: (-n["posts"], n["id"]))


def build_networks(
    store: Store,
    *,
    encoder: str | None = DEFAULT_ENCODER,
    settings: ClusterSettings | None = None,
) -> list[dict[str, Any]]:
    """Cluster every stored post, find networks, and store both (replacing the last run)."""
    posts = list(store.iter_posts())
    clustered = cluster_posts(posts, encoder=encoder, store=store, settings=settings)
    networks = find_networks(clustered)
    network_of = {pid: n["id"] for n in networks for pid in n["post_ids"]}
    store.replace_links(
        (
            (int(p.id), p.cluster, network_of.get(p.id))  # type: ignore[arg-type]
            for p in clustered
            if p.cluster is not None or p.id in network_of
        ),
        networks,
    )
    logger.info("linked %s posts: %s networks", len(posts), len(networks))
    return networks


def list_networks(store: Store, *, limit: int = 50) -> list[dict[str, Any]]:
    """Stored networks, largest first."""
    return store.networks(limit=limit)


def post_links(store: Store, post_pk: int) -> dict[str, Any]:
    """The cluster and network of a stored post, and the other posts of its cluster."""
    return store.post_links(post_pk)
