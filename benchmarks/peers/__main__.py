"""``python -m benchmarks.peers``: SupportFlow vs ``langgraph dev`` vs a bare FastAPI endpoint.

The same fake OpenAI-compatible model (``--ttft``, ``--tps``, ``--tokens``) behind every
server; closed-loop clients at each ``--levels`` N, each level bounded by ``--duration``
seconds and ``--max-runs`` runs. Prints a table and the issue's target ratios, writes the
report as JSON and a PNG plot. ``--setup-langgraph`` first installs ``langgraph dev`` into
its own environment under ``benchmarks/.cache``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from benchmarks.peers import report as output
from benchmarks.peers import servers
from benchmarks.peers.run import TARGETS, PeersConfig, run

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _targets(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = set(chosen) - set(TARGETS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown targets {sorted(unknown)}; known: {TARGETS}")
    return chosen


def parse_args(argv: Sequence[str] | None = None) -> tuple[PeersConfig, argparse.Namespace]:
    """The comparison's config and the output options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add, d = parser.add_argument, PeersConfig()
    add("--levels", type=_ints, default=d.levels, help="closed-loop clients, e.g. 1,10,50,100")
    add("--duration", type=float, default=d.duration_s, help="seconds per level at most")
    add("--max-runs", type=int, default=d.max_runs, help="runs per level at most")
    add("--ttft", type=float, default=d.ttft, help="fake model: seconds to first token")
    add("--tps", type=float, default=d.tps, help="fake model: tokens per second")
    add("--tokens", type=int, default=d.tokens, help="fake model: tokens per answer")
    add("--request-timeout", type=float, default=d.request_timeout_s)
    add("--warm-up", type=int, default=d.warm_up_runs, help="unmeasured runs per target")
    add("--targets", type=_targets, default=d.targets, help=f"subset of {','.join(TARGETS)}")
    add("--langgraph", type=Path, help="the `langgraph` CLI (default: --setup-langgraph's)")
    add("--langgraph-jobs", type=int, default=d.langgraph_jobs, help="its --n-jobs-per-worker")
    add("--no-langgraph-unbounded", action="store_true", help="skip jobs = max N variant")
    add("--no-cache-row", action="store_true", help="skip the widget row with the cache on")
    add("--seed-data-dir", type=Path, help="copy this data dir's knowledge base (no ingest)")
    add("--setup-langgraph", action="store_true", help="install langgraph dev, then run")
    add("--workers", type=int, default=d.workers, help="SupportFlow on Postgres+Redis (1: skip)")
    add("--json", type=Path, default=RESULTS / "peers.json")
    add("--plot", type=Path, default=RESULTS / "peers.png")
    args = parser.parse_args(argv)
    cfg = PeersConfig(
        levels=args.levels,
        duration_s=args.duration,
        max_runs=args.max_runs,
        ttft=args.ttft,
        tps=args.tps,
        tokens=args.tokens,
        request_timeout_s=args.request_timeout,
        warm_up_runs=args.warm_up,
        targets=args.targets,
        langgraph_cli=args.langgraph,
        langgraph_jobs=args.langgraph_jobs,
        langgraph_unbounded=not args.no_langgraph_unbounded,
        cache_row=not args.no_cache_row,
        seed_data_dir=args.seed_data_dir,
        workers=args.workers,
    )
    return cfg, args


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a piped table keeps its columns
    if args.setup_langgraph and servers.langgraph_cli(cfg.langgraph_cli) is None:
        console.print(f"installing langgraph dev into {servers.LANGGRAPH_VENV}")
        servers.setup_langgraph()
    report = run(cfg)
    given = sys.argv[1:] if argv is None else list(argv)
    report["command"] = shlex.join(["python", "-m", "benchmarks.peers", *given])
    report["goals"] = output.goals_json(report)
    report["closed_loop_ceiling"] = output.closed_loop_ceiling(report)
    output.print_table(report, console)
    output.print_goals(report, console)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    plotted = output.plot(report, args.plot)
    written = f"{args.json} and {args.plot}" if plotted else f"{args.json} (no matplotlib: no plot)"
    console.print(f"wrote {written}; {report['wall_s']:.0f} s in all")


if __name__ == "__main__":
    main()
