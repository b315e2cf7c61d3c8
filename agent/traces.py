"""Traces built from checkpoint history: the path a turn took, with timings and decisions."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from agent.assistant import Graph
from agent.guards.pii import mask_pii

SUMMARY_CHARS = 160
DECISION_KEYS = (
    "route",
    "guard",
    "tool_calls",
    "citations",
    "escalated",
    "blocked",
    "answer",
    "handoff_reason",
    "attempts",
    "prompt_version",
    "model",
)


class TraceNotFoundError(LookupError):
    """No checkpoints for this thread (or the checkpoint belongs to another thread)."""


def _config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    conf: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def summarise(value: Any, masked: bool) -> str:
    """A short, optionally PII-masked rendering of a state value."""
    if isinstance(value, list) and value and hasattr(value[-1], "content"):
        value = f"{len(value)} messages; last: {value[-1].content}"
    text = str(value)
    text = mask_pii(text) if masked else text
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in after if before.get(k) != after.get(k)]


async def history(graph: Graph, thread_id: str) -> list[StateSnapshot]:
    """Checkpoints oldest first."""
    found = [s async for s in graph.aget_state_history(_config(thread_id))]
    if not found:
        raise TraceNotFoundError(thread_id)
    return list(reversed(found))


def steps_of(snapshots: list[StateSnapshot], masked: bool) -> list[dict[str, Any]]:
    """One step per executed node: name, start/end, duration, what it changed."""
    steps = []
    for before, after in itertools.pairwise(snapshots):
        nodes = list(before.next) or ["__input__"]
        start = datetime.fromisoformat(str(before.created_at))
        end = datetime.fromisoformat(str(after.created_at))
        values_before, values_after = dict(before.values), dict(after.values)
        changed = _changed(values_before, values_after)
        steps.append(
            {
                "nodes": nodes,
                "checkpoint_id": after.config["configurable"]["checkpoint_id"],
                "started_at": start.isoformat(),
                "ended_at": end.isoformat(),
                "duration_ms": round((end - start).total_seconds() * 1000, 2),
                "changed": {k: summarise(values_after[k], masked) for k in changed},
            }
        )
    return steps


def decisions(values: dict[str, Any], masked: bool) -> dict[str, Any]:
    """The turn's outcome: route, guard verdict, tools, citations, answer, versions."""
    out = {k: values.get(k) for k in DECISION_KEYS}
    return {k: _mask_deep(v) for k, v in out.items()} if masked else out


def _mask_deep(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, list):
        return [_mask_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_deep(v) for k, v in value.items()}
    return value


def last_turn_path(snapshots: list[StateSnapshot]) -> list[str]:
    """Nodes run since the last customer input (the turn a replay re-runs)."""
    start = max(
        (i for i, s in enumerate(snapshots) if (s.metadata or {}).get("source") == "input"),
        default=0,
    )
    return [n for s in snapshots[start:-1] for n in s.next if n != "__start__"]


async def build_trace(graph: Graph, thread_id: str, *, masked: bool) -> dict[str, Any]:
    """The whole thread: steps in order, the path, and the latest turn's decisions."""
    snapshots = await history(graph, thread_id)
    steps = steps_of(snapshots, masked)
    path: list[str] = [
        n for step in steps for n in step["nodes"] if n not in ("__input__", "__start__")
    ]
    latest = snapshots[-1]
    # A node paused in interrupt() (a handoff waiting for a human) has no checkpoint after it.
    path += [n for n in latest.next if n != "__start__"]
    return {
        "thread_id": thread_id,
        "checkpoints": len(snapshots),
        "path": path,
        "steps": steps,
        "decisions": decisions(dict(latest.values), masked),
        "pending_handoff": [
            i.value.get("reason") for i in latest.interrupts if isinstance(i.value, dict)
        ],
        "masked": masked,
    }
