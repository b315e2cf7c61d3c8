"""Ingestion over HTTP as background jobs: 202 at once, progress from the job, searchable after."""

from __future__ import annotations

from typing import Any

from agent.nodes.retrieve import search
from tests.api.conftest import JAMES, Api

# Jobs write into the "acme" tenant (its engineer key): the shared demo KB stays as it is.
TENANT = "acme"
ARTICLE = {
    "title": "Loyalty points",
    "text": (
        "# Loyalty points\n\nEvery order earns loyalty points: one point per dollar spent. "
        "Points can be redeemed at checkout once you have 500 of them, and they expire after "
        "two years without an order."
    ),
}


def _acme(api: Api) -> dict[str, str]:
    return {"x-api-key": api.keys["other_tenant"]}


async def _submit(api: Api, documents: list[dict[str, Any]]) -> Any:
    return await api.client.post(
        "/v1/ingest/jobs", json={"documents": documents}, headers=_acme(api)
    )


async def test_job_runs_in_the_background_and_reports_progress(api: Api) -> None:
    response = await _submit(api, [ARTICLE, {**ARTICLE, "title": "Points FAQ", "doc_id": "pts"}])
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued"
    assert job["total"] == 2
    await api.resources.ingest.drain()
    done = await api.client.get(f"/v1/ingest/jobs/{job['job_id']}", headers=_acme(api))
    body = done.json()
    assert body["status"] == "done"
    assert body["done"] == 2
    # The session KB is shared by both backends: a second pass finds the chunks already there.
    assert body["report"]["added"] + body["report"]["unchanged"] >= 2
    hits = search(api.resources.services, TENANT, "when can I redeem loyalty points", 3)
    assert hits[0].chunk.doc_id in {"loyalty-points", "pts"}
    assert "500" in hits[0].chunk.text
    demo_hits = search(api.resources.services, "demo", "loyalty points redeem", 20)
    assert all(h.chunk.tenant == "demo" for h in demo_hits)


async def test_resubmitting_the_same_documents_adds_nothing(api: Api) -> None:
    doc = {**ARTICLE, "doc_id": "loyalty-again"}
    first = (await _submit(api, [doc])).json()
    await api.resources.ingest.drain()
    second = (await _submit(api, [doc])).json()
    await api.resources.ingest.drain()
    report = await api.resources.ingest.get(TENANT, second["job_id"])
    assert first["job_id"] != second["job_id"]
    assert report["report"]["added"] == 0
    assert report["report"]["unchanged"] >= 1


async def test_bad_documents_get_a_clear_422(api: Api) -> None:
    response = await _submit(api, [{"title": "", "text": "x"}])
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert (await _submit(api, [])).status_code == 422


async def test_jobs_are_per_tenant(api: Api) -> None:
    job = (await _submit(api, [{**ARTICLE, "doc_id": "tenant-check"}])).json()
    await api.resources.ingest.drain()
    demo_staff = api.headers("engineer")
    response = await api.client.get(f"/v1/ingest/jobs/{job['job_id']}", headers=demo_staff)
    assert response.status_code == 404
    assert response.json()["code"] == "ingest_job_not_found"


async def test_agents_and_customers_cannot_ingest(api: Api) -> None:
    for headers in (api.headers("agent"), api.headers("customer", JAMES)):
        response = await api.client.post(
            "/v1/ingest/jobs", json={"documents": [ARTICLE]}, headers=headers
        )
        assert response.status_code == 403


async def test_uploads_may_be_larger_than_chat_messages(api: Api) -> None:
    big = {"title": "Long policy", "text": "Returns are accepted within 30 days. " * 400}
    assert len(str(big)) > api.settings.max_body_bytes
    response = await _submit(api, [{**big, "doc_id": "long-policy"}])
    assert response.status_code == 202
    await api.resources.ingest.drain()
    job = await api.resources.ingest.get(TENANT, response.json()["job_id"])
    assert job["status"] == "done"
