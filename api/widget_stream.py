"""Map graph stream chunks to the widget's lean event vocabulary.

``status`` (progress), ``token`` (released text), ``retract`` (drop the text of this turn
shown so far: a draft released sentence by sentence was then rejected), ``citation``,
``handoff``, ``error``, ``end``. Only text that passed the output guard's checks (its ``token``
custom events, sent by the guard or by early release in ``generate``) ever reaches the widget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.runs import RunRecord

WidgetEvent = tuple[str, dict[str, Any]]

STATUS_AFTER: dict[str, str] = {
    "input_guard": "Reading your message…",
    "retrieve": "Writing an answer…",
    "call_tools": "Writing an answer…",
    "reflect": "Checking the answer…",
}
STATUS_FOR_ROUTE: dict[str, str] = {
    "order_status": "Checking your order…",
    "account": "Looking up your account…",
    "knowledge": "Searching the help centre…",
    "human": "Connecting you with our team…",
}


class WidgetAdapter:
    """Stateful per run: citations from the last draft are sent once the answer is released."""

    def __init__(self) -> None:
        self._citations: list[dict[str, Any]] = []
        self._unreviewed = False
        """Text went out early and the turn has not reached ``respond`` (nor been retracted)."""

    def __call__(self, mode: str, chunk: Any) -> list[WidgetEvent]:
        """Widget events for one ``(mode, chunk)`` of ``graph.astream``."""
        if mode == "custom" and isinstance(chunk, dict):
            if chunk.get("event") == "token":
                self._unreviewed = True
                return [("token", {"t": chunk["text"]})]
            if chunk.get("event") == "retract":
                self._unreviewed = False
                return [("retract", {})]
        if mode != "updates" or not isinstance(chunk, dict):
            return []
        events: list[WidgetEvent] = []
        for node, update in chunk.items():
            events.extend(self._node_events(node, update))
        return events

    def _node_events(self, node: str, update: Any) -> list[WidgetEvent]:
        if node == "__interrupt__":
            return [("handoff", {"message": _handoff_message(update)})]
        update = update if isinstance(update, dict) else {}
        events: list[WidgetEvent] = []
        if node == "route" and update.get("route") in STATUS_FOR_ROUTE:
            events.append(("status", {"text": STATUS_FOR_ROUTE[update["route"]]}))
        elif node in STATUS_AFTER:
            events.append(("status", {"text": STATUS_AFTER[node]}))
        if node == "generate":
            self._citations = list(update.get("citations", []))
        elif node in ("refuse", "escalate"):
            self._citations = []
            if update.get("answer"):
                # Unstreamed text: a fixed refusal, or a human's reply after a handoff.
                events.append(("token", {"t": update["answer"]}))
        elif node == "respond":
            self._unreviewed = False
            events.extend(("citation", dict(c)) for c in self._citations)
        elif node == "output_guard":
            self._unreviewed = False  # what it released (or stopped at) has passed it
        return events

    def ending(self, run: RunRecord) -> list[WidgetEvent]:
        """The last events: a failed or cancelled run withdraws text shown before its checks."""
        failed = run.status in ("error", "interrupted", "timeout")
        withdraw: list[WidgetEvent] = [("retract", {})] if failed and self._unreviewed else []
        return [*withdraw, ("end", {"status": run.status})]


def _handoff_message(interrupts: Any) -> str:
    for item in interrupts or ():
        value = getattr(item, "value", None)
        if isinstance(value, dict) and value.get("customer_message"):
            return str(value["customer_message"])
    return "A member of our team will reply here."
