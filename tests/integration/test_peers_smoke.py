"""The peer comparison at a tiny size: live servers, a fake model, two short levels each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.services import Services
from benchmarks.peers import report as output
from benchmarks.peers import servers
from benchmarks.peers.__main__ import parse_args
from benchmarks.peers.run import PeersConfig, run, skipped

pytestmark = pytest.mark.integration

LEVEL_KEYS = {
    "clients",
    "runs",
    "ok",
    "errors",
    "error_reasons",
    "runs_per_s",
    "first_event_ms",
    "first_token_ms",
    "full_run_ms",
    "bytes_per_run",
    "server_cpu_s",
    "server_cpu_ms_per_run",
    "server_peak_rss_mb",
    "client_cpu_pct",
    "load_avg_1m",
}
NO_LANGGRAPH_DEV = "langgraph dev is not installed (python -m benchmarks.peers --setup-langgraph)"


def tiny(*targets: str, seed: Path | None = None) -> PeersConfig:
    return PeersConfig(
        levels=(1, 2),
        duration_s=2.0,
        max_runs=6,
        ttft=0.05,
        tps=400.0,
        tokens=20,
        request_timeout_s=20.0,
        warm_up_runs=1,
        targets=targets,
        langgraph_unbounded=False,
        cache_row=False,
        seed_data_dir=seed,
    )


def assert_clean_levels(target: dict[str, Any], levels: tuple[int, ...] = (1, 2)) -> None:
    assert [row["clients"] for row in target["levels"]] == list(levels)
    for row in target["levels"]:
        assert row.keys() >= LEVEL_KEYS
        assert row["errors"] == 0, row["error_reasons"]
        assert row["ok"] == row["runs"] > 0
        first_event, first_token = row["first_event_ms"]["p50"], row["first_token_ms"]["p50"]
        assert 0 < first_event <= first_token <= row["full_run_ms"]["p50"] < 20_000
        assert row["runs_per_s"] > 0
        assert row["server_cpu_ms_per_run"] > 0
        assert row["server_peak_rss_mb"] > 0
        assert row["bytes_per_run"] > 0


def test_tiny_comparison_of_supportflow_and_bare_fastapi(services: Services) -> None:
    # The session's knowledge base, so SupportFlow skips its first-start ingest.
    cfg = tiny(
        "bare-fastapi",
        "supportflow-langgraph",
        "supportflow-widget",
        seed=services.settings.data_dir,
    )

    report = run(cfg)

    shared = {"supportflow-langgraph-workers2", "supportflow-widget-workers2"}
    single = {"bare-fastapi", "supportflow-langgraph", "supportflow-widget"}
    assert set(report["targets"]) == single | shared
    for key in single:
        assert_clean_levels(report["targets"][key])
    for key in shared:  # two workers on the local Postgres and Redis, at the largest N <= 50
        assert_clean_levels(report["targets"][key], (2,))
        assert report["targets"][key]["settings"]["workers"] == 2
        assert "SUPPORTFLOW_DATABASE_URL" not in report["targets"][key]["settings"]
    sf_settings = report["targets"]["supportflow-widget"]["settings"]
    assert sf_settings["SUPPORTFLOW_MAX_CONCURRENT_RUNS"] == "2"
    assert sf_settings["SUPPORTFLOW_RESPONSE_CACHE_TTL_S"] == "0"
    assert report["model_direct"]["first_token_ms"]["p50"] >= 50
    goals = {g["name"]: g for g in output.goals_json(report)}
    assert goals["widget bytes per token (N=2)"]["status"] == "met"
    cpu = "server CPU per run at N=2: SupportFlow, LangGraph route / bare FastAPI"
    assert goals[cpu]["value"] > 0
    json.dumps(report)  # the report is what --json writes


@pytest.mark.skipif(servers.langgraph_cli() is None, reason=NO_LANGGRAPH_DEV)
def test_tiny_langgraph_dev_run() -> None:
    report = run(tiny("langgraph-dev"))

    assert_clean_levels(report["targets"]["langgraph-dev"])
    assert report["targets"]["langgraph-dev"]["settings"]["n_jobs_per_worker"] == 10
    assert report["skipped"] == {}


def test_a_missing_langgraph_cli_is_a_skip_not_a_failure(tmp_path: Path) -> None:
    cfg = PeersConfig(targets=("langgraph-dev",), langgraph_cli=tmp_path / "langgraph")

    assert "--setup-langgraph" in skipped(cfg)["langgraph-dev"]


def test_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is a bench extra")
    row = {"clients": 1, "runs_per_s": 1.0, "first_event_ms": {"p95": 10.0}}
    report = {
        "settings": {"levels": [1], "ttft": 0.2, "tokens": 100, "tps": 100.0},
        "machine": {"cpu_count": 2},
        "targets": {"bare-fastapi": {"levels": [row]}},
    }

    assert output.plot(report, tmp_path / "peers.png")
    assert (tmp_path / "peers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_options_reach_the_config(tmp_path: Path) -> None:
    cfg, args = parse_args(
        ["--levels", "1,5", "--targets", "bare-fastapi", "--no-cache-row", "--json", str(tmp_path)]
    )

    assert cfg.levels == (1, 5)
    assert cfg.targets == ("bare-fastapi",)
    assert not cfg.cache_row
    assert cfg.workers == 2
    assert parse_args(["--workers", "1"])[0].workers == 1
    assert args.json == tmp_path
    env = servers.supportflow_env("http://127.0.0.1:1/v1", "s" * 40, 100, cache_ttl_s=0)
    assert env["SUPPORTFLOW_MAX_QUEUED_RUNS"] == "100"
    assert env["SUPPORTFLOW_RATE_LIMIT_PER_CUSTOMER"] == env["SUPPORTFLOW_RATE_LIMIT_PER_KEY"]


def test_a_server_that_fails_to_start_costs_only_its_own_rows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from contextlib import contextmanager

    from benchmarks.peers import run as peers_run

    @contextmanager
    def broken() -> Iterator[servers.Server]:
        raise TimeoutError("server did not become ready")
        yield  # pragma: no cover - a generator, for contextmanager

    jobs = [peers_run.Job("supportflow-widget-workers2", lambda _: peers_run.bare_spec("q"), (50,))]
    monkeypatch.setattr(peers_run, "_jobs", lambda *_: iter([(broken(), jobs)]))
    results, failed = peers_run._measure_all(tiny(), "http://127.0.0.1:1/v1", tmp_path)
    assert results == {}
    assert failed == {"supportflow-widget-workers2": "TimeoutError: server did not become ready"}
