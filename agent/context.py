"""Per-run context: who is asking, under which tenant, with which prompt and model."""

from __future__ import annotations

from dataclasses import dataclass

from agent.retrieval.store import Audience
from agent.services import Services


@dataclass(frozen=True, slots=True)
class RunContext:
    """Passed with every run (``context=``); the authenticated customer lives only here."""

    services: Services
    """Infrastructure for this run: embedder, store, backends, model factory, settings."""
    tenant: str = "demo"
    customer_id: str | None = None
    """Authenticated customer; tools read this and never an id from the message or model."""
    prompt_version: str = "v1"
    model: str | None = None
    """Model override for this run; ``None`` uses the configured default."""
    audiences: tuple[Audience, ...] = ("customer",)
    """Knowledge-base audiences searched: agents' drafts also see the agent guidelines."""
    retrieval_k: int | None = None
    """Passages to retrieve for this run (replays and forks may change it)."""
    ai_off_reason: str | None = None
    """Set when rollout flags keep the AI out of this conversation: hand it to a human."""
    tools_enabled: bool = True
    """``ai.tools``: order and account lookups; off means those requests go to a human."""
    generation_enabled: bool = True
    """``ai.generation``: model-written answers; off means the deterministic answers."""
