"""Wire cost of one answer: events and bytes per run, LangGraph stream modes vs the widget.

Starts a live ``supportflow serve`` against a fake OpenAI-compatible model that streams a
100-token answer, runs the same question through each stream, and reports per-run counts.

    python -m benchmarks.stream_bytes [--runs 5] [--tokens 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from api.auth import mint_end_user_token
from tests.integration.live_server import live_server_with_model

QUESTION = "How do I return an item?"
RESULTS = Path(__file__).parent / "results" / "stream_bytes.json"


def _measure(
    client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, float]:
    raw = b""
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            raw += chunk
    blocks = [
        b
        for b in raw.replace(b"\r\n", b"\n").split(b"\n\n")
        if b.strip() and not b.startswith(b":")
    ]
    events = [
        next((ln[7:] for ln in b.split(b"\n") if ln.startswith(b"event: ")), b"") for b in blocks
    ]
    token_events = [b for b, e in zip(blocks, events, strict=True) if e in (b"token", b"messages")]
    return {
        "events": len(blocks),
        "bytes": len(raw),
        "token_events": len(token_events),
        "seconds": time.perf_counter() - started,
    }


def run(runs: int, tokens: int) -> dict[str, Any]:
    """Measure every stream ``runs`` times; returns the means."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server_with_model(Path(tmp), ttft=0.0, tps=10_000, tokens=tokens) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        staff = {"x-api-key": server.create_key("engineer")}
        customer_key = server.create_key("customer")
        secret = (Path(tmp) / "token-secret").read_text().strip()
        widget = {
            "x-api-key": customer_key,
            "authorization": f"Bearer {mint_end_user_token(secret, 'demo', 'james_li_5688')}",
        }
        cases: dict[str, list[dict[str, float]]] = {}
        for mode in ("messages-tuple", "values", "updates"):
            for _ in range(runs):
                body = {
                    "assistant_id": "support",
                    "stream_mode": mode,
                    "input": {"messages": [{"role": "user", "content": QUESTION}]},
                }
                cases.setdefault(f"langgraph:{mode}", []).append(
                    _measure(client, "/runs/stream", body, staff)
                )
        for _ in range(runs):
            cases.setdefault("widget", []).append(
                _measure(client, "/v1/chat/stream", {"message": QUESTION}, widget)
            )
    summary = {
        name: {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
        for name, rows in cases.items()
    }
    return {"tokens": tokens, "runs": runs, "question": QUESTION, "results": summary}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args()
    report = run(args.runs, args.tokens)
    table = Table(title=f"One {args.tokens}-token answer per run (mean of {args.runs})")
    for column in ("stream", "events/run", "token events", "bytes/run", "bytes vs widget"):
        table.add_column(column, justify="right" if column != "stream" else "left")
    widget_bytes = report["results"]["widget"]["bytes"]
    for name, row in report["results"].items():
        table.add_row(
            name,
            f"{row['events']:.0f}",
            f"{row['token_events']:.0f}",
            f"{row['bytes']:,.0f}",
            f"{row['bytes'] / widget_bytes:.1f}x",
        )
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
