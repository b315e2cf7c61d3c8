"""In-process cost of the graph machinery: a plain 3-node graph vs SupportFlow's guarded graph.

    python -m benchmarks.inprocess [--runs 200] [--postgres-url postgresql://...]

Plain graph: guard → model → respond, the model a zero-latency fake streaming 100 tokens, so
its whole run time is framework overhead (steps, streaming, checkpoints). Guarded graph: the
real support graph on the embedded profile (no LLM) answering a help-centre question; node
bodies are timed with a callback, and overhead = run time − time inside nodes. Each runs with
no checkpointer, in-memory, SQLite and (when given) Postgres checkpoints, in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypedDict
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from rich.console import Console
from rich.table import Table

from agent.bootstrap import build_services
from agent.context import RunContext
from agent.services import Services
from agent.settings import Settings
from graphs.support import build_graph

RESULTS = Path(__file__).parent / "results" / "inprocess.json"
TOKENS = 100
QUESTION = "How do I return an item?"


class PlainState(TypedDict, total=False):
    """The plain graph's state."""

    question: str
    answer: str


def plain_graph() -> StateGraph[PlainState, None, PlainState, PlainState]:
    """Guard → model (streams ``TOKENS`` tokens) → respond."""
    text = " ".join(f"w{i}" for i in range(TOKENS))

    async def guard(state: PlainState) -> PlainState:
        return {"question": state["question"].strip()}

    async def model(state: PlainState) -> PlainState:
        fake = GenericFakeChatModel(messages=iter([AIMessage(content=text)]))
        parts = [str(chunk.content) async for chunk in fake.astream(state["question"])]
        return {"answer": "".join(parts)}

    async def respond(state: PlainState) -> PlainState:
        return {"answer": state["answer"]}

    builder: StateGraph[PlainState, None, PlainState, PlainState] = StateGraph(PlainState)
    for node in (guard, model, respond):
        builder.add_node(node)
    builder.add_edge(START, "guard")
    builder.add_edge("guard", "model")
    builder.add_edge("model", "respond")
    builder.add_edge("respond", END)
    return builder


class NodeClock(BaseCallbackHandler):
    """Sums the time spent inside graph nodes (not in the machinery between them)."""

    run_inline = True

    def __init__(self) -> None:
        self.inside = 0.0
        self.steps = 0
        self._open: dict[UUID, float] = {}

    def on_chain_start(
        self, serialized: Any, inputs: Any, *, run_id: UUID, metadata: Any = None, **kw: Any
    ) -> None:
        """A node (not a chain inside one) starts."""
        node = (metadata or {}).get("langgraph_node")
        if node and kw.get("name") == node:
            self._open[run_id] = time.perf_counter()

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kw: Any) -> None:
        """A node ends."""
        self._close(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        """A node raises (``interrupt()`` does too)."""
        self._close(run_id)

    def _close(self, run_id: UUID) -> None:
        started = self._open.pop(run_id, None)
        if started is not None:
            self.inside += time.perf_counter() - started
            self.steps += 1


@asynccontextmanager
async def checkpointer(
    kind: str, pg_url: str | None
) -> AsyncIterator[BaseCheckpointSaver[Any] | None]:
    """None, memory, SQLite in a temp dir, or Postgres."""
    if kind == "none":
        yield None
    elif kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        with tempfile.TemporaryDirectory() as tmp:
            async with AsyncSqliteSaver.from_conn_string(f"{tmp}/cp.sqlite") as saver:
                yield saver
    else:
        from agent.checkpoints import open_checkpointer

        settings = Settings(database_url=pg_url, data_dir=Path(tempfile.mkdtemp()))
        async with open_checkpointer(settings) as saver:
            yield saver


async def _timed(runs: int, once: Callable[[str, NodeClock], Any]) -> dict[str, float]:
    totals: list[float] = []
    inside: list[float] = []
    steps: list[int] = []
    for i in range(runs + 5):
        clock = NodeClock()
        started = time.perf_counter()
        await once(str(uuid.uuid4()), clock)
        elapsed = time.perf_counter() - started
        if i >= 5:  # warm-up runs are not counted
            totals.append(elapsed)
            inside.append(clock.inside)
            steps.append(clock.steps)
    overhead = [t - n for t, n in zip(totals, inside, strict=True)]
    return {
        "run_p50_ms": statistics.median(totals) * 1000,
        "run_p95_ms": statistics.quantiles(totals, n=20)[18] * 1000,
        "inside_nodes_p50_ms": statistics.median(inside) * 1000,
        "overhead_p50_ms": statistics.median(overhead) * 1000,
        "steps": statistics.median(steps),
        "overhead_per_step_ms": statistics.median(overhead)
        * 1000
        / max(1, statistics.median(steps)),
    }


async def measure_plain(kind: str, runs: int, pg_url: str | None) -> dict[str, float]:
    """The plain graph, streamed in ``messages`` + ``updates`` modes as a server would."""
    async with checkpointer(kind, pg_url) as saver:
        graph = plain_graph().compile(checkpointer=saver)

        async def once(thread: str, clock: NodeClock) -> None:
            config: Any = {"configurable": {"thread_id": thread}, "callbacks": [clock]}
            async for _ in graph.astream(
                {"question": QUESTION}, config, stream_mode=["messages", "updates"]
            ):
                pass

        return await _timed(runs, once)


async def measure_guarded(
    kind: str, runs: int, pg_url: str | None, services: Services
) -> dict[str, float]:
    """The support graph on the embedded profile, streamed as the widget route streams it."""
    async with checkpointer(kind, pg_url) as saver:
        graph = build_graph().compile(checkpointer=saver)
        context = RunContext(services=services, customer_id="james_li_5688")

        async def once(thread: str, clock: NodeClock) -> None:
            config: Any = {"configurable": {"thread_id": thread}, "callbacks": [clock]}
            async for _ in graph.astream(
                {"messages": [HumanMessage(QUESTION)]},
                config,
                context=context,
                stream_mode=["updates", "custom"],
            ):
                pass

        return await _timed(runs, once)


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="In-process graph cost (ms; overhead = run − time inside nodes)")
    for column in (
        "graph",
        "checkpoints",
        "run p50",
        "run p95",
        "in nodes",
        "overhead",
        "steps",
        "per step",
    ):
        table.add_column(
            column, justify="right" if column not in ("graph", "checkpoints") else "left"
        )
    for r in rows:
        table.add_row(
            r["graph"],
            r["checkpoints"],
            f"{r['run_p50_ms']:.2f}",
            f"{r['run_p95_ms']:.2f}",
            f"{r['inside_nodes_p50_ms']:.2f}",
            f"{r['overhead_p50_ms']:.2f}",
            f"{r['steps']:.0f}",
            f"{r['overhead_per_step_ms']:.3f}",
        )
    return table


async def run(runs: int, pg_url: str | None, data_dir: Path) -> list[dict[str, Any]]:
    """Every graph × checkpointer combination."""
    services = build_services(Settings(data_dir=data_dir, llm_base_url=None))
    kinds = ["none", "memory", "sqlite", *(["postgres"] if pg_url else [])]
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        rows.append(
            {
                "graph": "plain 3-node",
                "checkpoints": kind,
                **await measure_plain(kind, runs, pg_url),
            }
        )
        rows.append(
            {
                "graph": "guarded",
                "checkpoints": kind,
                **await measure_guarded(kind, runs, pg_url, services),
            }
        )
    return rows


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.mkdtemp()))
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = asyncio.run(run(args.runs, args.postgres_url, args.data_dir))
    Console().print(_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": args.runs, "rows": rows}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
