"""The embedded profile's SQLite files: write-ahead log, fsync at checkpoints, busy timeout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from agent.checkpoints import open_checkpointer
from agent.settings import Settings
from api.db import create_engine_for, sqlite_url

NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL (SQLite's default)


async def test_app_database_connections_use_wal_and_normal_sync(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "app.sqlite"))
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert (mode, sync, busy) == ("wal", NORMAL, 5000)


async def test_sqlite_checkpointer_commits_without_a_full_sync(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    async with open_checkpointer(settings) as saver:
        conn = saver.conn  # type: ignore[attr-defined]
        async with conn.execute("PRAGMA synchronous") as cursor:
            row = await cursor.fetchone()
    assert row is not None
    assert row[0] == NORMAL
