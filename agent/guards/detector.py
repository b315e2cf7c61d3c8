"""Layered injection detection: heuristics, then similarity to a bank of known attacks.

The layers combine as independent evidence (noisy-OR) into one score in [0, 1]; the verdict
thresholds live in settings. The embedding layer runs only when cheap signals say the text
looks like it is talking *to the assistant* (a cascade), which keeps ordinary customer
messages in the sub-millisecond path.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.guards.injection import Mode, score_text
from agent.retrieval.embedder import Embedder, Vectors
from agent.state import GuardVerdict, Verdict

BANK_PATH = Path(__file__).parent / "data" / "attack_bank.txt"
MODEL_PATH = Path(__file__).parent / "data" / "injection_model.npz"
DOCUMENT_MODEL_PATH = Path(__file__).parent / "data" / "document_injection_model.npz"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|\|")
MAX_SENTENCES = 64


def sentences_of(text: str) -> list[str]:
    """Sentence-sized pieces of a document (table cells and lines count as pieces)."""
    pieces = [p.strip() for p in _SENTENCE.split(text)]
    return [p for p in pieces if len(p) >= 12][:MAX_SENTENCES]


# Words that address the assistant or its configuration; their absence means no embedding.
_ADDRESSES_ASSISTANT = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|instruction|prompt|system|rules?|polic(y|ies)"
    r"|pretend|role ?play|act as|character|persona|developer|mode|jailbreak|dan|unfiltered"
    r"|uncensored|restrictions?|reveal|repeat|verbatim|print|output|hidden|secret|admin"
    r"|administrator|all (customers|users)|other customers?|database|tool|execute|simulate"
    r"|hypothetical|from now on|you are now|you will now|obey|comply|decode|base64|disclose"
    r"|configured|configuration|guidance|(were|was) told|above (this|the)|text above)\b",
    flags=re.IGNORECASE,
)
LONG_TEXT = 240
GUARD_CHARS = 600
"""Characters embedded per text (~128 tokens): attacks show themselves early, and the cost of
long texts halves; shorter messages embed exactly as routing does, so the vector is reused."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Verdict cut-offs on the combined score, and the similarity range that maps onto it."""

    flag_at: float = 0.4
    block_at: float = 0.75
    similarity_floor: float = 0.5
    """Cosine similarity to the nearest known attack that starts to count."""
    similarity_block: float = 0.68
    """Cosine similarity that alone reaches ``block_at``."""


def features(embedder: Embedder, texts: list[str]) -> Vectors:
    """Classifier input: the text's embedding plus the heuristic score."""
    vectors = embedder.embed([t[:GUARD_CHARS] for t in texts])
    heuristic = np.array([[score_text(t)["score"]] for t in texts], dtype=np.float32)
    stacked: Vectors = np.hstack([vectors, heuristic]).astype(np.float32)
    return stacked


@dataclass(frozen=True, slots=True)
class Classifier:
    """Logistic regression over :func:`features`, fitted by ``benchmarks/train_guard.py``."""

    weights: Vectors
    bias: float
    threshold: float
    """Probability at which train-split benign items reach 1 % false positives."""
    document_threshold: float = 1.0
    """For the sentence model: the worst-sentence probability that flags a whole document."""

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Classifier | None:
        """The packaged weights, or ``None`` when absent (heuristics and bank only)."""
        if not path.exists():
            return None
        data = np.load(path)
        document = float(data["document_threshold"]) if "document_threshold" in data else 1.0
        return cls(data["weights"], float(data["bias"]), float(data["threshold"]), document)

    def probability(self, vector: Vectors, heuristic: float) -> float:
        """Probability that the text is an attack."""
        z = float(vector @ self.weights[:-1]) + heuristic * float(self.weights[-1]) + self.bias
        return 1.0 / (1.0 + float(np.exp(-z)))


def load_bank() -> list[str]:
    """The packaged attack intents (comments and blanks skipped)."""
    lines = BANK_PATH.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


class InjectionDetector:
    """Scores text for prompt injection; thread-safe, loads its bank lazily."""

    def __init__(self, embedder: Embedder | None, thresholds: Thresholds | None = None) -> None:
        self._embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self._bank: Vectors | None = None
        self._lock = threading.Lock()
        self._classifier = Classifier.load() if embedder is not None else None
        self._documents = Classifier.load(DOCUMENT_MODEL_PATH) if embedder is not None else None

    def _bank_vectors(self) -> Vectors:
        with self._lock:
            if self._bank is None and self._embedder is not None:
                self._bank = self._embedder.embed(load_bank())
            assert self._bank is not None
            return self._bank

    def _vector(self, text: str) -> Vectors:
        assert self._embedder is not None
        vector: Vectors = self._embedder.embed([text[:GUARD_CHARS]])[0]
        return vector

    def similarity(self, text: str) -> float:
        """Cosine similarity to the nearest attack in the bank."""
        if self._embedder is None:
            return 0.0
        return float(np.max(self._bank_vectors() @ self._vector(text)))

    def _similarity_score(self, similarity: float) -> float:
        t = self.thresholds
        if similarity <= t.similarity_floor:
            return 0.0
        span = t.similarity_block - t.similarity_floor
        return min(1.0, (similarity - t.similarity_floor) / span * t.block_at)

    def needs_embedding(self, text: str, heuristic: float) -> bool:
        """The cascade: only text that talks to the assistant, or is long, is embedded."""
        return heuristic > 0 or len(text) > LONG_TEXT or bool(_ADDRESSES_ASSISTANT.search(text))

    def assess(self, text: str, mode: Mode = "input") -> GuardVerdict:
        """Combined verdict with reasons (rule codes, ``similar_to_known_attack``, …)."""
        verdict = score_text(text, mode)
        if (
            mode == "input"
            and verdict["score"] < self.thresholds.block_at
            and self.needs_embedding(text, verdict["score"])
        ):
            verdict = self._combine(verdict, self._embedding_layers(text, verdict["score"]))
        return self._finish(verdict)

    def document_sentences(self, text: str) -> list[tuple[str, float]]:
        """Each sentence with the document classifier's probability (0 without a model)."""
        pieces = sentences_of(text)
        if self._documents is None or self._embedder is None or not pieces:
            return [(p, 0.0) for p in pieces]
        vectors = self._embedder.embed(pieces)
        model = self._documents
        return [
            (p, model.probability(v, score_text(p, "document")["score"]))
            for p, v in zip(pieces, vectors, strict=True)
        ]

    def assess_document(self, text: str) -> GuardVerdict:
        """Document mode with the sentence classifier: heuristics plus the worst sentence."""
        verdict = self.assess(text, "document")
        if self._documents is None:
            return verdict
        worst = max((p for _, p in self.document_sentences(text)), default=0.0)
        scaled = min(1.0, worst / self._documents.document_threshold * self.thresholds.block_at)
        if scaled < self.thresholds.flag_at:
            return verdict
        score = 1.0 - (1.0 - verdict["score"]) * (1.0 - scaled)
        reasons = sorted({*verdict["reasons"], "embedded_instruction"})
        return {"verdict": self.verdict(score), "score": round(score, 3), "reasons": reasons}

    def clean_document(self, text: str) -> tuple[str, int]:
        """Drop instruction-shaped sentences (classifier or rules); returns text and count."""
        removed = 0
        threshold = self._documents.threshold if self._documents else 2.0
        for sentence, p in self.document_sentences(text):
            rule_hit = score_text(sentence, "document")["verdict"] != "allow"
            if (p >= threshold or rule_hit) and sentence in text:
                # Dropped, not marked: a marker would surface in extractive answers.
                text = text.replace(sentence, "")
                removed += 1
        return re.sub(r"[ \t]{2,}", " ", text), removed

    def assess_many(self, texts: list[str]) -> list[GuardVerdict]:
        """Input mode for a batch: one batched embedding call for the texts that need it."""
        verdicts = [score_text(t, "input") for t in texts]
        todo = [
            i
            for i, (t, v) in enumerate(zip(texts, verdicts, strict=True))
            if self._embedder is not None
            and v["score"] < self.thresholds.block_at
            and self.needs_embedding(t, v["score"])
        ]
        if todo and self._embedder is not None:
            vectors = self._embedder.embed([texts[i][:GUARD_CHARS] for i in todo])
            for i, vector in zip(todo, vectors, strict=True):
                verdicts[i] = self._combine(verdicts[i], self._layers(vector, verdicts[i]["score"]))
        return [self._finish(v) for v in verdicts]

    def _combine(self, verdict: GuardVerdict, layers: list[tuple[str, float]]) -> GuardVerdict:
        score, reasons = verdict["score"], list(verdict["reasons"])
        for code, layer in layers:
            if layer > 0:
                reasons.append(code)
                score = 1.0 - (1.0 - score) * (1.0 - layer)
        return {"verdict": verdict["verdict"], "score": score, "reasons": reasons}

    def _finish(self, verdict: GuardVerdict) -> GuardVerdict:
        score = verdict["score"]
        return {
            "verdict": self.verdict(score),
            "score": round(score, 3),
            "reasons": sorted(verdict["reasons"]),
        }

    def _embedding_layers(self, text: str, heuristic: float) -> list[tuple[str, float]]:
        """Scores from the embedding: nearest known attack, and the trained classifier."""
        if self._embedder is None:
            return []
        return self._layers(self._vector(text), heuristic)

    def _layers(self, vector: Vectors, heuristic: float) -> list[tuple[str, float]]:
        similarity = float(np.max(self._bank_vectors() @ vector))
        layers = [("similar_to_known_attack", self._similarity_score(similarity))]
        if self._classifier is not None:
            p = self._classifier.probability(vector, heuristic)
            # Calibrated so the classifier's threshold lands exactly on ``block_at``.
            scaled = min(1.0, p / self._classifier.threshold * self.thresholds.block_at)
            layers.append(
                ("injection_classifier", scaled if scaled >= self.thresholds.flag_at else 0.0)
            )
        return layers

    def verdict(self, score: float) -> Verdict:
        """Map a score onto allow / flag / block."""
        if score >= self.thresholds.block_at:
            return "block"
        return "flag" if score >= self.thresholds.flag_at else "allow"
