"""The widget's stream: lean events, only guard-released text, resumable with Last-Event-ID."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from agent.errors import UnknownCustomerError
from agent.guards.normalise import validate_message
from api.auth import Principal
from api.deps import AppResources, CustomerDep, ResourcesDep
from api.run_context import run_context
from api.runs import RunNotFoundError, RunRecord, RunSpec
from api.sse import stream_response
from api.threads import ThreadNotFoundError
from api.widget_stream import WidgetAdapter

router = APIRouter(prefix="/v1/chat", tags=["widget"])
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]


class ChatRequest(BaseModel):
    """One customer message; ``thread_id`` continues a conversation."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=20_000)
    thread_id: str | None = Field(default=None, pattern=ID_PATTERN)


async def _thread_for(thread_id: str | None, who: Principal, res: AppResources) -> str:
    """An existing thread of this customer, or a new one bound to them."""
    if thread_id is None:
        thread_id = str(uuid.uuid4())
        await res.threads.create(thread_id, who.tenant, who.customer_id, {"channel": "widget"})
        return thread_id
    record = await res.threads.find(thread_id, who.tenant)
    if record is None or record["owner"] != who.customer_id:
        raise ThreadNotFoundError(thread_id)
    return thread_id


def _opening(thread_id: str) -> Any:
    def opening(run: RunRecord) -> tuple[str, dict[str, str]]:
        return "status", {"text": "Thinking…", "run_id": run.run_id, "thread_id": thread_id}

    return opening


def _stream_path(run_id: str) -> str:
    return f"/v1/chat/runs/{run_id}/stream"


@router.post("/stream", response_class=EventSourceResponse)
async def chat_stream(
    body: ChatRequest, who: CustomerDep, res: ResourcesDep
) -> EventSourceResponse:
    """Send a message and stream the answer.

    Events: ``status``, ``token``, ``retract``, ``citation``, ``handoff``, ``error``, ``end``.
    The run continues if the connection drops; rejoin with the run id and ``Last-Event-ID``.
    """
    validate_message(body.message, res.settings.max_input_chars)
    if who.customer_id and await res.services.accounts.get_account(who.customer_id) is None:
        raise UnknownCustomerError(who.customer_id)
    thread_id = await _thread_for(body.thread_id, who, res)
    held = await res.handoffs.active(who.tenant, thread_id) if body.thread_id else None
    context = run_context(
        res, who.tenant, who.customer_id, thread_id, human_takeover=held is not None
    )
    spec = RunSpec(
        thread_id=thread_id,
        graph_input={"messages": [HumanMessage(body.message)]},
        context=context,
        stream_modes=["updates", "custom"],
        adapter=(adapter := WidgetAdapter()),
        finisher=adapter.ending,
        opening=_opening(thread_id),
        strategy="enqueue",
        metadata={
            "channel": "widget",
            "prompt_version": context.prompt_version,
            "model": context.model,
        },
    )
    run = await res.runs.start(spec)
    await res.threads.touch(thread_id)
    path = _stream_path(run.run_id)
    return await stream_response(
        res.runs.buffer, run.run_id, headers={"Location": path, "Content-Location": path}
    )


async def _run_thread(res: AppResources, run_id: str) -> str:
    """The run's thread, from this process or from the shared run store (another replica)."""
    try:
        return res.runs.find(run_id).thread_id
    except RunNotFoundError:
        row = await res.runs.store.by_id(run_id) if res.runs.store else None
        if row is None:
            raise
        return str(row["thread_id"])


@router.get("/threads/{thread_id}/next", response_model=None)
async def next_run(
    thread_id: str, who: CustomerDep, res: ResourcesDep, after: str | None = None
) -> dict[str, str] | Response:
    """Long-poll (25 s) for the next run on the thread, e.g. a human's reply after a handoff."""
    await _thread_for(thread_id, who, res)
    run_id = await res.runs.next_run(thread_id, after, timeout_s=25.0)
    if run_id is None:
        return Response(status_code=204)
    return {"run_id": run_id, "stream": _stream_path(run_id)}


@router.get("/runs/{run_id}/stream", response_class=EventSourceResponse)
async def chat_join(
    run_id: str, who: CustomerDep, res: ResourcesDep, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """Rejoin a run's stream; with ``Last-Event-ID`` only the missed events are replayed."""
    await _thread_for(await _run_thread(res, run_id), who, res)
    return await stream_response(res.runs.buffer, run_id, after=last_event_id)
