"""Contract tests: ``WeaviateStore`` through the real weaviate-client against a local fake."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    search_get_pb2,
)
from weaviate.util import generate_uuid5

from agent.errors import ChunkWriteError, VectorStoreUnavailableError
from agent.retrieval import weaviate_store
from agent.retrieval.embedder import Vectors
from agent.retrieval.ingest import ingest_documents
from agent.retrieval.lance import TABLE, LanceStore, rrf_fuse
from agent.retrieval.loaders import Document
from agent.retrieval.store import Audience, Chunk
from agent.retrieval.weaviate_store import (
    WeaviateStore,
    chunk_uuid,
    connect_weaviate,
)
from tests.weaviate_fake import FakeWeaviate, StoredObject, result_for, running_fake

DIM = 16
COLLECTION = "SupportChunk"
TIMEOUT_S = 2.0
FAST_TIMEOUT_S = 0.5
"""Deadline for the failure tests: each must fail within a small multiple of it."""
Filters = base_pb2.Filters


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeaviate]:
    with running_fake() as server:
        yield server


@pytest.fixture
def connect(fake: FakeWeaviate) -> Iterator[Callable[[float], WeaviateStore]]:
    """Fresh fake state, then stores on new clients, all closed after the test."""
    fake.reset()
    stores: list[WeaviateStore] = []

    def make(timeout_s: float = TIMEOUT_S) -> WeaviateStore:
        client = connect_weaviate(fake.http_url, fake.grpc_url, None, timeout_s)
        stores.append(WeaviateStore(client, DIM))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(connect: Callable[[float], WeaviateStore]) -> WeaviateStore:
    return connect(TIMEOUT_S)


def unit_vectors(count: int, seed: int) -> Vectors:
    rows = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    normalised: Vectors = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


def chunk(
    cid: str, text: str, tenant: str = "acme", doc: str = "d1", audience: Audience = "customer"
) -> Chunk:
    return Chunk(cid, doc, tenant, audience, f"Title {cid}", f"{doc}.md", text)


def searches(fake: FakeWeaviate) -> list[search_get_pb2.SearchRequest]:
    return fake.recorded(search_get_pb2.SearchRequest)


def audience_filter(audiences: Sequence[str]) -> Filters:
    return Filters(
        operator=Filters.OPERATOR_CONTAINS_ANY,
        target=base_pb2.FilterTarget(property="audience"),
        value_text_array=base_pb2.TextArray(values=list(audiences)),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- connection and schema ----------------------------------------------------------------


def test_connect_checks_rest_and_grpc_readiness_itself(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    paths = [call.path for call in fake.rest_calls]
    assert paths[:3] == ["/v1/meta", "/v1/.well-known/ready", "/v1/.well-known/live"]
    assert fake.recorded(health_weaviate_pb2.WeaviateHealthCheckRequest)
    assert not [p for p in paths if "openid" in p]


def test_collection_is_created_with_our_vectors_cosine_and_native_tenancy(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    (create,) = [c for c in fake.rest_calls if c.method == "POST"]
    body = create.body
    assert create.path == "/v1/schema"
    assert body["class"] == COLLECTION
    assert body["vectorConfig"] == {
        "default": {
            "vectorizer": {"none": {}},
            "vectorIndexType": "hnsw",
            "vectorIndexConfig": {"distance": "cosine"},
        }
    }
    assert "vectorizer" not in body
    assert body["multiTenancyConfig"] == {
        "enabled": True,
        "autoTenantCreation": True,
        "autoTenantActivation": True,
    }
    props = {p["name"]: p for p in body["properties"]}
    assert set(props) == {"chunk_id", "doc_id", "tenant", "audience", "title", "source", "text"}
    assert all(p["dataType"] == ["text"] for p in props.values())
    for name in ("chunk_id", "doc_id", "tenant", "audience", "source"):
        assert props[name]["tokenization"] == "field"
        assert props[name]["indexFilterable"] is True
        assert props[name]["indexSearchable"] is False
    assert props["text"]["tokenization"] == props["title"]["tokenization"] == "word"


def test_an_existing_collection_is_reused(
    fake: FakeWeaviate, connect: Callable[[float], WeaviateStore]
) -> None:
    connect(TIMEOUT_S)
    connect(TIMEOUT_S)
    creates = [c for c in fake.rest_calls if c.method == "POST" and c.path == "/v1/schema"]
    lookups = [c for c in fake.rest_calls if c.path == f"/v1/schema/{COLLECTION}"]
    assert len(creates) == 1
    assert len(lookups) == 2


def test_losing_the_creation_race_to_another_replica_is_fine(
    fake: FakeWeaviate, connect: Callable[[float], WeaviateStore]
) -> None:
    connect(TIMEOUT_S)  # "the other replica" creates the collection
    stale_lookups = iter([(404, None)])

    def not_yet_visible(method: str, path: str) -> tuple[int, Any] | None:
        if method == "GET" and path == f"/v1/schema/{COLLECTION}":
            return next(stale_lookups, None)
        return None

    fake.rest_override = not_yet_visible
    store = connect(TIMEOUT_S)
    store.add_chunks([chunk("c1", "refund")], unit_vectors(1, seed=0))
    posts = [c for c in fake.rest_calls if c.method == "POST"]
    assert [c.path for c in posts] == ["/v1/schema", "/v1/schema"]  # second one got a 422
    assert store.count("acme") == 1


def test_a_refused_collection_creation_raises_a_typed_error(
    fake: FakeWeaviate, connect: Callable[[float], WeaviateStore]
) -> None:
    fake.rest_override = lambda method, path: (
        (422 if method == "POST" else 404, {"error": [{"message": "invalid schema"}]})
        if path.startswith("/v1/schema")
        else None
    )
    with pytest.raises(VectorStoreUnavailableError, match="create the collection"):
        connect(TIMEOUT_S)


# --- writes -------------------------------------------------------------------------------


def test_batch_insert_sends_our_vectors_and_deterministic_uuids(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    chunks = [chunk("c1", "refund policy"), chunk("c2", "shipping times")]
    vectors = unit_vectors(2, seed=1)
    store.add_chunks(chunks, vectors)

    (request,) = fake.recorded(batch_pb2.BatchObjectsRequest)
    for sent, original, vector in zip(request.objects, chunks, vectors, strict=True):
        assert sent.collection == COLLECTION
        assert sent.tenant == "acme"
        assert sent.uuid == chunk_uuid("acme", original.id) == generate_uuid5(f"acme/{original.id}")
        (named,) = sent.vectors
        assert named.name == "default"
        assert named.vector_bytes == vector.astype(np.float32).tobytes()
        fields = {k: v.string_value for k, v in sent.properties.non_ref_properties.fields.items()}
        assert fields == {
            "chunk_id": original.id,
            "doc_id": "d1",
            "tenant": "acme",
            "audience": "customer",
            "title": original.title,
            "source": "d1.md",
            "text": original.text,
        }


def test_re_adding_the_same_chunks_is_idempotent(fake: FakeWeaviate, store: WeaviateStore) -> None:
    chunks = [chunk("c1", "refund policy"), chunk("c2", "shipping times")]
    store.add_chunks(chunks, unit_vectors(2, seed=1))
    store.add_chunks(chunks, unit_vectors(2, seed=1))
    first, second = fake.recorded(batch_pb2.BatchObjectsRequest)
    assert [o.uuid for o in first.objects] == [o.uuid for o in second.objects]
    assert store.count("acme") == 2


def test_the_same_chunk_id_gets_a_different_uuid_per_tenant() -> None:
    assert chunk_uuid("acme", "c1") != chunk_uuid("globex", "c1")
    assert chunk_uuid("acme", "c1") == chunk_uuid("acme", "c1")


def test_large_writes_are_split_into_batches(
    fake: FakeWeaviate, store: WeaviateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weaviate_store, "BATCH_SIZE", 2)
    chunks = [chunk(f"c{i}", f"text {i}") for i in range(5)]
    store.add_chunks(chunks, unit_vectors(5, seed=2))
    sizes = [len(r.objects) for r in fake.recorded(batch_pb2.BatchObjectsRequest)]
    assert sizes == [2, 2, 1]
    assert store.count("acme") == 5


def test_rejected_objects_raise_a_typed_error_naming_the_chunks(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    def reject_c2(obj: batch_pb2.BatchObject) -> str | None:
        fields = obj.properties.non_ref_properties.fields
        return "vector dimension mismatch" if fields["chunk_id"].string_value == "c2" else None

    fake.batch_error = reject_c2
    with pytest.raises(ChunkWriteError) as raised:
        store.add_chunks([chunk("c1", "a"), chunk("c2", "b")], unit_vectors(2, seed=3))
    assert raised.value.failures == {"c2": "vector dimension mismatch"}
    assert store.existing_ids("acme", "d1") == {"c1"}


def test_a_batch_where_every_object_fails_raises_a_typed_error(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    fake.batch_error = lambda obj: "disk full"
    with pytest.raises(ChunkWriteError) as raised:
        store.add_chunks([chunk("c1", "a"), chunk("c2", "b")], unit_vectors(2, seed=3))
    assert set(raised.value.failures) == {"c1", "c2"}
    assert all("disk full" in reason for reason in raised.value.failures.values())


def test_vectors_of_the_wrong_width_are_refused_before_any_request(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    with pytest.raises(ValueError, match=r"width 16, got \(1, 3\)"):
        store.add_chunks([chunk("c1", "a")], np.ones((1, 3), dtype=np.float32))
    assert fake.recorded(batch_pb2.BatchObjectsRequest) == []


def test_invalid_tenant_names_are_refused_before_any_request(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    with pytest.raises(ValueError, match="tenant"):
        store.search("acme corp!", "refund", unit_vectors(1, seed=0)[0], 3)
    assert searches(fake) == []


# --- search requests ----------------------------------------------------------------------


@pytest.mark.parametrize(("k", "pool"), [(3, 20), (5, 20), (10, 40)])
def test_search_sends_one_bm25_and_one_near_vector_request(
    fake: FakeWeaviate, store: WeaviateStore, k: int, pool: int
) -> None:
    store.add_chunks([chunk("c1", "refund policy")], unit_vectors(1, seed=3))
    query_vector = unit_vectors(1, seed=4)[0]
    store.search("acme", "Refund policy?!", query_vector, k, audiences=("customer", "agent"))

    keyword, vector = searches(fake)
    assert keyword.bm25_search.query == "Refund policy"
    assert list(keyword.bm25_search.properties) == ["text"]
    assert not keyword.HasField("near_vector")
    assert not vector.HasField("bm25_search")
    assert vector.near_vector.vectors[0].vector_bytes == query_vector.tobytes()
    assert list(vector.near_vector.targets.target_vectors) == ["default"]
    for request in (keyword, vector):
        assert request.collection == COLLECTION
        assert request.tenant == "acme"
        assert request.limit == pool
        assert request.filters == audience_filter(["customer", "agent"])
        assert request.metadata.vector is True
        assert set(request.properties.non_ref_properties) == {
            "chunk_id",
            "doc_id",
            "tenant",
            "audience",
            "title",
            "source",
            "text",
        }
        assert not request.HasField("hybrid_search")


def test_a_query_without_words_searches_by_vector_only(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    vectors = unit_vectors(3, seed=5)
    store.add_chunks([chunk("a", "x"), chunk("b", "y"), chunk("c", "z")], vectors)
    hits = store.search("acme", "?! …", vectors[1], 3)
    (request,) = searches(fake)
    assert request.HasField("near_vector")
    assert hits[0].chunk.id == "b"
    assert [h.score for h in hits] == [1 / 61, 1 / 62, 1 / 63]


def test_canned_replies_become_hits_with_rrf_scores_ties_broken_by_id(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    vectors = unit_vectors(5, seed=6)
    objects = {
        cid: StoredObject(chunk_uuid("acme", cid), _properties(chunk(cid, f"text {cid}")), vec)
        for cid, vec in zip(["c1", "c2", "c3", "c4", "c5"], vectors, strict=True)
    }
    keyword, vector = ["c3", "c5", "c1"], ["c1", "c2", "c4"]

    def canned(request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        ids = keyword if request.HasField("bm25_search") else vector
        return search_get_pb2.SearchReply(results=[result_for(objects[i], request) for i in ids])

    fake.search_override = canned
    query_vector = unit_vectors(1, seed=7)[0]
    hits = store.search("acme", "anything", query_vector, 4)

    expected = rrf_fuse(keyword, vector)
    assert [h.chunk.id for h in hits] == ["c1", "c3", "c2", "c5"]  # c2 and c5 tie at 1/62
    assert [h.score for h in hits] == [expected[h.chunk.id] for h in hits]
    for hit in hits:
        assert hit.chunk == chunk(hit.chunk.id, f"text {hit.chunk.id}")
        stored = objects[hit.chunk.id].vector
        assert hit.similarity == pytest.approx(float(np.dot(stored, query_vector)), abs=1e-6)


def test_results_carrying_another_tenant_are_dropped(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    """Defence in depth: even a misbehaving server cannot hand acme a globex chunk."""
    vectors = unit_vectors(2, seed=20)
    mine = StoredObject(chunk_uuid("acme", "a1"), _properties(chunk("a1", "refund")), vectors[0])
    theirs = StoredObject(
        chunk_uuid("globex", "g1"), _properties(chunk("g1", "refund", tenant="globex")), vectors[1]
    )
    fake.search_override = lambda request: search_get_pb2.SearchReply(
        results=[result_for(theirs, request), result_for(mine, request)]
    )
    hits = store.search("acme", "refund", vectors[1], 5)
    assert [(h.chunk.id, h.score) for h in hits] == [("a1", 2 / 61)]


def test_search_only_returns_allowed_audiences(store: WeaviateStore) -> None:
    vectors = unit_vectors(2, seed=8)
    store.add_chunks(
        [chunk("pub", "refund rules"), chunk("int", "refund rules", audience="agent")], vectors
    )
    customer = store.search("acme", "refund", vectors[1], 5)
    both = store.search("acme", "refund", vectors[1], 5, audiences=("customer", "agent"))
    assert [h.chunk.id for h in customer] == ["pub"]
    assert {h.chunk.id for h in both} == {"pub", "int"}
    assert store.search("acme", "refund", vectors[1], 5, audiences=()) == []


# --- tenancy ------------------------------------------------------------------------------


def test_a_tenant_never_sees_another_tenants_chunks(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    vectors = unit_vectors(4, seed=9)
    store.add_chunks(
        [
            chunk("a1", "refund policy", tenant="acme"),
            chunk("a2", "shipping", tenant="acme"),
            chunk("g1", "refund policy", tenant="globex"),
            chunk("g2", "refund shipping", tenant="globex"),
        ],
        vectors,
    )
    hits = store.search("acme", "refund shipping policy", vectors[2], 10)
    assert {h.chunk.id for h in hits} == {"a1", "a2"}
    assert {h.chunk.tenant for h in hits} == {"acme"}
    assert {r.tenant for r in searches(fake)} == {"acme"}
    batches = fake.recorded(batch_pb2.BatchObjectsRequest)
    assert [{o.tenant for o in batch.objects} for batch in batches] == [{"acme"}, {"globex"}]
    assert (store.count("acme"), store.count("globex")) == (2, 2)
    assert store.existing_ids("globex", "d1") == {"g1", "g2"}


def test_a_tenant_never_written_to_reads_as_empty(fake: FakeWeaviate, store: WeaviateStore) -> None:
    store.add_chunks([chunk("a1", "refund")], unit_vectors(1, seed=10))
    assert store.search("nobody", "refund", unit_vectors(1, seed=10)[0], 3) == []
    assert store.count("nobody") == 0
    assert store.existing_ids("nobody", "d1") == set()
    assert store.prune_document("nobody", "d1", set()) == 0
    checks = [c for c in fake.rest_calls if c.method == "HEAD"]
    assert checks
    assert {c.path for c in checks} == {f"/v1/schema/{COLLECTION}/tenants/nobody"}


# --- reads, prune, count ------------------------------------------------------------------


def test_existing_ids_pages_through_a_large_document(
    fake: FakeWeaviate, store: WeaviateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weaviate_store, "PAGE_SIZE", 2)
    store.add_chunks([chunk(f"c{i}", "t") for i in range(5)], unit_vectors(5, seed=11))
    store.add_chunks([chunk("other", "t", doc="d2")], unit_vectors(1, seed=12))
    assert store.existing_ids("acme", "d1") == {f"c{i}" for i in range(5)}
    pages = searches(fake)
    assert [(r.offset, r.limit) for r in pages] == [(0, 2), (2, 2), (4, 2)]
    for request in pages:
        assert request.filters.target.property == "doc_id"
        assert request.filters.value_text == "d1"
        assert [s.path[0] for s in request.sort_by] == ["chunk_id"]


def test_prune_deletes_only_the_documents_stale_chunks(
    fake: FakeWeaviate, store: WeaviateStore
) -> None:
    store.add_chunks(
        [chunk("c1", "a"), chunk("c2", "b"), chunk("c3", "c"), chunk("e1", "d", doc="d2")],
        unit_vectors(4, seed=13),
    )
    assert store.prune_document("acme", "d1", keep={"c1"}) == 2
    (request,) = fake.recorded(batch_delete_pb2.BatchDeleteRequest)
    assert request.tenant == "acme"
    by_id, by_doc = request.filters.filters
    assert request.filters.operator == Filters.OPERATOR_AND
    assert by_id.target.property == "_id"
    assert set(by_id.value_text_array.values) == {
        chunk_uuid("acme", "c2"),
        chunk_uuid("acme", "c3"),
    }
    assert (by_doc.target.property, by_doc.value_text) == ("doc_id", "d1")
    assert store.existing_ids("acme", "d1") == {"c1"}
    assert store.existing_ids("acme", "d2") == {"e1"}


def test_prune_with_nothing_stale_sends_no_delete(fake: FakeWeaviate, store: WeaviateStore) -> None:
    store.add_chunks([chunk("c1", "a")], unit_vectors(1, seed=14))
    assert store.prune_document("acme", "d1", keep={"c1"}) == 0
    assert fake.recorded(batch_delete_pb2.BatchDeleteRequest) == []


def test_count_is_an_aggregate_over_the_tenant(fake: FakeWeaviate, store: WeaviateStore) -> None:
    store.add_chunks([chunk("c1", "a"), chunk("c2", "b")], unit_vectors(2, seed=15))
    assert store.count("acme") == 2
    (request,) = fake.recorded(aggregate_pb2.AggregateRequest)
    assert (request.collection, request.tenant, request.objects_count) == (COLLECTION, "acme", True)


def test_finalize_sends_nothing(fake: FakeWeaviate, store: WeaviateStore) -> None:
    before = (len(fake.rest_calls), len(fake.grpc_calls))
    store.finalize()
    assert (len(fake.rest_calls), len(fake.grpc_calls)) == before


def test_ingestion_round_trip_is_idempotent(store: WeaviateStore) -> None:
    docs = [
        Document("refunds", "Refunds", "# Refunds\nintro\n\n## Timing\nfive days", "r.md"),
        Document("shipping", "Shipping", "# Shipping\nwe ship worldwide", "s.md"),
    ]
    first = ingest_documents(docs, tenant="acme", embedder=_HashEmbedder(), store=store)
    again = ingest_documents(docs, tenant="acme", embedder=_HashEmbedder(), store=store)
    assert first.added == store.count("acme") > 0
    assert (again.added, again.removed, again.unchanged) == (0, 0, first.added)
    changed = [docs[0], Document("shipping", "Shipping", "# Shipping\nEU only", "s.md")]
    report = ingest_documents(changed, tenant="acme", embedder=_HashEmbedder(), store=store)
    assert (report.added, report.removed) == (1, 1)
    assert store.count("acme") == first.added


# --- parity with LanceStore ---------------------------------------------------------------

CORPUS = [
    chunk("r1", "refund requests are processed within five days"),
    chunk("r2", "a refund goes back to the original card"),
    chunk("r3", "partial refund for damaged items", doc="d2"),
    chunk("s1", "shipping takes three days in the EU"),
    chunk("s2", "express shipping costs extra", doc="d2"),
    chunk("p1", "reset your password from the account page"),
    chunk("p2", "account locked after failed password attempts", audience="agent"),
    chunk("g1", "escalate refund disputes to a supervisor", audience="agent"),
    chunk("g2", "never promise shipping dates", audience="agent", doc="d2"),
    chunk("x1", "refund shipping password account", tenant="globex"),
]


@pytest.fixture(scope="module")
def lance(tmp_path_factory: pytest.TempPathFactory) -> tuple[LanceStore, Path]:
    path = tmp_path_factory.mktemp("lance")
    lance_store = LanceStore(path, DIM)
    lance_store.add_chunks(CORPUS, unit_vectors(len(CORPUS), seed=42))
    lance_store.finalize()
    return lance_store, path


@pytest.mark.parametrize(
    "query", ["refund", "refund shipping", "password account reset", "days", "?!"]
)
@pytest.mark.parametrize("audiences", [("customer",), ("customer", "agent")])
def test_ranking_matches_lance_for_the_same_chunks_and_vectors(
    fake: FakeWeaviate,
    store: WeaviateStore,
    lance: tuple[LanceStore, Path],
    query: str,
    audiences: tuple[Audience, ...],
) -> None:
    lance_store, path = lance
    store.add_chunks(CORPUS, unit_vectors(len(CORPUS), seed=42))
    fake.search_override = _bm25_from_lance(fake, path, audiences)
    for seed, k in [(100, 3), (101, 5), (102, 8)]:
        query_vector = unit_vectors(1, seed=seed)[0]
        ours = store.search("acme", query, query_vector, k, audiences)
        theirs = lance_store.search("acme", query, query_vector, k, audiences)
        assert [h.chunk for h in ours] == [h.chunk for h in theirs]
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs])
        assert [h.similarity for h in ours] == pytest.approx(
            [h.similarity for h in theirs], abs=1e-6
        )


def _bm25_from_lance(
    fake: FakeWeaviate, path: Path, audiences: Sequence[str]
) -> Callable[[search_get_pb2.SearchRequest], search_get_pb2.SearchReply | None]:
    """Answer BM25 with Lance's own full-text ranking; the fake's exact cosine ranks vectors."""
    import lancedb

    table = lancedb.connect(str(path)).open_table(TABLE)
    allowed = ", ".join(f"'{a}'" for a in audiences)

    def answer(request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply | None:
        if not request.HasField("bm25_search"):
            return None
        rows = (
            table.search(request.bm25_search.query, query_type="fts", fts_columns="text")
            .where(f"tenant = 'acme' AND audience IN ({allowed})", prefilter=True)
            .limit(request.limit)
            .to_list()
        )
        stored = fake.objects[(COLLECTION, "acme")]
        results = [result_for(stored[chunk_uuid("acme", row["id"])], request) for row in rows]
        return search_get_pb2.SearchReply(results=results)

    return answer


# --- failures -----------------------------------------------------------------------------


def test_a_refused_connection_raises_a_typed_error_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(VectorStoreUnavailableError, match="cannot reach"):
        connect_weaviate(
            f"http://127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", None, FAST_TIMEOUT_S
        )
    assert time.monotonic() - started < 3


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts into its backlog, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(VectorStoreUnavailableError):
            connect_weaviate(url, f"127.0.0.1:{free_port()}", None, FAST_TIMEOUT_S)
        assert time.monotonic() - started < FAST_TIMEOUT_S * 4


def test_rest_without_grpc_is_not_ready(fake: FakeWeaviate) -> None:
    started = time.monotonic()
    with pytest.raises(VectorStoreUnavailableError, match="not ready"):
        connect_weaviate(fake.http_url, f"127.0.0.1:{free_port()}", None, FAST_TIMEOUT_S)
    assert time.monotonic() - started < FAST_TIMEOUT_S * 4


def test_a_wedged_server_fails_each_call_within_its_deadline(
    fake: FakeWeaviate, connect: Callable[[float], WeaviateStore]
) -> None:
    store = connect(FAST_TIMEOUT_S)
    store.add_chunks([chunk("c1", "refund")], unit_vectors(1, seed=16))
    calls: list[Callable[[], object]] = [
        lambda: store.search("acme", "refund", unit_vectors(1, seed=16)[0], 3),
        lambda: store.add_chunks([chunk("c2", "more")], unit_vectors(1, seed=17)),
        lambda: store.count("acme"),
    ]
    with fake.stalled():
        for call in calls:
            started = time.monotonic()
            with pytest.raises(VectorStoreUnavailableError, match="Deadline"):
                call()
            assert time.monotonic() - started < FAST_TIMEOUT_S * 4


def test_a_stopped_server_fails_within_the_deadline_not_the_clients_retry_loop() -> None:
    """Regression: gRPC UNAVAILABLE is retried by the client for ~60 s; we must not wait."""
    with running_fake() as gone:
        client = connect_weaviate(gone.http_url, gone.grpc_url, None, FAST_TIMEOUT_S)
        store = WeaviateStore(client, DIM)
        store.add_chunks([chunk("c1", "refund")], unit_vectors(1, seed=18))
    try:
        for call in (
            lambda: store.search("acme", "refund", unit_vectors(1, seed=18)[0], 3),
            lambda: store.add_chunks([chunk("c2", "x")], unit_vectors(1, seed=19)),
        ):
            started = time.monotonic()
            with pytest.raises(VectorStoreUnavailableError):
                call()
            assert time.monotonic() - started < FAST_TIMEOUT_S * 6
    finally:
        store.close()


# --- helpers ------------------------------------------------------------------------------


def _properties(c: Chunk) -> dict[str, str]:
    return {
        "chunk_id": c.id,
        "doc_id": c.doc_id,
        "tenant": c.tenant,
        "audience": c.audience,
        "title": c.title,
        "source": c.source,
        "text": c.text,
    }


class _HashEmbedder:
    """Deterministic unit vectors from a text hash: enough for ingestion, no model to load."""

    model_id = "hash-test"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([unit_vectors(1, seed=s)[0] for s in seeds])


def test_production_profile_answers_from_weaviate(fake: FakeWeaviate, tmp_path: Path) -> None:
    """The whole graph on ``VECTOR_STORE=weaviate``: demo KB ingested there, answer cited."""
    import asyncio

    from langgraph.checkpoint.memory import InMemorySaver

    from agent.assistant import Assistant
    from agent.bootstrap import build_services
    from graphs.support import build_graph
    from tests.conftest import make_settings

    fake.reset()
    settings = make_settings(
        tmp_path,
        vector_store="weaviate",
        weaviate_url=fake.http_url,
        weaviate_grpc_url=fake.grpc_url,
    )
    services = build_services(settings)
    try:
        assert services.store.count("demo") > 100  # demo KB ingested into Weaviate
        assistant = Assistant(build_graph().compile(checkpointer=InMemorySaver()), services)
        result = asyncio.run(assistant.ask("What payment methods do you accept?"))
    finally:
        assert isinstance(services.store, WeaviateStore)
        services.store.close()
    assert result.route == "knowledge"
    assert not result.escalated
    assert [c["id"].split(":")[0] for c in result.citations] == ["payment-methods"]
    assert "PayPal" in result.answer
