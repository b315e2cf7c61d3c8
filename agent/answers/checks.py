"""Deterministic reflection checks: the draft must be supported, on topic and confident."""

from __future__ import annotations

import re

from agent.answers.text import SourcePhrases, coverage, sentences, terms
from agent.intents import order_ids_in
from agent.state import SupportState

SUPPORT_THRESHOLD = 0.6
ANSWERED_THRESHOLD = 0.25
CONFIDENT_SIMILARITY = 0.5
_FIGURE = re.compile(r"\d[\d.,:/-]*\d|\d")


def _unsupported(draft: str, source_text: str) -> bool:
    source_terms = terms(source_text)
    for sentence in sentences(draft):
        wanted = terms(sentence)
        if wanted and len(wanted & source_terms) / len(wanted) < SUPPORT_THRESHOLD:
            return True
    return False


def source_phrases(state: SupportState) -> SourcePhrases:
    """The passages' phrases, each title and text its own block."""
    return SourcePhrases(
        "\n".join(p["title"] + "\n" + p["text"] for p in state.get("passages", []))
    )


def _passage_text(state: SupportState) -> str:
    return " ".join(p["text"] + " " + p["title"] for p in state.get("passages", []))


def knowledge_problems(state: SupportState, min_similarity: float) -> list[str]:
    """Problems with a knowledge answer, most decisive first."""
    passages = state.get("passages", [])
    if not passages:
        return ["no_sources"]
    best = max(p["similarity"] for p in passages)
    if best < min_similarity:
        return ["low_confidence"]
    problems = []
    draft = state.get("draft", "")
    if _unsupported(draft, _passage_text(state)):
        problems.append("unsupported")
    titles = " ".join(c["title"] for c in state.get("citations", []))
    answered = coverage(state["question"], f"{draft} {titles}") >= ANSWERED_THRESHOLD
    if not answered and best < CONFIDENT_SIMILARITY:
        problems.append("unanswered")
    return problems


def tool_problems(state: SupportState) -> list[str]:
    """Order ids in the draft must come from tool results or the customer's own message."""
    known = set(order_ids_in(state["question"]))
    for result in state.get("tool_results", []):
        known |= set(order_ids_in(str(result["data"])))
    mentioned = set(order_ids_in(state.get("draft", "")))
    return ["unsupported_order_fact"] if mentioned - known else []


def draft_problems(state: SupportState, min_similarity: float) -> list[str]:
    """All deterministic problems for the current draft."""
    route = state["route"]
    if route == "knowledge":
        return knowledge_problems(state, min_similarity)
    if route in ("order_status", "account"):
        return tool_problems(state)
    return []


def _figures(text: str) -> set[str]:
    return set(_FIGURE.findall(text))


def draft_is_assured(state: SupportState) -> bool:
    """True when the deterministic evidence is strong enough that a model review adds nothing.

    A knowledge draft qualifies when a passage matches the question confidently, the draft
    covers the question, and each of its sentences is, word for word, a whole sentence of
    the sources (it restates them). A tool draft qualifies when every figure in it (ids,
    amounts, dates) comes from a tool result or the customer's own message. Anything else
    still gets the model's review; the output guard runs either way.
    """
    draft = state.get("draft", "")
    route = state.get("route")
    if not draft:
        return False
    if route == "knowledge":
        passages = state.get("passages", [])
        if not passages or max(p["similarity"] for p in passages) < CONFIDENT_SIMILARITY:
            return False
        titles = " ".join(c["title"] for c in state.get("citations", []))
        answered = coverage(state["question"], f"{draft} {titles}") >= ANSWERED_THRESHOLD
        return answered and source_phrases(state).restates(draft)
    if route in ("order_status", "account"):
        results = state.get("tool_results", [])
        if not results:
            return False
        known = _figures(state["question"])
        for result in results:
            known |= _figures(str(result["data"]))
        return _figures(draft) <= known
    return False
