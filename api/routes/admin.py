"""Admin: feature flags and kill switches, release pins and rollback, alert-driven actions."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from agent.rollout import ALL_TENANTS, FlagName, Unit
from api.deps import AdminDep, ResourcesDep
from api.flags import FlagError

router = APIRouter(prefix="/v1/admin", tags=["admin"])
logger = logging.getLogger(__name__)


class FlagChange(BaseModel):
    """Any of the three; ``tenant`` scopes the change to one tenant (default: everyone)."""

    percent: int | None = Field(default=None, ge=0, le=100)
    killed: bool | None = None
    unit: Unit | None = None
    tenant: str = ALL_TENANTS


class PinRequest(BaseModel):
    """A prompt version (folder under ``prompts/``) and optionally a model name."""

    prompt_version: str = Field(pattern=r"^v[0-9]+[a-z0-9_-]*$")
    model: str | None = Field(default=None, max_length=128)


class RollbackRequest(BaseModel):
    """Without ``to``: the previous distinct release."""

    to: str | None = Field(default=None, pattern=r"^v[0-9]+[a-z0-9_-]*$")
    model: str | None = Field(default=None, max_length=128)


class AlertPayload(BaseModel):
    """Alertmanager's webhook body (the parts used here)."""

    alerts: list[dict[str, Any]] = Field(default_factory=list)


@router.get("/flags")
async def list_flags(who: AdminDep, res: ResourcesDep) -> dict[str, Any]:
    """Stored flag rows and the pinned release (absent rows mean on for everyone)."""
    return {
        "flags": await res.flags.store.rows(),
        "releases": await res.flags.store.releases(limit=10),
    }


@router.put("/flags/{name}")
async def change_flag(
    name: FlagName, body: FlagChange, who: AdminDep, res: ResourcesDep
) -> dict[str, Any]:
    """Set a flag's rollout percentage, kill state or cohort unit; audited; live in seconds."""
    changed = await res.flags.store.change(
        name,
        who.key_id,
        tenant=body.tenant,
        percent=body.percent,
        killed=body.killed,
        unit=body.unit,
    )
    await res.flags.refresh()
    return changed


@router.get("/flags/audit")
async def flag_audit(who: AdminDep, res: ResourcesDep) -> list[dict[str, Any]]:
    """Who changed what, newest first."""
    return await res.flags.store.audit()


@router.post("/releases")
async def pin_release(body: PinRequest, who: AdminDep, res: ResourcesDep) -> dict[str, Any]:
    """Pin the prompt/model new runs use."""
    pinned = await res.flags.store.pin(body.prompt_version, body.model, who.key_id)
    await res.flags.refresh()
    return pinned


@router.post("/rollback")
async def rollback(body: RollbackRequest, who: AdminDep, res: ResourcesDep) -> dict[str, Any]:
    """Re-pin the previous release (or ``to``) without a deploy."""
    pinned = await res.flags.store.rollback(who.key_id, body.to, body.model)
    await res.flags.refresh()
    return pinned


Action = Literal["disable_ai", "rollback"]


@router.post("/alerts")
async def alert_webhook(body: AlertPayload, who: AdminDep, res: ResourcesDep) -> dict[str, Any]:
    """Auto-remediation: firing alerts labelled ``action`` kill the AI or roll back.

    Point an Alertmanager receiver here with an admin key; every action is audited with the
    alert's name as the actor.
    """
    done: list[dict[str, str]] = []
    for alert in body.alerts:
        labels = alert.get("labels") or {}
        action = labels.get("action")
        if alert.get("status") != "firing" or action not in ("disable_ai", "rollback"):
            continue
        actor = f"alert:{str(labels.get('alertname', 'unnamed'))[:50]}"
        try:
            if action == "disable_ai":
                await res.flags.store.change("ai", actor, killed=True)
            else:
                await res.flags.store.rollback(actor)
        except FlagError as exc:  # e.g. nothing to roll back to: report, keep going
            done.append({"action": action, "actor": actor, "skipped": str(exc)})
            continue
        logger.warning("alert action applied action=%s actor=%s", action, actor)
        done.append({"action": action, "actor": actor})
    await res.flags.refresh()
    return {"applied": done}
