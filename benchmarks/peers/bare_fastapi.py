"""The bare peer: FastAPI + sse-starlette streaming ``graph.astream`` of the plain graph.

What a team would hand-roll: one route, an in-memory checkpointer, a lean event format.

    PEERS_LLM_BASE_URL=http://127.0.0.1:8765/v1 \
        uvicorn benchmarks.peers.bare_fastapi:create_app --factory --port 8124
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from langchain_core.messages import AIMessageChunk
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from sse_starlette import EventSourceResponse, ServerSentEvent

from benchmarks.peers.lg_graph import LLM_URL_ENV, State, build_graph, chat_model


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Compile the plain graph once, with an in-memory checkpointer."""
    model = chat_model(os.environ[LLM_URL_ENV])
    yield {"graph": build_graph(model).compile(checkpointer=InMemorySaver())}


def wire_events(mode: str, chunk: Any) -> list[ServerSentEvent]:
    """One stream part as lean SSE events: model tokens as text, updates as node names."""
    if mode == "messages":
        message, _ = chunk
        if isinstance(message, AIMessageChunk) and message.content:
            return [ServerSentEvent(json.dumps({"t": message.content}), event="token")]
        return []
    return [ServerSentEvent(json.dumps(list(chunk)), event="updates")]


async def run_events(
    graph: CompiledStateGraph[State], thread_id: str, payload: State
) -> AsyncIterator[ServerSentEvent]:
    """``metadata``, the run's tokens and updates, then ``end``."""
    run_id = str(uuid.uuid4())
    yield ServerSentEvent(json.dumps({"run_id": run_id}), event="metadata")
    config: Any = {"configurable": {"thread_id": thread_id}, "run_id": run_id}
    async for mode, chunk in graph.astream(payload, config, stream_mode=["updates", "messages"]):
        for event in wire_events(mode, chunk):
            yield event
    yield ServerSentEvent(json.dumps({"status": "success"}), event="end")


def create_app() -> FastAPI:
    """The app: ``POST /threads/{thread_id}/runs/stream`` and ``GET /ok``."""
    app = FastAPI(lifespan=lifespan)

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/threads/{thread_id}/runs/stream")
    async def stream(
        thread_id: str, request: Request, body: Annotated[dict[str, Any], Body()]
    ) -> EventSourceResponse:
        graph: CompiledStateGraph[State] = request.state.graph
        return EventSourceResponse(run_events(graph, thread_id, body["input"]))

    return app
