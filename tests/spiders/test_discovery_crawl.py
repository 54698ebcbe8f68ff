"""Source discovery end to end: crawl a channel, suggest the channel its offers were
forwarded from, approve it, and the next scheduled crawl reads it too (real crawls of
Telegram-like fixture pages on 127.0.0.1, the ``signalering`` command as cron runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signalering.store import Store

BIN = Path(sys.executable).with_name("signalering")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


@pytest.mark.slow
def test_a_forwarded_channel_is_suggested_and_crawled_after_approval(
    telegram_site, tmp_path: Path, trained_model: Path
) -> None:
    base, log = telegram_site
    database = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = {
        "SIGNALERING_DATABASE_URL": database,
        "SIGNALERING_PATHS_HOME": str(tmp_path / "home"),
        "SIGNALERING_MODEL_PATH": str(trained_model),
    }
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "# watched channels\nsources:\n  - name: vluchtroute\n    kind: telegram\n"
        f'    start_urls: ["{base}/s/vluchtroute"]\n    download_delay: 0\n',
        encoding="utf-8",
    )

    first = _run(env, "crawl", "--sources", str(sources))
    assert first.returncode == 0, first.stderr[-2000:]
    assert not any("/s/overtocht" in line for line in log)  # nothing crawled unapproved

    suggested = _run(env, "sources", "suggest", "--sources", str(sources), "--json")
    assert suggested.returncode == 0, suggested.stderr[-2000:]
    found = {c["key"]: c for c in map(json.loads, suggested.stdout.splitlines())}
    with Store.open(database) as store:
        by_id = {p.post_id: p for p in store.iter_posts(source="vluchtroute")}
    forwarded = sorted(int(p.id) for p in by_id.values() if p.extras.get("forwarded_from_url"))
    overtocht = found["overtocht"]
    assert overtocht["posts"] == forwarded and len(forwarded) == 2
    assert overtocht["how"] == {"forwarded": 2} and overtocht["url"] == f"{base}/s/overtocht"
    assert list(found)[0] == "overtocht"  # two flagged posts: ranked above one
    # The invite link behind "join the group" is evidence, not a source; the unflagged
    # post's channel and the channel's link to itself are no candidates.
    assert found["t.me/+AbCdEfGhIjK12345"]["addable"] is False
    assert found["t.me/+AbCdEfGhIjK12345"]["posts"] == [int(by_id["301"].id)]  # type: ignore[arg-type]
    assert "newsdaily" not in found and "vluchtroute" not in found

    refused = _run(env, "sources", "add", "t.me/+AbCdEfGhIjK12345", "--sources", str(sources))
    assert refused.returncode == 2 and "private group" in refused.stderr
    added = _run(env, "sources", "add", "overtocht", "--sources", str(sources))
    assert added.returncode == 0, added.stderr[-2000:]
    assert "telegram-overtocht" in added.stdout
    assert sources.read_text(encoding="utf-8").startswith("# watched channels\nsources:\n")

    second = _run(env, "crawl", "--sources", str(sources))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "telegram-overtocht: " in second.stdout and "3 new" in second.stdout
    with Store.open(database) as store:
        stored = sorted(p.post_id for p in store.iter_posts(source="telegram-overtocht"))
        audit = [e for e in store.audit_log() if e["action"] == "source.add"]
    assert stored == ["40", "41", "42"]
    assert audit[0]["target"] == "candidate:overtocht"
    assert audit[0]["detail"]["flagged_posts"] == 2

    again = _run(env, "sources", "suggest", "--sources", str(sources), "--json")
    assert "overtocht" not in {json.loads(x)["key"] for x in again.stdout.splitlines()}
