"""The widget stream: vocabulary, framing size, resume with Last-Event-ID, isolation."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import JAMES, NOAH, Api, Sse, read_events


async def chat(
    api: Api,
    message: str,
    customer: str | None = JAMES,
    stop_after: int | None = None,
    **extra: object,
) -> tuple[httpx.Response, list[Sse]]:
    body = {"message": message, **extra}
    return await read_events(
        api.client,
        "POST",
        "/v1/chat/stream",
        json=body,
        headers=api.headers("customer", customer),
        stop_after=stop_after,
    )


async def test_widget_stream_vocabulary(api: Api) -> None:
    response, events = await chat(api, "How do I return an item?")
    assert response.status_code == 200
    kinds = [e.event for e in events]
    assert kinds[0] == "status"
    assert events[0].data["run_id"]
    assert events[0].data["thread_id"]
    assert kinds[-1] == "end"
    assert events[-1].data == {"status": "success"}
    assert set(kinds) <= {"status", "token", "citation", "handoff", "error", "end"}
    assert "citation" in kinds
    text = "".join(e.data["t"] for e in events if e.event == "token")
    assert "return" in text.lower()
    # Every event carries an id, strictly increasing (counters in-process, stream ids on Redis).
    ids = [event_order(e.id) for e in events if e.id]
    assert len(ids) == len(events)
    assert ids == sorted(set(ids))
    assert (
        response.headers["content-location"] == f"/v1/chat/runs/{events[0].data['run_id']}/stream"
    )


def event_order(event_id: str | None) -> tuple[int, ...]:
    """Event ids as comparable tuples: ``7`` in-process, ``<ms>-<seq>`` on Redis Streams."""
    assert event_id
    return tuple(int(part) for part in event_id.split("-"))


async def test_token_framing_is_lean(api: Api) -> None:
    _, events = await chat(api, "How long does a refund take?")
    tokens = [e for e in events if e.event == "token"]
    assert tokens
    for event in tokens:
        framing = len(event.raw.encode()) - len(event.data["t"].encode())
        assert framing <= 80, event.raw


async def test_order_answer_for_the_signed_in_customer_only(api: Api) -> None:
    _, mine = await chat(api, "Where is order #W2611340?")
    assert "357962501027" in "".join(e.data["t"] for e in mine if e.event == "token")
    _, theirs = await chat(api, "Where is order #W2611340?", customer=NOAH)
    text = "".join(e.data["t"] for e in theirs if e.event == "token")
    assert "357962501027" not in text
    assert "couldn't find order #W2611340 for your account" in text


async def test_handoff_event(api: Api) -> None:
    _, events = await chat(api, "I want to talk to a human")
    handoff = [e for e in events if e.event == "handoff"]
    assert len(handoff) == 1
    assert "support team" in handoff[0].data["message"]
    assert events[-1].event == "end"


async def test_resume_after_a_cut_loses_and_repeats_nothing(api: Api) -> None:
    _, full = await chat(api, "How do gift cards work?")
    for cut in (1, 3, 5):
        _, head = await chat(api, "How do gift cards work?", stop_after=cut)
        run_id = head[0].data["run_id"]
        _, tail = await read_events(
            api.client,
            "GET",
            f"/v1/chat/runs/{run_id}/stream",
            headers={**api.headers("customer", JAMES), "Last-Event-ID": head[-1].id or ""},
        )
        ids = [event_order(e.id) for e in head + tail]
        assert ids == sorted(set(ids)), (cut, ids)  # no gap is detectable, but no repeat
        assert [e.event for e in head + tail][1:] == [e.event for e in full][1:]
        joined = "".join(e.data["t"] for e in head + tail if e.event == "token")
        assert joined == "".join(e.data["t"] for e in full if e.event == "token")


async def test_thread_continues_for_its_owner_only(api: Api) -> None:
    _, first = await chat(api, "How do I reset my password?")
    thread_id = first[0].data["thread_id"]
    _, second = await chat(api, "And how do refunds work?", thread_id=thread_id)
    assert second[0].data["thread_id"] == thread_id
    response, _ = await chat(api, "hello", customer=NOAH, thread_id=thread_id)
    assert response.status_code == 404
    assert response.json()["code"] == "thread_not_found"
    run_id = first[0].data["run_id"]
    response, _ = await read_events(
        api.client, "GET", f"/v1/chat/runs/{run_id}/stream", headers=api.headers("customer", NOAH)
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": ""}, 422, "invalid_request"),
        ({"message": "   "}, 422, "invalid_input"),
        ({"message": "hi\u0000"}, 422, "invalid_input"),
        ({"message": "hi", "thread_id": "../etc"}, 422, "invalid_request"),
        ({"message": "hi", "thread_id": "no-such-thread"}, 404, "thread_not_found"),
        ({"message": "hi", "extra": 1}, 422, "invalid_request"),
        ({"message": "x" * 5000}, 413, "body_too_large"),
    ],
)
async def test_bad_chat_requests_are_typed(
    api: Api, body: dict[str, object], status: int, code: str
) -> None:
    response = await api.client.post(
        "/v1/chat/stream", json=body, headers=api.headers("customer", JAMES)
    )
    assert response.status_code == status
    assert response.json()["code"] == code


async def test_malformed_json_and_bad_event_ids(api: Api) -> None:
    response = await api.client.post(
        "/v1/chat/stream",
        content=b"{not json",
        headers={**api.headers("customer", JAMES), "content-type": "application/json"},
    )
    assert response.status_code == 422
    _, events = await chat(api, "How do I return an item?")
    run_id = events[0].data["run_id"]
    for bad in ("999999", "abc"):
        response = await api.client.get(
            f"/v1/chat/runs/{run_id}/stream",
            headers={**api.headers("customer", JAMES), "Last-Event-ID": bad},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_last_event_id"
    response = await api.client.get(
        "/v1/chat/runs/nope/stream", headers=api.headers("customer", JAMES)
    )
    assert response.status_code == 404


async def test_tokens_are_checked(api: Api) -> None:
    import jwt

    expired = jwt.encode(
        {"sub": JAMES, "tenant": "demo", "aud": "supportflow-widget", "exp": 1},
        api.secret,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": JAMES, "tenant": "demo", "aud": "supportflow-widget", "exp": 4102444800},
        "not-the-secret-but-long-enough-000000",
        algorithm="HS256",
    )
    other_tenant = jwt.encode(
        {"sub": JAMES, "tenant": "acme", "aud": "supportflow-widget", "exp": 4102444800},
        api.secret,
        algorithm="HS256",
    )
    for token, status, code in (
        (expired, 401, "token_expired"),
        (forged, 401, "token_invalid"),
        (other_tenant, 403, "tenant_mismatch"),
    ):
        response = await api.client.post(
            "/v1/chat/stream",
            json={"message": "hi"},
            headers={"x-api-key": api.keys["customer"], "authorization": f"Bearer {token}"},
        )
        assert response.status_code == status
        assert response.json()["code"] == code


async def test_cross_customer_attempts_through_the_widget_api(api: Api) -> None:
    from tests.unit.test_adversarial import TEMPLATES, VICTIMS

    attempts = 0
    for template in TEMPLATES[:12]:
        for victim in VICTIMS[:2]:
            text = template.format(user=victim["user"], order=victim["order"], encoded="aGk=")
            _, events = await chat(api, text)
            released = "".join(e.data.get("t", "") for e in events if e.event == "token")
            secrets = [str(victim["email"]), str(victim["street"]), *map(str, victim["tracking"])]  # type: ignore[call-overload]
            assert not any(s in released for s in secrets), (text, released)
            assert events[-1].event == "end"
            attempts += 1
    assert attempts == 24
