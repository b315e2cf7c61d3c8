"""``WeaviateStore`` against a real Weaviate: runs only when ``WEAVIATE_URL`` is set.

Start one with ``docker run -p 8080:8080 -p 50051:50051 cr.weaviate.io/semitechnologies/weaviate``
and run ``WEAVIATE_URL=http://localhost:8080 pytest tests/live``. Optional: ``WEAVIATE_GRPC_URL``
(``host:port``) and ``WEAVIATE_API_KEY``. Each run uses its own collection and drops it after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from agent.retrieval.embedder import Vectors
from agent.retrieval.lance import RRF_K
from agent.retrieval.store import Audience, Chunk
from agent.retrieval.weaviate_store import WeaviateStore, connect_weaviate

pytestmark = pytest.mark.skipif(
    not os.environ.get("WEAVIATE_URL"),
    reason="WEAVIATE_URL is not set: no Weaviate server to run the live suite against",
)

DIM = 8
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def store() -> Iterator[WeaviateStore]:
    client = connect_weaviate(
        os.environ["WEAVIATE_URL"],
        os.environ.get("WEAVIATE_GRPC_URL"),
        os.environ.get("WEAVIATE_API_KEY"),
        timeout_s=10.0,
    )
    name = f"SupportFlowLive{RUN}"
    live = WeaviateStore(client, DIM, collection=name)
    try:
        yield live
    finally:
        client.collections.delete(name)
        live.close()


def tenant(label: str) -> str:
    """A tenant name unique to this run, so tests never see each other's chunks."""
    return f"{label}-{RUN}"


def unit_vectors(count: int, seed: int) -> Vectors:
    rows = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    normalised: Vectors = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


def corpus(owner: str, audience: Audience = "customer") -> list[Chunk]:
    texts = [
        "refunds are paid back to the original card within five days",
        "shipping inside the EU takes three working days",
        "reset your password from the account settings page",
    ]
    return [
        Chunk(f"{owner}-c{i}", "help", owner, audience, f"Help {i}", "help.md", text)
        for i, text in enumerate(texts)
    ]


def test_ingested_chunks_are_found_by_words_and_vector(store: WeaviateStore) -> None:
    acme = tenant("acme")
    chunks, vectors = corpus(acme), unit_vectors(3, seed=1)
    store.add_chunks(chunks, vectors)
    hits = store.search(acme, "refunds card", vectors[0], 2)
    assert hits[0].chunk == chunks[0]
    assert hits[0].score == pytest.approx(2 / (RRF_K + 1))  # first in both rankings
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_tenants_are_isolated(store: WeaviateStore) -> None:
    acme, globex = tenant("iso-acme"), tenant("iso-globex")
    store.add_chunks(corpus(acme), unit_vectors(3, seed=2))
    store.add_chunks(corpus(globex), unit_vectors(3, seed=2))
    hits = store.search(acme, "refunds shipping password", unit_vectors(1, seed=3)[0], 10)
    assert len(hits) == 3
    assert {h.chunk.tenant for h in hits} == {acme}
    assert (store.count(acme), store.count(globex)) == (3, 3)


def test_audience_is_filtered(store: WeaviateStore) -> None:
    owner = tenant("aud")
    store.add_chunks(corpus(owner, audience="agent"), unit_vectors(3, seed=4))
    query = unit_vectors(1, seed=5)[0]
    assert store.search(owner, "refunds", query, 5) == []
    assert len(store.search(owner, "refunds", query, 5, audiences=("agent",))) == 3


def test_re_adding_is_idempotent_and_prune_removes_stale_chunks(store: WeaviateStore) -> None:
    owner = tenant("prune")
    chunks, vectors = corpus(owner), unit_vectors(3, seed=6)
    store.add_chunks(chunks, vectors)
    store.add_chunks(chunks, vectors)
    assert store.count(owner) == 3
    assert store.existing_ids(owner, "help") == {c.id for c in chunks}
    assert store.prune_document(owner, "help", keep={chunks[0].id}) == 2
    assert store.existing_ids(owner, "help") == {chunks[0].id}
    assert store.count(owner) == 1


def test_a_tenant_never_written_to_is_empty(store: WeaviateStore) -> None:
    nobody = tenant("nobody")
    assert store.search(nobody, "refunds", unit_vectors(1, seed=7)[0], 3) == []
    assert store.count(nobody) == 0
    assert store.existing_ids(nobody, "help") == set()
