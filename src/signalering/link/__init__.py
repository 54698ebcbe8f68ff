"""The link stage, after the store: repost clusters and networks.

- ``cluster_posts(posts)``: reposts, edits and translations of one ad get one ``cluster`` id
  (MinHash LSH on normalised text, embedding neighbours, shared contacts + similar text);
- ``build_networks(store)``: posts joined by clusters and shared contacts, as stored
  candidate networks with a summary.

Flagging one post by its similarity to known offers is the model's part
(``signalering.model.similarity``), not this package's.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import ClusterSettings, bcubed, cluster_labels, cluster_posts
    from .network import build_networks, find_networks, list_networks, post_links

# Imported on first use (PEP 562): ``network`` alone brings SQLAlchemy (~0.3 s of a
# cold start), and ``cluster`` numpy and the encoders.
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
    "bcubed",
    "build_networks",
    "cluster_labels",
    "cluster_posts",
    "find_networks",
    "list_networks",
    "post_links",
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
