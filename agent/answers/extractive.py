"""No-LLM knowledge answers: the passage sentences that best match the question."""

from __future__ import annotations

from dataclasses import dataclass

from agent.answers.text import sentences, similar, terms
from agent.state import Citation, Passage

MAX_SENTENCES = 3
MAX_CHARS = 520
RELATIVE_CUTOFF = 0.75
"""A sentence scoring below this share of the best one is noise, not support."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An answer with the citations it relies on."""

    text: str
    citations: list[Citation]


def _score(sentence: str, wanted: set[str], passage: Passage, rank: int) -> float:
    overlap = len(wanted & terms(sentence)) / max(len(wanted), 1)
    return overlap + 0.5 * passage["similarity"] - 0.05 * rank


def extractive_answer(question: str, passages: list[Passage]) -> Draft:
    """Pick up to three sentences from the top passages, keeping each passage's order."""
    wanted = terms(question)
    scored: list[tuple[float, int, int, str]] = []
    for rank, passage in enumerate(passages[:3]):
        for pos, sentence in enumerate(sentences(passage["text"])):
            scored.append((_score(sentence, wanted, passage, rank), rank, pos, sentence))
    chosen: list[tuple[int, int, str]] = []
    length = 0
    ranked = sorted(scored, key=lambda s: -s[0])
    floor = ranked[0][0] * RELATIVE_CUTOFF if ranked else 0.0
    for score, rank, pos, sentence in ranked:
        if len(chosen) == MAX_SENTENCES or length + len(sentence) > MAX_CHARS or score < floor:
            break
        if any(similar(sentence, kept) for _r, _p, kept in chosen):
            continue
        chosen.append((rank, pos, sentence))
        length += len(sentence) + 1
    chosen.sort()
    used = sorted({rank for rank, _pos, _s in chosen})
    citations: list[Citation] = [
        {"id": passages[r]["id"], "title": passages[r]["title"]} for r in used
    ]
    return Draft(" ".join(_terminated(s) for _r, _p, s in chosen), citations)


def _terminated(sentence: str) -> str:
    return sentence if sentence[-1] in ".!?" else f"{sentence}."
