"""Crawl throughput: a real Scrapy crawl of a generated classifieds site on 127.0.0.1.

Runs in a subprocess (one Twisted reactor per process) with politeness delays off for the
local server; robots.txt stays on. Reports pages/s and posts/s and the crawl's peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from signalering.demo.generate import generate_listing_site
from signalering.demo.server import serve_site

ADS = 400
REPO = Path(__file__).resolve().parents[1]


def run() -> list[dict]:
    """One row: ``items`` = pages fetched, ``items_per_s`` = pages/s, plus ``posts_per_s``."""
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        root = Path(tmp)
        sources = generate_listing_site(root / "site", ads=ADS, per_page=20)
        with serve_site(root / "site") as base:
            cmd = [
                str(Path(sys.executable).with_name("signalering")), "crawl", "--json",
                "--sources", str(sources), "--base-url", base, "-o", str(root / "posts.jsonl"),
                "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
                "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            ]  # fmt: skip
            # Its own home: job folders and locks of this run only.
            env = {**os.environ, "SIGNALERING_PATHS_HOME": str(root / "home")}
            start = time.perf_counter()
            proc = subprocess.run(
                cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True
            )
            seconds = time.perf_counter() - start
        summary = json.loads(proc.stdout.splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    pages, posts = summary["pages"], summary["posts"]
    return [
        {
            "stage": "crawl",
            "items": pages,
            "seconds": round(seconds, 2),
            "items_per_s": round(pages / seconds, 1),
            "peak_mb": round(peak_mb, 1),
            "posts": posts,
            "posts_per_s": round(posts / seconds, 1),
            "note": f"generated site, {ADS} detail pages, subprocess incl. Scrapy start-up",
        }
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
