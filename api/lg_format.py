"""LangGraph server JSON shapes: threads, thread states, runs, and stream events."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot, StreamMode

from api.runs import RunRecord
from api.schemas import GRAPH_MODE
from api.serde import MessageTupleEncoder, to_jsonable


def checkpoint_of(config: RunnableConfig | None) -> dict[str, Any] | None:
    """``{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map}`` from a config."""
    if not config:
        return None
    conf = config.get("configurable", {})
    if "checkpoint_id" not in conf:
        return None
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }


def interrupts_of(snapshot: StateSnapshot) -> list[dict[str, Any]]:
    """Pending interrupts as ``{value, id}`` dicts."""
    return [to_jsonable(i) for i in snapshot.interrupts]


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``ThreadState`` as the SDK parses it."""
    tasks = [
        {
            "id": t.id,
            "name": t.name,
            "path": list(t.path),
            "error": repr(t.error) if t.error else None,
            "interrupts": [to_jsonable(i) for i in t.interrupts],
            "checkpoint": None,
            "state": None,
            "result": to_jsonable(t.result) if t.result is not None else None,
        }
        for t in snapshot.tasks
    ]
    checkpoint = checkpoint_of(snapshot.config)
    parent = checkpoint_of(snapshot.parent_config)
    return {
        "values": to_jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": to_jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": interrupts_of(snapshot),
        # Deprecated top-level copies that SDK clients still read.
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def thread_record(
    row: dict[str, Any], snapshot: StateSnapshot | None, busy: bool
) -> dict[str, Any]:
    """A ``Thread``: record fields, current values, status and pending interrupts."""
    interrupts: dict[str, list[Any]] = {}
    status = "busy" if busy else "idle"
    if snapshot is not None:
        for task in snapshot.tasks:
            if task.interrupts:
                interrupts[task.id] = [to_jsonable(i) for i in task.interrupts]
        if interrupts and not busy:
            status = "interrupted"
    return {
        "thread_id": row["thread_id"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "metadata": row["metadata"],
        "status": status,
        "config": {},
        "values": to_jsonable(snapshot.values) if snapshot else {},
        "interrupts": interrupts,
    }


RUN_FIELDS = (
    "run_id",
    "thread_id",
    "assistant_id",
    "status",
    "metadata",
    "multitask_strategy",
    "kwargs",
)


def run_record(run: RunRecord | dict[str, Any]) -> dict[str, Any]:
    """A ``Run``, from the live registry or from a stored row."""
    row = (
        run
        if isinstance(run, dict)
        else {
            **{k: getattr(run, k) for k in RUN_FIELDS},
            "created_at": run.created_at,
            "updated_at": run.updated_at,
        }
    )
    return {
        **{k: row[k] for k in RUN_FIELDS},
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


class LangGraphAdapter:
    """Graph ``(mode, chunk)`` → SSE ``(event, data)`` for the modes the client asked for.

    Interrupts surface the way LangGraph's server sends them: inside ``updates`` and, when
    ``values`` was requested, as the last values plus ``__interrupt__``.
    """

    def __init__(self, requested: list[str]) -> None:
        self._events = {
            GRAPH_MODE[m]: ("messages" if m == "messages-tuple" else m) for m in requested
        }
        self._last_values: dict[str, Any] = {}
        self._message_tuple = MessageTupleEncoder()

    @property
    def graph_modes(self) -> list[StreamMode]:
        """Modes to run the graph with (``updates`` always, so interrupts can be reported)."""
        modes: list[StreamMode] = [*self._events, "updates"]  # type: ignore[list-item]
        return list(dict.fromkeys(modes))

    def __call__(self, mode: str, chunk: Any) -> list[tuple[str, Any]]:
        """Events for one chunk; modes that were not requested are dropped."""
        if mode == "values" and isinstance(chunk, dict):
            self._last_values = chunk
        interrupt = mode == "updates" and isinstance(chunk, dict) and "__interrupt__" in chunk
        events: list[tuple[str, Any]] = []
        if mode == "messages" and mode in self._events and isinstance(chunk, tuple):
            events.append(("messages", self._message_tuple(chunk)))
        elif mode in self._events:
            events.append((self._events[mode], chunk))
        if interrupt and "values" in self._events:
            events.append(
                ("values", {**self._last_values, "__interrupt__": chunk["__interrupt__"]})
            )
        return events
