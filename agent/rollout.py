"""Feature flags for the AI: stable percentage cohorts, per-tenant overrides, kill switches.

Capabilities are ``ai`` (the assistant as a whole), ``ai.tools`` (order and account tools) and
``ai.generation`` (model-written answers). A flag is on for an id when it is not killed and
the id's bucket (a hash of flag name and id, 0..9999) is below ``percent * 100``; raising the
percentage only adds ids, so the cohort at 5% stays in at 25% and 100%.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

FlagName = Literal["ai", "ai.tools", "ai.generation"]
CAPABILITIES: tuple[FlagName, ...] = ("ai", "ai.tools", "ai.generation")
Unit = Literal["customer", "tenant", "thread"]
ALL_TENANTS = "*"
BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class FlagState:
    """One flag's setting for a tenant (or for every tenant, ``ALL_TENANTS``)."""

    percent: int = 100
    killed: bool = False
    unit: Unit = "customer"
    """Which id the cohort is hashed on: the customer, the tenant or the conversation."""


@dataclass(frozen=True, slots=True)
class Release:
    """The pinned prompt and model for new runs (rollback re-pins an earlier one)."""

    prompt_version: str
    model: str | None = None


@dataclass(frozen=True, slots=True)
class FlagSnapshot:
    """Everything a replica needs to decide, loaded from the app database every few seconds."""

    flags: dict[tuple[str, str], FlagState] = field(default_factory=dict)
    release: Release | None = None

    def state(self, name: FlagName, tenant: str) -> FlagState:
        """The tenant's override, else the global setting, else on for everyone."""
        return self.flags.get((name, tenant)) or self.flags.get((name, ALL_TENANTS)) or FlagState()


@dataclass(frozen=True, slots=True)
class Decision:
    """What a run may do; ``ai_off_reason`` set means "hand straight to a human"."""

    ai_off_reason: str | None = None
    tools: bool = True
    generation: bool = True


def bucket(name: str, stable_id: str) -> int:
    """The id's fixed position (0..9999) for this flag; independent across flags."""
    digest = hashlib.sha256(f"{name}:{stable_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def enabled(state: FlagState, name: str, stable_id: str) -> bool:
    """Not killed and inside the rollout percentage."""
    return not state.killed and bucket(name, stable_id) < state.percent * (BUCKETS // 100)


def _unit_id(state: FlagState, tenant: str, customer_id: str | None, thread_id: str) -> str:
    if state.unit == "tenant":
        return tenant
    if state.unit == "customer" and customer_id:
        return f"{tenant}:{customer_id}"
    return thread_id


def decide(
    snapshot: FlagSnapshot, tenant: str, customer_id: str | None, thread_id: str
) -> Decision:
    """Evaluate the three capabilities for one run."""
    outcome: dict[str, bool] = {}
    for name in CAPABILITIES:
        state = snapshot.state(name, tenant)
        outcome[name] = enabled(state, name, _unit_id(state, tenant, customer_id, thread_id))
    ai = snapshot.state("ai", tenant)
    reason = None if outcome["ai"] else ("kill_switch" if ai.killed else "rollout")
    return Decision(reason, outcome["ai.tools"], outcome["ai.generation"])
