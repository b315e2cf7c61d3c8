"""The FastAPI application factory and its lifespan (checkpointer, stores, graph, runs)."""

from __future__ import annotations

import gc
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent.assistant import Graph
from agent.evals.online import RollingScore, score_turn
from agent.metrics import EVAL_BASELINE, EVAL_SCORE
from agent.services import Services
from agent.settings import Settings
from api import errors
from api.admission import Admission
from api.auth import KeyStore, demo_publishable_key
from api.db import open_app_engine
from api.deps import AppResources
from api.events import EventBuffer, MemoryEventBuffer
from api.flags import FlagCache, FlagStore
from api.handoffs import HandoffStore, record_pending
from api.ingest_jobs import IngestJobs
from api.limits import BodyLimitMiddleware
from api.ratelimit import Limits, RateLimiter
from api.request_metrics import RequestMetricsMiddleware
from api.routes import (
    admin,
    agent_desk,
    assistants,
    chat,
    handoffs,
    health,
    ingest,
    metrics,
    pages,
    runs,
    threads,
    traces,
    widget,
)
from api.run_store import RunStore
from api.runs import RunManager, RunRecord
from api.thread_locks import thread_locks
from api.threads import ThreadStore

logger = logging.getLogger(__name__)


def token_secret(settings: Settings) -> str:
    """The configured secret, or one generated once and kept (0600) in the data directory."""
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value()
    path: Path = settings.data_dir / "token-secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: processes starting together all read the
        # one secret that won, never a half-written file.
        draft = path.with_name(f".token-secret.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


async def event_buffer(settings: Settings) -> EventBuffer:
    """Redis streams when configured (falling back to memory per run while Redis is down)."""
    if not settings.redis_url:
        return MemoryEventBuffer()
    from api.events_failover import FailoverEventBuffer
    from api.events_redis import RedisEventBuffer

    return FailoverEventBuffer(RedisEventBuffer.from_url(settings.redis_url))


def after_run(
    graph: Graph, store: HandoffStore, quality: RollingScore
) -> Callable[[RunRecord], Awaitable[None]]:
    """After every run: pending handoffs become (once) queue records; the turn is scored."""

    async def record(run: RunRecord) -> None:
        snapshot = await graph.aget_state({"configurable": {"thread_id": run.thread_id}})
        await record_pending(store, run.tenant, run.thread_id, snapshot.interrupts)
        if run.status == "success":
            values = dict(snapshot.values)
            if snapshot.interrupts:
                values["escalated"] = True  # waiting for a human counts as a handoff
            quality.add(score_turn(values))

    return record


def online_quality(settings: Settings) -> RollingScore:
    """The online eval score over recent turns and agent feedback, exported as a gauge."""
    EVAL_BASELINE.set(settings.online_eval_baseline)
    gauge = EVAL_SCORE.labels(source="online")
    return RollingScore(settings.online_eval_window, on_update=gauge.set)


def create_serving_app() -> FastAPI:
    """What ``supportflow serve`` runs: the app, with the startup's objects frozen out of GC.

    Startup leaves ~265k long-lived objects (modules, models, the graph); a full cyclic
    collection walks them all (~130 ms on the development machine), stalling every open
    stream. ``gc.freeze`` moves them to a permanent generation once the app is ready. Only
    the server process does this: tests build many apps in one process.
    """
    return create_app(freeze_gc=True)


def create_app(
    settings: Settings | None = None, services: Services | None = None, *, freeze_gc: bool = False
) -> FastAPI:
    """Build the app; resources open in the lifespan, so importing this module is cheap."""
    settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, AppResources]]:
        from agent.bootstrap import build_services, close_services
        from agent.checkpoints import open_checkpointer
        from graphs.support import build_graph

        svc = services or build_services(settings)
        engine = await open_app_engine(settings)
        try:
            secret = token_secret(settings)
            keys = KeyStore(engine)
            demo_key = demo_publishable_key(secret) if settings.demo else None
            if demo_key:
                await keys.ensure(demo_key, "customer", settings.tenant, "demo widget")
            handoff_store = HandoffStore(engine)
            limiter = RateLimiter(
                Limits(
                    settings.rate_limit_per_key,
                    settings.rate_limit_per_customer,
                    settings.rate_limit_per_ip,
                ),
                settings.redis_url,
            )
            async with open_checkpointer(settings) as saver:
                graph = build_graph().compile(checkpointer=saver)
                quality = online_quality(settings)
                recorder = after_run(graph, handoff_store, quality)
                buffer = await event_buffer(settings)
                jobs = IngestJobs(engine, svc)
                flags = FlagCache(FlagStore(engine), settings.flags_refresh_s)
                await flags.start()
                manager = RunManager(
                    graph,
                    buffer,
                    RunStore(engine),
                    recorder,
                    admission=Admission(
                        settings.max_concurrent_runs,
                        settings.max_queued_runs,
                        settings.queue_timeout_s,
                    ),
                    locks=thread_locks(engine),
                )
                if freeze_gc:
                    gc.collect()
                    gc.freeze()
                try:
                    yield {
                        "sf": AppResources(
                            settings,
                            svc,
                            manager,
                            keys,
                            ThreadStore(engine),
                            secret,
                            demo_key,
                            handoff_store,
                            limiter,
                            jobs,
                            flags,
                            quality,
                        )
                    }
                finally:
                    await flags.aclose()
                    await jobs.aclose()
                    await manager.shutdown()
                    await buffer.aclose()
                    await limiter.aclose()
        finally:
            await engine.dispose()
            if services is None:
                await close_services(svc)

    app = FastAPI(
        title="SupportFlow",
        version="0.1.0",
        description="Agentic customer support: LangGraph-compatible API and a chat widget.",
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger={"/v1/ingest/": settings.max_ingest_bytes},
    )
    app.add_middleware(RequestMetricsMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["x-api-key", "authorization", "content-type", "last-event-id"],
            expose_headers=["location", "content-location"],
        )
    errors.install(app)
    for router in (
        health.router,
        metrics.router,
        ingest.router,
        admin.router,
        widget.router,
        chat.router,
        handoffs.router,
        traces.router,
        agent_desk.router,
        pages.router,
        assistants.router,
        threads.router,
        runs.router,
    ):
        app.include_router(router)
    return app
