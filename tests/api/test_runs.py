"""Run lifecycle details over ASGI: stateless cleanup, stored runs, join filters, errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from agent.services import Services
from api.app import create_app
from api.auth import KeyStore
from api.db import open_engine
from tests.api.conftest import Api, read_events
from tests.conftest import make_settings

RUN = {
    "assistant_id": "support",
    "input": {"messages": [{"role": "user", "content": "How do I return an item?"}]},
}


async def test_stateless_run_deletes_its_thread(api: Api) -> None:
    staff = api.headers("engineer")
    response, events = await read_events(
        api.client, "POST", "/runs/stream", json={**RUN, "stream_mode": "values"}, headers=staff
    )
    assert response.status_code == 200
    thread_path = response.headers["content-location"].rsplit("/runs/", 1)[0]
    assert events[-1].event == "values"
    assert (await api.client.get(thread_path, headers=staff)).status_code == 404
    kept, _ = await read_events(
        api.client, "POST", "/runs/stream", json={**RUN, "on_completion": "keep"}, headers=staff
    )
    kept_thread = kept.headers["content-location"].rsplit("/runs/", 1)[0]
    assert (await api.client.get(kept_thread, headers=staff)).status_code == 200


async def test_finished_runs_are_stored(api: Api) -> None:
    staff = api.headers("engineer")
    thread = (await api.client.post("/threads", json={}, headers=staff)).json()["thread_id"]
    run = (await api.client.post(f"/threads/{thread}/runs", json=RUN, headers=staff)).json()
    await api.client.get(f"/threads/{thread}/runs/{run['run_id']}/join", headers=staff)
    listed = (await api.client.get(f"/threads/{thread}/runs", headers=staff)).json()
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert listed[0]["status"] == "success"


async def test_finished_runs_leave_memory_and_stay_readable_from_the_store(api: Api) -> None:
    api.resources.runs.retention_s = 0  # forget a run as soon as its stream has closed
    staff = api.headers("engineer")
    thread = (await api.client.post("/threads", json={}, headers=staff)).json()["thread_id"]
    run = (await api.client.post(f"/threads/{thread}/runs", json=RUN, headers=staff)).json()
    path = f"/threads/{thread}/runs/{run['run_id']}"
    assert (await api.client.get(f"{path}/join", headers=staff)).status_code == 200
    for _ in range(100):  # the eviction is scheduled on the loop, one turn after the close
        if not api.resources.runs.of_thread(thread):
            break
        await asyncio.sleep(0)
    assert api.resources.runs.of_thread(thread) == []
    assert (await api.client.get(path, headers=staff)).json()["status"] == "success"
    listed = (await api.client.get(f"/threads/{thread}/runs", headers=staff)).json()
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    joined = await api.client.get(f"{path}/join", headers=staff)
    assert joined.status_code == 200
    assert joined.json()["answer"]
    missing = await api.client.get(f"/threads/{thread}/runs/{uuid.uuid4()}/join", headers=staff)
    assert missing.status_code == 404


async def test_join_stream_filters_modes(api: Api) -> None:
    staff = api.headers("engineer")
    thread = (await api.client.post("/threads", json={}, headers=staff)).json()["thread_id"]
    run = (
        await api.client.post(
            f"/threads/{thread}/runs",
            json={**RUN, "stream_mode": ["values", "updates"]},
            headers=staff,
        )
    ).json()
    url = f"/threads/{thread}/runs/{run['run_id']}/stream"
    _, both = await read_events(api.client, "GET", url, headers=staff)
    _, only_values = await read_events(
        api.client, "GET", url + "?stream_mode=values", headers=staff
    )
    _, json_list = await read_events(
        api.client, "GET", url + '?stream_mode=["updates"]', headers=staff
    )
    assert {e.event for e in both} == {"metadata", "values", "updates"}
    assert {e.event for e in only_values} == {"metadata", "values"}
    assert {e.event for e in json_list} == {"metadata", "updates"}


async def test_run_request_errors_are_typed(api: Api) -> None:
    staff = api.headers("engineer")
    thread = (await api.client.post("/threads", json={}, headers=staff)).json()["thread_id"]
    cases = [
        ({**RUN, "stream_mode": "events"}, 422, "invalid_run"),
        ({**RUN, "stream_mode": "bogus"}, 422, "invalid_request"),
        ({**RUN, "assistant_id": "nope"}, 422, "invalid_run"),
        ({**RUN, "command": {"resume": "x"}}, 422, "invalid_run"),
    ]
    for body, status, code in cases:
        response = await api.client.post(f"/threads/{thread}/runs/stream", json=body, headers=staff)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    missing = await api.client.post(
        "/threads/00000000-0000-0000-0000-000000000000/runs/stream", json=RUN, headers=staff
    )
    assert missing.status_code == 404
    created = await api.client.post(
        "/threads/00000000-0000-0000-0000-000000000001/runs",
        json={**RUN, "if_not_exists": "create"},
        headers=staff,
    )
    assert created.status_code == 200
    finished = (await api.client.post(f"/threads/{thread}/runs", json=RUN, headers=staff)).json()
    await api.client.get(f"/threads/{thread}/runs/{finished['run_id']}/join", headers=staff)
    late = await api.client.post(
        f"/threads/{thread}/runs/{finished['run_id']}/cancel", headers=staff
    )
    assert late.status_code == 404
    assert (await api.client.get(f"/threads/{thread}/runs/nope", headers=staff)).status_code == 404


async def test_runs_outlive_a_restart(services: Services, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    engine = await open_engine(settings.app_db_url)
    key = await KeyStore(engine).create("engineer", settings.tenant)
    await engine.dispose()
    staff = {"x-api-key": key}

    async def client_for() -> AsyncIterator[httpx.AsyncClient]:
        async with LifespanManager(create_app(settings, services)) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client

    async for client in client_for():
        thread = (await client.post("/threads", json={}, headers=staff)).json()["thread_id"]
        run = (await client.post(f"/threads/{thread}/runs", json=RUN, headers=staff)).json()
        await client.get(f"/threads/{thread}/runs/{run['run_id']}/join", headers=staff)
    async for client in client_for():
        stored = (await client.get(f"/threads/{thread}/runs/{run['run_id']}", headers=staff)).json()
        assert stored["status"] == "success"
        state = (await client.get(f"/threads/{thread}/state", headers=staff)).json()
        assert state["values"]["messages"][-1]["type"] == "ai"
