"""Sampled online eval: score production turns without expectations, and keep a rolling mean.

``score_turn`` reads one finished turn's state (graph values, with ``escalated`` set when the
run is paused in ``escalate``) and returns:

- ``1.0`` an answered turn that is grounded: non-empty answer, at least one citation, no model
  call fell back to the deterministic path;
- ``0.5`` an answer that was degraded (a model call fell back), or a handoff after the
  assistant's own self-check (reflection) rejected its draft: nothing wrong reached the
  customer, but the assistant could not answer by itself;
- ``0.0`` an answer without any citation where there were sources to cite, or a handoff
  because the output guard stopped the draft (a bad draft was produced);
- ``None`` (not counted) for turns whose quality this score cannot judge: blocked messages
  (whether a refusal was right needs a label; counting refusals would drag the gauge down
  during an attack wave), handoffs the customer asked for, tool outages (tracked as errors),
  scope replies, "please sign in" / "order not found" replies (nothing to cite), and runs
  that did not finish.

Agent feedback joins the same window through ``feedback_value`` and ``RollingScore.add``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

GROUNDED = 1.0
DEGRADED = 0.5
UNGROUNDED = 0.0

FEEDBACK_VALUES: dict[str, float] = {
    "thumbs_up": 1.0,
    "accept": 1.0,
    "edit": 0.5,
    "thumbs_down": 0.0,
    "override": 0.0,
    "discard": 0.0,
}
"""Agent-desk feedback kinds as scores (an edited draft was half right)."""

_NOT_SCORED_HANDOFFS = ("customer_requested_human", "tool_unavailable")


def _handoff_score(reason: str) -> float | None:
    if not reason or reason.startswith(_NOT_SCORED_HANDOFFS):
        return None
    if reason.startswith("reflection:"):
        return DEGRADED
    return UNGROUNDED


def _answer_score(state: Mapping[str, Any]) -> float | None:
    results = state.get("tool_results") or []
    if state.get("route") in ("order_status", "account") and not any(
        r.get("status") == "ok" for r in results
    ):
        return None  # sign-in and not-found replies: nothing to cite
    if not state.get("citations"):
        return UNGROUNDED
    return DEGRADED if state.get("llm_fallbacks") else GROUNDED


def score_turn(state: Mapping[str, Any]) -> float | None:
    """One finished turn's score in 0-1, or ``None`` when it should not count (see module)."""
    if state.get("blocked") or state.get("route") in (None, "blocked", "out_of_scope"):
        return None
    if state.get("escalated"):
        return _handoff_score(str(state.get("handoff_reason") or ""))
    if not str(state.get("answer") or "").strip():
        return None  # the turn did not finish
    return _answer_score(state)


def feedback_value(kind: str) -> float | None:
    """Agent feedback as a score (``None`` for kinds that say nothing about quality)."""
    return FEEDBACK_VALUES.get(kind)


class RollingScore:
    """The mean of the last ``window`` scores; feeds ``supportflow_eval_score{source="online"}``.

    ``on_update`` receives the new mean after every ``add`` (e.g. a gauge's ``set``).
    """

    def __init__(self, window: int = 200, on_update: Callable[[float], None] | None = None) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._values: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self._on_update = on_update

    def add(self, value: float | None) -> float | None:
        """Record one score (``None`` is ignored); returns the new mean."""
        if value is None:
            return self.mean
        if not 0.0 <= value <= 1.0:
            raise ValueError("scores are between 0 and 1")
        with self._lock:
            self._values.append(float(value))
            mean = sum(self._values) / len(self._values)
        if self._on_update is not None:
            self._on_update(mean)
        return mean

    @property
    def mean(self) -> float | None:
        """The mean of the window, or ``None`` before the first score."""
        with self._lock:
            return sum(self._values) / len(self._values) if self._values else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
