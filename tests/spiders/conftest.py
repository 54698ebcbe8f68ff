"""Real crawls of fixture sites on 127.0.0.1, each in its own process (one reactor each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from crawling import run_crawl

from signalering.demo.server import serve_site

SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"


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
