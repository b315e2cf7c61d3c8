"""Offline evals over the packaged golden set, and the sampled online score."""

from agent.evals.cases import EvalError, Expectations, GoldenCase, load_cases
from agent.evals.models import Baseline, CaseResult, EvalReport, Metrics, Observed, RunSettings
from agent.evals.online import RollingScore, feedback_value, score_turn
from agent.evals.regression import compare, load_baseline, regressed
from agent.evals.runner import EvalOptions, run_eval
from agent.evals.scoring import WEIGHTS, compute_metrics, overall_score

__all__ = [
    "WEIGHTS",
    "Baseline",
    "CaseResult",
    "EvalError",
    "EvalOptions",
    "EvalReport",
    "Expectations",
    "GoldenCase",
    "Metrics",
    "Observed",
    "RollingScore",
    "RunSettings",
    "compare",
    "compute_metrics",
    "feedback_value",
    "load_baseline",
    "load_cases",
    "overall_score",
    "regressed",
    "run_eval",
    "score_turn",
]
