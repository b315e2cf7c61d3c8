"""The retrieval benchmark's harness at a tiny size: structure and sane values, no model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.retrieval.embedder import Vectors
from benchmarks.retrieval import BenchConfig, base_documents, build_queries, run
from benchmarks.retrieval_data import BANKING_DIR, customer_message, first_person
from benchmarks.retrieval_quality import recall_at, reciprocal_rank
from benchmarks.retrieval_report import verdict
from benchmarks.retrieval_vectors import synthetic_corpus
from benchmarks.retrieval_weaviate import WeaviateTarget, measure_weaviate_size
from tests.weaviate_fake import running_fake

DIM = 64
HAS_BANKING = (BANKING_DIR / "tasks.json").is_file()


class BagOfWordsEmbedder:
    """Hashed bag of words: related texts land near each other, and nothing to load."""

    model_id = "bag-of-words-test"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest) % DIM] += 1.0
        out[:, 0] += 1e-3  # no all-zero rows
        normalised: Vectors = out / np.linalg.norm(out, axis=1, keepdims=True)
        return normalised


def _assert_timings(search: dict[str, Any]) -> None:
    assert set(search) == {"full", "vector", "keyword", "by_kind"}
    for name in ("full", "vector", "keyword"):
        assert 0 < search[name]["p50_ms"] <= search[name]["p95_ms"]
        assert search[name]["n"] == sum(kind[name]["n"] for kind in search["by_kind"].values())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = BenchConfig(
        sizes=(300,),
        repeats=1,
        max_tasks=5,
        max_quality_documents=40,
        max_queries=6,
        throughput_sample=8,
        per_document_chunks=150,
    )
    return run(config, BagOfWordsEmbedder(), tmp_path_factory.mktemp("bench"))


def test_embedded_store_is_measured(report: dict[str, Any]) -> None:
    row = report["embedded"]["300"]
    assert 300 <= row["chunks"] < 320
    assert 0 < row["tenant_chunks"] < row["chunks"]  # two tenants; queries see one
    assert row["bulk_load"]["seconds"] > 0
    assert row["incremental_ingest"]["documents"] > 0
    assert row["incremental_ingest"]["per_document_ms"] > 0
    assert row["disk_mb"] > 0
    assert row["rss_mb"] > 0
    serving = row["serving_rss_mb"]
    assert 0 < serving["imports_mb"] <= serving["served_mb"]
    _assert_timings(row["search"])
    kinds = {"question", "opening"} if HAS_BANKING else {"question"}
    assert set(row["search"]["by_kind"]) == kinds
    assert report["per_document_ingest"]["documents"] > 0
    _assert_timings(report["per_document_ingest"]["search"])
    assert report["embedder"]["chunks_per_second"] > 0


def test_verdict_and_skips_are_reported(report: dict[str, Any]) -> None:
    target = report["target"]
    assert target["chunks"] == report["embedded"]["300"]["chunks"]
    assert target["met"] == (target["p95_ms"] <= 20.0)
    assert "vector half" in target["why"]
    assert report["weaviate"] == {"skipped": "WEAVIATE_URL is not set"}


@pytest.mark.skipif(not HAS_BANKING, reason=f"no banking data set at {BANKING_DIR}")
def test_banking_quality_is_scored_three_ways(report: dict[str, Any]) -> None:
    quality = report["quality"]
    assert quality["tasks"] == 5
    assert quality["documents"] == 40
    assert 0 < quality["recall_ceiling"] <= 1
    assert set(quality["modes"]) == {"hybrid (RRF)", "vector only", "keyword only"}
    for mode in quality["modes"].values():
        for metric in ("recall_at_5", "hit_at_5", "mrr_at_10"):
            assert 0.0 <= mode[metric] <= 1.0
        assert mode["recall_at_5"] <= quality["recall_ceiling"] + 1e-9
        assert mode["latency"]["p50_ms"] > 0
        assert 1 <= mode["documents_in_top_5"] <= 5
    # Every needed document is in the small store, so the keyword half finds some.
    assert max(m["hit_at_5"] for m in quality["modes"].values()) > 0


def test_quality_is_skipped_without_the_data_set(tmp_path: Path) -> None:
    config = BenchConfig(
        sizes=(100,),
        repeats=1,
        banking_dir=tmp_path / "absent",
        max_queries=3,
        throughput_sample=4,
        per_document_chunks=0,
    )
    report = run(config, BagOfWordsEmbedder(), tmp_path)
    assert report["quality"] == {"skipped": f"no banking data set at {tmp_path / 'absent'}"}
    assert "per_document_ingest" not in report


def test_weaviate_path_runs_against_the_fake(tmp_path: Path) -> None:
    embedder = BagOfWordsEmbedder()
    docs = base_documents(tmp_path / "absent")
    corpus = synthetic_corpus(docs, embedder, 60)
    queries = build_queries(embedder, tmp_path / "absent", 3)
    with running_fake() as fake:
        target = WeaviateTarget(fake.http_url, fake.grpc_url)
        result = measure_weaviate_size(target, corpus, 60, queries, repeats=1)
    assert result["chunks"] >= 60
    assert 0 < result["tenant_chunks"] <= result["chunks"]
    _assert_timings(result["search"])


def test_customer_message_prefers_the_scripted_opening() -> None:
    scripted = '**Your character:** You are Al.\n\n1. **Opening:** "Hi, my card was stolen."\n'
    assert customer_message(scripted) == "Hi, my card was stolen."
    told = "You are a customer.\n\n- Start by saying you want to change your email.\n"
    assert customer_message(told) == "I want to change my email"
    situation = "Persona.\n\n**Your situation:** You're owed a refund by your bank.\n\nMore."
    assert customer_message(situation) == "I'm owed a refund by my bank."
    assert first_person("the agent should help you") == "The agent should help me"


def test_recall_and_reciprocal_rank() -> None:
    needed = frozenset({"a", "b"})
    assert recall_at(["x", "a", "a", "y", "z", "b"], needed) == 0.5
    assert recall_at(["b", "a"], needed) == 1.0
    assert reciprocal_rank(["x", "y", "b"], needed) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], needed) == 0.0


def test_verdict_states_met_or_missed() -> None:
    def row(p95: float) -> dict[str, Any]:
        timing = {"p50_ms": 1.0, "p95_ms": p95, "mean_ms": 1.0, "n": 1}
        search = {"full": timing, "vector": timing, "keyword": timing}
        return {"chunks": 100_000, "search": search, "vector_indexes": []}

    assert verdict({"100000": row(12.0)})["met"] is True
    missed = verdict({"1000": row(5.0), "100000": row(50.0)})
    assert missed["met"] is False
    assert missed["over_ms"] == pytest.approx(30.0)
    assert missed["ratio"] == pytest.approx(2.5)
    assert verdict({}) == {"skipped": "no embedded store was measured"}
