"""The real ``langgraph-sdk`` client (and RemoteGraph) against a live SupportFlow server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.integration.live_server import LiveServer, live_server_with_model

pytestmark = pytest.mark.integration
QUESTION: dict[str, Any] = {"messages": [{"role": "user", "content": "How do I return an item?"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("sdk-server")
    with live_server_with_model(data_dir, ttft=0.05, tps=60, tokens=40) as live:
        yield live


@pytest.fixture(scope="module")
def api_key(server: LiveServer) -> str:
    return server.create_key("engineer")


@pytest.fixture
async def client(server: LiveServer, api_key: str) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=server.url, api_key=api_key)
    yield client
    await client.aclose()


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [part async for part in stream]


async def new_thread(client: LangGraphClient) -> str:
    thread = await client.threads.create(metadata={"suite": "sdk"})
    return str(thread["thread_id"])


async def test_assistants(client: LangGraphClient) -> None:
    found = await client.assistants.search(graph_id="support")
    assert [a["graph_id"] for a in found] == ["support"]
    assistant = await client.assistants.get(found[0]["assistant_id"])
    assert assistant["assistant_id"] == found[0]["assistant_id"]


async def test_stream_values_and_updates(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    parts = await collect(
        client.runs.stream(thread_id, "support", input=QUESTION, stream_mode=["values", "updates"])
    )
    assert parts[0].event == "metadata"
    assert parts[0].data["run_id"]
    nodes = [next(iter(p.data)) for p in parts if p.event == "updates"]
    assert nodes[:2] == ["input_guard", "route"]
    assert nodes[-1] == "respond"
    assert {"retrieve", "generate", "reflect", "output_guard"} <= set(nodes)
    final = [p.data for p in parts if p.event == "values"][-1]
    assert final["messages"][-1]["type"] == "ai"
    assert final["citations"]


async def test_stream_messages_tuple_and_custom(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    parts = await collect(
        client.runs.stream(
            thread_id, "support", input=QUESTION, stream_mode=["messages-tuple", "custom"]
        )
    )
    tokens = [
        p.data for p in parts if p.event == "messages" and p.data[1]["langgraph_node"] == "generate"
    ]
    assert len(tokens) >= 20
    assert tokens[0][0]["type"] == "AIMessageChunk"
    released = [p.data["text"] for p in parts if p.event == "custom"]
    assert released
    assert "".join(released).split()[:3] == "".join(t[0]["content"] for t in tokens).split()[:3]


async def test_state_history_and_fork(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    await collect(client.runs.stream(thread_id, "support", input=QUESTION))
    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    assert state["checkpoint"]["checkpoint_id"]
    history = await client.threads.get_history(thread_id, limit=50)
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert len(history) >= 8
    fork = await client.threads.update_state(
        thread_id,
        {"messages": [{"role": "user", "content": "How do I reset my password?"}]},
        as_node="__input__",
        checkpoint_id=state["checkpoint"]["checkpoint_id"],
    )
    checkpoint_id = fork["checkpoint"]["checkpoint_id"]
    parts = await collect(
        client.runs.stream(
            thread_id, "support", input=None, checkpoint_id=checkpoint_id, stream_mode="values"
        )
    )
    final = [p.data for p in parts if p.event == "values"][-1]
    assert [m["type"] for m in final["messages"]] == ["human", "ai", "human", "ai"]
    assert final["question"] == "How do I reset my password?"
    old = await client.threads.get_state(
        thread_id, checkpoint_id=state["checkpoint"]["checkpoint_id"]
    )
    old_values = old["values"]
    assert isinstance(old_values, dict)
    assert len(old_values["messages"]) == 2


async def test_interrupt_appears_and_resume_continues(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    human: dict[str, Any] = {
        "messages": [{"role": "user", "content": "Can I talk to a human please?"}]
    }
    parts = await collect(
        client.runs.stream(thread_id, "support", input=human, stream_mode=["updates", "values"])
    )
    interrupts = [
        p.data["__interrupt__"] for p in parts if p.event == "updates" and "__interrupt__" in p.data
    ]
    assert interrupts
    assert interrupts[0][0]["value"]["reason"] == "customer_requested_human"
    assert "__interrupt__" in [p.data for p in parts if p.event == "values"][-1]
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    parts = await collect(
        client.runs.stream(
            thread_id,
            "support",
            command={"resume": {"answer": "Hi, Sam here."}},
            stream_mode="values",
        )
    )
    assert [p.data for p in parts if p.event == "values"][-1]["answer"] == "Hi, Sam here."
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_join_a_running_stream_and_resume_from_an_event(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(
        thread_id, "support", input=QUESTION, stream_mode=["updates", "custom"]
    )
    joined = await collect(client.runs.join_stream(thread_id, run["run_id"]))
    assert joined[0].event == "metadata"
    assert any(p.event == "custom" for p in joined)
    middle = joined[len(joined) // 2]
    tail = await collect(client.runs.join_stream(thread_id, run["run_id"], last_event_id=middle.id))
    assert [p.id for p in tail] == [p.id for p in joined[len(joined) // 2 + 1 :]]
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"


async def test_cancel(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(thread_id, "support", input=QUESTION)
    await client.runs.cancel(thread_id, run["run_id"], wait=True)
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "interrupted"
    with pytest.raises(NotFoundError):
        await client.runs.cancel(thread_id, run["run_id"])


async def _busy_thread(client: LangGraphClient) -> tuple[str, dict[str, Any]]:
    thread_id = await new_thread(client)
    first = await client.runs.create(thread_id, "support", input=QUESTION)
    return thread_id, dict(first)


async def test_multitask_reject(client: LangGraphClient) -> None:
    thread_id, first = await _busy_thread(client)
    with pytest.raises(ConflictError):
        await client.runs.create(thread_id, "support", input=QUESTION, multitask_strategy="reject")
    await client.runs.join(thread_id, first["run_id"])
    assert (await client.runs.get(thread_id, first["run_id"]))["status"] == "success"


async def test_multitask_enqueue(client: LangGraphClient) -> None:
    thread_id, first = await _busy_thread(client)
    second = await client.runs.create(
        thread_id, "support", input=QUESTION, multitask_strategy="enqueue"
    )
    assert second["status"] == "pending"
    values = await client.runs.join(thread_id, second["run_id"])
    assert isinstance(values, dict)
    assert len(values["messages"]) == 4
    statuses = [(await client.runs.get(thread_id, r["run_id"]))["status"] for r in (first, second)]
    assert statuses == ["success", "success"]


async def test_multitask_interrupt(client: LangGraphClient) -> None:
    thread_id, first = await _busy_thread(client)
    second = await client.runs.create(
        thread_id, "support", input=QUESTION, multitask_strategy="interrupt"
    )
    await client.runs.join(thread_id, second["run_id"])
    assert (await client.runs.get(thread_id, first["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(thread_id, second["run_id"]))["status"] == "success"


async def test_multitask_rollback(client: LangGraphClient) -> None:
    thread_id, first = await _busy_thread(client)
    second = await client.runs.create(
        thread_id, "support", input=QUESTION, multitask_strategy="rollback"
    )
    values = await client.runs.join(thread_id, second["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, first["run_id"])
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]


async def test_remote_graph(client: LangGraphClient) -> None:
    remote = RemoteGraph("support", client=client)
    thread: RunnableConfig = {"configurable": {"thread_id": "remote-graph-thread"}}
    result = await remote.ainvoke(QUESTION, thread)
    assert result["messages"][-1]["type"] == "ai"
    state = await remote.aget_state(thread)
    assert state.next == ()
    assert state.values["route"] == "knowledge"
