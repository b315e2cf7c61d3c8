"""Serve a run's buffered events as SSE; the run itself never depends on the connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from sse_starlette import EventSourceResponse, ServerSentEvent

from api.events import EventBuffer

PING_S = 15


async def stream_response(
    buffer: EventBuffer,
    run_id: str,
    *,
    after: str | None = None,
    headers: Mapping[str, str] | None = None,
    on_disconnect: Callable[[], Awaitable[None]] | None = None,
    only: set[str] | None = None,
) -> EventSourceResponse:
    """Replay from ``after`` (a ``Last-Event-ID``) and follow the live tail.

    Validation happens before the response starts, so a bad id is a 4xx, not a broken stream.
    ``on_disconnect`` runs only when the client leaves before the stream completed; ``only``
    keeps those event names (plus ``metadata``, ``error`` and ``end``).
    """
    keep = None if only is None else {*only, "metadata", "error", "end"}
    await buffer.check(run_id, after)

    async def events() -> AsyncIterator[ServerSentEvent]:
        completed = False
        try:
            async for item in buffer.subscribe(run_id, after):
                if keep is not None and item.event.split("|")[0] not in keep:
                    continue
                yield ServerSentEvent(data=item.data, event=item.event, id=item.id, sep="\n")
            completed = True
        finally:
            if not completed and on_disconnect is not None:
                await on_disconnect()

    return EventSourceResponse(events(), headers=dict(headers or {}), ping=PING_S, sep="\n")
