"""Validate the draft before release and stream it to the customer in checked chunks."""

from __future__ import annotations

import json
import re
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

import prompts
from agent.context import RunContext
from agent.guards.output import check_chunk, split_chunks
from agent.guards.pii import find_pii
from agent.intents import order_ids_in
from agent.metrics import GUARD_VERDICTS
from agent.nodes._common import retract_early_release, services
from agent.state import SupportState


def allowed_values(state: SupportState, customer_id: str | None) -> set[str]:
    """Personal data the customer may see: their own, as returned by tools or typed by them."""
    allowed = set(order_ids_in(state["question"]))
    if customer_id:
        allowed.add(customer_id)
    for result in state.get("tool_results", []):
        allowed |= {p.value for p in find_pii(json.dumps(result["data"]))}
    return allowed


STATUSES = ("pending", "processed", "delivered", "cancelled")


def order_claims_match(chunk: str, state: SupportState) -> bool:
    """A sentence naming one of the customer's orders and a status must state the tool's status."""
    known = {
        o["order_id"]: str(o["status"])
        for r in state.get("tool_results", [])
        if r["name"] == "lookup_order" and isinstance(r["data"], list)
        for o in r["data"]
    }
    lowered = chunk.lower()
    for order_id in order_ids_in(chunk):
        claimed = [s for s in STATUSES if re.search(rf"\b{s}\b", lowered)]
        if order_id in known and claimed and not known[order_id].startswith(tuple(claimed)):
            return False
    return True


def intro(state: SupportState, runtime: Runtime[RunContext]) -> str:
    """The prompt version's lead-in for cited knowledge answers (our own text, still checked)."""
    if state.get("route") != "knowledge" or not state.get("citations"):
        return ""
    return prompts.render(runtime.context.prompt_version, "answer_intro")


def _released_prefix(chunks: list[str], early: str, runtime: Runtime[RunContext]) -> list[str]:
    """The leading chunks already sent while the draft was written.

    Early release cuts chunks the same way, so they match; should they ever not, the widget
    retracts what it showed and the whole answer is released again.
    """
    count, length = 0, 0
    while early and count < len(chunks) and length < len(early):
        length += len(chunks[count])
        count += 1
    if early and "".join(chunks[:count]) != early:
        retract_early_release(runtime)
        return []
    return chunks[:count]


async def output_guard(
    state: SupportState, runtime: Runtime[RunContext]
) -> Command[Literal["respond", "escalate"]]:
    """Release chunk by chunk; the first failing chunk stops the stream and escalates.

    Chunks released while the draft was written (``released``) passed these same checks
    then; they are counted, not sent twice.
    """
    canary = services(runtime).settings.canary_token.get_secret_value()
    allowed = allowed_values(state, runtime.context.customer_id)
    chunks = split_chunks(intro(state, runtime) + state["draft"])
    released = _released_prefix(chunks, state.get("released", ""), runtime)
    for chunk in chunks[len(released) :]:
        verdict = check_chunk(chunk, allowed_values=allowed, canary=canary)
        if verdict["verdict"] == "allow" and not order_claims_match(chunk, state):
            verdict = {"verdict": "block", "score": 1.0, "reasons": ["order_fact_mismatch"]}
        if verdict["verdict"] == "block":
            GUARD_VERDICTS.labels(guard="output", verdict="block").inc()
            reason = f"output_guard:{verdict['reasons'][0]}"
            return Command(
                goto="escalate",
                update={"handoff_reason": reason, "answer": "".join(released).strip()},
            )
        runtime.stream_writer({"event": "token", "text": chunk})
        released.append(chunk)
    GUARD_VERDICTS.labels(guard="output", verdict="allow").inc()
    if state.get("answer_cache_key") and not state.get("cached"):
        await services(runtime).answers.put(
            state["answer_cache_key"],
            {"draft": state["draft"], "citations": state.get("citations", [])},
        )
    return Command(goto="respond", update={"answer": "".join(released).strip()})
