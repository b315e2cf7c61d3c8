"""Answer a blocked message with a fixed, safe reply (no model involved)."""

from __future__ import annotations

from agent.state import SupportState

REFUSAL = (
    "Sorry, I can't help with that request. I can help with your orders, your account and "
    "the store's policies."
)


async def refuse(state: SupportState) -> SupportState:
    """The refusal never echoes the message back."""
    return {"answer": REFUSAL}
