"""An unusable database gives one line that names it and says what to do."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from signalering.errors import StoreError
from signalering.store import Store


def _one_line(exc: pytest.ExceptionInfo[StoreError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.postgres
def test_an_unreachable_postgres_server_is_one_line_naming_it_without_the_password() -> None:
    with pytest.raises(StoreError) as exc:
        Store.open("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test")
    message = _one_line(exc)
    assert "127.0.0.1:1" in message
    assert "hunter2" not in message
    assert "SIGNALERING_DATABASE_URL" in message


@pytest.mark.postgres
def test_a_missing_postgres_database_says_how_to_create_it() -> None:
    name = f"signalering_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(StoreError) as exc:
        Store.open(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    message = _one_line(exc)
    assert name in message and "createdb" in message


def test_an_unwritable_sqlite_path_is_one_line_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    path = blocker / "signalering.db"
    with pytest.raises(StoreError) as exc:
        Store.open(f"sqlite:///{path}")
    message = _one_line(exc)
    assert str(blocker) in message
    assert "SIGNALERING_DATABASE_URL" in message


def test_a_sqlite_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as exc:
        Store.open(f"sqlite:///{path}")
    assert str(path) in _one_line(exc)


def test_an_unsupported_url_is_one_line() -> None:
    with pytest.raises(StoreError) as exc:
        Store.open("mysql://db.example/signalering")
    assert "sqlite:///" in _one_line(exc)
