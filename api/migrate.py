"""Apply Alembic migrations to the app database, safely from several replicas at once."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Tables that existed before migrations were introduced; such a database is stamped, not rebuilt.
_FIRST_REVISION = "0001"
_LEGACY_TABLES = {"api_keys", "threads", "runs"}
# Stable key for the advisory lock that serialises migrations across replicas.
_MIGRATION_LOCK_KEY = 0x5F5F_6D69_6772


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic config pointing at the packaged scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the packaged scripts define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at (``None``: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, target: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    config = alembic_config(connection)
    existing = set(inspect(connection).get_table_names())
    if current_revision(connection) is None and existing >= _LEGACY_TABLES:
        logger.info("stamping a database created before migrations revision=%s", _FIRST_REVISION)
        command.stamp(config, _FIRST_REVISION)
    command.upgrade(config, target)


@asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """SQLite has no advisory locks; a lock file beside the database serialises processes."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    handle = await asyncio.to_thread(open, f"{database}.migrate-lock", "a+b")
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


async def upgrade(engine: AsyncEngine, target: str = "head") -> str | None:
    """Bring the database to ``target``; returns the revision it ends at."""
    async with _sqlite_file_lock(engine), engine.begin() as conn:
        await conn.run_sync(_upgrade, target)
        return await conn.run_sync(current_revision)


async def revision(engine: AsyncEngine) -> str | None:
    """The database's current revision, without changing anything."""
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision)
