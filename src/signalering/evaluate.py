"""Measuring the shipped model: real texts, the template hold-out, per language,
language identification, entities, and the similarity rules (``signalering evaluate``).

Everything is measured on the *family* split of ``annotaties/`` (see
:func:`signalering.corpus.family_split`), so reposts and translations of one
ad never sit on both sides of the split.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from . import corpus
from .config import SimilaritySettings
from .model.classifier import Classifier, Features
from .model.metrics import chat_false_flags, compare_with_baseline, evaluate_classifier

logger = logging.getLogger(__name__)

# Corpus vectors are cached where ``similarity.cache_dir`` says; the CLI passes the
# configured folder, a caller from Python gets the declared default.
_CACHE_DIR = SimilaritySettings().cache_dir
Progress = Callable[[str], None]


def leave_one_language_out(
    records: Sequence[dict[str, Any]],
    *,
    features: Features = "tfidf",
    languages: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Train without language X (and without any family that has a post in X), test on X."""
    langs = languages or sorted({r["lang"] for r in records})
    out = {}
    for lang in langs:
        if progress:
            progress(f"leave out {lang}")
        test = [r for r in records if r["lang"] == lang]
        fams = {r["family"] for r in test}
        train = [r for r in records if r["lang"] != lang and r["family"] not in fams]
        clf = Classifier.train(train, features=features)
        m = evaluate_classifier(clf, test)
        out[lang] = {"n": m.n, "offer": asdict(m.offer), "macro_f1": m.macro_f1}
    return out


def run_evaluation(
    model_path: str | Path,
    corpus_path: str | Path | None,
    *,
    threshold: float = 0.5,
    lolo: bool = True,
    real: Sequence[dict[str, Any]] | None = None,
    reviewed: Sequence[dict[str, Any]] = (),
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    partitions: int = 1,
) -> dict[str, Any]:
    """Everything `signalering evaluate` prints, as one dict (``cache_dir``: where the
    corpus' vectors are cached for the folds; ``None``, embedded in this process only;
    ``partitions`` > 1: the real-text CV again over that many partitions of the sources).

    First the real texts (``real``): source-grouped cross-validation of the model's
    recipe (templates + real + ``reviewed``), the learning curve, a templates-only model,
    the keyword baseline, and the gain from reviewed posts on a time split. Then the
    template hold-out: the model is measured on the held-out part of the same family
    split it was trained with (seed and size from its card).
    """
    from . import extract, language, realtext

    clf = Classifier.load(model_path, threshold=threshold)
    split = clf.meta.get("split", {})
    records = corpus.load(corpus_path)
    train, test = corpus.family_split(
        records, test_size=split.get("test_size", 0.25), seed=split.get("seed", 0)
    )
    stale = holdout_stale(split, train)  # printed above the hold-out table
    feats = clf.meta.get("features", "tfidf")
    # Models trained before the classifier had an encoder setting embedded with USE-m3.
    encoder = str(clf.meta.get("encoder", "use-m3"))
    seed = split.get("seed", 0)
    real_result: dict[str, Any] | None = None
    if real:
        realtext.embed_ahead(
            [feats], encoder, cache_dir, train, test, real, reviewed, progress=progress
        )
        curve = realtext.cross_validate(
            train,
            real,
            reviewed=reviewed,
            features=feats,
            threshold=threshold,
            seed=seed,
            fractions=realtext.FRACTIONS,
            progress=progress,
            encoder=encoder,
        )
        real_result = {
            "n": len(real),
            "sources": len(set(corpus.source_groups(list(real)))),
            "features": feats,
            "cv": realtext.public(curve[1.0]),
            "templates_only": realtext.public(
                realtext.templates_only(
                    train, real, features=feats, threshold=threshold, seed=seed, encoder=encoder
                )
            ),
            "learning_curve": realtext.learning_curve(curve),
            "partitions": realtext.partition_spread(
                train,
                real,
                partitions,
                fixed=curve[1.0],
                reviewed=reviewed,
                features=feats,
                threshold=threshold,
                seed=seed,
                progress=progress,
                encoder=encoder,
            )
            if partitions > 1
            else None,
            "reviewed": len(reviewed),
            "reviewed_gain": realtext.reviewed_gain(
                train,
                real,
                reviewed,
                features=feats,
                threshold=threshold,
                seed=seed,
                encoder=encoder,
            )
            if reviewed
            else None,
        }
    if progress:
        progress(f"evaluating {clf.version} on {len(test)} held-out posts")
    metrics = evaluate_classifier(clf, test)
    result: dict[str, Any] = {
        "model": clf.version,
        "features": clf.meta.get("features"),
        "threshold": threshold,
        "real_text": real_result,
        "holdout_stale": stale,
        **metrics.to_dict(),
        "baseline": compare_with_baseline(test, metrics.p_offer),
    }
    if progress:
        progress("language identification and entity extraction")
    result["everyday_chat"] = chat_false_flags(clf)
    result["language_id"] = language.evaluate(records)
    result["entities"] = extract.evaluate(records)
    result["similarity"] = similarity_comparison(
        model_path, clf, records, test, metrics.p_offer, threshold=threshold
    )
    if lolo:
        result["leave_one_language_out"] = leave_one_language_out(
            records, features="tfidf", progress=progress
        )
    return result


def holdout_stale(split: dict[str, Any], train: Sequence[dict[str, Any]]) -> str | None:
    """Why the template hold-out cannot be trusted, or None: the corpus changed since the
    model was trained (its card keeps the fingerprint of its training part), so the split
    of today's corpus may put posts the model learned from on the test side."""
    kept, now = split.get("train_fingerprint"), corpus.fingerprint(train)
    if kept is None or kept == now:
        return None
    return (
        f"the corpus changed since this model was trained (training part {kept}, now {now}): "
        "the template hold-out may hold posts it was trained on and reads too high; "
        "run `signalering train` first"
    )


def similarity_comparison(
    model_path: str | Path,
    clf: Classifier,
    records: Sequence[dict[str, Any]],
    test: Sequence[dict[str, Any]],
    p_test: np.ndarray,
    *,
    threshold: float,
    cache_dir: Path | None = _CACHE_DIR,
) -> dict[str, Any] | None:
    """The shipped combiner's held-out comparison; ``None`` without combiner.json."""
    from .model.combiner import Combiner, compare_rules, embed_records

    combiner = Combiner.load(model_path)
    if combiner is None:
        logger.warning("no combiner.json in %s — run `signalering train` to make one", model_path)
        return None
    split = clf.meta.get("split", {})
    train, _ = corpus.family_split(
        list(records), test_size=split.get("test_size", 0.25), seed=split.get("seed", 0)
    )
    offers = [r for r in train if r["label"] == "offer"]
    return compare_rules(
        combiner,
        p_test,
        embed_records(test, encoder=combiner.encoder, cache_dir=cache_dir),
        test,
        embed_records(offers, encoder=combiner.encoder, cache_dir=cache_dir),
        threshold=threshold,
    )
