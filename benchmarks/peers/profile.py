"""``python -m benchmarks.peers.profile``: where a server spends its CPU under closed-loop load.

Starts the fake model and one server (SupportFlow's LangGraph route or widget stream, or the
bare FastAPI endpoint), warms it up, then records it with py-spy (100 samples/s) while N
clients run for a fixed time. Prints the hottest functions by own time and by inclusive time
and writes the raw collapsed stacks next to the summary (JSON) for flame-graph tools.

py-spy counts a thread as busy when it wakes from a blocking wait (an aiosqlite worker in
``SimpleQueue.get``, a thread pool worker, the event loop's ``select``), so samples whose
innermost frame is one of those waits are reported apart as "waiting" rather than as work.

    python -m benchmarks.peers.profile --target widget --clients 10 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.peers import servers
from benchmarks.peers.client import RunSpec, one_run
from benchmarks.peers.run import PeersConfig, bare_spec, measure_target, thread_spec, widget_spec
from benchmarks.peers.servers import Server

RESULTS = Path(__file__).resolve().parents[1] / "results"
WAITS = (
    "_connection_worker_thread (aiosqlite/core.py:59)",
    "Condition.wait (threading.py",
    "_worker (concurrent/futures/thread.py",
    "EpollSelector.select (selectors.py",
    "BackgroundEventLoop.run (lancedb/background_loop.py",
)
"""Innermost frames that are a thread waiting for work, not doing it."""
_LINE = re.compile(r":\d+\)")


@dataclass(frozen=True)
class Profile:
    """Per-function shares of the busy samples."""

    samples: int
    waiting: int
    own: list[tuple[str, float]]
    inclusive: list[tuple[str, float]]


def summarise(collapsed: str, top: int = 30) -> Profile:
    """Own and inclusive shares (of busy samples) from py-spy's raw collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = waiting = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        if frames[-1].startswith(WAITS):
            waiting += count
            continue
        busy += count
        own[_LINE.sub(")", frames[-1])] += count
        for frame in {_LINE.sub(")", f) for f in frames if not f.startswith("thread (")}:
            inclusive[frame] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, n / max(busy, 1)) for name, n in counter.most_common(top)]

    return Profile(busy, waiting, shares(own), shares(inclusive))


def _server(target: str, llm_url: str, root: Path, clients: int) -> AbstractContextManager[Server]:
    if target == "bare":
        return servers.bare_fastapi(llm_url, root)
    env = servers.supportflow_env(llm_url, secrets.token_urlsafe(32), clients, cache_ttl_s=0)
    return servers.supportflow(llm_url, root / "supportflow", env)


def _spec(target: str, server: Server, question: str) -> RunSpec:
    if target == "bare":
        return bare_spec(question)
    if target == "widget":
        return widget_spec(server, question)
    return thread_spec("support", "generate", question, server.credentials["engineer"])


@dataclass(frozen=True)
class Recording:
    """The py-spy process recording one server, and where its stacks go."""

    process: subprocess.Popen[bytes]
    output: Path


def _record(py_spy: str, server: Server, seconds: float, output: Path) -> Recording:
    cmd = [py_spy, "record", "--pid", str(server.pids[0]), "--rate", "100", "--format", "raw"]
    cmd += ["--output", str(output), "--duration", str(round(seconds)), "--nonblocking"]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(process, output)


async def _profile(server: Server, spec: RunSpec, args: argparse.Namespace, py_spy: str) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for _ in range(3):
            await one_run(client, spec, 60)
    raw = args.out.with_suffix(".collapsed.txt")
    recording = _record(py_spy, server, args.seconds, raw)
    cfg = PeersConfig(levels=(args.clients,), duration_s=args.seconds, warm_up_runs=0)
    measured = await measure_target(server, spec, (args.clients,), cfg)
    recording.process.wait(timeout=args.seconds + 60)
    return measured["levels"][0], raw


@contextmanager
def _started(args: argparse.Namespace) -> Iterator[Server]:
    with (
        tempfile.TemporaryDirectory(prefix="sf-profile-") as tmp,
        servers.fake_model(Path(tmp), 0.2, 100.0, 100) as model,
        _server(args.target, model.url, Path(tmp), args.clients) as server,
    ):
        yield server


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=("langgraph", "widget", "bare"), default="widget")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.out = args.out or RESULTS / f"profile-{args.target}.json"
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: pip install -e '.[bench]'")
    with _started(args) as server:
        row, raw = asyncio.run(_profile(server, _spec(args.target, server, QUESTION), args, py_spy))
    profile = summarise(raw.read_text(), args.top)
    report = {
        "target": args.target,
        "clients": args.clients,
        "seconds": args.seconds,
        "runs": row["ok"],
        "server_cpu_ms_per_run": row["server_cpu_ms_per_run"],
        "busy_samples": profile.samples,
        "waiting_samples": profile.waiting,
        "own": profile.own,
        "inclusive": profile.inclusive,
        "collapsed_stacks": raw.name,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.target}: {row['ok']} runs, {row['server_cpu_ms_per_run']:.0f} ms CPU per run")
    for title, rows in (("own time", profile.own), ("inclusive", profile.inclusive)):
        print(f"\n{title} (share of {profile.samples} busy samples):")
        for name, share in rows:
            print(f"  {100 * share:5.1f} %  {name}")
    print(f"\nwrote {args.out} and {raw}")


QUESTION = PeersConfig().question

if __name__ == "__main__":
    main()
