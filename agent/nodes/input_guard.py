"""Decide whether the customer's message may proceed, before any model sees it."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext
from agent.guards.injection import score_text
from agent.guards.normalise import normalise
from agent.nodes._common import latest_customer_text, services
from agent.state import GuardVerdict, SupportState

TURN_DEFAULTS: SupportState = {
    "order_ids": [],
    "passages": [],
    "tool_calls": [],
    "tool_results": [],
    "draft": "",
    "citations": [],
    "critique": "",
    "attempts": 0,
    "answer": "",
    "escalated": False,
    "handoff_reason": "",
    "blocked": False,
    "llm_fallbacks": [],
}


def assess(text: str, max_chars: int) -> tuple[str, GuardVerdict]:
    """Normalise and score; oversized text is blocked here too, as a second line of defence."""
    normalised, flags = normalise(text)
    if len(normalised) > max_chars:
        return normalised[:max_chars], {"verdict": "block", "score": 1.0, "reasons": ["too_long"]}
    verdict = score_text(normalised, mode="input")
    verdict["reasons"] = sorted({*verdict["reasons"], *flags})
    if "invisible_chars" in flags and verdict["verdict"] == "allow":
        verdict["verdict"] = "flag"
    return normalised, verdict


async def input_guard(
    state: SupportState, runtime: Runtime[RunContext]
) -> Command[Literal["route", "refuse"]]:
    """Reset per-turn state, normalise the message, and block injection attempts."""
    ctx = runtime.context
    question, verdict = assess(
        latest_customer_text(state), services(runtime).settings.max_input_chars
    )
    update: SupportState = {
        **TURN_DEFAULTS,
        "question": question,
        "guard": verdict,
        "prompt_version": ctx.prompt_version,
        "model": ctx.model,
    }
    if state.get("owner") is None:
        update["owner"] = ctx.customer_id
    if verdict["verdict"] == "block":
        return Command(goto="refuse", update={**update, "blocked": True, "route": "blocked"})
    return Command(goto="route", update=update)
