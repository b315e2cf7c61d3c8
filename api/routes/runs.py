"""Runs: stream, create, read, join, cancel — one run at a time per thread."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from langgraph.types import Command
from sse_starlette import EventSourceResponse

from agent.context import RunContext
from api.auth import Principal
from api.deps import AppResources, ResourcesDep, StaffDep
from api.errors import error
from api.lg_format import LangGraphAdapter, run_record
from api.routes.assistants import resolve_assistant
from api.routes.threads import thread_json
from api.run_context import run_context as flagged_context
from api.runs import RunNotFoundError, RunRecord, RunSpec
from api.schemas import SUPPORTED_MODES, RunCreate
from api.sse import stream_response

router = APIRouter(tags=["runs"])
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]


class BadRunRequest(Exception):
    """A run request that cannot be served as asked (422)."""


def graph_input(body: RunCreate) -> Any:
    """``input`` or ``command`` (exactly one, or neither to continue from a checkpoint)."""
    if body.input is not None and body.command is not None:
        raise BadRunRequest("send either input or command, not both")
    if body.command is not None:
        cmd = body.command
        return Command(resume=cmd.resume, update=cmd.update, goto=cmd.goto or ())
    return body.input


def run_context(body: RunCreate, who: Principal, res: AppResources, thread_id: str) -> RunContext:
    """Staff may run as any customer of their tenant (replay, testing) via ``context``."""
    ctx = body.context or {}
    customer = ctx.get("customer_id")
    return flagged_context(
        res,
        who.tenant,
        str(customer) if customer else None,
        thread_id,
        prompt_version=str(ctx["prompt_version"]) if ctx.get("prompt_version") else None,
        model=str(ctx["model"]) if ctx.get("model") else None,
    )


async def ensure_thread(thread_id: str, body: RunCreate, who: Principal, res: AppResources) -> None:
    """404 unless the thread exists or ``if_not_exists=create``."""
    if await res.threads.find(thread_id, who.tenant) is None:
        if body.if_not_exists != "create":
            await res.threads.get(thread_id, who.tenant)
        await res.threads.create(thread_id, who.tenant, None, {})


async def start_run(
    thread_id: str,
    body: RunCreate,
    who: Principal,
    res: AppResources,
    on_done: Callable[[RunRecord], Awaitable[None]] | None = None,
) -> RunRecord:
    """Validate the request and hand the run to the manager."""
    if resolve_assistant(body.assistant_id) is None:
        raise BadRunRequest(f"unknown assistant {body.assistant_id!r}")
    unsupported = [m for m in body.modes() if m not in SUPPORTED_MODES]
    if unsupported:
        raise BadRunRequest(f"unsupported stream_mode {unsupported}; use {sorted(SUPPORTED_MODES)}")
    await ensure_thread(thread_id, body, who, res)
    adapter = LangGraphAdapter(body.modes())
    spec = RunSpec(
        thread_id=thread_id,
        graph_input=graph_input(body),
        context=run_context(body, who, res, thread_id),
        stream_modes=adapter.graph_modes,
        adapter=adapter,
        strategy=body.multitask_strategy,
        assistant_id=resolve_assistant(body.assistant_id) or body.assistant_id,
        metadata=body.metadata,
        checkpoint_id=body.target_checkpoint(),
        kwargs={"stream_mode": body.modes(), "context": body.context or {}},
        on_done=on_done,
    )
    run = await res.runs.start(spec)
    await res.threads.touch(thread_id)
    return run


async def stream_run(
    thread_id: str,
    body: RunCreate,
    who: Principal,
    res: AppResources,
    on_done: Callable[[RunRecord], Awaitable[None]] | None = None,
) -> Response:
    """Start a run and stream it; ``Location`` lets the SDK rejoin with ``Last-Event-ID``."""
    try:
        run = await start_run(thread_id, body, who, res, on_done)
    except BadRunRequest as exc:
        return error(422, "invalid_run", str(exc))
    join = f"/threads/{thread_id}/runs/{run.run_id}/stream"

    async def cancel() -> None:
        await res.runs.cancel(run)

    return await stream_response(
        res.runs.buffer,
        run.run_id,
        headers={"Location": join, "Content-Location": f"/threads/{thread_id}/runs/{run.run_id}"},
        on_disconnect=cancel if body.on_disconnect == "cancel" else None,
    )


@router.post("/threads/{thread_id}/runs/stream", response_class=EventSourceResponse)
async def stream_thread_run(
    thread_id: str, body: RunCreate, who: StaffDep, res: ResourcesDep
) -> Response:
    """Create a run on a thread and stream its events."""
    return await stream_run(thread_id, body, who, res)


@router.post("/runs/stream", response_class=EventSourceResponse)
async def stream_stateless_run(body: RunCreate, who: StaffDep, res: ResourcesDep) -> Response:
    """A run on a fresh thread, deleted when the run ends unless ``on_completion=keep``."""
    body.if_not_exists = "create"
    thread_id = str(uuid.uuid4())
    await res.threads.create(thread_id, who.tenant, None, {"stateless": True})
    on_done = _deleter(res) if body.on_completion == "delete" else None
    return await stream_run(thread_id, body, who, res, on_done)


def _deleter(res: AppResources) -> Callable[[RunRecord], Awaitable[None]]:
    """Delete a stateless run's thread (checkpoints and records) once its stream closed."""

    async def delete(run: RunRecord) -> None:
        checkpointer = res.runs.graph.checkpointer
        if checkpointer is not None and not isinstance(checkpointer, bool):
            await checkpointer.adelete_thread(run.thread_id)
        if res.runs.store is not None:
            await res.runs.store.remove_thread(run.thread_id)

    return delete


@router.post("/threads/{thread_id}/runs", response_model=None)
async def create_run(
    thread_id: str, body: RunCreate, who: StaffDep, res: ResourcesDep
) -> dict[str, Any] | Response:
    """Create a background run; its events can be joined later."""
    try:
        run = await start_run(thread_id, body, who, res)
    except BadRunRequest as exc:
        return error(422, "invalid_run", str(exc))
    path = f"/threads/{thread_id}/runs/{run.run_id}"
    return JSONResponse(run_record(run), headers={"Content-Location": path})


@router.get("/threads/{thread_id}/runs")
async def list_runs(thread_id: str, who: StaffDep, res: ResourcesDep) -> list[dict[str, Any]]:
    """Runs of a thread, newest first (live ones, then those stored by earlier processes)."""
    await res.threads.get(thread_id, who.tenant)
    live = {r.run_id: run_record(r) for r in res.runs.of_thread(thread_id)}
    stored = await res.runs.store.of_thread(thread_id) if res.runs.store else []
    merged = {**{r["run_id"]: run_record(r) for r in stored}, **live}
    return sorted(merged.values(), key=lambda r: str(r["created_at"]), reverse=True)


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: str, run_id: str, who: StaffDep, res: ResourcesDep) -> dict[str, Any]:
    """One run, live or stored."""
    await res.threads.get(thread_id, who.tenant)
    try:
        return run_record(res.runs.get(thread_id, run_id))
    except RunNotFoundError:
        row = await res.runs.store.get(thread_id, run_id) if res.runs.store else None
        if row is None:
            raise
        return run_record(row)


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(thread_id: str, run_id: str, who: StaffDep, res: ResourcesDep) -> dict[str, Any]:
    """Wait for the run to finish; returns the thread's values."""
    row = await res.threads.get(thread_id, who.tenant)
    try:
        await res.runs.wait(res.runs.get(thread_id, run_id))
    except RunNotFoundError:  # finished long ago: only the run store still has it
        if not (res.runs.store and await res.runs.store.get(thread_id, run_id)):
            raise
    thread: dict[str, Any] = await thread_json(res, row)
    values: dict[str, Any] = thread["values"]
    return values


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_class=EventSourceResponse)
async def join_stream(
    thread_id: str,
    run_id: str,
    who: StaffDep,
    res: ResourcesDep,
    last_event_id: LastEventId = None,
    cancel_on_disconnect: bool = False,
    stream_mode: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    """Rejoin a run's stream: the events after ``Last-Event-ID``, then the live tail."""
    await res.threads.get(thread_id, who.tenant)
    run = res.runs.get(thread_id, run_id)

    async def cancel() -> None:
        await res.runs.cancel(run)

    modes = [m for raw in stream_mode for m in _modes(raw)]
    events = {"messages" if m.startswith("messages") else m for m in modes}
    return await stream_response(
        res.runs.buffer,
        run_id,
        after=last_event_id,
        on_disconnect=cancel if cancel_on_disconnect else None,
        only=events or None,
    )


def _modes(raw: str) -> list[str]:
    """A join filter value: one mode, or a JSON array of modes (both forms clients send)."""
    raw = raw.strip()
    if raw.startswith("["):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return []
        return [str(m) for m in parsed] if isinstance(parsed, list) else []
    return [raw] if raw else []


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", status_code=202, response_model=None)
async def cancel_run(
    thread_id: str,
    run_id: str,
    who: StaffDep,
    res: ResourcesDep,
    wait: bool = False,
    action: Annotated[str, Query(pattern="^(interrupt|rollback)$")] = "interrupt",
) -> Response:
    """Interrupt (keep progress) or roll back (discard the run) a pending or running run."""
    await res.threads.get(thread_id, who.tenant)
    run = res.runs.get(thread_id, run_id)
    if not run.active:
        return error(404, "run_not_active", "no matching runs to cancel: the run has finished")
    await res.runs.cancel(run, rollback=action == "rollback")
    if wait:
        return JSONResponse({})
    return Response(status_code=202)
