"""A Redis stream buffer that keeps runs streaming from process memory while Redis is down.

Each run lives on Redis (rejoinable on any replica) until a Redis call for it fails; from then
on the run's remaining events go to this process's memory buffer, and its local readers follow
them there. Only events Redis took but no reader saw before the failure are lost to readers, and
rejoining such a run works on this replica only. New runs go to memory while Redis is marked
down (``RedisHealth`` back-off), then to Redis again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from agent.cache import RedisHealth
from api.events import Event, EventBuffer, InvalidEventIdError, MemoryEventBuffer


class FailoverEventBuffer:
    """``EventBuffer`` over a primary (Redis) with an in-process fallback, per run."""

    def __init__(self, primary: EventBuffer, fallback: MemoryEventBuffer | None = None) -> None:
        self._primary = primary
        self._fallback = fallback or MemoryEventBuffer()
        self._local: set[str] = set()
        self._health = RedisHealth("event_buffer")

    async def _to_local(self, run_id: str, exc: BaseException | None = None) -> None:
        if exc is not None:
            self._health.failed(exc)
        if run_id not in self._local:
            self._local.add(run_id)
            await self._fallback.open(run_id)

    async def open(self, run_id: str) -> None:
        """On Redis unless it is known to be down."""
        if not self._health.usable:
            await self._to_local(run_id)
            return
        try:
            await self._primary.open(run_id)
        except Exception as exc:  # degrade, never fail the run
            await self._to_local(run_id, exc)

    async def publish(self, run_id: str, event: str, data: str) -> str:
        """Append where the run lives; a Redis failure moves the run to memory."""
        if run_id not in self._local:
            try:
                return await self._primary.publish(run_id, event, data)
            except Exception as exc:  # degrade, never fail the run
                await self._to_local(run_id, exc)
        return await self._fallback.publish(run_id, event, data)

    async def close(self, run_id: str) -> None:
        """Mark the end where the run lives."""
        if run_id not in self._local:
            try:
                await self._primary.close(run_id)
                return
            except Exception as exc:  # degrade, never fail the run
                await self._to_local(run_id, exc)
        await self._fallback.close(run_id)

    async def check(self, run_id: str, after: str | None = None) -> None:
        """Validate a join against the run's current home."""
        if run_id in self._local:
            # Ids issued by Redis before the failover are not in memory; resume from the start.
            try:
                await self._fallback.check(run_id, after)
            except InvalidEventIdError:
                await self._fallback.check(run_id, None)
            return
        await self._primary.check(run_id, after)

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[Event]:
        """Follow the run; if Redis fails mid-stream, continue from this process's memory."""
        if run_id not in self._local:
            try:
                async for event in self._primary.subscribe(run_id, after):
                    yield event
                return
            except Exception as exc:  # degrade, never fail the stream
                await self._to_local(run_id, exc)
            after = None
        if after is not None and not after.isdigit():
            after = None  # a Redis id from before the failover: memory starts at the failover
        async for event in self._fallback.subscribe(run_id, after):
            yield event

    async def aclose(self) -> None:
        """Close both."""
        try:
            await self._primary.aclose()
        finally:
            await self._fallback.aclose()
