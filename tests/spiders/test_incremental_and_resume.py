"""Incremental crawls into the real SQLite store, edits, removals, and SIGKILL resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from crawling import crawl_command, crawl_env

from signalering.demo.generate import generate_listing_site
from signalering.demo.server import serve_site

SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"
REPO = Path(__file__).resolve().parents[2]
NO_SCORE = ["--no-score"]


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def test_second_crawl_stores_nothing_again_then_edits_update_and_removals_mark(tmp_path, crawl):
    site = tmp_path / "telegram"
    shutil.copytree(SITES / "telegram", site)
    db = tmp_path / "store.sqlite3"
    url = f"sqlite:///{db}"
    with serve_site(site) as base:
        args = ["--kind", "telegram", "--url", f"{base}/s/grensreizen", "--database-url", url]
        first = crawl([*args, *NO_SCORE], None)
        assert first.returncode == 0, first.stderr[-2000:]
        assert (first.summaries[0]["new"], first.summaries[0]["updated"]) == (21, 0)
        second = crawl([*args, *NO_SCORE], None)
        assert (second.summaries[0]["new"], second.summaries[0]["updated"]) == (0, 0)
        assert _rows(db, "select count(*) from posts")[0][0] == 21

        # The channel edits message 121 and deletes message 110.
        page2 = site / "s" / "grensreizen.html"
        page2.write_text(
            page2.read_text(encoding="utf-8").replace("Price changed: 2500 EUR", "Now 2000 EUR"),
            encoding="utf-8",
        )
        page3 = site / "s" / "grensreizen@before=113.html"
        html = page3.read_text(encoding="utf-8")
        start = html.index(
            '<div class="tgme_widget_message_wrap', html.index("grensreizen/110") - 400
        )
        end = html.index('<div class="tgme_widget_message_wrap', start + 10)
        page3.write_text(html[:start] + html[end:], encoding="utf-8")
        third = crawl([*args, *NO_SCORE], None)

    assert (third.summaries[0]["new"], third.summaries[0]["updated"]) == (0, 1)
    assert _rows(db, "select text from posts where post_id = '121'") == [("Now 2000 EUR",)]
    assert _rows(db, "select text from post_versions") == [("Price changed: 2500 EUR",)]
    removed = _rows(db, "select post_id from posts where removed_at is not null")
    assert removed == [("110",)]
    assert _rows(db, "select count(*) from posts")[0][0] == 21
    runs = _rows(db, "select source, status, pages from crawl_runs order by id")
    assert len(runs) == 3 and runs[0][0] == "telegram-grensreizen" and runs[0][2] == 5
    meta = _rows(db, "select metadata from sources where name = 'telegram-grensreizen'")
    assert json.loads(meta[0][0])["subscribers"] == 12300


def test_crawl_killed_with_sigkill_resumes_and_stores_every_post_once(tmp_path):
    site = tmp_path / "site"
    sources = generate_listing_site(site, ads=150, per_page=10)
    out = tmp_path / "posts.jsonl"
    db = tmp_path / "store.sqlite3"
    env = crawl_env(tmp_path / "home")
    jobdir = tmp_path / "home" / "jobs"  # paths.home/jobs
    log: list[str] = []
    with serve_site(site, log=log) as base:
        cmd = crawl_command([
            "--sources", str(sources), "--base-url", base,
            "-o", str(out), "--database-url", f"sqlite:///{db}",
            *NO_SCORE, "-s", "DOWNLOAD_DELAY=0.02", "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "CONCURRENT_REQUESTS=1", "-s", "SIGNALERING_BATCH_SIZE=5",
        ], verbose=True)  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and len(out.read_text(encoding="utf-8").splitlines()) >= 40:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        fetched_before = len(log)
        lines_before = len(out.read_text(encoding="utf-8").splitlines())
        assert 40 <= lines_before < 150  # killed mid-crawl

        resumed = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    ids = [json.loads(line)["post_id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 151)]  # each exactly once
    assert _rows(db, "select count(*), count(distinct post_id) from posts") == [(150, 150)]
    # It continued: the second run fetched far fewer pages than a full crawl (165 + robots).
    fetched_after = len(log) - fetched_before
    assert fetched_after < 165 - lines_before + 20
    assert "resuming" in resumed.stderr
    # A finished crawl clears its job state, so the next scheduled run starts afresh.
    assert not (jobdir / "generated" / "signalering-journal.jsonl").exists()


def test_two_runs_of_one_source_never_overlap(tmp_path):
    from spiders.run import source_lock

    with source_lock(tmp_path, "forum") as first, source_lock(tmp_path, "forum") as second:
        assert (first, second) == (True, False)
    with source_lock(tmp_path, "forum") as again:
        assert again is True


def test_an_unreachable_site_and_a_broken_job_state_are_one_line_each(tmp_path):
    """A crawl that failed to start leaves an empty spider.state; Scrapy then failed on it at
    every later run. A site that refuses connections is the site's trouble: one line, no
    traceback."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: feed\n    kind: feed\n    start_urls: [http://127.0.0.1:9/feed.xml]\n",
        encoding="utf-8",
    )
    jobdir = tmp_path / "home" / "jobs"  # paths.home/jobs
    (jobdir / "feed").mkdir(parents=True)
    (jobdir / "feed" / "spider.state").write_bytes(b"")
    cmd = crawl_command([
        "--sources", str(sources), *NO_SCORE, "-o", str(tmp_path / "posts.jsonl"),
        "-s", "RETRY_TIMES=0",
    ])  # fmt: skip
    result = subprocess.run(
        cmd, cwd=REPO, env=crawl_env(tmp_path / "home"), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 3  # the source had errors
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "removed unreadable" in result.stderr
    refused = [line for line in result.stderr.splitlines() if "Error downloading" in line]
    assert refused and all("refused" in line.lower() for line in refused)
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["errors"] >= 1
