"""The campaign report over a real store: the corpus through the real pipeline, plus
planted posts with one theme no corpus post has and one claim they all make."""

from __future__ import annotations

import csv
import html
import json
import re
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from conftest import START, CampaignCorpus

from signalering.campaign import aggregates, aggregates_from_posts, campaign_view, write_report
from signalering.campaign.scrub import PHONE_RE, URL_RE
from signalering.extract import extract_many
from signalering.post import Post
from signalering.store import Store

THEME_SAMPLE = 600  # enough of the ~1,300 offers that the 36 planted ones form a cluster


@pytest.fixture(scope="module")
def report_data(campaign_corpus: CampaignCorpus) -> dict[str, Any]:
    with Store.open(campaign_corpus.url) as store:
        return aggregates(store, since="2024-03-01", until="2024-05-31", theme_sample=THEME_SAMPLE)


@pytest.fixture(scope="module")
def report_html(report_data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    write_report(report_data, out)
    return out


def _visible_text(page: str) -> str:
    """What a reader sees: tags and styles dropped, entities decoded."""
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _text_nodes(page: str) -> list[str]:
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return [html.unescape(t) for t in re.split(r"<[^>]+>", page)]


def test_the_planted_theme_is_recovered_with_readable_keywords(report_data: dict) -> None:
    themes = report_data["themes"]["offer"]
    planted = [t for t in themes if {"camel", "caravan"} <= set(t["keywords"])]
    assert len(planted) == 1, [t["keywords"] for t in themes]
    theme = planted[0]
    assert "en" in theme["keywords_by_lang"]
    assert all("camel" in e["text"].lower() for e in theme["excerpts"])
    # Almost only planted posts: the corpus never mentions camels.
    assert theme["claims"].get("group_discount", 0) >= 0.8 * theme["size"]


def test_themes_are_the_same_on_a_second_run(campaign_corpus: CampaignCorpus, report_data: dict):
    with Store.open(campaign_corpus.url) as store:
        again = aggregates(store, since="2024-03-01", until="2024-05-31", theme_sample=THEME_SAMPLE)
    assert again["themes"] == report_data["themes"]


def test_the_planted_claim_and_route_are_counted_exactly(campaign_corpus: CampaignCorpus) -> None:
    planted_ids = {p.post_id for p in campaign_corpus.planted}
    without = [p for p in campaign_corpus.posts if p.post_id not in planted_ids]
    base = aggregates_from_posts(without, themes=False)
    full = aggregates_from_posts(campaign_corpus.posts, themes=False)
    offers = sum(p.label == "offer" for p in campaign_corpus.planted)
    assert offers >= 0.8 * len(campaign_corpus.planted)  # the classifier sees them as offers

    def claim(data: dict, name: str) -> int:
        return next(r["posts"] for r in data["claims"] if r["claim"] == name)

    def route(data: dict, dep: str, dest: str) -> int:
        return sum(
            r["posts"]
            for r in data["routes"]
            if (r["departure"], r["destination"], r["label"]) == (dep, dest, "offer")
        )

    assert claim(full, "group_discount") - claim(base, "group_discount") == offers
    assert route(full, "Agadez", "Italy") - route(base, "Agadez", "Italy") == offers


def test_the_report_from_the_store_matches_the_posts(
    campaign_corpus: CampaignCorpus, report_data: dict
) -> None:
    labels = Counter(p.label for p in campaign_corpus.posts)
    assert report_data["posts"] == len(campaign_corpus.posts)
    assert report_data["labels"] == dict(labels)
    langs = Counter((p.lang, p.label) for p in campaign_corpus.posts if p.label == "request")
    got = {(r["lang"], r["label"]): r["posts"] for r in report_data["languages"]}
    assert all(got[key] == n for key, n in langs.items())


def test_dates_select_the_posts_of_those_days(campaign_corpus: CampaignCorpus) -> None:
    first_week_end = START + timedelta(days=6)
    expected = sum(
        START <= datetime.fromisoformat(p.posted_at) < first_week_end + timedelta(days=1)
        for p in campaign_corpus.posts
    )
    with Store.open(campaign_corpus.url) as store:
        data = aggregates(store, since=START.date(), until=first_week_end.date(), themes=False)
    assert data["posts"] == expected > 0
    assert {r["period"] for r in data["volume"]} == {"2024-W10"}


def test_no_contact_link_or_author_from_the_input_is_in_the_report(
    campaign_corpus: CampaignCorpus, report_html: Path
) -> None:
    page = report_html.read_text(encoding="utf-8")
    text = _visible_text(page)
    squeezed = re.sub(r"[\s().\-/]", "", text)
    for phone in campaign_corpus.phones:
        assert phone.lstrip("+")[-8:] not in squeezed
    lowered = page.lower()
    for value in campaign_corpus.handles + campaign_corpus.links + campaign_corpus.authors:
        assert value.lower() not in lowered
    for post in campaign_corpus.posts:
        assert post.author.lower() not in lowered
        for handle in (post.entities or {}).get("handles") or []:
            assert handle["value"].lower() not in lowered
    # Scanned as a reader would, text by text (a table cell, a plot label, an excerpt):
    # the extractor and the regexes find nothing.
    nodes = [n.strip() for n in _text_nodes(page) if len(n.strip()) >= 3]
    for node, found in zip(nodes, extract_many(nodes, langs=["en"] * len(nodes)), strict=True):
        assert found["phones"] == [] and found["handles"] == [], node
    assert URL_RE.findall(text) == []
    assert "http" not in lowered and "www." not in lowered and "t.me" not in lowered
    long_numbers = [m for m in PHONE_RE.findall(text) if len(re.sub(r"\D", "", m)) >= 9]
    assert [m for m in long_numbers if not re.fullmatch(r"[\d\-\s]+", m.strip())] == []


def test_the_report_is_self_contained(report_html: Path) -> None:
    page = report_html.read_text(encoding="utf-8")
    assert "<svg" in page and page.count("<svg") >= 6
    for external in ("<script", "<link", "<img", "<iframe", "src=", "@import"):
        assert external not in page.lower()
    assert re.findall(r"url\((?!#)", page) == []  # only references inside the same SVG
    for section in ("Executive summary", "Claims in offers", "Messaging themes", "Routes"):
        assert section in page


def test_the_report_renders_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    base = ["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu"]
    subprocess.run(
        [*base, "--window-size=1200,2400", f"--screenshot={shot}", report_html.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(
        [*base, "--dump-dom", report_html.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    print(f"\nscreenshot for a person to look at: {shot}")
    assert "Executive summary" in dom and dom.count("<svg") >= 6
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    assert pixels[..., :3].std() > 0.05  # text and plots, not a blank page


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    posts = [
        Post(
            text=f"<script>alert({i})</script> 100% guaranteed boat, pay on arrival",
            label="offer",
            lang="en",
            posted_at="2024-03-05T10:00:00+00:00",
        )
        for i in range(3)
    ]
    out = tmp_path / "r.html"
    write_report(aggregates_from_posts(posts, themes=False), out)
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_csv_tables_hold_the_same_numbers(report_data: dict, tmp_path: Path) -> None:
    written = write_report(report_data, tmp_path / "tables", format="csv")
    names = {p.name for p in written}
    assert {"claims.csv", "routes.csv", "themes.csv", "volume.csv", "languages.csv"} <= names
    with (tmp_path / "tables" / "claims.csv").open(encoding="utf-8") as fh:
        rows = {r["claim"]: int(r["posts"]) for r in csv.DictReader(fh)}
    assert rows == {r["claim"]: r["posts"] for r in report_data["claims"]}
    assert "examples" not in (tmp_path / "tables" / "claims.csv").read_text(encoding="utf-8")


def test_the_campaign_view_holds_no_identity(campaign_corpus: CampaignCorpus) -> None:
    with Store.open(campaign_corpus.url) as store:
        view = campaign_view(store, since="2024-03-01", until="2024-03-10", themes=False)
    dumped = json.dumps(view, ensure_ascii=False).lower()
    assert view["posts"] > 0 and "<svg" in view["plots"]["claims"]
    for value in campaign_corpus.handles + campaign_corpus.links + campaign_corpus.authors:
        assert value.lower() not in dumped
    assert "http" not in dumped


def test_the_report_command_writes_html_and_csv(campaign_corpus: CampaignCorpus, tmp_path: Path):
    from typer.testing import CliRunner

    from signalering.cli import app
    from signalering.errors import InputError

    runner = CliRunner()
    common = ["report", "--database-url", campaign_corpus.url, "--from", "2024-03-04"]
    result = runner.invoke(app, [*common, "--to", "2024-03-10", "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(
        app, [*common, "--to", "2024-03-10", "--format", "csv", "-o", str(tmp_path / "csv")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "csv" / "claims.csv").is_file()
    result = runner.invoke(app, [*common, "--to", "2024-03-01", "-o", str(tmp_path / "x.html")])
    assert isinstance(result.exception, InputError)


def test_claims_read_each_post_only_up_to_the_configured_cap(tmp_path: Path) -> None:
    # A claim beyond `limits.classify_chars` is not read: the report's cost does not grow
    # with what a stranger writes, and the cap is the one the configuration sets.
    from typer.testing import CliRunner

    from signalering.cli import app

    posts = [
        Post(
            text="Boat to Italy this week. " + "x" * 300 + " children travel free",
            label="offer",
            lang="en",
            posted_at="2024-03-05T10:00:00+00:00",
            source="s",
            post_id=str(i),
        )
        for i in range(3)
    ]

    def discount(data: dict) -> int:
        return sum(r["posts"] for r in data["claims"] if r["claim"] == "group_discount")

    assert discount(aggregates_from_posts(posts, themes=False)) == 3
    assert discount(aggregates_from_posts(posts, themes=False, text_chars=100)) == 0

    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    with Store.open(url) as store:
        store.save_posts(posts)
    runner = CliRunner()
    args = ["report", "--database-url", url, "--format", "csv"]

    def cli_discount(env: dict[str, str], out: Path) -> int:
        result = runner.invoke(app, [*args, "-o", str(out)], env=env)
        assert result.exit_code == 0, result.output
        with (out / "claims.csv").open(encoding="utf-8") as fh:
            return sum(
                int(r["posts"]) for r in csv.DictReader(fh) if r["claim"] == "group_discount"
            )

    assert cli_discount({}, tmp_path / "all") == 3
    assert cli_discount({"SIGNALERING_LIMITS_CLASSIFY_CHARS": "100"}, tmp_path / "capped") == 0
