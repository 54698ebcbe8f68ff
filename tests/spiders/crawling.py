"""Crawl helpers the spider tests share (imported by conftest and by module fixtures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
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
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_START_DELAY=0"]
BIN = Path(sys.executable).with_name("signalering")
TEST_KEY = "test-key"


def crawl_command(args: list[str], *, verbose: bool = False) -> list[str]:
    """``signalering [-v] crawl --json ARGS``: the one door to crawling, as users run it."""
    return [str(BIN), *(["--verbose"] if verbose else []), "crawl", "--json", *args]


def crawl_env(home: Path) -> dict[str, str]:
    """The environment of a test crawl: its own home (job folders, locks) and a test key,
    nothing else of the caller's SIGNALERING_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALERING_")}
    env["SIGNALERING_PATHS_HOME"] = str(home)
    env["SIGNALERING_PRIVACY_PSEUDONYM_KEY"] = TEST_KEY
    return env


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


def run_crawl(
    args: list[str],
    output: Path | None,
    *,
    timeout: float = 120,
    home: Path | None = None,
    verbose: bool = False,
) -> CrawlResult:
    """``signalering crawl --json ARGS -o OUTPUT`` in a subprocess, with ``home`` (default: a
    fresh folder, so no job state carries over) as ``paths.home``; ``verbose``: INFO logs
    in ``stderr`` too."""
    cmd = crawl_command([*args, *FAST], verbose=verbose)
    if output is not None:
        cmd += ["-o", str(output)]
    with tempfile.TemporaryDirectory(prefix="crawl-home-") as fresh:
        env = crawl_env(home or Path(fresh))
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout
        )
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    posts = []
    if output is not None and output.exists():
        posts = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return CrawlResult(proc.returncode, summaries, posts, stderr=proc.stderr)
