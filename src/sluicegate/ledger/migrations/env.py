"""Alembic environment for the ledger: always runs on a connection handed in by
``sluicegate.ledger.database.upgrade`` (``config.attributes["connection"]``), never from an ini
file, so that ``sluice db upgrade`` and the automatic first-use migration share one path."""

from __future__ import annotations

from alembic import context

from sluicegate.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI
    raise RuntimeError("run the ledger migrations with `sluice db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=context.config.get_main_option("version_table") or "ledger_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
