"""HTTP backend for a real order/account service: timeouts, bounded retries, typed errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx

from agent.errors import BackendError
from tools.models import Account, Order

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS = {502, 503, 504}


class HttpRetailBackend:
    """Implements ``OrderBackend`` and ``AccountBackend`` against a REST service.

    Routes: ``GET /customers/{cid}``, ``GET /customers/{cid}/orders``,
    ``GET /customers/{cid}/orders/{oid}``; 404 means "not found for this customer".
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            transport=transport or httpx.AsyncHTTPTransport(retries=retries),
        )
        self._retries = retries

    async def aclose(self) -> None:
        """Release pooled connections."""
        await self._client.aclose()

    async def _get(self, path: str) -> Any | None:
        for attempt in range(self._retries + 1):
            try:
                response = await self._client.get(path)
            except httpx.HTTPError as exc:
                if attempt == self._retries:
                    raise BackendError(f"order service unreachable ({type(exc).__name__})") from exc
                continue
            if response.status_code == 404:
                return None
            if response.status_code in _RETRYABLE_STATUS and attempt < self._retries:
                await asyncio.sleep(0.1 * 2**attempt)
                continue
            if response.is_error:
                raise BackendError(f"order service answered HTTP {response.status_code}")
            return response.json()
        raise BackendError("order service retries exhausted")

    async def get_order(self, customer_id: str, order_id: str) -> Order | None:
        """The service scopes the lookup; we check the owner again in case it does not."""
        data = await self._get(f"/customers/{quote(customer_id)}/orders/{quote(order_id)}")
        if data is None:
            return None
        order = Order.model_validate(data)
        return order if order.user_id == customer_id else None

    async def list_orders(self, customer_id: str) -> list[Order]:
        """All orders of the customer (owner re-checked)."""
        data = await self._get(f"/customers/{quote(customer_id)}/orders") or []
        orders = [Order.model_validate(o) for o in data]
        return [o for o in orders if o.user_id == customer_id]

    async def get_account(self, customer_id: str) -> Account | None:
        """One customer profile."""
        data = await self._get(f"/customers/{quote(customer_id)}")
        return Account.model_validate(data) if data is not None else None
