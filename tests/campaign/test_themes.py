"""Themes over real corpus posts, with Tigrinya ones the bundled encoder cannot read."""

from __future__ import annotations

import csv
import html
from collections import Counter

from signalering import corpus
from signalering.campaign import (
    ThemeInput,
    aggregates_from_posts,
    find_themes,
    render_html,
    unthemed,
    write_csv,
)
from signalering.post import Post
from signalering.store import Store

N_TI = 30
PER_LANG = 8
OTHER_LANGS = ("en", "ar", "fr", "de", "tr", "fa", "ru", "nl", "sq", "vi")


def _offers() -> list[dict]:
    """Offers from the corpus: ``N_TI`` in Tigrinya, ``PER_LANG`` in each other language."""
    records = sorted((r for r in corpus.load() if r["label"] == "offer"), key=lambda r: r["id"])
    picked = [r for r in records if r["lang"] == "ti"][:N_TI]
    for lang in OTHER_LANGS:
        picked += [r for r in records if r["lang"] == lang][:PER_LANG]
    assert Counter(r["lang"] for r in picked)["ti"] == N_TI
    return picked


def test_tigrinya_posts_join_no_theme_and_are_counted_per_language() -> None:
    # USE-m3 reads Tigrinya as mostly <unk>, so every Tigrinya post embeds alike and
    # they all made one "theme" (or swelled one) that says nothing about their content.
    items = [ThemeInput(r["text"], r["lang"]) for r in _offers()]
    themes = find_themes(items, seed=0)
    assert themes
    assert [t.languages.get("ti", 0) for t in themes] == [0] * len(themes)
    assert sum(t.size for t in themes) == len(items) - N_TI
    # A theme's share is of every post offered, so the estimates are not inflated.
    # (each share is rounded on its own, so their sum can differ from the rounded total)
    assert all(t.share == round(t.size / len(items), 4) for t in themes)
    assert unthemed(items) == {"ti": N_TI}
    # Tigrinya alone: nothing the encoder can read, so no themes at all.
    assert find_themes([i for i in items if i.lang == "ti"], seed=0) == []


def test_the_report_says_how_many_posts_could_not_be_themed(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    posts = [Post(text=r["text"], lang=r["lang"], label="offer") for r in _offers()]
    data = aggregates_from_posts(posts, store=store)
    assert data["theme_sample"]["offer"] == len(posts)
    assert data["unthemed"]["offer"] == {
        "posts": N_TI,
        "estimated_posts": N_TI,
        "languages": {"ti": N_TI},
    }
    assert data["unthemed"]["request"]["posts"] == 0
    assert all("ti" not in t["languages"] for t in data["themes"]["offer"])
    line = "Themes leave out sampled posts the encoder cannot read: 30 offers (ti 30)."
    assert line in data["summary"]
    page = html.unescape(render_html(data))
    assert f"{N_TI} of the sampled offers (about {N_TI} posts) are in no theme" in page
    assert f"(ti: {N_TI})" in page
    assert "of the sampled requests" not in page
    write_csv(data, tmp_path)
    with (tmp_path / "unthemed.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{"label_kind": "offer", "lang": "ti", "posts": str(N_TI)}]
