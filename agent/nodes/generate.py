"""Write the draft answer: from the model when one is configured, else deterministically."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

import prompts
from agent.answers.checks import source_phrases
from agent.answers.early_release import EarlyRelease, early_release_allowed
from agent.answers.extractive import Draft, extractive_answer
from agent.answers.templates import OUT_OF_SCOPE, tool_answer
from agent.context import RunContext
from agent.llm import LLMCallError, stream_text
from agent.metrics import EARLY_RELEASE
from agent.nodes._answer_cache import answer_key
from agent.nodes._common import chat_model, retract_early_release, services
from agent.nodes.output_guard import allowed_values, order_claims_match
from agent.state import Citation, SupportState

logger = logging.getLogger(__name__)
NO_ANSWER = "I couldn't find this in our help centre."
HISTORY_TURNS = 6
_BOUNDARY = re.compile(r"[.!?\n\]]")
_PARTIAL_CITE = re.compile(r"\s*\[[^\]]*$")
_CITE = re.compile(r"\s*\[([a-z0-9-]+:[0-9a-f]{16}|tool:[A-Za-z_:#0-9]+)\]")


def deterministic_draft(state: SupportState) -> Draft:
    """Templated tool answers, extractive knowledge answers, or the scope message."""
    route = state["route"]
    if route in ("order_status", "account"):
        return tool_answer(state.get("tool_results", []), state["question"])
    if route == "knowledge":
        passages = state.get("passages", [])
        return extractive_answer(state["question"], passages) if passages else Draft(NO_ANSWER, [])
    return Draft(OUT_OF_SCOPE, [])


def sources_block(state: SupportState) -> str:
    """Passages and tool results, each fenced and labelled as untrusted data."""
    blocks = [
        prompts.fence("passage", p["text"], id=p["id"], title=p["title"])
        for p in state.get("passages", [])
    ]
    blocks += [
        prompts.fence("tool_result", json.dumps(r["data"]), name=r["name"], status=r["status"])
        for r in state.get("tool_results", [])
    ]
    return "\n".join(blocks) or "(no sources)"


def llm_messages(state: SupportState, runtime: Runtime[RunContext]) -> list[BaseMessage]:
    """System prompt with canary, recent history, then sources and the fenced question."""
    version = runtime.context.prompt_version
    canary = services(runtime).settings.canary_token.get_secret_value()
    critique = state.get("critique", "")
    history = [m for m in state["messages"][:-1] if isinstance(m, HumanMessage | AIMessage)]
    return [
        SystemMessage(prompts.render(version, "system", canary=canary)),
        *history[-HISTORY_TURNS:],
        HumanMessage(
            prompts.render(
                version,
                "generate",
                critique=f"A reviewer rejected the previous draft: {critique}" if critique else "",
                sources=sources_block(state),
                question=prompts.fence("customer_message", state["question"]),
            )
        ),
    ]


def cited(text: str, state: SupportState) -> Draft:
    """Turn ``[id]`` markers into citations of sources that really exist, and drop them."""
    known: dict[str, Citation] = {
        p["id"]: {"id": p["id"], "title": p["title"]} for p in state.get("passages", [])
    }
    ids = [m for m in _CITE.findall(text) if m in known]
    citations = [known[i] for i in dict.fromkeys(ids)]
    if not citations and state.get("passages"):
        top = state["passages"][0]
        citations = [{"id": top["id"], "title": top["title"]}]
    return Draft(_CITE.sub("", text).strip(), citations)


async def generate(state: SupportState, runtime: Runtime[RunContext]) -> SupportState:
    """A shared answer when one is cached; else the model when present, or the fallback."""
    if state.get("attempts", 0) == 0:
        key = await answer_key(state, runtime)
        found = await services(runtime).answers.get(key) if key else None
        if found is not None:
            return {
                "draft": found["draft"],
                "citations": found["citations"],
                "attempts": 1,
                "answer_cache_key": key,
                "cached": True,
            }
        return {**await _compose(state, runtime), "answer_cache_key": key}
    return await _compose(state, runtime)


def early_release(state: SupportState, runtime: Runtime[RunContext]) -> EarlyRelease | None:
    """Sentence-by-sentence release for this draft, when its evidence allows it."""
    settings = services(runtime).settings
    review_always = settings.reflection_review == "always"
    if not settings.release_while_generating or not early_release_allowed(
        state, review_always=review_always, min_similarity=settings.min_retrieval_similarity
    ):
        return None
    return EarlyRelease(
        # A knowledge draft with passages always has citations, so the guard adds the intro.
        intro=prompts.render(runtime.context.prompt_version, "answer_intro"),
        sources=source_phrases(state),
        allowed_values=allowed_values(state, runtime.context.customer_id),
        canary=settings.canary_token.get_secret_value(),
        rule=lambda chunk: order_claims_match(chunk, state),
    )


def _releaser(
    early: EarlyRelease | None, runtime: Runtime[RunContext]
) -> Callable[[str], None] | None:
    if early is None:
        return None

    seen, pending = 0, False

    def release(text_so_far: str) -> None:
        # A chunk can only complete once a sentence end (or a citation's closing bracket) has
        # arrived and then more text: tokens in between are not worth re-cutting the draft for.
        nonlocal seen, pending
        delta, seen = text_so_far[seen:], len(text_so_far)
        boundary = bool(_BOUNDARY.search(delta))
        if not (boundary or (pending and delta.strip())):
            return
        pending = boundary
        # Markers come out as the final draft has them: complete ones removed (with the
        # space before them), a half-written one held back until it is complete.
        visible = _PARTIAL_CITE.sub("", _CITE.sub("", text_so_far)).strip()
        try:
            for chunk in early.feed(visible):
                runtime.stream_writer({"event": "token", "text": chunk})
        except Exception as exc:  # a fault here must not pass for a model failure
            logger.warning("early release stopped error=%s", type(exc).__name__)
            early.stopped = True

    return release


async def _compose(state: SupportState, runtime: Runtime[RunContext]) -> SupportState:
    attempts = state.get("attempts", 0) + 1
    fallbacks = list(state.get("llm_fallbacks", []))
    draft = deterministic_draft(state)
    model = chat_model(runtime)
    has_sources = bool(state.get("passages") or state.get("tool_results"))
    early = early_release(state, runtime) if model is not None else None
    if model is not None and has_sources:
        try:
            text = await stream_text(model, llm_messages(state, runtime), _releaser(early, runtime))
            draft = cited(text, state) if state.get("passages") else Draft(text, draft.citations)
        except LLMCallError as exc:
            fallbacks.append(f"generate:{exc.code}")
            if early is not None and early.released:
                retract_early_release(runtime)  # the fallback draft differs
            early = None
    if early is not None and early.released:
        EARLY_RELEASE.labels(outcome="released").inc()
    return {
        "draft": draft.text,
        "citations": draft.citations,
        "attempts": attempts,
        "llm_fallbacks": fallbacks,
        "released": early.text if early is not None else "",
    }
