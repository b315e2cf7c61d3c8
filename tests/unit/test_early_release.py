"""Sentence-by-sentence release while the model writes: only checked, restating sentences."""

from __future__ import annotations

from typing import Any, cast

from agent.answers.early_release import EarlyRelease, early_release_allowed
from agent.answers.text import SourcePhrases
from agent.guards.output import split_chunks
from agent.state import SupportState

INTRO = "Here is what our help centre says: "
SOURCE = (
    "You can return most items within 30 days of delivery. Start a return from Orders, choose "
    "the item and print the prepaid label. Gift cards are not refunded."
)
CANARY = "sf-canary-0123456789abcdef"


def releaser(**kw: Any) -> EarlyRelease:
    return EarlyRelease(
        intro=INTRO, sources=SourcePhrases(SOURCE), allowed_values=[], canary=CANARY, **kw
    )


def feed_words(early: EarlyRelease, text: str) -> list[list[str]]:
    """Feed ``text`` a word at a time, as tokens arrive; what each step released."""
    words, steps = text.split(" "), []
    for i in range(1, len(words) + 1):
        steps.append(early.feed(" ".join(words[:i])))
    return steps


def test_a_sentence_goes_out_once_the_next_one_has_started() -> None:
    draft = "You can return most items within 30 days of delivery. Gift cards are not refunded."
    early = releaser()
    steps = feed_words(early, draft)
    first = next(i for i, released in enumerate(steps) if released)
    assert steps[first] == [INTRO + "You can return most items within 30 days of delivery. "]
    assert draft.split(" ")[first] == "Gift"  # released when the next sentence began
    assert early.text == "".join(split_chunks(INTRO + draft)[:-1])  # the last waits for the end


def test_the_released_text_is_always_a_prefix_of_the_guards_chunks() -> None:
    draft = (
        "You can return most items within 30 days of delivery.\n\nStart a return from Orders, "
        "choose the item and print the prepaid label.  Gift cards are not refunded."
    )
    early = releaser()
    feed_words(early, draft)
    chunks = split_chunks(INTRO + draft)
    assert early.released == chunks[: len(early.released)]
    assert len(early.released) == len(chunks) - 1


def test_the_first_sentence_that_does_not_restate_the_sources_stops_release() -> None:
    draft = (
        "You can return most items within 30 days of delivery. Gift cards are refunded. "
        "Start a return from Orders, choose the item and print the prepaid label. Thanks."
    )
    early = releaser()
    feed_words(early, draft)
    assert early.stopped
    assert early.text == INTRO + "You can return most items within 30 days of delivery. "


def test_guard_failures_stop_release() -> None:
    leaking = f"You can return most items within 30 days of delivery {CANARY}. Thanks a lot."
    early = releaser()
    feed_words(early, leaking)
    assert early.released == []
    foreign = releaser(rule=lambda chunk: "delivery" not in chunk)
    feed_words(foreign, "You can return most items within 30 days of delivery. Thanks.")
    assert foreign.released == []


def state(**extra: Any) -> SupportState:
    passages = [{"id": "r#0", "title": "Returns", "text": SOURCE, "similarity": 0.7}]
    return cast(SupportState, {"route": "knowledge", "passages": passages, **extra})


def test_only_confident_first_knowledge_drafts_are_released_early() -> None:
    assert early_release_allowed(state(), review_always=False)
    assert not early_release_allowed(state(), review_always=True)
    assert not early_release_allowed(state(attempts=1), review_always=False)
    assert not early_release_allowed(state(route="order_status"), review_always=False)
    weak = [{"id": "r#0", "title": "Returns", "text": SOURCE, "similarity": 0.3}]
    assert not early_release_allowed(state(passages=weak), review_always=False)
    assert not early_release_allowed(state(passages=[]), review_always=False)


def test_the_deployments_own_similarity_bar_also_applies() -> None:
    assert early_release_allowed(state(), review_always=False, min_similarity=0.6)
    assert not early_release_allowed(state(), review_always=False, min_similarity=0.8)
