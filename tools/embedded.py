"""Embedded backend: the packaged demo store data in a local SQLite file."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

from tools.models import Account, Order

DATA_VERSION = "tau2-retail-1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_user ON orders (user_id);
"""


def _packaged_data() -> dict[str, Any]:
    raw = resources.files("tools").joinpath("data/retail.json.gz").read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


def _is_loaded(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    return row is not None and row[0] == DATA_VERSION


def _load(conn: sqlite3.Connection) -> None:
    data = _packaged_data()
    with conn:
        conn.execute("DELETE FROM users")
        conn.execute("DELETE FROM orders")
        conn.executemany(
            "INSERT INTO users VALUES (?, ?)",
            ((uid, json.dumps(u)) for uid, u in data["users"].items()),
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            ((oid, o["user_id"], json.dumps(o)) for oid, o in data["orders"].items()),
        )
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (DATA_VERSION,))


class EmbeddedRetailBackend:
    """Implements ``OrderBackend`` and ``AccountBackend`` over SQLite; loads once per file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        conn = self._connect()
        try:
            conn.executescript(_SCHEMA)
            if not _is_loaded(conn):
                _load(conn)
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=5.0)

    def _query(self, sql: str, params: tuple[str, ...]) -> list[str]:
        conn = self._connect()
        try:
            return [row[0] for row in conn.execute(sql, params)]
        finally:
            conn.close()

    async def get_order(self, customer_id: str, order_id: str) -> Order | None:
        """Filtered on the owner in SQL, so another customer's order is simply absent."""
        rows = await asyncio.to_thread(
            self._query,
            "SELECT data FROM orders WHERE order_id = ? AND user_id = ?",
            (order_id, customer_id),
        )
        return Order.model_validate_json(rows[0]) if rows else None

    async def list_orders(self, customer_id: str) -> list[Order]:
        """All orders of the customer."""
        rows = await asyncio.to_thread(
            self._query,
            "SELECT data FROM orders WHERE user_id = ? ORDER BY order_id",
            (customer_id,),
        )
        return [Order.model_validate_json(r) for r in rows]

    async def get_account(self, customer_id: str) -> Account | None:
        """The profile of one customer."""
        rows = await asyncio.to_thread(
            self._query, "SELECT data FROM users WHERE user_id = ?", (customer_id,)
        )
        return Account.model_validate_json(rows[0]) if rows else None
