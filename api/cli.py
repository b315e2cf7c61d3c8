"""The ``supportflow`` command line: ask, chat and ingest on the configured profile."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from agent.assistant import AskResult, open_assistant
from agent.errors import LLMUnavailableError, SupportFlowError
from agent.settings import Settings
from api.cli_db import db_app
from api.cli_eval import eval_command
from api.cli_flags import flags_app, release_command, rollback_command
from api.cli_handoffs import handoffs_app
from api.cli_traces import replay_batch_command, replay_command, trace_app
from api.handoffs import record_pending

app = typer.Typer(help="SupportFlow: an agentic customer-support assistant.", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")

CustomerOpt = Annotated[
    str | None, typer.Option("--customer", help="Authenticated customer id (e.g. noah_brown_6181).")
]


OWN_LOGGERS = ("agent", "tools", "graphs", "api")


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]).upper()
        raise SupportFlowError(f"invalid setting SUPPORTFLOW_{field}: {first['msg']}") from exc
    configure_logging(settings.log_level)
    return settings


def configure_logging(level: str) -> None:
    """Our loggers carry ids, codes and timings only; others stay quiet (they may log text)."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; typed errors become one line on stderr and their exit code."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    try:
        return asyncio.run(factory())
    except SupportFlowError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _check_llm(settings: Settings) -> None:
    """Fail fast on an unreachable endpoint rather than silently answering without it."""
    if not settings.llm_base_url:
        return
    try:
        httpx.get(f"{settings.llm_base_url.rstrip('/')}/models", timeout=3.0)
    except httpx.HTTPError as exc:
        raise LLMUnavailableError(
            f"the LLM endpoint {settings.llm_base_url} is unreachable ({type(exc).__name__}); "
            "start it or unset SUPPORTFLOW_LLM_BASE_URL to answer without a model"
        ) from exc


def _services(settings: Settings) -> Any:
    from agent.bootstrap import build_services

    with Progress(
        TextColumn("[dim]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("Preparing the knowledge base", total=None)
        return build_services(settings, progress=lambda n: bar.advance(task, n))


async def _queue_handoffs(assistant: Any, settings: Settings, thread_id: str) -> None:
    """Escalations from the CLI land in the same queue as the API's."""
    from api.db import open_app_engine
    from api.handoffs import HandoffStore

    snapshot = await assistant.graph.aget_state({"configurable": {"thread_id": thread_id}})
    engine = await open_app_engine(settings)
    try:
        await record_pending(HandoffStore(engine), settings.tenant, thread_id, snapshot.interrupts)
    finally:
        await engine.dispose()


def _print_result(result: AskResult, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.model_dump(), ensure_ascii=False))
        return
    typer.echo(result.answer)
    for citation in result.citations:
        err.print(f"[dim]source: {citation['title']} ({citation['id']})[/dim]", highlight=False)
    if result.escalated:
        err.print("[yellow]handed off to a human[/yellow]")
    err.print(f"[dim]thread: {result.thread_id}[/dim]")


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="The customer's message.")],
    customer: CustomerOpt = None,
    thread: Annotated[str | None, typer.Option(help="Continue this conversation.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Answer one message (a second call with the same --thread continues it)."""

    async def main() -> AskResult:
        settings = _settings()
        _check_llm(settings)
        async with open_assistant(_services(settings)) as assistant:
            result = await assistant.ask(text, customer_id=customer, thread_id=thread)
            if result.escalated:
                await _queue_handoffs(assistant, settings, result.thread_id)
            return result

    started = time.perf_counter()
    result = _run(main)
    _print_result(result, as_json)
    err.print(f"[dim]{time.perf_counter() - started:.2f}s[/dim]")


@app.command()
def chat(customer: CustomerOpt = None) -> None:
    """Talk to the assistant interactively; answers stream as the output guard releases them."""

    async def main() -> None:
        settings = _settings()
        _check_llm(settings)
        async with open_assistant(_services(settings)) as assistant:
            thread: str | None = None
            err.print("[dim]Type your message; an empty line or Ctrl-D ends the chat.[/dim]")
            while line := await asyncio.to_thread(_prompt):
                streamed: list[str] = []
                try:
                    result = await assistant.ask(
                        line, customer_id=customer, thread_id=thread, on_token=_echo_into(streamed)
                    )
                except SupportFlowError as exc:
                    err.print(f"[red]error:[/red] {exc}", highlight=False)
                    continue
                thread = result.thread_id
                # Refusals and handoffs are not streamed: print them whole.
                typer.echo("" if streamed else result.answer)

    _run(main)


def _prompt() -> str:
    try:
        return input("you> ").strip()
    except EOFError:
        return ""


def _echo_into(streamed: list[str]) -> Callable[[str], None]:
    def echo(text: str) -> None:
        streamed.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()

    return echo


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (.md, .html, .txt, .json).")
    ],
    tenant: Annotated[str | None, typer.Option(help="Tenant to ingest into.")] = None,
    trusted: Annotated[
        bool, typer.Option(help="Skip the injection scan (only for content you wrote yourself).")
    ] = False,
) -> None:
    """Add or update documents in the knowledge base.

    Unchanged content is skipped; new text is scanned for planted instructions, which are cut
    out before storing.
    """
    from agent.guards.detector import InjectionDetector
    from agent.retrieval.embedder import CachedEmbedder, MiniLMEmbedder
    from agent.retrieval.ingest import ingest_documents, load_paths
    from agent.retrieval.lance import LanceStore

    async def main() -> None:
        settings = _settings()
        target = tenant or settings.tenant
        docs = load_paths(paths)
        embedder = CachedEmbedder(MiniLMEmbedder())
        store = LanceStore(settings.kb_path, embedder.dim)
        with Progress(
            TextColumn("Ingesting"), BarColumn(), MofNCompleteColumn(), console=err
        ) as bar:
            task = bar.add_task("ingest", total=len(docs))
            report = ingest_documents(
                docs,
                tenant=target,
                embedder=embedder,
                store=store,
                progress=lambda n: bar.advance(task, n),
                detector=None if trusted else InjectionDetector(embedder),
            )
        err.print(
            f"{report.documents} documents: {report.added} chunks added, "
            f"{report.removed} removed, {report.unchanged} unchanged, "
            f"{report.neutralised} planted instructions cut (tenant {target})"
        )

    _run(main)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8123,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API, the chat widget and the demo page.

    With ``--workers`` above 1, streams, locks and long-polls must be shared between the
    processes, so the shared profile (Postgres and Redis) is required; the knowledge base,
    migrations and the token secret are prepared once here, before the workers start.
    """
    import uvicorn

    settings = _settings()
    if workers > 1:
        _prepare_workers(settings)
    err.print(
        f"SupportFlow on http://{host}:{port} (demo page: {'on' if settings.demo else 'off'})"
    )
    uvicorn.run(
        "api.app:create_serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _prepare_workers(settings: Settings) -> None:
    if not (settings.database_url and settings.redis_url):
        raise typer.BadParameter(
            "--workers above 1 needs SUPPORTFLOW_DATABASE_URL (Postgres) and "
            "SUPPORTFLOW_REDIS_URL, so every worker sees the same runs and streams",
            param_hint="--workers",
        )
    import os
    import tempfile

    from agent.bootstrap import close_services
    from api.app import token_secret

    token_secret(settings)
    services = _services(settings)  # ingests the demo KB once, not once per worker
    asyncio.run(close_services(services))
    # Each worker writes its metrics here; /metrics on any worker reports all of them.
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="supportflow-metrics-")
    )


app.add_typer(handoffs_app, name="handoffs")
app.add_typer(db_app, name="db")
app.add_typer(flags_app, name="flags")
app.command("rollback")(rollback_command)
app.command("release")(release_command)
app.add_typer(trace_app, name="trace")
app.command("replay")(replay_command)
app.command("replay-batch")(replay_batch_command)
app.command("eval")(eval_command)

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option(help="customer (publishable widget key), agent, engineer or admin.")
    ],
    tenant: Annotated[str | None, typer.Option(help="Tenant the key belongs to.")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from api.auth import ROLES, KeyStore
    from api.db import open_app_engine

    if role not in ROLES:
        err.print(f"[red]error:[/red] role must be one of {', '.join(ROLES)}")
        raise typer.Exit(2)

    async def main() -> str:
        settings = _settings()
        engine = await open_app_engine(settings)
        try:
            return await KeyStore(engine).create(role, tenant or settings.tenant, name)
        finally:
            await engine.dispose()

    typer.echo(_run(main))


@app.command()
def token(
    customer: Annotated[str, typer.Option(help="Customer id the token binds.")],
    ttl: Annotated[int, typer.Option(min=60, max=3600, help="Lifetime in seconds.")] = 900,
    tenant: Annotated[str | None, typer.Option(help="Tenant.")] = None,
) -> None:
    """Mint a short-lived end-user token for the widget (what your backend would do)."""
    from api.app import token_secret
    from api.auth import mint_end_user_token

    settings = _settings()
    typer.echo(
        mint_end_user_token(token_secret(settings), tenant or settings.tenant, customer, ttl)
    )


@app.command()
def guard(
    text: Annotated[str | None, typer.Argument(help="Text to check (omit with --jsonl).")] = None,
    mode: Annotated[str, typer.Option(help="input, document or output.")] = "input",
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help='Read {"text": ...} lines on stdin, write verdicts.')
    ] = False,
) -> None:
    """Print the guard's verdict as JSON: {"verdict", "score", "reasons"}."""
    from agent.guards.check import GuardRunner

    if mode not in ("input", "document", "output"):
        err.print("[red]error:[/red] --mode must be input, document or output")
        raise typer.Exit(2)
    runner = GuardRunner(_settings(), mode)
    if jsonl:
        _run_jsonl(runner)
        return
    if text is None:
        err.print("[red]error:[/red] give TEXT or --jsonl")
        raise typer.Exit(2)
    typer.echo(json.dumps(runner.check([text])[0]))


def _run_jsonl(runner: Any) -> None:
    """Stream stdin in batches so embeddings are computed many at a time."""
    batch: list[str] = []
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            batch.append(str(item["text"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            err.print(
                f"[red]error:[/red] line {number}: expected a JSON object with a 'text' field"
            )
            raise typer.Exit(2) from None
        if len(batch) == 256:
            _emit(runner.check(batch))
            batch = []
    _emit(runner.check(batch))


def _emit(verdicts: list[dict[str, Any]]) -> None:
    for verdict in verdicts:
        sys.stdout.write(json.dumps(verdict) + "\n")
    sys.stdout.flush()
