"""Every route × every role: the right callers get through, everyone else gets 401/403 JSON."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from tests.api.conftest import JAMES, Api
from tests.conftest import make_settings

PUBLIC: frozenset[str] = frozenset()
CUSTOMER = frozenset({"customer"})
STAFF = frozenset({"agent", "engineer", "admin"})
AGENTS = frozenset({"agent", "admin"})
ENGINEERS = frozenset({"engineer", "admin"})
ADMIN = frozenset({"admin"})
TEXT = {"text": "hello"}
RUN_BODY = {"assistant_id": "support", "input": {"messages": [{"role": "user", "content": "hi"}]}}

# (method, path template, body, roles allowed); {tid}/{rid} are filled with real ids.
MATRIX: list[tuple[str, str, Any, frozenset[str]]] = [
    ("GET", "/healthz", None, PUBLIC),
    ("GET", "/readyz", None, PUBLIC),
    ("GET", "/", None, PUBLIC),
    ("GET", "/widget.js", None, PUBLIC),
    ("GET", "/widget.css", None, PUBLIC),
    ("GET", "/agent", None, PUBLIC),
    ("GET", "/traces", None, PUBLIC),
    ("GET", "/traces/{tid}", None, PUBLIC),
    ("GET", "/staff.js", None, PUBLIC),
    ("POST", "/v1/agent/draft", {"ticket_text": "How do refunds work?"}, AGENTS),
    ("POST", "/v1/agent/feedback", {"thread_id": "nope", "kind": "thumbs_up"}, AGENTS),
    ("POST", "/v1/chat/stream", {"message": "hi"}, CUSTOMER),
    ("GET", "/v1/chat/runs/{rid}/stream", None, CUSTOMER),
    ("GET", "/v1/chat/threads/{tid}/next", None, CUSTOMER),
    ("GET", "/v1/traces", None, STAFF),
    ("GET", "/v1/traces/{tid}", None, STAFF),
    ("POST", "/v1/traces/{tid}/replay", {}, STAFF),
    ("GET", "/v1/handoffs", None, AGENTS),
    ("GET", "/v1/handoffs/{hid}", None, AGENTS),
    ("POST", "/v1/handoffs/{hid}/claim", None, AGENTS),
    ("POST", "/v1/handoffs/{hid}/reply", TEXT, AGENTS),
    ("POST", "/v1/handoffs/{hid}/resume", TEXT, AGENTS),
    ("POST", "/v1/handoffs/{hid}/handback", None, AGENTS),
    ("POST", "/v1/handoffs/{hid}/resolve", None, AGENTS),
    ("POST", "/v1/ingest/jobs", {"documents": [{"title": "Matrix", "text": "Hi."}]}, ENGINEERS),
    ("GET", "/v1/ingest/jobs/{hid}", None, STAFF),
    ("GET", "/v1/admin/flags", None, ADMIN),
    ("PUT", "/v1/admin/flags/ai.generation", {"percent": 100}, ADMIN),
    ("GET", "/v1/admin/flags/audit", None, ADMIN),
    ("POST", "/v1/admin/releases", {"prompt_version": "v1"}, ADMIN),
    ("POST", "/v1/admin/rollback", {"to": "v1"}, ADMIN),
    ("POST", "/v1/admin/alerts", {"alerts": []}, ADMIN),
    ("POST", "/assistants/search", {}, STAFF),
    ("GET", "/assistants/support", None, STAFF),
    ("GET", "/assistants/support/graph", None, STAFF),
    ("POST", "/threads", {}, STAFF),
    ("POST", "/threads/search", {}, STAFF),
    ("GET", "/threads/{tid}", None, STAFF),
    ("GET", "/threads/{tid}/state", None, STAFF),
    ("GET", "/threads/{tid}/state/{cid}", None, STAFF),
    ("POST", "/threads/{tid}/state", {"values": {}, "as_node": "respond"}, STAFF),
    ("POST", "/threads/{tid}/state/checkpoint", {"checkpoint": {}}, STAFF),
    ("POST", "/threads/{tid}/history", {}, STAFF),
    ("POST", "/threads/{tid}/runs/stream", RUN_BODY, STAFF),
    ("POST", "/runs/stream", RUN_BODY, STAFF),
    ("POST", "/threads/{tid}/runs", RUN_BODY, STAFF),
    ("GET", "/threads/{tid}/runs", None, STAFF),
    ("GET", "/threads/{tid}/runs/{rid}", None, STAFF),
    ("GET", "/threads/{tid}/runs/{rid}/join", None, STAFF),
    ("GET", "/threads/{tid}/runs/{rid}/stream", None, STAFF),
    ("POST", "/threads/{tid}/runs/{rid}/cancel", None, STAFF),
]
CALLERS = ["none", "invalid", "customer", "agent", "engineer", "admin"]


def test_matrix_covers_every_route(tmp_path: Any) -> None:
    app = create_app(make_settings(tmp_path))
    declared = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    covered = {
        (
            m,
            p.replace("{tid}", "{thread_id}")
            .replace("{rid}", "{run_id}")
            .replace("{cid}", "{checkpoint_id}")
            .replace("/jobs/{hid}", "/jobs/{job_id}")
            .replace("{hid}", "{handoff_id}")
            .replace("/support", "/{assistant_id}")
            .replace("/flags/ai.generation", "/flags/{name}"),
        )
        for m, p, _, _ in MATRIX
    }
    assert declared <= covered, declared - covered


async def _ids(api: Api) -> dict[str, str]:
    staff = api.headers("engineer")
    thread = (await api.client.post("/threads", json={}, headers=staff)).json()["thread_id"]
    run = (await api.client.post(f"/threads/{thread}/runs", json=RUN_BODY, headers=staff)).json()
    await api.client.get(f"/threads/{thread}/runs/{run['run_id']}/join", headers=staff)
    state = (await api.client.get(f"/threads/{thread}/state", headers=staff)).json()
    return {
        "tid": thread,
        "rid": run["run_id"],
        "cid": state["checkpoint"]["checkpoint_id"],
        "hid": "00000000-0000-0000-0000-000000000000",
    }


def _headers(api: Api, caller: str) -> dict[str, str]:
    if caller == "none":
        return {}
    if caller == "invalid":
        return {"x-api-key": "sfk_not-a-real-key"}
    return api.headers(caller, JAMES if caller == "customer" else None)


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
async def test_route_roles(
    api: Api, method: str, path: str, body: Any, allowed: frozenset[str]
) -> None:
    ids = await _ids(api)
    url = path.format(**ids)
    for caller in CALLERS:
        response = await api.client.request(method, url, json=body, headers=_headers(api, caller))
        status = response.status_code
        if not allowed or caller in allowed:
            assert status not in (401, 403), (caller, status, response.text[:200])
        elif caller in ("none", "invalid"):
            assert status == 401, (caller, status)
            assert response.json()["code"] in {"missing_credentials", "invalid_api_key"}
        else:
            assert status == 403, (caller, status)
            assert response.json()["code"] == "forbidden"


async def test_tenants_are_isolated(api: Api) -> None:
    ids = await _ids(api)
    other = {"x-api-key": api.keys["other_tenant"]}
    response = await api.client.get(f"/threads/{ids['tid']}", headers=other)
    assert response.status_code == 404
    found = (await api.client.post("/threads/search", json={}, headers=other)).json()
    assert found == []


async def test_thread_search_filters_on_metadata(api: Api) -> None:
    staff = api.headers("engineer")
    for n, channel in enumerate(["email", "chat", "chat"]):
        await api.client.post(
            "/threads", json={"metadata": {"channel": channel, "n": n}}, headers=staff
        )
    chat = (
        await api.client.post(
            "/threads/search", json={"metadata": {"channel": "chat"}}, headers=staff
        )
    ).json()
    assert sorted(t["metadata"]["n"] for t in chat) == [1, 2]
    one = (
        await api.client.post("/threads/search", json={"metadata": {"n": 0}}, headers=staff)
    ).json()
    assert [t["metadata"]["channel"] for t in one] == ["email"]
    page = (
        await api.client.post("/threads/search", json={"limit": 1, "offset": 1}, headers=staff)
    ).json()
    assert len(page) == 1
    bad = await api.client.post("/threads/search", json={"metadata": {"n": [1]}}, headers=staff)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_filter"
