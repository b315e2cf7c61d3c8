"""Request bodies of the LangGraph-compatible API (what ``langgraph-sdk`` sends)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StreamMode = Literal[
    "values",
    "updates",
    "messages-tuple",
    "messages",
    "custom",
    "events",
    "debug",
    "tasks",
    "checkpoints",
]
SUPPORTED_MODES = {"values", "updates", "messages-tuple", "custom"}
GRAPH_MODE = {
    "values": "values",
    "updates": "updates",
    "messages-tuple": "messages",
    "custom": "custom",
}


class _Lenient(BaseModel):
    """SDK versions add fields; unknown ones are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")


class ThreadCreate(_Lenient):
    """``POST /threads``."""

    thread_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(_Lenient):
    """``POST /threads/search``."""

    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class CheckpointRef(_Lenient):
    """A checkpoint address."""

    checkpoint_id: str | None = None
    checkpoint_ns: str | None = ""
    thread_id: str | None = None


class StateUpdate(_Lenient):
    """``POST /threads/{id}/state``: write values as if ``as_node`` produced them (a fork)."""

    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None


class HistoryQuery(_Lenient):
    """``POST /threads/{id}/history``."""

    limit: int = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None

    def before_id(self) -> str | None:
        """``before`` as a checkpoint id, from a string, a Checkpoint or ``{"configurable":…}``."""
        if self.before is None or isinstance(self.before, str):
            return self.before
        source = self.before.get("configurable", self.before)
        value = source.get("checkpoint_id") if isinstance(source, dict) else None
        return str(value) if value else None


class StateAtCheckpoint(_Lenient):
    """``POST /threads/{id}/state/checkpoint`` (what RemoteGraph uses for ``get_state``)."""

    checkpoint: CheckpointRef = Field(default_factory=CheckpointRef)
    subgraphs: bool = False


class CommandBody(_Lenient):
    """``command`` of a run: resume an interrupt, update state, or jump."""

    resume: Any = None
    update: dict[str, Any] | list[Any] | None = None
    goto: str | list[str] | None = None


class RunCreate(_Lenient):
    """``POST /threads/{id}/runs[/stream]`` and ``POST /runs/stream``."""

    assistant_id: str
    input: dict[str, Any] | None = None
    command: CommandBody | None = None
    stream_mode: StreamMode | list[StreamMode] = "values"
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] = "delete"
    stream_subgraphs: bool = False
    stream_resumable: bool = False

    def modes(self) -> list[str]:
        """Requested modes as a de-duplicated list."""
        raw = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(raw))

    def target_checkpoint(self) -> str | None:
        """The checkpoint to run from, from any of the places the SDK may put it."""
        if self.checkpoint_id:
            return self.checkpoint_id
        if self.checkpoint and self.checkpoint.checkpoint_id:
            return self.checkpoint.checkpoint_id
        configurable = (self.config or {}).get("configurable", {})
        value = configurable.get("checkpoint_id")
        return str(value) if value else None


class IngestJob(BaseModel):
    """A background ingestion job as the API reports it."""

    job_id: str
    tenant: str
    status: Literal["queued", "running", "done", "failed"]
    total: int
    """Documents submitted."""
    done: int
    """Documents processed so far."""
    report: dict[str, int] | None = None
    """Chunks added, removed, unchanged and neutralised, once done."""
    error: str | None = None
