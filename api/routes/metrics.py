"""Prometheus scrape endpoint (labels are bounded and carry no ids or customer text)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from agent.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """The process's metrics (every worker's, when several share a multiprocess dir)."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)
