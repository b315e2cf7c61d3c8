"""Staff pages: the agent desk and the trace viewer (static; they call the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.routes.widget import STATIC

router = APIRouter(include_in_schema=False)


@router.get("/agent")
async def agent_page() -> FileResponse:
    """Handoff queue, conversation, drafts and feedback."""
    return FileResponse(STATIC / "agent.html", media_type="text/html")


@router.get("/traces")
async def traces_page() -> FileResponse:
    """Trace list with filters."""
    return FileResponse(STATIC / "traces.html", media_type="text/html")


@router.get("/traces/{thread_id}")
async def trace_page(thread_id: str) -> FileResponse:
    """One trace: path and timeline."""
    return FileResponse(STATIC / "traces.html", media_type="text/html")


@router.get("/staff.js")
async def staff_js() -> FileResponse:
    """Shared script of the staff pages."""
    return FileResponse(STATIC / "staff.js", media_type="text/javascript")
