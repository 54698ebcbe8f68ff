"""Similarity to known offers: an exemplar bank, nearest exemplars, and the flagging rule.

The bank holds the offers of ``annotaties/`` plus every post an analyst confirmed as an
offer in the store. Each new post gets its nearest exemplars with cosine scores as
evidence, and ``similarity.rule`` decides whether similarity also flags it:

- ``logistic`` (default): ``P(offer) >= threshold OR combined score >= cut``, the learned
  combiner of ``model.combiner`` (fitted by ``signalering train``, saved as combiner.json);
- ``or``: ``P(offer) >= threshold OR top cosine >= flag_cosine``;
- ``off``: nearest exemplars as evidence only.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import corpus as corpus_mod
from ..config import DEFAULT_ENCODER, SimilaritySettings
from ..embed import (
    EmbeddingCache,
    FileEmbeddingCache,
    get_encoder,
    readable,
    recent_encode,
)
from ..errors import ModelError
from ..evidence import Rule as RuleEvidence
from ..evidence import SimilarMatch
from ..files import replace_atomically
from ..post import Post
from ..text import normalise
from .combiner import COMBINER_FILE, RULES, Combiner, Rule

if TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger(__name__)

_EVIDENCE_MIN = 0.6  # nearest exemplars below this are not worth showing
# What ``similar`` uses when a caller gives no rule, cut or k: the declared defaults of
# ``[similarity]`` (config.py), never a copy of them.
_DECLARED = SimilaritySettings()


@dataclass(frozen=True)
class Match:
    """One nearest exemplar of a post."""

    exemplar: str
    lang: str | None
    score: float
    origin: str  # "corpus" or "confirmed"

    def evidence(self) -> dict[str, Any]:
        who = "confirmed offer" if self.origin == "confirmed" else "known offer"
        lang = f", {self.lang}" if self.lang else ""
        text = f"{self.score:.2f} like {who} {self.exemplar}{lang}"
        return SimilarMatch(self.exemplar, round(self.score, 2), self.lang, text=text).to_dict()


@dataclass
class ExemplarBank:
    """Offer exemplars as unit vectors of one encoder, with their ids, languages and origin."""

    encoder: str = DEFAULT_ENCODER
    ids: list[str] = field(default_factory=list)
    langs: list[str | None] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        langs: Sequence[str | None],
        *,
        origin: str,
        store: Store | None = None,
        cache: FileEmbeddingCache | None = None,
    ) -> ExemplarBank:
        """Embed and add exemplars (cached in ``store``, else in ``cache``); returns self."""
        if not ids:
            return self
        model = get_encoder(self.encoder)
        texts = [normalise(t).text for t in texts]  # as posts are compared: normalised
        if store is not None:
            vectors = EmbeddingCache(store).encode(texts, model)
        elif cache is not None:
            vectors = cache.encode(texts, model)
        else:
            vectors = model.encode(texts)
        vectors = readable(texts, model, vectors)
        self.vectors = vectors if self.vectors is None else np.vstack([self.vectors, vectors])
        self.ids.extend(ids)
        self.langs.extend(langs)
        self.origins.extend([origin] * len(ids))
        return self

    @classmethod
    def from_corpus(
        cls,
        records: Sequence[dict] | None = None,
        *,
        encoder: str = DEFAULT_ENCODER,
        store: Store | None = None,
        cache: FileEmbeddingCache | None = None,
    ) -> ExemplarBank:
        """The offers of the annotated corpus (pass the train part when measuring)."""
        records = corpus_mod.load() if records is None else records
        offers = [r for r in records if r.get("label") == "offer"]
        return cls(encoder=encoder).add(
            [r["id"] for r in offers],
            [r["text"] for r in offers],
            [r.get("lang") for r in offers],
            origin="corpus",
            store=store,
            cache=cache,
        )

    def add_confirmed(self, store: Store) -> ExemplarBank:
        """Add every stored post an analyst confirmed as an offer (decision ``confirm``)."""
        posts = confirmed_offers(store)
        return self.add(
            [f"post-{p.id}" for p in posts],
            [p.text for p in posts],
            [p.lang for p in posts],
            origin="confirmed",
            store=store,
        )

    def nearest(self, vectors: np.ndarray, *, k: int) -> list[list[Match]]:
        """The ``k`` most similar exemplars of each row, best first."""
        if self.vectors is None or not len(self.ids):
            raise ModelError(
                "the exemplar bank is empty — build it with ExemplarBank.from_corpus() "
                "or confirm offers in the review app"
            )
        out: list[list[Match]] = []
        k = min(k, len(self.ids))
        for s in range(0, len(vectors), 1024):
            sims = vectors[s : s + 1024] @ self.vectors.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            for row, cols in zip(sims, top, strict=True):
                cols = cols[np.argsort(-row[cols])]
                out.append(
                    [
                        Match(self.ids[c], self.langs[c], float(row[c]), self.origins[c])
                        for c in cols
                    ]
                )
        return out

    def top_scores(self, vectors: np.ndarray) -> np.ndarray:
        """The best cosine of each row to any exemplar."""
        return np.array([m[0].score for m in self.nearest(vectors, k=1)])


def confirmed_offers(store: Store) -> list[Post]:
    """Stored posts analysts confirmed as offers, by the rule the review app uses too.

    A ``confirm`` of the label ``offer`` (or without a label, of a post labelled ``offer``)
    or a ``correct`` to ``offer``, unless a later decision took it back
    (``store.decisions.confirmed_offer_ids``).
    """
    from ..store.decisions import confirmed_offer_ids

    return [p for p in (store.get(pk) for pk in confirmed_offer_ids(store)) if p is not None]


def load_bank(
    *,
    encoder: str = DEFAULT_ENCODER,
    corpus: str | Path | None = None,
    store: Store | None = None,
    cache_dir: Path | None,
) -> ExemplarBank:
    """The product's bank: offers of ``corpus`` plus, with a store, analyst-confirmed offers.

    Exemplar vectors are cached in the store when one is given, else in ``cache_dir``
    (``similarity.cache_dir``; ``None``: no cache), so a second load embeds nothing.
    """
    cache = FileEmbeddingCache(cache_dir) if cache_dir is not None and store is None else None
    saved = _bank_file(cache_dir, encoder, corpus) if cache is not None else None
    bank = _read_bank(saved, encoder) if saved is not None else None
    if bank is None:
        bank = ExemplarBank.from_corpus(
            corpus_mod.load(corpus), encoder=encoder, store=store, cache=cache
        )
        if saved is not None:
            _write_bank(bank, saved)
    if store is not None:
        bank.add_confirmed(store)
    logger.info("exemplar bank: %s offers (%s)", len(bank), encoder)
    return bank


# The corpus bank without a store is kept whole in ``cache_dir`` (ids, languages, unit
# vectors), keyed by the corpus file's bytes, the encoder and what normalisation does
# (text.py and its rule tables): a start then reads one small file instead of parsing
# the corpus and normalising its ~1,000 offers (~0.16 s of a one-post classify).
_NORMALISATION = ("text.py", "data/homoglyphs.yaml", "data/keywords.yaml", "data/number_words.yaml")


def _bank_file(cache_dir: Path | None, encoder: str, corpus: str | Path | None) -> Path | None:
    import hashlib
    import unicodedata

    from .. import __version__

    source = Path(corpus) if corpus is not None else corpus_mod.DEFAULT_PATH
    package = Path(__file__).resolve().parents[1]
    if cache_dir is None or not source.is_file():
        return None
    digest = hashlib.sha256()
    try:
        digest.update(source.read_bytes())
        for name in _NORMALISATION:
            digest.update((package / name).read_bytes())
    except OSError:
        return None
    digest.update(f"{encoder}|{__version__}|{unicodedata.unidata_version}".encode())
    slug = FileEmbeddingCache(Path(cache_dir)).path(encoder).stem  # the cache's own name
    return Path(cache_dir) / f"bank-{slug}-{digest.hexdigest()[:16]}.npz"


def _read_bank(path: Path, encoder: str) -> ExemplarBank | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids = [str(x) for x in data["ids"].tolist()]
            langs = [str(x) or None for x in data["langs"].tolist()]
            vectors = np.asarray(data["vectors"], dtype=np.float32)
        if vectors.shape[0] != len(ids) or len(langs) != len(ids):
            raise ValueError("ids, languages and vectors differ in length")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring unreadable exemplar bank %s (%s); rebuilding it", path, exc)
        return None
    origins = ["corpus"] * len(ids)
    return ExemplarBank(encoder=encoder, ids=ids, langs=langs, origins=origins, vectors=vectors)


def _write_bank(bank: ExemplarBank, path: Path) -> None:
    if bank.vectors is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = path.name.rsplit("-", 1)[0]
        for old in path.parent.glob(f"{prefix}-*.npz"):
            if re.fullmatch(rf"{re.escape(prefix)}-[0-9a-f]{{16}}\.npz", old.name):
                old.unlink(missing_ok=True)  # the bank of an earlier corpus
        vectors = bank.vectors.astype(np.float32)
        replace_atomically(
            path,
            lambda tmp: np.savez(
                tmp,
                ids=np.array(bank.ids, dtype=str),
                langs=np.array([lang or "" for lang in bank.langs], dtype=str),
                vectors=vectors,
            ),
            suffix=".npz",
        )
    except OSError as exc:
        logger.warning("cannot write the exemplar bank %s (%s)", path, exc.strerror or exc)


def resolve_rule(
    rule: Rule, model_path: str | Path, *, encoder: str = DEFAULT_ENCODER
) -> tuple[Rule, Combiner | None]:
    """The rule in force and, for ``logistic``, the combiner saved beside the model.

    A model trained before combiners existed has no combiner.json: the ``or`` rule is used
    and a warning says how to make one. An unreadable combiner, or one fitted with another
    encoder, is an error (its scores would mean nothing).
    """
    if rule != "logistic":
        return rule, None
    combiner = Combiner.load(model_path)
    where = Path(model_path) / COMBINER_FILE
    if combiner is None:
        logger.warning(
            "similarity.rule is 'logistic' but %s is missing — flagging with the 'or' rule; "
            "run `signalering train` to make it",
            where,
        )
        return "or", None
    if combiner.encoder != encoder:
        raise ModelError(
            f"combiner {where} was fitted with encoder '{combiner.encoder}', not "
            f"similarity.encoder '{encoder}' — run `signalering train` with this encoder, "
            'or set similarity.rule = "or"'
        )
    return "logistic", combiner


def similar(
    posts: Sequence[Post],
    bank: ExemplarBank,
    *,
    store: Store | None = None,
    rule: Rule | None = None,
    combiner: Combiner | None = None,
    flag_cosine: float | None = None,
    k: int | None = None,
    max_chars: int | None = None,
) -> list[Post]:
    """Add nearest-exemplar evidence to each post, and flag it by ``rule``.

    The encoder reads the first ``max_chars`` of each normalised text (all when None).

    ``or``: flagged when the top cosine >= ``flag_cosine``; ``logistic``: when
    ``combiner``'s score of P(offer) (``post.scores["offer"]``) and the top cosine reaches
    its cut; ``off``: evidence only. A post the classifier flagged stays flagged; one that
    similarity flags gets a ``rule`` evidence entry naming the rule and the numbers.
    ``rule``, ``flag_cosine`` and ``k`` left out are ``[similarity]``'s declared defaults.
    """
    rule = _DECLARED.rule if rule is None else rule
    flag_cosine = _DECLARED.flag_cosine if flag_cosine is None else flag_cosine
    k = _DECLARED.k if k is None else k
    if rule not in RULES:
        raise ModelError(f"unknown similarity rule '{rule}' — use one of {', '.join(RULES)}")
    if rule == "logistic" and combiner is None:
        raise ModelError(
            "the 'logistic' similarity rule needs the combiner (combiner.json beside the "
            'model) — run `signalering train`, or set similarity.rule = "or"'
        )
    if not posts:
        return []
    model = get_encoder(bank.encoder)
    # The normalised text (obfuscation folded), as the classifier embeds it: one pass.
    texts = [(p.normalised or normalise(p.text[:max_chars])).text[:max_chars] for p in posts]
    vectors = (
        EmbeddingCache(store).encode(texts, model)
        if store is not None
        else recent_encode(texts, model)
    )
    # A post the encoder cannot read (Tigrinya under USE-m3) resembles nothing.
    nearest = bank.nearest(readable(texts, model, vectors), k=k)
    combined: list[float | None] = [None] * len(posts)
    if rule == "logistic" and combiner is not None:
        rows = [
            i
            for i, p in enumerate(posts)
            if nearest[i] and (p.scores or {}).get("offer") is not None
        ]
        if rows:
            p_offer = np.array([float(posts[i].scores["offer"]) for i in rows])  # type: ignore[index]
            top = np.array([nearest[i][0].score for i in rows])
            for i, score in zip(rows, combiner.score(p_offer, top), strict=True):
                combined[i] = float(score)
    out = []
    for i, (post, matches) in enumerate(zip(posts, nearest, strict=True)):
        shown = [m.evidence() for m in matches if m.score >= _EVIDENCE_MIN]
        evidence = list(post.evidence or []) + shown
        flagged = bool(post.flagged)
        why = None
        if flagged or not matches:
            pass
        elif rule == "or" and matches[0].score >= flag_cosine:
            why = (
                f"flagged: {matches[0].score:.2f} >= {flag_cosine} like a known offer "
                f"(rule or: P(offer) >= threshold OR similarity >= {flag_cosine})"
            )
        elif combiner is not None and (c := combined[i]) is not None and c >= combiner.cut:
            top = matches[0]
            who = "confirmed offer" if top.origin == "confirmed" else "known offer"
            why = (
                f"flagged: combined score {c:.2f} >= {combiner.cut:.2f} "
                f"(P(offer) {float(post.scores['offer']):.2f}, "  # type: ignore[index]
                f"{top.score:.2f} like {who} {top.exemplar}; rule logistic: "
                "P(offer) >= threshold OR combined score >= cut)"
            )
        if why:
            flagged = True
            score = round(combined[i] or 0.0, 4) if rule == "logistic" else None
            evidence.append(RuleEvidence(rule, why, score).to_dict())
        out.append(post.with_(evidence=evidence, flagged=flagged))
    return out
