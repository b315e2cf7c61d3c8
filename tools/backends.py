"""Protocols the tools depend on; the embedded and HTTP backends implement both."""

from __future__ import annotations

from typing import Protocol

from tools.models import Account, Order


class OrderBackend(Protocol):
    """Orders, always looked up within one customer's scope."""

    async def get_order(self, customer_id: str, order_id: str) -> Order | None:
        """The order if it exists *and* belongs to the customer, else ``None``."""
        ...

    async def list_orders(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest reference last."""
        ...


class AccountBackend(Protocol):
    """Customer profiles."""

    async def get_account(self, customer_id: str) -> Account | None:
        """The profile, or ``None`` for an unknown id."""
        ...
