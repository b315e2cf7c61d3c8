"""Run golden cases through a freshly compiled graph (in-memory checkpoints) and score them."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

import prompts
from agent.assistant import AskResult, Assistant
from agent.cache import AnswerCache
from agent.errors import SupportFlowError
from agent.evals.cases import EvalError, GoldenCase
from agent.evals.models import CaseResult, EvalReport, Metrics, Observed, RunSettings
from agent.evals.scoring import WEIGHTS, case_reasons, compute_metrics, overall_score
from agent.services import Services
from agent.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
CaseSink = Callable[[CaseResult], None]


@dataclasses.dataclass(frozen=True, slots=True)
class EvalOptions:
    """Per-run overrides (``RunContext``) and how the run is carried out."""

    prompt_version: str | None = None
    """``None`` uses the configured version."""
    model: str | None = None
    """Model override; needs a configured endpoint."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Cases in flight at once."""
    cases: str = "*"
    """The selection, recorded in the report."""


def validate_options(settings: Settings, options: EvalOptions) -> str:
    """Refuse what the run cannot honour, before any case starts; returns the prompt version."""
    version = options.prompt_version or settings.prompt_version
    available = prompts.available_versions()
    if version not in available:
        raise EvalError(f"unknown prompt version {version!r}; available: {', '.join(available)}")
    if options.model and not settings.llm_enabled:
        raise EvalError(
            "--model needs a model endpoint (SUPPORTFLOW_LLM_BASE_URL); "
            "the deterministic profile has none"
        )
    if options.concurrency < 1:
        raise EvalError("concurrency must be at least 1")
    return version


def sources(values: dict[str, Any]) -> list[str]:
    """Citation ids this turn may use: retrieved passages and tools that returned data."""
    ids = [p["id"] for p in values.get("passages", [])]
    for result in values.get("tool_results", []):
        if result["status"] != "ok":
            continue
        if result["name"] == "get_account_status":
            ids.append("tool:get_account_status")
            continue
        ids.append("tool:lookup_order")
        ids += [f"tool:lookup_order:{o['order_id']}" for o in result["data"] or []]
    return ids


async def observe(assistant: Assistant, result: AskResult) -> Observed:
    """The customer-visible result plus what the trace knows (sources, handoff reason)."""
    snapshot = await assistant.graph.aget_state({"configurable": {"thread_id": result.thread_id}})
    values: dict[str, Any] = dict(snapshot.values)
    waiting = [i.value for i in snapshot.interrupts]
    reason = waiting[0].get("reason", "") if waiting else values.get("handoff_reason", "")
    return Observed(
        route=result.route,
        tool_calls=result.tool_calls,
        citations=result.citations,
        escalated=result.escalated,
        blocked=result.blocked,
        answer=result.answer,
        sources=sources(values),
        handoff_reason=str(reason) if result.escalated else "",
        llm_fallbacks=values.get("llm_fallbacks", []),
    )


async def converse(assistant: Assistant, case: GoldenCase, **overrides: Any) -> Observed:
    """Every turn of the case on one thread; the last turn is the one scored."""
    thread_id = f"eval-{case.id}"
    result: AskResult | None = None
    for text in case.turns:
        result = await assistant.ask(
            text, customer_id=case.customer, thread_id=thread_id, **overrides
        )
    assert result is not None  # a case has at least one turn
    return await observe(assistant, result)


async def run_case(assistant: Assistant, case: GoldenCase, **overrides: Any) -> CaseResult:
    """Run and judge one case; an error is recorded as the case's failure, not raised."""
    started = time.perf_counter()
    try:
        observed = await converse(assistant, case, **overrides)
    except SupportFlowError as exc:
        observed = Observed(error=exc.code)
    except Exception as exc:  # a crash is a product failure to report, not a reason to stop
        logger.warning("eval case crashed id=%s error=%s", case.id, type(exc).__name__)
        observed = Observed(error=type(exc).__name__)
    reasons = case_reasons(case, observed)
    return CaseResult(
        id=case.id,
        category=case.category,
        passed=not reasons,
        reasons=reasons,
        observed=observed,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def fingerprint(cases: Sequence[GoldenCase]) -> str:
    """A short hash of the cases' content (ids, turns, expectations)."""
    text = "\n".join(c.model_dump_json() for c in cases)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_settings(
    settings: Settings, version: str, options: EvalOptions, cases: Sequence[GoldenCase]
) -> RunSettings:
    """The settings a report records."""
    llm = settings.llm_enabled
    return RunSettings(
        profile="llm" if llm else "deterministic",
        model=(options.model or settings.llm_model) if llm else None,
        prompt_version=version,
        tenant=settings.tenant,
        orders_backend=settings.orders_backend,
        vector_store=settings.vector_store,
        cases=options.cases,
        case_count=len(cases),
        golden_sha256=fingerprint(cases),
        concurrency=options.concurrency,
        retrieval_k=settings.retrieval_k,
        min_retrieval_similarity=settings.min_retrieval_similarity,
        guard_flag_at=settings.guard_flag_at,
        guard_block_at=settings.guard_block_at,
    )


def rounded(metrics: Metrics, digits: int = 4) -> Metrics:
    """Metrics rounded for reading and diffing."""
    values = metrics.model_dump()
    return Metrics(**{k: None if v is None else round(v, digits) for k, v in values.items()})


async def run_eval(
    services: Services,
    cases: Sequence[GoldenCase],
    options: EvalOptions | None = None,
    on_case: CaseSink | None = None,
) -> EvalReport:
    """Every case through one compiled graph, ``concurrency`` at a time, scored."""
    from graphs.support import build_graph  # graphs import agent.nodes; keep this module light

    options = options or EvalOptions()
    version = validate_options(services.settings, options)
    # The eval measures the graph: a shared answer cache would replay earlier answers.
    services = dataclasses.replace(services, answers=AnswerCache(None, 0))
    assistant = Assistant(build_graph().compile(checkpointer=InMemorySaver()), services)
    gate = asyncio.Semaphore(options.concurrency)

    async def bounded(case: GoldenCase) -> CaseResult:
        async with gate:
            result = await run_case(assistant, case, prompt_version=version, model=options.model)
        if on_case is not None:
            on_case(result)
        return result

    started = time.perf_counter()
    results = await asyncio.gather(*(bounded(c) for c in cases))
    metrics = compute_metrics([(c, r.observed) for c, r in zip(cases, results, strict=True)])
    passed = sum(r.passed for r in results)
    return EvalReport(
        created_at=datetime.now(UTC),
        settings=run_settings(services.settings, version, options, cases),
        weights=dict(WEIGHTS),
        metrics=rounded(metrics),
        overall=round(overall_score(metrics), 4),
        passed=passed,
        failed=len(results) - passed,
        duration_s=round(time.perf_counter() - started, 2),
        cases=list(results),
    )
