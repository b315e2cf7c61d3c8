"""The agent sidebar API: drafts with sources, and feedback tied to the thread."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from api.db import feedback
from tests.api.conftest import Api, start_chat


async def test_draft_for_a_ticket_shows_sources(api: Api) -> None:
    response = await api.client.post(
        "/v1/agent/draft",
        json={"ticket_text": "How long do PayPal refunds take?"},
        headers=api.headers("agent"),
    )
    body = response.json()
    assert response.status_code == 200
    assert "5 to 7 business days" in body["draft"]
    assert body["sources"]
    assert body["route"] == "knowledge"


async def test_draft_for_a_conversation_uses_the_customers_tools(api: Api) -> None:
    events = await start_chat(api, "Where is order #W2611340?")
    thread_id = events[0].data["thread_id"]
    body = (
        await api.client.post(
            "/v1/agent/draft", json={"thread_id": thread_id}, headers=api.headers("agent")
        )
    ).json()
    assert body["tool_results"][0]["status"] == "ok"
    assert "357962501027" in body["draft"]
    bad = await api.client.post(
        "/v1/agent/draft",
        json={"thread_id": thread_id, "ticket_text": "x"},
        headers=api.headers("agent"),
    )
    assert bad.status_code == 422


async def test_feedback_is_recorded(api: Api) -> None:
    events = await start_chat(api, "How do I return an item?")
    thread_id = events[0].data["thread_id"]
    for kind in ("accept", "thumbs_down"):
        response = await api.client.post(
            "/v1/agent/feedback",
            json={
                "thread_id": thread_id,
                "run_id": events[0].data["run_id"],
                "kind": kind,
                "reason": "too long",
            },
            headers=api.headers("agent"),
        )
        assert response.status_code == 201
    engine = create_async_engine(api.settings.app_db_url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(feedback.c.kind).where(feedback.c.thread_id == thread_id))
        ).all()
    await engine.dispose()
    assert sorted(r[0] for r in rows) == ["accept", "thumbs_down"]
    wrong = await api.client.post(
        "/v1/agent/feedback",
        json={"thread_id": thread_id, "kind": "meh"},
        headers=api.headers("agent"),
    )
    assert wrong.status_code == 422
