"""One comparison: start the fake model, then each server in turn, and measure every target."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # psutil ships no type information

from api.auth import mint_end_user_token
from benchmarks import load
from benchmarks.peers import servers
from benchmarks.peers.client import LevelRun, RunSpec, ms_percentiles, one_run, summarise
from benchmarks.peers.servers import Server

QUESTION = "How do I return an item?"
TARGETS = ("bare-fastapi", "langgraph-dev", "supportflow-langgraph", "supportflow-widget")
STREAM_MODES = ["updates", "messages-tuple"]
"""What the README's langgraph-sdk example asks for: node updates and model tokens."""
SAMPLE_S = 0.25
SETTLE_S = 10.0
IDLE_CORES = 0.05


@dataclass(frozen=True)
class PeersConfig:
    """One comparison's sizes; every level is bounded by ``duration_s`` and ``max_runs``."""

    levels: tuple[int, ...] = (1, 10, 50, 100)
    duration_s: float = 15.0
    max_runs: int = 300
    ttft: float = 0.2
    tps: float = 100.0
    tokens: int = 100
    request_timeout_s: float = 60.0
    warm_up_runs: int = 3
    targets: tuple[str, ...] = TARGETS
    langgraph_cli: Path | None = None
    langgraph_jobs: int = 10
    """``langgraph dev``'s default ``--n-jobs-per-worker``."""
    langgraph_unbounded: bool = True
    """Also measure ``langgraph dev`` with jobs = the largest N, at the levels above its default."""
    cache_row: bool = True
    """One widget level (the largest N up to 50) with the answer cache on."""
    seed_data_dir: Path | None = None
    question: str = QUESTION
    workers: int = 2
    """Also measure SupportFlow with this many worker processes on the shared profile
    (Postgres and Redis on loopback), at N = 50; 1 or less skips it."""


def thread_spec(assistant: str, answer_node: str, question: str, key: str | None) -> RunSpec:
    """A LangGraph API run on a new thread, as langgraph-sdk's ``runs.stream`` sends it."""
    body = {
        "assistant_id": assistant,
        "stream_mode": STREAM_MODES,
        "input": {"messages": [{"role": "user", "content": question}]},
    }
    headers = {"x-api-key": key} if key else {}
    return RunSpec(
        "/threads/{thread_id}/runs/stream",
        body,
        lambda: dict(headers),
        create_thread=True,
        answer_node=answer_node,
    )


def widget_spec(server: Server, question: str) -> RunSpec:
    """The widget's turn: publishable key plus a freshly minted end-user token."""
    key, secret = server.credentials["customer"], server.credentials["token_secret"]

    def headers() -> dict[str, str]:
        token = mint_end_user_token(secret, "demo", "james_li_5688")
        return {"x-api-key": key, "authorization": f"Bearer {token}"}

    return RunSpec("/v1/chat/stream", {"message": question}, headers, answer_event="token")


def bare_spec(question: str) -> RunSpec:
    """The bare endpoint: the thread id is the client's, tokens arrive as ``token`` events."""
    body = {"input": {"messages": [{"role": "user", "content": question}]}}
    return RunSpec("/threads/{thread_id}/runs/stream", body, answer_event="token")


class Meter:
    """CPU and peak RSS of a server's processes (and children) during one level."""

    def __init__(self, server: Server) -> None:
        self.sampler = load.ProcessSampler(server.pids)
        self.client = psutil.Process()

    async def measure(self, level: LevelRun, client: httpx.AsyncClient, spec: RunSpec) -> Any:
        """Run the level, wait for the server to go idle, and summarise both sides."""
        self.sampler.peak_rss = 0
        cpu0, client0 = self.sampler.sample(), self._client_cpu()
        sampling = asyncio.create_task(self._sample_forever())
        try:
            start = await level.run(client, spec)
            client_cpu = self._client_cpu() - client0
            await self._settle()
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
        row = summarise(level, start)
        server_cpu = self.sampler.sample() - cpu0
        return row | {
            "server_cpu_s": server_cpu,
            "server_cpu_ms_per_run": 1000 * server_cpu / row["ok"] if row["ok"] else None,
            "server_cpu_pct": 100 * server_cpu / max(row["span_s"], 1e-9),
            "server_peak_rss_mb": self.sampler.peak_rss / 2**20,
            "client_cpu_pct": 100 * client_cpu / max(row["span_s"], 1e-9),
            "load_avg_1m": os.getloadavg()[0],
        }

    def _client_cpu(self) -> float:
        times = self.client.cpu_times()
        return float(times.user + times.system)

    async def _sample_forever(self) -> None:
        while True:
            self.sampler.sample()
            await asyncio.sleep(SAMPLE_S)

    async def _settle(self) -> None:
        """Runs the server finishes after its stream closed (clean-up) still count."""
        before, deadline = self.sampler.sample(), time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            now = self.sampler.sample()
            if (now - before) / 0.5 < IDLE_CORES:
                return
            before = now


async def measure_target(
    server: Server, spec: RunSpec, levels: tuple[int, ...], cfg: PeersConfig
) -> dict[str, Any]:
    """Warm up, then each level in turn against one server."""
    limits = httpx.Limits(max_connections=max(levels) + 10, max_keepalive_connections=200)
    timeout = httpx.Timeout(cfg.request_timeout_s, connect=10.0)
    meter = Meter(server)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as client:
        warm_up = [
            await one_run(client, spec, cfg.request_timeout_s) for _ in range(cfg.warm_up_runs)
        ]
        errors = [r.error for r in warm_up if not r.ok]
        if len(errors) == len(warm_up) and warm_up:
            raise RuntimeError(f"{server.name}: every warm-up run failed: {errors}")
        rows = []
        for n in levels:
            level = LevelRun(n, cfg.duration_s, cfg.max_runs, cfg.request_timeout_s)
            rows.append(await meter.measure(level, client, spec))
            _progress(server.name, rows[-1])
    tail = server.log_tail() if any(row["errors"] for row in rows) else []
    return {"server": server.name, "settings": server.settings, "levels": rows, "log_tail": tail}


def _progress(name: str, row: dict[str, Any]) -> None:
    print(
        f"  {name} N={row['clients']}: {row['ok']} ok, {row['errors']} errors, "
        f"{row['runs_per_s']:.2f} runs/s, load {row['load_avg_1m']:.1f}",
        file=sys.stderr,
        flush=True,
    )


@dataclass(frozen=True)
class Job:
    """A target measured against a server: its report key, run spec and levels."""

    key: str
    spec: Callable[[Server], RunSpec]
    levels: tuple[int, ...]


Stage = tuple[AbstractContextManager[Server], list[Job]]
"""A server to start and what to measure on it."""


def _jobs(cfg: PeersConfig, llm_url: str, root: Path) -> Iterator[Stage]:
    """Server context managers paired with what to measure on each, in measuring order."""
    top, q = max(cfg.levels), cfg.question
    if "bare-fastapi" in cfg.targets:
        yield (
            servers.bare_fastapi(llm_url, root),
            [Job("bare-fastapi", lambda _: bare_spec(q), cfg.levels)],
        )
    cli = servers.langgraph_cli(cfg.langgraph_cli)
    if "langgraph-dev" in cfg.targets and cli is not None:
        lg = Job("langgraph-dev", lambda _: thread_spec("plain", "call_model", q, None), cfg.levels)
        yield servers.langgraph_dev(llm_url, root, cli, cfg.langgraph_jobs), [lg]
        above = tuple(n for n in cfg.levels if n > cfg.langgraph_jobs)
        if cfg.langgraph_unbounded and above:
            key = f"langgraph-dev-jobs{top}"
            yield servers.langgraph_dev(llm_url, root, cli, top), [Job(key, lg.spec, above)]
    yield from _supportflow_jobs(cfg, llm_url, root)


def _supportflow_jobs(cfg: PeersConfig, llm_url: str, root: Path) -> Iterator[Stage]:
    q, secret = cfg.question, secrets.token_urlsafe(32)
    graph = Job(
        "supportflow-langgraph",
        lambda s: thread_spec("support", "generate", q, s.credentials["engineer"]),
        cfg.levels,
    )
    widget = Job("supportflow-widget", lambda s: widget_spec(s, q), cfg.levels)
    jobs = [j for j in (graph, widget) if j.key in cfg.targets]
    if not jobs:
        return
    env = servers.supportflow_env(llm_url, secret, max(cfg.levels), cache_ttl_s=0)
    first = root / "supportflow"
    yield servers.supportflow(llm_url, first, env, cfg.seed_data_dir), jobs
    cached = tuple(n for n in cfg.levels if n <= 50)[-1:]
    if cfg.cache_row and cached and widget in jobs:
        env = env | {"SUPPORTFLOW_RESPONSE_CACHE_TTL_S": "3600"}
        cache_job = Job("supportflow-widget-cached", widget.spec, cached)
        yield servers.supportflow(llm_url, root / "supportflow-cached", env, first), [cache_job]
    yield from _workers_jobs(cfg, jobs, env | {"SUPPORTFLOW_RESPONSE_CACHE_TTL_S": "0"}, root)


def _workers_jobs(
    cfg: PeersConfig, jobs: list[Job], env: dict[str, str], root: Path
) -> Iterator[Stage]:
    """The same jobs at N = 50 on ``--workers`` processes sharing Postgres and Redis."""
    level = tuple(n for n in cfg.levels if n <= 50)[-1:]
    if cfg.workers <= 1 or not level or servers.shared_services_missing():
        return
    shared = [Job(f"{j.key}-workers{cfg.workers}", j.spec, level) for j in jobs]
    data_dir = root / "supportflow-workers"
    # The single-process stage's knowledge base: the workers start without ingesting.
    seed = root / "supportflow"
    yield servers.supportflow_shared(env, data_dir, cfg.workers, seed), shared


def _measure_stage(
    manager: AbstractContextManager[Server], jobs: list[Job], cfg: PeersConfig, into: dict[str, Any]
) -> None:
    started = time.monotonic()
    with manager as server:
        started_s = time.monotonic() - started
        for job in jobs:
            print(f"{job.key} on {server.url}", file=sys.stderr, flush=True)
            result = asyncio.run(measure_target(server, job.spec(server), job.levels, cfg))
            into[job.key] = result | {"server_start_s": started_s}


def _measure_all(
    cfg: PeersConfig, llm_url: str, root: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    """Measurements by target, and the targets whose server failed (with why)."""
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for manager, jobs in _jobs(cfg, llm_url, root):
        try:
            _measure_stage(manager, jobs, cfg, results)
        except Exception as exc:  # one failing server must not cost the others' measurements
            reason = f"{type(exc).__name__}: {exc}"
            print(f"stage failed: {reason}", file=sys.stderr, flush=True)
            failed |= {job.key: reason for job in jobs if job.key not in results}
    return results, failed


async def _first_chunk(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, float]:
    """Seconds to the first streamed chunk and to the end of one completion."""
    started, first = time.perf_counter(), None
    async with client.stream("POST", "/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: {"):
                first = time.perf_counter() - started
    total = time.perf_counter() - started
    return (total if first is None else first), total


async def model_direct(llm_url: str, cfg: PeersConfig, runs: int = 5) -> dict[str, Any]:
    """The fake model straight from the client, one request at a time: its own TTFT."""
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=llm_url, timeout=cfg.request_timeout_s) as client:
        timings = [await _first_chunk(client, body) for _ in range(runs)]
    return {
        "runs": runs,
        "first_token_ms": ms_percentiles([first for first, _ in timings]),
        "full_run_ms": ms_percentiles([total for _, total in timings]),
    }


def skipped(cfg: PeersConfig) -> dict[str, str]:
    """Targets asked for but not measurable here, and why."""
    out = {}
    if "langgraph-dev" in cfg.targets and servers.langgraph_cli(cfg.langgraph_cli) is None:
        out["langgraph-dev"] = (
            "no langgraph CLI with the inmem extra: run "
            "`python -m benchmarks.peers --setup-langgraph` or pass --langgraph PATH"
        )
    missing = servers.shared_services_missing()
    if cfg.workers > 1 and missing:
        out[f"supportflow-workers{cfg.workers}"] = f"{missing}: no shared-profile rows"
    return out


def run(cfg: PeersConfig) -> dict[str, Any]:
    """Start the fake model, measure every target, stop everything; the report."""
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    report: dict[str, Any] = {"machine": load.machine_info(), "settings": settings}
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="sf-peers-") as tmp,
        servers.fake_model(Path(tmp), cfg.ttft, cfg.tps, cfg.tokens) as model,
    ):
        report["model_direct"] = asyncio.run(model_direct(model.url, cfg))
        report["targets"], report["failed"] = _measure_all(cfg, model.url, Path(tmp))
    report["skipped"] = skipped(cfg)
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    report["wall_s"] = time.monotonic() - started
    return report
