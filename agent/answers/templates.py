"""No-LLM answers built from tool results; every fact comes from the tool's data."""

from __future__ import annotations

import re
from typing import Any

from agent.answers.extractive import Draft
from agent.state import Citation, ToolResult

SIGN_IN = (
    "I can look up orders and account details once you are signed in. Please sign in and ask "
    "again; I can still answer general questions about orders, returns and refunds."
)
OUT_OF_SCOPE = (
    "I can help with your orders, your account and the store's policies (returns, refunds, "
    "payments, shipping). Is there something about your shopping I can help with?"
)
TOOL_FAILURE = "I couldn't reach our order system just now."

_NEXT_STEPS = {
    "pending": "Because it is pending, you can still cancel it (if it is no longer needed or "
    "was ordered by mistake) or change its address, payment method or items.",
    "processed": "It has been processed, so it can no longer be cancelled or changed; once it "
    "is delivered you can ask for a return or an exchange.",
    "delivered": "It has been delivered, so you can request a return or an exchange.",
    "cancelled": "It was cancelled; the refund goes back to the original payment method.",
}


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _item(item: dict[str, Any]) -> str:
    options = ", ".join(str(v) for v in item["options"].values())
    return f"{item['name']} ({options})" if options else str(item["name"])


def describe_order(order: dict[str, Any], question: str) -> str:
    """Status, items, tracking and total, plus what the status allows when it is asked."""
    items = "; ".join(_item(i) for i in order["items"])
    parts = [f"Order {order['order_id']} is {order['status']}.", f"It contains: {items}."]
    if order["tracking_ids"]:
        parts.append(f"Tracking number: {', '.join(order['tracking_ids'])}.")
    parts.append(f"Total paid: {_money(order['total'])}.")
    asks_action = re.search(r"cancel|return|exchange|change|modify|refund", question, re.I)
    status = str(order["status"]).split(" ")[0]
    if asks_action and status in _NEXT_STEPS:
        parts.append(_NEXT_STEPS[status])
    return " ".join(parts)


def _orders_answer(result: ToolResult, question: str) -> str:
    if result["status"] == "not_found":
        return (
            f"I couldn't find order {result['data']['order_id']} for your account. Please check "
            "the number; it starts with #W followed by seven digits."
        )
    orders: list[dict[str, Any]] = result["data"]
    if len(orders) == 1:
        return describe_order(orders[0], question)
    if not orders:
        return "I couldn't find any orders on your account."
    listing = ", ".join(f"{o['order_id']} ({o['status']})" for o in orders)
    return f"You have {len(orders)} orders: {listing}. Which one would you like to know about?"


def _account_answer(data: dict[str, Any]) -> str:
    address = data["default_address"]
    methods = [_method(m) for m in data["payment_methods"]]
    counts = ", ".join(f"{n} {status}" for status, n in sorted(data["orders_by_status"].items()))
    return (
        f"Your account is in the name of {data['name']}, email {data['email']}. Default "
        f"address: {address['address1']}, {address['city']}, {address['state']} "
        f"{address['zip']}. Payment methods: {', '.join(methods) or 'none'}. "
        f"Orders: {counts or 'none yet'}."
    )


def _method(method: dict[str, Any]) -> str:
    if method["source"] == "credit_card":
        return f"{str(method.get('brand', 'card')).title()} card ending {method['last_four']}"
    if method["source"] == "gift_card":
        return f"gift card (balance {_money(float(method.get('balance', 0.0)))})"
    return str(method["source"]).replace("_", " ").title()


def _citation(result: ToolResult) -> Citation:
    if result["name"] == "get_account_status":
        return {"id": "tool:get_account_status", "title": "Your account"}
    data = result["data"]
    if isinstance(data, list) and len(data) == 1:
        oid = data[0]["order_id"]
        return {"id": f"tool:lookup_order:{oid}", "title": f"Order {oid}"}
    return {"id": "tool:lookup_order", "title": "Your orders"}


def tool_answer(results: list[ToolResult], question: str) -> Draft:
    """One paragraph per tool result, cited to the tool that produced it."""
    if any(r["status"] == "unauthenticated" for r in results):
        return Draft(SIGN_IN, [])
    texts: list[str] = []
    citations: list[Citation] = []
    for result in results:
        if result["status"] == "error":
            texts.append(TOOL_FAILURE)
            continue
        if result["name"] == "get_account_status":
            texts.append(_account_answer(result["data"]))
        else:
            texts.append(_orders_answer(result, question))
        if result["status"] == "ok":
            citations.append(_citation(result))
    return Draft(" ".join(texts), citations)
