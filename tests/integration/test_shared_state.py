"""Caches and streams on Redis: shared across replicas, isolated per customer, degrading safely."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from langgraph.checkpoint.memory import InMemorySaver

from agent.assistant import Assistant
from agent.cache import AnswerCache, normalise_question
from agent.services import Services
from api.app import create_app
from graphs.support import build_graph
from tests.api.conftest import JAMES, NOAH, customer_headers, read_events
from tests.conftest import make_settings
from tests.integration.tcp_proxy import CuttableProxy

QUESTION = "What payment methods do you accept?"


def _replica(services: Services, redis_url: str) -> Assistant:
    """One replica's view: its own in-process memory, the shared Redis."""
    settings = services.settings.model_copy(
        update={"redis_url": redis_url, "response_cache_ttl_s": 600}
    )
    svc = dataclasses.replace(
        services, settings=settings, answers=AnswerCache(redis_url, 600, prefix="sf:test:")
    )
    return Assistant(build_graph().compile(checkpointer=InMemorySaver()), svc)


async def _cached(assistant: Assistant, thread_id: str) -> bool:
    state = await assistant.graph.aget_state({"configurable": {"thread_id": thread_id}})
    return bool(state.values.get("cached"))


@pytest.fixture
async def replicas(
    services: Services, redis_url: str
) -> AsyncIterator[tuple[Assistant, Assistant]]:
    from tests.backends import flush_redis

    flush_redis(redis_url)
    a, b = _replica(services, redis_url), _replica(services, redis_url)
    yield a, b
    for replica in (a, b):
        await replica.services.answers.aclose()


async def test_knowledge_answer_is_shared_across_replicas(
    replicas: tuple[Assistant, Assistant],
) -> None:
    a, b = replicas
    first = await a.ask(QUESTION, customer_id=JAMES)
    assert not await _cached(a, first.thread_id)
    second = await b.ask("what payment   methods do you ACCEPT", customer_id=NOAH)
    assert await _cached(b, second.thread_id)  # b never answered it: the hit came from Redis
    assert second.answer == first.answer
    assert second.citations == first.citations


async def test_answers_built_from_customer_data_are_never_cached(
    replicas: tuple[Assistant, Assistant],
) -> None:
    a, b = replicas
    noah = await a.ask("What payment methods are on my account?", customer_id=NOAH)
    james = await b.ask("What payment methods are on my account?", customer_id=JAMES)
    assert noah.route == james.route == "account"
    assert not await _cached(b, james.thread_id)
    assert "Noah" in noah.answer
    assert "Noah" not in james.answer
    order = await a.ask("Where is order #W2611340?", customer_id=JAMES)
    assert order.route == "order_status"
    assert not await _cached(a, order.thread_id)


async def test_follow_up_turns_are_not_served_from_the_cache(
    replicas: tuple[Assistant, Assistant],
) -> None:
    a, b = replicas
    await a.ask(QUESTION, customer_id=JAMES)
    opener = await b.ask("How do I return an item?", customer_id=NOAH)
    follow_up = await b.ask(QUESTION, customer_id=NOAH, thread_id=opener.thread_id)
    assert not await _cached(b, follow_up.thread_id)


async def test_other_tenants_and_prompt_versions_miss(
    replicas: tuple[Assistant, Assistant],
) -> None:
    a, b = replicas
    await a.ask(QUESTION, customer_id=JAMES)
    other_prompt = await b.ask(QUESTION, customer_id=JAMES, prompt_version="v2")
    assert not await _cached(b, other_prompt.thread_id)


def test_question_normalisation() -> None:
    assert normalise_question("  What   payment methods?? ") == "what payment methods"
    assert normalise_question("Refunds") != normalise_question("Returns")


async def test_redis_down_degrades_the_caches_to_memory(services: Services, redis_url: str) -> None:
    proxy = CuttableProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    url = f"redis://127.0.0.1:{proxy.port}/{redis_url.rsplit('/', 1)[1]}"
    replica = _replica(services, url)
    try:
        proxy.close()  # Redis "dies" before the first call
        first = await replica.ask(QUESTION, customer_id=JAMES)
        again = await replica.ask(QUESTION, customer_id=NOAH)
    finally:
        await replica.services.answers.aclose()
    assert first.answer
    assert again.answer == first.answer
    assert await _cached(replica, again.thread_id)  # served from this process's memory


async def test_redis_killed_mid_stream_the_run_still_completes(
    services: Services, redis_url: str, tmp_path: Path
) -> None:
    proxy = CuttableProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    url = f"redis://127.0.0.1:{proxy.port}/{redis_url.rsplit('/', 1)[1]}"
    settings = make_settings(tmp_path, redis_url=url)
    headers = await customer_headers(settings)
    async with LifespanManager(create_app(settings, services)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://a") as client:
            body = {"message": "How do I return an item?"}
            async with client.stream("POST", "/v1/chat/stream", json=body, headers=headers) as r:
                assert r.status_code == 200
                seen = ""
                async for chunk in r.aiter_text():
                    if not seen:
                        proxy.close()  # Redis goes away after the first event
                    seen += chunk
            assert "event: end" in seen
            response, events = await read_events(
                client, "POST", "/v1/chat/stream", json=body, headers=headers
            )
            assert response.status_code == 200
            assert events[-1].event == "end"
            metrics = (await client.get("/metrics")).text
    assert 'supportflow_degraded_total{component="event_buffer"}' in metrics
