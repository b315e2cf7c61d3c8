"""LanceDB implementation of ``VectorStore``: on-disk, native full-text + vector hybrid."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from agent.retrieval.embedder import Vectors
from agent.retrieval.store import Audience, Chunk, Hit

logger = logging.getLogger(__name__)

TABLE = "chunks"
RRF_K = 60
COMPACT_FRAGMENTS = 32
"""Compact once the table has this many fragments: ingestion writes one per document, and
every query pays for each fragment (a 1k-chunk KB in 237 fragments searched 7x slower)."""
SMALL_TAIL_ROWS = 5_000
"""Below 32 fragments, compact anyway while the rows outside the largest fragment are at most
this many (or a tenth of the table): merging a few appended documents takes tens of
milliseconds, while each fragment left behind costs every search (24 of them: +50 % at 1k)."""
ANN_MIN_ROWS = 5_000
"""From this many rows the vector half uses an IVF_HNSW_SQ index instead of a full scan."""
ANN_PARTITION_ROWS = 1_500
"""Rows per IVF partition when the index is (re)trained: 66 partitions at 100k rows."""
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


def should_compact(fragment_stats: dict[str, Any], rows: int) -> bool:
    """Many fragments, or a few small ones appended to a compacted table (cheap to merge).

    A bulk load's large fragments stay as they are below ``COMPACT_FRAGMENTS``: merging them
    rewrites the table and remaps its indexes (about a minute at 100k rows).
    """
    fragments = int(fragment_stats["num_fragments"])
    if fragments >= COMPACT_FRAGMENTS:
        return True
    # A compacted table keeps its merged appends as a second fragment; a third means new ones.
    tail = rows - int(fragment_stats["lengths"]["max"])
    return fragments > 2 and tail <= max(SMALL_TAIL_ROWS, rows // 10)


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
        self._ids: dict[str, dict[str, set[str]]] = {}
        """Chunk ids per tenant and document, read once and then kept up to date by our own
        writes: ingestion asks for every document twice, and a filtered scan costs more with
        every fragment (a 100k-chunk KB would spend hours there)."""
        # The keyword half runs on this pool while the caller runs the vector half: LanceDB
        # releases the GIL, so a search waits for the slower half rather than for both.
        self._keyword_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lance-fts")

    def _open(self) -> Any:
        if TABLE in self._db.list_tables(limit=1000).tables:
            return self._db.open_table(TABLE)
        return self._db.create_table(TABLE, schema=_schema(self._dim))

    def _has_fts(self) -> bool:
        return any(ix.index_type == "FTS" for ix in self._table.list_indices())

    def existing_ids(self, tenant: str, doc_id: str) -> set[str]:
        """Ids stored for one document of one tenant."""
        with self._lock:
            return set(self._doc_ids(tenant).get(doc_id, ()))

    def _doc_ids(self, tenant: str) -> dict[str, set[str]]:
        """The tenant's ids by document; call with the lock held."""
        if tenant not in self._ids:
            rows = (
                self._table.search()
                .where(f"tenant = {_literal(tenant)}")
                .select(["doc_id", "id"])
                .limit(None)
                .to_arrow()
            )
            by_doc: dict[str, set[str]] = {}
            for doc_id, chunk_id in zip(
                rows["doc_id"].to_pylist(), rows["id"].to_pylist(), strict=True
            ):
                by_doc.setdefault(doc_id, set()).add(chunk_id)
            self._ids[tenant] = by_doc
        return self._ids[tenant]

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
            for c in chunks:
                if c.tenant in self._ids:
                    self._ids[c.tenant].setdefault(c.doc_id, set()).add(c.id)

    def prune_document(self, tenant: str, doc_id: str, keep: set[str]) -> int:
        """Delete stale chunks of a changed document."""
        stale = self.existing_ids(tenant, doc_id) - keep
        if stale:
            ids = ", ".join(_literal(i) for i in sorted(stale))
            with self._lock:
                self._table.delete(f"tenant = {_literal(tenant)} AND id IN ({ids})")
                self._doc_ids(tenant)[doc_id] -= stale
        return len(stale)

    def finalize(self) -> None:
        """Compact when fragmented, rebuild full text, and keep the prefilter and ANN indexes.

        Rows added after an index was built are still searched (exhaustively) until the next
        compaction folds them into it; the vector index is retrained once the table has
        doubled since it was trained, so its partitions stay balanced as a KB grows.
        """
        from lancedb.index import FTS

        with self._lock:
            rows = self._table.count_rows()
            if rows == 0:
                return
            if should_compact(self._table.stats()["fragment_stats"], rows):
                self._table.optimize()
            self._table.create_index("text", config=FTS(), replace=True)
            self._ensure_indexes(rows)
            self._fts_ready = True

    def _ensure_indexes(self, rows: int) -> None:
        from lancedb.index import Bitmap

        names = {ix.columns[0]: ix.name for ix in self._table.list_indices()}
        for column in ("tenant", "audience"):  # every query prefilters on both
            if column not in names:
                self._table.create_index(column, config=Bitmap())
        if rows >= ANN_MIN_ROWS:
            self._ensure_vector_index(rows, names.get("vector"))

    def _ensure_vector_index(self, rows: int, current: str | None) -> None:
        """Train once the table has doubled since the last training (its size is the name's)."""
        from lancedb.index import IvfHnswSq

        trained = int(current.rpartition("_")[2]) if current and current[-1].isdigit() else 0
        if trained * 2 > rows:
            return
        partitions = max(1, rows // ANN_PARTITION_ROWS)
        config = IvfHnswSq(distance_type="cosine", num_partitions=partitions)
        self._table.create_index("vector", config=config, name=f"vector_idx_{rows}")
        if current:  # dropped only now, so no search falls back to a full scan meanwhile
            self._table.drop_index(current)

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
        where = self.prefilter(tenant, audiences)
        pool = max(k * 4, 20)
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        by_keyword = self._keyword_pool.submit(self.keyword_half, query, where, pool)
        by_vector = self.vector_half(vec, where, pool)
        return self._fuse(by_keyword.result(), by_vector, vec, k)

    def vector_indexes(self) -> list[str]:
        """Types of the indexes on the vector column (empty: every search is a full scan)."""
        return [str(ix.index_type) for ix in self._table.list_indices() if "vector" in ix.columns]

    @staticmethod
    def prefilter(tenant: str, audiences: Sequence[Audience]) -> str:
        """The tenant and audience filter both halves of a search run under."""
        allowed = ", ".join(_literal(a) for a in audiences)
        return f"tenant = {_literal(tenant)} AND audience IN ({allowed})"

    def vector_half(self, vec: Vectors, where: str, pool: int) -> list[dict[str, Any]]:
        """Nearest chunks by cosine under the prefilter (one half of a search)."""
        rows: list[dict[str, Any]] = (
            self._table.search(vec, vector_column_name="vector")
            .distance_type("cosine")
            .where(where, prefilter=True)
            .limit(pool)
            .to_list()
        )
        return rows

    def keyword_half(self, query: str, where: str, pool: int) -> list[dict[str, Any]]:
        """Full-text matches under the prefilter (the other half)."""
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
