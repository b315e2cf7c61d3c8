"""Replay or fork the last turn of a conversation into a new thread, and diff the two runs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

import prompts
from agent.assistant import Graph
from agent.context import RunContext
from agent.errors import SupportFlowError
from agent.services import Services
from agent.traces import TraceNotFoundError, history, last_turn_path


class ReplayError(SupportFlowError):
    """The replay request cannot be served (unknown prompt version, no customer turn, …)."""

    code = "invalid_replay"
    exit_code = 2


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a fork changes; all ``None`` is a plain replay."""

    prompt_version: str | None = None
    model: str | None = None
    retrieval_k: int | None = None


@dataclass
class TurnRecord:
    """One turn's comparable facts."""

    path: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0


def _config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    conf: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def _split(messages: list[AnyMessage]) -> tuple[list[AnyMessage], HumanMessage]:
    """Messages before the last customer message, and that message."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return messages[:index], messages[index]  # type: ignore[return-value]
    raise ReplayError("the checkpoint has no customer message to replay")


async def _source(graph: Graph, thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    snapshot = await graph.aget_state(_config(thread_id, checkpoint_id))
    if not snapshot.values:
        raise TraceNotFoundError(checkpoint_id or thread_id)
    return dict(snapshot.values)


async def _run(
    graph: Graph, thread_id: str, message: HumanMessage, context: RunContext
) -> TurnRecord:
    record = TurnRecord()
    started = time.perf_counter()
    async for chunk in graph.astream(
        {"messages": [message]}, _config(thread_id), context=context, stream_mode="updates"
    ):
        record.path += [node for node in chunk if node != "__interrupt__"]
    record.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    record.values = dict((await graph.aget_state(_config(thread_id))).values)
    return record


def _facts(values: dict[str, Any]) -> dict[str, Any]:
    guard = values.get("guard") or {}
    return {
        "route": values.get("route"),
        "tool_calls": values.get("tool_calls", []),
        "answer": values.get("answer", ""),
        "guard": guard.get("verdict"),
        "citations": [c["id"] for c in values.get("citations", [])],
        "escalated": bool(values.get("escalated")),
        "prompt_version": values.get("prompt_version"),
    }


def diff(original: TurnRecord, fork: TurnRecord) -> dict[str, Any]:
    """Field-by-field comparison; ``same`` lists what did not change."""
    before, after = _facts(original.values), _facts(fork.values)
    changes: dict[str, Any] = {}
    if original.path and original.path != fork.path:
        changes["path"] = {"original": original.path, "fork": fork.path}
    for key in before:
        if before[key] != after[key]:
            changes[key] = {"original": before[key], "fork": after[key]}
    same = [k for k in ["path", *before] if k not in changes]
    return {"changed": changes, "same": same, "fork_duration_ms": fork.duration_ms}


async def replay(
    graph: Graph,
    services: Services,
    thread_id: str,
    *,
    checkpoint_id: str | None = None,
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """Re-run the last customer turn (as of ``checkpoint_id``) in a new thread."""
    overrides = overrides or Overrides()
    if overrides.prompt_version and overrides.prompt_version not in prompts.available_versions():
        raise ReplayError(
            f"unknown prompt version {overrides.prompt_version!r}; "
            f"available: {', '.join(prompts.available_versions())}"
        )
    values = await _source(graph, thread_id, checkpoint_id)
    snapshots = await history(graph, thread_id)
    if checkpoint_id:
        ids = [s.config["configurable"]["checkpoint_id"] for s in snapshots]
        snapshots = snapshots[: ids.index(checkpoint_id) + 1]
    prior, message = _split(list(values.get("messages", [])))
    owner = values.get("owner")
    fork_id = str(uuid.uuid4())
    if prior:
        await graph.aupdate_state(
            _config(fork_id), {"messages": prior, "owner": owner}, as_node="respond"
        )
    context = RunContext(
        services=services,
        tenant=services.settings.tenant,
        customer_id=owner,
        prompt_version=overrides.prompt_version or values.get("prompt_version") or "v1",
        model=overrides.model or values.get("model"),
        retrieval_k=overrides.retrieval_k,
    )
    forked = await _run(graph, fork_id, HumanMessage(content=message.content), context)
    original = TurnRecord(path=last_turn_path(snapshots), values=values)
    return {
        "thread_id": fork_id,
        "source_thread_id": thread_id,
        "answer": forked.values.get("answer", ""),
        "route": forked.values.get("route"),
        "path": forked.path,
        "diff": diff(original, forked),
    }
