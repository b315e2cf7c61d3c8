"""Per-thread run locks: two replicas (two engines on one Postgres) never run one thread at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from api.db import create_engine_for
from api.thread_locks import LocalThreadLocks, PostgresThreadLocks, ThreadLocks


@pytest.fixture
async def two_replicas(postgres_url: str) -> AsyncIterator[tuple[ThreadLocks, ThreadLocks]]:
    url = "postgresql+psycopg://" + postgres_url.split("://", 1)[1]
    engines = [create_engine_for(url, pool_size=2), create_engine_for(url, pool_size=2)]
    try:
        yield PostgresThreadLocks(engines[0]), PostgresThreadLocks(engines[1])
    finally:
        for engine in engines:
            await engine.dispose()


async def _held_then_released(a: ThreadLocks, b: ThreadLocks) -> list[str]:
    """``b`` asks for the lock ``a`` holds; returns the order in which things happened."""
    order: list[str] = []
    a_holds = asyncio.Event()
    a_may_release = asyncio.Event()

    async def first() -> None:
        async with a.hold("thread-1"):
            order.append("a acquired")
            a_holds.set()
            await a_may_release.wait()
            order.append("a released")

    async def second() -> None:
        await a_holds.wait()
        async with b.hold("thread-1"):
            order.append("b acquired")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await a_holds.wait()
    # b must still be waiting after its lock request has certainly reached the server.
    done, _ = await asyncio.wait({tasks[1]}, timeout=0.5)
    assert not done, "a second holder got the lock while the first still held it"
    a_may_release.set()
    await asyncio.gather(*tasks)
    return order


async def test_postgres_lock_excludes_the_other_replica(
    two_replicas: tuple[ThreadLocks, ThreadLocks],
) -> None:
    order = await _held_then_released(*two_replicas)
    assert order == ["a acquired", "a released", "b acquired"]


async def test_local_lock_excludes_within_a_process() -> None:
    locks = LocalThreadLocks()
    assert await _held_then_released(locks, locks) == ["a acquired", "a released", "b acquired"]
    assert locks._locks == {}  # forgotten once unused


async def test_different_threads_do_not_block_each_other(
    two_replicas: tuple[ThreadLocks, ThreadLocks],
) -> None:
    a, b = two_replicas
    async with a.hold("thread-1"):
        await asyncio.wait_for(_enter_and_leave(b, "thread-2"), timeout=5)


async def test_lock_is_released_when_the_holder_is_cancelled(
    two_replicas: tuple[ThreadLocks, ThreadLocks],
) -> None:
    a, b = two_replicas
    entered = asyncio.Event()

    async def holder() -> None:
        async with a.hold("thread-9"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(holder())
    await entered.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.wait_for(_enter_and_leave(b, "thread-9"), timeout=5)


async def _enter_and_leave(locks: ThreadLocks, thread_id: str) -> None:
    async with locks.hold(thread_id):
        pass
