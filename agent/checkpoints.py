"""Open the checkpointer the settings ask for: SQLite in the data dir, or pooled Postgres."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.settings import Settings

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger(__name__)

# Any stable 64-bit number; every replica takes this lock while it creates the tables.
_SETUP_LOCK_KEY = 0x5F5F_6368_6B70
SETUP_LOCK_TIMEOUT_S = 120.0
"""How long a replica waits for another to finish the checkpoint migrations."""
_SETUP_LOCK_POLL_S = (0.05, 1.0)
"""First and longest pause between tries for the migration lock."""


class CheckpointSetupLockTimeout(TimeoutError):
    """Another replica held the checkpoint migration lock past ``SETUP_LOCK_TIMEOUT_S``."""


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
            await take_setup_lock(conn)
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
        yield saver
    finally:
        await pool.close()


async def take_setup_lock(
    conn: AsyncConnection[Any], timeout_s: float = SETUP_LOCK_TIMEOUT_S
) -> None:
    """Take the migration lock by polling ``pg_try_advisory_lock``, never by blocking on it.

    The migrations build an index ``CONCURRENTLY``, which waits for every open statement in
    the database. A replica blocked inside ``pg_advisory_lock`` is such a statement, and it
    waits for the lock holder, which waits for the index: a deadlock Postgres cannot see,
    because one edge of it is the holder's own pool. Between tries a waiter holds nothing.
    """
    from psycopg.rows import tuple_row

    deadline = time.monotonic() + timeout_s
    pause, longest = _SETUP_LOCK_POLL_S
    while True:
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute("SELECT pg_try_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
            row = await cursor.fetchone()
        if row is not None and row[0]:
            return
        if time.monotonic() + pause > deadline:
            raise CheckpointSetupLockTimeout(
                f"another replica held the checkpoint migration lock for {timeout_s:.0f} s; "
                "check for a replica stuck in startup, or one still migrating a large table"
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, longest)
