"""Run the business tools for the authenticated customer only."""

from __future__ import annotations

import logging
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext
from agent.errors import BackendError
from agent.guards.injection import score_text
from agent.nodes._common import services
from agent.services import Services
from agent.state import SupportState, ToolCall, ToolResult
from tools.retail import get_account_status, lookup_order

logger = logging.getLogger(__name__)

MAX_ORDERS_PER_TURN = 3


def plan_calls(state: SupportState) -> list[ToolCall]:
    """Tool calls follow from the route and the ids in the customer's own message."""
    if state["route"] == "account":
        return [{"name": "get_account_status", "args": {}}]
    ids = state.get("order_ids", [])[:MAX_ORDERS_PER_TURN]
    return [{"name": "lookup_order", "args": {"order_id": i}} for i in ids] or [
        {"name": "lookup_order", "args": {}}
    ]


async def run_call(call: ToolCall, svc: Services, customer_id: str | None) -> ToolResult:
    """Execute one call; a backend outage becomes an ``error`` result, not an exception."""
    try:
        if call["name"] == "get_account_status":
            return await get_account_status(
                customer_id=customer_id, accounts=svc.accounts, orders=svc.orders
            )
        return await lookup_order(
            call["args"].get("order_id"), customer_id=customer_id, backend=svc.orders
        )
    except BackendError as exc:
        logger.warning("tool failed name=%s code=%s", call["name"], exc.code)
        return {"name": call["name"], "status": "error", "data": None}


def scrub(value: Any) -> Any:
    """Tool output is untrusted data too: instruction-shaped strings are replaced."""
    if isinstance(value, str):
        return "[removed]" if score_text(value, "document")["verdict"] != "allow" else value
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


async def call_tools(
    state: SupportState, runtime: Runtime[RunContext]
) -> Command[Literal["generate", "escalate"]]:
    """The customer id comes from the run context, never from the message or a model."""
    calls = plan_calls(state)
    svc = services(runtime)
    results = [await run_call(c, svc, runtime.context.customer_id) for c in calls]
    results = [{**r, "data": scrub(r["data"])} for r in results]
    update: SupportState = {"tool_calls": calls, "tool_results": results}
    if all(r["status"] == "error" for r in results):
        return Command(goto="escalate", update={**update, "handoff_reason": "tool_unavailable"})
    return Command(goto="generate", update=update)
