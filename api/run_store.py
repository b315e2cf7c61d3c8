"""Run records in the app database, so finished runs outlive the process that ran them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import runs, threads


class RunStore:
    """Upserts run rows; reads them back when the in-process registry no longer has them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, row: dict[str, Any]) -> None:
        """Insert or update one run (portable: update first, insert when absent)."""
        changes = {k: row[k] for k in ("status", "error", "updated_at", "metadata")}
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(runs).where(runs.c.run_id == row["run_id"]).values(**changes)
            )
            if result.rowcount == 0:
                await conn.execute(insert(runs).values(**row))

    async def get(self, thread_id: str, run_id: str) -> dict[str, Any] | None:
        """One stored run of a thread."""
        query = select(runs).where(runs.c.run_id == run_id, runs.c.thread_id == thread_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def by_id(self, run_id: str) -> dict[str, Any] | None:
        """A stored run by id alone (for rejoining a stream on another replica)."""
        async with self._engine.connect() as conn:
            row = (
                (await conn.execute(select(runs).where(runs.c.run_id == run_id))).mappings().first()
            )
        return dict(row) if row else None

    async def of_thread(self, thread_id: str) -> list[dict[str, Any]]:
        """Stored runs of a thread, newest first."""
        query = select(runs).where(runs.c.thread_id == thread_id).order_by(runs.c.created_at.desc())
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def remove(self, run_id: str) -> None:
        """Forget a rolled-back run."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(runs).where(runs.c.run_id == run_id))

    async def remove_thread(self, thread_id: str) -> None:
        """Drop a thread's runs and record (stateless runs with ``on_completion=delete``)."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(runs).where(runs.c.thread_id == thread_id))
            await conn.execute(delete(threads).where(threads.c.thread_id == thread_id))
