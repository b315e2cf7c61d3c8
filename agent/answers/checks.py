"""Deterministic reflection checks: the draft must be supported, on topic and confident."""

from __future__ import annotations

from agent.answers.text import coverage, sentences, terms
from agent.intents import order_ids_in
from agent.state import SupportState

SUPPORT_THRESHOLD = 0.6
ANSWERED_THRESHOLD = 0.25
CONFIDENT_SIMILARITY = 0.5


def _unsupported(draft: str, source_text: str) -> bool:
    source_terms = terms(source_text)
    for sentence in sentences(draft):
        wanted = terms(sentence)
        if wanted and len(wanted & source_terms) / len(wanted) < SUPPORT_THRESHOLD:
            return True
    return False


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
    if _unsupported(draft, " ".join(p["text"] + " " + p["title"] for p in passages)):
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
