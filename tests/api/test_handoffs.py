"""Humans in the loop over the API: queue, exclusive claims, replies reaching the widget."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.nodes.escalate import TAKEOVER_MESSAGE
from tests.api.conftest import JAMES, Api, read_events


async def _escalate(api: Api) -> tuple[str, str]:
    _, events = await read_events(
        api.client,
        "POST",
        "/v1/chat/stream",
        json={"message": "I want to talk to a human"},
        headers=api.headers("customer", JAMES),
    )
    assert any(e.event == "handoff" for e in events)
    return events[0].data["thread_id"], events[0].data["run_id"]


async def _open_handoff(api: Api, thread_id: str) -> dict[str, object]:
    queue = (await api.client.get("/v1/handoffs?status=open", headers=api.headers("agent"))).json()
    return next(h for h in queue if h["thread_id"] == thread_id)


async def test_escalation_creates_one_record(api: Api) -> None:
    thread_id, _ = await _escalate(api)
    record = await _open_handoff(api, thread_id)
    assert record["reason"] == "customer_requested_human"
    assert record["customer_id"] == JAMES
    assert record["priority"] == "normal"
    customer = await api.client.get("/v1/handoffs", headers=api.headers("customer", JAMES))
    assert customer.status_code == 403


async def test_claims_are_exclusive_under_concurrency(api: Api) -> None:
    thread_id, _ = await _escalate(api)
    handoff_id = (await _open_handoff(api, thread_id))["handoff_id"]
    responses = await asyncio.gather(
        *[
            api.client.post(f"/v1/handoffs/{handoff_id}/claim", headers=api.headers(role))
            for role in ("agent", "admin", "agent", "admin", "agent", "admin")
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409, 409]
    assert all(r.json()["code"] == "handoff_conflict" for r in responses if r.status_code == 409)


async def test_reply_reaches_the_customer_and_resume_returns_to_ai(api: Api) -> None:
    thread_id, run_id = await _escalate(api)
    handoff_id = (await _open_handoff(api, thread_id))["handoff_id"]
    agent = api.headers("agent")
    await api.client.post(f"/v1/handoffs/{handoff_id}/claim", headers=agent)
    waiting = asyncio.create_task(
        api.client.get(
            f"/v1/chat/threads/{thread_id}/next?after={run_id}",
            headers=api.headers("customer", JAMES),
        )
    )
    reply = await api.client.post(
        f"/v1/handoffs/{handoff_id}/reply",
        json={"text": "Hi, Sam here. Your order ships today."},
        headers=agent,
    )
    assert reply.status_code == 200
    nxt = (await waiting).json()
    assert nxt["run_id"] == reply.json()["run_id"]
    _, events = await read_events(
        api.client, "GET", nxt["stream"], headers=api.headers("customer", JAMES)
    )
    assert "".join(e.data.get("t", "") for e in events if e.event == "token") == (
        "Hi, Sam here. Your order ships today."
    )
    again = await api.client.post(
        f"/v1/handoffs/{handoff_id}/reply", json={"text": "more"}, headers=agent
    )
    assert again.status_code == 409
    resolved = await api.client.post(f"/v1/handoffs/{handoff_id}/resolve", headers=agent)
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"]


async def test_handback_and_bad_transitions(api: Api) -> None:
    thread_id, _ = await _escalate(api)
    handoff_id = (await _open_handoff(api, thread_id))["handoff_id"]
    agent, other = api.headers("agent"), api.headers("admin")
    assert (
        await api.client.post(
            f"/v1/handoffs/{handoff_id}/resume", json={"text": "x"}, headers=agent
        )
    ).status_code == 409
    await api.client.post(f"/v1/handoffs/{handoff_id}/claim", headers=agent)
    assert (
        await api.client.post(f"/v1/handoffs/{handoff_id}/resolve", headers=other)
    ).status_code == 409
    back = await api.client.post(f"/v1/handoffs/{handoff_id}/handback", headers=agent)
    assert back.json()["status"] == "returned"
    assert (await api.client.get("/v1/handoffs/nope", headers=agent)).status_code == 404
    empty = await api.client.post(
        f"/v1/handoffs/{handoff_id}/reply", json={"text": ""}, headers=agent
    )
    assert empty.status_code == 422


async def _customer_says(api: Api, thread_id: str, text: str) -> list[Any]:
    _, events = await read_events(
        api.client,
        "POST",
        "/v1/chat/stream",
        json={"message": text, "thread_id": thread_id},
        headers=api.headers("customer", JAMES),
    )
    return events


async def test_a_taken_over_conversation_stays_with_the_human_until_handed_back(
    api: Api,
) -> None:
    thread_id, _ = await _escalate(api)
    handoff_id = (await _open_handoff(api, thread_id))["handoff_id"]
    agent = api.headers("agent")
    await api.client.post(f"/v1/handoffs/{handoff_id}/claim", headers=agent)
    await api.client.post(
        f"/v1/handoffs/{handoff_id}/reply", json={"text": "Hi, Sam here."}, headers=agent
    )
    await api.resources.runs.wait(api.resources.runs.of_thread(thread_id)[0])
    events = await _customer_says(api, thread_id, "What payment methods do you accept?")
    handoff = [e.data["message"] for e in events if e.event == "handoff"]
    assert handoff == [TAKEOVER_MESSAGE]
    assert not [e for e in events if e.event in ("token", "citation")]  # no AI answer
    queue = (await api.client.get("/v1/handoffs", headers=agent)).json()
    mine = [h for h in queue if h["thread_id"] == thread_id]
    assert len(mine) == 1  # the follow-up joined the held handoff
    assert mine[0]["status"] == "claimed"
    second = await api.client.post(
        f"/v1/handoffs/{handoff_id}/reply",
        json={"text": "PayPal, cards, gift cards."},
        headers=agent,
    )
    assert second.status_code == 200
    await api.resources.runs.wait(api.resources.runs.find(second.json()["run_id"]))
    back = await api.client.post(f"/v1/handoffs/{handoff_id}/handback", headers=agent)
    assert back.json()["status"] == "returned"
    assert back.json()["run_id"] is None  # nothing was waiting: the handoff just closes
    events = await _customer_says(api, thread_id, "What payment methods do you accept?")
    assert "PayPal" in "".join(e.data["t"] for e in events if e.event == "token")
