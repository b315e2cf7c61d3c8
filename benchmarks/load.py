"""Open-loop load test of the widget stream against live ``supportflow serve`` processes.

Starts a fake OpenAI-compatible model (its own process) and ``--replicas`` servers on loopback,
offers customer turns at multiples of the expected load for ``--duration`` seconds per level,
and reports served, shed (429/503), failed and dropped turns, time to first token, total time,
goodput and the servers' CPU and memory.

    python -m benchmarks.load [--levels 1,5,10] [--duration 20] [--expected-rps 0.5]

Load assumption (1x, ``EXPECTED_RPS``): a mid-size online store with about 2,000 support
conversations a day and 3 customer messages per conversation, so 6,000 messages a day. Traffic
follows shopping hours: the busiest hour carries about 12 % of the day (720 messages, 0.2/s)
and minute-scale bursts inside it run at about 2.5x that hour's mean, so the 1x peak is about
0.5 customer messages per second. Every arrival here is such a message opening a new
conversation (its own thread) for one of the demo store's customers, so each pays for a full
turn: guard, routing, retrieval or tools, a streamed model answer and the output guard.

Knowledge questions come in customers' own words (greetings, the product they bought), so the
answer cache, on as in production, sees realistic repeats rather than eight fixed strings.

Arrivals are open-loop (Poisson by default): the schedule does not wait for answers, so a
server over capacity shows up as queueing, shedding or failures rather than a slower client.
Each level runs for ``--duration``, then drains for at most ``--drain-timeout`` (in-flight turns
finish or are cut, and the server's leftover runs settle), so the load phase is bounded by
levels x (duration + drain timeout); start-up adds up to two minutes per replica.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # psutil ships no type information
from rich.console import Console
from rich.table import Table

from api.auth import mint_end_user_token
from tests.integration.live_server import free_port, live_server, log_tail

EXPECTED_RPS = 0.5
"""1x load: peak new customer messages per second for a store with ~2,000 conversations/day."""
LOAD_ASSUMPTION = (
    "2,000 support conversations/day x 3 customer messages; busiest hour 12 % of the day; "
    "minute bursts 2.5x the hour's mean: ~0.5 new customer messages/s at 1x"
)
RESULTS = Path(__file__).parent / "results" / "load.json"
REPO = Path(__file__).resolve().parents[1]
NO_LIMIT = "100000/minute"
"""Per-IP and per-key limits for the run: all traffic comes from one loopback IP and one key."""
SAMPLE_S = 0.25
IDLE_CORES = 0.1
"""A server below this CPU use (in cores) has finished the runs left by the previous level."""

KNOWLEDGE = (
    "What payment methods do you accept?",
    "How do I return an item?",
    "How long does a refund to PayPal take?",
    "How do gift cards work?",
    "How long does shipping take?",
    "How do I reset my password?",
    "Can I exchange an item for a different size?",
    "What does the processed status mean?",
)
ORDER = (
    "Where is order {order}?",
    "What's the status of order {order}? Can I still cancel it?",
    "Has order {order} shipped yet?",
)
ACCOUNT = (
    "What payment methods are on my account?",
    "What is my default address?",
    "What's my gift card balance?",
)
OPENINGS = ("", "", "Hi! ", "Hello. ", "Hi there, quick question. ", "Good morning. ")
MIX = {"knowledge": 0.5, "order": 0.3, "account": 0.2}


@dataclass(frozen=True)
class LoadConfig:
    """Everything one load test needs; ``levels`` multiply ``expected_rps``."""

    levels: tuple[float, ...] = (1.0, 5.0, 10.0)
    duration: float = 20.0
    expected_rps: float = EXPECTED_RPS
    replicas: int = 1
    workers: int = 1
    ttft: float = 0.3
    tps: float = 50.0
    tokens: int = 60
    poisson: bool = True
    max_requests: int = 10_000
    max_in_flight: int = 500
    request_timeout: float = 30.0
    drain_timeout: float = 30.0
    seed: int = 7
    redis_url: str | None = None
    database_url: str | None = None
    max_concurrent: int | None = None
    max_queued: int | None = None
    queue_timeout: float | None = None
    response_cache_ttl: int = 3600
    """The server's default (answers cached for an hour); 0 turns the answer cache off."""
    seed_data_dir: Path | None = None
    """A data dir with a built knowledge base to copy, which saves the first start's ingest."""


@dataclass(frozen=True)
class Turn:
    """One customer message to send."""

    kind: str
    customer: str
    message: str


@dataclass(frozen=True)
class Server:
    """A live replica and the credentials its widget traffic uses."""

    url: str
    pid: int
    key: str
    secret: str
    log: Path

    def headers(self, customer: str) -> dict[str, str]:
        """Publishable key plus a freshly minted end-user token, as a store's page would send."""
        token = mint_end_user_token(self.secret, "demo", customer)
        return {"x-api-key": self.key, "authorization": f"Bearer {token}"}


@dataclass
class Result:
    """What happened to one turn, filled in while its stream is read."""

    kind: str
    status: int | None = None
    retry_after: bool = False
    ended: bool = False
    end_status: str | None = None
    tokens: int = 0
    handoff: bool = False
    error_event: bool = False
    error: str | None = None
    ttft: float | None = None
    total: float | None = None
    finished_at: float = 0.0

    @property
    def accepted(self) -> bool:
        """The server took the turn (200 and a stream)."""
        return self.status == 200

    @property
    def dropped(self) -> bool:
        """Accepted but never completed: the stream broke, timed out or ended without ``end``."""
        return self.accepted and not self.ended

    @property
    def outcome(self) -> str:
        """``served``, ``shed_429``, ``shed_503`` or ``failed``."""
        if self.status in (429, 503) and self.error is None:
            return f"shed_{self.status}"
        answered = self.tokens > 0 or self.handoff
        ok = self.ended and self.end_status == "success" and not self.error_event
        return "served" if self.accepted and ok and answered else "failed"

    @property
    def reason(self) -> str:
        """Why a failed turn failed."""
        if self.error is not None:
            return self.error
        if not self.accepted:
            return f"http_{self.status}"
        if not self.ended:
            return "no_end_event"
        return "error_event" if self.error_event else f"end_{self.end_status}_no_answer"


@dataclass(frozen=True)
class Customer:
    """A demo store customer: id, order ids and the names of what they bought."""

    id: str
    orders: tuple[str, ...]
    products: tuple[str, ...]


def demo_customers() -> list[Customer]:
    """The packaged store's customers."""
    raw = resources.files("tools").joinpath("data/retail.json.gz").read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    orders = data["orders"]
    return [
        Customer(
            uid,
            tuple(user["orders"]),
            tuple(sorted({i["name"] for o in user["orders"] for i in orders[o]["items"]})),
        )
        for uid, user in sorted(data["users"].items())
    ]


def knowledge_question(rng: random.Random, customer: Customer) -> str:
    """A help-centre question in a customer's own words.

    Real traffic repeats popular questions but rarely word for word; a few bare questions
    recur (and may be served from the answer cache), most carry a greeting or a product.
    """
    question = rng.choice(KNOWLEDGE)
    opening = rng.choice(OPENINGS)
    if customer.products and rng.random() < 0.6:
        return f"{opening}{question} It's about the {rng.choice(customer.products)} I bought."
    return f"{opening}{question}"


def plan_turn(rng: random.Random, customers: Sequence[Customer]) -> Turn:
    """A random turn from the mix, from a random customer (spreads per-customer limits)."""
    kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if kind == "order":
        customer = rng.choice([c for c in customers if c.orders])
        message = rng.choice(ORDER).format(order=rng.choice(customer.orders))
        return Turn(kind, customer.id, message)
    customer = rng.choice(customers)
    if kind == "account":
        return Turn(kind, customer.id, rng.choice(ACCOUNT))
    return Turn(kind, customer.id, knowledge_question(rng, customer))


def arrivals(rate: float, duration: float, rng: random.Random, poisson: bool) -> list[float]:
    """Send times in seconds from the level's start: Poisson or evenly spaced at ``rate``."""
    times: list[float] = []
    at = 0.0
    while True:
        at += rng.expovariate(rate) if poisson else 1.0 / rate
        if at >= duration:
            return times
        times.append(at)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """Nearest-rank p50, p95 and p99 (``None`` without values)."""
    ordered = sorted(values)

    def rank(p: float) -> float | None:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else None

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99)}


class ProcessSampler:
    """CPU seconds and peak RSS of some processes and all their descendants."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._roots = [psutil.Process(pid) for pid in pids]
        self._cpu: dict[int, float] = {}
        self.peak_rss = 0

    def sample(self) -> float:
        """Total CPU seconds so far (processes that exited keep their last reading)."""
        rss = 0
        for root in self._roots:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in tree:
                try:
                    with proc.oneshot():
                        times, memory = proc.cpu_times(), proc.memory_info()
                except psutil.Error:
                    continue
                self._cpu[proc.pid] = times.user + times.system
                rss += memory.rss
        self.peak_rss = max(self.peak_rss, rss)
        return sum(self._cpu.values())


_CACHE_LINE = re.compile(
    r'^supportflow_cache_requests_total\{cache="([^"]+)",result="([^"]+)"\} ([0-9.e+]+)$', re.M
)


async def cache_lookups(client: httpx.AsyncClient, servers: Sequence[Server]) -> Counter[str]:
    """Cache lookups so far by ``cache:result``, from every replica's ``/metrics``."""
    counts: Counter[str] = Counter()
    for server in servers:
        try:
            response = await client.get(f"{server.url}/metrics", timeout=5.0)
        except httpx.HTTPError:
            continue
        for cache, result, value in _CACHE_LINE.findall(response.text):
            counts[f"{cache}:{result}"] += int(float(value))
    return counts


async def _read_stream(response: httpx.Response, result: Result, started: float) -> None:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event:
            _on_event(result, event, line[5:].strip(), time.perf_counter() - started)
        elif not line:
            event = ""


def _on_event(result: Result, event: str, data: str, elapsed: float) -> None:
    if event == "token":
        result.tokens += 1
        result.ttft = elapsed if result.ttft is None else result.ttft
    elif event == "handoff":
        result.handoff = True
    elif event == "error":
        result.error_event = True
    elif event == "end":
        result.ended = True
        result.end_status = str(json.loads(data).get("status"))


async def send_turn(
    client: httpx.AsyncClient, server: Server, turn: Turn, result: Result, limit_s: float
) -> None:
    """One ``/v1/chat/stream`` turn, read to its end within ``limit_s`` seconds."""
    started = time.perf_counter()
    try:
        async with (
            asyncio.timeout(limit_s),
            client.stream(
                "POST",
                f"{server.url}/v1/chat/stream",
                json={"message": turn.message},
                headers=server.headers(turn.customer),
            ) as response,
        ):
            result.status = response.status_code
            result.retry_after = "retry-after" in response.headers
            if response.status_code == 200:
                await _read_stream(response, result, started)
            else:
                await response.aread()
    except TimeoutError:
        result.error = "timeout"
    except httpx.HTTPError as exc:
        result.error = type(exc).__name__
    finally:
        result.total = time.perf_counter() - started
        result.finished_at = time.perf_counter()


@dataclass
class Level:
    """The client side of one level while it runs."""

    multiplier: float
    rate: float
    results: list[Result] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    skipped: int = 0
    tasks: dict[asyncio.Task[None], Result] = field(default_factory=dict)


class Harness:
    """Offers load to live servers and measures them, one level at a time."""

    def __init__(self, cfg: LoadConfig, servers: Sequence[Server], llm_pid: int) -> None:
        self.cfg, self.servers = cfg, list(servers)
        self.rng = random.Random(cfg.seed)
        self.customers = demo_customers()
        self.server_sampler = ProcessSampler([s.pid for s in servers])
        self.llm_sampler = ProcessSampler([llm_pid])
        self.client_process = psutil.Process()
        self._next = 0
        self.budget = cfg.max_requests

    def _pick(self) -> Server:
        # Round-robin stands in for the load balancer in front of the replicas.
        server = self.servers[self._next % len(self.servers)]
        self._next += 1
        return server

    async def warm_up(self, client: httpx.AsyncClient) -> list[str]:
        """One turn of each kind per replica (loads models and caches); their outcomes."""
        outcomes = []
        for server in self.servers:
            for kind in MIX:
                turn = next(t for t in iter(self._turn, None) if t.kind == kind)
                result = Result(kind)
                await send_turn(client, server, turn, result, self.cfg.request_timeout)
                outcomes.append(result.outcome if result.outcome != "failed" else result.reason)
        return outcomes

    def _turn(self) -> Turn:
        return plan_turn(self.rng, self.customers)

    async def _offer(self, client: httpx.AsyncClient, level: Level, start: float) -> None:
        schedule = arrivals(level.rate, self.cfg.duration, self.rng, self.cfg.poisson)
        for at in schedule[: self.budget]:
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            level.lags.append(max(0.0, -delay))
            if len(level.tasks) >= self.cfg.max_in_flight:
                level.skipped += 1
                continue
            turn = self._turn()
            result = Result(turn.kind)
            level.results.append(result)
            task = asyncio.create_task(
                send_turn(client, self._pick(), turn, result, self.cfg.request_timeout)
            )
            level.tasks[task] = result
            task.add_done_callback(lambda t: level.tasks.pop(t, None))
        self.budget -= len(level.results) + level.skipped

    async def _drain(self, level: Level, deadline: float) -> None:
        pending = set(level.tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        for task in pending:
            level.tasks[task].error = "drain_timeout"
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _settle(self, deadline: float) -> None:
        """Wait for runs the clients gave up on (runs outlive their connection)."""
        before = self.server_sampler.sample()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            now = self.server_sampler.sample()
            if (now - before) / 0.5 < IDLE_CORES:
                return
            before = now

    async def _sample_forever(self) -> None:
        while True:
            self.server_sampler.sample()
            await asyncio.sleep(SAMPLE_S)

    async def run_level(self, client: httpx.AsyncClient, multiplier: float) -> dict[str, Any]:
        """Offer ``multiplier`` x the expected load for the duration, drain, and summarise."""
        level = Level(multiplier, self.cfg.expected_rps * multiplier)
        caches = await cache_lookups(client, self.servers)
        self.server_sampler.peak_rss = 0
        cpu0, llm0 = self.server_sampler.sample(), self.llm_sampler.sample()
        client0 = sum(self.client_process.cpu_times()[:2])
        sampler = asyncio.create_task(self._sample_forever())
        start, wall0 = time.perf_counter(), time.monotonic()
        try:
            await self._offer(client, level, start)
            await self._drain(level, wall0 + self.cfg.duration + self.cfg.drain_timeout)
            client_cpu = sum(self.client_process.cpu_times()[:2]) - client0
            await self._settle(wall0 + self.cfg.duration + self.cfg.drain_timeout)
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        elapsed = time.perf_counter() - start
        usage = {
            "elapsed_s": elapsed,
            "server_cpu_s": self.server_sampler.sample() - cpu0,
            "server_peak_rss_mb": self.server_sampler.peak_rss / 2**20,
            "llm_cpu_s": self.llm_sampler.sample() - llm0,
            "client_cpu_s": client_cpu,
        }
        caches = await cache_lookups(client, self.servers) - caches
        return summarise(level, self.cfg.duration, start, usage) | {"cache_lookups": caches}


def summarise(
    level: Level, duration: float, start: float, usage: dict[str, float]
) -> dict[str, Any]:
    """The numbers reported for one level."""
    results = level.results
    outcomes = Counter(r.outcome for r in results)
    served = [r for r in results if r.outcome == "served"]
    shed = [r for r in results if r.outcome.startswith("shed")]
    # Served turns over the time it took to serve them: the level's window, or longer when the
    # server was still catching up; shifted by the fastest turn so light load reads its rate.
    fastest = min((r.total or 0.0 for r in served), default=0.0)
    span = max((r.finished_at - start - fastest for r in served), default=duration)
    lag_p99 = percentiles(level.lags)["p99"] or 0.0
    elapsed = usage["elapsed_s"]
    return {
        "multiplier": level.multiplier,
        "rate_rps": level.rate,
        "offered": len(results),
        "offered_rps": len(results) / duration,
        "served": outcomes["served"],
        "shed_429": outcomes["shed_429"],
        "shed_503": outcomes["shed_503"],
        "shed_with_retry_after": sum(r.retry_after for r in shed),
        "failed": outcomes["failed"],
        "failure_reasons": dict(Counter(r.reason for r in results if r.outcome == "failed")),
        "dropped": sum(r.dropped for r in results),
        "handoffs": sum(r.handoff for r in served),
        "by_kind": {
            kind: {
                "offered": sum(r.kind == kind for r in results),
                "served": sum(r.kind == kind for r in served),
                "handoffs": sum(r.kind == kind and r.handoff for r in served),
            }
            for kind in MIX
        },
        "ttft_s": percentiles([r.ttft for r in served if r.ttft is not None]),
        "total_s": percentiles([r.total for r in served if r.total is not None]),
        "throughput_rps": len(served) / max(duration, span),
        **usage,
        "server_cpu_pct": 100 * usage["server_cpu_s"] / elapsed,
        "llm_cpu_pct": 100 * usage["llm_cpu_s"] / elapsed,
        "client_cpu_pct": 100 * usage["client_cpu_s"] / elapsed,
        "client_skipped": level.skipped,
        "schedule_lag_p99_ms": 1000 * lag_p99,
        "client_limited": level.skipped > 0 or lag_p99 > 0.1,
    }


@contextmanager
def fake_llm(cfg: LoadConfig) -> Iterator[tuple[str, int]]:
    """The fake model in its own process, so its threads never share the client's GIL."""
    port = free_port()
    args = ["--port", str(port), "--ttft", str(cfg.ttft), "--tps", str(cfg.tps)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_llm_server", *args, "--tokens", str(cfg.tokens)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/models", timeout=2.0).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("fake model did not start") from None
                time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_env(cfg: LoadConfig, llm_url: str, secret: str) -> dict[str, str]:
    """Environment of every replica; admission-control settings only when asked for."""
    optional = {
        "SUPPORTFLOW_REDIS_URL": cfg.redis_url,
        "SUPPORTFLOW_DATABASE_URL": cfg.database_url,
        "SUPPORTFLOW_MAX_CONCURRENT_RUNS": cfg.max_concurrent,
        "SUPPORTFLOW_MAX_QUEUED_RUNS": cfg.max_queued,
        "SUPPORTFLOW_QUEUE_TIMEOUT_S": cfg.queue_timeout,
    }
    return {
        "SUPPORTFLOW_LLM_BASE_URL": llm_url,
        "SUPPORTFLOW_DEMO": "true",
        # One secret for all replicas, so a token minted once is valid behind any of them.
        "SUPPORTFLOW_TOKEN_SECRET": secret,
        "SUPPORTFLOW_RATE_LIMIT_PER_IP": NO_LIMIT,
        "SUPPORTFLOW_RATE_LIMIT_PER_KEY": NO_LIMIT,
        # Explicit, because the test helper that starts servers turns the cache off.
        "SUPPORTFLOW_RESPONSE_CACHE_TTL_S": str(cfg.response_cache_ttl),
    } | {name: str(value) for name, value in optional.items() if value is not None}


def _seed(source: Path, target: Path) -> None:
    for name in ("kb.lance", "retail.sqlite"):
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        elif (source / name).is_file():
            shutil.copy2(source / name, target / name)


def start_servers(cfg: LoadConfig, stack: ExitStack, root: Path) -> tuple[list[Server], int]:
    """The fake model and ``cfg.replicas`` servers (and the model's PID); ``stack`` stops them."""
    llm_url, llm_pid = stack.enter_context(fake_llm(cfg))
    secret = secrets.token_urlsafe(32)
    servers: list[Server] = []
    for index in range(cfg.replicas):
        data_dir = root / f"replica-{index}"
        data_dir.mkdir()
        seed = cfg.seed_data_dir or (root / "replica-0" if index else None)
        if seed is not None:
            _seed(seed, data_dir)
        args = ("--workers", str(cfg.workers)) if cfg.workers > 1 else ()
        live = stack.enter_context(live_server(data_dir, *args, **server_env(cfg, llm_url, secret)))
        key = live.create_key("customer")
        servers.append(Server(live.url, live.process.pid, key, secret, data_dir / "server.log"))
    return servers, llm_pid


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": os.getloadavg(),
        "git_head": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(_git("status", "--porcelain").splitlines()),
    }


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    done = subprocess.run([git, *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    return done.stdout.strip()


async def _run_levels(cfg: LoadConfig, servers: list[Server], llm_pid: int) -> dict[str, Any]:
    harness = Harness(cfg, servers, llm_pid)
    limits = httpx.Limits(max_connections=cfg.max_in_flight + 10, max_keepalive_connections=100)
    timeout = httpx.Timeout(cfg.request_timeout, connect=5.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        warm_up = await harness.warm_up(client)
        if any(outcome != "served" for outcome in warm_up):
            raise RuntimeError(f"warm-up turns were not served: {warm_up}")
        levels = [await harness.run_level(client, m) for m in cfg.levels]
    return {"warm_up": warm_up, "levels": levels}


def run(cfg: LoadConfig) -> dict[str, Any]:
    """Start the servers, run every level, stop everything; returns the report."""
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    report: dict[str, Any] = {
        "machine": machine_info(),
        "settings": settings,
        "load_assumption": LOAD_ASSUMPTION,
    }
    with tempfile.TemporaryDirectory(prefix="sf-load-") as tmp, ExitStack() as stack:
        servers, llm_pid = start_servers(cfg, stack, Path(tmp))
        try:
            report |= asyncio.run(_run_levels(cfg, servers, llm_pid))
        finally:
            report["server_log_tail"] = _log_tail(servers)
    return report


def _log_tail(servers: Sequence[Server], lines: int = 20) -> list[str]:
    return [line for server in servers for line in log_tail(server.log, lines)]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:,.0f}"


def print_table(report: dict[str, Any], console: Console) -> None:
    """One row per level."""
    cfg = report["settings"]
    table = Table(
        title=f"Widget turns, {cfg['replicas']} replica(s) x {cfg['workers']} worker(s), "
        f"{cfg['duration']:g} s per level "
        f"(1x = {cfg['expected_rps']:g} msg/s; TTFT and total in ms, served turns)"
    )
    columns: tuple[str, ...] = (
        "level",
        "rate/s",
        "offered",
        "served",
        "429",
        "503 (RA)",
        "failed",
        "dropped",
    )
    columns += ("TTFT p50/p95/p99", "total p50/p95/p99", "served/s", "CPU s", "CPU %", "RSS MB")
    for column in columns:
        table.add_column(column, justify="right")
    for row in report["levels"]:
        ttft, total = row["ttft_s"], row["total_s"]
        table.add_row(
            f"{row['multiplier']:g}x",
            f"{row['rate_rps']:.2f}",
            str(row["offered"]),
            str(row["served"]),
            str(row["shed_429"]),
            f"{row['shed_503']} ({row['shed_with_retry_after']})",
            str(row["failed"]),
            str(row["dropped"]),
            " / ".join(_ms(ttft[p]) for p in ("p50", "p95", "p99")),
            " / ".join(_ms(total[p]) for p in ("p50", "p95", "p99")),
            f"{row['throughput_rps']:.2f}",
            f"{row['server_cpu_s']:.1f}",
            f"{row['server_cpu_pct']:.0f}",
            f"{row['server_peak_rss_mb']:.0f}",
        )
    console.print(table)
    for row in report["levels"]:
        if row["cache_lookups"]:
            console.print(f"{row['multiplier']:g}x cache lookups: {dict(row['cache_lookups'])}")
        if row["failure_reasons"]:
            console.print(f"{row['multiplier']:g}x failures: {row['failure_reasons']}")
        if row["client_limited"]:
            console.print(
                f"[yellow]{row['multiplier']:g}x: the client fell behind "
                f"(skipped {row['client_skipped']}, schedule lag p99 "
                f"{row['schedule_lag_p99_ms']:.0f} ms); treat that level as a lower bound"
            )


def _levels(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def parse_args(argv: Sequence[str] | None = None) -> tuple[LoadConfig, Path]:
    """The load config and the JSON path from the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--levels", type=_levels, default=LoadConfig.levels, help="multiples of 1x, e.g. 1,5,10")
    add("--duration", type=float, default=LoadConfig.duration, help="seconds per level")
    add("--expected-rps", type=float, default=EXPECTED_RPS, help="1x load, messages/s")
    add("--replicas", type=int, default=1, help="servers behind a client-side round-robin")
    add("--ttft", type=float, default=LoadConfig.ttft, help="fake model: seconds to first token")
    add("--tps", type=float, default=LoadConfig.tps, help="fake model: tokens per second")
    add("--tokens", type=int, default=LoadConfig.tokens, help="fake model: tokens per answer")
    add("--fixed-rate", action="store_true", help="evenly spaced arrivals instead of Poisson")
    add("--max-requests", type=int, default=LoadConfig.max_requests, help="cap over all levels")
    add("--max-in-flight", type=int, default=LoadConfig.max_in_flight)
    add("--request-timeout", type=float, default=LoadConfig.request_timeout)
    add("--drain-timeout", type=float, default=LoadConfig.drain_timeout, help="per level")
    add("--seed", type=int, default=LoadConfig.seed)
    add("--redis-url", help="shared by all replicas (SUPPORTFLOW_REDIS_URL)")
    add("--database-url", help="shared by all replicas (SUPPORTFLOW_DATABASE_URL)")
    add("--max-concurrent", type=int, help="SUPPORTFLOW_MAX_CONCURRENT_RUNS")
    add("--max-queued", type=int, help="SUPPORTFLOW_MAX_QUEUED_RUNS")
    add("--queue-timeout", type=float, help="SUPPORTFLOW_QUEUE_TIMEOUT_S")
    add("--workers", type=int, default=1, help="processes per replica (needs the URLs)")
    add(
        "--response-cache-ttl",
        type=int,
        default=LoadConfig.response_cache_ttl,
        help="answer cache lifetime in seconds (0: off)",
    )
    add("--seed-data-dir", type=Path, help="copy this data dir's knowledge base (skips ingest)")
    add("--json", type=Path, default=RESULTS, help="where to write the report")
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items() if k not in ("json", "fixed_rate")}
    return LoadConfig(**values, poisson=not args.fixed_rate), args.json


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, path = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)  # a piped table keeps its columns
    report = run(cfg)
    print_table(report, console)
    if any(row["failed"] for row in report["levels"]) and report["server_log_tail"]:
        console.print("server log tail:", *report["server_log_tail"], sep="\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
