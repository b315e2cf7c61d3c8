"""Run lifecycle: one run at a time per thread, multitask strategies, buffered events."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import StreamMode

from agent.assistant import Graph
from agent.context import RunContext
from agent.metrics import ERRORS, RUNS, TTFT
from agent.telemetry import RunTelemetry
from api.admission import Admission, Slot
from api.db import utcnow
from api.events import RETENTION_S, EventBuffer
from api.run_store import RunStore
from api.serde import dumps
from api.thread_locks import LocalThreadLocks, ThreadLocks

logger = logging.getLogger(__name__)

# Events that carry answer text, on the widget stream and the LangGraph-compatible one.
_TOKEN_EVENTS = frozenset({"token", "messages", "messages/partial"})

RunStatus = Literal["pending", "running", "success", "error", "interrupted", "timeout"]
Strategy = Literal["reject", "enqueue", "interrupt", "rollback"]
Adapter = Callable[[str, Any], list[tuple[str, Any]]]
Finisher = Callable[["RunRecord"], list[tuple[str, Any]]]


STORE_POLL_S = 1.0
"""How often a long-poll looks for runs other processes started (its own wake it at once)."""


def _newer_than(after: str | None, newest_first: list[str]) -> str | None:
    """The newest run id, if it is newer than ``after`` (which must be known, when given)."""
    if not newest_first or newest_first[0] == after:
        return None
    if after is not None and after not in newest_first:
        return None
    return newest_first[0]


def run_telemetry(context: RunContext) -> RunTelemetry:
    """Node timings and model usage for one run, priced from the settings."""
    settings = context.services.settings
    model = (context.model or settings.llm_model) if settings.llm_enabled else "none"
    return RunTelemetry(
        model, settings.llm_price_prompt_per_1k, settings.llm_price_completion_per_1k
    )


class BusyThreadError(Exception):
    """``multitask_strategy=reject`` and the thread already has a run in flight."""


class RunNotFoundError(LookupError):
    """No such run on this thread."""


@dataclass
class RunSpec:
    """Everything needed to execute a run, decided by the route handler."""

    thread_id: str
    graph_input: Any
    context: RunContext
    stream_modes: list[StreamMode]
    adapter: Adapter
    finisher: Finisher | None = None
    on_done: Callable[[RunRecord], Awaitable[None]] | None = None
    """Called after the stream closed (e.g. deleting a stateless run's thread)."""
    opening: Callable[[RunRecord], tuple[str, Any]] | None = None
    """First event; LangGraph clients expect ``metadata`` with the run id."""
    strategy: Strategy = "reject"
    assistant_id: str = "support"
    metadata: dict[str, Any] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    checkpoint_id: str | None = None


@dataclass
class RunRecord:
    """A run as the API reports it."""

    run_id: str
    thread_id: str
    assistant_id: str
    status: RunStatus
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: Strategy
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    start_checkpoint: str | None = None
    rolled_back: bool = False
    tenant: str = "demo"
    slot: Slot | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        """Pending or running."""
        return self.status in ("pending", "running")


class RunManager:
    """Executes runs as background tasks so a client disconnect never stops a run."""

    def __init__(
        self,
        graph: Graph,
        buffer: EventBuffer,
        store: RunStore | None = None,
        on_finish: Callable[[RunRecord], Awaitable[None]] | None = None,
        *,
        admission: Admission | None = None,
        locks: ThreadLocks | None = None,
        retention_s: float = RETENTION_S,
    ) -> None:
        self.graph = graph
        self.buffer = buffer
        self.store = store
        self.on_finish = on_finish
        self.admission = admission or Admission(max_running=64, max_queued=256, timeout_s=30.0)
        self.locks = locks or LocalThreadLocks()
        self.retention_s = retention_s
        self._started = asyncio.Condition()
        self._runs: dict[str, RunRecord] = {}
        self._by_thread: dict[str, dict[str, RunRecord]] = {}

    def get(self, thread_id: str, run_id: str) -> RunRecord:
        """A run of a thread; ``RunNotFoundError`` otherwise."""
        run = self._runs.get(run_id)
        if run is None or run.thread_id != thread_id or run.rolled_back:
            raise RunNotFoundError(run_id)
        return run

    def find(self, run_id: str) -> RunRecord:
        """A run by id alone (callers check the thread's visibility)."""
        run = self._runs.get(run_id)
        if run is None or run.rolled_back:
            raise RunNotFoundError(run_id)
        return run

    async def shutdown(self) -> None:
        """Cancel what is still running and wait for every task to finish its clean-up.

        A run whose status is already final may still be closing (storing its status,
        recording a handoff); the checkpointer must outlive that, so wait for it too.
        """
        for run in [r for r in self._runs.values() if r.active]:
            await self.cancel(run)
        pending = [r.task for r in self._runs.values() if r.task is not None and not r.task.done()]
        await asyncio.gather(*pending, return_exceptions=True)

    async def next_run(self, thread_id: str, after: str | None, timeout_s: float) -> str | None:
        """Wait (bounded) for a run on the thread newer than ``after``; returns its id.

        Runs started in this process wake the waiter at once; runs started by another
        worker or replica are found in the shared run store, checked every
        ``STORE_POLL_S`` while waiting.
        """
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            found = _newer_than(after, [r.run_id for r in self.of_thread(thread_id)])
            if found is None and self.store is not None:
                rows = await self.store.of_thread(thread_id)
                found = _newer_than(after, [str(r["run_id"]) for r in rows])
            remaining = deadline - asyncio.get_running_loop().time()
            if found is not None or remaining <= 0:
                return found
            async with self._started:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._started.wait(), min(remaining, STORE_POLL_S))

    def of_thread(self, thread_id: str) -> list[RunRecord]:
        """Runs of a thread this process still holds, newest first."""
        runs = self._by_thread.get(thread_id, {}).values()
        return sorted(
            (r for r in runs if not r.rolled_back), key=lambda r: r.created_at, reverse=True
        )

    def _remember(self, run: RunRecord) -> None:
        self._runs[run.run_id] = run
        self._by_thread.setdefault(run.thread_id, {})[run.run_id] = run

    def _forget(self, run: RunRecord) -> None:
        """Drop a finished run from memory; the run store keeps its record."""
        self._runs.pop(run.run_id, None)
        of_thread = self._by_thread.get(run.thread_id, {})
        of_thread.pop(run.run_id, None)
        if not of_thread:
            self._by_thread.pop(run.thread_id, None)

    def active_runs(self, thread_id: str) -> list[RunRecord]:
        """Runs of the thread still pending or running."""
        return [r for r in self.of_thread(thread_id) if r.active]

    async def start(self, spec: RunSpec) -> RunRecord:
        """Admit, apply the multitask strategy, then schedule; metadata is the first event.

        Admission comes first and may raise ``OverloadedError``: nothing is stored then.
        """
        active = self.active_runs(spec.thread_id)
        if active and spec.strategy == "reject":
            raise BusyThreadError(spec.thread_id)
        slot = await self.admission.admit()
        try:
            return await self._start_admitted(spec, slot)
        except BaseException:
            slot.release()
            raise

    async def _start_admitted(self, spec: RunSpec, slot: Slot) -> RunRecord:
        active = self.active_runs(spec.thread_id)
        if active and spec.strategy in ("interrupt", "rollback"):
            for run in active:
                await self.cancel(run, rollback=spec.strategy == "rollback")
            if spec.strategy == "rollback":
                spec.checkpoint_id = await self._rollback_target(active[-1])
        record = RunRecord(
            run_id=str(uuid.uuid4()),
            thread_id=spec.thread_id,
            assistant_id=spec.assistant_id,
            status="pending",
            metadata=spec.metadata,
            kwargs=spec.kwargs,
            multitask_strategy=spec.strategy,
            tenant=spec.context.tenant,
            slot=slot,
        )
        self._remember(record)
        async with self._started:
            self._started.notify_all()
        await self.buffer.open(record.run_id)
        event, data = (
            spec.opening(record)
            if spec.opening
            else ("metadata", {"run_id": record.run_id, "attempt": 1})
        )
        await self.buffer.publish(record.run_id, event, dumps(data))
        await self._persist(record)
        record.task = asyncio.create_task(self._execute(record, spec), name=f"run-{record.run_id}")
        return record

    async def _persist(self, run: RunRecord) -> None:
        if self.store is None:
            return
        if run.rolled_back:
            await self.store.remove(run.run_id)
            return
        await self.store.save(
            {
                "run_id": run.run_id,
                "thread_id": run.thread_id,
                "assistant_id": run.assistant_id,
                "status": run.status,
                "metadata": run.metadata,
                "kwargs": run.kwargs,
                "multitask_strategy": run.multitask_strategy,
                "error": run.error,
                "created_at": run.created_at,
                "updated_at": run.updated_at,
            }
        )

    async def _rollback_target(self, cancelled: RunRecord) -> str | None:
        if cancelled.start_checkpoint is None:
            checkpointer = self.graph.checkpointer
            if checkpointer is not None and not isinstance(checkpointer, bool):
                await checkpointer.adelete_thread(cancelled.thread_id)
        return cancelled.start_checkpoint

    async def cancel(self, run: RunRecord, *, rollback: bool = False) -> None:
        """Stop a run; with ``rollback`` it disappears and its work is discarded."""
        if run.task is not None and not run.task.done():
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
        if run.slot is not None:
            run.slot.release()  # a task cancelled before it started never reaches its clean-up
        if run.status in ("pending", "running"):
            self._finish(run, "interrupted")
        run.rolled_back = rollback
        await self._persist(run)

    async def wait(self, run: RunRecord) -> None:
        """Block until the run has finished."""
        if run.task is not None:
            await asyncio.gather(asyncio.shield(run.task), return_exceptions=True)

    def _finish(self, run: RunRecord, status: RunStatus, error: str | None = None) -> None:
        run.status = status
        run.error = error
        run.updated_at = utcnow()

    def _config(self, spec: RunSpec, telemetry: RunTelemetry) -> RunnableConfig:
        configurable: dict[str, Any] = {"thread_id": spec.thread_id}
        if spec.checkpoint_id:
            configurable["checkpoint_id"] = spec.checkpoint_id
        return {"configurable": configurable, "callbacks": [telemetry]}

    async def _execute(self, run: RunRecord, spec: RunSpec) -> None:
        try:
            async with self.locks.hold(spec.thread_id):
                run.status = "running"
                current = await self.graph.aget_state(
                    {"configurable": {"thread_id": spec.thread_id}}
                )
                run.start_checkpoint = (
                    (current.config or {}).get("configurable", {}).get("checkpoint_id")
                )
                await self._stream(run, spec)
                self._finish(run, "success")
        except asyncio.CancelledError:
            self._finish(run, "interrupted")
            raise
        except Exception as exc:  # a failed run reports a generic error, details go to logs
            logger.exception("run failed run_id=%s error=%s", run.run_id, type(exc).__name__)
            ERRORS.labels(type="run_failed").inc()
            self._finish(run, "error", type(exc).__name__)
            await self.buffer.publish(
                run.run_id,
                "error",
                dumps({"error": "internal_error", "message": "The run failed."}),
            )
        finally:
            await self._close(run, spec)

    async def _stream(self, run: RunRecord, spec: RunSpec) -> None:
        first_token = True
        telemetry = run_telemetry(spec.context)
        async for mode, chunk in self.graph.astream(
            spec.graph_input,
            self._config(spec, telemetry),
            context=spec.context,
            stream_mode=spec.stream_modes,
        ):
            for event, data in spec.adapter(mode, chunk):
                if first_token and event in _TOKEN_EVENTS:
                    first_token = False
                    TTFT.observe((utcnow() - run.created_at).total_seconds())
                await self.buffer.publish(run.run_id, event, dumps(data))
        telemetry.finish()

    async def _close(self, run: RunRecord, spec: RunSpec) -> None:
        # Order matters: clients treat the stream's end as "done", so every side effect
        # (stored status, final events, clean-up) happens before the buffer closes.
        RUNS.labels(outcome=run.status).inc()
        try:
            await self._persist(run)
            if self.on_finish is not None:
                await self.on_finish(run)
            if spec.finisher is not None:
                for event, data in spec.finisher(run):
                    await self.buffer.publish(run.run_id, event, dumps(data))
            if spec.on_done is not None:
                await spec.on_done(run)
        finally:
            await self.buffer.close(run.run_id)
            if run.slot is not None:
                run.slot.release((utcnow() - run.created_at).total_seconds())
            if self.store is not None:
                # Kept as long as its events are, for joins; then only the store has it, so a
                # long-running process does not grow with every run it ever served.
                asyncio.get_running_loop().call_later(self.retention_s, self._forget, run)
