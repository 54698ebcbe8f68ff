"""Which languages an encoder *reads*: measured separation of translations from other ads.

A share of unknown word pieces catches Tigrinya under USE-m3, but not a language the
encoder splits into known yet meaningless pieces (Vietnamese, Sorani...). So for each
corpus language this measures, on the translation families of ``annotaties/``:

- ``translation``: mean cosine of a post to its translations (same family) in ``partner``;
- ``other_ads``: mean cosine of a post to different ads of its own language;
- ``margin``: ``translation - other_ads``;
- ``auc``: the chance that a translation pair is closer than a pair of different ads.

A pair is only as well read as its worse side, so each language is judged beside the
partner language where it separates best. It is ``readable`` when there ``margin >=
MIN_MARGIN`` and ``auc >= MIN_AUC``. Where it
is not, posts in it get no embedding links and no embedding similarity
(``embed.readable(..., langs=...)``); the fingerprint still links them.

``python -m signalering.link.readability [--encoder use-m3 ...]`` rewrites
``signalering/data/readability.json`` and prints the table; ``embed.unread_languages``
reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DEFAULT_ENCODER
from ..embed import READABILITY_FILE

logger = logging.getLogger(__name__)

MIN_MARGIN = 0.15
MIN_AUC = 0.85


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) by ranks (ties count half)."""
    if not len(pos) or not len(neg):
        return float("nan")
    values = np.concatenate([pos, neg])
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # average ranks of ties
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def separation(
    records: Sequence[dict[str, Any]],
    vectors: np.ndarray,
    *,
    max_other: int = 20_000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Per language: translation vs. other-ad cosines, margin, AUC, readable (see module)."""
    rng = np.random.default_rng(seed)
    # A zero row is a text unread by word-piece coverage: a pair with it says nothing about
    # its partner's language (Arabic would look unread beside Tigrinya).
    seen = np.abs(vectors).sum(axis=1) > 0
    langs = [r["lang"] for r in records]
    families = [r["family"] for r in records]
    by_family: dict[str, list[int]] = defaultdict(list)
    for i, fam in enumerate(families):
        by_family[fam].append(i)
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        by_lang[lang].append(i)
    table: dict[str, dict[str, float]] = {}
    for lang, members in sorted(by_lang.items()):
        by_partner: dict[str, list[float]] = defaultdict(list)
        for i in members:
            for j in by_family[families[i]]:
                if langs[j] != lang and seen[i] and seen[j]:
                    by_partner[langs[j]].append(float(vectors[i] @ vectors[j]))
        idx = np.array(members)
        a = rng.choice(idx, size=max_other)
        b = rng.choice(idx, size=max_other)
        keep = np.array([families[x] != families[y] for x, y in zip(a, b, strict=True)])
        neg = np.einsum("ij,ij->i", vectors[a[keep]], vectors[b[keep]])
        if not by_partner:
            if not seen[idx].any():  # every text of mostly unknown word pieces
                table[lang] = {"pairs": 0, "readable": False, "reason": "unknown word pieces"}
            continue
        # Judged beside the partner language it separates best from: a pair's cosine is
        # only as good as the worse-read side (Arabic beside Arabizi says little of Arabic).
        rows = []
        for partner, pos in sorted(by_partner.items()):
            pos_arr = np.array(pos)
            rows.append(
                {
                    "partner": partner,
                    "translation": round(float(pos_arr.mean()), 3),
                    "other_ads": round(float(neg.mean()), 3),
                    "margin": round(float(pos_arr.mean() - neg.mean()), 3),
                    "auc": round(_auc(pos_arr, neg), 3),
                    "pairs": len(pos),
                }
            )
        best = max(rows, key=lambda r: (r["auc"], r["margin"]))
        table[lang] = {
            **best,
            "readable": bool(best["margin"] >= MIN_MARGIN and best["auc"] >= MIN_AUC),
        }
    return table


def measure(encoder: str, records: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The separation table of ``encoder`` on the corpus, with posts/s of the encoding."""
    import time

    from .. import corpus as corpus_mod
    from ..embed import get_encoder, readable

    records = list(records if records is not None else corpus_mod.load())
    model = get_encoder(encoder)
    start = time.perf_counter()
    vectors = model.encode([r["text"] for r in records])
    seconds = time.perf_counter() - start
    # Tokens the encoder does not know already count as unread (no langs: not circular).
    vectors = readable([r["text"] for r in records], model, vectors)
    return {
        "encoder": encoder,
        "posts_per_s": round(len(records) / seconds, 1),
        "languages": separation(records, vectors),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", action="append", help="use-m3 or st:<name or path>")
    parser.add_argument("--out", type=Path, default=READABILITY_FILE)
    args = parser.parse_args(argv)
    encoders = args.encoder or [DEFAULT_ENCODER]
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    table = {"min_margin": MIN_MARGIN, "min_auc": MIN_AUC, "encoders": old.get("encoders", {})}
    for name in encoders:
        result = measure(name)
        table["encoders"][name] = result
        print(f"{name}: {result['posts_per_s']} posts/s")
        print(
            f"  {'lang':8} {'partner':8} {'transl':>7} {'other':>7} {'margin':>7} {'auc':>6}  "
            "readable"
        )
        for lang, row in result["languages"].items():
            if not row["pairs"]:
                print(
                    f"  {lang:8} {'-':8} {'-':>7} {'-':>7} {'-':>7} {'-':>6}  NO ({row['reason']})"
                )
                continue
            print(
                f"  {lang:8} {row['partner']:8} {row['translation']:7.3f} {row['other_ads']:7.3f} "
                f"{row['margin']:7.3f} {row['auc']:6.3f}  {'yes' if row['readable'] else 'NO'}"
            )
    args.out.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
