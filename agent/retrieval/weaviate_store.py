"""Weaviate implementation of ``VectorStore``, for deployments that share one KB server.

Tenancy: Weaviate's native multi-tenancy, one Weaviate tenant (its own shard) per SupportFlow
tenant, created by the server on the first write (``autoTenantCreation``). The server refuses
any request that names no tenant, so a forgotten filter cannot leak another tenant's chunks, and
a tenant's BM25 statistics come from its own chunks only. A tenant that was never written to has
no chunks: reads for it return nothing instead of raising. The ``tenant`` property is still
stored, to rebuild ``Chunk`` and as a last check on what comes back.

Fusion: ``search`` runs a BM25 query and a near-vector query under the same audience filter,
each with LanceStore's pool size, and fuses them with ``rrf_fuse`` (RRF, k=60, ties by id).
Weaviate's own hybrid fusion (``relativeScore`` or ``rankedFusion``) ranks differently, and the
two backends must order the same passages the same way so answers do not depend on deployment.

Failures: every call has a deadline from ``connect_weaviate``; anything Weaviate cannot do
becomes ``VectorStoreUnavailableError``, and objects it rejects in a batch ``ChunkWriteError``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import numpy as np
import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, GrpcConfig, Timeout
from weaviate.classes.query import Filter, Sort
from weaviate.collections import Collection
from weaviate.collections.classes.internal import Object
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateInsertManyAllFailedError,
    WeaviateInvalidInputError,
)
from weaviate.util import generate_uuid5

from agent.errors import ChunkWriteError, VectorStoreUnavailableError
from agent.retrieval.embedder import Vectors
from agent.retrieval.lance import rrf_fuse
from agent.retrieval.store import Audience, Chunk, Hit

logger = logging.getLogger(__name__)

VECTOR_NAME = "default"
"""The collection's one named vector, filled with our embedder's vectors (no vectorizer)."""
BATCH_SIZE = 200
"""Objects (or ids to delete) per request: bounds message size and each request's deadline."""
PAGE_SIZE = 1000
"""Ids per page when listing a document's chunks (Weaviate caps offset + limit at 10 000)."""
_PROPERTIES = ["chunk_id", "doc_id", "tenant", "audience", "title", "source", "text"]
_TENANT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FAILURES = (WeaviateBaseError, httpx.HTTPError)
# The client retries gRPC UNAVAILABLE with sleeps of 1, 2, 4 ... 32 s: a down server would stall
# a search for a minute. With waitForReady a call instead waits for the connection until its own
# deadline and fails with DEADLINE_EXCEEDED, which is not retried. Reconnect attempts are capped
# at 5 s apart so a recovered server is used again promptly.
_SERVICE_CONFIG = {
    "methodConfig": [
        {
            "name": [{"service": "weaviate.v1.Weaviate"}, {"service": "grpc.health.v1.Health"}],
            "waitForReady": True,
        }
    ]
}
_CHANNEL_OPTIONS = [
    ("grpc.service_config", json.dumps(_SERVICE_CONFIG)),
    ("grpc.max_reconnect_backoff_ms", 5000),
]

T = TypeVar("T")
WeaviateObject = Object[Any, Any]


def connect_weaviate(
    http_url: str, grpc_url: str | None, api_key: str | None, timeout_s: float
) -> weaviate.WeaviateClient:
    """A connected client whose every call (start-up, query, insert) has a ``timeout_s`` deadline.

    ``grpc_url`` is ``host:port`` (``grpcs://`` for TLS); unset means the HTTP host on 50051.
    The client's own start-up checks are skipped because they also ask pypi.org for the newest
    client version (an outbound call from production and a warning); readiness of REST and gRPC
    is checked here instead.
    """
    http = urlsplit(http_url)
    if not http.hostname:
        raise ValueError(f"Weaviate URL {http_url!r} has no host")
    secure = http.scheme == "https"
    grpc_host, grpc_port, grpc_secure = _grpc_endpoint(grpc_url, http.hostname, secure)
    config = AdditionalConfig(
        timeout=Timeout(init=timeout_s, query=timeout_s, insert=timeout_s),
        grpc_config=GrpcConfig(channel_options=_CHANNEL_OPTIONS),
    )
    try:
        client = weaviate.connect_to_custom(
            http_host=http.hostname,
            http_port=http.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=grpc_host,
            grpc_port=grpc_port,
            grpc_secure=grpc_secure,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
            additional_config=config,
            skip_init_checks=True,
        )
    except _FAILURES as error:
        raise VectorStoreUnavailableError(f"cannot reach Weaviate at {http_url}") from error
    if not (client.is_ready() and client.is_live()):
        client.close()
        raise VectorStoreUnavailableError(f"Weaviate at {http_url} is not ready (REST or gRPC)")
    return client


def _grpc_endpoint(grpc_url: str | None, http_host: str, secure: bool) -> tuple[str, int, bool]:
    if not grpc_url:
        return http_host, 50051, secure
    parsed = urlsplit(grpc_url if "://" in grpc_url else f"//{grpc_url}")
    tls = parsed.scheme in ("grpcs", "https") or (not parsed.scheme and secure)
    return parsed.hostname or http_host, parsed.port or 50051, tls


def chunk_uuid(tenant: str, chunk_id: str) -> str:
    """Deterministic object id, so re-ingesting a chunk overwrites it instead of duplicating."""
    return generate_uuid5(f"{tenant}/{chunk_id}")


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn client and transport failures into our typed error; bad arguments stay bugs."""
    try:
        yield
    except WeaviateInvalidInputError:
        raise
    except _FAILURES as error:
        raise VectorStoreUnavailableError(f"Weaviate could not {action}: {error}") from error


class WeaviateStore:
    """Chunks in one multi-tenant Weaviate collection; audience is a filter on every query.

    The store owns the client it is given: ``close`` closes it, and so does a failed start.
    """

    def __init__(
        self, client: weaviate.WeaviateClient, dim: int, collection: str = "SupportChunk"
    ) -> None:
        self._client = client
        self._dim = dim
        try:
            with _translated("create the collection"):
                self._collection = self._ensure_collection(collection)
        except BaseException:
            client.close()
            raise

    def _ensure_collection(self, name: str) -> Collection[Any, Any]:
        if not self._client.collections.exists(name):
            try:
                self._client.collections.create(name, **_schema())
                logger.info("created Weaviate collection %s", name)
            except UnexpectedStatusCodeError:
                if not self._client.collections.exists(name):
                    raise  # not a lost race with another replica: a real refusal
        return self._client.collections.use(name)

    def close(self) -> None:
        """Close the client's HTTP and gRPC connections."""
        self._client.close()

    def existing_ids(self, tenant: str, doc_id: str) -> set[str]:
        """Ids stored for one document of one tenant (paged, so large documents are complete)."""
        return self._read(tenant, "list chunk ids", lambda c: _ids_of(c, doc_id), set())

    def add_chunks(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Insert (or overwrite, by id) chunks with their vectors, in batches per tenant."""
        if not chunks:
            return
        matrix = self._matrix(vectors, len(chunks))
        failures: dict[str, str] = {}
        for tenant in dict.fromkeys(c.tenant for c in chunks):
            rows = [(c, matrix[i]) for i, c in enumerate(chunks) if c.tenant == tenant]
            for start in range(0, len(rows), BATCH_SIZE):
                failures.update(self._insert(tenant, rows[start : start + BATCH_SIZE]))
        if failures:
            raise ChunkWriteError(failures)

    def _insert(self, tenant: str, rows: list[tuple[Chunk, Vectors]]) -> dict[str, str]:
        collection = self._tenant(tenant)
        objects = [_data_object(chunk, vector) for chunk, vector in rows]
        with _translated("store chunks"):
            try:
                result = collection.data.insert_many(objects)
            except WeaviateInsertManyAllFailedError as error:  # rejected, not unreachable
                return {chunk.id: str(error) for chunk, _ in rows}
        return {rows[i][0].id: failure.message for i, failure in result.errors.items()}

    def prune_document(self, tenant: str, doc_id: str, keep: set[str]) -> int:
        """Delete the document's chunks that are not in ``keep``; returns how many went."""
        stale = sorted(self.existing_ids(tenant, doc_id) - keep)
        removed = 0
        for start in range(0, len(stale), BATCH_SIZE):
            uuids = [chunk_uuid(tenant, cid) for cid in stale[start : start + BATCH_SIZE]]
            where = Filter.by_id().contains_any(uuids) & Filter.by_property("doc_id").equal(doc_id)
            with _translated("delete stale chunks"):
                removed += self._tenant(tenant).data.delete_many(where=where).successful
        return removed

    def finalize(self) -> None:
        """Nothing to do: Weaviate updates its BM25 and vector indexes on every write."""

    def count(self, tenant: str) -> int:
        """Objects in the tenant's shard (0 for a tenant never written to)."""

        def total(collection: Collection[Any, Any]) -> int:
            return int(collection.aggregate.over_all(total_count=True).total_count or 0)

        return self._read(tenant, "count chunks", total, 0)

    def search(
        self,
        tenant: str,
        query: str,
        vector: Vectors,
        k: int,
        audiences: Sequence[Audience] = ("customer",),
    ) -> list[Hit]:
        """Keyword and vector queries under one audience filter, fused with RRF like Lance."""
        if k <= 0 or not audiences:
            return []
        vec = self._matrix(vector, 1)[0]
        pool = max(k * 4, 20)
        allowed = Filter.by_property("audience").contains_any(list(audiences))
        terms = " ".join(re.findall(r"\w+", query))

        def run(collection: Collection[Any, Any]) -> list[Hit]:
            by_keyword = (
                collection.query.bm25(
                    query=terms,
                    query_properties=["text"],
                    filters=allowed,
                    limit=pool,
                    return_properties=_PROPERTIES,
                    include_vector=True,
                ).objects
                if terms
                else []
            )
            by_vector = collection.query.near_vector(
                near_vector=vec.tolist(),
                target_vector=VECTOR_NAME,
                filters=allowed,
                limit=pool,
                return_properties=_PROPERTIES,
                include_vector=True,
            ).objects
            return _fuse(tenant, by_keyword, by_vector, vec, k)

        return self._read(tenant, "search", run, [])

    def _tenant(self, tenant: str) -> Collection[Any, Any]:
        if not _TENANT_NAME.match(tenant):
            raise ValueError(f"tenant {tenant!r} is not a valid Weaviate tenant name")
        return self._collection.with_tenant(tenant)

    def _read(
        self, tenant: str, action: str, run: Callable[[Collection[Any, Any]], T], empty: T
    ) -> T:
        """Run a read in the tenant's shard; a tenant Weaviate has never seen holds nothing."""
        collection = self._tenant(tenant)
        try:
            with _translated(action):
                return run(collection)
        except VectorStoreUnavailableError:
            if self._tenant_absent(tenant):
                return empty
            raise

    def _tenant_absent(self, tenant: str) -> bool:
        """Asked only after a read failed, so the common path costs no extra round trip."""
        try:
            return not self._collection.tenants.exists(tenant)
        except _FAILURES:
            return False  # cannot tell: the caller reports the read's own failure

    def _matrix(self, vectors: Vectors, rows: int) -> Vectors:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.shape[-1:] != (self._dim,) or matrix.size != rows * self._dim:
            raise ValueError(f"expected {rows} vector(s) of width {self._dim}, got {matrix.shape}")
        return matrix.reshape(rows, self._dim)


def _schema() -> dict[str, Any]:
    """Our own vectors (no vectorizer), cosine HNSW, BM25 on words, exact-match ids."""

    def field(name: str) -> Property:
        return Property(
            name=name,
            data_type=DataType.TEXT,
            tokenization=Tokenization.FIELD,
            index_filterable=True,
            index_searchable=False,
        )

    def words(name: str) -> Property:
        return Property(name=name, data_type=DataType.TEXT, tokenization=Tokenization.WORD)

    return {
        "properties": [
            *(field(n) for n in ("chunk_id", "doc_id", "tenant", "audience", "source")),
            words("title"),
            words("text"),
        ],
        "vector_config": Configure.Vectors.self_provided(
            name=VECTOR_NAME,
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
        ),
        "multi_tenancy_config": Configure.multi_tenancy(
            enabled=True, auto_tenant_creation=True, auto_tenant_activation=True
        ),
    }


def _data_object(chunk: Chunk, vector: Vectors) -> DataObject[dict[str, Any], None]:
    properties = {
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "tenant": chunk.tenant,
        "audience": chunk.audience,
        "title": chunk.title,
        "source": chunk.source,
        "text": chunk.text,
    }
    return DataObject(
        properties=properties,
        uuid=chunk_uuid(chunk.tenant, chunk.id),
        vector={VECTOR_NAME: vector.tolist()},
    )


def _ids_of(collection: Collection[Any, Any], doc_id: str) -> set[str]:
    ids: set[str] = set()
    offset = 0
    while True:
        page = collection.query.fetch_objects(
            filters=Filter.by_property("doc_id").equal(doc_id),
            limit=PAGE_SIZE,
            offset=offset,
            sort=Sort.by_property("chunk_id"),
            return_properties=["chunk_id"],
        ).objects
        ids.update(str(obj.properties["chunk_id"]) for obj in page)
        if len(page) < PAGE_SIZE:
            return ids
        offset += PAGE_SIZE


def _fuse(
    tenant: str,
    by_keyword: Sequence[WeaviateObject],
    by_vector: Sequence[WeaviateObject],
    vec: Vectors,
    k: int,
) -> list[Hit]:
    """LanceStore's fusion, on Weaviate objects: RRF over both rankings, ties broken by id."""
    keyword = [o for o in by_keyword if o.properties["tenant"] == tenant]
    vector = [o for o in by_vector if o.properties["tenant"] == tenant]
    if len(keyword) + len(vector) < len(by_keyword) + len(by_vector):
        logger.error("dropped search results whose tenant property is not %s", tenant)
    rows = {str(o.properties["chunk_id"]): o for o in [*keyword, *vector]}
    scores = rrf_fuse(
        [str(o.properties["chunk_id"]) for o in keyword],
        [str(o.properties["chunk_id"]) for o in vector],
    )
    best = sorted(scores, key=lambda cid: (-scores[cid], cid))[:k]
    return [_hit(rows[cid], scores[cid], vec) for cid in best]


def _hit(obj: WeaviateObject, score: float, query: Vectors) -> Hit:
    p = obj.properties
    chunk = Chunk(
        id=str(p["chunk_id"]),
        doc_id=str(p["doc_id"]),
        tenant=str(p["tenant"]),
        audience=p["audience"],
        title=str(p["title"]),
        source=str(p["source"]),
        text=str(p["text"]),
    )
    stored = np.asarray(obj.vector[VECTOR_NAME], dtype=np.float32)
    return Hit(chunk=chunk, score=score, similarity=float(np.dot(stored, query)))
