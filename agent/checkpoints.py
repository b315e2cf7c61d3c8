"""Open the checkpointer the settings ask for: SQLite in the data dir, or pooled Postgres."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.settings import Settings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger(__name__)

# Any stable 64-bit number; every replica takes this lock while it creates the tables.
_SETUP_LOCK_KEY = 0x5F5F_6368_6B70


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Yield a ready checkpointer; Postgres when ``SUPPORTFLOW_DATABASE_URL`` is set."""
    if settings.database_url:
        async with _postgres_saver(settings) as saver:
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(settings.checkpoint_path)) as sqlite:
        # The saver turns on the write-ahead log; a full fsync on each of a run's dozen
        # checkpoint commits is what the default adds, and WAL keeps the file consistent.
        await sqlite.conn.execute("PRAGMA synchronous=NORMAL")
        yield sqlite


def checkpoint_pool(settings: Settings) -> AsyncConnectionPool[Any]:
    """A bounded pool; ``check`` replaces connections a Postgres restart has broken."""
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    assert settings.database_url is not None
    return AsyncConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=settings.db_pool_size,
        timeout=settings.db_pool_timeout_s,
        open=False,
        check=AsyncConnectionPool.check_connection,
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "connect_timeout": max(1, int(settings.db_pool_timeout_s)),
        },
    )


@asynccontextmanager
async def _postgres_saver(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    pool = checkpoint_pool(settings)
    await pool.open(wait=True, timeout=settings.db_pool_timeout_s)
    try:
        saver = AsyncPostgresSaver(conn=pool)
        async with pool.connection() as conn:
            # Replicas starting together would race on the checkpoint tables' migrations.
            await conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
        yield saver
    finally:
        await pool.close()
