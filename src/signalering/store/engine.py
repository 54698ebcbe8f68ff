"""Engines and migrations: SQLite pragmas, connection checks and one-line errors."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from signalering.errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Serialises concurrent first-time migrations of one PostgreSQL database.
_PG_MIGRATION_LOCK = 7_305_421_977


def masked(url: URL | str) -> str:
    """The URL as text with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def create(url: str) -> Engine:
    """An engine for ``url``; raises StoreError naming the URL for a bad one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"database URL {url!r} is not a valid URL — use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = _sqlite_engine(parsed)
        elif backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
            engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        else:
            raise StoreError(
                f"database {masked(parsed)} is not supported — use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST:PORT/DB"
            )
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreError(
            f"database {masked(parsed)}: {_first_line(exc)} — use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    check(engine)
    return engine


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise StoreError(
                f"cannot create database {path}: {blocker} is a file, not a folder — "
                "choose another path with SIGNALERING_DATABASE_URL=sqlite:///PATH"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for database {path}: {exc.strerror or exc} — "
                "choose a writable path with SIGNALERING_DATABASE_URL=sqlite:///PATH"
            ) from None
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise StoreError(
                f"database {path} is not writable — fix its permissions or choose another "
                "path with SIGNALERING_DATABASE_URL=sqlite:///PATH"
            )
        url = url.set(database=str(path))
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy emit BEGIN itself (the sqlite3 module's own handling skips
        # it for SELECT and DDL), so writes can take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Zero deleted content instead of leaving it in free space: a purged post's text
        # must not stay readable in the file (and neither must an edited post's old text).
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Writers use BEGIN IMMEDIATE: a reader upgrading to a writer mid-transaction
        # would fail with "database is locked" regardless of the busy timeout.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def check(engine: Engine) -> None:
    """Connect once; an unreachable server or unwritable file becomes a StoreError."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise StoreError(_explain(engine, exc)) from None


def _explain(engine: Engine, exc: BaseException) -> str:
    where = masked(engine.url)
    reason = _first_line(exc)
    if engine.dialect.name == "sqlite":
        return (
            f"cannot open database {where}: {reason} — check the path and its permissions "
            "or set SIGNALERING_DATABASE_URL"
        )
    low = reason.lower()
    if "does not exist" in low and "database" in low:
        db = engine.url.database
        fix = f"create it (createdb {db}) or set SIGNALERING_DATABASE_URL"
    elif "password" in low or "authentication" in low:
        fix = "check the user and password in SIGNALERING_DATABASE_URL"
    else:
        fix = "is the server running and reachable? check host and port in SIGNALERING_DATABASE_URL"
    return f"cannot connect to database {where}: {reason} — {fix}"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing into the installed package (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolates "%": escape it (URL-encoded passwords contain it).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; cheap when it is already there."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    cfg = alembic_config(engine)
    try:
        # SQLite: take the write lock before alembic reads its version table, so a
        # second process waits for the first instead of failing on a lock upgrade.
        with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
            try:
                cfg.attributes["connection"] = conn
                logger.info("migrating %s to %s", masked(engine.url), head)
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                if engine.dialect.name == "postgresql":
                    conn.rollback()
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()
    except DBAPIError as exc:
        # Another process may have migrated the same database at the same moment.
        if current_revision(engine) == head:
            return
        raise StoreError(
            f"cannot migrate database {masked(engine.url)}: {_first_line(exc)} — "
            "check that the user may create tables"
        ) from None
