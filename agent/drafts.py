"""Drafts for human agents: the assistant's answer with its sources, never sent to anyone."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from agent.assistant import Graph
from agent.context import RunContext
from agent.services import Services


async def draft_reply(
    graph: Graph,
    services: Services,
    text: str,
    *,
    customer_id: str | None,
    tenant: str,
    prompt_version: str | None = None,
    model: str | None = None,
    generation_enabled: bool = True,
) -> dict[str, Any]:
    """Run the graph on ``text`` in a scratch thread; agents also search the agent guidelines.

    Drafts follow the pinned release and the ``ai.generation`` switch, but not the ``ai``
    kill switch: agents keep their sidebar while the customer-facing AI is off.
    """
    config: RunnableConfig = {"configurable": {"thread_id": f"draft-{uuid.uuid4()}"}}
    context = RunContext(
        services=services,
        tenant=tenant,
        customer_id=customer_id,
        audiences=("customer", "agent"),
        prompt_version=prompt_version or services.settings.prompt_version,
        model=model,
        generation_enabled=generation_enabled,
    )
    await graph.ainvoke({"messages": [HumanMessage(content=text)]}, config, context=context)
    snapshot = await graph.aget_state(config)
    values = dict(snapshot.values)
    waiting = [i.value for i in snapshot.interrupts if isinstance(i.value, dict)]
    return {
        "draft": "" if waiting else values.get("answer", ""),
        "route": values.get("route"),
        "needs_human_because": waiting[0].get("reason") if waiting else None,
        "sources": [
            {"id": p["id"], "title": p["title"], "text": p["text"][:400]}
            for p in values.get("passages", [])
        ],
        "tool_results": values.get("tool_results", []),
        "guard": values.get("guard"),
    }
