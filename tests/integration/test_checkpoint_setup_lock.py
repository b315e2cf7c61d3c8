"""Replicas starting together on one Postgres: the checkpoint migrations never deadlock.

The migrations build an index ``CONCURRENTLY``, which waits for every open statement in the
database. A replica that waited for the migration lock inside a blocking statement would be
one, while the lock holder waited for the index: both replicas hung at startup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row

from agent.checkpoints import (
    _SETUP_LOCK_KEY,
    CheckpointSetupLockTimeout,
    open_checkpointer,
    take_setup_lock,
)
from tests.backends import fresh_postgres_database
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

WAIT_S = 30.0


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A database of this test's own: the checkpoint tables must not exist yet."""
    with fresh_postgres_database() as url:
        yield url


async def _other_replica_waiting(admin: psycopg.AsyncConnection[Any], holder_pid: int) -> None:
    """Until another connection to the database has asked for the migration lock."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        cursor = await admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> %s AND query ILIKE %s",
            (holder_pid, "%advisory_lock(%"),
        )
        row = await cursor.fetchone()
        if row is not None and row[0] > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the second replica never asked for the migration lock")


async def test_a_waiting_replica_does_not_block_the_migrating_one(
    database: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, database_url=database)
    async with AsyncExitStack() as stack:
        # Replica A: holds the lock, as the first replica to start does while it migrates.
        holder = await psycopg.AsyncConnection.connect(database, autocommit=True)
        stack.push_async_callback(holder.close)
        await take_setup_lock(holder)
        # Replica B: starts now and waits for A.
        second = asyncio.create_task(stack.enter_async_context(open_checkpointer(settings)))
        await _other_replica_waiting(holder, holder.info.backend_pid)

        # A runs the migrations on another connection of its pool, as AsyncPostgresSaver does.
        migrator = await psycopg.AsyncConnection.connect(
            database, autocommit=True, row_factory=dict_row
        )
        stack.push_async_callback(migrator.close)
        await asyncio.wait_for(AsyncPostgresSaver(conn=migrator).setup(), WAIT_S)
        await holder.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))

        saver = await asyncio.wait_for(second, WAIT_S)
        config = {"configurable": {"thread_id": "never-written", "checkpoint_ns": ""}}
        assert await saver.aget_tuple(config) is None  # type: ignore[arg-type]
        versions = await migrator.execute("SELECT count(*) AS n FROM checkpoint_migrations")
        row = await versions.fetchone()
        assert row is not None
        assert row["n"] == len(AsyncPostgresSaver.MIGRATIONS)


async def test_a_lock_held_too_long_is_a_clear_timeout(database: str) -> None:
    async with (
        await psycopg.AsyncConnection.connect(database, autocommit=True) as holder,
        await psycopg.AsyncConnection.connect(database, autocommit=True) as waiter,
    ):
        await take_setup_lock(holder)
        with pytest.raises(CheckpointSetupLockTimeout, match="another replica held"):
            await take_setup_lock(waiter, timeout_s=0.3)
        # Nothing is left waiting: the waiter's connection is idle, not inside a statement.
        cursor = await holder.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (waiter.info.backend_pid,)
        )
        row = await cursor.fetchone()
        assert row is not None
        assert row[0] == "idle"
