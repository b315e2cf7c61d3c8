"""Compare a run with a stored baseline: per-metric deltas and the overall-score gate."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from agent.evals.cases import EvalError
from agent.evals.models import Baseline, EvalReport, MetricDelta

DEFAULT_MAX_DROP = 0.10
"""Largest tolerated fall of the overall score, relative to the baseline's."""


def packaged_baseline_text() -> str:
    """The committed baseline of the default (deterministic) profile."""
    return resources.files("agent.evals").joinpath("baseline.json").read_text(encoding="utf-8")


def load_baseline(path: Path | None = None) -> Baseline:
    """A baseline or a full report from ``path`` (default: the packaged baseline)."""
    try:
        text = packaged_baseline_text() if path is None else path.read_text(encoding="utf-8")
        return Baseline.model_validate_json(text)
    except OSError as exc:
        raise EvalError(f"cannot read baseline {path}: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise EvalError(f"baseline {path} is not an eval report ({where}: {first['msg']})") from exc


def _delta(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else round(value - base, 4)


def compare(report: EvalReport, baseline: Baseline) -> list[MetricDelta]:
    """The overall score first, then every metric, each with its change from the baseline."""
    now = {"overall": report.overall, **report.metrics.model_dump()}
    then = {"overall": baseline.overall, **baseline.metrics.model_dump()}
    return [
        MetricDelta(metric=m, value=now[m], baseline=then[m], delta=_delta(now[m], then[m]))
        for m in now
    ]


def relative_drop(current: float, base: float) -> float:
    """How far ``current`` fell below ``base``, as a share of ``base`` (negative: it rose)."""
    return (base - current) / base if base > 0 else 0.0


def regressed(report: EvalReport, baseline: Baseline, max_drop: float = DEFAULT_MAX_DROP) -> bool:
    """The overall score fell by more than ``max_drop`` of the baseline's."""
    return relative_drop(report.overall, baseline.overall) > max_drop


def newly_failing(report: EvalReport, baseline: Baseline) -> list[str]:
    """Cases that pass in the baseline and fail now (known product failures excluded)."""
    known = set(baseline.failing)
    return [c.id for c in report.failing() if c.id not in known]
