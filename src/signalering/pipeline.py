"""The analysis stages in order, as plain functions over ``Post`` records.

normalise → language → classify → extract. The same ``Stages`` object runs
from the Scrapy item pipeline (``spiders.pipelines.StorePipeline``), from the
CLI on JSONL files, and from re-scoring over the store. Each stage returns new
``Post`` objects; nothing an earlier stage wrote is changed.

Each stage reads at most its cap of a post's text (``limits.*_chars`` in the
config, ``LimitsSettings``); a post one stage read only in part gets
``truncated=True``. The post keeps its whole text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from . import language as language_mod
from . import model
from .config import LimitsSettings, Settings
from .embed import cached_in
from .errors import ModelError
from .model.classifier import Classifier
from .post import Post
from .text import normalise as normalise_text

logger = logging.getLogger(__name__)

Stage = Literal["normalise", "language", "classify", "extract"]
ALL_STAGES: tuple[Stage, ...] = ("normalise", "language", "classify", "extract")
_DEFAULT = LimitsSettings()


def _marked(post: Post, length: int, cap: int) -> Post:
    """``post`` with ``truncated`` set when a stage reads only ``cap`` of ``length`` chars."""
    return post.with_(truncated=True) if length > cap and not post.truncated else post


def _normalised(post: Post, cap: int) -> Any:
    if post.normalised is not None:
        return post.normalised
    return normalise_text(post.text[:cap])


def normalise(post: Post, *, max_chars: int = _DEFAULT.normalise_chars) -> Post:
    """Attach the normalised text (of the first ``max_chars``) and its offset map."""
    post = _marked(post, len(post.text), max_chars)
    return post.with_(normalised=normalise_text(post.text[:max_chars]))


def language(post: Post, *, max_chars: int = _DEFAULT.language_chars) -> Post:
    """Detect the language of the first ``max_chars`` (script rules, then profiles)."""
    found = language_mod.detect(post.text[:max_chars])
    post = _marked(post, len(post.text), max_chars)
    return post.with_(lang=found.code, lang_confidence=round(found.confidence, 4))


def classify(
    posts: Sequence[Post],
    classifier: Classifier,
    *,
    max_chars: int = _DEFAULT.classify_chars,
    normalise_chars: int = _DEFAULT.normalise_chars,
) -> list[Post]:
    """Label, calibrated scores, flag and evidence spans, in one batch.

    The classifier reads the first ``max_chars`` of each normalised text.
    """
    normed = [_normalised(p, normalise_chars) for p in posts]
    heads = [n.head(max_chars) for n in normed]
    predictions = classifier.predict(heads)
    return [
        _marked(p, len(n.text), max_chars).with_(
            label=pred.label,
            scores=pred.scores,
            flagged=pred.flagged,
            evidence=pred.evidence,
            model_version=classifier.version,
        )
        for p, n, pred in zip(posts, normed, predictions, strict=True)
    ]


def similar(
    posts: Sequence[Post],
    bank: Any,
    *,
    store: Any = None,
    rule: str | None = None,
    combiner: Any = None,
    flag_cosine: float | None = None,
    k: int | None = None,
    max_chars: int = _DEFAULT.encoder_chars,
) -> list[Post]:
    """Nearest known offers as evidence; flag by ``rule`` (``model.similarity.similar``).

    The encoder reads the first ``max_chars`` of each normalised text. ``rule``,
    ``flag_cosine`` and ``k`` left out are ``[similarity]``'s declared defaults.
    """
    from .model.similarity import similar as similar_posts

    out = similar_posts(
        posts,
        bank,
        store=store,
        rule=rule,  # type: ignore[arg-type]
        combiner=combiner,
        flag_cosine=flag_cosine,
        k=k,
        max_chars=max_chars,
    )
    return [
        _marked(p, len(p.normalised.text if p.normalised is not None else p.text), max_chars)
        for p in out
    ]


def extract(
    post: Post,
    *,
    max_chars: int = _DEFAULT.extract_chars,
    normalise_chars: int = _DEFAULT.normalise_chars,
) -> Post:
    """Phones, handles, prices, places and dates in the first ``max_chars`` of the
    normalised text, with offsets into the original text."""
    # Imported here, not at the top: spaCy is only needed once a post reaches this stage,
    # and loading the model first (skops scans every loaded module) is cheaper without it.
    from .extract import extract as extract_entities

    hints = [h for h in (post.extras.get("region"), post.extras.get("country")) if h]
    norm = _normalised(post, normalise_chars)
    post = _marked(post, len(norm.text), max_chars)
    entities = extract_entities(norm.head(max_chars), lang=post.lang, region_hints=hints)
    return post.with_(entities=entities)


class Stages:
    """The loaded stages, ready to process batches of posts.

    With a ``bank`` (``model.similarity.ExemplarBank``), each post also gets its nearest
    known offers as evidence, and similarity flags it by ``rule``: ``"or"`` when one is at least
    ``flag_cosine`` similar, ``"logistic"`` when ``combiner`` (a ``model.combiner.Combiner``)
    scores it at least its cut, ``"off"`` never. ``rule``, ``flag_cosine`` and ``k`` left
    out are ``[similarity]``'s declared defaults; ``Stages.load`` passes the configured ones.
    """

    def __init__(
        self,
        classifier: Classifier | None,
        *,
        stages: Iterable[Stage] = ALL_STAGES,
        bank: Any = None,
        rule: str | None = None,
        combiner: Any = None,
        flag_cosine: float | None = None,
        k: int | None = None,
        store: Any = None,
        limits: LimitsSettings | None = None,
    ) -> None:
        self.classifier = classifier
        self.limits = limits or _DEFAULT
        self.stages = tuple(stages)
        self.bank = bank
        self.rule = rule
        self.combiner = combiner
        self.flag_cosine = flag_cosine
        self.k = k
        self.store = store  # caches post embeddings of the similar step when given
        if "classify" in self.stages and classifier is None:
            raise ModelError("the classify stage needs a model")

    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        stages: Iterable[Stage] = ALL_STAGES,
        store: Any = None,
        classifier: Classifier | None = None,
    ) -> Stages:
        """The stages ``settings`` configure; with ``classify`` and ``similarity.enabled``,
        the bank too.

        The bank holds the offers of ``model.corpus`` and, when ``store`` is given, the
        offers analysts confirmed there; its vectors are cached (store, else
        ``similarity.cache_dir``). ``similarity.rule`` picks the flagging rule
        (``logistic`` reads combiner.json beside ``model.path``:
        ``model.similarity.resolve_rule``). ``classifier``: one already loaded from
        ``model.path`` (``rescore`` checks and loads its model first).
        """
        stages = tuple(stages)
        if "classify" in stages and classifier is None:
            classifier = model.load(settings)
        sim = settings.similarity
        bank, rule, combiner = None, sim.rule, None
        if "classify" in stages and sim.enabled:
            from .model.similarity import load_bank, resolve_rule

            rule, combiner = resolve_rule(sim.rule, settings.model.path, encoder=sim.encoder)
            bank = load_bank(
                encoder=sim.encoder,
                corpus=settings.model.corpus,
                store=store,
                cache_dir=sim.cache_dir,
            )
        return cls(
            classifier if "classify" in stages else None,
            stages=stages,
            bank=bank,
            rule=rule,
            combiner=combiner,
            flag_cosine=sim.flag_cosine,
            k=sim.k,
            store=store,
            limits=settings.limits,
        )

    def similar(self, posts: list[Post]) -> list[Post]:
        """The similarity stage with these stages' bank, rule and combiner (none: as is)."""
        if self.bank is None:
            return posts
        return similar(
            posts,
            self.bank,
            store=self.store,
            rule=self.rule,
            combiner=self.combiner,
            flag_cosine=self.flag_cosine,
            k=self.k,
            max_chars=self.limits.encoder_chars,
        )

    def process(self, posts: Sequence[Post]) -> list[Post]:
        """Run the configured stages over one batch, in order."""
        lim = self.limits
        out = [normalise(p, max_chars=lim.normalise_chars) for p in posts]
        if "language" in self.stages or "classify" in self.stages:
            out = [language(p, max_chars=lim.language_chars) for p in out]
        if "classify" in self.stages and self.classifier is not None:
            # With a store, the classifier's post vectors are cached there like the
            # similarity step's: a re-score reads them instead of embedding every post.
            with cached_in(self.store):
                out = classify(
                    out,
                    self.classifier,
                    max_chars=lim.classify_chars,
                    normalise_chars=lim.normalise_chars,
                )
        out = self.similar(out)
        if "extract" in self.stages:
            out = [
                extract(p, max_chars=lim.extract_chars, normalise_chars=lim.normalise_chars)
                for p in out
            ]
        return out

    def batches(self, posts: Iterable[Post], size: int = 256) -> Iterator[list[Post]]:
        """``posts`` in batches of ``size`` posts or ``limits.batch_chars`` characters."""
        return batches(posts, size, max_chars=self.limits.batch_chars)


def batches(
    posts: Iterable[Post], size: int = 256, *, max_chars: int = _DEFAULT.batch_chars
) -> Iterator[list[Post]]:
    """Batches of at most ``size`` posts, ending early once they hold ``max_chars`` of text.

    A post longer than ``max_chars`` is a batch of its own, so a batch of long posts
    never holds more than one such post beyond the cap.
    """
    batch: list[Post] = []
    chars = 0
    for post in posts:
        if batch and chars + len(post.text) > max_chars:
            yield batch
            batch, chars = [], 0
        batch.append(post)
        chars += len(post.text)
        if len(batch) >= size:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def ingest(
    posts: Iterable[Post], stages: Stages, store: Any, *, batch_size: int = 256
) -> dict[str, int]:
    """Run the stages over ``posts`` and save them, one transaction per batch (by count
    and by size, ``Stages.batches``)."""
    totals = {"new": 0, "updated": 0, "unchanged": 0, "flagged": 0}
    for batch in stages.batches(posts, batch_size):
        processed = stages.process(batch)
        result = store.save_posts(processed)
        totals["new"] += result.new
        totals["updated"] += result.updated
        totals["unchanged"] += result.unchanged
        totals["flagged"] += sum(bool(p.flagged) for p in processed)
    return totals
