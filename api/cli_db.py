"""``supportflow db``: migrate the app database (a one-shot step before replicas start)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from agent.settings import Settings
from api.db import create_engine_for
from api.migrate import head_revision, revision, upgrade

db_app = typer.Typer(help="The app database (threads, runs, keys, handoffs).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _where(settings: Settings) -> str:
    """Where the database is, without credentials."""
    if settings.database_url:
        return "postgres " + settings.database_url.rsplit("@", 1)[-1]
    return f"sqlite {settings.data_dir / 'app.sqlite'}"


async def _upgrade(settings: Settings) -> str | None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.app_db_url, 1, settings.db_pool_timeout_s)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()


async def _current(settings: Settings) -> str | None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.app_db_url, 1, settings.db_pool_timeout_s)
    try:
        return await revision(engine)
    finally:
        await engine.dispose()


def _run(
    settings: Settings, action: Callable[[Settings], Coroutine[Any, Any, str | None]]
) -> str | None:
    """Run against the database; an unreachable one is one line and exit code 4."""
    try:
        return asyncio.run(action(settings))
    except (OSError, SQLAlchemyError) as exc:
        err.print(
            f"[red]error:[/red] database unreachable at {_where(settings)} ({type(exc).__name__})"
        )
        raise typer.Exit(4) from None


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration (safe to run from several replicas at once)."""
    settings = Settings()
    reached = _run(settings, _upgrade)
    out.print(f"{_where(settings)}: at revision {reached} (head {head_revision()})")


@db_app.command("current")
def current_command() -> None:
    """Show the database's revision and whether migrations are pending."""
    settings = Settings()
    current = _run(settings, _current)
    head = head_revision()
    state = "up to date" if current == head else "migrations pending"
    out.print(f"{_where(settings)}: revision {current or 'none'}, head {head} ({state})")
