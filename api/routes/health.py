"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ResourcesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(res: ResourcesDep) -> dict[str, Any] | JSONResponse:
    """Each dependency answers: knowledge base, business backend, checkpointer, app database."""
    checks: dict[str, str] = {}
    try:
        count = await asyncio.to_thread(res.services.store.count, res.settings.tenant)
        checks["knowledge_base"] = "ok" if count > 0 else "empty"
    except Exception as exc:  # readiness reports, it never raises
        checks["knowledge_base"] = type(exc).__name__
    try:
        await res.services.accounts.get_account("__readyz__")
        checks["business_backend"] = "ok"
    except Exception as exc:  # readiness reports, it never raises
        checks["business_backend"] = type(exc).__name__
    try:
        await res.runs.graph.aget_state({"configurable": {"thread_id": "__readyz__"}})
        checks["checkpointer"] = "ok"
    except Exception as exc:  # readiness reports, it never raises
        checks["checkpointer"] = type(exc).__name__
    try:
        await res.flags.store.rows()
        checks["app_database"] = "ok"
    except Exception as exc:  # readiness reports, it never raises
        checks["app_database"] = type(exc).__name__
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return body if ready else JSONResponse(body, status_code=503)
