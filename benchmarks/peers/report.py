"""The comparison's table, the issue's target ratios (met or missed, by how much) and the plot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RATIO_AT = 50
"""The issue's targets are read at N = 50 (the largest level when 50 was not run)."""
LABELS = {
    "bare-fastapi": "bare FastAPI + sse-starlette",
    "langgraph-dev": "langgraph dev",
    "supportflow-langgraph": "SupportFlow, LangGraph route",
    "supportflow-widget": "SupportFlow, widget stream",
    "supportflow-widget-cached": "SupportFlow, widget, cache on",
}


def label(key: str) -> str:
    """A target's display name."""
    if key.startswith("langgraph-dev-jobs"):
        return f"langgraph dev, {key.removeprefix('langgraph-dev-jobs')} jobs"
    base, _, workers = key.partition("-workers")
    if workers:
        return f"{LABELS.get(base, base)}, {workers} workers (Postgres + Redis)"
    return LABELS.get(key, key)


@dataclass(frozen=True)
class Goal:
    """One of the issue's targets, evaluated on this run."""

    name: str
    value: float | None
    limit: float
    at_least: bool
    unit: str
    primary: bool = True

    @property
    def status(self) -> str:
        """``met``, ``missed`` or ``not measured``."""
        if self.value is None:
            return "not measured"
        met = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "met" if met else "missed"

    @property
    def margin(self) -> str:
        """How far inside or outside the target: a factor for ratios, a difference otherwise."""
        if self.value is None:
            return "-"
        met = self.status == "met"
        if self.unit != "x":
            gap = abs(self.value - self.limit)
            return f"{gap:,.0f} {self.unit} {'to spare' if met else 'over'}"
        better = self.value / self.limit if self.at_least else self.limit / self.value
        if met:
            return f"{better:.2f}x better than needed"
        return f"needs {1 / better:.1f}x more" if self.at_least else f"{1 / better:.1f}x too high"


def level_row(report: dict[str, Any], key: str, clients: int) -> dict[str, Any] | None:
    """One target's row at N = ``clients``."""
    target = report["targets"].get(key)
    if target is None:
        return None
    return next((r for r in target["levels"] if r["clients"] == clients), None)


def _metric(report: dict[str, Any], key: str, n: int, path: tuple[str, ...]) -> float | None:
    value: Any = level_row(report, key, n)
    for part in path:
        if value is None:
            return None
        value = value.get(part)
    return None if value is None else float(value)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def ratio_level(report: dict[str, Any]) -> int:
    """N at which the targets are read."""
    levels: list[int] = list(report["settings"]["levels"])
    return RATIO_AT if RATIO_AT in levels else max(levels)


def goals(report: dict[str, Any]) -> list[Goal]:
    """The issue's targets from this run's numbers."""
    n = ratio_level(report)
    return list(_vs_langgraph(report, n)) + list(_vs_bare(report, n)) + list(_wire(report, n))


def _vs_langgraph(report: dict[str, Any], n: int) -> Iterator[Goal]:
    top = max(report["settings"]["levels"])
    peers = [("langgraph-dev", True), (f"langgraph-dev-jobs{top}", False)]
    for key, primary in peers:
        if not primary and level_row(report, key, n) is None:
            continue
        for ours in ("supportflow-langgraph", "supportflow-widget"):
            main = primary and ours == "supportflow-langgraph"
            rps = _ratio(*(_metric(report, k, n, ("runs_per_s",)) for k in (ours, key)))
            yield Goal(f"runs/s at N={n}: {label(ours)} / {label(key)}", rps, 10, True, "x", main)
            path = ("first_event_ms", "p95")
            p95 = _ratio(*(_metric(report, k, n, path) for k in (ours, key)))
            name = f"first-event p95 at N={n}: {label(ours)} / {label(key)}"
            yield Goal(name, p95, 1 / 20, False, "x", main)


def _vs_bare(report: dict[str, Any], n: int) -> Iterator[Goal]:
    for ours in ("supportflow-langgraph", "supportflow-widget"):
        cpu = [_metric(report, k, n, ("server_cpu_ms_per_run",)) for k in (ours, "bare-fastapi")]
        name = f"server CPU per run at N={n}: {label(ours)} / bare FastAPI"
        yield Goal(name, _ratio(*cpu), 1.3, False, "x")


def _wire(report: dict[str, Any], n: int) -> Iterator[Goal]:
    tokens = float(report["settings"]["tokens"])
    per_run = _metric(report, "supportflow-widget", n, ("bytes_per_run",))
    per_token = None if per_run is None else per_run / tokens
    yield Goal(f"widget bytes per token (N={n})", per_token, 80, False, "B/token")
    ttft_ms = model_ttft_ms(report)
    for key in ("supportflow-widget", "supportflow-langgraph", "bare-fastapi", "langgraph-dev"):
        first = _metric(report, key, n, ("first_token_ms", "p50"))
        overhead = None if first is None else first - ttft_ms
        name = f"first-token p50 above the model's TTFT at N={n}: {label(key)}"
        yield Goal(name, overhead, 30, False, "ms", key.startswith("supportflow"))


def model_ttft_ms(report: dict[str, Any]) -> float:
    """The model's own TTFT: measured straight from the client when it was, else configured."""
    measured = report.get("model_direct", {}).get("first_token_ms", {}).get("p50")
    return float(measured) if measured is not None else 1000 * float(report["settings"]["ttft"])


def closed_loop_ceiling(report: dict[str, Any]) -> dict[str, float] | None:
    """The most runs/s any server can reach at the targets' N: N / the model's own full answer.

    A closed-loop client starts its next run only when the last one ended, so no server can
    beat this; ``vs_langgraph_dev`` is the ratio that ceiling would give against the peer.
    """
    full = report.get("model_direct", {}).get("full_run_ms", {}).get("p50")
    if not full:
        return None
    n = ratio_level(report)
    ceiling = n / (float(full) / 1000)
    peer = _metric(report, "langgraph-dev", n, ("runs_per_s",))
    out = {"clients": float(n), "runs_per_s": ceiling}
    return out | ({"vs_langgraph_dev": ceiling / peer} if peer else {})


def goals_json(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets as JSON-ready dicts, with status and margin."""
    return [asdict(g) | {"status": g.status, "margin": g.margin} for g in goals(report)]


def _ms(row: dict[str, Any], name: str) -> str:
    values = row[name]
    return " / ".join("-" if values[p] is None else f"{values[p]:,.0f}" for p in ("p50", "p95"))


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_table(report: dict[str, Any], console: Console) -> None:
    """One row per target and level."""
    s = report["settings"]
    table = Table(
        title=f"Closed-loop clients, ≤{s['duration_s']:g} s or {s['max_runs']} runs per level; "
        f"fake model: TTFT {1000 * s['ttft']:.0f} ms, {s['tps']:g} tokens/s, {s['tokens']} "
        "tokens (times in ms)"
    )
    columns = ["target", "N", "runs", "errors", "runs/s", "first event p50/p95"]
    columns += ["first token p50/p95", "full run p50/p95", "CPU ms/run", "CPU %", "RSS MB"]
    columns += ["KB/run", "B/token", "client CPU %", "load"]
    for column in columns:
        table.add_column(column, justify="left" if column == "target" else "right")
    for key, target in report["targets"].items():
        for row in target["levels"]:
            per_run = row["bytes_per_run"]
            table.add_row(
                label(key),
                str(row["clients"]),
                str(row["runs"]),
                str(row["errors"]),
                f"{row['runs_per_s']:.2f}",
                _ms(row, "first_event_ms"),
                _ms(row, "first_token_ms"),
                _ms(row, "full_run_ms"),
                _num(row["server_cpu_ms_per_run"], ".1f"),
                f"{row['server_cpu_pct']:.0f}",
                f"{row['server_peak_rss_mb']:.0f}",
                _num(None if per_run is None else per_run / 1000, ".1f"),
                _num(None if per_run is None else per_run / s["tokens"], ".0f"),
                f"{row['client_cpu_pct']:.0f}",
                f"{row['load_avg_1m']:.1f}",
            )
    console.print(table)


def print_goals(report: dict[str, Any], console: Console) -> None:
    """The issue's targets: value, target, met or missed, and the margin."""
    table = Table(title="Targets (issue 8), from this run; secondary rows in grey")
    for column in ("ratio", "value", "target", "status", "margin"):
        table.add_column(column, justify="left" if column in ("ratio", "margin") else "right")
    for goal in goals(report):
        colour = {"met": "green", "missed": "red"}.get(goal.status, "yellow")
        table.add_row(
            goal.name,
            _num(goal.value, ",.0f" if goal.value and abs(goal.value) >= 100 else ".3g"),
            f"{'≥' if goal.at_least else '≤'} {goal.limit:g} {goal.unit}",
            f"[{colour}]{goal.status}[/]",
            goal.margin,
            style=None if goal.primary else "grey50",
        )
    console.print(table)
    direct = report.get("model_direct")
    if direct:
        console.print(
            f"The model alone (client straight to the fake model, one at a time): first token "
            f"p50 {direct['first_token_ms']['p50']:,.0f} ms, full answer p50 "
            f"{direct['full_run_ms']['p50']:,.0f} ms; TTFT overheads are measured above that."
        )
    ceiling = closed_loop_ceiling(report)
    if ceiling:
        versus = ceiling.get("vs_langgraph_dev")
        console.print(
            f"Closed-loop ceiling at N={ceiling['clients']:.0f}: {ceiling['runs_per_s']:.1f} runs/s"
            f" (N / the model's full answer)"
            + (f", {versus:.1f}x langgraph dev's runs/s in this run." if versus else ".")
        )
    for key, reason in report.get("skipped", {}).items():
        console.print(f"[yellow]{key} skipped: {reason}")
    for key, reason in report.get("failed", {}).items():
        console.print(f"[red]{key} failed: {reason}")


def plot(report: dict[str, Any], path: Path) -> bool:
    """Runs/s and first-event p95 against N per target (PNG); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (rate, first) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, target in report["targets"].items():
        rows = target["levels"]
        clients = [r["clients"] for r in rows]
        rate.plot(clients, [r["runs_per_s"] for r in rows], marker="o", label=label(key))
        p95 = [r["first_event_ms"]["p95"] for r in rows]
        first.plot(clients, p95, marker="o", label=label(key))
    levels = report["settings"]["levels"]
    for axis, title in ((rate, "runs/s"), (first, "first event p95 (ms)")):
        axis.set_xscale("log")
        axis.set_xticks(levels, [str(n) for n in levels])
        axis.minorticks_off()
        axis.set_xlabel("concurrent clients (N)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    first.set_yscale("log")
    first.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    rate.legend(fontsize=8)
    s = report["settings"]
    figure.suptitle(
        f"Same fake model (TTFT {1000 * s['ttft']:.0f} ms, {s['tokens']} tokens at "
        f"{s['tps']:g}/s), {report['machine']['cpu_count']} cores"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
