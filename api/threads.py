"""Thread records (tenant, owner, metadata) beside the graph's checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import threads, utcnow


class ThreadNotFoundError(LookupError):
    """No such thread for this tenant (or not visible to this caller)."""


class ThreadExistsError(Exception):
    """``POST /threads`` with an id that exists and ``if_exists=raise``."""


class ThreadStore:
    """CRUD over the ``threads`` table; every query is scoped to a tenant."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self, thread_id: str, tenant: str, owner: str | None, meta: dict[str, Any]
    ) -> dict[str, Any]:
        """Insert a thread record and return it."""
        now = utcnow()
        row = {
            "thread_id": thread_id,
            "tenant": tenant,
            "owner": owner,
            "metadata": meta,
            "status": "idle",
            "created_at": now,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(threads).values(**row))
        return row

    async def get(self, thread_id: str, tenant: str) -> dict[str, Any]:
        """The record; ``ThreadNotFoundError`` when absent or in another tenant."""
        query = select(threads).where(threads.c.thread_id == thread_id, threads.c.tenant == tenant)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise ThreadNotFoundError(thread_id)
        return dict(row)

    async def find(self, thread_id: str, tenant: str) -> dict[str, Any] | None:
        """The record or ``None``."""
        try:
            return await self.get(thread_id, tenant)
        except ThreadNotFoundError:
            return None

    async def touch(self, thread_id: str, **values: Any) -> None:
        """Update ``updated_at`` (and any given columns)."""
        stmt = update(threads).where(threads.c.thread_id == thread_id)
        async with self._engine.begin() as conn:
            await conn.execute(stmt.values(updated_at=utcnow(), **values))

    async def search(
        self, tenant: str, meta: dict[str, Any] | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Newest first; metadata filter is an exact match on each given key."""
        query = select(threads).where(threads.c.tenant == tenant)
        query = query.order_by(threads.c.created_at.desc()).limit(limit + offset + 500)
        async with self._engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings()]
        if meta:
            rows = [r for r in rows if all(r["metadata"].get(k) == v for k, v in meta.items())]
        return rows[offset : offset + limit]


def iso(value: datetime) -> str:
    """ISO-8601 with timezone, as the SDK expects."""
    return value.isoformat()
