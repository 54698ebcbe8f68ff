"""A contact kind added to the entity registry is treated as a contact everywhere.

The kind is registered at test time only (a Session messenger id: 66 hex characters
starting with 05), so no rule of its own exists anywhere: extraction, the store,
linking, the export, the campaign scrub and the campaign views know it only through
:mod:`signalering.entities`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from signalering import entities
from signalering.campaign import aggregates_from_posts
from signalering.campaign.scrub import contacts_left, excerpt, scrub
from signalering.config import Settings
from signalering.entities import EntityKind
from signalering.extract import extract
from signalering.link.fingerprint import contact_keys
from signalering.post import Post
from signalering.privacy import pseudonymise
from signalering.store import Store
from signalering.web.app import create_app
from signalering.web.export import export_posts

from .conftest import KEY, add_users, csrf_of, login

SESSION_ID = "05" + "ab12" * 16
TEXT = (
    f"Boat Zuwara to Lampedusa, 3000 euro per person, write me on Session {SESSION_ID} "
    "for the next departure"
)


@pytest.fixture
def session_kind() -> Iterator[EntityKind]:
    kind = EntityKind(
        kind="session",
        key="sessions",
        contact=True,
        pattern=re.compile(r"(?<![0-9a-f])05[0-9a-f]{64}(?![0-9a-f])"),
    )
    with entities.registered(kind):
        yield kind


def test_without_the_kind_nothing_knows_the_id() -> None:
    # The control: the scrub's own regexes do not catch the id, only the registry does.
    assert "sessions" not in extract(TEXT, lang="en")
    assert SESSION_ID in scrub(TEXT, lang="en")


def test_a_registered_contact_kind_is_extracted_and_scrubbed(session_kind: EntityKind) -> None:
    found = extract(TEXT, lang="en")
    assert [e["value"] for e in found["sessions"]] == [SESSION_ID]
    assert found["handles"] == [] and found["phones"] == []  # claimed by the contact kind
    assert entities.contact_keys() == ("phones", "handles", "sessions")

    clean = scrub(TEXT, lang="en")
    assert SESSION_ID not in clean and "[session]" in clean
    assert contacts_left(clean, lang="en") == []
    assert SESSION_ID not in excerpt(TEXT, lang="en", limit=60)


def test_a_registered_contact_kind_is_pseudonymised_in_the_store_and_links_posts(
    session_kind: EntityKind, store_url: str
) -> None:
    with Store.open(store_url, pseudonym_key=KEY) as store:
        store.save_posts(
            [
                Post(text=TEXT, source="tg", post_id=str(i), entities=extract(TEXT, lang="en"))
                for i in (1, 2)
            ]
        )
        posts = list(store.iter_posts())
    pseudonym = pseudonymise(SESSION_ID, KEY, kind="session")
    for post in posts:
        [item] = post.entities["sessions"]  # type: ignore[index]
        assert item["pseudonym"] == pseudonym and item["value"] == SESSION_ID
    # A shared session id links the two posts, by its pseudonym.
    keys = [set(contact_keys(p.entities)) for p in posts]
    assert f"sessions::{pseudonym}" in keys[0] & keys[1]


def test_analysts_see_and_export_it_campaign_users_only_its_pseudonym(
    session_kind: EntityKind, store_url: str, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"paths": {"home": str(tmp_path)}})
    post = Post(
        text=TEXT,
        source="tg",
        kind="telegram",
        post_id="1",
        label="offer",
        scores={"offer": 0.9, "unrelated": 0.1},
        flagged=True,
        model_version="test",
        lang="en",
        entities=extract(TEXT, lang="en"),
    )
    with Store.open(store_url, pseudonym_key=KEY) as store:
        store.save_posts([post])
        add_users(store)
        pk = int(next(iter(store.iter_posts())).id)  # type: ignore[arg-type]
        pseudonym = pseudonymise(SESSION_ID, KEY, kind="session")

        # Analysts: the post page lists it, the investigation export has a column for it.
        client = login(TestClient(create_app(settings, store=store)), "anna")
        page = client.get(f"/posts/{pk}").text
        assert 'class="entities-sessions"' in page and SESSION_ID in page
        rows = list(csv.DictReader(io.StringIO(export_posts(store, [pk], fmt="csv", user="a"))))
        assert rows[0]["sessions"] == SESSION_ID

        # Campaign users: the pseudonym in the contact counts, the clear id nowhere.
        carla = login(TestClient(create_app(settings, store=store)), "carla")
        csrf = csrf_of(carla.get("/campaign").text)
        views = carla.get("/campaign").text + carla.get("/api/aggregates").text
        assert SESSION_ID not in views
        contacts = carla.get("/api/aggregates").json()["contacts"]
        assert {"kind": "session", "pseudonym": pseudonym} in [
            {"kind": c["kind"], "pseudonym": c["pseudonym"]} for c in contacts
        ]
        assert (
            carla.post("/export", data={"ids": [pk], "fmt": "csv", "csrf": csrf}).status_code == 403
        )

        # The campaign report: counts and scrubbed excerpts only.
        report = json.dumps(aggregates_from_posts(store.iter_posts(), themes=False), default=str)
        assert SESSION_ID not in report
