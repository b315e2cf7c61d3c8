"""Hybrid search over the tenant's knowledge base; every passage is scanned as untrusted."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext
from agent.errors import VectorStoreUnavailableError
from agent.guards.injection import matched_spans, score_text
from agent.metrics import ERRORS
from agent.nodes._common import services
from agent.retrieval.store import Audience, Hit
from agent.services import Services
from agent.state import Passage, SupportState

logger = logging.getLogger(__name__)


def search(
    svc: Services,
    tenant: str,
    question: str,
    k: int,
    audiences: tuple[Audience, ...] = ("customer",),
) -> list[Hit]:
    """Embed the question and run the store's hybrid query (blocking; run in a thread)."""
    vector = svc.embedder.embed([question])[0]
    return svc.store.search(tenant, question, vector, k, audiences)


def neutralise(text: str) -> str:
    """Cut instruction-shaped spans out of a passage, keeping the rest usable."""
    for start, end in sorted(matched_spans(text), reverse=True):
        text = f"{text[:start]}[removed]{text[end:]}"
    return text


def to_passage(hit: Hit) -> Passage | None:
    """A safe passage, or ``None`` when the chunk is an injection attempt."""
    verdict = score_text(hit.chunk.text, mode="document")
    if verdict["verdict"] == "block":
        logger.warning("passage dropped id=%s reasons=%s", hit.chunk.id, verdict["reasons"])
        return None
    text = neutralise(hit.chunk.text) if verdict["verdict"] == "flag" else hit.chunk.text
    return {
        "id": hit.chunk.id,
        "doc_id": hit.chunk.doc_id,
        "title": hit.chunk.title,
        "text": text,
        "similarity": round(hit.similarity, 4),
    }


async def retrieve(
    state: SupportState, runtime: Runtime[RunContext]
) -> Command[Literal["generate", "escalate"]]:
    """Top-k passages for the question, best first; a store outage goes to a human."""
    svc = services(runtime)
    k = runtime.context.retrieval_k or svc.settings.retrieval_k
    ctx = runtime.context
    try:
        hits = await asyncio.to_thread(search, svc, ctx.tenant, state["question"], k, ctx.audiences)
    except VectorStoreUnavailableError:
        logger.warning("knowledge base unavailable, handing off tenant=%s", ctx.tenant)
        ERRORS.labels(type="knowledge_unavailable").inc()
        return Command(
            goto="escalate", update={"passages": [], "handoff_reason": "knowledge_unavailable"}
        )
    passages = [p for p in (to_passage(h) for h in hits) if p is not None]
    passages.sort(key=lambda p: -p["similarity"])
    return Command(goto="generate", update={"passages": passages})
