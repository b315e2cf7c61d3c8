"""Idempotent ingestion: chunk, embed only what is new, drop what disappeared."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from agent.guards.detector import InjectionDetector
from agent.retrieval.chunking import chunk_document
from agent.retrieval.embedder import Embedder
from agent.retrieval.loaders import Document, iter_files, load_file
from agent.retrieval.store import Chunk, VectorStore

DEMO_KB = Path(__file__).parent / "kb"

Progress = Callable[[int], None]


@dataclass(slots=True)
class IngestReport:
    """Counts for the CLI and tests: a second identical run adds and removes nothing."""

    documents: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    neutralised: int = 0
    """Instruction-shaped sentences cut out of new chunks before they were stored."""


def load_paths(paths: Iterable[Path]) -> list[Document]:
    """Every supported document under the given files and folders."""
    return [doc for path in iter_files(paths) for doc in load_file(path)]


def demo_documents() -> list[Document]:
    """The packaged help centre (customer-facing) and agent guidelines (agents only)."""
    help_docs = [d for p in iter_files([DEMO_KB / "help"]) for d in load_file(p, "customer")]
    guides = [d for p in iter_files([DEMO_KB / "guidelines"]) for d in load_file(p, "agent")]
    return [d for d in [*help_docs, *guides] if d.doc_id != "readme"]


def ingest_documents(
    docs: Sequence[Document],
    *,
    tenant: str,
    embedder: Embedder,
    store: VectorStore,
    progress: Progress | None = None,
    detector: InjectionDetector | None = None,
) -> IngestReport:
    """Bring the store in line with ``docs`` for one tenant."""
    report = IngestReport(documents=len(docs))
    for doc in docs:
        chunks = _unique(chunk_document(doc, tenant))
        existing = store.existing_ids(tenant, doc.doc_id)
        new = [c for c in chunks if c.id not in existing]
        if new:
            new, cut = _neutralise(new, detector)
            report.neutralised += cut
            store.add_chunks(new, embedder.embed([f"{c.title}\n{c.text}" for c in new]))
        report.added += len(new)
        report.unchanged += len(chunks) - len(new)
        report.removed += store.prune_document(tenant, doc.doc_id, {c.id for c in chunks})
        if progress:
            progress(1)
    if report.added or report.removed:
        store.finalize()
    return report


def _neutralise(chunks: list[Chunk], detector: InjectionDetector | None) -> tuple[list[Chunk], int]:
    """Scan new chunks as untrusted documents; ids stay those of the original text."""
    if detector is None:
        return chunks, 0
    cleaned, total = [], 0
    for chunk in chunks:
        text, cut = detector.clean_document(chunk.text)
        cleaned.append(replace(chunk, text=text) if cut else chunk)
        total += cut
    return cleaned, total


def _unique(chunks: list[Chunk]) -> list[Chunk]:
    seen: dict[str, Chunk] = {}
    for chunk in chunks:
        seen.setdefault(chunk.id, chunk)
    return list(seen.values())
