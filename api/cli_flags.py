"""``supportflow flags`` and ``supportflow rollback``: rollout, kill switches, release pins.

They write the app database directly; every replica picks changes up within
``SUPPORTFLOW_FLAGS_REFRESH_S`` seconds, without a restart.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from agent.rollout import ALL_TENANTS, CAPABILITIES, FlagName
from agent.settings import Settings
from api.db import open_app_engine
from api.flags import FlagError, FlagStore

flags_app = typer.Typer(
    help="Feature flags: gradual rollout and kill switches.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)
TenantOpt = Annotated[
    str, typer.Option("--tenant", help="Apply to one tenant only (default: every tenant).")
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Recorded in the audit trail.")]
FlagArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(CAPABILITIES)}.")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def _with_store(action: Callable[[FlagStore], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        engine = await open_app_engine(Settings())
        try:
            return await action(FlagStore(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except FlagError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except (OSError, SQLAlchemyError) as exc:
        err.print(f"[red]error:[/red] app database unreachable ({type(exc).__name__})")
        raise typer.Exit(4) from None


def _flag(name: str) -> FlagName:
    if name not in CAPABILITIES:
        err.print(f"[red]error:[/red] unknown flag {name!r}; flags are {', '.join(CAPABILITIES)}")
        raise typer.Exit(2)
    return name


@flags_app.command("list")
def list_flags() -> None:
    """Each capability's setting (absent means on for everyone) and the pinned release."""
    rows, releases = _with_store(lambda s: asyncio.gather(s.rows(), s.releases(limit=1)))
    table = Table("flag", "tenant", "percent", "killed", "unit", "updated by")
    stored = {(r["name"], r["tenant"]) for r in rows}
    for name in CAPABILITIES:
        if (name, ALL_TENANTS) not in stored:
            table.add_row(name, ALL_TENANTS, "100", "no", "customer", "(default)")
    for r in rows:
        killed = "[red]KILLED[/red]" if r["killed"] else "no"
        table.add_row(r["name"], r["tenant"], str(r["percent"]), killed, r["unit"], r["updated_by"])
    out.print(table)
    if releases:
        pin = releases[0]
        out.print(f"release: prompt {pin['prompt_version']}, model {pin['model'] or '(default)'}")


@flags_app.command("rollout")
def rollout(
    name: FlagArg,
    percent: Annotated[int, typer.Argument(min=0, max=100, help="Share of ids in the cohort.")],
    tenant: TenantOpt = ALL_TENANTS,
) -> None:
    """Set the rollout percentage (cohorts are stable: 5% stays inside 25%)."""
    flag = _flag(name)
    row = _with_store(lambda s: s.change(flag, _actor(), tenant=tenant, percent=percent))
    out.print(f"{row['name']} ({row['tenant']}): {row['percent']}%")


@flags_app.command("kill")
def kill(name: FlagArg = "ai", tenant: TenantOpt = ALL_TENANTS) -> None:
    """Switch a capability off: with ``ai``, every conversation goes to a human."""
    flag = _flag(name)
    _with_store(lambda s: s.change(flag, _actor(), tenant=tenant, killed=True))
    out.print(f"[red]{flag} killed[/red] for {tenant}")


@flags_app.command("unkill")
def unkill(name: FlagArg = "ai", tenant: TenantOpt = ALL_TENANTS) -> None:
    """Switch a capability back on at its rollout percentage."""
    flag = _flag(name)
    _with_store(lambda s: s.change(flag, _actor(), tenant=tenant, killed=False))
    out.print(f"{flag} back on for {tenant}")


@flags_app.command("set")
def set_flag(
    name: FlagArg,
    percent: Annotated[int | None, typer.Option(min=0, max=100)] = None,
    unit: Annotated[str | None, typer.Option(help="customer, tenant or thread.")] = None,
    tenant: TenantOpt = ALL_TENANTS,
) -> None:
    """Change percentage and/or the id the cohort is hashed on."""
    flag = _flag(name)
    if unit is not None and unit not in ("customer", "tenant", "thread"):
        err.print("[red]error:[/red] --unit is customer, tenant or thread")
        raise typer.Exit(2)
    row = _with_store(
        lambda s: s.change(flag, _actor(), tenant=tenant, percent=percent, unit=unit)  # type: ignore[arg-type]
    )
    out.print(f"{row['name']} ({row['tenant']}): {row['percent']}% by {row['unit']}")


@flags_app.command("audit")
def audit(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """Recent changes: who, when, old → new."""
    rows = _with_store(lambda s: s.audit(limit))
    table = Table("when", "who", "flag", "tenant", "old", "new")
    for r in rows:
        table.add_row(
            str(r["at"])[:19],
            r["actor"],
            r["name"],
            r["tenant"],
            _brief(r["old"]),
            _brief(r["new"]),
        )
    out.print(table)


def _brief(values: dict[str, Any] | None) -> str:
    if not values:
        return "-"
    return " ".join(f"{k}={'(default)' if v is None else v}" for k, v in values.items())


def rollback_command(
    to: Annotated[str | None, typer.Option("--to", help="Prompt version to pin, e.g. v1.")] = None,
    model: Annotated[str | None, typer.Option(help="Model to pin with --to.")] = None,
) -> None:
    """Re-pin the last good prompt/model without a deploy (the previous release by default)."""
    pin = _with_store(lambda s: s.rollback(_actor(), to, model))
    out.print(f"pinned prompt {pin['prompt_version']}, model {pin['model'] or '(default)'}")


def release_command(
    prompt_version: Annotated[str, typer.Argument(help="Prompt version, e.g. v2.")],
    model: Annotated[str | None, typer.Option(help="Model name (default: configured).")] = None,
) -> None:
    """Pin a new prompt/model release for new runs (rollback returns to the one before)."""
    pin = _with_store(lambda s: s.pin(prompt_version, model, _actor()))
    out.print(f"pinned prompt {pin['prompt_version']}, model {pin['model'] or '(default)'}")
