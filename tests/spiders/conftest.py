"""Real crawls of fixture sites on 127.0.0.1, each in its own process (one reactor each)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from signalering.demo.server import serve_site

SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"
REPO = Path(__file__).resolve().parents[2]
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


@pytest.fixture
def web_site() -> Iterator[tuple[str, list[str]]]:
    """The forum / classifieds / news fixture site; yields (base URL, request log)."""
    log: list[str] = []
    with serve_site(SITES / "web", log=log) as base:
        yield base, log


@pytest.fixture
def telegram_site() -> Iterator[tuple[str, list[str]]]:
    log: list[str] = []
    with serve_site(SITES / "telegram", log=log) as base:
        yield base, log


@pytest.fixture
def crawl():
    """The ``run_crawl`` helper, for tests."""
    return run_crawl
