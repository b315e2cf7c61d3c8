"""``supportflow trace`` and ``supportflow replay``: traces and forks from the command line."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.errors import SupportFlowError
from agent.settings import Settings
from agent.traces import TraceNotFoundError

trace_app = typer.Typer(help="Conversation traces.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _go(job: Any) -> Any:
    try:
        return asyncio.run(job)
    except TraceNotFoundError:
        err.print("[red]error:[/red] no trace for that thread (or checkpoint)")
        raise typer.Exit(2) from None
    except SupportFlowError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exc.exit_code) from None


async def _with_graph(action: Any) -> Any:
    from agent.assistant import open_assistant
    from agent.bootstrap import build_services

    async with open_assistant(build_services(Settings())) as assistant:
        return await action(assistant)


@trace_app.command("list")
def list_traces(limit: Annotated[int, typer.Option(help="How many threads.")] = 20) -> None:
    """Recent threads with their outcome."""

    async def action(assistant: Any) -> list[dict[str, Any]]:
        # Checkpoint ids are time-ordered (uuid6), so the newest thread has the largest one.
        query = (
            "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints "
            "WHERE checkpoint_ns = '' GROUP BY thread_id ORDER BY last DESC LIMIT ?"
        )
        async with assistant.graph.checkpointer.conn.execute(query, (limit,)) as cursor:
            threads = [row[0] for row in await cursor.fetchall()]
        rows = []
        for tid in threads:
            snapshot = await assistant.graph.aget_state({"configurable": {"thread_id": tid}})
            state = {
                **snapshot.values,
                "escalated": snapshot.values.get("escalated") or bool(snapshot.interrupts),
            }
            rows.append(
                {
                    "thread_id": tid,
                    "route": state.get("route"),
                    "escalated": bool(state.get("escalated")),
                    "blocked": bool(state.get("blocked")),
                }
            )
        return rows

    table = Table("thread", "route", "escalated", "blocked")
    for row in _go(_with_graph(action)):
        table.add_row(
            row["thread_id"], str(row["route"]), str(row["escalated"]), str(row["blocked"])
        )
    out.print(table)


@trace_app.command("show")
def show(
    thread: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the trace as JSON.")] = False,
    unmasked: Annotated[bool, typer.Option(help="Show personal data (local operator).")] = False,
) -> None:
    """The thread's steps, path and outcome."""
    from agent.traces import build_trace

    trace = _go(_with_graph(lambda a: build_trace(a.graph, thread, masked=not unmasked)))
    if as_json:
        typer.echo(json.dumps(trace, default=str))
        return
    table = Table("node", "ms", "changed")
    for step in trace["steps"]:
        table.add_row(
            ",".join(step["nodes"]),
            f"{step['duration_ms']:.1f}",
            "; ".join(f"{k}={v}" for k, v in step["changed"].items())[:120],
        )
    out.print(table)
    out.print(f"path: {' → '.join(trace['path'])}")


def replay_command(
    thread: str,
    from_checkpoint: Annotated[str | None, typer.Option("--from", help="Checkpoint id.")] = None,
    prompt_version: Annotated[
        str | None, typer.Option(help="Fork onto this prompt version.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Fork onto this model.")] = None,
    retrieval_k: Annotated[int | None, typer.Option(help="Passages to retrieve.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Re-run the thread's last customer turn in a new thread (a fork with overrides)."""
    from agent.replay import Overrides, replay

    overrides = Overrides(prompt_version, model, retrieval_k)
    result = _go(
        _with_graph(
            lambda a: replay(
                a.graph, a.services, thread, checkpoint_id=from_checkpoint, overrides=overrides
            )
        )
    )
    if as_json:
        typer.echo(json.dumps(result, default=str))
        return
    out.print(f"new thread {result['thread_id']}  route={result['route']}")
    out.print(result["answer"])
    changed = result["diff"]["changed"]
    out.print(f"changed: {', '.join(changed) or 'nothing'}")


def replay_batch_command(
    threads_file: Annotated[typer.FileText, typer.Argument(help="Thread ids, one per line.")],
    prompt_version: Annotated[str | None, typer.Option(help="Candidate prompt version.")] = None,
    model: Annotated[str | None, typer.Option(help="Candidate model.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Fork a saved set of threads onto a candidate and summarise what changed."""
    from agent.replay import Overrides, replay

    ids = [line.strip() for line in threads_file if line.strip() and not line.startswith("#")]
    overrides = Overrides(prompt_version, model)

    async def action(assistant: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for tid in ids:
            try:
                result = await replay(assistant.graph, assistant.services, tid, overrides=overrides)
            except TraceNotFoundError:
                rows.append({"thread_id": tid, "error": "not found"})
                continue
            rows.append(
                {
                    "thread_id": tid,
                    "fork": result["thread_id"],
                    "changed": sorted(result["diff"]["changed"]),
                }
            )
        return rows

    rows = _go(_with_graph(action))
    summary = {
        "threads": len(rows),
        "unchanged": sum(1 for r in rows if r.get("changed") == []),
        "answer_changed": sum(1 for r in rows if "answer" in r.get("changed", [])),
        "route_changed": sum(1 for r in rows if "route" in r.get("changed", [])),
        "errors": sum(1 for r in rows if "error" in r),
    }
    if as_json:
        typer.echo(json.dumps({"summary": summary, "threads": rows}))
        return
    table = Table("thread", "changed")
    for row in rows:
        table.add_row(row["thread_id"], row.get("error") or ", ".join(row["changed"]) or "-")
    out.print(table)
    out.print(" · ".join(f"{k}: {v}" for k, v in summary.items()))
