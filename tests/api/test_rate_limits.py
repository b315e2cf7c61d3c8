"""Rate limits: 429 with Retry-After and RateLimit headers, per customer, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from agent.services import Services
from api.app import create_app, token_secret
from api.auth import KeyStore, mint_end_user_token
from api.db import open_engine
from tests.conftest import make_settings


async def test_customer_limit_answers_429_with_retry_after(
    services: Services, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, rate_limit_per_customer="2/minute")
    engine = await open_engine(settings.app_db_url)
    key = await KeyStore(engine).create("customer", settings.tenant)
    await engine.dispose()
    secret = token_secret(settings)

    def headers(customer: str) -> dict[str, str]:
        token = mint_end_user_token(secret, settings.tenant, customer)
        return {"x-api-key": key, "authorization": f"Bearer {token}"}

    async with LifespanManager(create_app(settings, services)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"message": "How do I return an item?"}
            codes = [
                (
                    await client.post(
                        "/v1/chat/stream", json=body, headers=headers("james_li_5688")
                    )
                ).status_code
                for _ in range(3)
            ]
            limited = await client.post(
                "/v1/chat/stream", json=body, headers=headers("james_li_5688")
            )
            other = await client.post(
                "/v1/chat/stream", json=body, headers=headers("noah_brown_6181")
            )
    assert codes == [200, 200, 429]
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit-limit"] == "2"
    assert other.status_code == 200
