"""Which turns may share a cached answer, and under which key.

Only knowledge answers on a conversation's first turn are shared: they depend on the question,
the tenant's help centre, the prompt and the model, never on a customer's own data or on
earlier turns. The key names all of those, so a new prompt, model or knowledge base starts
from an empty cache.
"""

from __future__ import annotations

import asyncio

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from agent.cache import cache_key, normalise_question
from agent.context import RunContext
from agent.nodes._common import services
from agent.state import SupportState


def shareable(state: SupportState) -> bool:
    """A first-turn knowledge question answered from the help centre alone."""
    if state.get("route") != "knowledge" or state.get("tool_results"):
        return False
    turns = sum(isinstance(m, HumanMessage) for m in state.get("messages", []))
    return turns == 1


async def answer_key(state: SupportState, runtime: Runtime[RunContext]) -> str:
    """The cache key for this turn, or ``""`` when the turn must not be shared."""
    svc = services(runtime)
    if not svc.answers.enabled or not shareable(state):
        return ""
    ctx = runtime.context
    model = (ctx.model or svc.settings.llm_model) if svc.settings.llm_enabled else "extractive"
    kb = await asyncio.to_thread(knowledge_version, svc.store, ctx.tenant)
    return cache_key(
        ctx.tenant,
        ",".join(ctx.audiences),
        ctx.prompt_version,
        model,
        kb,
        normalise_question(state["question"]),
    )


def knowledge_version(store: object, tenant: str) -> str:
    """The store's own version when it has one, else its size (changes on ingest or prune)."""
    version = getattr(store, "version", None)
    if callable(version):
        return str(version(tenant))
    count = getattr(store, "count")  # noqa: B009 - every VectorStore has it
    return f"count:{count(tenant)}"
