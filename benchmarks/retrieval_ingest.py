"""Ingestion timing for the retrieval benchmark: bulk loading and ``ingest_documents``.

Bulk loading (``add_chunks`` in large batches, then ``finalize``) gives the compact layout a
store has after compaction. ``ingest_documents``, the production path, checks, writes and
prunes one document at a time (one LanceDB fragment each); every store call it makes is timed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.retrieval.chunking import chunk_document
from agent.retrieval.embedder import Embedder, Vectors
from agent.retrieval.ingest import ingest_documents
from agent.retrieval.lance import LanceStore
from agent.retrieval.store import Audience, Chunk, Hit
from benchmarks.retrieval_vectors import Placed, SyntheticCorpus, embed_text

BULK_ROWS = 10_000
"""Rows per ``add_chunks`` call when bulk-loading (one LanceDB fragment each)."""


@dataclass(slots=True)
class TimedStore:
    """Wraps a store and adds up the time spent in each of its methods during ingestion."""

    inner: LanceStore
    seconds: dict[str, float] = field(default_factory=dict)
    per_document: list[float] = field(default_factory=list)

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def existing_ids(self, tenant: str, doc_id: str) -> set[str]:
        """Timed pass-through."""
        with self._timed("existing_ids"):
            return self.inner.existing_ids(tenant, doc_id)

    def add_chunks(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Timed pass-through."""
        with self._timed("add_chunks"):
            self.inner.add_chunks(chunks, vectors)

    def prune_document(self, tenant: str, doc_id: str, keep: set[str]) -> int:
        """Timed pass-through."""
        with self._timed("prune_document"):
            return self.inner.prune_document(tenant, doc_id, keep)

    def finalize(self) -> None:
        """Timed pass-through."""
        with self._timed("finalize"):
            self.inner.finalize()

    def count(self, tenant: str) -> int:
        """Pass-through."""
        return self.inner.count(tenant)

    def search(
        self,
        tenant: str,
        query: str,
        vector: Vectors,
        k: int,
        audiences: Sequence[Audience] = ("customer",),
    ) -> list[Hit]:
        """Pass-through."""
        return self.inner.search(tenant, query, vector, k, audiences)


def ingest(store: LanceStore, placed: Sequence[Placed], embedder: Embedder) -> dict[str, Any]:
    """``ingest_documents`` once per tenant, as the CLI runs it; times every store call."""
    timed = TimedStore(store)
    started = time.perf_counter()
    for tenant in dict.fromkeys(p.tenant for p in placed):
        docs = [p.doc for p in placed if p.tenant == tenant]
        mark = [time.perf_counter()]

        def progress(_: int, mark: list[float] = mark) -> None:
            now = time.perf_counter()
            timed.per_document.append((now - mark[0]) * 1000)
            mark[0] = now

        ingest_documents(docs, tenant=tenant, embedder=embedder, store=timed, progress=progress)
    return _ingest_report(timed, placed, time.perf_counter() - started)


def _ingest_report(timed: TimedStore, placed: Sequence[Placed], seconds: float) -> dict[str, Any]:
    docs = timed.per_document
    tenth = max(1, len(docs) // 10)
    return {
        "documents": len(placed),
        "chunks": sum(p.chunks for p in placed),
        "seconds": seconds,
        "per_document_ms": float(np.mean(docs)) if docs else 0.0,
        "first_tenth_ms": float(np.mean(docs[:tenth])) if docs else 0.0,
        "last_tenth_ms": float(np.mean(docs[-tenth:])) if docs else 0.0,
        "store_seconds": dict(timed.seconds),
    }


def chunk_rows(placed: Sequence[Placed], corpus: SyntheticCorpus) -> tuple[list[Chunk], Vectors]:
    """Every chunk of the documents (deduplicated by id, as ingestion does) and its vector."""
    unique: dict[str, Chunk] = {}
    for doc in placed:
        for chunk in chunk_document(doc.doc, doc.tenant):
            unique.setdefault(chunk.id, chunk)
    chunks = list(unique.values())
    vectors = np.stack([corpus.vectors[embed_text(c.title, c.text)] for c in chunks])
    return chunks, vectors.astype(np.float32)


def bulk_load(store: LanceStore, chunks: Sequence[Chunk], vectors: Vectors) -> dict[str, Any]:
    """Large ``add_chunks`` batches, then ``finalize`` (the FTS index build)."""
    started = time.perf_counter()
    for start in range(0, len(chunks), BULK_ROWS):
        store.add_chunks(chunks[start : start + BULK_ROWS], vectors[start : start + BULK_ROWS])
    added = time.perf_counter()
    store.finalize()
    done = time.perf_counter()
    return {
        "chunks": len(chunks),
        "add_seconds": added - started,
        "finalize_seconds": done - added,
        "seconds": done - started,
        "rows_per_second": len(chunks) / max(done - started, 1e-9),
    }
