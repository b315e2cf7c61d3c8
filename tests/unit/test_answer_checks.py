"""Deterministic reflection checks, and when they make a model review unnecessary."""

from __future__ import annotations

from typing import Any, cast

from agent.answers.checks import draft_is_assured, draft_problems
from agent.answers.text import SourcePhrases
from agent.state import SupportState

RETURNS = (
    "You can return most items within 30 days of delivery. Start a return from Orders, choose "
    "the item and print the prepaid label. Gift cards are not refunded."
)


def knowledge_state(draft: str, similarity: float = 0.72, **extra: Any) -> SupportState:
    state: dict[str, Any] = {
        "route": "knowledge",
        "question": "How do I return an item?",
        "draft": draft,
        "passages": [
            {"id": "returns#0", "title": "Returns", "text": RETURNS, "similarity": similarity}
        ],
        "citations": [{"id": "returns#0", "title": "Returns"}],
        **extra,
    }
    return cast(SupportState, state)


def tool_state(draft: str, data: Any, question: str = "Where is #W2611340?") -> SupportState:
    return SupportState(
        route="order_status",
        question=question,
        draft=draft,
        tool_results=[{"name": "get_order", "status": "ok", "data": data}],
    )


def test_a_draft_that_restates_its_sources_is_assured() -> None:
    state = knowledge_state(
        "You can return most items within 30 days of delivery. Start a return from Orders, "
        "choose the item and print the prepaid label."
    )
    assert draft_problems(state, 0.45) == []
    assert draft_is_assured(state)


def test_a_dropped_negation_is_not_assured_though_every_term_is_in_the_sources() -> None:
    state = knowledge_state("You can return most items within 30 days. Gift cards are refunded.")
    assert draft_problems(state, 0.45) == []
    assert not draft_is_assured(state)


def test_a_paraphrase_passes_the_checks_but_still_gets_a_review() -> None:
    state = knowledge_state("You can return most items within 30 days of delivery at any store.")
    assert draft_problems(state, 0.45) == []
    assert not draft_is_assured(state)


def test_a_weak_match_is_never_assured() -> None:
    state = knowledge_state(
        "You can return most items within 30 days of delivery.", similarity=0.46
    )
    assert draft_problems(state, 0.45) == []
    assert not draft_is_assured(state)


def test_a_draft_that_misses_the_question_is_not_assured() -> None:
    state = knowledge_state(
        "Print the prepaid label. [returns#0]", question="How much does express shipping cost?"
    )
    assert not draft_is_assured(state)


def test_tool_drafts_are_assured_only_when_every_figure_comes_from_a_tool() -> None:
    data = {"order_id": "#W2611340", "status": "shipped", "total": "54.20", "eta": "2026-11-28"}
    good = tool_state("Order #W2611340 has shipped: 54.20, arriving 2026-11-28.", data)
    invented = tool_state("Order #W2611340 has shipped and arrives in 2 days.", data)
    assert draft_is_assured(good)
    assert not draft_is_assured(invented)
    assert draft_problems(invented, 0.45) == []  # only the review would catch "2 days"


def test_no_draft_or_no_tool_result_is_not_assured() -> None:
    assert not draft_is_assured(knowledge_state(""))
    assert not draft_is_assured(
        SupportState(route="account", question="Is my account active?", draft="It is active.")
    )


SHIPPING = SourcePhrases(
    "Gift cards are not refunded. Standard orders ship free within 3 days. Express orders ship "
    "within 1 day for a fee. Smaller orders cost $4.99.\nYou can return items within 30 days, "
    "unless they are personalised."
)


def test_restating_means_whole_source_sentences_word_for_word() -> None:
    assert SHIPPING.restates("Gift cards are NOT refunded.")
    assert SHIPPING.restates("You can return items within 30 days, unless they are personalised.")
    for changed in (
        "Gift cards: refunded.",  # a short fragment with the negation gone
        "Express orders ship free within 3 days.",  # two sentences stitched together
        "Smaller orders cost $4.50.",  # a figure changed
        "You can return items within 30 days.",  # cut short before its "unless"
        "Подарочные карты возвращаются.",  # no source word at all
        "",
        "...",
    ):
        assert not SHIPPING.restates(changed), changed
