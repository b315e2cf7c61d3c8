"""The widget's event vocabulary, from graph stream chunks."""

from __future__ import annotations

from api.runs import RunRecord, RunStatus
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


def run(status: RunStatus) -> RunRecord:
    return RunRecord("r", "t", "support", status, {}, {}, "enqueue")


def test_a_failed_run_withdraws_text_shown_before_its_checks() -> None:
    adapter = WidgetAdapter()
    adapter("custom", {"event": "token", "text": "You can return it. "})
    assert adapter.ending(run("error")) == [("retract", {}), ("end", {"status": "error"})]
    assert adapter.ending(run("interrupted"))[0] == ("retract", {})


def test_checked_or_withdrawn_text_is_left_alone_at_the_end() -> None:
    answered = WidgetAdapter()
    answered("custom", {"event": "token", "text": "You can return it. "})
    answered("updates", {"output_guard": {"answer": "You can return it."}})
    assert answered.ending(run("error")) == [("end", {"status": "error"})]
    withdrawn = WidgetAdapter()
    withdrawn("custom", {"event": "token", "text": "You can return it. "})
    withdrawn("custom", {"event": "retract"})
    assert withdrawn.ending(run("error")) == [("end", {"status": "error"})]
    assert WidgetAdapter().ending(run("success")) == [("end", {"status": "success"})]
