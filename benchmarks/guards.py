"""Guard quality and speed: TPR per attack family, FPR on benign sets, latency percentiles.

    python -m benchmarks.guards [--split test|train|all]

Thresholds are tuned on ``train`` only; ``test`` is the held-out split reported as the result.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from agent.guards.detector import InjectionDetector
from agent.guards.output import check_chunk
from agent.retrieval.embedder import CachedEmbedder, MiniLMEmbedder
from benchmarks.guard_data import Sample, all_samples

RESULTS = Path(__file__).parent / "results" / "guards.json"


def evaluate(detector: InjectionDetector, samples: list[Sample]) -> dict[str, Any]:
    """Verdicts, per-family rates and latencies; 'flag' counts as detected for attacks."""
    by_family: dict[str, list[bool]] = defaultdict(list)
    latencies: dict[str, list[float]] = defaultdict(list)
    confusion = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    for sample in samples:
        started = time.perf_counter()
        if sample.mode == "document":
            verdict = detector.assess_document(sample.text)
        else:
            verdict = detector.assess(sample.text)
        kind = f"{sample.mode} / {sample.family}"
        latencies[kind].append((time.perf_counter() - started) * 1000)
        hit = verdict["verdict"] == "block" if not sample.attack else verdict["verdict"] != "allow"
        by_family[sample.family].append(hit)
        key = ("tp" if hit else "fn") if sample.attack else ("fp" if hit else "tn")
        confusion[key] += 1
    rates = {f: {"n": len(v), "rate": sum(v) / len(v)} for f, v in sorted(by_family.items())}
    timing = {
        k: {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95))}
        for k, v in latencies.items()
    }
    return {"families": rates, "confusion": confusion, "latency": timing}


def output_guard_latency(n: int = 2000) -> dict[str, float]:
    """Per-chunk cost of the output guard on answer-sized sentences."""
    chunk = (
        "Order #W2611340 is processed and ships to james.li4495@example.com within 5 to 7 days. "
    )
    times = []
    for i in range(n):
        started = time.perf_counter()
        check_chunk(
            chunk + str(i),
            allowed_values=["#W2611340", "james.li4495@example.com"],
            canary="sf-canary-0123456789abcdef",
        )
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Guard results ({report['split']} split)")
    for column in ("family", "kind", "n", "rate"):
        table.add_column(column, justify="left" if column in ("family", "kind") else "right")
    for family, row in report["families"].items():
        kind = "attack TPR" if report["attack"][family] else "benign FPR"
        table.add_row(family, kind, str(row["n"]), f"{row['rate']:.1%}")
    return table


def main() -> None:
    """Run, print, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("test", "train", "all"), default="test")
    args = parser.parse_args()
    samples = [s for s in all_samples() if args.split == "all" or s.split == args.split]
    detector = InjectionDetector(CachedEmbedder(MiniLMEmbedder()))
    detector.assess("warm up the embedder and the attack bank")
    report = evaluate(detector, samples)
    report["split"] = args.split
    report["attack"] = {s.family: s.attack for s in samples}
    report["output_guard_latency"] = output_guard_latency()
    console = Console()
    console.print(_table(report))
    c = report["confusion"]
    console.print(f"confusion: TP {c['tp']} FN {c['fn']} FP {c['fp']} TN {c['tn']}")
    for kind, row in report["latency"].items():
        console.print(
            f"guard latency, {kind}: p50 {row['p50_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms",
            markup=False,
        )
    og = report["output_guard_latency"]
    console.print(f"output guard per chunk: p50 {og['p50_ms']:.3f} ms, p95 {og['p95_ms']:.3f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
