"""Release a knowledge answer sentence by sentence while the model is still writing it.

The output guard's rule stands: no text reaches a customer before it is checked. What
changes is when the check runs. A finished sentence of a first draft is released at once
when it passes every check the output guard would apply *and* it restates the retrieved
passages (each of its sentences is, word for word, a sentence of them: the bar at which
reflection skips the model review). The first
sentence that falls short stops early release for the draft; the rest waits for reflection
and the output guard as before. Reflection can still reject the draft: the widget is then
told to retract what it showed (the ``retract`` event) before the retry or the handoff.

Chunks are cut exactly as the output guard cuts the finished draft (``split_chunks`` over
intro + draft), so the guard can skip the released prefix and release only the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agent.answers.checks import CONFIDENT_SIMILARITY
from agent.answers.text import SourcePhrases
from agent.guards.output import check_chunk, split_chunks
from agent.state import SupportState

ChunkRule = Callable[[str], bool]
"""An extra check on a whole chunk (for example: order facts match the tools)."""


def early_release_allowed(
    state: SupportState, *, review_always: bool, min_similarity: float = 0.0
) -> bool:
    """First drafts of confidently matched knowledge answers, unless every draft is reviewed.

    The match must also clear the deployment's own bar (``min_similarity``): below it
    reflection hands off (``low_confidence``), so anything released would be withdrawn.
    """
    passages = state.get("passages", [])
    return (
        not review_always
        and state.get("route") == "knowledge"
        and state.get("attempts", 0) == 0
        and bool(passages)
        and max(p["similarity"] for p in passages) >= max(CONFIDENT_SIMILARITY, min_similarity)
    )


@dataclass
class EarlyRelease:
    """Feed it the draft so far; it returns the sentences that may go out now."""

    intro: str
    sources: SourcePhrases
    allowed_values: Iterable[str]
    canary: str
    rule: ChunkRule = field(default=lambda _chunk: True)
    released: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def text(self) -> str:
        """Everything released so far (a prefix of the guard's chunks of intro + draft)."""
        return "".join(self.released)

    def feed(self, draft_so_far: str) -> list[str]:
        """Newly releasable chunks; the last chunk is never final while text still arrives."""
        if self.stopped:
            return []
        full = self.intro + draft_so_far
        finished = split_chunks(full)[:-1]
        fresh: list[str] = []
        start = len(self.text)
        for chunk in finished[len(self.released) :]:
            if not self._releasable(chunk, full_offset=start):
                self.stopped = True
                break
            self.released.append(chunk)
            fresh.append(chunk)
            start += len(chunk)
        return fresh

    def _releasable(self, chunk: str, full_offset: int) -> bool:
        verdict = check_chunk(chunk, allowed_values=self.allowed_values, canary=self.canary)
        if verdict["verdict"] != "allow" or not self.rule(chunk):
            return False
        own_words = chunk[max(0, len(self.intro) - full_offset) :]
        return self.sources.restates(own_words)
