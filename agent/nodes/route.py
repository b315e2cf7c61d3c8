"""Choose where the turn goes: retrieval, tools, a human, or a polite scope reply."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

import prompts
from agent.context import RunContext
from agent.intents import RouteSignal, explicit_signal, follow_up_signal
from agent.llm import LLMCallError, structured
from agent.nodes._common import chat_model, services
from agent.state import Route, SupportState

logger = logging.getLogger(__name__)

Next = Literal["retrieve", "call_tools", "escalate", "generate"]
_NEXT: dict[Route, Next] = {
    "knowledge": "retrieve",
    "order_status": "call_tools",
    "account": "call_tools",
    "human": "escalate",
    "out_of_scope": "generate",
    "blocked": "generate",
}


class RouteDecision(BaseModel):
    """The model's routing answer (structured output)."""

    route: Literal["order_status", "account", "knowledge", "human", "out_of_scope"]
    confidence: float = Field(ge=0, le=1)


async def _llm_route(state: SupportState, runtime: Runtime[RunContext]) -> RouteSignal | None:
    model = chat_model(runtime, streaming=False)
    if model is None:
        return None
    prompt = prompts.render(
        runtime.context.prompt_version,
        "route",
        message=prompts.fence("customer_message", state["question"]),
    )
    decision = await structured(
        model, RouteDecision, [SystemMessage(prompt), HumanMessage("Route it.")]
    )
    return RouteSignal(decision.route, (), decision.confidence, "llm")


async def route(state: SupportState, runtime: Runtime[RunContext]) -> Command[Next]:
    """Explicit signals win; then clear exemplar matches; the model (if any) settles the rest.

    Flags come first: with the AI off for this conversation (kill switch or outside the
    rollout), or tools off for a tool request, the conversation goes to a human.
    """
    ctx = runtime.context
    if ctx.ai_off_reason:
        return _to_human("human", f"ai_off:{ctx.ai_off_reason}")
    signal = explicit_signal(state["question"]) or follow_up_signal(
        state["question"], _previous_answer(state)
    )
    fallbacks = list(state.get("llm_fallbacks", []))
    if signal is None:
        intents = services(runtime).intents
        exemplar = await asyncio.to_thread(intents.classify, state["question"])
        signal = None if exemplar.decisive else await _try_llm_route(state, runtime, fallbacks)
        signal = signal or exemplar
    logger.info("routed route=%s reason=%s", signal.route, signal.reason)
    update: SupportState = {
        "route": signal.route,
        "order_ids": list(signal.order_ids),
        "llm_fallbacks": fallbacks,
    }
    if signal.route == "human":
        update["handoff_reason"] = "customer_requested_human"
    if signal.route in ("order_status", "account") and not ctx.tools_enabled:
        return _to_human(signal.route, "ai_off:tools")
    return Command(goto=_NEXT[signal.route], update=update)


async def _try_llm_route(
    state: SupportState, runtime: Runtime[RunContext], fallbacks: list[str]
) -> RouteSignal | None:
    """Ask the model only when the exemplars are unsure: a model call costs a full TTFT."""
    try:
        return await _llm_route(state, runtime)
    except LLMCallError as exc:
        fallbacks.append(f"route:{exc.code}")
        return None


def _previous_answer(state: SupportState) -> str:
    """The assistant's last released answer before this turn (follow-ups refer to it)."""
    for message in reversed(state["messages"][:-1]):
        if isinstance(message, AIMessage):
            return str(message.content)
    return ""


def _to_human(route: Route, reason: str) -> Command[Next]:
    logger.info("routed to a human reason=%s", reason)
    return Command(goto="escalate", update={"route": route, "handoff_reason": reason})
