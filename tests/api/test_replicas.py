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
from api.app import create_app, token_secret
from api.auth import KeyStore, mint_end_user_token
from api.db import open_engine
from tests.api.conftest import JAMES, read_events
from tests.conftest import make_settings, skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/14"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@asynccontextmanager
async def replica(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(create_app(settings, services)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
            yield client


async def _customer_headers(settings: Settings) -> dict[str, str]:
    engine = await open_engine(settings.app_db_url)
    key = await KeyStore(engine).create("customer", settings.tenant)
    await engine.dispose()
    token = mint_end_user_token(token_secret(settings), settings.tenant, JAMES)
    return {"x-api-key": key, "authorization": f"Bearer {token}"}


async def test_rejoin_on_another_replica(services: Services, tmp_path: Path) -> None:
    if not _redis_up():
        skip_or_fail("Redis is not reachable on 127.0.0.1:6379")
    settings = make_settings(tmp_path, redis_url=REDIS_URL)
    headers = await _customer_headers(settings)
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
    headers = await _customer_headers(settings)
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
