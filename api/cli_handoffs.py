"""``supportflow handoffs``: the agent queue from the command line (same store as the API)."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command
from rich.console import Console
from rich.table import Table

from agent.settings import Settings
from api.db import open_app_engine
from api.handoffs import (
    HandoffConflictError,
    HandoffNotFoundError,
    HandoffStore,
    handoff_json,
)

handoffs_app = typer.Typer(help="The human handoff queue.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
AgentOpt = Annotated[str, typer.Option("--agent", help="Who is acting (recorded on the claim).")]
DEFAULT_AGENT = os.environ.get("USER", "agent")


async def _with_store(action: Callable[[HandoffStore, Settings], Awaitable[Any]]) -> Any:
    settings = Settings()
    engine = await open_app_engine(settings)
    try:
        return await action(HandoffStore(engine), settings)
    finally:
        await engine.dispose()


def _run(action: Callable[[HandoffStore, Settings], Awaitable[Any]]) -> Any:
    import asyncio

    try:
        return asyncio.run(_with_store(action))
    except HandoffNotFoundError:
        err.print("[red]error:[/red] no such handoff")
        raise typer.Exit(2) from None
    except HandoffConflictError:
        err.print(
            "[red]error:[/red] the handoff is claimed by someone else, closed, or no longer waiting"
        )
        raise typer.Exit(2) from None


@handoffs_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="open, claimed, resolved or returned.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Show the queue, newest first."""
    rows = _run(lambda store, s: store.list(s.tenant, status))
    if as_json:
        typer.echo(json.dumps([handoff_json(r) for r in rows]))
        return
    table = Table("handoff", "status", "reason", "priority", "customer", "created")
    for r in rows:
        table.add_row(
            r["handoff_id"],
            r["status"],
            r["reason"],
            r["priority"],
            r["customer_id"] or "-",
            r["created_at"].isoformat(timespec="seconds"),
        )
    out.print(table)


@handoffs_app.command()
def claim(handoff_id: str, agent: AgentOpt = DEFAULT_AGENT) -> None:
    """Take a handoff (exclusive)."""
    row = _run(lambda store, s: store.claim(s.tenant, handoff_id, agent))
    typer.echo(json.dumps(handoff_json(row)))


async def _answer(
    store: HandoffStore,
    settings: Settings,
    handoff_id: str,
    agent: str,
    resume: dict[str, Any],
    close_as: str | None,
) -> dict[str, Any]:
    from agent.assistant import open_assistant
    from agent.bootstrap import build_services

    row = await store.get(settings.tenant, handoff_id)
    if row["status"] != "claimed" or row["claimed_by"] != agent:
        raise HandoffConflictError(handoff_id)
    async with open_assistant(build_services(settings)) as assistant:
        config: RunnableConfig = {"configurable": {"thread_id": row["thread_id"]}}
        snapshot = await assistant.graph.aget_state(config)
        if not any(i.id == row["interrupt_id"] for i in snapshot.interrupts):
            raise HandoffConflictError(handoff_id)
        context = assistant.run_context(row["customer_id"])
        command: Command[Any] = Command(resume=resume)
        await assistant.graph.ainvoke(command, config, context=context)
    if close_as:
        row = await store.close(settings.tenant, handoff_id, agent, close_as)  # type: ignore[arg-type]
    return row


@handoffs_app.command()
def reply(handoff_id: str, text: str, agent: AgentOpt = DEFAULT_AGENT) -> None:
    """Answer the customer as a human; the handoff stays claimed."""
    row = _run(lambda store, s: _answer(store, s, handoff_id, agent, {"answer": text}, None))
    typer.echo(json.dumps(handoff_json(row)))


@handoffs_app.command()
def resume(handoff_id: str, text: str, agent: AgentOpt = DEFAULT_AGENT) -> None:
    """Give the AI the human's answer and return the conversation to it."""
    row = _run(lambda store, s: _answer(store, s, handoff_id, agent, {"answer": text}, "returned"))
    typer.echo(json.dumps(handoff_json(row)))


@handoffs_app.command()
def resolve(handoff_id: str, agent: AgentOpt = DEFAULT_AGENT) -> None:
    """Close a handoff you hold."""
    row = _run(lambda store, s: store.close(s.tenant, handoff_id, agent, "resolved"))
    typer.echo(json.dumps(handoff_json(row)))
