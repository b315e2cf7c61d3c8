"""Assistants: one per graph, as LangGraph's server exposes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import StaffDep
from api.errors import error

router = APIRouter(prefix="/assistants", tags=["assistants"])

GRAPH_ID = "support"
# LangGraph's server derives system assistant ids as uuid5(NAMESPACE_URL, graph_id).
ASSISTANT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, GRAPH_ID))
_CREATED = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


def assistant_record() -> dict[str, Any]:
    """The support graph's assistant."""
    return {
        "assistant_id": ASSISTANT_ID,
        "graph_id": GRAPH_ID,
        "name": GRAPH_ID,
        "description": None,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    }


def resolve_assistant(assistant_id: str) -> str | None:
    """Accept the assistant id or the graph id; ``None`` if neither."""
    return ASSISTANT_ID if assistant_id in (ASSISTANT_ID, GRAPH_ID) else None


class AssistantSearch(BaseModel):
    """Search filters (only what a single-graph server needs)."""

    model_config = ConfigDict(extra="allow")

    graph_id: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0


@router.post("/search")
async def search_assistants(
    _: StaffDep, body: AssistantSearch | None = None
) -> list[dict[str, Any]]:
    """All assistants matching the filters."""
    body = body or AssistantSearch()
    found = [assistant_record()]
    if body.graph_id not in (None, GRAPH_ID):
        found = []
    if body.metadata and any(found[0]["metadata"].get(k) != v for k, v in body.metadata.items()):
        found = []
    return found[body.offset : body.offset + body.limit]


@router.get("/{assistant_id}", response_model=None)
async def get_assistant(assistant_id: str, _: StaffDep) -> Any:
    """One assistant by id (or graph id)."""
    if resolve_assistant(assistant_id) is None:
        return error(404, "assistant_not_found", "assistant not found")
    return assistant_record()


@router.get("/{assistant_id}/graph", response_model=None)
async def get_assistant_graph(assistant_id: str, _: StaffDep) -> Any:
    """Nodes and edges of the graph, as JSON."""
    if resolve_assistant(assistant_id) is None:
        return error(404, "assistant_not_found", "assistant not found")
    from graphs.support import build_graph

    drawable = build_graph().compile().get_graph()
    return drawable.to_json()
