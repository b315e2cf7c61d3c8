"""Alembic environment: migrations run on the connection ``api.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from api.db import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode makes the same scripts work there.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
