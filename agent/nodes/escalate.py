"""Hand the conversation to a human and pause until one answers (or hands it back)."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from agent.context import RunContext
from agent.guards.pii import mask_pii
from agent.state import SupportState

HANDOFF_MESSAGE = (
    "I'm passing your conversation to a member of our support team, who will reply here. "
    "You don't need to repeat anything."
)
AI_OFF_MESSAGE = (
    "Our assistant isn't available for this conversation, so a member of our support team "
    "will reply here. You don't need to repeat anything."
)
TAKEOVER_MESSAGE = "A member of our support team is handling this conversation and will reply here."
_URGENT = ("output_guard:", "tool_unavailable", "knowledge_unavailable")


def handoff_payload(state: SupportState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """What the human queue needs: reason, masked summary, priority; no raw personal data."""
    reason = state.get("handoff_reason") or "needs_human"
    return {
        "type": "handoff",
        "reason": reason,
        "priority": "high" if reason.startswith(_URGENT) else "normal",
        "route": state.get("route"),
        "summary": mask_pii(state.get("question", ""))[:280],
        "customer_id": runtime.context.customer_id,
        "customer_message": _customer_message(reason),
    }


def _customer_message(reason: str) -> str:
    if reason == "ai_off:human_takeover":
        return TAKEOVER_MESSAGE
    return AI_OFF_MESSAGE if reason.startswith("ai_off:") else HANDOFF_MESSAGE


HANDBACK_MESSAGE = "You're back with the assistant. How else can I help?"


def human_answer(resume: Any) -> str:
    """Accept ``"text"``, ``{"answer": "text"}`` or ``{"action": "handback"}``."""
    if isinstance(resume, dict):
        if resume.get("action") == "handback":
            return HANDBACK_MESSAGE
        return str(resume.get("answer", "")).strip()
    return str(resume).strip()


async def escalate(
    state: SupportState, runtime: Runtime[RunContext]
) -> Command[Literal["respond"]]:
    """``interrupt()`` pauses here; ``Command(resume=...)`` brings the human's reply back."""
    payload = handoff_payload(state, runtime)
    resume = interrupt(payload)
    return Command(
        goto="respond",
        update={
            "answer": human_answer(resume) or HANDOFF_MESSAGE,
            "escalated": True,
            "handoff_reason": payload["reason"],
            "citations": [],
        },
    )
