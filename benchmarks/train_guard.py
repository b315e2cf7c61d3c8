"""Fit the input guard's classifier on the train split and write its weights into the package.

    python -m benchmarks.train_guard

A class-balanced logistic regression over the MiniLM embedding plus the heuristic score. The
threshold is the score at which the *train* benign messages reach 1 % false positives; the
held-out split is never seen here. Only 385 weights are shipped, no attack text.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.guards.detector import (
    DOCUMENT_MODEL_PATH,
    MODEL_PATH,
    Classifier,
    InjectionDetector,
    features,
    sentences_of,
)
from agent.retrieval.embedder import MiniLMEmbedder
from benchmarks.guard_data import SHARED, all_samples

Array = npt.NDArray[np.float64]
TARGET_FPR = 0.01
HELP_CENTRE = Path(__file__).resolve().parents[1] / "agent" / "retrieval" / "kb" / "help"


def fit(
    x: Array, y: Array, steps: int = 3000, rate: float = 0.5, l2: float = 1e-3
) -> tuple[Array, float]:
    """Gradient descent on the class-balanced logistic loss."""
    weights, bias = np.zeros(x.shape[1]), 0.0
    pos = y.mean()
    balance = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ weights + bias)))
        grad = (p - y) * balance
        weights -= rate * (x.T @ grad / len(y) + l2 * weights)
        bias -= rate * float(grad.mean())
    return weights, bias


def document_training_set() -> tuple[list[str], list[bool]]:
    """Sentences: BIPIA *train* attacks (positive); *train* contexts and help text (negative)."""
    bipia = SHARED / "injection" / "bipia"
    texts: list[str] = []
    labels: list[bool] = []
    for name in ("text_attack_train.json", "code_attack_train.json"):
        for attacks in json.loads((bipia / name).read_text()).values():
            texts += attacks
            labels += [True] * len(attacks)
    for task in ("email", "table", "code"):
        for line in (bipia / task / "train.jsonl").read_text().splitlines()[:150]:
            found = sentences_of(str(json.loads(line)["context"]))
            texts += found
            labels += [False] * len(found)
    for path in sorted(HELP_CENTRE.glob("*.md")):
        found = sentences_of(path.read_text(encoding="utf-8"))
        texts += found
        labels += [False] * len(found)
    return texts, labels


def train(
    embedder: MiniLMEmbedder, texts: list[str], labels: list[bool], path: Path
) -> dict[str, float]:
    """Fit one classifier, choose its 1 %-FPR threshold on these (train) texts, save it."""
    x = features(embedder, texts).astype(np.float64)
    y = np.array(labels, dtype=np.float64)
    weights, bias = fit(x, y)
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    benign = np.sort(p[y == 0])
    threshold = float(benign[int(np.ceil((1 - TARGET_FPR) * len(benign))) - 1] + 1e-6)
    np.savez(
        path,
        weights=weights.astype(np.float32),
        bias=np.float32(bias),
        threshold=np.float32(threshold),
        model_id=embedder.model_id,
    )
    return {
        "samples": len(texts),
        "attacks": int(y.sum()),
        "threshold": round(threshold, 4),
        "train_tpr": float((p[y == 1] >= threshold).mean()),
        "train_fpr": float((p[y == 0] >= threshold).mean()),
    }


def document_threshold(embedder: MiniLMEmbedder) -> dict[str, float]:
    """Re-threshold the sentence model at the *document* level.

    A document is flagged when its worst sentence passes, so the cut-off is set where 1 % of
    clean train documents would be.
    """
    model = Classifier.load(DOCUMENT_MODEL_PATH)
    assert model is not None
    detector = InjectionDetector(embedder)
    worst = []
    bipia = SHARED / "injection" / "bipia"
    for task in ("email", "table", "code"):
        for line in (bipia / task / "train.jsonl").read_text().splitlines()[:100]:
            context = str(json.loads(line)["context"])[:1500]
            worst.append(max((p for _, p in detector.document_sentences(context)), default=0.0))
    ranked = np.sort(np.array(worst))
    threshold = float(
        max(model.threshold, ranked[int(np.ceil((1 - TARGET_FPR) * len(ranked))) - 1] + 1e-6)
    )
    data = dict(np.load(DOCUMENT_MODEL_PATH))
    data["document_threshold"] = np.float32(threshold)
    np.savez(DOCUMENT_MODEL_PATH, **data)
    return {"clean_documents": len(worst), "document_threshold": round(threshold, 4)}


def main() -> None:
    """Train both classifiers on the train split and print their train-split rates."""
    embedder = MiniLMEmbedder()
    inputs = [s for s in all_samples() if s.mode == "input" and s.split == "train"]
    report = {
        "input": train(embedder, [s.text for s in inputs], [s.attack for s in inputs], MODEL_PATH),
        "document": train(embedder, *document_training_set(), DOCUMENT_MODEL_PATH),
    }
    report["document"].update(document_threshold(embedder))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
