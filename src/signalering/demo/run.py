"""`signalering demo`: serve the bundled site, crawl it, analyse, store, summarise."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import model
from ..config import DatabaseSettings, Settings
from ..post import Post

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent
SITE = DEMO_DIR / "site"
SOURCES = DEMO_DIR / "sources.yaml"


@dataclass
class DemoResult:
    database_url: str
    crawls: list[Any]
    counts: list[dict[str, Any]]
    top: list[Post]
    seconds: float


def run_demo(settings: Settings, *, top: int = 8) -> DemoResult:
    """Crawl the demo site on 127.0.0.1 with the real spiders into a fresh demo store."""
    from spiders.run import crawl
    from spiders.sources import load_sources

    from ..store import Store
    from .server import serve_site

    started = time.perf_counter()
    model.load(settings)  # a missing model stops here, before the site and the crawl
    home = settings.paths.home
    home.mkdir(parents=True, exist_ok=True)
    db = home / "demo.sqlite3"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    # The user's settings (model, threshold, similarity, key), with the demo store.
    demo = settings.model_copy(update={"database": DatabaseSettings(url=url)})
    with tempfile.TemporaryDirectory(prefix="signalering-demo-") as jobs, serve_site(SITE) as base:
        logger.info("demo site at %s", base)
        sources = load_sources(SOURCES, base_url=base)
        summaries = crawl(
            sources,
            demo,
            store=True,
            score=True,
            jobdir=Path(jobs),
            settings={"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0},
        )
    with Store.open(url, pseudonym_key=settings.pseudonym_key()) as store:
        counts = store.counts()
        flagged = store.flagged(limit=top)
    return DemoResult(url, summaries, tabulate(counts), flagged, time.perf_counter() - started)


def tabulate(counts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store counts (split by the flag) as one row per label and language."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c in counts:
        key = (c["label"] or "unscored", c["lang"] or "und")
        row = rows.setdefault(key, {"label": key[0], "lang": key[1], "posts": 0, "flagged": 0})
        row["posts"] += c["posts"]
        row["flagged"] += c["posts"] if c["flagged"] else 0
    return sorted(rows.values(), key=lambda r: (r["label"], r["lang"]))
