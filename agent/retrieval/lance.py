"""LanceDB implementation of ``VectorStore``: on-disk, native full-text + vector hybrid."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from agent.retrieval.embedder import Vectors
from agent.retrieval.store import Audience, Chunk, Hit

logger = logging.getLogger(__name__)

TABLE = "chunks"
RRF_K = 60
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/#-]{1,200}$")


def _literal(value: str) -> str:
    """Quote a filter value; ids and tenants are validated, so this never sees user text."""
    if not _SAFE_VALUE.match(value):
        raise ValueError(f"unsafe filter value {value!r}")
    return f"'{value}'"


def _schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("doc_id", pa.string()),
            pa.field("tenant", pa.string()),
            pa.field("audience", pa.string()),
            pa.field("title", pa.string()),
            pa.field("source", pa.string()),
            pa.field("text", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def rrf_fuse(keyword: Sequence[str], vector: Sequence[str], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion, the same formula any backend must use so they rank alike."""
    scores: dict[str, float] = {}
    for ranking in (keyword, vector):
        for rank, chunk_id in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (k + rank + 1)
    return scores


class LanceStore:
    """Chunks in one LanceDB table; tenant and audience are prefilters on every query."""

    def __init__(self, path: Path, dim: int) -> None:
        import lancedb

        path.mkdir(parents=True, exist_ok=True)
        self._db = lancedb.connect(str(path))
        self._dim = dim
        self._lock = threading.Lock()
        self._table: Any = self._open()
        self._fts_ready = self._has_fts()

    def _open(self) -> Any:
        if TABLE in self._db.list_tables(limit=1000).tables:
            return self._db.open_table(TABLE)
        return self._db.create_table(TABLE, schema=_schema(self._dim))

    def _has_fts(self) -> bool:
        return any(ix.index_type == "FTS" for ix in self._table.list_indices())

    def existing_ids(self, tenant: str, doc_id: str) -> set[str]:
        """Ids stored for one document of one tenant."""
        where = f"tenant = {_literal(tenant)} AND doc_id = {_literal(doc_id)}"
        rows = self._table.search().where(where).select(["id"]).limit(None).to_list()
        return {row["id"] for row in rows}

    def add_chunks(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Append the new chunks with their vectors."""
        if not chunks:
            return
        rows = [
            {
                "id": c.id,
                "doc_id": c.doc_id,
                "tenant": c.tenant,
                "audience": c.audience,
                "title": c.title,
                "source": c.source,
                "text": c.text,
                "vector": vectors[i].tolist(),
            }
            for i, c in enumerate(chunks)
        ]
        with self._lock:
            self._table.add(rows)

    def prune_document(self, tenant: str, doc_id: str, keep: set[str]) -> int:
        """Delete stale chunks of a changed document."""
        stale = self.existing_ids(tenant, doc_id) - keep
        if stale:
            ids = ", ".join(_literal(i) for i in sorted(stale))
            with self._lock:
                self._table.delete(f"tenant = {_literal(tenant)} AND id IN ({ids})")
        return len(stale)

    def finalize(self) -> None:
        """(Re)build the full-text index so keyword search sees the new rows."""
        from lancedb.index import FTS

        with self._lock:
            if self._table.count_rows() == 0:
                return
            self._table.create_index("text", config=FTS(), replace=True)
            self._fts_ready = True

    def version(self, tenant: str) -> str:
        """Changes on every write (LanceDB versions its table), so cached answers expire."""
        return f"lance:{self._table.version}"

    def count(self, tenant: str) -> int:
        """Rows for one tenant."""
        return int(self._table.count_rows(f"tenant = {_literal(tenant)}"))

    def search(
        self,
        tenant: str,
        query: str,
        vector: Vectors,
        k: int,
        audiences: Sequence[Audience] = ("customer",),
    ) -> list[Hit]:
        """Run keyword and vector queries under the same prefilter and fuse them with RRF."""
        where = self._where(tenant, audiences)
        pool = max(k * 4, 20)
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        by_vector = (
            self._table.search(vec, vector_column_name="vector")
            .distance_type("cosine")
            .where(where, prefilter=True)
            .limit(pool)
            .to_list()
        )
        by_keyword = self._keyword(query, where, pool)
        return self._fuse(by_keyword, by_vector, vec, k)

    def _where(self, tenant: str, audiences: Sequence[Audience]) -> str:
        allowed = ", ".join(_literal(a) for a in audiences)
        return f"tenant = {_literal(tenant)} AND audience IN ({allowed})"

    def _keyword(self, query: str, where: str, pool: int) -> list[dict[str, Any]]:
        terms = " ".join(re.findall(r"\w+", query))
        if not self._fts_ready or not terms:
            return []
        rows: list[dict[str, Any]] = (
            self._table.search(terms, query_type="fts", fts_columns="text")
            .where(where, prefilter=True)
            .limit(pool)
            .to_list()
        )
        return rows

    @staticmethod
    def _fuse(
        by_keyword: list[dict[str, Any]],
        by_vector: list[dict[str, Any]],
        vec: Vectors,
        k: int,
    ) -> list[Hit]:
        rows = {row["id"]: row for row in [*by_keyword, *by_vector]}
        scores = rrf_fuse([r["id"] for r in by_keyword], [r["id"] for r in by_vector])
        best = sorted(scores, key=lambda cid: (-scores[cid], cid))[:k]
        return [_hit(rows[cid], scores[cid], vec) for cid in best]


def _hit(row: dict[str, Any], score: float, query: Vectors) -> Hit:
    chunk = Chunk(
        id=row["id"],
        doc_id=row["doc_id"],
        tenant=row["tenant"],
        audience=row["audience"],
        title=row["title"],
        source=row["source"],
        text=row["text"],
    )
    similarity = float(np.dot(np.asarray(row["vector"], dtype=np.float32), query))
    return Hit(chunk=chunk, score=score, similarity=similarity)
