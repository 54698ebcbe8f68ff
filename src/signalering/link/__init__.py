"""The link stage: repost clusters, similarity to known offers, and networks.

- ``cluster_posts(posts)``: reposts, edits and translations of one ad get one ``cluster`` id
  (MinHash LSH on normalised text, embedding neighbours, shared contacts + similar text);
- ``ExemplarBank`` / ``similar``: nearest confirmed offers of each post, with cosine scores,
  flagged by ``similarity.rule`` (``Combiner``: the learned similarity + classifier rule);
- ``build_networks(store)``: posts joined by clusters and shared contacts, as stored
  candidate networks with a summary.
"""

from __future__ import annotations

from .cluster import ClusterSettings, bcubed, cluster_labels, cluster_posts
from .combine import Combiner
from .network import build_networks, find_networks, list_networks, post_links
from .similar import ExemplarBank, Match, similar

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
