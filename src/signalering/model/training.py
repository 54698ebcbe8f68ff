"""Training the default model: candidates, model choice, the combiner and the model card.

Everything is measured on the *family* split of ``annotaties/`` (see
:func:`signalering.corpus.family_split`), so reposts and translations of one
ad never sit on both sides of the split. Only ``signalering train`` (and ``make
install``, which runs it) trains; nothing else does at run time.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import corpus
from ..config import DEFAULT_ENCODER, SimilaritySettings
from .classifier import CLASSIFIER_ENCODER, Classifier, Features
from .metrics import (
    EvaluationReport,
    chat_false_flags,
    compare_with_baseline,
    evaluate_classifier,
)

logger = logging.getLogger(__name__)

# Corpus vectors are cached where ``similarity.cache_dir`` says; the CLI passes the
# configured folder, a caller from Python gets the declared default.
_CACHE_DIR = SimilaritySettings().cache_dir
MIN_LANGUAGE_RECALL = 0.90
MIN_TEMPLATE_OFFER_F1 = 0.95  # real texts may not cost the template hold-out its offer F1
Progress = Callable[[str], None]


@dataclass(frozen=True)
class CandidateScores:
    """How one candidate feature set measured: template hold-out, and real texts (CV)
    when they were used."""

    macro_f1: float
    offer_f1: float
    worst_language_recall: float
    brier: float
    real_offer_f1: float | None = None
    real_recall_at_p85: float | None = None
    real_recall_at_p90: float | None = None

    def to_dict(self) -> dict[str, float]:
        """As model.json's ``selection`` holds it (no real-text keys without real texts)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class TrainingResult:
    """What ``train_model`` kept, and why (``signalering train`` prints it)."""

    chosen: str
    selection: dict[str, CandidateScores]
    metrics: EvaluationReport
    real_text: dict[str, Any] | None
    similarity: dict[str, Any] | None
    path: Path


# -- training with model selection ------------------------------------------------
def train_model(
    corpus_path: str | Path | None,
    out_dir: str | Path,
    *,
    features: Features | Literal["auto"] = "auto",
    seed: int = 0,
    test_size: float = 0.25,
    encoder: str | None = DEFAULT_ENCODER,
    cache_dir: Path | None = _CACHE_DIR,
    real: Sequence[dict[str, Any]] | None = None,
    reviewed: Sequence[dict[str, Any]] = (),
    progress: Progress | None = None,
) -> TrainingResult:
    """Train the candidates, keep the best, save it with its card (and combiner).

    Templates are split by family; the saved model is trained on their *train* part, so
    ``signalering evaluate`` measures the shipped model on the template hold-out. With
    ``real`` texts (``annotaties/real/``) and ``reviewed`` posts (analysts' decisions), the
    model also trains on all of them (weighted, ``realtext.REAL_WEIGHT``), and the choice
    between candidates is made on the real texts, by source-grouped cross-validation: a
    candidate must keep the template hold-out's offer F1 at ``MIN_TEMPLATE_OFFER_F1``; among
    those, the best offer recall at precision 0.85 (then offer F1) on real texts wins.
    With an ``encoder``, the similarity combiner is fitted on the template train part too
    (``model.combiner``), measured on its held-out part and saved beside the model as
    combiner.json (corpus embeddings cached in ``cache_dir``).
    """
    from .. import realtext

    records = corpus.load(corpus_path)
    train, test = corpus.family_split(records, test_size=test_size, seed=seed)
    real = list(real or [])
    reviewed = list(reviewed)
    if features != "auto":
        candidates: list[Features] = [features]
    elif real:
        candidates = ["tfidf+cues", "tfidf+embed+cues"]
    else:
        candidates = ["tfidf", "tfidf+embed"]
    fit_records, weights = realtext.training_set(train, real, reviewed)
    realtext.embed_ahead(
        candidates, CLASSIFIER_ENCODER, cache_dir, fit_records, test, progress=progress
    )
    results: dict[str, tuple[Classifier, EvaluationReport]] = {}
    real_cv: dict[str, dict[str, Any]] = {}
    for feats in candidates:
        if real:
            real_cv[feats] = realtext.cross_validate(
                train, real, reviewed=reviewed, features=feats, seed=seed, progress=progress
            )[1.0]
        if progress:
            progress(f"training {feats} on {len(fit_records)} posts")
        clf = Classifier.train(fit_records, features=feats, random_state=seed, weights=weights)
        results[feats] = (clf, evaluate_classifier(clf, test))

    def key(item: tuple[str, tuple[Classifier, EvaluationReport]]) -> tuple:
        # Missing one language's offers is the failure analysts cannot see, so a
        # candidate must flag at least MIN_LANGUAGE_RECALL of the offers in every
        # language; among those, the best macro-F1 (then offer F1) wins. With real
        # texts, what counts is how they are flagged, as long as the templates hold.
        name, (_, m) = item
        if name in real_cv:
            r = real_cv[name]
            return (
                m.offer.f1 >= MIN_TEMPLATE_OFFER_F1,
                r["recall_at_precision"]["0.85"],
                r["per_label"]["offer"]["f1"],
            )
        return (
            m.worst_language_recall() >= MIN_LANGUAGE_RECALL,
            m.macro_f1,
            m.offer.f1,
        )

    best_name, (best, best_metrics) = max(results.items(), key=key)
    selection = {
        name: CandidateScores(
            macro_f1=m.macro_f1,
            offer_f1=m.offer.f1,
            worst_language_recall=m.worst_language_recall(),
            brier=m.calibration["brier_multiclass"],
            **(
                {
                    "real_offer_f1": real_cv[name]["per_label"]["offer"]["f1"],
                    "real_recall_at_p85": real_cv[name]["recall_at_precision"]["0.85"],
                    "real_recall_at_p90": real_cv[name]["recall_at_precision"]["0.90"],
                }
                if name in real_cv
                else {}
            ),
        )
        for name, (_, m) in results.items()
    }
    best.meta.update(
        {
            "split": {
                "kind": "family",
                "seed": seed,
                "test_size": test_size,
                "train": len(train),
                "test": len(test),
                "train_fingerprint": corpus.fingerprint(train),
            },
            "corpus": str(corpus_path or corpus.DEFAULT_PATH),
            "selection": {name: s.to_dict() for name, s in selection.items()},
            "metrics": best_metrics.to_dict(),
            "everyday_chat": chat_false_flags(best),
        }
    )
    if real:
        if progress:
            progress("real texts: templates only, and the learning curve")
        curve = realtext.cross_validate(
            train,
            real,
            reviewed=reviewed,
            features=best_name,
            seed=seed,
            fractions=[f for f in realtext.FRACTIONS if f < 1.0],
            progress=progress,
        )
        curve[1.0] = real_cv[best_name]
        best.meta["real_text"] = {
            "n": len(real),
            "sources": len(set(corpus.source_groups(real))),
            "weight": realtext.REAL_WEIGHT,
            "reviewed": len(reviewed),
            "cv": realtext.public(real_cv[best_name]),
            "templates_only": realtext.public(
                realtext.templates_only(train, real, features=best_name, seed=seed)
            ),
            "learning_curve": realtext.learning_curve(curve),
        }
    out = best.save(out_dir)
    similarity = None
    if encoder is not None:
        similarity = _train_combiner(
            train,
            test,
            best_metrics.p_offer,
            features=best_name,
            encoder=encoder,
            threshold=best.threshold,
            seed=seed,
            cache_dir=cache_dir,
            progress=progress,
        ).save(out)
    else:
        (Path(out) / "combiner.json").unlink(missing_ok=True)  # it would not match this model
    baseline = compare_with_baseline(test, best_metrics.p_offer)
    measured = json.loads(similarity.read_text(encoding="utf-8")) if similarity else None
    (Path(out) / "MODEL_CARD.md").write_text(
        model_card(best, best_metrics, baseline, records, combiner=measured), encoding="utf-8"
    )
    logger.info("kept %s (macro-F1 %.3f) in %s", best_name, best_metrics.macro_f1, out)
    return TrainingResult(
        chosen=best_name,
        selection=selection,
        metrics=best_metrics,
        real_text=best.meta.get("real_text"),
        similarity=measured["measurement"] if measured else None,
        path=Path(out),
    )


def _train_combiner(
    train: Sequence[dict[str, Any]],
    test: Sequence[dict[str, Any]],
    p_test: np.ndarray,
    *,
    features: str,
    encoder: str,
    threshold: float,
    seed: int,
    cache_dir: Path | None,
    progress: Progress | None,
) -> Any:
    """The similarity combiner fitted on ``train``, with its held-out comparison."""
    from dataclasses import replace

    from .combiner import compare_rules, embed_records, fit_combiner

    if progress:
        progress(f"similarity combiner ({encoder}) on {len(train)} posts")
    train_vecs = embed_records(train, encoder=encoder, cache_dir=cache_dir)
    combiner = fit_combiner(
        train,
        features=features,
        encoder=encoder,
        threshold=threshold,
        seed=seed,
        vectors=train_vecs,
        progress=progress,
    )
    offers = np.array([r["label"] == "offer" for r in train])
    held = compare_rules(
        combiner,
        p_test,
        embed_records(test, encoder=encoder, cache_dir=cache_dir),
        test,
        train_vecs[offers],
        threshold=threshold,
    )
    return replace(combiner, measurement={"split": "held-out (family)", **held})


def model_card(
    clf: Classifier,
    m: EvaluationReport,
    baseline: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    combiner: dict[str, Any] | None = None,
) -> str:
    """The Markdown model card written beside the model (``combiner``: combiner.json)."""
    meta = clf.meta
    langs = Counter(r["lang"] for r in records)
    labels = Counter(r["label"] for r in records)
    lines = [
        f"# Model card: {meta['name']} ({meta['version']})",
        "",
        "Flags public posts that offer migrant smuggling (`offer`), and sorts the rest into "
        "`request`, `warning` and `unrelated`. It *flags*; an analyst decides.",
        "",
        "## Data",
        f"- Corpus: `annotaties/corpus.jsonl`, {len(records)} posts in {len(langs)} languages "
        f"({', '.join(f'{k} {v}' for k, v in sorted(labels.items()))}).",
        f"- Split by template family (seed {meta['split']['seed']}): {meta['split']['train']} train, "
        f"{meta['split']['test']} held out; reposts and translations of one ad never straddle it.",
        "- The shipped model is trained on the train part only, so these numbers describe it "
        f"(training part's fingerprint `{meta['split']['train_fingerprint']}`: "
        "`signalering evaluate` warns when today's corpus splits otherwise; retrain then).",
        "",
        *real_text_card(meta),
        "## Model choice",
        (
            "Chosen on the real texts: a candidate should keep the template hold-out's offer F1 at "
            f"{MIN_TEMPLATE_OFFER_F1:.2f}; among those (or, when none does, among all) the best "
            "offer recall at precision 0.85 on real texts (source-grouped CV), then offer F1, wins."
            if meta.get("real_text")
            else f"A candidate must flag at least {MIN_LANGUAGE_RECALL:.0%} of the offers in every "
            "language of the template hold-out; among those the best macro-F1 is kept."
        ),
        "",
        "| features | template macro-F1 | template offer F1 | worst language's offer recall "
        "| Brier (multi-class) | real offer F1 | real recall at P 0.85 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in meta["selection"].items():
        chosen = " (kept)" if name == meta["features"] else ""
        real_cells = (
            f"{s['real_offer_f1']:.3f} | {s['real_recall_at_p85']:.3f}"
            if "real_offer_f1" in s
            else "– | –"
        )
        lines.append(
            f"| {name}{chosen} | {s['macro_f1']:.3f} | {s['offer_f1']:.3f} "
            f"| {s['worst_language_recall']:.3f} | {s['brier']:.3f} | {real_cells} |"
        )
    if meta.get("encoder"):
        lines += [
            "",
            f"Sentence embeddings (the `embed` features, the neighbour vote and the embedding "
            f"expert): `{meta['encoder']}` (`signalering.embed.get_encoder`); the model keeps "
            "the encoder it was trained with.",
        ]
        blend = clf.pipeline.named_steps.get("clf")
        if getattr(blend, "expert_coef_", None) is not None:
            lines.append(
                f"P({blend.expert_label}) is raised, never lowered, toward that of a logistic "
                f"regression on the embedding alone (C {blend.expert_c:g}, weight "
                f"{blend.expert_weight:g}, in proportion below P {blend.expert_support:g}; "
                f"{_expert_real_weight(blend)}; `signalering.model.neighbours`)."
            )
    lines += [
        "",
        "## Per label (held-out)",
        "| label | precision | recall | F1 | n |",
        "| --- | --- | --- | --- | --- |",
    ]
    for lab, v in m.per_label.items():
        lines.append(f"| {lab} | {v.precision:.3f} | {v.recall:.3f} | {v.f1:.3f} | {v.support} |")
    lines += ["", f"Macro-F1 {m.macro_f1:.3f}; accuracy {m.accuracy:.3f}.", ""]
    lines += [
        "## Per language (held-out)",
        "| lang | n | offers | offer P | offer R | offer F1 | macro-F1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lang, v in m.per_language.items():
        o = v.offer
        lines.append(
            f"| {lang} | {v.n} | {v.offers} | {o.precision:.3f} | {o.recall:.3f} | {o.f1:.3f} | {v.macro_f1:.3f} |"
        )
    lines += everyday_chat_card(meta.get("everyday_chat"))
    lines += [
        "",
        "## The `flagged` threshold: precision against recall",
        "`flagged` is `P(offer) >= model.threshold` (default 0.5). Lower it to miss fewer offers at the cost of more false flags.",
        "",
        "| threshold | precision | recall |",
        "| --- | --- | --- |",
    ]
    for row in m.pr_curve:
        lines.append(f"| {row['threshold']:.1f} | {row['precision']:.3f} | {row['recall']:.3f} |")
    cal = m.calibration
    lines += [
        "",
        "## Calibration",
        f"Brier score (multi-class) {cal['brier_multiclass']:.3f}; per label "
        + ", ".join(f"{k} {v:.3f}" for k, v in cal["brier"].items())
        + ".",
        "",
        "| P(offer) bin | mean predicted | observed offers | n |",
        "| --- | --- | --- | --- |",
    ]
    for row in cal["reliability_offer"]:
        lines.append(
            f"| {row['bin']} | {row['mean_predicted']:.3f} | {row['observed']:.3f} | {row['n']} |"
        )
    b = baseline
    lines += [
        "",
        "## Against a keyword list",
        f"Keyword baseline (`annotaties/lexicons/offer_keywords.yaml`): offer precision {b['baseline']['precision']:.3f}, recall {b['baseline']['recall']:.3f}. "
        f"The model at that recall: precision {b['model_at_baseline_recall']['precision']:.3f} ({b['precision_gain_points']:+.1f} points).",
        "",
        *(similarity_card(combiner) if combiner else []),
        "## Known limits",
        "- The seed corpus is written by the project team from templates (fictitious contacts), not crawled: held-out families still share phrasing with training families, so its numbers say little about real posts. The real-text section above is the measure; it grows with analyst-reviewed posts (`signalering train` reads them from the store).",
        "- Real offers in the public record are mostly translations (English, German, French renderings) and short quotes; original-language offers in Arabic, Kurdish, Pashto, Dari, Tigrinya and Vietnamese are nearly absent, so the per-language real numbers for those languages are not measured yet.",
        "- Languages with little data, and dialects or scripts absent from the corpus, are weaker: see the leave-one-language-out table from `signalering evaluate`.",
        "- Sarcasm, news quoting an ad and awareness posts that imitate ads are the hardest cases.",
        "",
        f"Reproduce: `signalering train` (seed {meta['random_state']}).",
        "",
    ]
    return "\n".join(lines)


def _expert_real_weight(blend: Any) -> str:
    weight = getattr(blend, "expert_real_weight", 0)  # 0 in models trained before it
    if not weight:
        return "real texts weighted as in the linear model"
    return f"a real text counts {weight:g} template posts"


def everyday_chat_card(chat: dict[str, Any] | None) -> list[str]:
    """The card's lines on everyday group chat flagged as offers."""
    if not chat:
        return []
    lines = [
        "",
        "## Everyday group chat",
        f"Flagged {chat['flagged']} of {chat['n']} everyday chat messages in {chat['languages']} "
        'languages (greetings, thanks, "ok", good night; `src/signalering/data/everyday_chat.tsv`, '
        f"kept out of training); highest P(offer) {chat['max_p_offer']:.2f}. Most of a public "
        "group's stream is such chat: each one flagged here is many in the review queue.",
    ]
    for ex in chat["examples"]:
        lines.append(f"- `{ex['lang']}` {ex['text']!r}: P(offer) {ex['p_offer']:.2f}")
    return lines


def _prf_cells(m: dict[str, float]) -> str:
    return f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f}"


def real_text_card(meta: dict[str, Any]) -> list[str]:
    """The model card's first section: how the model does on texts that really appeared."""
    from ..realtext import defined_prf

    rt = meta.get("real_text")
    if not rt:
        return [
            "## Real texts",
            "Not measured: this model was trained without `annotaties/real/` (see its README).",
            "",
        ]
    cv, only = rt["cv"], rt["templates_only"]
    tmpl = meta["metrics"]["per_label"]["offer"]
    lines = [
        "## Real texts (the numbers that count)",
        f"`annotaties/real/corpus.jsonl`: {rt['n']} texts that appeared in public (news, NGO, agency "
        f"and court documents, research, campaigns), {rt['sources']} independent source groups. "
        f"Each real text weighs {rt['weight']:g} template posts in training"
        + (
            f"; {rt['reviewed']} analyst-reviewed posts from the store as well."
            if rt["reviewed"]
            else "."
        )
        + " Cross-validation is grouped by source: no article, report or channel, and no ad "
        "quoted by several of them, is on both sides.",
        "",
        "| offer (flagged at the threshold) | precision | recall | F1 | recall at P 0.90 | recall at P 0.85 |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| (a) trained on templates only, tested on real texts | {_prf_cells(only['flagged'])} "
        f"| {only['recall_at_precision']['0.90']:.3f} | {only['recall_at_precision']['0.85']:.3f} |",
        f"| (b) templates + real, source-grouped CV on real texts | {_prf_cells(cv['flagged'])} "
        f"| {cv['recall_at_precision']['0.90']:.3f} | {cv['recall_at_precision']['0.85']:.3f} |",
        f"| keyword baseline on the same real texts | {_prf_cells(cv['baseline'])} | | |",
        f"| (c) template hold-out (family split) | {_prf_cells(tmpl)} | | |",
        "",
        "Per label, (b):",
        "",
        "| label | precision | recall | F1 | n |",
        "| --- | --- | --- | --- | --- |",
    ]
    for lab, v in cv["per_label"].items():
        lines.append(f"| {lab} | {_prf_cells(v)} | {v['support']} |")
    lines += [
        "",
        "Per language, (b) (offer flagged; keyword baseline beside; – where a number is "
        "undefined: no flag for precision, no offer for recall):",
        "",
        "| lang | n | offers | flagged | P | R | F1 | baseline P | baseline R |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lang, v in cv["per_language"].items():
        f = defined_prf(v["flagged"], v["offers"], v["flags"])
        b = defined_prf(v["baseline"], v["offers"], v["baseline_flags"])
        cells = " | ".join(f"{x:.3f}" if isinstance(x, float) else x for x in [*f, *b[:2]])
        lines.append(f"| {lang} | {v['n']} | {v['offers']} | {v['flags']} | {cells} |")
    for key, v in cv.get("translated", {}).items():
        lines.append(
            f"\n{key.capitalize()} texts: offer P/R/F1 {_prf_cells(v).replace(' |', ',')}."
        )
    lines += [
        "",
        "Learning curve: offer recall on held-out sources as the real training texts grow "
        "(share of the other folds' source groups; templates always in).",
        "",
        "| real training texts | recall at the threshold | precision | recall at P 0.90 | macro-F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rt["learning_curve"]:
        lines.append(
            f"| {row['fraction']:.0%} | {row['flagged']['recall']:.3f} | {row['flagged']['precision']:.3f} "
            f"| {row['recall_at_precision']['0.90']:.3f} | {row['macro_f1']:.3f} |"
        )
    lines.append("")
    return lines


SCENARIOS = {"new_ads": "new ads", "reposts": "reposts"}
RULE_NAMES = {
    "classifier": "classifier alone",
    "similarity": "similarity alone",
    "or_rule": "OR rule",
    "logistic": "logistic combiner",
}


def similarity_rows(measurement: dict[str, Any]) -> list[list[Any]]:
    """The held-out comparison as table rows: scenario, rule, P, R, flagged, R at P."""
    rows = []
    for key, scenario in SCENARIOS.items():
        sc = measurement.get(key)
        if not sc:
            continue
        for method, name in RULE_NAMES.items():
            v = sc[method]
            rows.append(
                [
                    scenario,
                    name,
                    v["precision"],
                    v["recall"],
                    v["flagged"],
                    v["recall_at_classifier_precision"],
                ]
            )
    return rows


def combiner_verdict(measurement: dict[str, Any]) -> str:
    """Which rule the held-out numbers support, with the numbers."""
    scenarios = [k for k in SCENARIOS if k in measurement]
    at = "recall_at_classifier_precision"
    gains = [measurement[k]["logistic"][at] - measurement[k]["classifier"][at] for k in scenarios]
    parts = []
    for k in scenarios:
        sc = measurement[k]
        clf, lr = sc["classifier"], sc["logistic"]
        extra_offers = round((lr["recall"] - clf["recall"]) * sc["offers"])
        parts.append(
            f"{SCENARIOS[k]} {clf[at]:.3f} -> {lr[at]:.3f} (at the cut chosen on train: "
            f"{lr['flagged'] - clf['flagged']} more flagged, {extra_offers} of them offers)"
        )
    numbers = "Offer recall at the classifier's precision, classifier -> combiner: " + (
        "; ".join(parts) + ". "
    )
    if gains and min(gains) >= 0 and max(gains) > 0:
        return numbers + (
            "The combiner finds more offers at the classifier's precision, so "
            '`similarity.rule = "logistic"` is the default.'
        )
    return numbers + (
        "The combiner does not beat the classifier alone at its precision on this split; "
        'set `similarity.rule = "or"` or `"off"` unless your data says otherwise.'
    )


def similarity_card(combiner: dict[str, Any]) -> list[str]:
    """The model card's section on the similarity rules (from combiner.json)."""
    coef = ", ".join(f"{c:.3f}" for c in combiner["coef"])
    lines = [
        "## Similarity to known offers: which rule flags (held-out)",
        "`similarity.rule` decides whether a post the classifier did not flag is flagged "
        "because it resembles a known offer. Every cut was chosen on the train part "
        "(out-of-fold scores, family-grouped folds) as the lowest that keeps the "
        f"classifier's out-of-fold precision ({combiner['train_precision']:.3f}): OR rule "
        f"cosine >= {combiner['or_cosine']:.3f}; similarity alone cosine >= "
        f"{combiner['similarity_cut']:.3f}; logistic combiner over [logit P(offer), top "
        f"cosine, product] (coefficients {coef}, intercept {combiner['intercept']:.3f}, "
        f"encoder {combiner['encoder']}) flags when P(offer) >= threshold or its score "
        f">= {combiner['cut']:.3f}.",
        "",
        "*New ads*: every held-out post against the train part's offers; *reposts*: the "
        "later posts of each held-out family, with the first post of each offer family "
        "added to the known offers. The last column is each rule's best recall at the "
        "classifier's own held-out precision (cut picked on the held-out part, for every "
        "rule alike).",
        "",
        "| scenario | rule | precision | recall | flagged | recall at classifier's precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    measurement = combiner.get("measurement") or {}
    for row in similarity_rows(measurement):
        lines.append(
            f"| {row[0]} | {row[1]} | {row[2]:.3f} | {row[3]:.3f} | {row[4]} | {row[5]:.3f} |"
        )
    lines += ["", combiner_verdict(measurement), ""]
    return lines
