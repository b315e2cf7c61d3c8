"""Ingestion as background jobs: accepted at once (202), run one at a time, progress stored.

Job rows live in the app database, so any replica can report a job's progress. Each process
runs its own jobs in order; the queue is bounded and a full queue is refused with 503 before
anything is stored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import uuid
from contextlib import suppress
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.retrieval.ingest import IngestReport, ingest_documents
from agent.retrieval.loaders import Document
from agent.services import Services
from api.admission import OverloadedError
from api.db import ingest_jobs, utcnow

logger = logging.getLogger(__name__)

MAX_QUEUED_JOBS = 8


class IngestJobNotFoundError(LookupError):
    """No such job for this tenant."""


class IngestJobs:
    """The job table plus this process's worker."""

    def __init__(self, engine: AsyncEngine, services: Services) -> None:
        self._engine = engine
        self._services = services
        self._queue: asyncio.Queue[tuple[str, str, list[Document]]] = asyncio.Queue(MAX_QUEUED_JOBS)
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, tenant: str, docs: list[Document], created_by: str) -> dict[str, Any]:
        """Store a queued job and hand it to the worker; 503 when the queue is full."""
        if self._queue.full():
            raise OverloadedError("ingest_queue_full", 30)
        job_id = str(uuid.uuid4())
        now = utcnow()
        row = {
            "job_id": job_id,
            "tenant": tenant,
            "status": "queued",
            "total": len(docs),
            "done": 0,
            "report": None,
            "error": None,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(ingest_jobs).values(**row))
        self._queue.put_nowait((job_id, tenant, docs))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="ingest-worker")
        return row

    async def get(self, tenant: str, job_id: str) -> dict[str, Any]:
        """A job of this tenant."""
        query = select(ingest_jobs).where(
            ingest_jobs.c.job_id == job_id, ingest_jobs.c.tenant == tenant
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise IngestJobNotFoundError(job_id)
        return dict(row)

    async def drain(self) -> None:
        """Wait until every accepted job has finished (tests and graceful shutdown)."""
        await self._queue.join()

    async def aclose(self, grace_s: float = 30.0) -> None:
        """Finish accepted jobs (bounded by ``grace_s``), then stop the worker.

        Jobs still waiting after the grace period stay ``queued`` in the table.
        """
        if self._worker is None:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace_s)
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            job_id, tenant, docs = await self._queue.get()
            try:
                await self._run(job_id, tenant, docs)
            finally:
                self._queue.task_done()

    async def _run(self, job_id: str, tenant: str, docs: list[Document]) -> None:
        await self._set(job_id, status="running")
        loop = asyncio.get_running_loop()
        done = 0
        updates: list[concurrent.futures.Future[None]] = []

        def progress(step: int) -> None:  # called from the ingestion thread
            nonlocal done
            done += step
            updates.append(asyncio.run_coroutine_threadsafe(self._set(job_id, done=done), loop))

        svc = self._services
        report: IngestReport | None
        try:
            report = await asyncio.to_thread(
                ingest_documents,
                docs,
                tenant=tenant,
                embedder=svc.embedder,
                store=svc.store,
                progress=progress,
                detector=svc.detector,
            )
        except Exception as exc:  # a failed job is reported on the job, never crashes the app
            logger.warning("ingest job failed job_id=%s error=%s", job_id, type(exc).__name__)
            report = None
        # Progress writes land before the final one, so "done" never goes backwards.
        await asyncio.gather(*(asyncio.wrap_future(u) for u in updates), return_exceptions=True)
        if report is None:
            await self._set(job_id, status="failed", error="ingestion failed; see server logs")
            return
        await self._set(job_id, status="done", done=len(docs), report=dataclasses.asdict(report))

    async def _set(self, job_id: str, **changes: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(ingest_jobs)
                .where(ingest_jobs.c.job_id == job_id)
                .values(**changes, updated_at=utcnow())
            )
