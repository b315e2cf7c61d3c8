"""Alembic migrations on SQLite and Postgres: schema matches the models, upgrades are safe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import create_engine_for, metadata, open_engine, utcnow
from api.migrate import head_revision, revision, upgrade


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite'}"
        return
    from tests.backends import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield "postgresql+psycopg://" + url.split("://", 1)[1]


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _schema_diff(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_diff)


async def test_fresh_database_reaches_head_and_matches_models(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        assert await revision(engine) is None
        assert await upgrade(engine) == head_revision()
        assert await _schema_diff(engine) == []
        assert await upgrade(engine) == head_revision()  # idempotent
    finally:
        await engine.dispose()


async def test_database_from_before_migrations_is_stamped_not_rebuilt(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        async with engine.begin() as conn:
            # What ``create_all`` made before migrations existed: revision 0001's tables.
            legacy = [
                metadata.tables[n] for n in ("api_keys", "threads", "runs", "handoffs", "feedback")
            ]
            await conn.run_sync(lambda c: metadata.create_all(c, tables=legacy))
            await conn.execute(
                metadata.tables["threads"].insert(),
                {
                    "thread_id": "t-legacy",
                    "tenant": "demo",
                    "metadata": {},
                    "status": "idle",
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                },
            )
        assert await upgrade(engine) == head_revision()
        async with engine.connect() as conn:
            rows = (await conn.execute(metadata.tables["threads"].select())).all()
        assert [r.thread_id for r in rows] == ["t-legacy"]
    finally:
        await engine.dispose()


async def test_replicas_migrating_at_once_all_succeed(db_url: str) -> None:
    engines = [create_engine_for(db_url) for _ in range(3)]
    try:
        reached = await asyncio.gather(*(upgrade(e) for e in engines))
        assert reached == [head_revision()] * 3
        async with engines[0].connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
    finally:
        for engine in engines:
            await engine.dispose()


async def test_open_engine_without_migrate_leaves_the_schema_alone(db_url: str) -> None:
    engine = await open_engine(db_url, migrate=False)
    try:
        assert await revision(engine) is None
    finally:
        await engine.dispose()
