"""Rate limits per API key, per customer and per client IP (``limits``, Redis or in-process)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from agent.cache import RedisHealth

logger = logging.getLogger(__name__)


class RateLimitedError(Exception):
    """Too many requests for one of the caller's identities; retry after ``retry_after`` s."""

    def __init__(self, scope: str, limit: RateLimitItem, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Limits:
    """Configured limits, in ``limits`` notation such as ``"120/minute"``."""

    per_key: str = "600/minute"
    per_customer: str = "60/minute"
    per_ip: str = "600/minute"


class RateLimiter:
    """Sliding-window counters, shared through Redis; per-process while Redis is down."""

    def __init__(self, limits: Limits, redis_url: str | None = None) -> None:
        self._items = {
            "key": parse(limits.per_key),
            "customer": parse(limits.per_customer),
            "ip": parse(limits.per_ip),
        }
        storage: Storage = (
            RedisStorage(
                f"async+{redis_url}",
                implementation="redispy",
                socket_timeout=1,
                socket_connect_timeout=1,
            )
            if redis_url
            else MemoryStorage()
        )
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        # While the shared store is down, limits still hold per process (never unlimited).
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._health = RedisHealth("rate_limits")

    async def aclose(self) -> None:
        """Close the shared store's connection pool (the library exposes it on its bridge)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    async def check(self, identities: dict[str, str]) -> None:
        """Count one request for each identity (``key``, ``customer``, ``ip``); raise when over."""
        for scope, identity in identities.items():
            item = self._items[scope]
            limiter = self._limiter if self._health.usable else self._local
            try:
                allowed = await limiter.hit(item, scope, identity)
                stats = None if allowed else await limiter.get_window_stats(item, scope, identity)
            except Exception as exc:  # a broken shared store must not take the API down
                self._health.failed(exc)
                limiter = self._local
                allowed = await limiter.hit(item, scope, identity)
                stats = None if allowed else await limiter.get_window_stats(item, scope, identity)
            if stats is not None:
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimitedError(scope, item, retry_after)
