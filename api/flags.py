"""Flags and release pins in the app database; every replica refreshes a snapshot every few s.

Changes are audited (who, when, old → new) in the same transaction as the change, so the
audit trail can never miss one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import suppress
from typing import Any

from sqlalchemy import desc, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent.metrics import ROLLOUT_PERCENT
from agent.rollout import ALL_TENANTS, CAPABILITIES, FlagSnapshot, FlagState, Release, Unit
from agent.settings import TENANT_PATTERN
from api.db import feature_flags, flag_audit, release_pins, utcnow
from prompts import available_versions

logger = logging.getLogger(__name__)


class FlagError(ValueError):
    """A flag change that cannot be applied (unknown flag, bad percentage, nothing to roll back)."""


class FlagStore:
    """Reads and writes flags, their audit trail and the release pins."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def snapshot(self) -> FlagSnapshot:
        """Every flag row and the current pin."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(feature_flags))).mappings().all()
            pin = await _current_pin(conn)
        flags = {
            (r["name"], r["tenant"]): FlagState(r["percent"], r["killed"], r["unit"]) for r in rows
        }
        return FlagSnapshot(flags, Release(pin["prompt_version"], pin["model"]) if pin else None)

    async def rows(self) -> list[dict[str, Any]]:
        """Flag rows for listing, global ones first."""
        query = select(feature_flags).order_by(feature_flags.c.name, feature_flags.c.tenant)
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def change(
        self,
        name: str,
        actor: str,
        *,
        tenant: str = ALL_TENANTS,
        percent: int | None = None,
        killed: bool | None = None,
        unit: Unit | None = None,
    ) -> dict[str, Any]:
        """Set any of percent, killed, unit for one flag (globally or for a tenant); audited."""
        _validate(name, tenant, percent)
        async with self._engine.begin() as conn:
            key = (feature_flags.c.name == name) & (feature_flags.c.tenant == tenant)
            found = (await conn.execute(select(feature_flags).where(key))).mappings().first()
            old = _public(dict(found)) if found else None
            new = {
                "percent": percent if percent is not None else (old or {}).get("percent", 100),
                "killed": killed if killed is not None else (old or {}).get("killed", False),
                "unit": unit or (old or {}).get("unit", "customer"),
            }
            values = {**new, "updated_by": actor, "updated_at": utcnow()}
            if found:
                await conn.execute(update(feature_flags).where(key).values(**values))
            else:
                await conn.execute(insert(feature_flags).values(name=name, tenant=tenant, **values))
            await _audit(conn, name, tenant, actor, old, new)
        logger.info(
            "flag changed name=%s tenant=%s percent=%s killed=%s",
            name,
            tenant,
            new["percent"],
            new["killed"],
        )
        return {"name": name, "tenant": tenant, **new}

    async def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest changes first."""
        query = select(flag_audit).order_by(desc(flag_audit.c.audit_id)).limit(limit)
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def pin(
        self, prompt_version: str, model: str | None, actor: str, reason: str = "release"
    ) -> dict[str, Any]:
        """Make this prompt/model pair the one new runs use; audited."""
        if prompt_version not in available_versions():
            raise FlagError(
                f"unknown prompt version {prompt_version!r}; "
                f"available: {', '.join(available_versions())}"
            )
        async with self._engine.begin() as conn:
            old = await _current_pin(conn)
            row = {
                "prompt_version": prompt_version,
                "model": model,
                "reason": reason,
                "actor": actor,
                "created_at": utcnow(),
            }
            await conn.execute(insert(release_pins).values(**row))
            before = (
                {"prompt_version": old["prompt_version"], "model": old["model"]} if old else None
            )
            after = {"prompt_version": prompt_version, "model": model}
            await _audit(conn, "release", ALL_TENANTS, actor, before, after)
        return row

    async def releases(self, limit: int = 20) -> list[dict[str, Any]]:
        """Pinned releases, newest first."""
        query = select(release_pins).order_by(desc(release_pins.c.pin_id)).limit(limit)
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def rollback(
        self, actor: str, to: str | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """Re-pin the previous distinct release, or prompt version ``to`` (with ``model``)."""
        history = await self.releases(limit=200)
        current = history[0] if history else None
        if to is not None:
            keep_model = model if model is not None else (current or {}).get("model")
            return await self.pin(to, keep_model, actor, reason=f"rollback to {to}")
        for earlier in history[1:]:
            if current is None or (earlier["prompt_version"], earlier["model"]) != (
                current["prompt_version"],
                current["model"],
            ):
                return await self.pin(
                    earlier["prompt_version"], earlier["model"], actor, reason="rollback"
                )
        raise FlagError("no earlier release to roll back to; use --to VERSION")


def _validate(name: str, tenant: str, percent: int | None) -> None:
    if name not in CAPABILITIES:
        raise FlagError(f"unknown flag {name!r}; flags are {', '.join(CAPABILITIES)}")
    if tenant != ALL_TENANTS and not re.match(TENANT_PATTERN, tenant):
        raise FlagError(f"invalid tenant {tenant!r}")
    if percent is not None and not 0 <= percent <= 100:
        raise FlagError("percent must be between 0 and 100")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("percent", "killed", "unit")}


async def _audit(
    conn: AsyncConnection,
    name: str,
    tenant: str,
    actor: str,
    old: dict[str, Any] | None,
    new: dict[str, Any],
) -> None:
    await conn.execute(
        insert(flag_audit).values(
            name=name, tenant=tenant, actor=actor, old=old, new=new, at=utcnow()
        )
    )


async def _current_pin(conn: AsyncConnection) -> dict[str, Any] | None:
    query = select(release_pins).order_by(desc(release_pins.c.pin_id)).limit(1)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


class FlagCache:
    """A replica's view of the flags: refreshed in the background, read without I/O."""

    def __init__(self, store: FlagStore, refresh_s: float) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.snapshot = FlagSnapshot()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> FlagSnapshot:
        """Reload now (also after a change made through this replica)."""
        self.snapshot = await self.store.snapshot()
        for name in CAPABILITIES:
            state = self.snapshot.state(name, ALL_TENANTS)
            ROLLOUT_PERCENT.labels(flag=name).set(0 if state.killed else state.percent)
        return self.snapshot

    async def start(self) -> None:
        """Load once, then keep refreshing; a failed refresh keeps the last snapshot."""
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="flag-refresh")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep serving with the last known flags
                logger.warning("flag refresh failed error=%s", type(exc).__name__)

    async def aclose(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
