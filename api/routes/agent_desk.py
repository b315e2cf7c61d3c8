"""The agent sidebar's API: drafts for a conversation or a pasted ticket, and feedback."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import insert

from agent.drafts import draft_reply
from agent.evals.online import feedback_value
from agent.guards.normalise import validate_message
from agent.metrics import FEEDBACK
from agent.rollout import decide
from api.db import feedback, utcnow
from api.deps import AgentDep, ResourcesDep
from api.routes.threads import config_for

router = APIRouter(prefix="/v1/agent", tags=["agent sidebar"])


class DraftRequest(BaseModel):
    """A conversation to draft for, or pasted ticket text (optionally for a customer)."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str | None = None
    ticket_text: str | None = Field(default=None, max_length=8000)
    customer_id: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DraftRequest:
        if (self.thread_id is None) == (self.ticket_text is None):
            raise ValueError("give exactly one of thread_id or ticket_text")
        return self


class Feedback(BaseModel):
    """What the agent did with a draft, or a thumbs up/down on a run."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str = Field(min_length=1, max_length=64)
    run_id: str | None = None
    kind: Literal["accept", "edit", "override", "discard", "thumbs_up", "thumbs_down"]
    reason: str | None = Field(default=None, max_length=2000)
    final_text: str | None = Field(default=None, max_length=8000)


@router.post("/draft")
async def draft(body: DraftRequest, who: AgentDep, res: ResourcesDep) -> dict[str, Any]:
    """The assistant's suggested reply with the sources and tool results behind it."""
    if body.thread_id is not None:
        await res.threads.get(body.thread_id, who.tenant)
        values = dict((await res.runs.graph.aget_state(config_for(body.thread_id))).values)
        asked = [m for m in values.get("messages", []) if isinstance(m, HumanMessage)]
        text, customer = (str(asked[-1].content) if asked else ""), values.get("owner")
    else:
        text, customer = str(body.ticket_text), body.customer_id
    validate_message(text, res.settings.max_input_chars)
    snapshot = res.flags.snapshot
    release = snapshot.release
    decision = decide(snapshot, who.tenant, customer, body.thread_id or "agent-draft")
    return await draft_reply(
        res.runs.graph,
        res.services,
        text,
        customer_id=customer,
        tenant=who.tenant,
        prompt_version=release.prompt_version if release else None,
        model=release.model if release else None,
        generation_enabled=decision.generation,
    )


@router.post("/feedback", status_code=201)
async def record_feedback(body: Feedback, who: AgentDep, res: ResourcesDep) -> dict[str, str]:
    """Store accept / edit / override / discard and thumbs, tied to the thread and run."""
    await res.threads.get(body.thread_id, who.tenant)
    feedback_id = str(uuid.uuid4())
    async with res.threads.engine.begin() as conn:
        await conn.execute(
            insert(feedback).values(
                feedback_id=feedback_id,
                tenant=who.tenant,
                thread_id=body.thread_id,
                run_id=body.run_id,
                kind=body.kind,
                reason=body.reason,
                final_text=body.final_text,
                author=who.key_id,
                created_at=utcnow(),
            )
        )
    FEEDBACK.labels(kind=body.kind).inc()
    res.quality.add(feedback_value(body.kind))
    return {"feedback_id": feedback_id}
