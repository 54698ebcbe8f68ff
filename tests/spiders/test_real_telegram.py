"""The Telegram spider on real pages Telegram served (2016-2026), crawled on 127.0.0.1.

Ground truth is ``../shared/fixtures/real-telegram/EXPECTED.json`` (its README defines each
field). Whole ``/s/`` pages and single-message fragments are served as channel previews,
the ``?embed=1`` widgets under their own post URLs.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from crawling import CrawlResult, real_fixtures, run_crawl

from signalering.demo.server import serve_site
from spiders.telegram import parse_count

REAL = real_fixtures("real-telegram")
EXPECTED: dict[str, list[dict[str, Any]]] = json.loads(
    (REAL / "EXPECTED.json").read_text(encoding="utf-8")
)
NOT_FOUND = "honeykingdom-server__post-not-found.html"
NOT_FOUND_URL = "/meduzalive/99999?embed=1"


def _source_name(file: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", file.removesuffix(".html").lower()).strip("-")


def _layout() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """URL routes onto the fixture files, and each file's start URL (path)."""
    routes: dict[str, dict[str, str]] = {}
    starts: dict[str, str] = {}
    for file, messages in EXPECTED.items():
        if file == NOT_FOUND:
            path, start = NOT_FOUND_URL.split("?")[0], NOT_FOUND_URL
        elif file.startswith("honeykingdom-server__"):  # ?embed=1 single-post widgets
            path = f"/{messages[0]['post']}"
            start = f"{path}?embed=1"
        else:  # whole /s/ pages and fragments copied from the browser
            path = start = f"/s/{_source_name(file)}"
        routes[path] = {"file": file}
        starts[file] = start
    return routes, starts


@pytest.fixture(scope="module")
def real_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlResult, Path, list[str]]:
    """One crawl of every real page: JSONL and a SQLite store (no scoring)."""
    tmp = tmp_path_factory.mktemp("real-telegram")
    routes, starts = _layout()
    log: list[str] = []
    with serve_site(REAL, routes=routes, log=log) as base:
        lines = ["sources:"]
        for file, start in starts.items():
            lines += [
                f"  - name: {_source_name(file)}",
                "    kind: telegram",
                f"    start_urls: ['{base}{start}']",
            ]
        sources = tmp / "sources.yaml"
        sources.write_text("\n".join(lines) + "\n", encoding="utf-8")
        db = tmp / "store.sqlite3"
        args = ["--sources", str(sources), "--database-url", f"sqlite:///{db}", "--no-score"]
        result = run_crawl(args, tmp / "posts.jsonl", timeout=300, verbose=True)
    return result, db, log


def _media(kinds: list[str]) -> dict[str, int]:
    counts = {}
    for kind in kinds:
        name, _, n = re.fullmatch(r"([a-z_]+?)(x(\d+))?", kind).group(1, 2, 3)  # type: ignore[union-attr]
        counts[name] = int(n or 1)
    return counts


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _mismatches(post: dict[str, Any], want: dict[str, Any]) -> list[str]:
    text = _one_line(post["text"])
    got = {
        "post": f"{post['channel']}/{post['post_id']}",
        "datetime": post["posted_at"],
        "has_text": bool(text),
        "text_prefix": text[:40] or None,
        "views": post["views"],
        "forwarded_from": post["forwarded_from"],
        "forwarded_from_url": post["forwarded_from_url"],
        "signed_author": post["author"],
        "reply_to": post["reply_to"],
        "is_service": post["is_service"],
        "media": post["media"],
    }
    expected = {**want, "views": parse_count(want["views"]), "media": _media(want["media"])}
    return [f"{k}: {got[k]!r} != {expected[k]!r}" for k in got if got[k] != expected[k]]


def test_every_expected_message_is_right_on_every_field(real_crawl):
    result, _, _ = real_crawl
    assert result.returncode == 0, result.stderr[-3000:]
    wrong: dict[str, list[str]] = {}
    matched = 0
    for file, messages in EXPECTED.items():
        posts = result.by_source(_source_name(file))
        # Document order on the page; the spider reads a page newest first.
        posts.sort(key=lambda p: int(p["post_id"]))
        assert [f"{p['channel']}/{p['post_id']}" for p in posts] == [m["post"] for m in messages]
        for post, want in zip(posts, messages, strict=True):
            problems = _mismatches(post, want)
            if problems:
                wrong[want["post"]] = problems
            else:
                matched += 1
    assert wrong == {}
    assert matched == sum(len(m) for m in EXPECTED.values()) == 44


def test_caption_inside_media_supported_cont_is_the_text_once(real_crawl):
    posts = {p["post_id"]: p for p in real_crawl[0].by_source("lifemodel-telegram-test-channel")}
    album = posts["1001"]["text"]
    assert album.startswith("This is a test message with multiple photos.")
    assert album.count("Kids learned about road safety") == 1
    forwarded = posts["1010"]["text"]
    assert forwarded.count("Restoration work will continue") == 1
    assert posts["1010"]["media"] == {"album": 1, "photo": 3}
    assert posts["1003"]["text"] == ""


def test_reply_quote_and_link_preview_stay_out_of_the_text(real_crawl):
    result = real_crawl[0]
    reply = result.by_source("honeykingdom-server-reply")[0]
    assert reply["reply_to"] == "https://t.me/meduzalive/40953"
    assert "«Важные истории» уточнили" not in reply["text"]
    preview = result.by_source("rust-any2feed-message-link-preview")[0]
    assert preview["link_previews"][0]["description"] not in preview["text"]


def test_forward_without_link_keeps_the_bare_name(real_crawl):
    voice = real_crawl[0].by_source("rust-any2feed-message-voice")[0]
    assert (voice["forwarded_from"], voice["forwarded_from_url"]) == ("Спортивный Екб", None)
    assert voice["media"] == {"voice": 1}


def test_post_not_found_page_is_logged_and_yields_nothing(real_crawl):
    result, _, log = real_crawl
    name = _source_name(NOT_FOUND)
    assert NOT_FOUND_URL in log
    assert result.by_source(name) == []
    assert result.summary(name)["status"] == "ok"
    assert f"telegram source {name}: " in result.stderr and "Post not found" in result.stderr


def test_new_fields_survive_into_the_store(real_crawl):
    _, db, _ = real_crawl
    with sqlite3.connect(db) as conn:
        rows = dict(
            conn.execute(
                "select post_id, extras from posts where source = 'rust-any2feed-full'"
            ).fetchall()
        )
    extras = json.loads(rows["70996"])
    assert extras["forwarded_from"] == "Военкор Ярем"
    assert extras["forwarded_from_url"].startswith("https://t.me/")
    assert extras["media"] == {"link_preview": 1}
    assert extras["is_service"] is False and extras["reply_to"] is None
    assert json.loads(rows["71000"])["media"] == {"album": 1, "photo": 6}
