"""Embedded-store side of the retrieval benchmark: ingestion time and warm search latency.

A store of N chunks is bulk-loaded (``add_chunks`` in large batches, then ``finalize``), which
gives the compact layout a store has after compaction; ``ingest_documents``, the production
path, writes one LanceDB fragment per document, and its cost is measured separately (in full
at the smallest size, and per document when adding to each large store).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.retrieval.embedder import Vectors
from agent.retrieval.lance import LanceStore
from agent.retrieval.store import Audience
from benchmarks.retrieval_ingest import bulk_load, chunk_rows, ingest
from benchmarks.retrieval_vectors import LookupEmbedder, SyntheticCorpus

REPO = Path(__file__).resolve().parents[1]
TENANT = "acme"
AUDIENCES: tuple[Audience, ...] = ("customer",)
K = 4
"""``Settings.retrieval_k``'s default: what a production turn asks for."""
INCREMENT_DOCS = 20
"""Documents added one by one to each bulk-loaded store, to time incremental ingestion."""


@dataclass(frozen=True, slots=True)
class Query:
    """A customer question and its (real) embedding."""

    text: str
    vector: Vectors
    kind: str = "question"
    """``question`` (a short help-centre question) or ``opening`` (a banking first message)."""


def percentiles(ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and count of a list of milliseconds."""
    values = np.asarray(ms, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "n": len(values),
    }


Timer = Callable[[Query], object]


def time_search(store: LanceStore, queries: Sequence[Query], repeats: int) -> dict[str, Any]:
    """Warm p50/p95 of the full search and of its two halves, interleaved per query."""
    where = store.prefilter(TENANT, AUDIENCES)
    pool = max(K * 4, 20)
    timers: dict[str, Timer] = {
        "full": lambda q: store.search(TENANT, q.text, q.vector, K, AUDIENCES),
        "vector": lambda q: store.vector_half(q.vector, where, pool),
        "keyword": lambda q: store.keyword_half(q.text, where, pool),
    }
    return run_timers(timers, queries, repeats)


def run_timers(timers: dict[str, Timer], queries: Sequence[Query], repeats: int) -> dict[str, Any]:
    """One untimed warm-up pass, then ``repeats`` timed passes over every query.

    Percentiles over all queries, and per kind of query under ``by_kind``.
    """
    for query in queries:
        for timer in timers.values():
            timer(query)
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for query in queries:
            for name, timer in timers.items():
                started = time.perf_counter()
                timer(query)
                elapsed = (time.perf_counter() - started) * 1000
                samples.setdefault((name, query.kind), []).append(elapsed)
    result: dict[str, Any] = {
        name: percentiles([ms for (n, _), v in samples.items() if n == name for ms in v])
        for name in timers
    }
    kinds = dict.fromkeys(kind for _, kind in samples)
    result["by_kind"] = {
        kind: {name: percentiles(samples[(name, kind)]) for name in timers} for kind in kinds
    }
    return result


def disk_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def rss_mb() -> float:
    """Resident set size of the benchmark process (its peak where /proc is missing)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        pages = int(statm.read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of the benchmark process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serving_rss(path: Path, queries: Sequence[Query], workdir: Path) -> dict[str, float]:
    """RSS of a fresh process that opens the store and serves the queries (MB)."""
    file = workdir / "queries.npz"
    texts = np.array([q.text for q in queries])
    np.savez(file, texts=texts, vectors=np.stack([q.vector for q in queries]))
    command = [sys.executable, "-m", "benchmarks.retrieval_serve", str(path), str(file)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=600, cwd=REPO
    )
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def measure_size(
    corpus: SyntheticCorpus,
    n_chunks: int,
    queries: Sequence[Query],
    workdir: Path,
    repeats: int,
) -> dict[str, Any]:
    """Bulk-load ``n_chunks``, time search, then add the corpus's spare documents one by one."""
    gc.collect()
    rss_before = rss_mb()
    loaded, spare = corpus.split(n_chunks)
    chunks, vectors = chunk_rows(loaded, corpus)
    path = workdir / f"lance-{n_chunks}"
    store = LanceStore(path, vectors.shape[1])
    result: dict[str, Any] = {"chunks": len(chunks), "documents": len(loaded)}
    result["bulk_load"] = bulk_load(store, chunks, vectors)
    result["tenant_chunks"] = store.count(TENANT)
    result["search"] = time_search(store, queries, repeats)
    result["serving_rss_mb"] = serving_rss(path, queries, workdir)
    result["vector_indexes"] = store.vector_indexes()
    result["disk_mb"] = disk_bytes(path) / 2**20
    lookup = LookupEmbedder(corpus.vectors, "synthetic", vectors.shape[1])
    result["incremental_ingest"] = ingest(store, spare[:INCREMENT_DOCS], lookup)
    result["disk_mb_after_ingest"] = disk_bytes(path) / 2**20
    result["rss_mb"] = rss_mb()
    result["peak_rss_mb"] = peak_rss_mb()
    result["rss_growth_mb"] = result["rss_mb"] - rss_before
    return result


def measure_per_document_store(
    corpus: SyntheticCorpus, n_chunks: int, queries: Sequence[Query], workdir: Path, repeats: int
) -> dict[str, Any]:
    """The production path end to end: ``ingest_documents`` per document, then search."""
    loaded, _ = corpus.split(n_chunks)
    path = workdir / f"lance-per-document-{n_chunks}"
    dim = next(iter(corpus.vectors.values())).shape[0]
    store = LanceStore(path, dim)
    result = ingest(store, loaded, LookupEmbedder(corpus.vectors, "synthetic", dim))
    result["search"] = time_search(store, queries, repeats)
    result["disk_mb"] = disk_bytes(path) / 2**20
    return result
