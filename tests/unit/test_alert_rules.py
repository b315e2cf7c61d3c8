"""The recording and alerting rules in docker/prometheus, their promtool tests and dashboards."""

from __future__ import annotations

import functools
import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "docker" / "prometheus"
DASHBOARDS = ROOT / "docker" / "grafana" / "dashboards"
RUNBOOK = ROOT / "docs" / "runbooks" / "on-call.md"
RUNBOOK_URL = re.compile(r"docs/runbooks/on-call\.md#(?P<anchor>[a-z0-9-]+)")
RUNBOOK_ANCHORS = frozenset(
    {
        "high-latency",
        "error-rate",
        "eval-score-drop",
        "queue-saturation",
        "guard-block-spike",
        "anomaly",
        "replica-down",
    }
)
SEVERITIES = frozenset({"critical", "warning"})
# The alerts after which switching the AI off is the first remedy (docker/README.md).
DISABLE_AI_ALERTS = frozenset({"SupportFlowHighErrorRate", "SupportFlowEvalScoreDrop"})
# Written by Prometheus itself for every target, not scraped from SupportFlow.
PROMETHEUS_SERIES = frozenset({"up"})
# How a metric family of each type is spelt on /metrics (a gauge keeps its name).
SAMPLE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
}

# PromQL pieces that hold no metric names, removed in this order (strings may contain the
# others' brackets: route=~"/threads/[^/]+/runs/stream", "/threads/{thread_id}").
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENTS = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# A whole identifier that is not a function call, and not the exponent of 1e-9 or unit of 1h.
_NAME = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:]|\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


@functools.cache
def rule_files() -> tuple[Path, ...]:
    names = load_yaml(PROMETHEUS / "prometheus.yml")["rule_files"]
    return tuple(PROMETHEUS / name for name in names)


@functools.cache
def rules() -> tuple[dict[str, Any], ...]:
    return tuple(
        rule
        for path in rule_files()
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    )


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def unit_test_files() -> list[Path]:
    return sorted((PROMETHEUS / "tests").glob("*.yml"))


def dashboard_queries() -> list[tuple[str, str]]:
    """(dashboard and panel title, expr) of every query."""
    queries: list[tuple[str, str]] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
            for target in panel.get("targets", []):
                queries.append((f"{path.name}: {panel['title']}", target["expr"]))
    return queries


def all_queries() -> list[tuple[str, str]]:
    from_rules = [(rule.get("record") or rule["alert"], rule["expr"]) for rule in rules()]
    return from_rules + dashboard_queries()


@functools.cache
def exported_names() -> frozenset[str]:
    """Every sample name SupportFlow's /metrics can show, from the default registry."""
    importlib.import_module("agent.metrics")  # registers the families in REGISTRY
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES.get(family.type, ("",)))
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric and recording-rule names a PromQL expression reads."""
    text = _STRINGS.sub('""', expr)
    for pattern in (_COMMENTS, _MATCHERS, _RANGES, _LABEL_LISTS):
        text = pattern.sub(" ", text)
    return {name for name in _NAME.findall(text) if name.lower() not in _KEYWORDS}


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings, plus explicit <a id=...> / <a name=...> ones."""
    anchors = set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', markdown))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", markdown, re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return anchors


def run_promtool(*args: str) -> str:
    command = ["promtool", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# --- the name extractor itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (job) (rate(a_total{route!~"/x|/y"}[5m])) / on (job) group_left () (b > 0)',
            {"a_total", "b"},
        ),
        (
            'histogram_quantile(0.9, sum by (le) (rate(c_bucket{r=~"/[^/]+"}[$__rate_interval])))',
            {"c_bucket"},
        ),
        ("abs(job:d:rate5m - 1e-9) < bool 3 and e offset 1h or vector(0)", {"job:d:rate5m", "e"}),
        ('absent(up{job="supportflow-api"} == 1)', {"up"}),
        ("sum(f) without (instance) unless g  # h is a comment", {"f", "g"}),
    ],
)
def test_metric_names_finds_every_name_and_nothing_else(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "expr"), all_queries(), ids=[w for w, _ in all_queries()])
def test_queries_read_only_supportflow_metrics_and_recorded_series(where: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    recorded = {name for name in names if ":" in name}
    assert recorded <= recorded_names(), f"{where}: not recorded: {recorded - recorded_names()}"
    scraped = names - recorded - PROMETHEUS_SERIES
    unknown = scraped - exported_names()
    assert not unknown, f"{where}: not defined in agent.metrics: {sorted(unknown)}"


def test_recording_rules_write_each_series_once() -> None:
    outputs = [
        (rule["record"], tuple(sorted((rule.get("labels") or {}).items())))
        for rule in rules()
        if "record" in rule
    ]
    duplicates = {output for output in outputs if outputs.count(output) > 1}
    assert not duplicates, f"recorded twice: {sorted(duplicates)}"


# --- alerts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("alert", alerts(), ids=[rule["alert"] for rule in alerts()])
def test_alert_has_severity_summary_description_and_runbook(alert: dict[str, Any]) -> None:
    assert alert["labels"]["severity"] in SEVERITIES
    annotations = alert["annotations"]
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{alert['alert']} has no {key}"
    match = RUNBOOK_URL.fullmatch(annotations["runbook_url"])
    assert match, f"{alert['alert']}: {annotations['runbook_url']} is not in the on-call runbook"
    assert match["anchor"] in RUNBOOK_ANCHORS, f"{alert['alert']}: unknown anchor"


def test_disable_ai_marks_the_error_rate_and_eval_drop_alerts_only() -> None:
    marked = {rule["alert"] for rule in alerts() if rule["labels"].get("action") == "disable_ai"}
    assert marked == DISABLE_AI_ALERTS
    for rule in alerts():
        if rule["alert"] in DISABLE_AI_ALERTS:
            assert rule["labels"]["action"] == "disable_ai", rule["alert"]


@pytest.mark.skipif(not RUNBOOK.is_file(), reason="docs/runbooks/on-call.md is not written yet")
def test_runbook_has_every_anchor_the_alerts_link_to() -> None:
    anchors = heading_anchors(RUNBOOK.read_text(encoding="utf-8"))
    linked = {
        match["anchor"]
        for rule in alerts()
        if (match := RUNBOOK_URL.fullmatch(rule["annotations"]["runbook_url"]))
    }
    assert linked <= anchors, f"the runbook lacks {sorted(linked - anchors)}"


# --- promtool unit tests ----------------------------------------------------------------------


def test_unit_tests_load_the_rule_files_prometheus_loads() -> None:
    assert unit_test_files(), "docker/prometheus/tests/ has no promtool test"
    for path in unit_test_files():
        loaded = {(path.parent / name).resolve() for name in load_yaml(path)["rule_files"]}
        assert loaded == {rule_file.resolve() for rule_file in rule_files()}, path.name


def test_every_alert_fires_in_one_unit_test_and_stays_quiet_in_another() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in unit_test_files():
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names <= firing, f"never seen firing: {sorted(names - firing)}"
    assert names <= quiet, f"never seen quiet: {sorted(names - quiet)}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rule_files() -> None:
    run_promtool("check", "rules", *map(str, rule_files()))


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_unit_tests_pass() -> None:
    output = run_promtool("test", "rules", *map(str, unit_test_files()))
    assert "FAILED" not in output
