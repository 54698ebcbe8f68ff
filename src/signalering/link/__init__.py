"""The link stage: repost clusters, similarity to known offers, and networks.

- ``cluster_posts(posts)``: reposts, edits and translations of one ad get one ``cluster`` id
  (MinHash LSH on normalised text, embedding neighbours, shared contacts + similar text);
- ``ExemplarBank`` / ``similar``: nearest confirmed offers of each post, with cosine scores,
  flagged by ``similarity.rule`` (``Combiner``: the learned similarity + classifier rule);
- ``build_networks(store)``: posts joined by clusters and shared contacts, as stored
  candidate networks with a summary.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .combine import Combiner
from .similar import ExemplarBank, Match, similar  # after the submodule: the function

if TYPE_CHECKING:
    from .cluster import ClusterSettings, bcubed, cluster_labels, cluster_posts
    from .network import build_networks, find_networks, list_networks, post_links

# Imported on first use (PEP 562): `signalering classify` needs only ``similar``, and
# ``network`` alone brings SQLAlchemy (~0.3 s of a cold start).
_WHERE = {
    "ClusterSettings": "cluster",
    "bcubed": "cluster",
    "cluster_labels": "cluster",
    "cluster_posts": "cluster",
    "build_networks": "network",
    "find_networks": "network",
    "list_networks": "network",
    "post_links": "network",
}

__all__ = [
    "ClusterSettings",
    "Combiner",
    "ExemplarBank",
    "Match",
    "bcubed",
    "build_networks",
    "cluster_labels",
    "cluster_posts",
    "find_networks",
    "list_networks",
    "post_links",
    "similar",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
