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
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
