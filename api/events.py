"""Per-run event buffers so a client can (re)join a stream and miss nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

RETENTION_S = 600.0
MAX_EVENTS_PER_RUN = 100_000


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event; ``data`` is already serialised JSON."""

    id: str
    event: str
    data: str


class UnknownStreamError(LookupError):
    """No buffered stream for this run (never existed or expired)."""


class InvalidEventIdError(ValueError):
    """A ``Last-Event-ID`` that this buffer never issued."""


class EventBuffer(Protocol):
    """Append-only event log per run, readable from any position while it is retained."""

    async def open(self, run_id: str) -> None:
        """Start a stream for a run (before anyone subscribes)."""
        ...

    async def publish(self, run_id: str, event: str, data: str) -> str:
        """Append an event; returns its id."""
        ...

    async def close(self, run_id: str) -> None:
        """Mark the stream complete; subscribers drain and stop."""
        ...

    async def check(self, run_id: str, after: str | None = None) -> None:
        """Raise ``UnknownStreamError`` / ``InvalidEventIdError`` before a response starts."""
        ...

    async def aclose(self) -> None:
        """Release connections (process exit)."""
        ...

    def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[Event]:
        """Events after ``after`` (all when ``None``), then the live tail until closed."""
        ...


@dataclass
class _Stream:
    events: list[Event] = field(default_factory=list)
    closed: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


def parse_event_id(after: str | None, issued: int) -> int:
    """Position after which to replay; ids are the 1-based sequence numbers we issued."""
    if after is None or after == "":
        return 0
    if not after.isdigit() or int(after) > issued:
        raise InvalidEventIdError(f"unknown Last-Event-ID {after!r}")
    return int(after)


def _has_more(stream: _Stream, position: int) -> Callable[[], bool]:
    return lambda: stream.closed or len(stream.events) > position


class MemoryEventBuffer:
    """In-process implementation: one list and one condition per run, dropped after retention."""

    def __init__(self, retention_s: float = RETENTION_S) -> None:
        self._streams: dict[str, _Stream] = {}
        self._retention_s = retention_s

    async def open(self, run_id: str) -> None:
        """Create the run's stream (idempotent)."""
        self._streams.setdefault(run_id, _Stream())

    def _stream(self, run_id: str) -> _Stream:
        try:
            return self._streams[run_id]
        except KeyError:
            raise UnknownStreamError(run_id) from None

    async def aclose(self) -> None:
        """Nothing to release in process."""

    async def check(self, run_id: str, after: str | None = None) -> None:
        """Validate the stream and the resume position eagerly."""
        parse_event_id(after, len(self._stream(run_id).events))

    async def publish(self, run_id: str, event: str, data: str) -> str:
        """Append and wake subscribers."""
        stream = self._stream(run_id)
        if len(stream.events) >= MAX_EVENTS_PER_RUN:
            raise OverflowError(f"run {run_id} exceeded {MAX_EVENTS_PER_RUN} events")
        item = Event(str(len(stream.events) + 1), event, data)
        async with stream.changed:
            stream.events.append(item)
            stream.changed.notify_all()
        return item.id

    async def close(self, run_id: str) -> None:
        """Complete the stream and schedule its removal."""
        stream = self._stream(run_id)
        async with stream.changed:
            stream.closed = True
            stream.changed.notify_all()
        asyncio.get_running_loop().call_later(self._retention_s, self._streams.pop, run_id, None)

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[Event]:
        """Replay from the position after ``after``, then follow until the stream closes."""
        stream = self._stream(run_id)
        position = parse_event_id(after, len(stream.events))
        while True:
            async with stream.changed:
                await stream.changed.wait_for(_has_more(stream, position))
                batch = stream.events[position:]
                done = stream.closed
            for item in batch:
                yield item
            position += len(batch)
            if done and position >= len(stream.events):
                return
