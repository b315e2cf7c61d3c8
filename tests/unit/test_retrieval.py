from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.errors import IngestError
from agent.retrieval.chunking import chunk_document
from agent.retrieval.ingest import demo_documents, ingest_documents, load_paths
from agent.retrieval.lance import LanceStore, rrf_fuse
from agent.retrieval.loaders import Document, html_to_text
from agent.services import Services


def test_demo_kb_has_help_centre_and_agent_guidelines() -> None:
    docs = demo_documents()
    customer = [d for d in docs if d.audience == "customer"]
    agent = [d for d in docs if d.audience == "agent"]
    assert len(customer) >= 20
    assert len(agent) == 55
    assert len({d.doc_id for d in docs}) == len(docs)


def test_embedder_is_normalised_and_semantic(services: Services) -> None:
    vectors = services.embedder.embed(
        ["How do I get my money back?", "refund timing", "The weather is sunny today"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_chunks_align_to_headings_and_ids_are_content_hashes() -> None:
    doc = Document(
        "d", "Title", "# Title\nintro\n\n## Part A\nalpha text\n\n## Part B\nbeta", "d.md"
    )
    chunks = chunk_document(doc, "demo")
    assert [c.text for c in chunks] == ["intro", "## Part A\nalpha text", "## Part B\nbeta"]
    again = chunk_document(doc, "demo")
    assert [c.id for c in chunks] == [c.id for c in again]
    assert chunk_document(doc, "other")[0].id != chunks[0].id


def test_loaders_read_every_supported_format(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Alpha\nbody", encoding="utf-8")
    (tmp_path / "b.html").write_text(
        "<html><script>x()</script><h1>Beta</h1><p>para</p></html>", encoding="utf-8"
    )
    (tmp_path / "c.txt").write_text("plain words", encoding="utf-8")
    (tmp_path / "d.json").write_text(
        json.dumps([{"id": "doc_1", "title": "Delta", "content": "json body"}]), encoding="utf-8"
    )
    docs = load_paths([tmp_path])
    assert [d.title for d in docs] == ["Alpha", "Beta", "C", "Delta"]
    assert "x()" not in docs[1].text
    assert html_to_text("<h2>T</h2><ul><li>one</li></ul>").startswith("## T")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "{not json", "invalid JSON"),
        ("shape.json", json.dumps([{"title": "no content"}]), "expected objects"),
        ("latin.txt", b"caf\xe9", "UTF-8"),
        ("image.png", b"\x89PNG", "unsupported file type"),
    ],
)
def test_bad_documents_raise_typed_errors(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(IngestError, match=message):
        load_paths([path])


def test_missing_path_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        load_paths([tmp_path / "missing"])


def test_ingestion_is_idempotent_and_tenant_isolated(services: Services, tmp_path: Path) -> None:
    store = LanceStore(tmp_path / "kb", services.embedder.dim)
    docs = [Document("returns", "Returns", "## How\nReturn delivered items within policy.", "r.md")]
    first = ingest_documents(docs, tenant="acme", embedder=services.embedder, store=store)
    second = ingest_documents(docs, tenant="acme", embedder=services.embedder, store=store)
    assert (first.added, second.added, second.unchanged) == (1, 0, 1)
    changed = [Document("returns", "Returns", "## How\nReturns are free.", "r.md")]
    third = ingest_documents(changed, tenant="acme", embedder=services.embedder, store=store)
    assert (third.added, third.removed) == (1, 1)
    vector = services.embedder.embed(["returns"])[0]
    assert store.search("other", "returns", vector, 5) == []
    hits = store.search("acme", "returns", vector, 5)
    assert [h.chunk.text for h in hits] == ["## How\nReturns are free."]


def test_hybrid_search_finds_the_right_article(services: Services) -> None:
    question = "How long until I get my refund for a PayPal payment?"
    vector = services.embedder.embed([question])[0]
    hits = services.store.search("demo", question, vector, 4)
    assert hits[0].chunk.doc_id in {"refunds-and-timing", "payment-methods"}
    assert all(h.chunk.audience == "customer" for h in hits)
    agent_hits = services.store.search("demo", question, vector, 50, audiences=("agent",))
    assert agent_hits
    assert all(h.chunk.audience == "agent" for h in agent_hits)


def test_rrf_fusion_rewards_agreement() -> None:
    scores = rrf_fuse(["a", "b", "c"], ["b", "d"])
    assert max(scores, key=lambda k: scores[k]) == "b"
    assert scores["a"] > scores["d"]


def test_filter_values_are_validated(services: Services) -> None:
    vector = services.embedder.embed(["x"])[0]
    with pytest.raises(ValueError, match="unsafe filter value"):
        services.store.search("demo' OR '1'='1", "x", vector, 3)
