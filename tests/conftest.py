"""Shared database fixtures: a real SQLite file and a throw-away PostgreSQL database.

``store_url`` runs a test on both engines; ``store`` opens a migrated Store on it.
PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user ``postgres``); each
test gets its own database, created from ``test`` and dropped afterwards, so
concurrent test runs never share one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from signalering.store import Store

PG_HOST = os.environ.get("SIGNALERING_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SIGNALERING_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SIGNALERING_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("SIGNALERING_TEST_PG_DB", "test")
TEST_PSEUDONYM_KEY = b"signalering-test-key"


def _admin() -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in tmp_path (created on first open)."""
    return f"sqlite:///{tmp_path / 'signalering.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database with a random name, dropped after the test."""
    name = f"signalering_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgres"],
)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated Store on ``store_url`` with a fixed test pseudonym key."""
    with Store.open(store_url, pseudonym_key=TEST_PSEUDONYM_KEY) as opened:
        yield opened


# -- a trained model, once per test session ---------------------------------------
@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default recipe (TF-IDF features) trained on the family split's train part."""
    from signalering.model.training import train_model

    out = tmp_path_factory.mktemp("model") / "default"
    train_model(None, out, features="tfidf")
    return out
