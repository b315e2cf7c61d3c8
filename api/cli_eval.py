"""``supportflow eval``: score the assistant on the golden set and gate on a baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from agent.evals.cases import EvalError, load_cases
from agent.evals.models import Baseline, EvalReport, MetricDelta
from agent.evals.regression import (
    DEFAULT_MAX_DROP,
    compare,
    load_baseline,
    regressed,
    relative_drop,
)
from agent.evals.runner import (
    DEFAULT_CONCURRENCY,
    EvalOptions,
    run_eval,
    validate_options,
)
from agent.metrics import EVAL_BASELINE, EVAL_SCORE

out = Console()
err = Console(stderr=True)


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _delta_cell(row: MetricDelta) -> str:
    text = _number(row.delta, signed=True)
    if row.delta is None or row.delta == 0:
        return text
    return f"[green]{text}[/green]" if row.delta > 0 else f"[red]{text}[/red]"


def metrics_table(report: EvalReport, baseline: Baseline | None) -> Table:
    """Metric, value, baseline and delta; the weighted metrics show their weight."""
    table = Table("metric", "weight", "value", "baseline", "delta", title="Eval")
    rows = (
        compare(report, baseline)
        if baseline
        else [
            MetricDelta(metric=m, value=v, baseline=None, delta=None)
            for m, v in {"overall": report.overall, **report.metrics.model_dump()}.items()
        ]
    )
    for row in rows:
        weight = report.weights.get(row.metric)
        table.add_row(
            f"[bold]{row.metric}[/bold]" if row.metric == "overall" else row.metric,
            "" if weight is None else f"{weight:.2f}",
            _number(row.value),
            _number(row.baseline),
            _delta_cell(row),
        )
    return table


def failures_table(report: EvalReport, baseline: Baseline | None) -> Table:
    """The failing cases with their reasons; ``known`` marks failures the baseline had too."""
    known = set(baseline.failing) if baseline else set()
    table = Table(title="Failing cases")
    table.add_column("case", no_wrap=True)
    table.add_column("category")
    table.add_column("known")
    table.add_column("reasons", overflow="fold")
    for case in report.failing():
        table.add_row(
            case.id, case.category, "yes" if case.id in known else "", "\n".join(case.reasons)
        )
    return table


def print_report(report: EvalReport, baseline: Baseline | None) -> None:
    """The human view: metrics, failing cases and a summary line."""
    if baseline and baseline.settings.golden_sha256 != report.settings.golden_sha256:
        err.print(
            "[yellow]note:[/yellow] the baseline was scored on other cases; compare with care"
        )
    out.print(metrics_table(report, baseline))
    if report.failed:
        out.print(failures_table(report, baseline))
    s = report.settings
    total = report.passed + report.failed
    out.print(
        f"overall {report.overall:.4f} · {report.passed}/{total} passed · "
        f"{report.duration_s:.1f}s · {s.profile}, model {s.model or '—'}, "
        f"prompt {s.prompt_version}",
        highlight=False,
    )


def write_json(model: BaseModel, path: Path) -> None:
    """Save a report or baseline (a typed error, not a traceback, when it cannot be written)."""
    try:
        path.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"cannot write {path}: {exc.strerror or exc}") from exc


def gate(
    report: EvalReport, fail_under: float | None, baseline: Baseline | None, max_drop: float
) -> list[str]:
    """Why this run must fail the build; empty when it passes."""
    problems: list[str] = []
    if fail_under is not None and report.overall < fail_under:
        problems.append(f"overall {report.overall:.4f} is below --fail-under {fail_under:.4f}")
    if baseline is not None and regressed(report, baseline, max_drop):
        drop = relative_drop(report.overall, baseline.overall)
        problems.append(
            f"overall {report.overall:.4f} fell {drop:.1%} below the baseline "
            f"{baseline.overall:.4f} (--max-drop {max_drop:.0%})"
        )
    return problems


async def _evaluate(
    options: EvalOptions, baseline_path: Path | None, outputs: dict[Path, str]
) -> tuple[EvalReport, Baseline | None]:
    """Load cases and baseline, run the eval, save the report; typed errors propagate."""
    from agent.bootstrap import close_services
    from api.cli import _check_llm, _services, _settings

    settings = _settings()
    cases = load_cases(None if options.cases == "*" else options.cases)
    baseline = load_baseline(baseline_path) if baseline_path else None
    validate_options(settings, options)  # refuse bad options before the slow start-up
    _check_llm(settings)
    services = _services(settings)
    try:
        with Progress(
            TextColumn("[dim]Evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("eval", total=len(cases))
            report = await run_eval(services, cases, options, on_case=lambda _r: bar.advance(task))
    finally:
        await close_services(services)
    for path, kind in outputs.items():
        write_json(Baseline.from_report(report) if kind == "baseline" else report, path)
    return report, baseline


def eval_command(
    model: Annotated[
        str | None, typer.Option(help="Model override (needs SUPPORTFLOW_LLM_BASE_URL).")
    ] = None,
    prompt_version: Annotated[
        str | None, typer.Option("--prompt-version", help="Prompt version, e.g. v2.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON report.")] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Also write the JSON report to this file.")
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under", min=0.0, max=1.0, help="Exit 1 when the overall score is below."
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Baseline (or earlier report) JSON, e.g. agent/evals/baseline.json."),
    ] = None,
    max_drop: Annotated[
        float,
        typer.Option(
            "--max-drop",
            min=0.0,
            max=1.0,
            help="Largest relative fall from the baseline's overall score.",
        ),
    ] = DEFAULT_MAX_DROP,
    cases: Annotated[
        str | None,
        typer.Option(
            "--cases", help="Globs over case ids or categories, comma-separated (e.g. 'order-*')."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Cases in flight at once.")
    ] = DEFAULT_CONCURRENCY,
    save_baseline: Annotated[
        Path | None,
        typer.Option("--save-baseline", help="Write this run's summary as a new baseline."),
    ] = None,
) -> None:
    """Score the assistant on the golden set; exit 1 below --fail-under or on a regression."""
    from api.cli import _run

    options = EvalOptions(prompt_version, model, concurrency, cases or "*")
    outputs = {p: k for p, k in ((out_path, "report"), (save_baseline, "baseline")) if p}
    report, reference = _run(lambda: _evaluate(options, baseline, outputs))
    EVAL_SCORE.labels(source="offline").set(report.overall)
    if reference is not None:
        EVAL_BASELINE.set(reference.overall)
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        print_report(report, reference)
    problems = gate(report, fail_under, reference, max_drop)
    for problem in problems:
        err.print(f"[red]eval failed:[/red] {problem}", highlight=False)
    if problems:
        raise typer.Exit(1)
