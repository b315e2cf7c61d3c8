"""Business tools (order lookup, account status) and the backends behind them."""

from tools.backends import AccountBackend, OrderBackend
from tools.embedded import EmbeddedRetailBackend
from tools.http import HttpRetailBackend
from tools.retail import TOOLS, get_account_status, lookup_order, normalise_order_id

__all__ = [
    "TOOLS",
    "AccountBackend",
    "EmbeddedRetailBackend",
    "HttpRetailBackend",
    "OrderBackend",
    "get_account_status",
    "lookup_order",
    "normalise_order_id",
]
