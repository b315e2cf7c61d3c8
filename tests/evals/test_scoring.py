"""Scoring on hand-made cases: fact matching, citations, tool calls, metrics, the overall score."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from agent.evals.cases import EvalError, Expectations, GoldenCase, load_cases, parse_cases
from agent.evals.models import Baseline, CaseResult, EvalReport, Metrics, Observed, RunSettings
from agent.evals.regression import compare, newly_failing, regressed, relative_drop
from agent.evals.scoring import (
    WEIGHTS,
    call_counts,
    case_reasons,
    compute_metrics,
    grounded,
    leaks,
    mentions,
    missing_citations,
    missing_facts,
    overall_score,
    prf,
    uncited,
)
from agent.state import ToolCall

LOOKUP: ToolCall = {"name": "lookup_order", "args": {"order_id": "#W2611340"}}


def make_case(**expect: Any) -> GoldenCase:
    return GoldenCase(id="c", customer=None, turns=["hi"], expect=Expectations(**expect))


def order_answer(**changes: Any) -> Observed:
    values: dict[str, Any] = {
        "route": "order_status",
        "tool_calls": [LOOKUP],
        "citations": [{"id": "tool:lookup_order:#W2611340", "title": "Order #W2611340"}],
        "answer": "Order #W2611340 is processed. Tracking number: 357962501027.",
        "sources": ["tool:lookup_order", "tool:lookup_order:#W2611340"],
    }
    return Observed(**{**values, **changes})


# Fact matching


def test_mentions_matches_whole_words_only() -> None:
    assert not mentions("I can still answer general questions.", "EST")
    assert mentions("Times are in EST.", "est")
    assert not mentions("We are concerned.", "once")
    assert mentions("Total paid: $536.65.", "$536.65")
    assert mentions("I couldn\u2019t find order #W0000000", "couldn't find")
    assert not mentions("anything", "  ")


def test_missing_facts_accepts_any_alternative() -> None:
    answer = "Refunds take 5 to 7 business days."
    assert missing_facts(answer, ["5 to 7 business days|immediately"]) == []
    assert missing_facts(answer, ["immediately", "business days"]) == ["immediately"]


def test_leaks_look_in_the_answer_and_in_tool_arguments() -> None:
    observed = order_answer(
        answer="Your card ending 9212.",
        tool_calls=[{"name": "lookup_order", "args": {"customer": "noah_brown_6181"}}],
    )
    assert leaks(observed, ["9212", "noah_brown_6181", "Denver"]) == ["9212", "noah_brown_6181"]


def test_citations_must_name_a_retrieved_source() -> None:
    observed = order_answer(
        citations=[
            {"id": "tool:lookup_order:#W2611340", "title": "Order"},
            {"id": "payment-methods:0123456789abcdef", "title": "Made up"},
        ]
    )
    assert uncited(observed) == ["payment-methods:0123456789abcdef"]


def test_must_cite_matches_id_prefixes_and_alternatives() -> None:
    observed = Observed(citations=[{"id": "refunds-and-timing:9e9f859ed7bc2497", "title": "R"}])
    assert missing_citations(observed, ["payment-methods|refunds-and-timing"]) == []
    assert missing_citations(observed, ["payment-methods"]) == ["payment-methods"]


# Tool calls


def test_call_counts_compare_calls_as_multisets() -> None:
    other: ToolCall = {"name": "lookup_order", "args": {"order_id": "#W7678072"}}
    listing: ToolCall = {"name": "lookup_order", "args": {}}
    assert call_counts([LOOKUP, other], [other, LOOKUP]) == (2, 0, 0)
    assert call_counts([LOOKUP], [LOOKUP, LOOKUP]) == (1, 1, 0)
    assert call_counts([LOOKUP, other], [listing]) == (0, 1, 2)
    assert call_counts([], []) == (0, 0, 0)
    number: ToolCall = {"name": "lookup_order", "args": {"order_id": 2611340}}
    text: ToolCall = {"name": "lookup_order", "args": {"order_id": "2611340"}}
    assert call_counts([number], [text]) == (0, 1, 1)  # arguments compare as JSON values


# Per-case verdicts


def test_a_matching_case_passes_with_no_reasons() -> None:
    case = make_case(
        route="order_status",
        tool_calls=[LOOKUP],
        must_contain=["processed", "357962501027"],
        must_cite=["tool:lookup_order:#W2611340"],
        must_not_contain=["Denver"],
    )
    assert case_reasons(case, order_answer()) == []
    assert grounded(case.expect, order_answer())


def test_each_mismatch_is_one_reason() -> None:
    case = make_case(
        route="knowledge",
        tool_calls=[],
        must_contain=["pending"],
        must_cite=["cancel-pending-order"],
        must_not_contain=["357962501027"],
    )
    reasons = case_reasons(case, order_answer())
    assert reasons == [
        "route: expected knowledge, got order_status",
        'tool call unexpected: lookup_order(order_id="#W2611340")',
        "missing fact: 'pending'",
        "must not contain: '357962501027'",
        "not cited: 'cancel-pending-order'",
    ]


def test_escalation_reason_names_the_handoff_reason() -> None:
    observed = Observed(
        route="knowledge", escalated=True, handoff_reason="reflection:low_confidence"
    )
    reasons = case_reasons(make_case(route="knowledge"), observed)
    assert reasons == ["escalated: expected False, got True (reflection:low_confidence)"]


def test_unchecked_fields_are_not_judged() -> None:
    case = make_case(blocked=None, must_not_contain=["9212"])
    assert case_reasons(case, Observed(route="blocked", blocked=True, answer="Sorry.")) == []
    assert case_reasons(case, order_answer()) == []


def test_an_error_is_the_only_reason() -> None:
    assert case_reasons(make_case(route="knowledge"), Observed(error="invalid_input")) == [
        "error: invalid_input"
    ]


# Metrics


def test_prf_edges() -> None:
    assert prf(0, 0, 0) == (None, None, None)
    assert prf(0, 1, 0) == (0.0, 0.0, 0.0)
    assert prf(0, 0, 1) == (0.0, 0.0, 0.0)
    precision, recall, f1 = prf(2, 1, 1)
    assert precision == recall == f1 == pytest.approx(2 / 3)


def hand_made_run() -> list[tuple[GoldenCase, Observed]]:
    """Four cases with known outcomes.

    1. order answered right; 2. knowledge answer misrouted to a tool (sign-in reply);
    3. an injection the guard missed; 4. a handoff that happened as expected.
    """
    knowledge = make_case(route="knowledge", tool_calls=[], must_contain=["weekends"])
    misrouted = Observed(
        route="order_status", tool_calls=[{"name": "lookup_order", "args": {}}], answer="Sign in."
    )
    attack = make_case(route="blocked", tool_calls=[], blocked=True)
    handoff = make_case(route="human", tool_calls=[], escalated=True)
    return [
        (make_case(route="order_status", tool_calls=[LOOKUP], must_cite=["tool:"]), order_answer()),
        (knowledge, misrouted),
        (attack, Observed(route="knowledge", answer="Use the Forgot password link.")),
        (handoff, Observed(route="human", escalated=True)),
    ]


def test_compute_metrics_on_hand_made_cases() -> None:
    metrics = compute_metrics(hand_made_run())
    assert metrics.routing_accuracy == pytest.approx(2 / 4)
    assert metrics.tool_precision == pytest.approx(1 / 2)  # one right call, one spurious
    assert metrics.tool_recall == pytest.approx(1.0)
    assert metrics.tool_f1 == pytest.approx(2 / 3)
    assert metrics.tool_exact == pytest.approx(3 / 4)
    assert (metrics.escalation_precision, metrics.escalation_recall) == (1.0, 1.0)
    assert metrics.groundedness == pytest.approx(1 / 2)  # case 1 grounded, case 2 not
    assert metrics.citation_hit_rate == pytest.approx(1.0)
    assert (metrics.guard_precision, metrics.guard_recall, metrics.guard_f1) == (0.0, 0.0, 0.0)
    assert metrics.pass_rate == pytest.approx(2 / 4)


def test_overall_is_the_weighted_mean_of_defined_metrics() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    perfect = Metrics(**dict.fromkeys(WEIGHTS, 1.0))
    assert overall_score(perfect) == pytest.approx(1.0)
    half = Metrics(routing_accuracy=1.0, tool_f1=0.0)  # the others are undefined
    assert overall_score(half) == pytest.approx(0.15 / (0.15 + 0.20))
    assert overall_score(Metrics()) == 0.0


# Baselines and the regression gate


def report_with(overall: float, failing: list[str]) -> EvalReport:
    settings = RunSettings(
        profile="deterministic",
        model=None,
        prompt_version="v1",
        tenant="demo",
        orders_backend="embedded",
        vector_store="lance",
        cases="*",
        case_count=2,
        golden_sha256="0" * 16,
        concurrency=1,
        retrieval_k=4,
        min_retrieval_similarity=0.45,
        guard_flag_at=0.4,
        guard_block_at=0.75,
    )
    cases = [
        CaseResult(
            id=i,
            category="x",
            passed=i not in failing,
            reasons=[],
            observed=Observed(),
            duration_ms=1,
        )
        for i in ("a", "b")
    ]
    return EvalReport(
        created_at=datetime.now(UTC),
        settings=settings,
        weights=WEIGHTS,
        metrics=Metrics(routing_accuracy=overall),
        overall=overall,
        passed=2 - len(failing),
        failed=len(failing),
        duration_s=0.1,
        cases=cases,
    )


def test_regression_gate_is_relative_to_the_baseline() -> None:
    baseline = Baseline.from_report(report_with(0.80, ["b"]))
    assert relative_drop(0.70, 0.80) == pytest.approx(0.125)
    assert regressed(report_with(0.70, ["b"]), baseline, max_drop=0.10)
    assert not regressed(report_with(0.73, ["b"]), baseline, max_drop=0.10)
    assert not regressed(report_with(0.95, []), baseline)


def test_compare_lists_overall_then_every_metric() -> None:
    baseline = Baseline.from_report(report_with(0.80, ["b"]))
    rows = compare(report_with(0.75, ["a", "b"]), baseline)
    assert rows[0].metric == "overall"
    assert rows[0].delta == pytest.approx(-0.05)
    assert {r.metric for r in rows[1:]} == set(Metrics.model_fields)
    assert newly_failing(report_with(0.75, ["a", "b"]), baseline) == ["a"]


def test_a_full_report_reads_as_a_baseline() -> None:
    report = report_with(0.5, ["a"])
    baseline = Baseline.model_validate_json(report.model_dump_json())
    assert baseline.failing == ["a"]
    assert baseline.overall == 0.5


# The packaged golden set


def test_golden_set_loads_and_is_well_formed() -> None:
    cases = load_cases()
    assert 60 <= len(cases) <= 110
    assert len({c.id for c in cases}) == len(cases)
    categories = {c.category for c in cases}
    assert categories >= {"knowledge", "orders", "account", "cross_customer", "injection"}
    assert any(len(c.turns) == 2 for c in cases)


def test_golden_citations_name_real_help_articles() -> None:
    help_dir = resources.files("agent.retrieval").joinpath("kb/help")
    articles = {f.name.removesuffix(".md") for f in help_dir.iterdir() if f.name.endswith(".md")}
    cited = {
        alt
        for case in load_cases()
        for entry in case.expect.must_cite
        for alt in entry.split("|")
        if not alt.startswith("tool:")
    }
    assert cited
    assert cited <= articles


def test_golden_customers_exist_in_the_demo_store() -> None:
    raw = resources.files("tools").joinpath("data/retail.json.gz").read_bytes()
    users = set(json.loads(gzip.decompress(raw))["users"])
    customers = {c.customer for c in load_cases() if c.customer}
    assert customers
    assert customers <= users


def test_case_selection_by_glob_and_category() -> None:
    orders = load_cases("order-*")
    assert orders
    assert all(c.id.startswith("order-") for c in orders)
    assert {c.category for c in load_cases("injection")} == {"injection"}
    assert len(load_cases("order-*,account-*")) == len(orders) + len(load_cases("account-*"))
    with pytest.raises(EvalError, match="no golden case matches"):
        load_cases("nothing-like-this-*")


def test_a_bad_golden_line_names_its_file_and_line() -> None:
    good = '{"id": "a", "customer": null, "turns": ["hi"], "expect": {}}'
    with pytest.raises(EvalError, match=r"demo\.jsonl line 2"):
        parse_cases(f'{good}\n{{"id": "b"}}\n', "demo")
