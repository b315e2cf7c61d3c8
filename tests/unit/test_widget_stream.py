"""The widget's event vocabulary, from graph stream chunks."""

from __future__ import annotations

from api.widget_stream import WidgetAdapter


def test_released_text_and_retractions_reach_the_widget() -> None:
    adapter = WidgetAdapter()
    assert adapter("custom", {"event": "token", "text": "You can return it. "}) == [
        ("token", {"t": "You can return it. "})
    ]
    assert adapter("custom", {"event": "retract"}) == [("retract", {})]


def test_model_tokens_and_unknown_custom_events_never_reach_the_widget() -> None:
    adapter = WidgetAdapter()
    assert adapter("messages", ("raw model token", {})) == []
    assert adapter("custom", {"event": "debug", "text": "internal"}) == []


def test_citations_follow_the_released_answer() -> None:
    adapter = WidgetAdapter()
    citation = {"id": "returns:0123456789abcdef", "title": "Returns"}
    adapter("updates", {"generate": {"citations": [citation]}})
    assert ("citation", citation) in adapter("updates", {"respond": {}})
