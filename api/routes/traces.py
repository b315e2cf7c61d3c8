"""Engineers' view: trace list and detail, replay and fork with a diff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agent.replay import Overrides, replay
from agent.traces import TraceNotFoundError, build_trace
from api.auth import Principal
from api.deps import ResourcesDep, StaffDep
from api.routes.threads import config_for

router = APIRouter(prefix="/v1/traces", tags=["traces"])


def masked_for(who: Principal) -> bool:
    """Agents and admins work with customers' data; engineers see it masked."""
    return who.role not in ("agent", "admin")


class ReplayRequest(BaseModel):
    """Replay unchanged (no overrides) or fork with overrides."""

    model_config = ConfigDict(extra="forbid")

    checkpoint_id: str | None = None
    prompt_version: str | None = Field(default=None, pattern=r"^v\d+(\.\d+)*$")
    model: str | None = None
    retrieval_k: int | None = Field(default=None, ge=1, le=50)


@router.get("")
async def list_traces(
    who: StaffDep,
    res: ResourcesDep,
    route: str | None = None,
    escalated: bool | None = None,
    blocked: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Recent conversations with their latest route and outcome, filterable."""
    out = []
    for row in await res.threads.search(who.tenant, None, min(limit, 200), 0):
        snapshot = await res.runs.graph.aget_state(config_for(row["thread_id"]))
        values = {
            **snapshot.values,
            "escalated": snapshot.values.get("escalated") or bool(snapshot.interrupts),
        }
        if not values:
            continue
        item = {
            "thread_id": row["thread_id"],
            "updated_at": row["updated_at"].isoformat(),
            "route": values.get("route"),
            "escalated": bool(values.get("escalated")),
            "blocked": bool(values.get("blocked")),
            "turns": len(values.get("messages", [])) // 2,
            "prompt_version": values.get("prompt_version"),
        }
        if route and item["route"] != route:
            continue
        if escalated is not None and item["escalated"] != escalated:
            continue
        if blocked is not None and item["blocked"] != blocked:
            continue
        if not _within(row["updated_at"], since, until):
            continue
        out.append(item)
    return out


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; compare everything as aware UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    moment = _aware(moment)
    return (since is None or moment >= _aware(since)) and (until is None or moment <= _aware(until))


@router.get("/{thread_id}")
async def get_trace(thread_id: str, who: StaffDep, res: ResourcesDep) -> dict[str, Any]:
    """Ordered steps (node, timing, what changed), the path, and the outcome."""
    await res.threads.get(thread_id, who.tenant)
    return await build_trace(res.runs.graph, thread_id, masked=masked_for(who))


@router.post("/{thread_id}/replay")
async def replay_thread(
    thread_id: str, body: ReplayRequest, who: StaffDep, res: ResourcesDep
) -> dict[str, Any]:
    """Re-run the last customer turn (as of ``checkpoint_id``) in a new thread and diff it."""
    await res.threads.get(thread_id, who.tenant)
    overrides = Overrides(body.prompt_version, body.model, body.retrieval_k)
    result = await replay(
        res.runs.graph,
        res.services,
        thread_id,
        checkpoint_id=body.checkpoint_id,
        overrides=overrides,
    )
    await res.threads.create(
        result["thread_id"],
        who.tenant,
        None,
        {"replay_of": thread_id, "checkpoint_id": body.checkpoint_id},
    )
    return result


__all__ = ["TraceNotFoundError", "router"]
