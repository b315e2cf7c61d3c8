"""Decide whether the customer's message may proceed, before any model sees it."""

from __future__ import annotations

import asyncio
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

import prompts
from agent.context import RunContext
from agent.guards.detector import InjectionDetector
from agent.guards.normalise import normalise
from agent.llm import LLMCallError, structured
from agent.metrics import GUARD_VERDICTS
from agent.nodes._common import chat_model, latest_customer_text, services
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
    "released": "",
    "answer": "",
    "escalated": False,
    "handoff_reason": "",
    "blocked": False,
    "llm_fallbacks": [],
    "answer_cache_key": "",
    "cached": False,
}


class JudgeDecision(BaseModel):
    """The optional LLM judge's answer (structured output)."""

    manipulation: bool
    confidence: float = Field(ge=0, le=1)


def assess(text: str, max_chars: int, detector: InjectionDetector) -> tuple[str, GuardVerdict]:
    """Normalise and score; oversized text is blocked here too, as a second line of defence."""
    normalised, flags = normalise(text)
    if len(normalised) > max_chars:
        return normalised[:max_chars], {"verdict": "block", "score": 1.0, "reasons": ["too_long"]}
    verdict = detector.assess(normalised, mode="input")
    verdict["reasons"] = sorted({*verdict["reasons"], *flags})
    if "invisible_chars" in flags and verdict["verdict"] == "allow":
        verdict["verdict"] = "flag"
    return normalised, verdict


async def input_guard(
    state: SupportState, runtime: Runtime[RunContext]
) -> Command[Literal["route", "refuse"]]:
    """Reset per-turn state, normalise the message, and block injection attempts."""
    ctx = runtime.context
    svc = services(runtime)
    question, verdict = await asyncio.to_thread(
        assess, latest_customer_text(state), svc.settings.max_input_chars, svc.detector
    )
    if verdict["verdict"] == "flag":
        verdict = await judged(question, verdict, runtime)
    GUARD_VERDICTS.labels(guard="input", verdict=verdict["verdict"]).inc()
    update: SupportState = {
        **TURN_DEFAULTS,
        "question": question,
        "guard": verdict,
        # Every turn records what answered it, so a rollback can be checked run by run.
        "prompt_version": ctx.prompt_version,
        "model": (ctx.model or svc.settings.llm_model) if svc.settings.llm_enabled else None,
    }
    if state.get("owner") is None:
        update["owner"] = ctx.customer_id
    if verdict["verdict"] == "block":
        return Command(goto="refuse", update={**update, "blocked": True, "route": "blocked"})
    return Command(goto="route", update=update)


async def judged(
    question: str, verdict: GuardVerdict, runtime: Runtime[RunContext]
) -> GuardVerdict:
    """Let the model settle a flagged message when one is configured; it can only escalate."""
    model = chat_model(runtime, streaming=False)
    if model is None:
        return verdict
    prompt = prompts.render(
        runtime.context.prompt_version, "judge", message=prompts.fence("customer_message", question)
    )
    try:
        decision = await structured(
            model, JudgeDecision, [SystemMessage(prompt), HumanMessage("Judge it.")]
        )
    except LLMCallError:
        return verdict
    if decision.manipulation and decision.confidence >= 0.7:
        reasons = sorted({*verdict["reasons"], "llm_judge"})
        return {
            "verdict": "block",
            "score": max(verdict["score"], decision.confidence),
            "reasons": reasons,
        }
    return verdict
