"""A scheduled crawl into the store applies ``retention.days`` at its end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from signalering.store import Store

BIN = Path(sys.executable).with_name("signalering")


def test_a_crawl_into_the_store_purges_posts_older_than_retention_days(
    web_site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, _log = web_site
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = {
        **os.environ,
        "SIGNALERING_DATABASE_URL": url,
        "SIGNALERING_PATHS_HOME": str(tmp_path / "home"),
        "SIGNALERING_PRIVACY_PSEUDONYM_KEY": "k",
    }
    args = [str(BIN), "crawl", "--kind", "feed", "--url", f"{base}/news/atom.xml", "--no-score"]

    kept = subprocess.run(args, capture_output=True, env=env, timeout=300)
    assert kept.returncode == 0, kept.stderr.decode()
    with Store.open(url) as store:
        crawled = len(list(store.iter_posts()))
    assert crawled >= 2  # the feed's entries, posted in April 2024

    # With a period: the same (now old) posts are purged once the crawl is done.
    purged = subprocess.run(
        args, capture_output=True, env={**env, "SIGNALERING_RETENTION_DAYS": "365"}, timeout=300
    )
    assert purged.returncode == 0, purged.stderr.decode()
    assert f"purged {crawled} posts older than 365 days" in purged.stdout.decode()
    with Store.open(url) as store:
        assert list(store.iter_posts()) == []
        [line] = [e for e in store.audit_log() if e["action"] == "purge"]
    assert line["user"] == "job:crawl" and line["detail"]["posts"] == crawled
