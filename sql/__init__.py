"""Alembic migrations (migrations/), installed as the package newswatch_sql."""
