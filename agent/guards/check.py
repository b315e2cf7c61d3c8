"""One entry point for checking text in any mode, for the CLI and batch tools."""

from __future__ import annotations

from typing import Literal

from agent.guards.detector import InjectionDetector
from agent.guards.normalise import normalise
from agent.guards.output import check_chunk, split_chunks
from agent.retrieval.embedder import CachedEmbedder, MiniLMEmbedder
from agent.settings import Settings
from agent.state import GuardVerdict

GuardMode = Literal["input", "document", "output"]


class GuardRunner:
    """Checks batches of texts; input mode embeds only the texts that need it, in one call."""

    def __init__(self, settings: Settings, mode: str) -> None:
        self.mode = mode
        self._settings = settings
        needs_model = mode in ("input", "document")
        self._detector = InjectionDetector(
            CachedEmbedder(MiniLMEmbedder()) if needs_model else None
        )

    def check(self, texts: list[str]) -> list[GuardVerdict]:
        """One verdict per text, in order."""
        if not texts:
            return []
        if self.mode == "input":
            return self._detector.assess_many([normalise(t)[0] for t in texts])
        if self.mode == "document":
            return [self._detector.assess_document(normalise(t)[0]) for t in texts]
        return [self._output(t) for t in texts]

    def _output(self, text: str) -> GuardVerdict:
        canary = self._settings.canary_token.get_secret_value()
        reasons: set[str] = set()
        for chunk in split_chunks(text):
            reasons |= set(check_chunk(chunk, allowed_values=(), canary=canary)["reasons"])
        if reasons:
            return {"verdict": "block", "score": 1.0, "reasons": sorted(reasons)}
        return {"verdict": "allow", "score": 0.0, "reasons": []}
