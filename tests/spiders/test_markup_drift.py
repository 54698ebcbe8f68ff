"""Markup drift: real pages whose markup is changed the way sites change it, crawled on
127.0.0.1; the crawl warns, names the source and counts it in the summary and store."""

from __future__ import annotations

import shutil
from pathlib import Path

from crawling import real_fixtures, run_crawl

from signalering.demo.server import serve_site
from signalering.store import Store

TELEGRAM = real_fixtures("real-telegram") / "rust-any2feed__full.html"
XENFORO = real_fixtures("real-sites") / "NetTally__Xenforo2.html"
NO_SCORE = ["--no-score"]


def _drifted(src: Path, dest: Path, old: bytes, new: bytes) -> None:
    """A changed copy of a real page in the test's tmp folder (a new markup generation)."""
    data = src.read_bytes()
    assert old in data
    dest.write_bytes(data.replace(old, new))


def test_posts_found_but_most_without_text_is_a_drift_warning(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copyfile(TELEGRAM, site / "same.html")
    # Telegram renames its text class: every post is still found, none has text.
    _drifted(TELEGRAM, site / "renamed.html", b"tgme_widget_message_text", b"tgme_message_txt")
    routes = {"/s/topwar_official": {"file": "same.html"}, "/s/renamed": {"file": "renamed.html"}}
    with serve_site(site, routes=routes) as base:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n"
            f"  - {{name: same, kind: telegram, start_urls: ['{base}/s/topwar_official']}}\n"
            f"  - {{name: renamed, kind: telegram, start_urls: ['{base}/s/renamed']}}\n",
            encoding="utf-8",
        )
        result = run_crawl(["--sources", str(sources)], tmp_path / "posts.jsonl")
    assert result.summary("same")["drift"] == []
    assert result.summary("renamed")["posts"] == 12
    assert result.summary("renamed")["drift"] == [
        "markup drift: 12 of 12 posts have no text — the page markup may have changed"
    ]
    assert "source renamed: markup drift: 12 of 12 posts have no text" in result.stderr


def test_no_posts_where_the_last_crawl_found_some_is_a_drift_warning(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    page = site / "thread.html"
    shutil.copyfile(XENFORO, page)
    db = tmp_path / "store.sqlite3"
    with serve_site(site, routes={"/threads/dark-theme.8276/": {"file": "thread.html"}}) as base:
        args = ["--kind", "listing", "--config", str(tmp_path / "forum.yaml")]
        args += ["--database-url", f"sqlite:///{db}", *NO_SCORE]
        (tmp_path / "forum.yaml").write_text(
            f"name: xf\nkind: listing\nstart_urls: ['{base}/threads/dark-theme.8276/']\n",
            encoding="utf-8",
        )
        first = run_crawl(args, None)
        assert first.summary("xf")["posts"] == 8 and first.summary("xf")["drift"] == []
        # The forum's new theme renames the post container.
        _drifted(XENFORO, page, b"message--post", b"message--entry")
        second = run_crawl(args, None)
    summary = second.summary("xf")
    assert summary["posts"] == 0
    assert summary["drift"] == [
        "markup drift: no posts found, the last crawl with posts found 8 — the page markup "
        "may have changed"
    ]
    assert "source xf: markup drift: no posts found" in second.stderr
    with Store.open(f"sqlite:///{db}") as store:
        (xf,) = store.sources_overview()
    assert (xf["name"], xf["posts"], xf["drift"]) == ("xf", 0, summary["drift"])
