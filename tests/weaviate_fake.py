"""A fake Weaviate on 127.0.0.1 that the real weaviate-client talks to: REST stub + gRPC server.

It answers exactly the calls ``WeaviateStore`` makes, keeps objects in memory (so ingestion and
search round-trip), and records every parsed request so tests can assert on the wire format.
Ranking is deliberately naive (BM25 over whitespace words, exact cosine); a test that needs a
specific ranking sets ``search_override`` and answers from canned data instead.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid as uuid_lib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

import grpc  # type: ignore[import-untyped]
import numpy as np
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    tenants_pb2,
    weaviate_pb2_grpc,
)

from agent.retrieval.embedder import Vectors

VERSION = "1.32.4"
"""Reported by ``/v1/meta``: new enough for the gRPC aggregate and the typed ``vectors`` field."""
VECTOR_NAME = "default"
_GATE_LIMIT_S = 30.0
"""A stalled handler gives up after this long, so a broken test cannot hang the session."""

M = TypeVar("M")
Message = Any  # protobuf ships no stubs; the generated classes carry their own types
Filters = base_pb2.Filters


class FakeError(Exception):
    """Turned into a gRPC status (or a REST 422) exactly where real Weaviate would refuse."""

    def __init__(self, message: str, code: Any = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class StoredObject:
    """One object as the fake keeps it: text properties and its single named vector."""

    uuid: str
    properties: dict[str, str]
    vector: Vectors


@dataclass(frozen=True)
class RestCall:
    """A REST request as received: method, path without the query string, JSON body."""

    method: str
    path: str
    body: Any


class FakeWeaviate:
    """In-memory Weaviate: start it, point ``connect_weaviate`` at its two URLs, inspect calls."""

    def __init__(self) -> None:
        self.rest_calls: list[RestCall] = []
        self.grpc_calls: list[object] = []
        self.schema: dict[str, dict[str, Any]] = {}
        self.tenants: dict[str, set[str]] = {}
        self.objects: dict[tuple[str, str], dict[str, StoredObject]] = {}
        self.search_override: Callable[[search_get_pb2.SearchRequest], Any] | None = None
        """Return a ``SearchReply`` to answer with canned data, or ``None`` to fall through."""
        self.batch_error: Callable[[batch_pb2.BatchObject], str | None] | None = None
        """Return a message to make Weaviate reject that object in a batch."""
        self.rest_override: Callable[[str, str], tuple[int, Any] | None] | None = None
        """Given method and path, return ``(status, body)`` to answer a REST call differently."""
        self._lock = threading.RLock()
        self._gate = threading.Event()
        self._gate.set()
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self._grpc_port = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeWeaviate:
        """Bind both servers to ephemeral ports on 127.0.0.1 and serve in background threads."""
        self._http = _RestServer(("127.0.0.1", 0), self)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self._grpc = grpc.server(ThreadPoolExecutor(max_workers=8))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(_Servicer(self), self._grpc)  # type: ignore[no-untyped-call]
        self._grpc.add_generic_rpc_handlers([_health_handler(self)])
        self._grpc_port = int(self._grpc.add_insecure_port("127.0.0.1:0"))
        self._grpc.start()
        return self

    def stop(self) -> None:
        """Release stalled handlers, then shut both servers down."""
        self._gate.set()
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def grpc_url(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self._grpc_port}"

    def reset(self) -> None:
        """Forget schema, data, recordings and overrides (module-scoped servers, per-test state)."""
        with self._lock:
            self.rest_calls.clear()
            self.grpc_calls.clear()
            self.schema.clear()
            self.tenants.clear()
            self.objects.clear()
            self.search_override = None
            self.batch_error = None
            self.rest_override = None

    @contextmanager
    def stalled(self) -> Iterator[None]:
        """Every gRPC call blocks (like a wedged server) until the block exits."""
        self._gate.clear()
        try:
            yield
        finally:
            self._gate.set()

    def recorded(self, kind: type[M]) -> list[M]:
        """The gRPC requests of one message type, in arrival order."""
        with self._lock:
            return [call for call in self.grpc_calls if isinstance(call, kind)]

    # --- REST ------------------------------------------------------------------------------

    def rest(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Answer one REST call; returns the status and a JSON-able body."""
        with self._lock:
            self.rest_calls.append(RestCall(method, path, body))
            override = self.rest_override(method, path) if self.rest_override else None
            if override is not None:
                return override
            parts = path.strip("/").split("/")
            if path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
                return 200, None
            if path == "/v1/meta":
                return 200, {"version": VERSION, "hostname": "http://[::]:8080", "modules": {}}
            if parts[:2] == ["v1", "schema"]:
                return self._schema_call(method, parts[2:], body)
            return 404, {"error": [{"message": f"no route {method} {path}"}]}

    def _schema_call(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        if method == "POST" and not parts:
            return self._create_collection(body)
        if method == "GET" and len(parts) == 1:
            found = self.schema.get(parts[0])
            return (200, found) if found else (404, None)
        if method == "HEAD" and len(parts) == 3 and parts[1] == "tenants":
            return (200, None) if parts[2] in self.tenants.get(parts[0], set()) else (404, None)
        if method == "DELETE" and len(parts) == 1:
            self._drop_collection(parts[0])
            return 200, None
        return 404, {"error": [{"message": f"no schema route {method} {parts}"}]}

    def _create_collection(self, body: dict[str, Any]) -> tuple[int, Any]:
        name = body["class"]
        if name in self.schema:
            return 422, {"error": [{"message": f"class name {name!r} already exists"}]}
        self.schema[name] = body
        self.tenants[name] = set()
        return 200, body

    def _drop_collection(self, name: str) -> None:
        self.schema.pop(name, None)
        self.tenants.pop(name, None)
        for key in [key for key in self.objects if key[0] == name]:
            del self.objects[key]

    # --- gRPC ------------------------------------------------------------------------------

    def enter(self, request: object) -> None:
        """Record a gRPC request, then wait while the fake is stalled."""
        with self._lock:
            self.grpc_calls.append(request)
        self._gate.wait(_GATE_LIMIT_S)

    def search(self, req: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        """Filtered BM25, near-vector or plain fetch over the tenant's objects."""
        if self.search_override is not None:
            canned = self.search_override(req)
            if canned is not None:
                assert isinstance(canned, search_get_pb2.SearchReply)
                return canned
        with self._lock:
            candidates = [o for o in self._scope(req.collection, req.tenant) if _matches(req, o)]
        if req.HasField("bm25_search"):
            ranked = _bm25(candidates, req.bm25_search)
        elif req.HasField("near_vector"):
            ranked = _nearest(candidates, req.near_vector)
        else:
            ranked = _sorted(candidates, req.sort_by)
        page = ranked[req.offset : req.offset + (req.limit or 10)]
        return search_get_pb2.SearchReply(results=[result_for(obj, req) for obj in page])

    def batch_objects(self, req: batch_pb2.BatchObjectsRequest) -> batch_pb2.BatchObjectsReply:
        """Store each object unless ``batch_error`` (or a missing collection) rejects it."""
        errors = []
        with self._lock:
            for index, obj in enumerate(req.objects):
                message = self.batch_error(obj) if self.batch_error else None
                try:
                    if message:
                        raise FakeError(message)
                    self._store(obj)
                except FakeError as error:
                    errors.append(
                        batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(error))
                    )
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def batch_delete(
        self, req: batch_delete_pb2.BatchDeleteRequest
    ) -> batch_delete_pb2.BatchDeleteReply:
        """Delete every object of the tenant that matches the filter."""
        with self._lock:
            matched = [o for o in self._scope(req.collection, req.tenant) if _matches(req, o)]
            if not req.dry_run:
                for obj in matched:
                    del self.objects[(req.collection, req.tenant)][obj.uuid]
        return batch_delete_pb2.BatchDeleteReply(
            took=0.001, matches=len(matched), successful=len(matched), failed=0
        )

    def aggregate(self, req: aggregate_pb2.AggregateRequest) -> aggregate_pb2.AggregateReply:
        """Only ``objects_count``: the number of matching objects in the tenant."""
        with self._lock:
            count = sum(1 for o in self._scope(req.collection, req.tenant) if _matches(req, o))
        return aggregate_pb2.AggregateReply(
            single_result=aggregate_pb2.AggregateReply.Single(objects_count=count)
        )

    def _scope(self, collection: str, tenant: str) -> list[StoredObject]:
        """The objects a request may see, refusing like Weaviate does on tenancy mistakes."""
        if collection not in self.schema:
            raise FakeError(f"could not find class {collection} in schema")
        if _multi_tenant(self.schema[collection]):
            if not tenant:
                raise FakeError(
                    f"class {collection} has multi-tenancy enabled, but request was without tenant"
                )
            if tenant not in self.tenants[collection]:
                raise FakeError(f'tenant not found: "{tenant}"')
        elif tenant:
            raise FakeError(f"class {collection} has multi-tenancy disabled, but got tenant")
        return list(self.objects.get((collection, tenant), {}).values())

    def _store(self, obj: batch_pb2.BatchObject) -> None:
        config = self.schema.get(obj.collection)
        if config is None:
            raise FakeError(f"class {obj.collection} not found")
        if _multi_tenant(config) and obj.tenant not in self.tenants[obj.collection]:
            if not config["multiTenancyConfig"].get("autoTenantCreation"):
                raise FakeError(f'tenant not found: "{obj.tenant}"')
            self.tenants[obj.collection].add(obj.tenant)
        fields = obj.properties.non_ref_properties.fields
        properties = {name: value.string_value for name, value in fields.items()}
        stored = StoredObject(uuid=obj.uuid, properties=properties, vector=_batch_vector(obj))
        self.objects.setdefault((obj.collection, obj.tenant), {})[obj.uuid] = stored


def result_for(obj: StoredObject, req: search_get_pb2.SearchRequest) -> search_get_pb2.SearchResult:
    """Encode one object the way Weaviate does: requested properties, id bytes, named vectors."""
    wanted = req.properties
    if not req.HasField("properties") or wanted.return_all_nonref_properties:
        names = list(obj.properties)
    else:
        names = [n for n in wanted.non_ref_properties if n in obj.properties]
    props = properties_pb2.Properties(
        fields={n: properties_pb2.Value(text_value=obj.properties[n]) for n in names}
    )
    metadata = search_get_pb2.MetadataResult(id_as_bytes=uuid_lib.UUID(obj.uuid).bytes)
    if req.metadata.vector or VECTOR_NAME in req.metadata.vectors:
        metadata.vectors.append(
            base_pb2.Vectors(
                name=VECTOR_NAME,
                vector_bytes=obj.vector.astype("<f4").tobytes(),
                type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32,
            )
        )
    return search_get_pb2.SearchResult(
        properties=search_get_pb2.PropertiesResult(non_ref_props=props, target_collection=""),
        metadata=metadata,
    )


def _multi_tenant(config: dict[str, Any]) -> bool:
    return bool(config.get("multiTenancyConfig", {}).get("enabled"))


def _batch_vector(obj: batch_pb2.BatchObject) -> Vectors:
    if obj.vector_bytes:
        return np.frombuffer(obj.vector_bytes, dtype="<f4").copy()
    for named in obj.vectors:
        if named.name == VECTOR_NAME:
            return np.frombuffer(named.vector_bytes, dtype="<f4").copy()
    raise FakeError("object has no vector and the collection has no vectorizer")


def _query_vector(near: Any) -> Vectors:
    raw = near.vectors[0].vector_bytes if len(near.vectors) else near.vector_bytes
    return np.frombuffer(raw, dtype="<f4")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _bm25(objects: list[StoredObject], bm25: Any) -> list[StoredObject]:
    """Textbook BM25 (k1=1.2, b=0.75) over the given properties; non-matching objects drop out."""
    fields = list(bm25.properties) or ["text"]
    docs = {o.uuid: _words(" ".join(o.properties.get(f, "") for f in fields)) for o in objects}
    terms = set(_words(bm25.query))
    avg = sum(len(words) for words in docs.values()) / max(len(docs), 1)
    scores: dict[str, float] = {}
    for term in terms:
        having = [uid for uid, words in docs.items() if term in words]
        idf = math.log(1 + (len(docs) - len(having) + 0.5) / (len(having) + 0.5))
        for uid in having:
            tf, length = docs[uid].count(term), len(docs[uid])
            norm = tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / max(avg, 1.0)))
            scores[uid] = scores.get(uid, 0.0) + idf * norm
    by_id = {o.uuid: o for o in objects}
    return [by_id[uid] for uid in sorted(scores, key=lambda uid: (-scores[uid], uid))]


def _nearest(objects: list[StoredObject], near: Any) -> list[StoredObject]:
    """Exact cosine ranking, the behaviour HNSW approximates."""
    query = _query_vector(near)

    def distance(obj: StoredObject) -> float:
        denom = float(np.linalg.norm(obj.vector) * np.linalg.norm(query)) or 1.0
        return 1.0 - float(np.dot(obj.vector, query)) / denom

    return sorted(objects, key=lambda obj: (distance(obj), obj.uuid))


def _sorted(objects: list[StoredObject], sort_by: Any) -> list[StoredObject]:
    if not sort_by:
        return sorted(objects, key=lambda obj: obj.uuid)
    prop = sort_by[0].path[0]
    ordered = sorted(objects, key=lambda obj: (obj.properties.get(prop, ""), obj.uuid))
    return ordered if sort_by[0].ascending else ordered[::-1]


def _matches(req: Any, obj: StoredObject) -> bool:
    return not req.HasField("filters") or _holds(req.filters, obj)


def _holds(flt: Filters, obj: StoredObject) -> bool:
    """Evaluate the filter operators our store sends (equality, contains-any, and/or/not)."""
    op = flt.operator
    if op == Filters.OPERATOR_AND:
        return all(_holds(f, obj) for f in flt.filters)
    if op == Filters.OPERATOR_OR:
        return any(_holds(f, obj) for f in flt.filters)
    if op == Filters.OPERATOR_NOT:
        return not _holds(flt.filters[0], obj)
    prop = flt.target.property or (flt.on[0] if flt.on else "")
    value = obj.uuid if prop == "_id" else obj.properties.get(prop)
    if op == Filters.OPERATOR_EQUAL:
        return value == flt.value_text
    if op == Filters.OPERATOR_NOT_EQUAL:
        return value != flt.value_text
    if op == Filters.OPERATOR_CONTAINS_ANY:
        return value in set(flt.value_text_array.values)
    if op == Filters.OPERATOR_CONTAINS_NONE:
        return value not in set(flt.value_text_array.values)
    raise FakeError(f"fake cannot evaluate filter operator {op}")


class _Servicer(weaviate_pb2_grpc.WeaviateServicer):
    """Routes each RPC to the fake, records it first, and maps ``FakeError`` to a status."""

    def __init__(self, fake: FakeWeaviate) -> None:
        self._fake = fake

    def _call(self, request: M, context: Any, handler: Callable[[M], Message]) -> Message:
        self._fake.enter(request)
        try:
            return handler(request)
        except FakeError as error:
            context.abort(error.code, str(error))
            raise  # abort raises; this keeps type checkers and readers honest

    def Search(self, request: search_get_pb2.SearchRequest, context: Any) -> Message:
        return self._call(request, context, self._fake.search)

    def BatchObjects(self, request: batch_pb2.BatchObjectsRequest, context: Any) -> Message:
        return self._call(request, context, self._fake.batch_objects)

    def BatchDelete(self, request: batch_delete_pb2.BatchDeleteRequest, context: Any) -> Message:
        return self._call(request, context, self._fake.batch_delete)

    def Aggregate(self, request: aggregate_pb2.AggregateRequest, context: Any) -> Message:
        return self._call(request, context, self._fake.aggregate)

    def TenantsGet(self, request: tenants_pb2.TenantsGetRequest, context: Any) -> Message:
        def tenants(req: tenants_pb2.TenantsGetRequest) -> Message:
            names = sorted(self._fake.tenants.get(req.collection, set()))
            return tenants_pb2.TenantsGetReply(tenants=[tenants_pb2.Tenant(name=n) for n in names])

        return self._call(request, context, tenants)


def _health_handler(fake: FakeWeaviate) -> Any:
    """``/grpc.health.v1.Health/Check``, which the client's ``is_live`` pings (never stalled)."""

    def check(request: Message, context: Any) -> Message:
        with fake._lock:
            fake.grpc_calls.append(request)
        return health_weaviate_pb2.WeaviateHealthCheckResponse(
            status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
        )

    handler = grpc.unary_unary_rpc_method_handler(
        check,
        request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
        response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeWeaviate) -> None:
        super().__init__(address, _RestHandler)
        self.fake = fake


class _RestHandler(BaseHTTPRequestHandler):
    server: _RestServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, reply = self.server.fake.rest(self.command, urlsplit(self.path).path, body)
        payload = b"" if reply is None else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; ``rest_calls`` is the record."""


@contextmanager
def running_fake() -> Iterator[FakeWeaviate]:
    """A started fake that is always stopped."""
    fake = FakeWeaviate().start()
    try:
        yield fake
    finally:
        fake.stop()
