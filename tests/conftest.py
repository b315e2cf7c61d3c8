"""Shared fixtures: one demo knowledge base per session, graphs compiled per test."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.assistant import Assistant
from agent.bootstrap import build_services
from agent.context import RunContext
from agent.llm import OpenAICompatibleModels
from agent.services import Services
from agent.settings import Settings
from graphs.support import build_graph
from tests.fake_openai import BASE_URL

REQUIRE_SERVICES = os.environ.get("SUPPORTFLOW_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Absent local services skip locally but fail in CI (SUPPORTFLOW_REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's environment and data."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "llm_base_url": None,
        "tenant": "demo",
        "orders_backend": "embedded",
        # Shared answers would make one test's outcome depend on another's; cache tests opt in.
        "response_cache_ttl_s": 0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("supportflow-data")


@pytest.fixture(scope="session")
def services(data_dir: Path) -> Services:
    """The embedded profile with the demo KB ingested once for the whole session."""
    return build_services(make_settings(data_dir))


@pytest.fixture(scope="session")
def llm_services(services: Services) -> Services:
    """The same infrastructure with an OpenAI-compatible model at a respx-mocked URL."""
    settings = services.settings.model_copy(
        update={"llm_base_url": BASE_URL, "llm_max_retries": 0, "llm_timeout_s": 2.0}
    )
    return dataclasses.replace(services, settings=settings, models=OpenAICompatibleModels(settings))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One fresh Postgres database for the session (checkpoints and app data)."""
    from tests.backends import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """This session's own Redis logical database, emptied first."""
    from tests.backends import flush_redis, redis_url_or_skip

    url = redis_url_or_skip()
    flush_redis(url)
    return url


@pytest.fixture
def assistant(services: Services) -> Assistant:
    return Assistant(build_graph().compile(checkpointer=InMemorySaver()), services)


@pytest.fixture
def llm_assistant(llm_services: Services) -> Assistant:
    return Assistant(build_graph().compile(checkpointer=InMemorySaver()), llm_services)


@pytest.fixture
def context(services: Services) -> RunContext:
    return RunContext(services=services, customer_id="james_li_5688")


class _Collector(logging.Handler):
    """Keeps every record our own loggers emit during the test session."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


LOG_COLLECTOR = _Collector()
OWN_LOGGERS = ("agent", "tools", "graphs", "api")


@pytest.fixture(scope="session", autouse=True)
def _collect_logs() -> Iterator[None]:
    """Record our loggers at DEBUG for the whole run; ``test_zz_logs`` inspects them last."""
    previous = {}
    for name in OWN_LOGGERS:
        logger = logging.getLogger(name)
        previous[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(LOG_COLLECTOR)
    yield
    for name in OWN_LOGGERS:
        logging.getLogger(name).removeHandler(LOG_COLLECTOR)
        logging.getLogger(name).setLevel(previous[name])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the log audit after everything else, so it sees the whole session's logs."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_zz_logs.py"))
