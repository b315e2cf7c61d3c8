"""Per-run context for API runs: the caller, the pinned release and the rollout decision."""

from __future__ import annotations

import dataclasses

from agent.context import RunContext
from agent.metrics import ROLLOUT_DECISIONS
from agent.rollout import decide
from api.deps import AppResources


def run_context(
    res: AppResources,
    tenant: str,
    customer_id: str | None,
    thread_id: str,
    *,
    prompt_version: str | None = None,
    model: str | None = None,
    human_takeover: bool = False,
) -> RunContext:
    """Explicit overrides win, then the pinned release, then settings; flags decide the rest.

    ``human_takeover``: a human holds this conversation, so the AI stays out of it.
    """
    snapshot = res.flags.snapshot
    decision = decide(snapshot, tenant, customer_id, thread_id)
    if human_takeover:
        decision = dataclasses.replace(decision, ai_off_reason="human_takeover")
    ROLLOUT_DECISIONS.labels(
        flag="ai", result="on" if decision.ai_off_reason is None else decision.ai_off_reason
    ).inc()
    release = snapshot.release
    return RunContext(
        services=res.services,
        tenant=tenant,
        customer_id=customer_id,
        prompt_version=prompt_version
        or (release.prompt_version if release else res.settings.prompt_version),
        model=model or (release.model if release else None),
        ai_off_reason=decision.ai_off_reason,
        tools_enabled=decision.tools,
        generation_enabled=decision.generation,
    )
