"""Alembic migrations of the app database (the same scripts run on SQLite and Postgres)."""
