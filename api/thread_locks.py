"""One run at a time per thread: in-process, or across replicas with Postgres advisory locks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class ThreadLocks(Protocol):
    """Held for the whole of a run, so two runs of a thread never interleave checkpoints."""

    def hold(self, thread_id: str) -> AbstractAsyncContextManager[None]:
        """Wait for and hold the thread's lock."""
        ...


class LocalThreadLocks:
    """A lock per thread id in this process (the embedded profile runs one process)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        """Hold the lock; it is forgotten when nobody uses it, so the map stays small."""
        lock = self._locks.setdefault(thread_id, asyncio.Lock())
        self._users[thread_id] = self._users.get(thread_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[thread_id] -= 1
            if self._users[thread_id] == 0:
                del self._users[thread_id]
                del self._locks[thread_id]


class PostgresThreadLocks:
    """A transaction-scoped advisory lock per thread, shared by every replica.

    Transaction scope means Postgres itself releases the lock when the transaction ends or
    its connection dies (a crashed replica never leaves a thread locked). Local locks in
    front keep same-process waiters from each holding a pooled connection while they wait.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._local = LocalThreadLocks()

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        """Hold the process-local lock, then the cluster-wide one."""
        async with self._local.hold(thread_id), self._engine.connect() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"supportflow:thread:{thread_id}"},
            )
            try:
                yield
            finally:
                await conn.rollback()


def thread_locks(engine: AsyncEngine) -> ThreadLocks:
    """Advisory locks when the app database is Postgres, otherwise in-process locks."""
    if engine.dialect.name == "postgresql":
        return PostgresThreadLocks(engine)
    return LocalThreadLocks()
