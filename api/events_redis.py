"""``EventBuffer`` on Redis Streams, so a client can rejoin a run's stream on any replica."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from api.events import Event, InvalidEventIdError, UnknownStreamError

RETENTION_S = 600
BLOCK_MS = 5000
_CLOSED = "__closed__"
_STREAM_ID = re.compile(r"^\d+-\d+$")


def _key(run_id: str) -> str:
    return f"sf:run:{run_id}:events"


def _newer(a: str, b: str) -> bool:
    """Stream ids compare as (milliseconds, sequence) pairs."""
    ams, aseq = (int(x) for x in a.split("-"))
    bms, bseq = (int(x) for x in b.split("-"))
    return (ams, aseq) > (bms, bseq)


class RedisEventBuffer:
    """One Redis stream per run; event ids are the stream ids (``<ms>-<seq>``)."""

    def __init__(self, client: Redis, retention_s: int = RETENTION_S) -> None:
        self._redis = client
        self._retention_s = retention_s

    @classmethod
    def from_url(cls, url: str) -> RedisEventBuffer:
        """Client with timeouts, so a dead Redis fails fast instead of hanging a request."""
        return cls(
            Redis.from_url(url, socket_timeout=BLOCK_MS / 1000 + 5, socket_connect_timeout=3)
        )

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._redis.aclose()

    async def ping(self) -> None:
        """Raise if Redis is unreachable."""
        await self._redis.ping()

    async def open(self, run_id: str) -> None:
        """Streams are created by the first ``XADD``; nothing to do."""

    async def publish(self, run_id: str, event: str, data: str) -> str:
        """``XADD`` and return the id Redis assigned."""
        entry_id = await self._redis.xadd(_key(run_id), {"e": event, "d": data})
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def close(self, run_id: str) -> None:
        """Append the end marker and let the stream expire after the retention period."""
        await self._redis.xadd(_key(run_id), {"e": _CLOSED, "d": ""})
        await self._redis.expire(_key(run_id), self._retention_s)

    async def check(self, run_id: str, after: str | None = None) -> None:
        """The stream must exist and ``after`` must be an id it issued."""
        last: Any = await self._redis.xrevrange(_key(run_id), count=1)
        if not last:
            raise UnknownStreamError(run_id)
        if after in (None, ""):
            return
        assert after is not None
        newest = last[0][0].decode()
        if not _STREAM_ID.match(after) or _newer(after, newest):
            raise InvalidEventIdError(f"unknown Last-Event-ID {after!r}")

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[Event]:
        """Replay with ``XRANGE`` (exclusive of ``after``), then follow with blocking ``XREAD``."""
        cursor = after or "0-0"
        while True:
            batch: Any = await self._redis.xread({_key(run_id): cursor}, count=500, block=BLOCK_MS)
            for _stream, entries in batch:
                for entry_id, fields in entries:
                    cursor = entry_id.decode()
                    event = fields[b"e"].decode()
                    if event == _CLOSED:
                        return
                    yield Event(cursor, event, fields[b"d"].decode())
            if not batch and not await self._redis.exists(_key(run_id)):
                return
