"""Knowledge-base ingestion over HTTP: submit documents as a background job, poll progress."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from agent.retrieval.loaders import Document, slugify
from api.deps import EngineerDep, ResourcesDep, StaffDep
from api.schemas import IngestJob

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])


class IngestDocument(BaseModel):
    """One article; ``doc_id`` defaults to a slug of the title (re-sending updates it)."""

    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=200_000)
    source: str = Field(default="api", max_length=500)
    audience: Literal["customer", "agent"] = "customer"
    doc_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,119}$")


class IngestRequest(BaseModel):
    """Documents for the caller's tenant."""

    documents: list[IngestDocument] = Field(min_length=1, max_length=500)


def _document(item: IngestDocument) -> Document:
    return Document(
        doc_id=item.doc_id or slugify(item.title),
        title=item.title,
        text=item.text,
        source=item.source,
        audience=item.audience,
    )


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=IngestJob)
async def submit_job(body: IngestRequest, who: EngineerDep, res: ResourcesDep) -> dict[str, Any]:
    """Accept documents for ingestion (engineers and admins); returns the job to poll."""
    docs = [_document(d) for d in body.documents]
    return await res.ingest.submit(who.tenant, docs, who.key_id)


@router.get("/jobs/{job_id}", response_model=IngestJob)
async def get_job(job_id: str, who: StaffDep, res: ResourcesDep) -> dict[str, Any]:
    """A job's status and progress (``done`` of ``total`` documents), from any replica."""
    return await res.ingest.get(who.tenant, job_id)
