"""Start and stop the servers under test, each a process (group) of its own on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load import NO_LIMIT
from tests.integration.live_server import free_port, live_server, log_tail

HERE = Path(__file__).parent
REPO = HERE.parents[1]
LANGGRAPH_VENV = REPO / "benchmarks" / ".cache" / "langgraph-dev"
"""Where ``--setup-langgraph`` installs ``langgraph dev`` (its pins clash with weaviate-client)."""
LANGGRAPH_CLI_PIN = "langgraph-cli[inmem]==0.4.40"
SHARED_PINS = ("langgraph", "langchain-core", "langchain-openai", "openai")
"""Installed into the peer's environment at this environment's versions: same graph runtime."""
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
PEER_ENV = {
    # langgraph-cli's usage analytics, langgraph-api's PyPI version check, LangSmith tracing.
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
_DROPPED_ENV = ("LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_", "OPENAI_", "SUPPORTFLOW_")


@dataclass(frozen=True)
class Server:
    """A server under test: where it listens, its process tree roots and how it was started."""

    name: str
    url: str
    pids: tuple[int, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def log_tail(self, lines: int = 30) -> list[str]:
        """The end of the server's log (reported with a target that saw errors)."""
        return [] if self.log is None else log_tail(self.log, lines)


def peer_env(llm_url: str) -> dict[str, str]:
    """The current environment less API keys and tracing settings, plus the peers' switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV)}
    return env | PEER_ENV | {"PEERS_LLM_BASE_URL": llm_url}


def event_loop(site_packages: Path | None = None) -> str:
    """What uvicorn's ``auto`` picks there: uvloop and httptools when installed."""
    if site_packages is None:
        loop, http = find_spec("uvloop") is not None, find_spec("httptools") is not None
    else:
        loop, http = (site_packages / "uvloop").is_dir(), (site_packages / "httptools").is_dir()
    return f"{'uvloop' if loop else 'asyncio'} + {'httptools' if http else 'h11'}"


@contextmanager
def fake_model(root: Path, ttft: float, tps: float, tokens: int) -> Iterator[Server]:
    """The fake OpenAI-compatible model in its own process (its threads keep their own GIL)."""
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks.peers.fake_model", "--port", str(port)]
    cmd += ["--ttft", str(ttft), "--tps", str(tps), "--tokens", str(tokens)]
    log = root / "fake-model.log"
    with _process_group(cmd, peer_env(""), REPO, log) as process:
        url = f"http://127.0.0.1:{port}/v1"
        _wait_ready(url, process, "/models")
        yield Server("fake-model", url, (process.pid,), log=log)


def _wait_ready(url: str, process: subprocess.Popen[bytes], path: str = "/ok") -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}{path}", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become ready in {START_TIMEOUT_S:.0f} s")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group the server leads, SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def _process_group(
    cmd: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _stop_group(process)


@contextmanager
def bare_fastapi(llm_url: str, root: Path) -> Iterator[Server]:
    """Serve ``bare_fastapi:create_app`` with uvicorn and this interpreter (as SupportFlow)."""
    port = free_port()
    app = "benchmarks.peers.bare_fastapi:create_app"
    cmd = [sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    log = root / "bare-fastapi.log"
    with _process_group(cmd, peer_env(llm_url), REPO, log) as process:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        yield Server("bare-fastapi", url, (process.pid,), {"event_loop": event_loop()}, log=log)


def langgraph_cli(explicit: Path | None = None) -> Path | None:
    """The ``langgraph`` executable to use: the one given, else the harness's venv or PATH's."""
    found = shutil.which("langgraph")
    candidates = [explicit] if explicit else [LANGGRAPH_VENV / "bin" / "langgraph"]
    candidates += [Path(found)] if found and not explicit else []
    for path in candidates:
        if path is not None and path.is_file() and _has_inmem(path):
            return path
    return None


def _has_inmem(cli: Path) -> bool:
    return any(cli.parent.parent.glob("lib/python*/site-packages/langgraph_runtime_inmem"))


def _site_packages(cli: Path) -> Path | None:
    return next(iter(cli.parent.parent.glob("lib/python*/site-packages")), None)


def write_langgraph_config(root: Path) -> Path:
    """``langgraph.json`` with the graph's path made absolute (the CLI resolves it by cwd)."""
    config = json.loads((HERE / "langgraph.json").read_text())
    config["graphs"] = {
        name: str(HERE / spec.removeprefix("./")) for name, spec in config["graphs"].items()
    }
    path = root / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def langgraph_dev(llm_url: str, root: Path, cli: Path, jobs: int) -> Iterator[Server]:
    """``langgraph dev`` (in-memory langgraph-api) on loopback, no browser, reload or telemetry."""
    port = free_port()
    cmd = [str(cli), "dev", "--config", str(write_langgraph_config(root)), "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--no-browser", "--no-reload"]
    # Warnings only, like `supportflow serve` (which also drops the access log).
    cmd += ["--server-log-level", "WARNING", "--n-jobs-per-worker", str(jobs)]
    work = root / f"langgraph-dev-{jobs}"
    work.mkdir()  # it keeps its in-memory state's snapshots under the working directory
    log = root / f"langgraph-dev-{jobs}.log"
    with _process_group(cmd, peer_env(llm_url), work, log) as proc:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc)
        site = _site_packages(cli)
        settings = {
            "n_jobs_per_worker": jobs,
            "event_loop": event_loop(site) if site else "unknown",
            "langgraph_api": _peer_version(site, "langgraph_api"),
        }
        yield Server(f"langgraph-dev-{jobs}", url, (proc.pid,), settings, log=log)


def _peer_version(site: Path | None, package: str) -> str | None:
    if site is None:
        return None
    found = next(iter(site.glob(f"{package}-*.dist-info")), None)
    return found.name.removeprefix(f"{package}-").removesuffix(".dist-info") if found else None


SHARED_REDIS_DB = 14
"""A Redis logical database of the benchmark's own (the tests use 1 to 12)."""


def supportflow_env(llm_url: str, secret: str, clients: int, cache_ttl_s: int) -> dict[str, str]:
    """SupportFlow's settings for a throughput run: no limiter or admission cap below N."""
    room = str(max(clients, 1))
    return {
        "SUPPORTFLOW_LLM_BASE_URL": llm_url,
        "SUPPORTFLOW_TOKEN_SECRET": secret,
        # One key, one customer and one loopback address send every run.
        "SUPPORTFLOW_RATE_LIMIT_PER_IP": NO_LIMIT,
        "SUPPORTFLOW_RATE_LIMIT_PER_KEY": NO_LIMIT,
        "SUPPORTFLOW_RATE_LIMIT_PER_CUSTOMER": NO_LIMIT,
        # Admission control and the model-call cap at least N, so no run waits in a queue.
        "SUPPORTFLOW_MAX_CONCURRENT_RUNS": room,
        "SUPPORTFLOW_MAX_QUEUED_RUNS": room,
        "SUPPORTFLOW_MAX_CONCURRENT_LLM_CALLS": room,
        "SUPPORTFLOW_RESPONSE_CACHE_TTL_S": str(cache_ttl_s),
        "LANGSMITH_TRACING": "false",
    }


def seed_data_dir(source: Path, target: Path) -> None:
    """Copy a built knowledge base and store data, which saves the first start's ingest."""
    for name in ("kb.lance", "retail.sqlite"):
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        elif (source / name).is_file():
            shutil.copy2(source / name, target / name)


def shared_services_missing() -> str | None:
    """Why the shared profile (Postgres and Redis on loopback) cannot run here, if it cannot."""
    from tests.backends import PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT, port_open

    for name, host, port in (("Postgres", PG_HOST, PG_PORT), ("Redis", REDIS_HOST, REDIS_PORT)):
        if not port_open(host, port):
            return f"{name} is not reachable on {host}:{port}"
    return None


@contextmanager
def supportflow_shared(
    env: dict[str, str], data_dir: Path, workers: int, seed: Path | None = None
) -> Iterator[Server]:
    """``supportflow serve --workers N`` on a fresh Postgres database and an emptied Redis db."""
    from tests.backends import REDIS_HOST, REDIS_PORT, flush_redis, fresh_postgres_database

    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{SHARED_REDIS_DB}"
    flush_redis(redis_url)
    with fresh_postgres_database() as database_url:
        shared = env | {
            "SUPPORTFLOW_DATABASE_URL": database_url,
            "SUPPORTFLOW_REDIS_URL": redis_url,
        }
        with supportflow("", data_dir, shared, seed, ("--workers", str(workers))) as server:
            server.settings["workers"] = workers
            yield server
    flush_redis(redis_url)


@contextmanager
def supportflow(
    llm_url: str,
    data_dir: Path,
    env: dict[str, str],
    seed: Path | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """``supportflow serve`` on a fresh data dir, with an engineer and a customer key."""
    data_dir.mkdir(parents=True)
    if seed is not None:
        seed_data_dir(seed, data_dir)
    with live_server(data_dir, *args, **env) as live:
        credentials = {
            "engineer": live.create_key("engineer"),
            "customer": live.create_key("customer"),
            "token_secret": env["SUPPORTFLOW_TOKEN_SECRET"],
        }
        hidden = (
            "SUPPORTFLOW_TOKEN_SECRET",
            "SUPPORTFLOW_LLM_BASE_URL",
            "SUPPORTFLOW_DATABASE_URL",
        )
        settings = {k: v for k, v in env.items() if k not in hidden} | {"event_loop": event_loop()}
        log = data_dir / "server.log"
        yield Server("supportflow", live.url, (live.process.pid,), settings, credentials, log)


def setup_langgraph(venv: Path = LANGGRAPH_VENV) -> Path:
    """Create the peer's own virtual environment with ``langgraph-cli[inmem]``; its CLI path.

    langgraph-api needs grpcio >= 1.80 while weaviate-client (a dev dependency) needs < 1.80,
    so ``langgraph dev`` cannot share SupportFlow's environment. The graph libraries are pinned
    to this environment's versions, so both sides run the same LangGraph.
    """
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [f"{name}=={metadata.version(name)}" for name in SHARED_PINS]
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, LANGGRAPH_CLI_PIN, *pins], check=True, timeout=900)
    return venv / "bin" / "langgraph"
