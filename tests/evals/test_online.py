"""The sampled online score: one production turn without expectations, and the rolling mean."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from prometheus_client import REGISTRY

from agent.assistant import Assistant
from agent.evals.online import RollingScore, feedback_value, score_turn
from agent.metrics import EVAL_SCORE
from agent.services import Services
from graphs.support import build_graph

CITED = [{"id": "refunds-and-timing:9e9f859ed7bc2497", "title": "Refunds"}]


def turn(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "route": "knowledge",
        "answer": "Refunds take 5 to 7 business days.",
        "citations": CITED,
        "llm_fallbacks": [],
        "escalated": False,
        "blocked": False,
    }
    return {**base, **values}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (turn(), 1.0),
        (turn(llm_fallbacks=["generate:llm_timeout"]), 0.5),
        (turn(citations=[]), 0.0),
        (turn(escalated=True, handoff_reason="reflection:low_confidence"), 0.5),
        (turn(escalated=True, handoff_reason="output_guard:foreign_pii"), 0.0),
        (turn(escalated=True, handoff_reason="customer_requested_human"), None),
        (turn(escalated=True, handoff_reason="tool_unavailable"), None),
        (turn(route="blocked", blocked=True), None),
        (turn(route="out_of_scope", citations=[]), None),
        (turn(answer=""), None),
        ({}, None),
        (
            turn(route="order_status", citations=[], tool_results=[{"status": "not_found"}]),
            None,
        ),
        (
            turn(
                route="order_status",
                citations=[{"id": "tool:lookup_order:#W2611340", "title": "Order"}],
                tool_results=[{"status": "ok"}],
            ),
            1.0,
        ),
    ],
    ids=[
        "grounded",
        "degraded",
        "uncited",
        "self_check_handoff",
        "output_guard_handoff",
        "asked_for_human",
        "tool_outage",
        "blocked",
        "scope_reply",
        "unfinished",
        "empty",
        "order_not_found",
        "order_answered",
    ],
)
def test_score_turn(state: dict[str, Any], expected: float | None) -> None:
    assert score_turn(state) == expected


async def test_score_turn_reads_real_graph_state(services: Services) -> None:
    assistant = Assistant(build_graph().compile(checkpointer=InMemorySaver()), services)
    answered = await assistant.ask("How long does a refund take if I paid with PayPal?")
    snapshot = await assistant.graph.aget_state({"configurable": {"thread_id": answered.thread_id}})
    assert score_turn(snapshot.values) == 1.0


def test_rolling_score_keeps_a_window_and_reports_each_mean() -> None:
    seen: list[float] = []
    rolling = RollingScore(window=3, on_update=seen.append)
    assert rolling.mean is None
    for value in (1.0, 0.0, None, 1.0, 1.0):
        rolling.add(value)
    assert len(rolling) == 3  # None is ignored, the oldest value fell out
    assert rolling.mean == pytest.approx(2 / 3)
    assert seen == pytest.approx([1.0, 0.5, 2 / 3, 2 / 3])


def test_rolling_score_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        RollingScore().add(1.5)
    with pytest.raises(ValueError, match="window"):
        RollingScore(window=0)


def test_feedback_feeds_the_online_gauge() -> None:
    gauge = EVAL_SCORE.labels(source="online")
    rolling = RollingScore(window=10, on_update=gauge.set)
    for kind in ("thumbs_up", "thumbs_down", "edit", "accept"):
        rolling.add(feedback_value(kind))
    assert feedback_value("no_such_kind") is None
    assert rolling.mean == pytest.approx(2.5 / 4)
    assert REGISTRY.get_sample_value(
        "supportflow_eval_score", {"source": "online"}
    ) == pytest.approx(2.5 / 4)
