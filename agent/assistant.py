"""Run conversation turns against a compiled graph: validation, ownership, results."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel

from agent.context import RunContext
from agent.errors import ThreadOwnershipError, UnknownCustomerError
from agent.guards.normalise import validate_message
from agent.services import Services
from agent.state import Citation, InputState, Route, SupportState, ToolCall

TokenSink = Callable[[str], None]
RETRACT_NOTICE = "\n(The assistant is revising that answer.)\n"
"""What a terminal prints when sentences it showed were withdrawn (it cannot erase them)."""
Graph = CompiledStateGraph[SupportState, RunContext, InputState, SupportState]


class AskResult(BaseModel):
    """The stable ``ask --json`` contract."""

    thread_id: str
    route: Route
    tool_calls: list[ToolCall]
    citations: list[Citation]
    escalated: bool
    blocked: bool
    answer: str


class Assistant:
    """One compiled graph plus the services its runs use."""

    def __init__(self, graph: Graph, services: Services) -> None:
        self.graph = graph
        self.services = services

    def run_context(self, customer_id: str | None, **overrides: Any) -> RunContext:
        """The per-run context for a customer, with optional prompt/model/tenant overrides."""
        settings = self.services.settings
        return RunContext(
            services=self.services,
            tenant=overrides.get("tenant") or settings.tenant,
            customer_id=customer_id,
            prompt_version=overrides.get("prompt_version") or settings.prompt_version,
            model=overrides.get("model"),
        )

    async def _check_caller(self, config: RunnableConfig, customer_id: str | None) -> None:
        if (
            customer_id is not None
            and await self.services.accounts.get_account(customer_id) is None
        ):
            raise UnknownCustomerError(f"unknown customer id {customer_id!r}")
        snapshot = await self.graph.aget_state(config)
        if snapshot.values and snapshot.values.get("owner") != customer_id:
            raise ThreadOwnershipError("this conversation belongs to another customer")

    async def ask(
        self,
        text: str,
        *,
        customer_id: str | None = None,
        thread_id: str | None = None,
        on_token: TokenSink | None = None,
        **overrides: Any,
    ) -> AskResult:
        """Validate, run one turn, and summarise it; nothing is stored for invalid input."""
        validate_message(text, self.services.settings.max_input_chars)
        thread_id = thread_id or str(uuid.uuid4())
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        await self._check_caller(config, customer_id)
        graph_input: InputState = {"messages": [HumanMessage(content=text)]}
        await self._run(graph_input, config, self.run_context(customer_id, **overrides), on_token)
        return await self.result(thread_id)

    async def resume(
        self, thread_id: str, answer: str, *, customer_id: str | None = None
    ) -> AskResult:
        """Continue a thread paused in ``escalate`` with a human's answer."""
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        await self._run(
            Command(resume={"answer": answer}), config, self.run_context(customer_id), None
        )
        return await self.result(thread_id)

    async def _run(
        self,
        graph_input: InputState | Command[Any],
        config: RunnableConfig,
        context: RunContext,
        on_token: TokenSink | None,
    ) -> None:
        async for part in self.graph.astream(
            graph_input, config, context=context, stream_mode="custom"
        ):
            if not on_token or not isinstance(part, dict):
                continue
            if part.get("event") == "token":
                on_token(str(part["text"]))
            elif part.get("event") == "retract":
                on_token(RETRACT_NOTICE)

    async def result(self, thread_id: str) -> AskResult:
        """The latest turn's outcome, including a pending handoff."""
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        values: dict[str, Any] = dict(snapshot.values)
        waiting = [i.value for i in snapshot.interrupts]
        answer = waiting[0]["customer_message"] if waiting else values.get("answer", "")
        return AskResult(
            thread_id=thread_id,
            route=values.get("route", "blocked"),
            tool_calls=values.get("tool_calls", []),
            citations=[] if waiting else values.get("citations", []),
            escalated=bool(waiting) or bool(values.get("escalated")),
            blocked=bool(values.get("blocked")),
            answer=answer,
        )


@asynccontextmanager
async def open_assistant(services: Services) -> AsyncIterator[Assistant]:
    """Compile the support graph with the configured checkpointer (SQLite or Postgres)."""
    from agent.checkpoints import open_checkpointer
    from graphs.support import build_graph

    async with open_checkpointer(services.settings) as saver:
        yield Assistant(build_graph().compile(checkpointer=saver), services)
