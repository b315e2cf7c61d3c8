"""App data (API keys, threads, runs, handoffs, feedback): SQLite by default, or Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agent.settings import Settings

metadata = MetaData()


def utcnow() -> datetime:
    """Timezone-aware now; every stored timestamp is UTC."""
    return datetime.now(UTC)


api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("revoked", Boolean, nullable=False, default=False),
)

threads = Table(
    "threads",
    metadata,
    Column("thread_id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("owner", String(128), nullable=True),
    Column("metadata", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="idle"),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=utcnow),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("thread_id", String(64), nullable=False, index=True),
    Column("assistant_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("metadata", JSON, nullable=False, default=dict),
    Column("kwargs", JSON, nullable=False, default=dict),
    Column("multitask_strategy", String(16), nullable=False, default="reject"),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=utcnow),
)


handoffs = Table(
    "handoffs",
    metadata,
    Column("handoff_id", String(36), primary_key=True),
    Column("interrupt_id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("thread_id", String(64), nullable=False, index=True),
    Column("customer_id", String(128), nullable=True),
    Column("reason", String(64), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="open"),
    Column("claimed_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
)


feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("thread_id", String(64), nullable=False, index=True),
    Column("run_id", String(64), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("final_text", Text, nullable=True),
    Column("author", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
)


ingest_jobs = Table(
    "ingest_jobs",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("report", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=utcnow),
)


feature_flags = Table(
    "feature_flags",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("tenant", String(64), primary_key=True),
    Column("percent", Integer, nullable=False),
    Column("killed", Boolean, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=utcnow),
)

flag_audit = Table(
    "flag_audit",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, index=True),
    Column("tenant", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("old", JSON, nullable=True),
    Column("new", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, default=utcnow),
)

release_pins = Table(
    "release_pins",
    metadata,
    Column("pin_id", Integer, primary_key=True, autoincrement=True),
    Column("prompt_version", String(32), nullable=False),
    Column("model", String(128), nullable=True),
    Column("reason", String(200), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
)


def sqlite_url(path: Path) -> str:
    """Async SQLite URL for a file path."""
    return f"sqlite+aiosqlite:///{path}"


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
)
"""Write-ahead log with fsync at checkpoints, not at every commit: a run commits several times,
and a rollback journal with a full sync per commit made SQLite I/O the largest cost of a turn.
An application crash loses nothing; a power loss may lose the last commits (the embedded
profile's trade-off; production runs on Postgres)."""


def _apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def create_engine_for(url: str, pool_size: int = 10, timeout_s: float = 10.0) -> AsyncEngine:
    """An engine with bounded pools; ``pre_ping`` survives a database restart."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_s,
        pool_recycle=1800,
        connect_args={"connect_timeout": max(1, int(timeout_s))},
    )


async def open_engine(
    url: str, *, migrate: bool = True, pool_size: int = 10, timeout_s: float = 10.0
) -> AsyncEngine:
    """Create the engine and bring its schema to the newest migration (idempotent)."""
    from api.migrate import upgrade

    engine = create_engine_for(url, pool_size, timeout_s)
    if migrate:
        try:
            await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
    return engine


async def open_app_engine(settings: Settings) -> AsyncEngine:
    """The app database the settings name, migrated unless ``auto_migrate`` is off."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return await open_engine(
        settings.app_db_url,
        migrate=settings.auto_migrate,
        pool_size=settings.db_pool_size,
        timeout_s=settings.db_pool_timeout_s,
    )
