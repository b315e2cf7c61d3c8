"""Thread records (tenant, owner, metadata) beside the graph's checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import threads, utcnow


class ThreadNotFoundError(LookupError):
    """No such thread for this tenant (or not visible to this caller)."""


class InvalidFilterError(ValueError):
    """A search filter the store cannot evaluate."""


class ThreadExistsError(Exception):
    """``POST /threads`` with an id that exists and ``if_exists=raise``."""


class ThreadStore:
    """CRUD over the ``threads`` table; every query is scoped to a tenant."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        """The app database (shared with the other stores)."""
        return self._engine

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
        """Newest first; each metadata key must match exactly (scalar values)."""
        query = select(threads).where(threads.c.tenant == tenant)
        for key, value in (meta or {}).items():
            query = query.where(_json_equals(key, value))
        query = query.order_by(threads.c.created_at.desc()).limit(limit).offset(offset)
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]


def _json_equals(key: str, value: Any) -> ColumnElement[bool]:
    """``metadata[key] == value`` in SQL, typed so SQLite and Postgres compare alike."""
    field = threads.c.metadata[key]
    if isinstance(value, bool):
        clause = field.as_boolean() == value
    elif isinstance(value, int):
        clause = field.as_integer() == value
    elif isinstance(value, float):
        clause = field.as_float() == value
    elif isinstance(value, str):
        clause = field.as_string() == value
    else:
        raise InvalidFilterError(f"metadata filter on {key!r} must be a string, number or boolean")
    return cast(ColumnElement[bool], clause)


def iso(value: datetime) -> str:
    """ISO-8601 with timezone, as the SDK expects."""
    return value.isoformat()
