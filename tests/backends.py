"""Real local Postgres and Redis for backend-parametrised tests (skip locally, fail in CI)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import skip_or_fail

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PG_ADMIN_URL = os.environ.get(
    "SUPPORTFLOW_TEST_PG", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
)
# Each test process gets its own Redis logical database number in 1..12 (13-15 are others').
REDIS_DB = 1 + os.getpid() % 12


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def redis_url_or_skip(db: int = REDIS_DB) -> str:
    """The local Redis, or a skip (a failure under SUPPORTFLOW_REQUIRE_SERVICES=1)."""
    if not port_open(REDIS_HOST, REDIS_PORT):
        skip_or_fail(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def flush_redis(url: str) -> None:
    """Empty one logical database so earlier runs cannot leak limits or cache entries in."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the local Postgres, dropped afterwards; yields its URL."""
    import psycopg

    if not port_open(PG_HOST, PG_PORT):
        skip_or_fail(f"Postgres is not reachable on {PG_HOST}:{PG_PORT}")
    name = f"sf_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
