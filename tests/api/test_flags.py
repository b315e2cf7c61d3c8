"""Rollout flags, kill switches, release pins and alert actions through the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import delete

from agent.nodes.escalate import AI_OFF_MESSAGE
from agent.services import Services
from api.app import create_app
from api.db import feature_flags, release_pins
from tests.api.conftest import JAMES, Api, Sse, app_resources, start_chat
from tests.conftest import make_settings


@pytest.fixture
async def admin(api: Api) -> AsyncIterator[Api]:
    """The API, with flags and pins cleared afterwards (the database may be shared)."""
    yield api
    async with api.resources.flags.store._engine.begin() as conn:
        await conn.execute(delete(feature_flags))
        await conn.execute(delete(release_pins))
    await api.resources.flags.refresh()


async def _put(api: Api, name: str, **body: Any) -> Any:
    response = await api.client.put(
        f"/v1/admin/flags/{name}", json=body, headers=api.headers("admin")
    )
    assert response.status_code == 200, response.text
    return response.json()


def _text(events: list[Sse]) -> str:
    return "".join(e.data["t"] for e in events if e.event == "token")


def _handoff(events: list[Sse]) -> str | None:
    found = [e.data["message"] for e in events if e.event == "handoff"]
    return found[0] if found else None


async def test_kill_switch_hands_every_conversation_to_a_human(admin: Api) -> None:
    await _put(admin, "ai", killed=True)
    events = await start_chat(admin, "How do I return an item?")
    assert _handoff(events) == AI_OFF_MESSAGE
    assert "citation" not in {e.event for e in events}
    thread_id = events[0].data["thread_id"]
    queue = (await admin.client.get("/v1/handoffs", headers=admin.headers("agent"))).json()
    record = next(h for h in queue if h["thread_id"] == thread_id)
    assert record["reason"] == "ai_off:kill_switch"
    # Agents keep the sidebar while the customer-facing AI is off.
    draft = await admin.client.post(
        "/v1/agent/draft",
        json={"ticket_text": "How do I return an item?"},
        headers=admin.headers("agent"),
    )
    assert draft.status_code == 200
    assert draft.json()["draft"]
    await _put(admin, "ai", killed=False)
    assert "return" in _text(await start_chat(admin, "How do I return an item?")).lower()


async def test_rollout_zero_and_hundred(admin: Api) -> None:
    await _put(admin, "ai", percent=0)
    assert _handoff(await start_chat(admin, "How do gift cards work?")) == AI_OFF_MESSAGE
    await _put(admin, "ai", percent=100)
    events = await start_chat(admin, "How do gift cards work?")
    assert _handoff(events) is None
    assert _text(events)


async def test_tenant_override(admin: Api) -> None:
    await _put(admin, "ai", percent=0)
    await _put(admin, "ai", percent=100, tenant=admin.settings.tenant)
    assert _handoff(await start_chat(admin, "How do gift cards work?")) is None


async def test_tools_kill_switch_hands_off_tool_requests_only(admin: Api) -> None:
    await _put(admin, "ai.tools", killed=True)
    order = await start_chat(admin, "Where is order #W2611340?")
    assert _handoff(order) == AI_OFF_MESSAGE
    knowledge = await start_chat(admin, "What payment methods do you accept?")
    assert _handoff(knowledge) is None
    assert "PayPal" in _text(knowledge)


async def test_changes_are_audited(admin: Api) -> None:
    await _put(admin, "ai", percent=5)
    await _put(admin, "ai", percent=25)
    audit = (await admin.client.get("/v1/admin/flags/audit", headers=admin.headers("admin"))).json()
    latest = audit[0]
    assert latest["name"] == "ai"
    assert latest["old"]["percent"] == 5
    assert latest["new"]["percent"] == 25
    assert latest["actor"].startswith("sfk_") or latest["actor"]  # the admin key's id
    listed = (await admin.client.get("/v1/admin/flags", headers=admin.headers("admin"))).json()
    assert any(f["name"] == "ai" and f["percent"] == 25 for f in listed["flags"])


async def test_bad_changes_get_clear_errors(admin: Api) -> None:
    headers = admin.headers("admin")
    bad = await admin.client.put("/v1/admin/flags/ai", json={"percent": 101}, headers=headers)
    assert bad.status_code == 422
    unknown = await admin.client.put("/v1/admin/flags/nope", json={"percent": 1}, headers=headers)
    assert unknown.status_code == 422
    version = await admin.client.post(
        "/v1/admin/releases", json={"prompt_version": "v9"}, headers=headers
    )
    assert version.status_code == 422
    assert version.json()["code"] == "invalid_flag_change"
    nothing = await admin.client.post("/v1/admin/rollback", json={}, headers=headers)
    assert nothing.status_code == 422


async def _prompt_version_of_last_run(api: Api) -> str:
    events = await start_chat(api, "How do gift cards work?")
    thread_id = events[0].data["thread_id"]
    state = await api.client.get(f"/threads/{thread_id}/state", headers=api.headers("engineer"))
    return str(state.json()["values"]["prompt_version"])


async def test_rollback_re_pins_the_previous_prompt(admin: Api) -> None:
    headers = admin.headers("admin")
    for version in ("v1", "v2"):
        pinned = await admin.client.post(
            "/v1/admin/releases", json={"prompt_version": version}, headers=headers
        )
        assert pinned.status_code == 200
    assert await _prompt_version_of_last_run(admin) == "v2"
    rolled = (await admin.client.post("/v1/admin/rollback", json={}, headers=headers)).json()
    assert rolled["prompt_version"] == "v1"
    assert await _prompt_version_of_last_run(admin) == "v1"


async def test_a_firing_alert_can_switch_the_ai_off(admin: Api) -> None:
    payload = {
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "SupportFlowErrorRate", "action": "disable_ai"},
            },
            {"status": "resolved", "labels": {"alertname": "Other", "action": "disable_ai"}},
            {"status": "firing", "labels": {"alertname": "NoAction"}},
        ]
    }
    response = await admin.client.post(
        "/v1/admin/alerts", json=payload, headers=admin.headers("admin")
    )
    assert response.json()["applied"] == [
        {"action": "disable_ai", "actor": "alert:SupportFlowErrorRate"}
    ]
    assert _handoff(await start_chat(admin, "How do gift cards work?")) == AI_OFF_MESSAGE
    audit = (await admin.client.get("/v1/admin/flags/audit", headers=admin.headers("admin"))).json()
    assert audit[0]["actor"] == "alert:SupportFlowErrorRate"


async def test_customers_cannot_touch_flags(admin: Api) -> None:
    response = await admin.client.put(
        "/v1/admin/flags/ai", json={"killed": True}, headers=admin.headers("customer", JAMES)
    )
    assert response.status_code == 403


async def test_a_change_reaches_every_replica_within_seconds(
    services: Services, postgres_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url, flags_refresh_s=0.2)
    async with (
        LifespanManager(create_app(settings, services)) as a,
        LifespanManager(create_app(settings, services)) as b,
    ):
        replica_a, replica_b = app_resources(a), app_resources(b)
        await replica_a.flags.store.change("ai", "test", tenant="acme", killed=True)
        try:
            started = time.monotonic()
            while replica_b.flags.snapshot.state("ai", "acme").killed is False:
                assert time.monotonic() - started < 5, "replica b never saw the change"
                await asyncio.sleep(0.05)  # bounded poll of b's own refresh loop
            assert replica_b.flags.snapshot.state("ai", "demo").killed is False
        finally:
            await replica_a.flags.store.change("ai", "test", tenant="acme", killed=False)
