"""Prometheus metrics: bounded labels only (route templates, codes, reasons; never ids or text).

Metrics live in the default registry, as prometheus-client intends; with several worker
processes, ``PROMETHEUS_MULTIPROC_DIR`` makes ``/metrics`` aggregate them all.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)

REQUEST_DURATION = Histogram(
    "supportflow_request_duration_seconds",
    "HTTP request latency (for streams: until the response body is complete).",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
TTFT = Histogram(
    "supportflow_ttft_seconds",
    "Time from accepting a widget turn to its first answer token.",
    buckets=_LATENCY_BUCKETS,
)
RUNS_IN_FLIGHT = Gauge(
    "supportflow_runs_in_flight",
    "Graph runs executing now.",
    multiprocess_mode="livesum",
)
QUEUE_DEPTH = Gauge(
    "supportflow_queue_depth",
    "Requests waiting in the admission queue for a run slot.",
    multiprocess_mode="livesum",
)
QUEUE_WAIT = Histogram(
    "supportflow_queue_wait_seconds",
    "Time an admitted request waited for a run slot.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
SHED = Counter(
    "supportflow_shed_total",
    "Requests refused with 503 + Retry-After before anything was stored.",
    ["reason"],
)
LLM_IN_FLIGHT = Gauge(
    "supportflow_llm_calls_in_flight",
    "Model calls in flight.",
    multiprocess_mode="livesum",
)
CACHE = Counter(
    "supportflow_cache_requests_total",
    "Cache lookups by cache and result (hit, miss, error).",
    ["cache", "result"],
)
CACHE_HITS = Counter("supportflow_cache_hits_total", "Cache hits by cache.", ["cache"])
DEGRADED = Counter(
    "supportflow_degraded_total",
    "Times a shared backend failed and the process fell back to in-process state.",
    ["component"],
)


def record_cache(cache: str, result: str) -> None:
    """Count one cache lookup (``hit``, ``miss`` or ``error``)."""
    CACHE.labels(cache=cache, result=result).inc()
    if result == "hit":
        CACHE_HITS.labels(cache=cache).inc()


def exposition() -> tuple[bytes, str]:
    """The text format for ``/metrics``, aggregated over workers when running several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        # CPU and memory of the worker that answers the scrape (the others' are not shared).
        ProcessCollector(registry=registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


# Operating the assistant: per-node cost, outcomes, guards, model usage, feedback, rollout,
# evals. Labels are closed sets (node names, reason codes, model names from configuration).
NODE_DURATION = Histogram(
    "supportflow_node_duration_seconds",
    "Time spent in each graph node.",
    ["node"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
RUNS = Counter(
    "supportflow_runs_total",
    "Finished graph runs by status (success, error, interrupted); handoffs and blocks have"
    " their own counters.",
    ["outcome"],
)
ERRORS = Counter(
    "supportflow_errors_total",
    "Failures by type: run errors, model fallbacks, backend and storage errors.",
    ["type"],
)
GUARD_VERDICTS = Counter(
    "supportflow_guard_verdicts_total",
    "Guard decisions (input and output guards).",
    ["guard", "verdict"],
)
REFLECTION_REVIEWS = Counter(
    "supportflow_reflection_reviews_total",
    "Drafts that passed the deterministic checks, by whether the model reviewed them (model)"
    " or the evidence made the review unnecessary (skipped_assured).",
    ["review"],
)
EARLY_RELEASE = Counter(
    "supportflow_early_release_total",
    "Drafts whose sentences reached the customer while the model wrote them (released), and"
    " those later withdrawn from the widget (retracted: rejected by reflection, a failed model"
    " call, or a draft that no longer matched what was sent).",
    ["outcome"],
)
ESCALATIONS = Counter(
    "supportflow_escalations_total",
    "Handoffs to a human by reason code.",
    ["reason"],
)
LLM_TOKENS = Counter(
    "supportflow_llm_tokens_total",
    "Model tokens by direction (prompt, completion) and configured model name.",
    ["model", "kind"],
)
LLM_COST = Counter(
    "supportflow_llm_cost_usd_total",
    "Estimated model spend in US dollars (configured per-token prices).",
    ["model"],
)
QUERY_COST = Histogram(
    "supportflow_query_cost_usd",
    "Estimated model spend per customer query.",
    buckets=(0, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
FEEDBACK = Counter(
    "supportflow_feedback_total",
    "Agent feedback on drafts and answers by kind.",
    ["kind"],
)
ROLLOUT_DECISIONS = Counter(
    "supportflow_rollout_decisions_total",
    "Rollout decisions for customer runs by result (on, rollout, kill_switch).",
    ["flag", "result"],
)
ROLLOUT_PERCENT = Gauge(
    "supportflow_rollout_percent",
    "Configured rollout percentage per flag (0 when killed).",
    ["flag"],
    multiprocess_mode="max",
)
EVAL_SCORE = Gauge(
    "supportflow_eval_score",
    "Eval score (0-1): offline golden-set runs and sampled production runs.",
    ["source"],
    multiprocess_mode="max",
)
EVAL_BASELINE = Gauge(
    "supportflow_eval_score_baseline",
    "The stored eval baseline the score is compared against.",
    multiprocess_mode="max",
)
