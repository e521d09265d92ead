"""Alembic environment of the project database: always runs on a connection handed in by
``sluicegate.ledger.database.upgrade`` (``config.attributes["connection"]``), never from an ini
file, so that ``sluice db upgrade`` and the automatic first-use migration share one path.

The target metadata (what autogenerate compares the database with) is every table the migrations
make: the ledger's (``ledger.schema``), the service's (``service.store``) and the cloud
monitor's (``cloud.state``). They are imported here, when a migration runs, not at module level
of the code that runs migrations: ``service.store`` and ``cloud.state`` import
``ledger.database`` themselves.
"""

from __future__ import annotations

from alembic import context

from sluicegate.cloud.state import metadata as cloud_metadata
from sluicegate.ledger.schema import metadata as ledger_metadata
from sluicegate.service.store import Base as ServiceBase

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI
    raise RuntimeError("run the ledger migrations with `sluice db upgrade`")

context.configure(
    connection=connection,
    target_metadata=[ledger_metadata, ServiceBase.metadata, cloud_metadata],
    version_table=context.config.get_main_option("version_table") or "ledger_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
