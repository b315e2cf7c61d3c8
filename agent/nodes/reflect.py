"""Check the draft and decide: release it, retry with a critique, or hand off to a human."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel

import prompts
from agent.answers.checks import draft_is_assured, draft_problems
from agent.context import RunContext
from agent.llm import LLMCallError, structured
from agent.metrics import REFLECTION_REVIEWS
from agent.nodes._common import chat_model, retract_early_release, services
from agent.nodes.generate import sources_block
from agent.state import SupportState

Next = Literal["generate", "output_guard", "escalate"]
# Retrying cannot make missing or weak sources better: these go straight to a human.
_HOPELESS = {"no_sources", "low_confidence"}


class Critique(BaseModel):
    """The model's review of a draft (structured output)."""

    grounded: bool
    answers_question: bool
    within_policy: bool
    feedback: str


def _needs_model_review(state: SupportState, runtime: Runtime[RunContext]) -> bool:
    """A model review costs a full model round trip: spend it where the evidence is unsure."""
    if state.get("cached"):
        return False
    if services(runtime).settings.reflection_review == "always":
        return True
    assured = draft_is_assured(state)
    if assured:
        REFLECTION_REVIEWS.labels(review="skipped_assured").inc()
    return not assured


async def _llm_problems(state: SupportState, runtime: Runtime[RunContext]) -> list[str]:
    model = chat_model(runtime, streaming=False)
    if model is None or any(f.startswith("generate:") for f in state.get("llm_fallbacks", [])):
        return []
    REFLECTION_REVIEWS.labels(review="model").inc()
    prompt = prompts.render(
        runtime.context.prompt_version,
        "reflect",
        sources=sources_block(state),
        question=prompts.fence("customer_message", state["question"]),
        draft=prompts.fence("draft", state["draft"]),
    )
    review = await structured(model, Critique, [SystemMessage(prompt), HumanMessage("Review it.")])
    flags = {
        "ungrounded": review.grounded,
        "unanswered": review.answers_question,
        "off_policy": review.within_policy,
    }
    return [code for code, ok in flags.items() if not ok]


async def reflect(state: SupportState, runtime: Runtime[RunContext]) -> Command[Next]:
    """Bounded: at most ``reflection_max_retries`` extra drafts, then escalate."""
    settings = services(runtime).settings
    problems = draft_problems(state, settings.min_retrieval_similarity)
    fallbacks = list(state.get("llm_fallbacks", []))
    if not problems and _needs_model_review(state, runtime):
        try:
            problems = await _llm_problems(state, runtime)
        except LLMCallError as exc:
            fallbacks.append(f"reflect:{exc.code}")
    if not problems:
        return Command(goto="output_guard", update={"llm_fallbacks": fallbacks})
    if state.get("released"):
        # Sentences went out while the draft was written; the widget takes them back.
        retract_early_release(runtime)
    critique = ", ".join(problems)
    if _HOPELESS & set(problems) or state.get("attempts", 0) > settings.reflection_max_retries:
        return Command(
            goto="escalate",
            update={
                "critique": critique,
                "handoff_reason": f"reflection:{problems[0]}",
                "llm_fallbacks": fallbacks,
                "released": "",
            },
        )
    return Command(
        goto="generate", update={"critique": critique, "llm_fallbacks": fallbacks, "released": ""}
    )
