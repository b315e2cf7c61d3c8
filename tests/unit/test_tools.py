from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
import respx
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import ValidationError

from agent.assistant import Assistant
from agent.bootstrap import retail_backend
from agent.errors import BackendError
from agent.services import Services
from graphs.support import build_graph
from tests.conftest import make_settings
from tools import HttpRetailBackend, get_account_status, lookup_order, normalise_order_id

ORDER = {
    "order_id": "#W0000001",
    "user_id": "ann_lee_1000",
    "status": "pending",
    "address": {
        "address1": "1 Main St",
        "city": "Austin",
        "state": "TX",
        "zip": "73301",
        "country": "USA",
    },
    "items": [
        {
            "name": "Lamp",
            "item_id": "1",
            "product_id": "2",
            "price": 20.5,
            "options": {"color": "red"},
        }
    ],
    "payment_history": [
        {"transaction_type": "payment", "amount": 20.5, "payment_method_id": "paypal_1"}
    ],
}
BASE = "http://orders.test"


def test_order_ids_normalise() -> None:
    assert normalise_order_id("w2611340") == "#W2611340"
    assert normalise_order_id("order 12345") is None


async def test_lookup_own_order(services: Services) -> None:
    result = await lookup_order("#W2611340", customer_id="james_li_5688", backend=services.orders)
    assert result["status"] == "ok"
    assert result["data"][0]["status"] == "processed"
    assert result["data"][0]["tracking_ids"] == ["357962501027"]


async def test_another_customers_order_is_not_found(services: Services) -> None:
    result = await lookup_order("#W7678072", customer_id="james_li_5688", backend=services.orders)
    assert result == {
        "name": "lookup_order",
        "status": "not_found",
        "data": {"order_id": "#W7678072"},
    }


async def test_tools_need_an_authenticated_customer(services: Services) -> None:
    order = await lookup_order("#W2611340", customer_id=None, backend=services.orders)
    account = await get_account_status(
        customer_id=None, accounts=services.accounts, orders=services.orders
    )
    assert order["status"] == account["status"] == "unauthenticated"
    assert order["data"] is None
    assert account["data"] is None


async def test_account_status_summarises_without_card_numbers(services: Services) -> None:
    result = await get_account_status(
        customer_id="noah_brown_6181", accounts=services.accounts, orders=services.orders
    )
    data = result["data"]
    assert data["email"] == "noah.brown7922@example.com"
    assert data["orders_by_status"] == {"delivered": 1}
    card = next(m for m in data["payment_methods"] if m["source"] == "credit_card")
    assert card == {"source": "credit_card", "brand": "mastercard", "last_four": "9212"}


@respx.mock
async def test_http_backend_reads_scoped_routes() -> None:
    respx.get(f"{BASE}/customers/ann_lee_1000/orders/%23W0000001").mock(
        return_value=httpx.Response(200, json=ORDER)
    )
    respx.get(f"{BASE}/customers/ann_lee_1000/orders/%23W0000002").mock(
        return_value=httpx.Response(404)
    )
    backend = HttpRetailBackend(BASE, api_key="k", retries=0)
    order = await backend.get_order("ann_lee_1000", "#W0000001")
    assert order is not None
    assert order.total == 20.5
    assert await backend.get_order("ann_lee_1000", "#W0000002") is None
    assert respx.calls[0].request.headers["authorization"] == "Bearer k"
    await backend.aclose()


@respx.mock
async def test_http_backend_rechecks_the_owner() -> None:
    respx.get(f"{BASE}/customers/eve_x_6666/orders/%23W0000001").mock(
        return_value=httpx.Response(200, json=ORDER)
    )
    backend = HttpRetailBackend(BASE, retries=0)
    assert await backend.get_order("eve_x_6666", "#W0000001") is None
    await backend.aclose()


@respx.mock
async def test_http_backend_retries_then_succeeds() -> None:
    route = respx.get(f"{BASE}/customers/ann_lee_1000/orders").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=[ORDER])]
    )
    backend = HttpRetailBackend(BASE, retries=1)
    orders = await backend.list_orders("ann_lee_1000")
    assert [o.order_id for o in orders] == ["#W0000001"]
    assert route.call_count == 2
    await backend.aclose()


@respx.mock
@pytest.mark.parametrize(
    ("effect", "message"),
    [
        (httpx.Response(500), "HTTP 500"),
        (httpx.ReadTimeout("slow"), "unreachable"),
        (httpx.ConnectError("refused"), "unreachable"),
    ],
)
async def test_http_backend_failures_are_typed(
    effect: httpx.Response | Exception, message: str
) -> None:
    respx.get(f"{BASE}/customers/ann_lee_1000").mock(side_effect=[effect, effect])
    backend = HttpRetailBackend(BASE, retries=1)
    with pytest.raises(BackendError, match=message):
        await backend.get_account("ann_lee_1000")
    await backend.aclose()


def test_settings_pick_the_http_backend(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, orders_backend="http", orders_base_url=BASE)
    assert isinstance(retail_backend(settings), HttpRetailBackend)
    with pytest.raises(ValidationError, match="ORDERS_BASE_URL"):
        make_settings(tmp_path, orders_backend="http")


@respx.mock
async def test_graph_over_the_http_backend(services: Services) -> None:
    respx.get(f"{BASE}/customers/ann_lee_1000").mock(
        return_value=httpx.Response(
            200,
            json={
                "user_id": "ann_lee_1000",
                "name": {"first_name": "Ann", "last_name": "Lee"},
                "email": "ann@example.com",
                "address": ORDER["address"],
            },
        )
    )
    respx.get(f"{BASE}/customers/ann_lee_1000/orders/%23W0000001").mock(
        return_value=httpx.Response(200, json=ORDER)
    )
    backend = HttpRetailBackend(BASE, retries=0)
    wired = dataclasses.replace(services, orders=backend, accounts=backend)
    assistant = Assistant(build_graph().compile(checkpointer=InMemorySaver()), wired)
    result = await assistant.ask("Status of #W0000001?", customer_id="ann_lee_1000")
    assert "Order #W0000001 is pending" in result.answer
    assert "Lamp (red)" in result.answer
    await backend.aclose()
