"""LanceStore upkeep: compaction of per-document fragments, prefilter and ANN indexes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.retrieval import lance
from agent.retrieval.lance import LanceStore
from agent.retrieval.store import Chunk

DIM = 16


def _chunks(n: int, start: int = 0, tenant: str = "demo") -> list[Chunk]:
    return [
        Chunk(
            id=f"c{i}",
            doc_id=f"d{i}",
            tenant=tenant,
            audience="customer",
            title=f"Article {i}",
            source="test",
            text=f"Policy number {i} about returns refunds and delivery option {i % 7}.",
        )
        for i in range(start, start + n)
    ]


def _vectors(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    normalised: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


def _fragments(store: LanceStore) -> int:
    return int(store._table.stats()["fragment_stats"]["num_fragments"])


def test_per_document_writes_are_compacted(tmp_path: Path) -> None:
    store = LanceStore(tmp_path, DIM)
    for i in range(lance.COMPACT_FRAGMENTS + 4):  # one fragment per document, as ingestion does
        store.add_chunks(_chunks(1, start=i), _vectors(1, seed=i))
    assert _fragments(store) > lance.COMPACT_FRAGMENTS
    store.finalize()
    assert _fragments(store) < lance.COMPACT_FRAGMENTS
    assert store.count("demo") == lance.COMPACT_FRAGMENTS + 4
    assert store.existing_ids("demo", "d3") == {"c3"}


def test_documents_added_later_are_merged_into_one_tail_fragment(tmp_path: Path) -> None:
    store = LanceStore(tmp_path, DIM)
    store.add_chunks(_chunks(40), _vectors(40, seed=0))
    store.finalize()
    start = 40
    for batch in range(4):  # later ingest jobs: a few documents each, a fragment per document
        for _ in range(3):
            store.add_chunks(_chunks(1, start=start), _vectors(1, seed=start))
            start += 1
        assert _fragments(store) >= 4
        store.finalize()
        assert _fragments(store) <= 2, f"after ingest job {batch}"
    assert store.count("demo") == start
    assert store.existing_ids("demo", f"d{start - 1}") == {f"c{start - 1}"}
    hits = store.search("demo", "policy number 51", _vectors(1, seed=51)[0], k=1)
    assert [h.chunk.id for h in hits] == ["c51"]


@pytest.mark.parametrize(
    ("fragments", "rows", "largest", "compact"),
    [
        (32, 320_000, 10_000, True),  # fragmented: always
        (2, 1_010, 1_000, False),  # compacted table and its merged tail
        (3, 1_012, 1_000, True),  # a new append to that: cheap to merge
        (25, 1_002, 900, True),  # a second tenant's 24 documents
        (10, 100_000, 10_000, False),  # a bulk load in 10k batches: a rewrite, left alone
        (3, 100_500, 100_000, True),
    ],
)
def test_when_to_compact(fragments: int, rows: int, largest: int, compact: bool) -> None:
    stats = {"num_fragments": fragments, "lengths": {"max": largest}}
    assert lance.should_compact(stats, rows) is compact


def test_vector_index_is_built_and_search_still_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lance, "ANN_MIN_ROWS", 300)
    monkeypatch.setattr(lance, "ANN_PARTITION_ROWS", 100)
    store = LanceStore(tmp_path, DIM)
    vectors = _vectors(400, seed=1)
    store.add_chunks(_chunks(380), vectors[:380])
    store.add_chunks(_chunks(20, start=380, tenant="acme"), vectors[380:])
    store.finalize()
    names = {ix.name for ix in store._table.list_indices()}
    assert "vector_idx_400" in names
    hits = store.search("acme", "returns refunds", vectors[385], k=4)
    assert hits
    assert all(h.chunk.tenant == "acme" for h in hits)
    assert hits[0].chunk.id == "c385"  # its own vector is the nearest


def test_vector_index_is_retrained_when_the_table_doubles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lance, "ANN_MIN_ROWS", 300)
    monkeypatch.setattr(lance, "ANN_PARTITION_ROWS", 100)
    store = LanceStore(tmp_path, DIM)
    store.add_chunks(_chunks(300), _vectors(300, seed=2))
    store.finalize()
    store.add_chunks(_chunks(100, start=300), _vectors(100, seed=3))
    store.finalize()  # 400 < 2 x 300: the index is kept
    assert {ix.name for ix in store._table.list_indices()} >= {"vector_idx_300"}
    store.add_chunks(_chunks(300, start=400), _vectors(300, seed=4))
    store.finalize()  # 700 >= 600: retrained, the old index dropped afterwards
    names = {ix.name for ix in store._table.list_indices()}
    assert "vector_idx_700" in names
    assert "vector_idx_300" not in names
