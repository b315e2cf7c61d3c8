"""The business tools. Docstrings are what a model reads; the customer id is injected."""

from __future__ import annotations

import re
from typing import Any

from agent.state import ToolResult
from tools.backends import AccountBackend, OrderBackend
from tools.models import Account, Order

ORDER_ID = re.compile(r"#?\b(W\d{7})\b", flags=re.IGNORECASE)


def normalise_order_id(raw: str) -> str | None:
    """``w2611340`` or ``#W2611340`` → ``#W2611340``; anything else → ``None``."""
    match = ORDER_ID.search(raw)
    return f"#{match.group(1).upper()}" if match else None


def order_view(order: Order) -> dict[str, Any]:
    """What a customer may see about their own order."""
    return {
        "order_id": order.order_id,
        "status": order.status,
        "items": [{"name": i.name, "options": i.options, "price": i.price} for i in order.items],
        "tracking_ids": order.tracking_ids,
        "total": order.total,
        "ship_to_city": order.address.city,
    }


def account_view(account: Account, orders: list[Order]) -> dict[str, Any]:
    """Profile summary; card numbers are shown only as brand and last four digits."""
    statuses: dict[str, int] = {}
    for order in orders:
        statuses[order.status] = statuses.get(order.status, 0) + 1
    return {
        "name": f"{account.name.first_name} {account.name.last_name}",
        "email": account.email,
        "default_address": account.address.model_dump(),
        "payment_methods": [
            {k: v for k, v in m.model_dump().items() if v is not None and k != "id"}
            for m in account.payment_methods.values()
        ],
        "orders_by_status": statuses,
        "order_ids": [o.order_id for o in orders],
    }


async def lookup_order(
    order_id: str | None, *, customer_id: str | None, backend: OrderBackend
) -> ToolResult:
    """Look up one of the customer's orders by id, or list their orders when no id is given.

    Args:
        order_id: The order number, such as ``#W2611340``; omit to list recent orders.

    """
    if customer_id is None:
        return {"name": "lookup_order", "status": "unauthenticated", "data": None}
    if order_id is None:
        orders = await backend.list_orders(customer_id)
        return {"name": "lookup_order", "status": "ok", "data": [order_view(o) for o in orders]}
    order = await backend.get_order(customer_id, order_id)
    if order is None:
        return {"name": "lookup_order", "status": "not_found", "data": {"order_id": order_id}}
    return {"name": "lookup_order", "status": "ok", "data": [order_view(order)]}


async def get_account_status(
    *, customer_id: str | None, accounts: AccountBackend, orders: OrderBackend
) -> ToolResult:
    """Summarise the customer's profile: name, default address, payment methods, orders."""
    if customer_id is None:
        return {"name": "get_account_status", "status": "unauthenticated", "data": None}
    account = await accounts.get_account(customer_id)
    if account is None:
        return {"name": "get_account_status", "status": "not_found", "data": None}
    listed = await orders.list_orders(customer_id)
    return {"name": "get_account_status", "status": "ok", "data": account_view(account, listed)}


TOOLS = [lookup_order, get_account_status]
