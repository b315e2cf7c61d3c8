"""The agents' handoff queue: list, claim, reply, resume the AI, hand back, resolve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal
from api.deps import AgentDep, AppResources, ResourcesDep
from api.handoffs import HandoffConflictError, handoff_json
from api.routes.threads import config_for
from api.run_context import run_context
from api.runs import RunSpec
from api.widget_stream import WidgetAdapter

router = APIRouter(prefix="/v1/handoffs", tags=["handoffs"])


class HumanText(BaseModel):
    """A human agent's message to the customer."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=8000)


async def _resume(
    res: AppResources, who: Principal, row: dict[str, Any], resume: dict[str, Any]
) -> str:
    """Answer the pending interrupt; the customer's widget picks the run up (long-poll)."""
    snapshot = await res.runs.graph.aget_state(config_for(row["thread_id"]))
    if not any(i.id == row["interrupt_id"] for i in snapshot.interrupts):
        raise HandoffConflictError(row["handoff_id"])
    from langgraph.types import Command

    context = run_context(res, who.tenant, row["customer_id"], row["thread_id"])
    spec = RunSpec(
        thread_id=row["thread_id"],
        graph_input=Command(resume=resume),
        context=context,
        stream_modes=["updates", "custom"],
        adapter=WidgetAdapter(),
        finisher=lambda run: [("end", {"status": run.status})],
        strategy="enqueue",
        metadata={"channel": "human", "handoff_id": row["handoff_id"]},
    )
    run = await res.runs.start(spec)
    return run.run_id


@router.get("")
async def list_handoffs(
    who: AgentDep, res: ResourcesDep, status: str | None = None, reason: str | None = None
) -> list[dict[str, Any]]:
    """The queue, newest first; filter by ``status`` (open, claimed, …) or ``reason``."""
    return [handoff_json(r) for r in await res.handoffs.list(who.tenant, status, reason)]


@router.get("/{handoff_id}")
async def get_handoff(handoff_id: str, who: AgentDep, res: ResourcesDep) -> dict[str, Any]:
    """One handoff."""
    return handoff_json(await res.handoffs.get(who.tenant, handoff_id))


@router.post("/{handoff_id}/claim")
async def claim(handoff_id: str, who: AgentDep, res: ResourcesDep) -> dict[str, Any]:
    """Take the conversation; a second claim gets 409."""
    return handoff_json(await res.handoffs.claim(who.tenant, handoff_id, who.key_id))


async def _held(res: AppResources, who: Principal, handoff_id: str) -> dict[str, Any]:
    row = await res.handoffs.get(who.tenant, handoff_id)
    if row["status"] != "claimed" or row["claimed_by"] != who.key_id:
        raise HandoffConflictError(handoff_id)
    return row


async def _return_to_ai(
    res: AppResources, who: Principal, handoff_id: str, resume: dict[str, Any]
) -> dict[str, Any]:
    """Answer the interrupt, then mark the handoff as returned to the AI."""
    row = await _held(res, who, handoff_id)
    run_id = await _resume(res, who, row, resume)
    closed = await res.handoffs.close(who.tenant, handoff_id, who.key_id, "returned")
    return {**handoff_json(closed), "run_id": run_id}


@router.post("/{handoff_id}/reply")
async def reply(
    handoff_id: str, body: HumanText, who: AgentDep, res: ResourcesDep
) -> dict[str, Any]:
    """Answer the customer as a human; the handoff stays with this agent."""
    row = await _held(res, who, handoff_id)
    run_id = await _resume(res, who, row, {"answer": body.text})
    return {**handoff_json(row), "run_id": run_id}


@router.post("/{handoff_id}/resume")
async def resume(
    handoff_id: str, body: HumanText, who: AgentDep, res: ResourcesDep
) -> dict[str, Any]:
    """Give the AI the human's answer and return the conversation to it."""
    return await _return_to_ai(res, who, handoff_id, {"answer": body.text})


@router.post("/{handoff_id}/handback")
async def handback(handoff_id: str, who: AgentDep, res: ResourcesDep) -> dict[str, Any]:
    """Return the conversation to the AI without an answer.

    If the customer is waiting, the AI tells them so; if the agent already answered the last
    message, the handoff just closes and the customer's next message goes to the AI.
    """
    row = await _held(res, who, handoff_id)
    snapshot = await res.runs.graph.aget_state(config_for(row["thread_id"]))
    if any(i.id == row["interrupt_id"] for i in snapshot.interrupts):
        return await _return_to_ai(res, who, handoff_id, {"action": "handback"})
    closed = await res.handoffs.close(who.tenant, handoff_id, who.key_id, "returned")
    return {**handoff_json(closed), "run_id": None}


@router.post("/{handoff_id}/resolve")
async def resolve(handoff_id: str, who: AgentDep, res: ResourcesDep) -> dict[str, Any]:
    """Close the handoff (the conversation is done)."""
    return handoff_json(await res.handoffs.close(who.tenant, handoff_id, who.key_id, "resolved"))
