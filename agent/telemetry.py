"""Per-run telemetry from LangChain callbacks: node latency, model tokens and estimated cost.

A callback handler needs no change to the nodes or the graph wiring; it is passed with each
run's config. It runs inline (no thread hop) and records only names and numbers.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from agent.metrics import LLM_COST, LLM_TOKENS, NODE_DURATION, QUERY_COST


class RunTelemetry(BaseCallbackHandler):
    """One per run: times graph nodes and adds up the run's model usage."""

    run_inline = True

    def __init__(self, model: str, prompt_price_per_1k: float, completion_price_per_1k: float):
        self.model = model
        self._prices = (prompt_price_per_1k, completion_price_per_1k)
        self._started: dict[UUID, tuple[str, float]] = {}
        self.cost_usd = 0.0
        self.tokens = 0

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start the clock when a graph node (not a chain inside one) begins."""
        node = (metadata or {}).get("langgraph_node")
        if node and kwargs.get("name") == node:
            self._started[run_id] = (str(node), time.perf_counter())

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the node's duration."""
        self._stop(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Failed and interrupted nodes count too (``interrupt()`` raises)."""
        self._stop(run_id)

    def _stop(self, run_id: UUID) -> None:
        started = self._started.pop(run_id, None)
        if started is not None:
            node, at = started
            NODE_DURATION.labels(node=node).observe(time.perf_counter() - at)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Tokens from the provider's usage report; cost from the configured prices."""
        prompt, completion = _usage(response)
        if prompt or completion:
            LLM_TOKENS.labels(model=self.model, kind="prompt").inc(prompt)
            LLM_TOKENS.labels(model=self.model, kind="completion").inc(completion)
            cost = (prompt * self._prices[0] + completion * self._prices[1]) / 1000
            LLM_COST.labels(model=self.model).inc(cost)
            self.cost_usd += cost
            self.tokens += prompt + completion

    def finish(self) -> None:
        """Record the run's total model cost (0 for runs answered without a model)."""
        QUERY_COST.observe(self.cost_usd)


def _usage(response: LLMResult) -> tuple[int, int]:
    for generations in response.generations:
        for generation in generations:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    report = (response.llm_output or {}).get("token_usage") or {}
    return int(report.get("prompt_tokens", 0)), int(report.get("completion_tokens", 0))
