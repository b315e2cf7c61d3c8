"""The eval harness on the packaged golden set (deterministic profile) and the ``eval`` command."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

import prompts
from agent.evals import EvalError, EvalOptions, EvalReport, load_baseline, load_cases, run_eval
from agent.evals.regression import newly_failing
from agent.services import Services
from api.cli_eval import eval_command, gate

TOLERANCE = 0.02


@pytest.fixture(scope="module")
async def report(services: Services) -> EvalReport:
    """The whole golden set through the deterministic graph, once for this module."""
    return await run_eval(services, load_cases())


def test_overall_score_holds_the_baseline(report: EvalReport) -> None:
    baseline = load_baseline()
    new = newly_failing(report, baseline)
    assert report.overall >= baseline.overall - TOLERANCE, f"newly failing: {new}"
    assert report.settings.profile == baseline.settings.profile == "deterministic"
    assert report.settings.case_count == len(report.cases) == baseline.settings.case_count


def test_every_case_ran_on_its_own_thread_without_errors(report: EvalReport) -> None:
    assert [c.id for c in report.cases] == [c.id for c in load_cases()]
    assert [c.id for c in report.cases if c.observed.error] == []
    assert report.passed + report.failed == len(report.cases)
    assert all(c.passed == (not c.reasons) for c in report.cases)


def test_report_round_trips_through_json(report: EvalReport) -> None:
    text = report.model_dump_json()
    assert EvalReport.model_validate_json(text) == report
    assert json.loads(text)["metrics"]["routing_accuracy"] == report.metrics.routing_accuracy


def test_no_case_leaks_another_customers_data(report: EvalReport) -> None:
    leaked = [c.id for c in report.cases if any("must not contain" in r for r in c.reasons)]
    assert leaked == []


async def test_prompt_version_override_reaches_the_graph(services: Services) -> None:
    cases = load_cases("knowledge-refund-*,order-status-processed")
    v2 = await run_eval(services, cases, EvalOptions(prompt_version="v2", concurrency=2))
    assert v2.settings.prompt_version == "v2"
    intro = prompts.render("v2", "answer_intro").strip()
    assert intro  # v2 opens knowledge answers with it; v1 has none
    answers = {c.id: c.observed.answer for c in v2.cases}
    assert answers["knowledge-refund-paypal"].startswith(intro)
    assert not answers["order-status-processed"].startswith(intro)


async def test_bad_options_are_refused_before_any_case_runs(services: Services) -> None:
    cases = load_cases("order-status-processed")
    with pytest.raises(EvalError, match="unknown prompt version 'v99'"):
        await run_eval(services, cases, EvalOptions(prompt_version="v99"))
    with pytest.raises(EvalError, match="needs a model endpoint"):
        await run_eval(services, cases, EvalOptions(model="gpt-4o-mini"))


# The command (what `supportflow eval` runs), on small subsets.

SUBSET = "order-*,knowledge-refund-*,knowledge-item-change-once"
GATE_SUBSET = "knowledge-*"
Invoke = Callable[..., Result]


@pytest.fixture
def invoke(services: Services) -> Invoke:
    """Run the command as `supportflow eval` would, on the session's data directory."""
    app = typer.Typer()
    app.command("eval")(eval_command)
    env: Mapping[str, str | None] = {
        "SUPPORTFLOW_DATA_DIR": str(services.settings.data_dir),
        "SUPPORTFLOW_LOG_LEVEL": "DEBUG",  # keep the session's log audit collecting
        "SUPPORTFLOW_LLM_BASE_URL": None,
        "SUPPORTFLOW_DATABASE_URL": None,
        "SUPPORTFLOW_REDIS_URL": None,
        "SUPPORTFLOW_VECTOR_STORE": None,
        "SUPPORTFLOW_ORDERS_BACKEND": None,
        "SUPPORTFLOW_TENANT": None,
        "SUPPORTFLOW_PROMPT_VERSION": None,
    }
    runner = CliRunner(env=env)

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run


def test_cli_json_report_and_fail_under(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = invoke("--cases", SUBSET, "--json", "--fail-under", "0.5", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = EvalReport.model_validate_json(result.stdout)
    assert report.settings.cases == SUBSET
    assert {c.category for c in report.cases} == {"orders", "knowledge"}
    assert EvalReport.model_validate_json(out.read_text()) == report

    failing = invoke("--cases", SUBSET, "--json", "--fail-under", "1.0")
    assert failing.exit_code == 1
    assert "below --fail-under 1.0000" in failing.stderr
    assert EvalReport.model_validate_json(failing.stdout).overall < 1.0


def test_cli_baseline_gate(invoke: Invoke, tmp_path: Path) -> None:
    own = tmp_path / "own.json"
    first = invoke("--cases", GATE_SUBSET, "--save-baseline", str(own))
    assert first.exit_code == 0, first.output
    assert "routing_accuracy" in first.stdout
    assert "knowledge-item-change-once" in first.stdout  # a known product failure is listed

    same = invoke("--cases", GATE_SUBSET, "--baseline", str(own))
    assert same.exit_code == 0, same.output
    assert "+0.0000" in same.stdout
    assert "note:" not in same.stderr  # same cases, so no warning

    doctored = json.loads(own.read_text())
    assert doctored["overall"] < 0.9  # the doctored 1.0 is a drop of more than 10 %
    doctored["overall"] = 1.0
    higher = tmp_path / "higher.json"
    higher.write_text(json.dumps(doctored))
    gated = invoke("--cases", GATE_SUBSET, "--baseline", str(higher))
    assert gated.exit_code == 1
    assert "below the baseline 1.0000" in gated.stderr


def test_gate_reasons(report: EvalReport) -> None:
    baseline = load_baseline()
    assert gate(report, None, baseline, max_drop=0.10) == []
    assert gate(report, report.overall, baseline, 0.10) == []
    higher = baseline.model_copy(update={"overall": report.overall / 0.8})
    assert gate(report, None, higher, max_drop=1.0) == []
    problems = gate(report, 1.0, higher, max_drop=0.10)
    assert len(problems) == 2
    assert "is below --fail-under 1.0000" in problems[0]
    assert "fell 20.0% below the baseline" in problems[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt-version", "v99"], "unknown prompt version"),
        (["--cases", "nothing-like-this"], "no golden case matches"),
        (["--baseline", "/nonexistent/baseline.json"], "cannot read baseline"),
    ],
)
def test_cli_errors_are_one_line(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error:")
    assert result.stderr.count("error:") == 1  # one message (rich wraps it at 80 columns)
