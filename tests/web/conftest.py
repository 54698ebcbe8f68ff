"""Fixtures for the review app: a store filled through the real stages, users, a live server."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from signalering import accounts
from signalering.config import Settings
from signalering.model.classifier import Classifier
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store
from signalering.web.app import create_app

KEY = b"signalering-web-test-key"
PASSWORD = "correct horse battery staple"
PWNED = "window.__pwned=1"

# Crawled posts as they come in: offers in several scripts, one hostile post per trick.
POSTS = [
    Post(
        text="🚤 Boat Zuwara → Lampedusa guaranteed 100%, 3500€ per person, "
        "whatsapp +218 91 234 5678, no papers needed, leaving every week",
        source="tg-libya",
        kind="telegram",
        post_id="101",
        url="https://t.me/s/zuwara_trips/101",
        author="Abu Rihla",
        posted_at="2024-05-01T10:00:00+00:00",
    ),
    Post(
        text="رحلات بحرية من ليبيا إلى إيطاليا مضمونة ١٠٠٪ السعر ٣٠٠٠ يورو واتساب +218 91 765 4321",
        source="tg-libya",
        kind="telegram",
        post_id="102",
        url="https://t.me/s/zuwara_trips/102",
        author="Rihla Express",
        posted_at="2024-05-02T10:00:00+00:00",
    ),
    Post(
        text="Taxi naar Engeland vanuit Duinkerke, geen controle, 2500 euro per persoon, "
        "bel +33 6 12 34 56 78 of telegram @channel_uk_pass",
        source="forum-nl",
        kind="forum",
        post_id="103",
        url="https://forum.example/t/103",
        author="jan_transport",
        posted_at="2024-06-03T10:00:00+00:00",
    ),
    Post(
        text="Cheap ferry tickets Calais - Dover, book online with P&O Ferries",
        source="forum-nl",
        kind="forum",
        post_id="104",
        url="https://forum.example/t/104",
        posted_at="2024-06-04T10:00:00+00:00",
    ),
    # A repost of the first offer with the same number: one network with it.
    Post(
        text="Boat from Zuwara to Lampedusa every week, 3500 euro, guaranteed, "
        "whatsapp +218 91 234 5678",
        source="fb-groups",
        kind="facebook",
        post_id="105",
        url="https://facebook.example/groups/1/105",
        author="Rihla Travel",
        posted_at="2024-05-09T10:00:00+00:00",
    ),
    # Hostile posts: markup, event handlers, javascript: links, bidi overrides.
    Post(
        text=f"Boat to Italy guaranteed, 3000 euro, whatsapp +218 91 111 2222 <script>{PWNED}</script>",
        source="tg-hostile",
        kind="telegram",
        post_id="201",
        url="https://t.me/s/hostile/201",
        author=f"<img src=x onerror={PWNED}>",
        posted_at="2024-06-05T10:00:00+00:00",
    ),
    Post(
        text=f'Crossing to UK by boat 2000 euro per person <img src=x onerror="{PWNED}"> '
        "whatsapp +33 6 22 22 33 33",
        source="tg-hostile",
        kind="telegram",
        post_id="202",
        url=f"javascript:{PWNED}",
        posted_at="2024-06-06T10:00:00+00:00",
    ),
    Post(
        text="Boat Libya to Italy 3500 euro guaranteed, contact \u202eexe.live\u202c "
        '<a href="javascript:window.__pwned=1">click</a> whatsapp +218 92 333 4444',
        source="tg-hostile",
        kind="telegram",
        post_id="203",
        url="https://t.me/s/hostile/203",
        author="\u202etnega",
        posted_at="2024-06-07T10:00:00+00:00",
    ),
]


@dataclass
class Review:
    """A filled store and the ids of its posts by their crawled post id."""

    store: Store
    ids: dict[str, int]
    settings: Settings


@pytest.fixture(scope="session")
def scored(trained_model: Path) -> list[Post]:
    """The fixture posts run once through the real stages (normalise, language, classify, extract)."""
    return Stages(Classifier.load(trained_model)).process(POSTS)


def fill(store: Store, scored: list[Post]) -> dict[str, int]:
    """Save the scored posts into ``store``; returns post_id -> store id."""
    store.save_posts(scored)
    return {p.post_id: int(p.id) for p in store.iter_posts()}  # type: ignore[misc, arg-type]


def add_users(store: Store) -> None:
    accounts.add_user(store, "anna", "analyst", PASSWORD)
    accounts.add_user(store, "carla", "campaign", PASSWORD)
    accounts.add_user(store, "root", "admin", PASSWORD)


@pytest.fixture
def review(tmp_path: Path, scored: list[Post], store_url: str) -> Iterator[Review]:
    """A fresh store (SQLite, then PostgreSQL) with the fixture posts scored and three users."""
    settings = Settings.model_validate({"paths": {"home": str(tmp_path)}})
    with Store.open(store_url, pseudonym_key=KEY) as store:
        ids = fill(store, scored)
        add_users(store)
        yield Review(store, ids, settings)


@pytest.fixture
def client(review: Review) -> TestClient:
    """An HTTP client of the app (not logged in)."""
    return TestClient(create_app(review.settings, store=review.store))


def login(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    """Log ``client`` in through the login form, CSRF token included."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    client.post("/login", data={"name": name, "password": password, "csrf": token.group(1)})
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "page has no CSRF field"
    return found.group(1)


# -- a live server for the browser ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Live:
    url: str
    review: Review


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, scored: list[Post]) -> Iterator[Live]:
    """The app on a free 127.0.0.1 port in a background thread, over a filled store."""
    home = tmp_path_factory.mktemp("live")
    settings = Settings.model_validate({"paths": {"home": str(home)}})
    store = Store.open(f"sqlite:///{home / 'web.db'}", pseudonym_key=KEY)
    ids = fill(store, scored)
    add_users(store)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store=store), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "review app did not start"
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}", Review(store, ids, settings))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
