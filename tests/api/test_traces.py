"""Traces, replay and fork over the API."""

from __future__ import annotations

from tests.api.conftest import Api, start_chat


async def _conversation(api: Api) -> str:
    first = await start_chat(api, "How do I return an item?")
    thread_id = str(first[0].data["thread_id"])
    await start_chat(api, "Where is order #W2611340?", thread_id)
    return thread_id


async def test_trace_shows_the_path_and_masks_for_engineers(api: Api) -> None:
    thread_id = await _conversation(api)
    engineer = (
        await api.client.get(f"/v1/traces/{thread_id}", headers=api.headers("engineer"))
    ).json()
    assert engineer["path"][:3] == ["input_guard", "route", "retrieve"]
    assert engineer["path"].count("respond") == 2
    assert "call_tools" in engineer["path"]
    assert all(step["duration_ms"] >= 0 for step in engineer["steps"])
    assert engineer["masked"] is True
    assert "#W2611340" not in str(engineer)
    assert "[ORDER_ID]" in str(engineer)
    agent = (await api.client.get(f"/v1/traces/{thread_id}", headers=api.headers("agent"))).json()
    assert "#W2611340" in agent["decisions"]["answer"]
    listed = (
        await api.client.get("/v1/traces?route=order_status", headers=api.headers("engineer"))
    ).json()
    assert thread_id in [t["thread_id"] for t in listed]
    late = "/v1/traces?since=2999-01-01T00:00:00Z"
    assert (await api.client.get(late, headers=api.headers("engineer"))).json() == []


async def test_replay_is_deterministic_and_fork_shows_a_diff(api: Api) -> None:
    events = await start_chat(api, "How do I return an item?")
    thread_id = events[0].data["thread_id"]
    staff = api.headers("engineer")
    same = (await api.client.post(f"/v1/traces/{thread_id}/replay", json={}, headers=staff)).json()
    assert same["diff"]["changed"] == {}
    assert same["thread_id"] != thread_id
    fork = (
        await api.client.post(
            f"/v1/traces/{thread_id}/replay", json={"prompt_version": "v2"}, headers=staff
        )
    ).json()
    assert set(fork["diff"]["changed"]) == {"answer", "prompt_version"}
    assert fork["answer"].startswith("Here is what our help centre says:")
    assert fork["diff"]["changed"]["answer"]["original"] == same["answer"]


async def test_replay_bad_input_is_typed(api: Api) -> None:
    thread_id = await _conversation(api)
    other = await _conversation(api)
    staff = api.headers("engineer")
    state = (await api.client.get(f"/threads/{other}/state", headers=staff)).json()
    foreign = state["checkpoint"]["checkpoint_id"]
    cases = [
        ({"prompt_version": "v9"}, 400, "invalid_replay"),
        ({"checkpoint_id": foreign}, 404, "trace_not_found"),
        ({"retrieval_k": 0}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = await api.client.post(f"/v1/traces/{thread_id}/replay", json=body, headers=staff)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert (await api.client.get("/v1/traces/nope", headers=staff)).status_code == 404
