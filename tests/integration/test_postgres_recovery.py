"""Postgres restarts: connections drop, the pools heal, runs continue; during the outage, 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from agent.services import Services
from api.app import create_app
from tests.api.conftest import Sse, customer_headers, read_events
from tests.backends import PG_PORT
from tests.conftest import make_settings
from tests.integration.tcp_proxy import CuttableProxy


class Client:
    """A replica on Postgres reached through a proxy the test can cut or stop."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], proxy: CuttableProxy):
        self.http = http
        self.headers = headers
        self.proxy = proxy

    async def chat(self, message: str, thread_id: str | None = None) -> tuple[int, list[Sse]]:
        body = {"message": message, **({"thread_id": thread_id} if thread_id else {})}
        response, events = await read_events(
            self.http, "POST", "/v1/chat/stream", json=body, headers=self.headers
        )
        return response.status_code, events


@pytest.fixture
async def replica(services: Services, postgres_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    proxy = CuttableProxy(PG_PORT)
    url = postgres_url.replace(f":{PG_PORT}/", f":{proxy.port}/")
    settings = make_settings(tmp_path, database_url=url, db_pool_timeout_s=3)
    headers = await customer_headers(settings)
    try:
        async with LifespanManager(create_app(settings, services)) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
                yield Client(http, headers, proxy)
    finally:
        proxy.close()


async def test_runs_recover_after_every_connection_drops(replica: Client) -> None:
    status, first = await replica.chat("How do gift cards work?")
    assert status == 200
    thread_id = first[0].data["thread_id"]
    assert replica.proxy.cut() > 0  # what a Postgres restart does to open connections
    status, second = await replica.chat("How do I return an item?", thread_id)
    assert status == 200
    assert second[-1].data == {"status": "success"}
    status, fresh = await replica.chat("What payment methods do you accept?")
    assert status == 200
    assert fresh[-1].data == {"status": "success"}


async def test_requests_during_the_outage_get_503_then_service_resumes(replica: Client) -> None:
    status, _ = await replica.chat("How do gift cards work?")
    assert status == 200
    port = replica.proxy.port
    replica.proxy.close()  # Postgres is down: new connections are refused
    response = await replica.http.post(
        "/v1/chat/stream", json={"message": "Hello"}, headers=replica.headers
    )
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
    replica.proxy = CuttableProxy(PG_PORT, port=port)  # Postgres is back on the same address
    status, events = await replica.chat("How do I return an item?")
    assert status == 200
    assert events[-1].data == {"status": "success"}
