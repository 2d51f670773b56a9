"""Alembic's entry point: runs the migrations on the connection `bingbridge.store.migrate()` hands over."""

from __future__ import annotations

from alembic import context

from bingbridge.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
