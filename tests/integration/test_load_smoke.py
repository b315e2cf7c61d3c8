"""The load test at a tiny size: a live server, a fake model, one short level."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.services import Services
from benchmarks import load

pytestmark = pytest.mark.integration

LEVEL_KEYS = {
    "multiplier",
    "rate_rps",
    "offered",
    "served",
    "shed_429",
    "shed_503",
    "shed_with_retry_after",
    "failed",
    "failure_reasons",
    "dropped",
    "ttft_s",
    "total_s",
    "throughput_rps",
    "server_cpu_s",
    "server_cpu_pct",
    "server_peak_rss_mb",
    "client_skipped",
    "client_limited",
}


def test_tiny_load_run_serves_everything_and_drops_nothing(services: Services) -> None:
    cfg = load.LoadConfig(
        levels=(1.0,),
        duration=3.0,
        expected_rps=2.0,
        poisson=False,
        ttft=0.05,
        tps=200.0,
        tokens=20,
        request_timeout=20.0,
        drain_timeout=15.0,
        # The session's knowledge base, so the server skips its first-start ingest.
        seed_data_dir=services.settings.data_dir,
    )

    report = load.run(cfg)

    assert report["machine"]["cpu_count"] >= 1
    assert report["settings"]["expected_rps"] == 2.0
    assert report["warm_up"] == ["served"] * len(load.MIX)
    [level] = report["levels"]
    assert level.keys() >= LEVEL_KEYS
    assert level["offered"] == 5
    assert level["served"] > 0
    assert level["failed"] == 0, level["failure_reasons"]
    assert level["dropped"] == 0
    assert level["served"] + level["shed_429"] + level["shed_503"] == level["offered"]
    assert set(level["ttft_s"]) == {"p50", "p95", "p99"}
    assert 0 < level["ttft_s"]["p50"] <= level["total_s"]["p50"] < 20
    assert level["server_cpu_s"] > 0
    assert level["server_peak_rss_mb"] > 0
    json.dumps(report)  # the report is what --json writes


def test_cli_options_reach_the_config(tmp_path: Path) -> None:
    cfg, path = load.parse_args(
        ["--levels", "1,2.5", "--max-concurrent", "4", "--fixed-rate", "--json", str(tmp_path)]
    )

    assert cfg.levels == (1.0, 2.5)
    assert cfg.max_concurrent == 4
    assert not cfg.poisson
    assert path == tmp_path
    env = load.server_env(cfg, "http://127.0.0.1:1/v1", "s" * 40)
    assert env["SUPPORTFLOW_MAX_CONCURRENT_RUNS"] == "4"
    assert "SUPPORTFLOW_MAX_QUEUED_RUNS" not in env
