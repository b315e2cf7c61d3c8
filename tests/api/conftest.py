"""App under test over ASGI (lifespan included), keys for every role, SSE helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.services import Services
from agent.settings import Settings
from api.app import create_app, token_secret
from api.auth import KeyStore, Role, mint_end_user_token
from api.db import open_engine
from api.deps import AppResources
from tests.conftest import make_settings

JAMES = "james_li_5688"
NOAH = "noah_brown_6181"


@dataclass
class Api:
    """A client plus the credentials tests need."""

    client: httpx.AsyncClient
    settings: Settings
    keys: dict[str, str]
    secret: str
    resources: AppResources

    def headers(self, role: str | None, customer: str | None = None) -> dict[str, str]:
        """Auth headers for a role (``None``: no credentials); customers may carry a token."""
        out: dict[str, str] = {}
        if role is not None:
            out["x-api-key"] = self.keys[role]
        if customer is not None:
            token = mint_end_user_token(self.secret, self.settings.tenant, customer)
            out["authorization"] = f"Bearer {token}"
        return out


async def _keys(engine: AsyncEngine, tenant: str) -> dict[str, str]:
    store = KeyStore(engine)
    roles: tuple[Role, ...] = ("customer", "agent", "engineer", "admin")
    keys: dict[str, str] = {r: await store.create(r, tenant, f"test {r}") for r in roles}
    keys["other_tenant"] = await store.create("engineer", "acme", "other tenant")
    return keys


# Limits shared through Redis across the whole session would trip on the suite's own traffic.
_UNLIMITED = "1000000/minute"


def backend_overrides(request: pytest.FixtureRequest, backend: str) -> dict[str, object]:
    """Settings that put the app on the embedded profile or on Postgres + Redis."""
    if backend == "embedded":
        return {}
    return {
        "database_url": request.getfixturevalue("postgres_url"),
        "redis_url": request.getfixturevalue("redis_url"),
        "rate_limit_per_key": _UNLIMITED,
        "rate_limit_per_customer": _UNLIMITED,
        "rate_limit_per_ip": _UNLIMITED,
    }


@pytest.fixture(params=["embedded", "production"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every API test runs on SQLite/in-process and on Postgres/Redis."""
    return str(request.param)


@asynccontextmanager
async def open_api(services: Services, settings: Settings) -> AsyncIterator[Api]:
    """The app on ``settings`` over ASGI, lifespan included, with a key for every role."""
    app = create_app(settings, services)
    engine = await open_engine(settings.app_db_url)
    keys = await _keys(engine, settings.tenant)
    await engine.dispose()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, settings, keys, token_secret(settings), app_resources(manager))


async def customer_headers(settings: Settings, customer: str = JAMES) -> dict[str, str]:
    """A customer key in the settings' app database plus a signed token for ``customer``."""
    engine = await open_engine(settings.app_db_url)
    key = await KeyStore(engine).create("customer", settings.tenant)
    await engine.dispose()
    token = mint_end_user_token(token_secret(settings), settings.tenant, customer)
    return {"x-api-key": key, "authorization": f"Bearer {token}"}


@pytest.fixture
async def api(
    services: Services, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path, max_body_bytes=4096, **backend_overrides(request, backend))
    async with open_api(services, settings) as api:
        yield api


def app_resources(manager: LifespanManager) -> AppResources:
    """What the lifespan opened (asgi-lifespan keeps lifespan state on the manager)."""
    found: AppResources = manager._state["sf"]
    return found


@dataclass
class Sse:
    """One parsed SSE event."""

    id: str | None
    event: str
    data: Any
    raw: str


def parse_sse(text: str) -> list[Sse]:
    """Parse a complete SSE body (comments and pings skipped)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "event" in fields or "data" in fields:
            data = json.loads(fields["data"]) if fields.get("data") else None
            events.append(
                Sse(fields.get("id"), fields.get("event", "message"), data, block + "\n\n")
            )
    return events


async def read_events(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    stop_after: int | None = None,
    **kwargs: Any,
) -> tuple[httpx.Response, list[Sse]]:
    """Stream a response; with ``stop_after`` the connection is dropped after that many events."""
    events: list[Sse] = []
    buffer = ""
    async with client.stream(method, url, **kwargs) as response:
        if response.status_code != 200:
            await response.aread()
            return response, []
        async for chunk in response.aiter_text():
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                parsed = parse_sse(block + "\n\n")
                events.extend(parsed)
                if stop_after is not None and len(events) >= stop_after:
                    return response, events
    return response, events


async def start_chat(api: Api, message: str, thread_id: str | None = None) -> list[Sse]:
    """One widget turn as the demo customer; returns its events (first is ``status``)."""
    body: dict[str, Any] = {"message": message}
    if thread_id:
        body["thread_id"] = thread_id
    _, events = await read_events(
        api.client, "POST", "/v1/chat/stream", json=body, headers=api.headers("customer", JAMES)
    )
    return events
