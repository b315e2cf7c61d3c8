"""Two app replicas sharing the app database and Redis: a stream rejoins on the other one."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from agent.services import Services
from agent.settings import Settings
from api.app import create_app
from tests.api.conftest import customer_headers, read_events
from tests.backends import REDIS_HOST, REDIS_PORT, port_open
from tests.conftest import make_settings, skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/14"


@asynccontextmanager
async def replica(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(create_app(settings, services)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
            yield client


async def test_rejoin_on_another_replica(services: Services, tmp_path: Path) -> None:
    if not port_open(REDIS_HOST, REDIS_PORT):
        skip_or_fail("Redis is not reachable on 127.0.0.1:6379")
    settings = make_settings(tmp_path, redis_url=REDIS_URL)
    headers = await customer_headers(settings)
    async with replica(settings, services) as a, replica(settings, services) as b:
        _, full = await read_events(
            a,
            "POST",
            "/v1/chat/stream",
            json={"message": "How do gift cards work?"},
            headers=headers,
        )
        _, head = await read_events(
            a,
            "POST",
            "/v1/chat/stream",
            json={"message": "How do gift cards work?"},
            headers=headers,
            stop_after=3,
        )
        run_id = head[0].data["run_id"]
        _, tail = await read_events(
            b,
            "GET",
            f"/v1/chat/runs/{run_id}/stream",
            headers={**headers, "Last-Event-ID": head[-1].id or ""},
        )
    assert [e.event for e in head + tail][1:] == [e.event for e in full][1:]
    ids = [e.id for e in head + tail]
    assert len(set(ids)) == len(ids)
    assert tail[-1].event == "end"


async def test_unreachable_redis_degrades_to_in_process(services: Services, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{port}/0")
    headers = await customer_headers(settings)
    async with replica(settings, services) as client:
        response, events = await read_events(
            client,
            "POST",
            "/v1/chat/stream",
            json={"message": "How do I return an item?"},
            headers=headers,
        )
    assert response.status_code == 200
    assert events[-1].event == "end"
