"""The plain 3-node graph the peers serve: guard → call_model → respond.

Self-contained (LangGraph and langchain-openai only): ``langgraph dev`` loads this file by path
from its own virtual environment, and the bare FastAPI peer imports it.
"""

from __future__ import annotations

import os
from typing import Annotated

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

LLM_URL_ENV = "PEERS_LLM_BASE_URL"
"""Where the fake OpenAI-compatible model listens; the harness sets it for every peer."""
MAX_INPUT_CHARS = 4000


class State(TypedDict, total=False):
    """The conversation and the released answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    """User and assistant messages, appended by ``add_messages``."""
    answer: str
    """The final answer's text, set by ``respond``."""


def chat_model(base_url: str) -> BaseChatModel:
    """An OpenAI-compatible chat model (the fake model in the benchmark)."""
    return ChatOpenAI(model="fake", base_url=base_url, api_key="unused")


def build_graph(model: BaseChatModel) -> StateGraph[State]:
    """Guard the input, stream one model call, respond; compiled by whoever serves it."""

    async def guard(state: State) -> State:
        if len(str(state["messages"][-1].content)) > MAX_INPUT_CHARS:
            raise ValueError("message too long")
        return {}

    async def call_model(state: State) -> State:
        return {"messages": [await model.ainvoke(state["messages"])]}

    async def respond(state: State) -> State:
        return {"answer": str(state["messages"][-1].content)}

    builder = StateGraph(State)
    builder.add_node("guard", guard)
    builder.add_node("call_model", call_model)
    builder.add_node("respond", respond)
    builder.add_edge(START, "guard")
    builder.add_edge("guard", "call_model")
    builder.add_edge("call_model", "respond")
    builder.add_edge("respond", END)
    return builder


# What langgraph.json serves; `langgraph dev` adds its own checkpointer.
graph = build_graph(chat_model(os.environ.get(LLM_URL_ENV, "http://127.0.0.1:8765/v1"))).compile()
