"""Closed-loop SSE clients: N workers, each sending its next run as soon as one ends."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.load import percentiles


@dataclass(frozen=True)
class RunSpec:
    """How one run is sent to one target, as a real client of that API would send it."""

    path: str
    """Stream path; ``{thread_id}`` is filled with a new thread per run."""
    body: Mapping[str, Any]
    headers: Callable[[], dict[str, str]] = dict
    """Called per run (the widget mints a fresh end-user token, as a store's page would)."""
    create_thread: bool = False
    """``POST /threads`` first (LangGraph APIs); otherwise the client picks the thread id."""
    answer_event: str = "messages"
    """The SSE event that carries answer text."""
    answer_node: str | None = None
    """For ``messages``: only chunks from this node count as answer tokens (not routing)."""


@dataclass
class RunResult:
    """One run as the client saw it; times in seconds from sending the stream request."""

    status: int | None = None
    error: str | None = None
    first_event: float | None = None
    first_token: float | None = None
    total: float | None = None
    token_events: int = 0
    events: int = 0
    bytes: int = 0
    finished_at: float = 0.0

    @property
    def ok(self) -> bool:
        """A 200, no error event, and at least one answer token."""
        return self.error is None and self.status == 200 and self.first_token is not None


@dataclass
class _Stream:
    """Parser state for one SSE response."""

    spec: RunSpec
    result: RunResult
    started: float
    event: str = ""

    def line(self, text: str) -> None:
        if text.startswith("event:"):
            self.event = text[6:].strip()
        elif text.startswith("data:") and self.event:
            self._data(text[5:].strip())
        elif not text and self.event:
            self.result.events += 1
            self.event = ""

    def _data(self, data: str) -> None:
        result = self.result
        if result.first_event is None:
            result.first_event = time.perf_counter() - self.started
        if self.event == "error":
            result.error = "error_event"
        elif self.event == self.spec.answer_event and self._is_answer(data):
            result.token_events += 1
            if result.first_token is None:
                result.first_token = time.perf_counter() - self.started

    def _is_answer(self, data: str) -> bool:
        node = self.spec.answer_node
        if node is None:
            return True
        if self.result.first_token is not None:
            return f'"langgraph_node":"{node}"' in data  # cheap after the first token
        message, metadata = json.loads(data)
        return bool(metadata.get("langgraph_node") == node and message.get("content"))


async def _thread_id(client: httpx.AsyncClient, spec: RunSpec, headers: dict[str, str]) -> str:
    if not spec.create_thread:
        return str(uuid.uuid4())
    response = await client.post("/threads", json={}, headers=headers)
    response.raise_for_status()
    thread_id: str = response.json()["thread_id"]
    return thread_id


async def one_run(client: httpx.AsyncClient, spec: RunSpec, limit_s: float) -> RunResult:
    """Create a thread if the API wants one, stream the run to its end within ``limit_s``."""
    result = RunResult()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_s):
            headers = spec.headers()
            path = spec.path.format(thread_id=await _thread_id(client, spec, headers))
            started = time.perf_counter()
            async with client.stream("POST", path, json=spec.body, headers=headers) as response:
                result.status = response.status_code
                stream = _Stream(spec, result, started)
                async for text in response.aiter_lines():
                    stream.line(text)
                result.bytes = response.num_bytes_downloaded
        if result.status != 200:
            result.error = f"http_{result.status}"
        elif result.error is None and result.first_token is None:
            result.error = "no_answer_token"
    except TimeoutError:
        result.error = "timeout"
    except httpx.HTTPError as exc:
        result.error = type(exc).__name__
    result.total = time.perf_counter() - started
    result.finished_at = time.perf_counter()
    return result


@dataclass
class LevelRun:
    """The client side of one level: N workers until the time or the run budget is spent."""

    clients: int
    duration_s: float
    max_runs: int
    limit_s: float
    results: list[RunResult] = field(default_factory=list)
    started: int = 0

    async def run(self, client: httpx.AsyncClient, spec: RunSpec) -> float:
        """Run the level; returns its start time (``perf_counter``)."""
        start = time.perf_counter()
        deadline = start + self.duration_s

        async def worker() -> None:
            while time.perf_counter() < deadline and self.started < self.max_runs:
                self.started += 1
                self.results.append(await one_run(client, spec, self.limit_s))

        await asyncio.gather(*(worker() for _ in range(self.clients)))
        return start


def ms_percentiles(values: list[float]) -> dict[str, float | None]:
    """Nearest-rank p50, p95 and p99 of seconds, in milliseconds."""
    return {k: None if v is None else 1000 * v for k, v in percentiles(values).items()}


def summarise(level: LevelRun, start: float) -> dict[str, Any]:
    """Client-side numbers of one level (server CPU and memory are added by the caller)."""
    ok = [r for r in level.results if r.ok]
    span = max((r.finished_at for r in level.results), default=start) - start
    return {
        "clients": level.clients,
        "runs": len(level.results),
        "ok": len(ok),
        "errors": len(level.results) - len(ok),
        "error_reasons": dict(Counter(r.error or "no_answer" for r in level.results if not r.ok)),
        "span_s": span,
        "runs_per_s": len(ok) / span if span > 0 else 0.0,
        "first_event_ms": ms_percentiles([r.first_event for r in ok if r.first_event is not None]),
        "first_token_ms": ms_percentiles([r.first_token for r in ok if r.first_token is not None]),
        "full_run_ms": ms_percentiles([r.total for r in ok if r.total is not None]),
        "bytes_per_run": sum(r.bytes for r in ok) / len(ok) if ok else None,
        "events_per_run": sum(r.events for r in ok) / len(ok) if ok else None,
        "token_events_per_run": sum(r.token_events for r in ok) / len(ok) if ok else None,
    }
