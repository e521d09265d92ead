"""Alembic migrations of the ledger schema (run programmatically by ``sluicegate.ledger.database``)."""
