"""The support graph's wiring. Returns the builder; callers compile with their checkpointer."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agent.context import RunContext
from agent.nodes import (
    call_tools,
    escalate,
    generate,
    input_guard,
    output_guard,
    reflect,
    refuse,
    respond,
    retrieve,
    route,
)
from agent.state import InputState, SupportState

SupportGraph = StateGraph[SupportState, RunContext, InputState, SupportState]


def build_graph() -> SupportGraph:
    """Wire the nodes as ARCHITECTURE.md draws them.

    input_guard → route → retrieve | call_tools | escalate → generate → reflect →
    output_guard → respond; conditional hops are ``Command`` returns typed on each node.
    """
    builder: SupportGraph = StateGraph(
        SupportState, context_schema=RunContext, input_schema=InputState
    )
    for node in (
        input_guard,
        refuse,
        route,
        retrieve,
        call_tools,
        generate,
        reflect,
        output_guard,
        escalate,
        respond,
    ):
        builder.add_node(node)
    builder.add_edge(START, "input_guard")
    builder.add_edge("refuse", "respond")
    builder.add_edge("generate", "reflect")
    builder.add_edge("respond", END)
    return builder
