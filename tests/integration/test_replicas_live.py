"""Real server processes sharing Postgres and Redis: any replica or worker serves any request."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from agent.services import Services
from api.auth import mint_end_user_token
from tests.api.conftest import JAMES, Sse, read_events
from tests.integration.live_server import LiveServer, live_server

pytestmark = pytest.mark.integration
SECRET = secrets.token_urlsafe(48)
QUESTION = "How do gift cards work?"


def _shared_env(postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        "SUPPORTFLOW_DATABASE_URL": postgres_url,
        "SUPPORTFLOW_REDIS_URL": redis_url,
        "SUPPORTFLOW_TOKEN_SECRET": SECRET,
        "SUPPORTFLOW_RATE_LIMIT_PER_CUSTOMER": "100000/minute",
    }


@pytest.fixture(scope="module")
def shared_db() -> Iterator[str]:
    from tests.backends import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield url


def _with_kb(target: Path, services: Services) -> Path:
    """A data dir seeded with the session's knowledge base, so start-up skips ingestion."""
    shutil.copytree(services.settings.kb_path, target / services.settings.kb_path.name)
    return target


@pytest.fixture(scope="module")
def replicas(
    shared_db: str,
    redis_url: str,
    services: Services,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = _shared_env(shared_db, redis_url)
    with ExitStack() as stack:
        dirs = [_with_kb(tmp_path_factory.mktemp(n), services) for n in ("a", "b")]
        a = stack.enter_context(live_server(dirs[0], **env))
        b = stack.enter_context(live_server(dirs[1], **env))
        yield a, b


def _headers(server: LiveServer) -> dict[str, str]:
    token = mint_end_user_token(SECRET, "demo", JAMES)
    return {"x-api-key": server.create_key("customer"), "authorization": f"Bearer {token}"}


async def _chat(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **body: str
) -> tuple[httpx.Response, list[Sse]]:
    return await read_events(
        client, "POST", f"{url}/v1/chat/stream", json={"message": QUESTION, **body}, headers=headers
    )


async def _rejoin(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], run_id: str, last: str
) -> list[Sse]:
    _, tail = await read_events(
        client,
        "GET",
        f"{url}/v1/chat/runs/{run_id}/stream",
        headers={**headers, "Last-Event-ID": last},
    )
    return tail


async def test_stream_started_on_a_resumes_on_b(replicas: tuple[LiveServer, LiveServer]) -> None:
    a, b = replicas
    headers = _headers(a)
    async with httpx.AsyncClient(timeout=30) as client:
        _, full = await _chat(client, a.url, headers)
        _, cut = await read_events(
            client,
            "POST",
            f"{a.url}/v1/chat/stream",
            json={"message": QUESTION},
            headers=headers,
            stop_after=2,
        )
        tail = await _rejoin(client, b.url, headers, cut[0].data["run_id"], cut[-1].id or "")
    joined = cut + tail
    assert [e.event for e in joined][1:] == [e.event for e in full][1:]
    assert [e.id for e in joined] == sorted({e.id for e in joined if e.id}, key=_order)
    text = "".join(e.data["t"] for e in joined if e.event == "token")
    assert text == "".join(e.data["t"] for e in full if e.event == "token")


def _order(event_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in event_id.split("-"))


async def test_conversation_continues_on_the_other_replica(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    a, b = replicas
    headers = _headers(b)
    async with httpx.AsyncClient(timeout=30) as client:
        _, first = await _chat(client, a.url, headers)
        thread_id = first[0].data["thread_id"]
        response, second = await _chat(
            client, b.url, headers, message="How do I return an item?", thread_id=thread_id
        )
    assert response.status_code == 200
    assert second[0].data["thread_id"] == thread_id
    assert second[-1].data == {"status": "success"}


async def test_long_poll_on_a_sees_a_run_started_on_b(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    a, b = replicas
    headers = _headers(a)
    async with httpx.AsyncClient(timeout=40) as client:
        _, first = await _chat(client, a.url, headers)
        thread_id, run_id = first[0].data["thread_id"], first[0].data["run_id"]
        poll = asyncio.create_task(
            client.get(
                f"{a.url}/v1/chat/threads/{thread_id}/next",
                params={"after": run_id},
                headers=headers,
            )
        )
        _, second = await _chat(
            client, b.url, headers, message="How do I return an item?", thread_id=thread_id
        )
        found = await poll
    assert found.status_code == 200
    assert found.json()["run_id"] == second[0].data["run_id"]


async def test_workers_share_streams(
    shared_db: str, redis_url: str, services: Services, tmp_path: Path
) -> None:
    env = _shared_env(shared_db, redis_url)
    with live_server(_with_kb(tmp_path, services), "--workers", "2", **env) as server:
        headers = _headers(server)
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(6):  # each request may land on either worker
                _, cut = await read_events(
                    client,
                    "POST",
                    f"{server.url}/v1/chat/stream",
                    json={"message": QUESTION},
                    headers=headers,
                    stop_after=2,
                )
                tail = await _rejoin(
                    client, server.url, headers, cut[0].data["run_id"], cut[-1].id or ""
                )
                assert tail[-1].event == "end"
            metrics = (await client.get(f"{server.url}/metrics")).text
    assert "supportflow_request_duration_seconds_count" in metrics


def test_workers_without_shared_state_are_refused(tmp_path: Path) -> None:
    import subprocess

    from tests.integration.live_server import clean_env, cli_path

    done = subprocess.run(
        [cli_path(), "serve", "--workers", "2"],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SUPPORTFLOW_DATABASE_URL" in done.stderr
