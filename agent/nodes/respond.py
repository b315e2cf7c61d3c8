"""Close the turn: the released answer becomes the assistant's message in the thread."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from agent.state import SupportState


async def respond(state: SupportState) -> SupportState:
    """Only validated (or human-written) text reaches the conversation history."""
    return {"messages": [AIMessage(content=state.get("answer", ""))]}
