"""Score runs against expectations: per-case checks with reasons, aggregate metrics, overall.

The overall score is the weighted mean of six metrics (``WEIGHTS``); a metric that no selected
case exercises (``None``) drops out and the remaining weights are renormalised.

- ``groundedness`` 0.25: wrong or leaked facts reach customers, so it weighs most;
- ``tool_f1`` 0.20: a wrong order lookup is a wrong answer about the customer's money;
- ``routing_accuracy``, ``escalation_f1``, ``guard_f1`` 0.15 each: each decides the path;
- ``citation_hit_rate`` 0.10: answers should point at the article a customer can read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

from agent.evals.cases import Expectations, GoldenCase
from agent.evals.models import Metrics, Observed
from agent.state import ToolCall

WEIGHTS: dict[str, float] = {
    "routing_accuracy": 0.15,
    "tool_f1": 0.20,
    "escalation_f1": 0.15,
    "groundedness": 0.25,
    "citation_hit_rate": 0.10,
    "guard_f1": 0.15,
}

Scored = tuple[GoldenCase, Observed]


def alternatives(entry: str) -> list[str]:
    """``"a|b"`` → ``["a", "b"]`` (lower-cased, blanks dropped)."""
    return [a.strip().lower() for a in entry.split("|") if a.strip()]


def mentions(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words, ignoring case and curly apostrophes.

    Whole words, so that "EST" is not found in "questions" nor "once" in "concerned".
    """
    phrase = _plain(phrase)
    if not phrase:
        return False
    left = r"\b" if phrase[0].isalnum() else ""
    right = r"\b" if phrase[-1].isalnum() else ""
    return re.search(f"{left}{re.escape(phrase)}{right}", _plain(text)) is not None


def _plain(text: str) -> str:
    return text.strip().lower().replace("\u2019", "'")


def missing_facts(answer: str, facts: Sequence[str]) -> list[str]:
    """Facts of which no alternative appears in the answer."""
    return [f for f in facts if not any(mentions(answer, a) for a in alternatives(f))]


def leaks(observed: Observed, forbidden: Sequence[str]) -> list[str]:
    """Forbidden strings found in the answer or in any tool call's arguments."""
    text = " ".join([observed.answer, *(json.dumps(c["args"]) for c in observed.tool_calls)])
    return [f for f in forbidden if mentions(text, f)]


def uncited(observed: Observed) -> list[str]:
    """Citation ids that name no retrieved passage and no tool that returned data."""
    known = set(observed.sources)
    return [c["id"] for c in observed.citations if c["id"] not in known]


def missing_citations(observed: Observed, must_cite: Sequence[str]) -> list[str]:
    """``must_cite`` entries no citation id starts with."""
    ids = [c["id"].lower() for c in observed.citations]
    return [e for e in must_cite if not any(i.startswith(a) for a in alternatives(e) for i in ids)]


def call_key(call: ToolCall) -> str:
    """A comparable, readable form: ``lookup_order(order_id="#W2611340")`` (JSON values)."""
    args = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(call["args"].items()))
    return f"{call['name']}({args})"


def call_counts(expected: Sequence[ToolCall], got: Sequence[ToolCall]) -> tuple[int, int, int]:
    """True positives, false positives and false negatives over calls (as multisets)."""
    want = Counter(call_key(c) for c in expected)
    have = Counter(call_key(c) for c in got)
    tp = sum((want & have).values())
    return tp, sum(have.values()) - tp, sum(want.values()) - tp


def grounded(expect: Expectations, observed: Observed) -> bool:
    """Facts present, every citation real, nothing forbidden said."""
    return not (
        missing_facts(observed.answer, expect.must_contain)
        or uncited(observed)
        or leaks(observed, expect.must_not_contain)
    )


def _decision_reasons(expect: Expectations, observed: Observed) -> list[str]:
    reasons: list[str] = []
    if expect.route is not None and observed.route != expect.route:
        reasons.append(f"route: expected {expect.route}, got {observed.route}")
    if expect.tool_calls is not None:
        want = Counter(call_key(c) for c in expect.tool_calls)
        have = Counter(call_key(c) for c in observed.tool_calls)
        reasons += [f"tool call missing: {k}" for k in sorted((want - have).elements())]
        reasons += [f"tool call unexpected: {k}" for k in sorted((have - want).elements())]
    if observed.escalated != expect.escalated:
        detail = f" ({observed.handoff_reason})" if observed.handoff_reason else ""
        reasons.append(f"escalated: expected {expect.escalated}, got {observed.escalated}{detail}")
    if expect.blocked is not None and observed.blocked != expect.blocked:
        reasons.append(f"blocked: expected {expect.blocked}, got {observed.blocked}")
    return reasons


def case_reasons(case: GoldenCase, observed: Observed) -> list[str]:
    """Why a case failed, one short line per problem; empty when it passed."""
    expect = case.expect
    if observed.error is not None:
        return [f"error: {observed.error}"]
    reasons = _decision_reasons(expect, observed)
    reasons += [f"missing fact: {f!r}" for f in missing_facts(observed.answer, expect.must_contain)]
    reasons += [f"must not contain: {f!r}" for f in leaks(observed, expect.must_not_contain)]
    reasons += [f"citation not from a source: {i!r}" for i in uncited(observed)]
    reasons += [f"not cited: {e!r}" for e in missing_citations(observed, expect.must_cite)]
    return reasons


def ratio(hits: int, total: int) -> float | None:
    """``hits / total``, or ``None`` when nothing was counted."""
    return hits / total if total else None


def prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1; ``None`` when there was nothing to find and nothing was found."""
    if tp + fp + fn == 0:
        return None, None, None
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def confusion(pairs: Sequence[tuple[bool, bool]]) -> tuple[int, int, int]:
    """(tp, fp, fn) from (expected, got) pairs of a binary decision."""
    tp = sum(e and g for e, g in pairs)
    fp = sum(g and not e for e, g in pairs)
    fn = sum(e and not g for e, g in pairs)
    return tp, fp, fn


def tool_metrics(scored: Sequence[Scored]) -> tuple[float | None, ...]:
    """Micro precision, recall and F1 over calls, and the share of exactly matching cases."""
    checked = [(c.expect.tool_calls, o.tool_calls) for c, o in scored]
    counts = [call_counts(want, have) for want, have in checked if want is not None]
    tp, fp, fn = (sum(column) for column in zip(*counts, strict=True)) if counts else (0, 0, 0)
    exact = sum(1 for _tp, f, n in counts if f == n == 0)
    return (*prf(tp, fp, fn), ratio(exact, len(counts)))


def compute_metrics(scored: Sequence[Scored]) -> Metrics:
    """Every metric over the scored cases (each metric over the cases that exercise it)."""
    routed = [(c, o) for c, o in scored if c.expect.route is not None]
    grounded_set = [
        (c, o)
        for c, o in scored
        if c.expect.must_contain or c.expect.must_not_contain or o.citations
    ]
    cited = [(c, o) for c, o in scored if c.expect.must_cite]
    guarded = [(c.expect.blocked, o.blocked) for c, o in scored if c.expect.blocked is not None]
    tool_p, tool_r, tool_f, tool_x = tool_metrics(scored)
    esc_p, esc_r, esc_f = prf(*confusion([(c.expect.escalated, o.escalated) for c, o in scored]))
    guard_p, guard_r, guard_f = prf(*confusion([(bool(e), g) for e, g in guarded]))
    return Metrics(
        routing_accuracy=ratio(sum(o.route == c.expect.route for c, o in routed), len(routed)),
        tool_precision=tool_p,
        tool_recall=tool_r,
        tool_f1=tool_f,
        tool_exact=tool_x,
        escalation_precision=esc_p,
        escalation_recall=esc_r,
        escalation_f1=esc_f,
        groundedness=ratio(sum(grounded(c.expect, o) for c, o in grounded_set), len(grounded_set)),
        citation_hit_rate=ratio(
            sum(not missing_citations(o, c.expect.must_cite) for c, o in cited), len(cited)
        ),
        guard_precision=guard_p,
        guard_recall=guard_r,
        guard_f1=guard_f,
        pass_rate=ratio(sum(not case_reasons(c, o) for c, o in scored), len(scored)),
    )


def overall_score(metrics: Metrics, weights: dict[str, float] = WEIGHTS) -> float:
    """Weighted mean of the weighted metrics that are defined, in 0-1."""
    values: dict[str, float | None] = metrics.model_dump()
    used = {name: (v, w) for name, w in weights.items() if (v := values.get(name)) is not None}
    total = sum(w for _v, w in used.values())
    return sum(v * w for v, w in used.values()) / total if total else 0.0
