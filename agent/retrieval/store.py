"""The ``VectorStore`` protocol and the records it keeps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from agent.retrieval.embedder import Vectors

Audience = Literal["customer", "agent"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One searchable piece of a document, addressed by a hash of its content."""

    id: str
    doc_id: str
    tenant: str
    audience: Audience
    title: str
    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the chunk, its fused rank score and its cosine similarity."""

    chunk: Chunk
    score: float
    similarity: float


class VectorStore(Protocol):
    """Hybrid (keyword + vector) search over chunks, always filtered by tenant."""

    def existing_ids(self, tenant: str, doc_id: str) -> set[str]:
        """Chunk ids already stored for a document, so ingestion embeds only what is new."""
        ...

    def add_chunks(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Store new chunks with their vectors (row ``i`` of ``vectors`` is chunk ``i``)."""
        ...

    def prune_document(self, tenant: str, doc_id: str, keep: set[str]) -> int:
        """Delete the document's chunks whose ids are not in ``keep``; returns how many."""
        ...

    def finalize(self) -> None:
        """Rebuild search indexes after a batch of writes."""
        ...

    def count(self, tenant: str) -> int:
        """Number of chunks stored for a tenant."""
        ...

    def search(
        self,
        tenant: str,
        query: str,
        vector: Vectors,
        k: int,
        audiences: Sequence[Audience] = ("customer",),
    ) -> list[Hit]:
        """Best ``k`` chunks for the query, fused from keyword and vector ranks."""
        ...
