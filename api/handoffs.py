"""The human handoff queue: one record per escalation, claimed by exactly one agent."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.metrics import ESCALATIONS
from api.db import handoffs, utcnow

Status = Literal["open", "claimed", "resolved", "returned"]


class HandoffNotFoundError(LookupError):
    """No such handoff in this tenant."""


class HandoffConflictError(Exception):
    """The handoff is not in a state that allows this action (e.g. already claimed)."""


class HandoffStore:
    """CRUD with the state machine enforced in SQL: open → claimed → resolved | returned."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self, tenant: str, thread_id: str, interrupt_id: str, payload: dict[str, Any]
    ) -> bool:
        """Create the record for an interrupt once; returns whether it was new.

        While a human holds the conversation (an open or claimed handoff), a new pending
        message joins that handoff instead of opening another one.
        """
        held = await self.active(tenant, thread_id)
        if held is not None:
            if held["interrupt_id"] != interrupt_id:
                async with self._engine.begin() as conn:
                    await conn.execute(
                        update(handoffs)
                        .where(handoffs.c.handoff_id == held["handoff_id"])
                        .values(interrupt_id=interrupt_id)
                    )
            return False
        row = {
            "handoff_id": str(uuid.uuid4()),
            "interrupt_id": interrupt_id,
            "tenant": tenant,
            "thread_id": thread_id,
            "customer_id": payload.get("customer_id"),
            "reason": str(payload.get("reason", "needs_human"))[:64],
            "priority": str(payload.get("priority", "normal")),
            "summary": str(payload.get("summary", "")),
            "status": "open",
            "created_at": utcnow(),
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(handoffs).values(**row))
        except IntegrityError:
            return False
        return True

    async def active(self, tenant: str, thread_id: str) -> dict[str, Any] | None:
        """The thread's handoff a human still holds (open or claimed), if any."""
        query = (
            select(handoffs)
            .where(
                handoffs.c.tenant == tenant,
                handoffs.c.thread_id == thread_id,
                handoffs.c.status.in_(("open", "claimed")),
            )
            .order_by(handoffs.c.created_at.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def list(
        self, tenant: str, status: str | None = None, reason: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first, optionally filtered."""
        query = select(handoffs).where(handoffs.c.tenant == tenant)
        if status:
            query = query.where(handoffs.c.status == status)
        if reason:
            query = query.where(handoffs.c.reason == reason)
        query = query.order_by(handoffs.c.created_at.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, tenant: str, handoff_id: str) -> dict[str, Any]:
        """One record; ``HandoffNotFoundError`` when absent."""
        query = select(handoffs).where(
            handoffs.c.tenant == tenant, handoffs.c.handoff_id == handoff_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise HandoffNotFoundError(handoff_id)
        return dict(row)

    async def transition(
        self, tenant: str, handoff_id: str, allowed: tuple[Status, ...], **values: Any
    ) -> dict[str, Any]:
        """Move a handoff only from ``allowed`` states, atomically (one UPDATE ... WHERE)."""
        await self.get(tenant, handoff_id)
        stmt = (
            update(handoffs)
            .where(
                handoffs.c.tenant == tenant,
                handoffs.c.handoff_id == handoff_id,
                handoffs.c.status.in_(allowed),
            )
            .values(**values)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        if result.rowcount != 1:
            raise HandoffConflictError(handoff_id)
        return await self.get(tenant, handoff_id)

    async def claim(self, tenant: str, handoff_id: str, agent: str) -> dict[str, Any]:
        """Exclusive: only an open handoff can be claimed."""
        return await self.transition(
            tenant, handoff_id, ("open",), status="claimed", claimed_by=agent, claimed_at=utcnow()
        )

    async def close(
        self, tenant: str, handoff_id: str, agent: str, status: Status
    ) -> dict[str, Any]:
        """Resolve (or return to the AI) a handoff this agent holds."""
        record = await self.get(tenant, handoff_id)
        if record["status"] != "claimed" or record["claimed_by"] != agent:
            raise HandoffConflictError(handoff_id)
        return await self.transition(
            tenant, handoff_id, ("claimed",), status=status, resolved_at=utcnow()
        )


def handoff_json(row: dict[str, Any]) -> dict[str, Any]:
    """A handoff as the API and CLI print it (timestamps ISO-8601)."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


async def record_pending(store: HandoffStore, tenant: str, thread_id: str, interrupts: Any) -> None:
    """Queue a record for each pending handoff interrupt of a thread (idempotent)."""
    for item in interrupts:
        is_handoff = isinstance(item.value, dict) and item.value.get("type") == "handoff"
        if is_handoff and await store.record(tenant, thread_id, item.id, item.value):
            # Counted once per handoff (reason codes are a closed set, no free text).
            ESCALATIONS.labels(reason=str(item.value.get("reason", "needs_human"))).inc()
