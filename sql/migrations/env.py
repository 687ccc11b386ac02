"""Alembic environment: runs on the connection newswatch.store.db.upgrade hands over."""

from alembic import context

from newswatch.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
