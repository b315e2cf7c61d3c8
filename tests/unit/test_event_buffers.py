"""The ``EventBuffer`` contract, run against every backend (Redis when it is reachable)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from api.events import EventBuffer, InvalidEventIdError, MemoryEventBuffer, UnknownStreamError
from tests.conftest import skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["memory", "redis"])
async def buffer(request: pytest.FixtureRequest) -> AsyncIterator[EventBuffer]:
    if request.param == "memory":
        yield MemoryEventBuffer()
        return
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    from api.events_redis import RedisEventBuffer

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except RedisConnectionError:
        await client.aclose()
        skip_or_fail("Redis is not reachable on 127.0.0.1:6379")
    yield RedisEventBuffer(client, retention_s=60)
    await client.aclose()


async def collect(
    buffer: EventBuffer, run_id: str, after: str | None = None
) -> list[tuple[str, str]]:
    return [(e.event, e.data) async for e in buffer.subscribe(run_id, after)]


async def test_replay_then_tail_until_closed(buffer: EventBuffer) -> None:
    run_id = str(uuid.uuid4())
    await buffer.open(run_id)
    ids = [await buffer.publish(run_id, "token", f'"{i}"') for i in range(3)]
    reader = asyncio.create_task(collect(buffer, run_id))
    await asyncio.sleep(0)
    ids.append(await buffer.publish(run_id, "token", '"3"'))
    await buffer.close(run_id)
    assert await reader == [("token", f'"{i}"') for i in range(4)]
    assert len(set(ids)) == 4


async def test_resume_after_any_id_is_exact(buffer: EventBuffer) -> None:
    run_id = str(uuid.uuid4())
    await buffer.open(run_id)
    ids = [await buffer.publish(run_id, "e", str(i)) for i in range(6)]
    await buffer.close(run_id)
    for cut, last_id in enumerate(ids):
        await buffer.check(run_id, last_id)
        assert [d for _, d in await collect(buffer, run_id, last_id)] == [
            str(i) for i in range(cut + 1, 6)
        ]


async def test_unknown_streams_and_ids_are_refused(buffer: EventBuffer) -> None:
    with pytest.raises(UnknownStreamError):
        await buffer.check(str(uuid.uuid4()))
    run_id = str(uuid.uuid4())
    await buffer.open(run_id)
    await buffer.publish(run_id, "e", "1")
    with pytest.raises(InvalidEventIdError):
        await buffer.check(run_id, "not-an-id")
    with pytest.raises(InvalidEventIdError):
        await buffer.check(run_id, "99999999999999-0")
