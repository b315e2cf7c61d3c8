"""Helpers every node uses: the latest customer text and the run's services."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from agent.context import RunContext
from agent.metrics import EARLY_RELEASE
from agent.services import Services
from agent.state import SupportState


def latest_customer_text(state: SupportState) -> str:
    """Content of the newest human message (the turn being answered)."""
    for message in reversed(state["messages"]):
        if isinstance(message, HumanMessage):
            return message.text if hasattr(message, "text") else str(message.content)
    return ""


def services(runtime: Runtime[RunContext]) -> Services:
    """The run's infrastructure."""
    return runtime.context.services


def chat_model(runtime: Runtime[RunContext], *, streaming: bool = True) -> BaseChatModel | None:
    """The run's model, or ``None``: no LLM configured, the AI or ``ai.generation`` is off."""
    if runtime.context.ai_off_reason or not runtime.context.generation_enabled:
        return None
    return services(runtime).models(runtime.context.model, streaming=streaming)


def retract_early_release(runtime: Runtime[RunContext]) -> None:
    """Tell the widget to withdraw the sentences it was shown while the draft was written."""
    runtime.stream_writer({"event": "retract"})
    EARLY_RELEASE.labels(outcome="retracted").inc()
