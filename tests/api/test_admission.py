"""Admission control through the API: shed with 503 + Retry-After, queue, nothing half-run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from agent.services import Services
from api.admission import Admission
from tests.api.conftest import JAMES, Api, open_api, read_events
from tests.conftest import make_settings


@pytest.fixture
async def tight(services: Services, tmp_path: Path) -> AsyncIterator[Api]:
    """One run at a time, one queued, a short deadline."""
    settings = make_settings(
        tmp_path, max_concurrent_runs=1, max_queued_runs=1, queue_timeout_s=0.3
    )
    async with open_api(services, settings) as api:
        yield api


def _admission(api: Api) -> Admission:
    return api.resources.runs.admission


async def _chat(api: Api, message: str = "How do gift cards work?") -> httpx.Response:
    response, _ = await read_events(
        api.client,
        "POST",
        "/v1/chat/stream",
        json={"message": message},
        headers=api.headers("customer", JAMES),
    )
    return response


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait for ``condition()`` (it needs real I/O: auth reads the database), bounded."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


async def test_queue_full_sheds_with_503_and_retry_after(tight: Api) -> None:
    admission = _admission(tight)
    held = await admission.admit()
    queued = asyncio.create_task(_chat(tight))
    await _until(lambda: admission.waiting == 1, "second request queued")
    try:
        response = await _chat(tight)
        assert response.status_code == 503
        assert response.json()["code"] == "overloaded"
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        held.release()
    assert (await queued).status_code == 200  # the queued one is served, not dropped


async def test_queue_deadline_sheds_and_runs_nothing(tight: Api) -> None:
    admission = _admission(tight)
    before = len(tight.resources.runs._runs)
    held = await admission.admit()
    try:
        response = await _chat(tight)
    finally:
        held.release()
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert len(tight.resources.runs._runs) == before  # no run record was created
    assert admission.waiting == 0
    assert admission.running == 0


async def test_slots_are_returned_after_runs(tight: Api) -> None:
    for _ in range(3):
        assert (await _chat(tight)).status_code == 200
    await _until(lambda: _admission(tight).running == 0, "slots released")


async def test_shedding_is_visible_in_metrics(tight: Api) -> None:
    admission = _admission(tight)
    held = await admission.admit()
    try:
        assert (await _chat(tight)).status_code == 503
    finally:
        held.release()
    body = (await tight.client.get("/metrics")).text
    assert 'supportflow_shed_total{reason="queue_timeout"}' in body
    assert "supportflow_queue_depth" in body
    assert "supportflow_queue_wait_seconds_bucket" in body
    assert 'route="/v1/chat/stream"' in body
    assert JAMES not in body  # labels never carry ids
