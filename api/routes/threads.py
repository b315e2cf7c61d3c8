"""Threads: create, read, search, state (read, update/fork) and history."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from langchain_core.runnables import RunnableConfig

from api.deps import AppResources, ResourcesDep, StaffDep
from api.lg_format import checkpoint_of, thread_record, thread_state
from api.schemas import (
    HistoryQuery,
    StateAtCheckpoint,
    StateUpdate,
    ThreadCreate,
    ThreadSearch,
)
from api.threads import ThreadExistsError

router = APIRouter(prefix="/threads", tags=["threads"])


def config_for(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    """Config addressing a thread, optionally at one checkpoint."""
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def thread_json(res: AppResources, row: dict[str, Any]) -> dict[str, Any]:
    """Full ``Thread`` JSON for a record."""
    snapshot = await res.runs.graph.aget_state(config_for(row["thread_id"]))
    busy = bool(res.runs.active_runs(row["thread_id"]))
    return thread_record(row, snapshot if snapshot.values else None, busy)


@router.post("")
async def create_thread(
    who: StaffDep, res: ResourcesDep, body: ThreadCreate | None = None
) -> dict[str, Any]:
    """Create a thread (``if_exists=do_nothing`` returns the existing one)."""
    body = body or ThreadCreate()
    thread_id = body.thread_id or str(uuid.uuid4())
    existing = await res.threads.find(thread_id, who.tenant)
    if existing is not None:
        if body.if_exists == "raise":
            raise ThreadExistsError(thread_id)
        return await thread_json(res, existing)
    row = await res.threads.create(thread_id, who.tenant, None, body.metadata)
    return await thread_json(res, row)


@router.post("/search")
async def search_threads(
    who: StaffDep, res: ResourcesDep, body: ThreadSearch | None = None
) -> list[dict[str, Any]]:
    """Threads of the caller's tenant, newest first."""
    body = body or ThreadSearch()
    rows = await res.threads.search(who.tenant, body.metadata, body.limit, body.offset)
    return [await thread_json(res, row) for row in rows]


@router.get("/{thread_id}")
async def get_thread(thread_id: str, who: StaffDep, res: ResourcesDep) -> dict[str, Any]:
    """One thread with its current values."""
    return await thread_json(res, await res.threads.get(thread_id, who.tenant))


@router.get("/{thread_id}/state")
async def get_state(thread_id: str, who: StaffDep, res: ResourcesDep) -> dict[str, Any]:
    """The latest ``ThreadState``."""
    await res.threads.get(thread_id, who.tenant)
    return thread_state(await res.runs.graph.aget_state(config_for(thread_id)))


@router.get("/{thread_id}/state/{checkpoint_id}", response_model=None)
async def get_state_at(
    thread_id: str, checkpoint_id: str, who: StaffDep, res: ResourcesDep
) -> dict[str, Any] | JSONResponse:
    """The ``ThreadState`` at one checkpoint."""
    await res.threads.get(thread_id, who.tenant)
    snapshot = await res.runs.graph.aget_state(config_for(thread_id, checkpoint_id))
    if snapshot.config is None or not snapshot.values:
        return JSONResponse({"detail": "checkpoint not found", "code": "checkpoint_not_found"}, 404)
    return thread_state(snapshot)


@router.post("/{thread_id}/state/checkpoint", response_model=None)
async def get_state_by_checkpoint(
    thread_id: str, body: StateAtCheckpoint, who: StaffDep, res: ResourcesDep
) -> dict[str, Any] | JSONResponse:
    """The ``ThreadState`` at ``checkpoint`` (latest when it names no checkpoint id)."""
    if body.checkpoint.checkpoint_id:
        return await get_state_at(thread_id, body.checkpoint.checkpoint_id, who, res)
    return await get_state(thread_id, who, res)


@router.post("/{thread_id}/state", response_model=None)
async def update_state(
    thread_id: str, body: StateUpdate, who: StaffDep, res: ResourcesDep
) -> dict[str, Any] | Response:
    """Write values as if ``as_node`` had produced them; from a past checkpoint this forks."""
    await res.threads.get(thread_id, who.tenant)
    if res.runs.active_runs(thread_id):
        return JSONResponse({"detail": "thread is busy", "code": "thread_busy"}, 409)
    source = body.checkpoint_id or (body.checkpoint.checkpoint_id if body.checkpoint else None)
    try:
        config = await res.runs.graph.aupdate_state(
            config_for(thread_id, source), body.values, as_node=body.as_node
        )
    except (ValueError, KeyError) as exc:
        return JSONResponse(
            {"detail": f"cannot update state: {type(exc).__name__}", "code": "invalid_update"}, 422
        )
    await res.threads.touch(thread_id)
    checkpoint = checkpoint_of(config)
    return {
        "checkpoint": checkpoint,
        "configurable": checkpoint,
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
    }


@router.post("/{thread_id}/history")
async def history(
    thread_id: str, who: StaffDep, res: ResourcesDep, body: HistoryQuery | None = None
) -> list[dict[str, Any]]:
    """Past states, newest first."""
    await res.threads.get(thread_id, who.tenant)
    body = body or HistoryQuery()
    before = body.before_id()
    start = body.checkpoint.checkpoint_id if body.checkpoint else None
    states = []
    async for snapshot in res.runs.graph.aget_state_history(
        config_for(thread_id, start),
        filter=body.metadata,
        before=config_for(thread_id, before) if before else None,
        limit=body.limit,
    ):
        states.append(thread_state(snapshot))
    return states
