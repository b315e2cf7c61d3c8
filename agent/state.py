"""The graph's state: what one conversation carries between nodes and across turns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

Route = Literal["order_status", "account", "knowledge", "human", "out_of_scope", "blocked"]
Verdict = Literal["allow", "flag", "block"]


class GuardVerdict(TypedDict):
    """A guard's decision with the reasons (codes, never user text) that led to it."""

    verdict: Verdict
    score: float
    reasons: list[str]


class Passage(TypedDict):
    """A retrieved knowledge-base chunk; untrusted data, never instructions."""

    id: str
    doc_id: str
    title: str
    text: str
    similarity: float
    """Cosine similarity to the question, for confidence checks."""


class ToolCall(TypedDict):
    """A business tool invocation as decided by the graph (never by passage text)."""

    name: str
    args: dict[str, Any]


class ToolResult(TypedDict):
    """What a tool returned; ``data`` is the JSON-able payload or ``None`` when not found."""

    name: str
    status: Literal["ok", "not_found", "unauthenticated", "error"]
    data: Any


class Citation(TypedDict):
    """A source the answer relies on, shown to the customer."""

    id: str
    title: str


class InputState(TypedDict):
    """What a caller sends: the new customer message appended to the conversation."""

    messages: Annotated[list[AnyMessage], add_messages]


class SupportState(TypedDict, total=False):
    """Full state (every key optional, so node updates type-check as partial states).

    Per-turn fields are reset by ``input_guard`` at the start of every turn.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation: customer messages and released answers only."""
    owner: str | None
    """Customer id that began the thread; later turns must come from the same customer."""
    question: str
    """The latest customer message after normalisation."""
    guard: GuardVerdict
    route: Route
    order_ids: list[str]
    passages: list[Passage]
    tool_calls: list[ToolCall]
    tool_results: list[ToolResult]
    draft: str
    """Candidate answer awaiting reflection and the output guard."""
    citations: list[Citation]
    critique: str
    """Why reflection rejected the previous draft; guides the retry."""
    attempts: int
    released: str
    """Text of this draft already released while it was being written (early release)."""
    answer: str
    """Released answer for this turn."""
    escalated: bool
    handoff_reason: str
    blocked: bool
    llm_fallbacks: list[str]
    """Codes of LLM calls that failed and were answered by the deterministic path."""
    answer_cache_key: str
    """Set when this turn's answer may be shared from or into the answer cache."""
    cached: bool
    """The draft came from the answer cache (it already passed reflection once)."""
    prompt_version: str
    model: str | None
