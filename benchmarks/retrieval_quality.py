"""Quality side of the retrieval benchmark: recall@5 and MRR on the banking tasks.

The banking documents are ingested into a fresh embedded store with ``ingest_documents`` and
the real embedder; each task's customer message is then searched three ways under the same
prefilter: hybrid (``LanceStore.search``, keyword + vector fused with RRF), vector only and
keyword only. Scores are per document: a needed document counts as found when any of its
chunks is in the top 5.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agent.retrieval.embedder import Embedder
from agent.retrieval.ingest import ingest_documents, load_paths
from agent.retrieval.lance import LanceStore
from benchmarks.retrieval_data import Task
from benchmarks.retrieval_latency import AUDIENCES, percentiles

TENANT = "bank"
TOP = 5
MRR_DEPTH = 10
Ranker = Callable[[Task, int], list[str]]
"""Doc ids of the top ``n`` chunks for a task, best first (repeats kept)."""


def recall_at(ranked: Sequence[str], required: frozenset[str], k: int = TOP) -> float:
    """Share of the needed documents with a chunk in the top ``k``."""
    return len(required & set(ranked[:k])) / len(required)


def reciprocal_rank(ranked: Sequence[str], required: frozenset[str]) -> float:
    """1 / rank of the first chunk from a needed document, 0 if none is ranked."""
    for rank, doc_id in enumerate(ranked, start=1):
        if doc_id in required:
            return 1.0 / rank
    return 0.0


def score(tasks: Sequence[Task], rank: Ranker) -> dict[str, Any]:
    """Mean recall@5, hit@5 (any needed document in the top 5) and MRR@10 over the tasks.

    ``documents_in_top_5``: distinct documents among the top 5 chunks (5 = no repeats).
    """
    recalls, hits, rrs, ms, distinct = [], [], [], [], []
    for task in tasks:
        started = time.perf_counter()
        top = rank(task, TOP)
        ms.append((time.perf_counter() - started) * 1000)
        deep = rank(task, MRR_DEPTH)
        recalls.append(recall_at(top, task.required))
        hits.append(1.0 if task.required & set(top) else 0.0)
        rrs.append(reciprocal_rank(deep, task.required))
        distinct.append(len(set(top)))
    return {
        "recall_at_5": float(np.mean(recalls)),
        "hit_at_5": float(np.mean(hits)),
        "mrr_at_10": float(np.mean(rrs)),
        "documents_in_top_5": float(np.mean(distinct)),
        "latency": percentiles(ms),
    }


def recall_ceiling(tasks: Sequence[Task]) -> float:
    """Best possible recall@5: a task needing 12 documents can find at most 5 of them."""
    return float(np.mean([min(TOP, len(t.required)) / len(t.required) for t in tasks]))


def rankers(store: LanceStore, embedder: Embedder) -> dict[str, Ranker]:
    """Hybrid, vector-only and keyword-only, all under the production prefilter."""
    where = store.prefilter(TENANT, AUDIENCES)

    def vector_of(task: Task) -> Any:
        return embedder.embed([task.message])[0]

    def hybrid(task: Task, n: int) -> list[str]:
        hits = store.search(TENANT, task.message, vector_of(task), n, AUDIENCES)
        return [h.chunk.doc_id for h in hits]

    def vector(task: Task, n: int) -> list[str]:
        return [r["doc_id"] for r in store.vector_half(vector_of(task), where, n)]

    def keyword(task: Task, n: int) -> list[str]:
        return [r["doc_id"] for r in store.keyword_half(task.message, where, n)]

    return {"hybrid (RRF)": hybrid, "vector only": vector, "keyword only": keyword}


def measure_quality(
    banking_dir: Path,
    tasks: Sequence[Task],
    embedder: Embedder,
    workdir: Path,
    max_documents: int | None = None,
) -> dict[str, Any]:
    """Ingest the banking documents, then score the three rankings on ``tasks``.

    ``max_documents`` keeps the store small (for tests): the needed documents, then others.
    """
    docs = load_paths([banking_dir / "documents"])
    if max_documents is not None:
        needed = set().union(*(t.required for t in tasks))
        docs.sort(key=lambda d: d.doc_id not in needed)
        docs = docs[:max_documents]
    path = workdir / "lance-banking"
    store = LanceStore(path, embedder.dim)
    started = time.perf_counter()
    report = ingest_documents(docs, tenant=TENANT, embedder=embedder, store=store)
    seconds = time.perf_counter() - started
    embedder.embed([t.message for t in tasks])  # query vectors cached before timing
    modes = {name: score(tasks, rank) for name, rank in rankers(store, embedder).items()}
    return {
        "documents": report.documents,
        "chunks": report.added,
        "ingest_seconds": seconds,
        "tasks": len(tasks),
        "needed_documents_mean": float(np.mean([len(t.required) for t in tasks])),
        "recall_ceiling": recall_ceiling(tasks),
        "modes": modes,
    }
