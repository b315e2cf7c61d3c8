"""Weaviate side of the retrieval benchmark: the same stores and queries against a server.

Runs only when a Weaviate URL is given (``WEAVIATE_URL``). Each size gets its own collection,
dropped afterwards; chunks go in through ``WeaviateStore.add_chunks`` (gRPC batches) and the
search is ``WeaviateStore.search``, split into its BM25 and near-vector halves like Lance's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from weaviate.classes.query import Filter

from agent.retrieval.weaviate_store import VECTOR_NAME, WeaviateStore, connect_weaviate
from benchmarks.retrieval_ingest import chunk_rows
from benchmarks.retrieval_latency import (
    AUDIENCES,
    TENANT,
    K,
    Query,
    Timer,
    run_timers,
)
from benchmarks.retrieval_vectors import SyntheticCorpus

TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class WeaviateTarget:
    """Where the server is; ``grpc_url`` and ``api_key`` as in the app's settings."""

    url: str
    grpc_url: str | None = None
    api_key: str | None = None


def measure_weaviate_size(
    target: WeaviateTarget,
    corpus: SyntheticCorpus,
    n_chunks: int,
    queries: Sequence[Query],
    repeats: int,
) -> dict[str, Any]:
    """Load ``n_chunks`` into a fresh collection, time search, drop the collection."""
    loaded, _ = corpus.split(n_chunks)
    chunks, vectors = chunk_rows(loaded, corpus)
    name = f"SupportFlowBench{n_chunks}"
    client = connect_weaviate(target.url, target.grpc_url, target.api_key, TIMEOUT_S)
    client.collections.delete(name)
    store = WeaviateStore(client, vectors.shape[1], collection=name)
    try:
        started = time.perf_counter()
        store.add_chunks(chunks, vectors)
        seconds = time.perf_counter() - started
        result: dict[str, Any] = {
            "chunks": len(chunks),
            "load": {"seconds": seconds, "rows_per_second": len(chunks) / max(seconds, 1e-9)},
            "tenant_chunks": store.count(TENANT),
            "search": run_timers(_timers(store, client, name), queries, repeats),
        }
    finally:
        client.collections.delete(name)
        store.close()
    return result


def _timers(store: WeaviateStore, client: Any, name: str) -> dict[str, Timer]:
    """``WeaviateStore.search`` and the two queries it is made of, with its filter and pool."""
    collection = client.collections.use(name).with_tenant(TENANT)
    allowed = Filter.by_property("audience").contains_any(list(AUDIENCES))
    pool = max(K * 4, 20)

    def vector(q: Query) -> object:
        return collection.query.near_vector(
            near_vector=q.vector.tolist(),
            target_vector=VECTOR_NAME,
            filters=allowed,
            limit=pool,
            include_vector=True,
        ).objects

    def keyword(q: Query) -> object:
        terms = " ".join(re.findall(r"\w+", q.text))
        return collection.query.bm25(
            query=terms, query_properties=["text"], filters=allowed, limit=pool, include_vector=True
        ).objects

    return {
        "full": lambda q: store.search(TENANT, q.text, q.vector, K, AUDIENCES),
        "vector": vector,
        "keyword": keyword,
    }
