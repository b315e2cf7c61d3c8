"""Shared caches on Redis, each falling back to in-process memory while Redis is down.

Two caches: released knowledge answers (``AnswerCache``) and query embeddings
(``EmbeddingCache``). A Redis failure never fails a request: the call is answered from the
process's own memory, counted in ``supportflow_degraded_total`` and logged once per outage;
Redis is retried after a short back-off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Generic, TypeVar, cast

import numpy as np

from agent.metrics import DEGRADED, record_cache

logger = logging.getLogger(__name__)

V = TypeVar("V")
RETRY_AFTER_S = 15.0
"""How long a process stays on its in-process fallback before trying Redis again."""
_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?!.]+$")


def normalise_question(text: str) -> str:
    """Case, spacing and closing punctuation do not make a different question."""
    return _TRAILING.sub("", _SPACES.sub(" ", text.strip().lower()))


def cache_key(*parts: str) -> str:
    """A fixed-length key; the question inside it is hashed, never stored as text in Redis."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class MemoryTTLCache(Generic[V]):
    """A bounded LRU with per-entry expiry; thread-safe (embeddings are made in threads)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The live value, or ``None``."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            expires, value = found
            if expires < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: str, value: V, ttl_s: float) -> None:
        """Store, evicting the least recently used beyond ``size``."""
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_s, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class RedisHealth:
    """A tiny circuit breaker: after a failure, skip Redis for ``RETRY_AFTER_S``."""

    def __init__(self, component: str) -> None:
        self.component = component
        self._down_until = 0.0

    @property
    def usable(self) -> bool:
        """Whether to try Redis now."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        """Record an outage (logged once per back-off window, counted every time)."""
        DEGRADED.labels(component=self.component).inc()
        if self.usable:
            logger.warning(
                "redis unavailable, %s uses in-process memory error=%s",
                self.component,
                type(exc).__name__,
            )
        self._down_until = time.monotonic() + RETRY_AFTER_S


class AnswerCache:
    """Released knowledge answers, shared by replicas through Redis when configured."""

    def __init__(self, redis_url: str | None, ttl_s: int, prefix: str = "sf:answer:") -> None:
        self.ttl_s = ttl_s
        self._memory: MemoryTTLCache[dict[str, Any]] = MemoryTTLCache(2048)
        self._prefix = prefix
        self._health = RedisHealth("answer_cache")
        self._redis: Any = None
        if redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    @property
    def enabled(self) -> bool:
        """A TTL of 0 turns the cache off."""
        return self.ttl_s > 0

    async def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer, from Redis or (when Redis is down or unset) from memory."""
        value = await self._redis_get(key)
        if value is None:
            value = self._memory.get(key)
        record_cache("answer", "hit" if value is not None else "miss")
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        """Store in memory and, when reachable, in Redis for the other replicas."""
        self._memory.put(key, value, self.ttl_s)
        if self._redis is None or not self._health.usable:
            return
        try:
            await self._redis.set(self._prefix + key, json.dumps(value), ex=self.ttl_s)
        except Exception as exc:  # any Redis failure degrades, never fails the turn
            self._health.failed(exc)

    async def _redis_get(self, key: str) -> dict[str, Any] | None:
        if self._redis is None or not self._health.usable:
            return None
        try:
            raw = await self._redis.get(self._prefix + key)
        except Exception as exc:  # any Redis failure degrades, never fails the turn
            self._health.failed(exc)
            return None
        return dict(json.loads(raw)) if raw else None

    async def aclose(self) -> None:
        """Release the Redis connection pool."""
        if self._redis is not None:
            await self._redis.aclose()


class EmbeddingCache:
    """Query embeddings in Redis (float32 bytes), synchronous: embeddings run in threads."""

    def __init__(self, redis_url: str, ttl_s: int, model_id: str) -> None:
        import redis

        self.ttl_s = ttl_s
        self._prefix = f"sf:emb:{model_id}:"
        self._health = RedisHealth("embedding_cache")
        self._redis = redis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )

    def get(self, text: str) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """The stored vector for ``text``, or ``None`` (also when Redis is down)."""
        if not self._health.usable:
            return None
        try:
            raw = cast("bytes | None", self._redis.get(self._key(text)))
        except Exception as exc:  # any Redis failure degrades to computing the vector
            self._health.failed(exc)
            return None
        record_cache("embedding", "hit" if raw else "miss")
        return np.frombuffer(raw, dtype=np.float32) if raw else None

    def put(self, text: str, vector: np.ndarray[Any, np.dtype[np.float32]]) -> None:
        """Share a computed vector with the other replicas."""
        if not self._health.usable:
            return
        try:
            self._redis.set(self._key(text), vector.astype(np.float32).tobytes(), ex=self.ttl_s)
        except Exception as exc:  # any Redis failure degrades to computing the vector
            self._health.failed(exc)

    def _key(self, text: str) -> str:
        return self._prefix + hashlib.sha256(text.encode()).hexdigest()

    def close(self) -> None:
        """Release the connection pool."""
        self._redis.close()
