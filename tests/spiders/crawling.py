"""Crawl helpers the spider tests share (imported by conftest and by module fixtures)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Real third-party pages (Telegram previews, forum engines, feeds). They sit beside the
# clone, read-only, under their authors' licences: read and served where they lie.
REAL_FIXTURES = REPO.parent / "shared" / "fixtures"


def real_fixtures(folder: str) -> Path:
    """``../shared/fixtures/FOLDER``; a missing folder is an error, not a skip."""
    path = REAL_FIXTURES / folder
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} not found — the real fixtures live in ../shared/fixtures beside the clone"
        )
    return path


# Lower delays for 127.0.0.1 only; robots.txt stays on.
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "LOG_LEVEL=INFO"]


@dataclass
class CrawlResult:
    returncode: int
    summaries: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    log: list[str] = field(default_factory=list)
    stderr: str = ""

    def by_source(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.posts if p["source"] == name]

    def summary(self, name: str) -> dict[str, Any]:
        return next(s for s in self.summaries if s["source"] == name)


def run_crawl(args: list[str], output: Path | None, *, timeout: float = 120) -> CrawlResult:
    """``python -m spiders.run ARGS -o OUTPUT`` in a subprocess."""
    cmd = [sys.executable, "-m", "spiders.run", *args, *FAST]
    if output is not None:
        cmd += ["-o", str(output)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout)
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    posts = []
    if output is not None and output.exists():
        posts = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return CrawlResult(proc.returncode, summaries, posts, stderr=proc.stderr)
