"""Alembic environment: always run on a connection handed over by `Ledger.migrate()`, or on the
URL in the `sqlalchemy.url` option when run from the alembic command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.ledger import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("set sqlalchemy.url (a synchronous SQLAlchemy URL) to run migrations")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
