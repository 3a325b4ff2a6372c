"""Alembic migrations for the ledger; `Ledger.migrate()` applies them at start-up."""
