"""Repost clustering: near-identical text, translations and paraphrases, shared contacts.

Three kinds of links join posts, and clusters are the connected components:

- MinHash LSH on normalised text (reposts with an edited price, a swapped number, typos);
- embedding neighbours above a precision-first cosine threshold (translations, paraphrases);
- a shared phone number or handle (pseudonym) between posts whose vectors are at least
  loosely similar (``contact_cosine``): one advertiser's translations of one ad. A shared
  contact alone is not enough, because one smuggler runs several different ads; those
  are joined later, into a network (``link.network``);
- the ad's fingerprint (``link.fingerprint``): a shared contact *and* the same route (places
  in order) *and* compatible prices, whatever the cosine and the script: translations into
  languages the encoder does not read (Tigrinya, Sorani, Pashto, Dari, Vietnamese...).

Posts without entities (raw JSONL) are run through the extract stage first, and posts in a
language the encoder does not separate (``link.readability``) get no embedding links.

Thresholds were chosen on the families of ``annotaties/`` (``docs``: see the README).

A cluster id is ``c-`` plus the start of the smallest content hash among its members, so
it does not depend on input order. A post alone gets ``None``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..embed import DEFAULT_ENCODER, encode, get_encoder, readable
from ..post import Post
from .fingerprint import Fingerprint, conflict, contact_keys, fingerprint, fingerprint_pairs
from .minhash import lsh_pairs, signatures
from .neighbours import neighbour_pairs

if TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSettings:
    """Thresholds of the three link kinds (chosen on the corpus families; see docs)."""

    jaccard: float = 0.4
    cosine: float = 0.85
    contact_cosine: float | None = 0.6
    num_perm: int = 64
    bands: int = 16
    fingerprint: bool = True


_SMALL_GROUP = 64
# Defaults of limits.cluster_chars and limits.encoder_chars (config.LimitsSettings).
CLUSTER_CHARS = 20_000
ENCODER_CHARS = 20_000
# What raw posts' language identification and entity extraction read (limits.*).
LANGUAGE_CHARS = 20_000
EXTRACT_CHARS = 200_000


def contact_groups(contacts: Sequence[Iterable[str]]) -> list[np.ndarray]:
    """Indices of the posts sharing each contact, for contacts seen in two or more posts."""
    owners: list[int] = []
    keys: list[int] = []
    for i, items in enumerate(contacts):
        for item in set(items or ()):
            owners.append(i)
            keys.append(int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest()))
    if not owners:
        return []
    key_arr = np.array(keys, dtype=np.uint64)
    owner = np.array(owners, dtype=np.int64)
    order = np.argsort(key_arr, kind="stable")
    bounds = np.flatnonzero(np.diff(key_arr[order])) + 1
    return [g for g in np.split(owner[order], bounds) if len(g) > 1]


def contact_pairs(
    contacts: Sequence[Iterable[str]], vectors: np.ndarray | None, min_cosine: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs sharing a contact; with ``min_cosine``, only those whose vectors are that similar."""
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    small: list[np.ndarray] = []
    for group in contact_groups(contacts):
        if min_cosine is None or vectors is None:
            left.append(np.full(len(group) - 1, group[0]))
            right.append(group[1:])
        elif len(group) <= _SMALL_GROUP:
            a, b = np.triu_indices(len(group), 1)
            small.append(np.stack([group[a], group[b]], axis=1))
        else:
            i, j = neighbour_pairs(vectors[group], threshold=min_cosine)
            left.append(group[i])
            right.append(group[j])
    if small and vectors is not None and min_cosine is not None:
        pairs = np.concatenate(small)
        for s in range(0, len(pairs), 100_000):
            part = pairs[s : s + 100_000]
            cos = np.einsum("ij,ij->i", vectors[part[:, 0]], vectors[part[:, 1]])
            keep = cos >= min_cosine
            left.append(part[keep, 0])
            right.append(part[keep, 1])
    empty = np.zeros(0, dtype=np.int64)
    return np.concatenate(left + [empty]), np.concatenate(right + [empty])


def components(n: int, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Connected-component label per node of a graph on ``n`` nodes given edge arrays."""
    left = np.concatenate([p[0] for p in pairs] + [np.zeros(0, dtype=np.int64)])
    right = np.concatenate([p[1] for p in pairs] + [np.zeros(0, dtype=np.int64)])
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster_labels(
    texts: Sequence[str],
    *,
    vectors: np.ndarray | None = None,
    contacts: Sequence[Iterable[str]] | None = None,
    prints: Sequence[Fingerprint] | None = None,
    labels: Sequence[str | None] | None = None,
    settings: ClusterSettings | None = None,
) -> np.ndarray:
    """Component label per text (posts with the same label are one ad); no ids yet.

    ``prints`` are the posts' fingerprints; ``labels`` (classifier labels, when known) keep a
    warning that quotes an offer's contact and route out of the offer's cluster.
    """
    n = len(texts)
    settings = settings or ClusterSettings()
    sigs = signatures(texts, num_perm=settings.num_perm)
    edges = [lsh_pairs(sigs, threshold=settings.jaccard, bands=settings.bands)]
    if vectors is not None:
        edges.append(_unless_conflict(neighbour_pairs(vectors, threshold=settings.cosine), prints))
    if contacts is not None and vectors is not None and settings.contact_cosine is not None:
        found = contact_pairs(contacts, vectors, settings.contact_cosine)
        edges.append(_unless_conflict(found, prints))
    if prints is not None and settings.fingerprint:
        edges.append(fingerprint_pairs(prints, labels))
    logger.debug("cluster links: %s", [len(e[0]) for e in edges])
    return components(n, edges)


def _unless_conflict(
    pairs: tuple[np.ndarray, np.ndarray], prints: Sequence[Fingerprint] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Embedding pairs without those whose fingerprints say "different ads".

    Two requests asking the price of different crossings, or one smuggler's lorry ad from
    Calais and from Belgium, read alike to the encoder; a different route or price does not.
    """
    left, right = pairs
    if prints is None or not len(left):
        return left, right
    both = zip(left.tolist(), right.tolist(), strict=True)
    keep = np.fromiter((not conflict(prints[i], prints[j]) for i, j in both), bool, len(left))
    return left[keep], right[keep]


def cluster_ids(labels: np.ndarray, keys: Sequence[str]) -> list[str | None]:
    """Stable ids for component labels: ``c-`` + smallest member key; None for singletons."""
    sizes = np.bincount(labels)
    smallest: dict[int, str] = {}
    for label, key in zip(labels.tolist(), keys, strict=True):
        if sizes[label] > 1 and (label not in smallest or key < smallest[label]):
            smallest[label] = key
    return [f"c-{smallest[label][:16]}" if sizes[label] > 1 else None for label in labels.tolist()]


def bcubed(predicted: Sequence[object], gold: Sequence[object]) -> dict[str, float]:
    """B-cubed precision, recall and F1 of a clustering against gold groups.

    ``None`` in ``predicted`` is a singleton cluster.
    """
    pred = [p if p is not None else ("__alone__", i) for i, p in enumerate(predicted)]
    pairs: dict[tuple[object, object], int] = {}
    pred_size: dict[object, int] = {}
    gold_size: dict[object, int] = {}
    for p, g in zip(pred, gold, strict=True):
        pairs[(p, g)] = pairs.get((p, g), 0) + 1
        pred_size[p] = pred_size.get(p, 0) + 1
        gold_size[g] = gold_size.get(g, 0) + 1
    n = len(pred)
    precision = sum(c * c / pred_size[p] for (p, _), c in pairs.items()) / n
    recall = sum(c * c / gold_size[g] for (_, g), c in pairs.items()) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def post_contacts(post: Post) -> list[str]:
    """A post's contacts as linking keys (pseudonyms when the store made them)."""
    return contact_keys(post.entities)


def with_entities(posts: Sequence[Post]) -> list[Post]:
    """``posts`` with ``lang`` and ``entities`` filled where missing (raw JSONL input)."""
    todo = [i for i, p in enumerate(posts) if p.entities is None or p.lang is None]
    if not todo:
        return list(posts)
    from ..language import detect

    out = list(posts)
    for i in todo:
        if out[i].lang is None:
            out[i] = out[i].with_(lang=detect(out[i].text[:LANGUAGE_CHARS]).code)
    need = [i for i in todo if out[i].entities is None]
    if need:
        from ..extract import extract_many

        found = extract_many(
            [out[i].text[:EXTRACT_CHARS] for i in need], langs=[out[i].lang for i in need]
        )
        for i, ents in zip(need, found, strict=True):
            out[i] = out[i].with_(entities=ents)
    return out


def cluster_posts(
    posts: Sequence[Post],
    *,
    encoder: str | None = DEFAULT_ENCODER,
    store: Store | None = None,
    settings: ClusterSettings | None = None,
    max_chars: int = CLUSTER_CHARS,
    encoder_chars: int = ENCODER_CHARS,
) -> list[Post]:
    """The posts with ``cluster`` set: one id per repost/translation group, None when alone.

    Posts without ``entities`` are run through the extract stage (and language
    identification when ``lang`` is missing) and are returned with them. ``encoder=None``
    links by text and fingerprint only. Embeddings are cached in ``store`` when given.
    MinHash reads the first ``max_chars`` of each text and the encoder the first
    ``encoder_chars`` (``limits.cluster_chars`` and ``limits.encoder_chars``); a post read
    in part gets ``truncated=True``.
    """
    posts = with_entities(posts)
    texts = [p.text[:max_chars] for p in posts]
    read = min(max_chars, encoder_chars) if encoder else max_chars
    vectors = None
    if encoder and texts:
        heads = [p.text[:encoder_chars] for p in posts]
        vectors = encode(heads, encoder=encoder, store=store)
        # A post the encoder cannot read, or in a language where it does not tell one ad
        # from another (link.readability), gets a zero vector: no embedding links, as its
        # cosine to anything would be noise. MinHash and fingerprint links remain.
        vectors = readable(heads, get_encoder(encoder), vectors, langs=[p.lang for p in posts])
        del heads
    posts = [
        p.with_(truncated=True) if len(p.text) > read and not p.truncated else p for p in posts
    ]
    labels = cluster_labels(
        texts,
        vectors=vectors,
        contacts=[post_contacts(p) for p in posts],
        prints=[fingerprint(p) for p in posts],
        labels=[p.label for p in posts],
        settings=settings,
    )
    ids = cluster_ids(labels, [p.content_hash for p in posts])
    return [p.with_(cluster=cid) for p, cid in zip(posts, ids, strict=True)]
