"""Vectors for the retrieval benchmark: a disk-cached real embedder and synthetic stores.

Embedding 100k chunks with MiniLM on two cores takes hours, so large stores reuse real
embeddings: every chunk of a synthetic store is a variant of a real chunk, and its vector is
that chunk's real MiniLM vector plus Gaussian noise (cosine 0.85-0.96 to the original),
renormalised. Index and search costs depend on row count, width and the spread of vectors,
which this keeps realistic; the embedder's own cost is measured separately.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.retrieval.chunking import chunk_document
from agent.retrieval.embedder import Embedder, Vectors
from agent.retrieval.loaders import Document
from benchmarks.retrieval_data import variants

CACHE_DIR = Path(__file__).parent / ".cache"
TENANTS = {"acme": 0.9, "globex": 0.1}
"""Share of documents per tenant in synthetic stores; queries run as ``acme``."""


def embed_text(title: str, text: str) -> str:
    """What ingestion embeds for a chunk (``ingest_documents`` uses the same format)."""
    return f"{title}\n{text}"


def _key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\0{text}".encode()).hexdigest()


class DiskCachedEmbedder:
    """A real embedder whose vectors are kept on disk, so reruns skip the model.

    ``seconds`` and ``computed`` count only what the model itself did in this process.
    """

    def __init__(self, inner: Embedder, path: Path | None) -> None:
        self._inner = inner
        self._path = path
        self._cache: dict[str, Vectors] = {}
        self.seconds = 0.0
        self.computed = 0
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as data:
                self._cache = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @property
    def model_id(self) -> str:
        """The wrapped model's id."""
        return self._inner.model_id

    @property
    def dim(self) -> int:
        """The wrapped model's width."""
        return self._inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Cached vectors, computing the missing ones in one batch."""
        keys = [_key(self.model_id, t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache})
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            started = time.perf_counter()
            fresh = self._inner.embed([by_key[k] for k in missing])
            self.seconds += time.perf_counter() - started
            self.computed += len(missing)
            self._cache.update(zip(missing, fresh, strict=True))
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache (no-op without a path)."""
        if self._path is None or not self._cache:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._cache), dtype="<U64")
        with self._path.open("wb") as handle:
            np.savez(handle, keys=keys, vectors=np.stack(list(self._cache.values())))


class LookupEmbedder:
    """Hands out precomputed vectors for known texts; a synthetic store's stand-in model."""

    def __init__(self, vectors: dict[str, Vectors], model_id: str, dim: int) -> None:
        self._vectors = vectors
        self.model_id = model_id
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """The stored vector of every text (a ``KeyError`` means the corpus is inconsistent)."""
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)


def perturb(vector: Vectors, rng: np.random.Generator) -> Vectors:
    """A unit vector at cosine 0.85-0.96 from ``vector``: a paraphrase's neighbourhood."""
    scale = rng.uniform(0.3, 0.6)
    dim = int(vector.shape[0])
    noise = rng.standard_normal(size=(dim,), dtype=np.float32) / np.float32(np.sqrt(dim))
    moved: Vectors = vector + np.float32(scale) * noise
    out: Vectors = (moved / np.linalg.norm(moved)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Placed:
    """A document, the tenant it belongs to, and how many chunks it makes."""

    tenant: str
    doc: Document
    chunks: int


@dataclass(slots=True)
class SyntheticCorpus:
    """Documents in ingestion order and the vector of every chunk text they produce."""

    documents: list[Placed] = field(default_factory=list)
    vectors: dict[str, Vectors] = field(default_factory=dict)

    @property
    def chunks(self) -> int:
        """Chunks over all documents."""
        return sum(p.chunks for p in self.documents)

    def split(self, n_chunks: int) -> tuple[list[Placed], list[Placed]]:
        """The documents holding the first ``n_chunks`` chunks, and the rest."""
        total = 0
        for i, placed in enumerate(self.documents):
            if total >= n_chunks:
                return self.documents[:i], self.documents[i:]
            total += placed.chunks
        return list(self.documents), []


def synthetic_corpus(
    base: Sequence[Document], embedder: Embedder, n_chunks: int, seed: int = 7
) -> SyntheticCorpus:
    """About ``n_chunks`` chunks: real documents first, then their numbered variants."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    base = [doc for doc in base if chunk_document(doc, "base")]
    base_vectors = _document_vectors(base, embedder)
    corpus = SyntheticCorpus()
    names, weights = list(TENANTS), list(TENANTS.values())
    total = 0
    for index, doc in variants(base, seed):
        if total >= n_chunks:
            break
        tenant = rng.choices(names, weights)[0]
        chunks = chunk_document(doc, tenant)
        originals = base_vectors[index]
        for i, chunk in enumerate(chunks):
            origin = originals[min(i, len(originals) - 1)]
            vector = origin if doc is base[index] else perturb(origin, noise)
            corpus.vectors[embed_text(chunk.title, chunk.text)] = vector
        corpus.documents.append(Placed(tenant, doc, len(chunks)))
        total += len(chunks)
    return corpus


def _document_vectors(docs: Sequence[Document], embedder: Embedder) -> list[Vectors]:
    """Per document, its chunks' vectors, embedded in one batch (the model pads per batch)."""
    chunked = [chunk_document(doc, "base") for doc in docs]
    texts = [embed_text(c.title, c.text) for chunks in chunked for c in chunks]
    matrix = embedder.embed(texts)
    bounds = np.cumsum([0, *(len(chunks) for chunks in chunked)])
    return [matrix[start:end] for start, end in itertools.pairwise(bounds)]
