"""The eval's data: what a case's run produced, per-case verdicts, metrics and the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from agent.state import Citation, Route, ToolCall


class Observed(BaseModel):
    """The final turn of a case as the customer (and the trace) saw it."""

    route: Route | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    escalated: bool = False
    blocked: bool = False
    answer: str = ""
    sources: list[str] = Field(default_factory=list)
    """Ids a citation may name: the retrieved passages and the tools that returned data."""
    handoff_reason: str = ""
    llm_fallbacks: list[str] = Field(default_factory=list)
    error: str | None = None
    """Error code when the run raised instead of answering (a product failure)."""


class CaseResult(BaseModel):
    """One case's verdict; ``reasons`` is empty exactly when it passed."""

    id: str
    category: str
    passed: bool
    reasons: list[str]
    observed: Observed
    duration_ms: float


class Metrics(BaseModel):
    """Aggregate scores in 0-1; ``None`` when no selected case exercises the metric."""

    routing_accuracy: float | None = None
    tool_precision: float | None = None
    tool_recall: float | None = None
    tool_f1: float | None = None
    tool_exact: float | None = None
    """Share of cases whose tool calls match exactly (name, args, count)."""
    escalation_precision: float | None = None
    escalation_recall: float | None = None
    escalation_f1: float | None = None
    groundedness: float | None = None
    citation_hit_rate: float | None = None
    guard_precision: float | None = None
    guard_recall: float | None = None
    guard_f1: float | None = None
    pass_rate: float | None = None


class RunSettings(BaseModel):
    """What was evaluated: enough to reproduce the run."""

    profile: str
    """``deterministic`` (no model) or ``llm``."""
    model: str | None
    prompt_version: str
    tenant: str
    orders_backend: str
    vector_store: str
    cases: str
    """The ``--cases`` selection (``*`` for the whole golden set)."""
    case_count: int
    golden_sha256: str
    """Fingerprint of the selected cases: a baseline only compares with the same set."""
    concurrency: int
    retrieval_k: int
    min_retrieval_similarity: float
    guard_flag_at: float
    guard_block_at: float


class EvalReport(BaseModel):
    """A full run: settings, weights, metrics, the overall score and every case."""

    created_at: datetime
    settings: RunSettings
    weights: dict[str, float]
    metrics: Metrics
    overall: float
    passed: int
    failed: int
    duration_s: float
    cases: list[CaseResult]

    def failing(self) -> list[CaseResult]:
        """The cases that did not pass, in golden-set order."""
        return [c for c in self.cases if not c.passed]


class Baseline(BaseModel):
    """A stored reference run (a full report validates as one too: extra keys are ignored)."""

    created_at: datetime
    settings: RunSettings
    weights: dict[str, float]
    metrics: Metrics
    overall: float
    failing: list[str] = Field(default_factory=list)
    """Ids of the cases that failed in the baseline run (known product failures)."""

    @model_validator(mode="before")
    @classmethod
    def _failing_from_cases(cls, data: Any) -> Any:
        """A full report lists cases instead of failing ids."""
        if isinstance(data, dict) and "failing" not in data and isinstance(data.get("cases"), list):
            failing = [
                c.get("id") for c in data["cases"] if isinstance(c, dict) and not c.get("passed")
            ]
            return {**data, "failing": failing}
        return data

    @classmethod
    def from_report(cls, report: EvalReport) -> Baseline:
        """The summary of a report worth committing."""
        return cls(
            created_at=report.created_at,
            settings=report.settings,
            weights=report.weights,
            metrics=report.metrics,
            overall=report.overall,
            failing=[c.id for c in report.failing()],
        )


class MetricDelta(BaseModel):
    """One row of the comparison with a baseline."""

    metric: str
    value: float | None
    baseline: float | None
    delta: float | None
