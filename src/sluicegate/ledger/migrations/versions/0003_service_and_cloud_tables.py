"""The service's and the cloud monitor's tables join the migrations: ``service_api_keys``,
``service_cloud_customers`` (``sluicegate.service.store``) and ``cloud_job_days``,
``cloud_capacity``, ``cloud_seen_rows``, ``cloud_batches``, ``cloud_batch_reforms``
(``sluicegate.cloud.state``), defined here as those modules define them.

Until this revision ``Store`` and ``MonitorState`` made these tables with SQLAlchemy's
``create_all`` on first use, so a database in use may hold some or all of them already, with
rows: this revision creates only the missing ones and leaves the others, and their rows, as they
are. A table that exists but lacks a column the code reads stops the upgrade with its name (it
was made by a development build; nothing is changed).

Downgrading leaves the tables and their rows in place: the sluicegate of revision 0002 makes
them itself (``create_all``) and uses them as they are, so dropping them would only throw away
API keys, KYC checks and the monitor's seen-row fingerprints (a row delivered again would then
be counted twice). A database downgraded and upgraded again is as it was.

Revision ID: 0003_service_and_cloud_tables
Revises: 0002_lighter_rows
Create Date: 2027-01-11
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0003_service_and_cloud_tables"
down_revision = "0002_lighter_rows"
branch_labels = None
depends_on = None


def _service_api_keys() -> list[sa.Column]:
    return [
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("consignees", sa.String(4000), nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    ]


def _service_cloud_customers() -> list[sa.Column]:
    return [
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
        sa.Column("checked_by", sa.String(200), nullable=False),
    ]


def _cloud_job_days() -> list[sa.Column]:
    return [
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("ops_low", sa.BigInteger, nullable=False),
        sa.Column("ops_mid", sa.BigInteger, nullable=False),
        sa.Column("ops_high", sa.BigInteger, nullable=False),
        sa.Column("bio_ops_mid", sa.BigInteger, nullable=False),
        sa.Column("accelerator_seconds", sa.BigInteger, nullable=False),
        sa.Column("first_us", sa.BigInteger, nullable=False),
        sa.Column("last_end_us", sa.BigInteger, nullable=False),
        sa.Column("parent_job", sa.String(200), nullable=True),
    ]


def _cloud_capacity() -> list[sa.Column]:
    return [
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("capacity_units", sa.BigInteger, nullable=False),
        sa.Column("accelerator_seconds", sa.BigInteger, nullable=False),
        sa.Column("network_gbps", sa.Float, nullable=True),
    ]


def _cloud_seen_rows() -> list[sa.Column]:
    return [
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("batch_id", sa.Integer, nullable=False),
    ]


def _cloud_batches() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("rows_accepted", sa.BigInteger, nullable=False),
        sa.Column("rows_rejected", sa.BigInteger, nullable=False),
        sa.Column("rows_duplicate", sa.BigInteger, nullable=False),
    ]


def _cloud_batch_reforms() -> list[sa.Column]:
    # batch_id keeps SQLAlchemy's default autoincrement, as create_all made it (SERIAL on
    # PostgreSQL); the monitor always gives it.
    return [
        sa.Column("batch_id", sa.Integer, primary_key=True),
        sa.Column("reform_id", sa.String(200), nullable=False),
        sa.Column("reform_of", sa.String(200), nullable=False),
        sa.Column("reform_hash", sa.String(64), nullable=False),
    ]


#: Every table of this revision, in creation order, with its columns.
TABLES: dict[str, Callable[[], list[sa.Column]]] = {
    "service_api_keys": _service_api_keys,
    "service_cloud_customers": _service_cloud_customers,
    "cloud_job_days": _cloud_job_days,
    "cloud_capacity": _cloud_capacity,
    "cloud_seen_rows": _cloud_seen_rows,
    "cloud_batches": _cloud_batches,
    "cloud_batch_reforms": _cloud_batch_reforms,
}


def upgrade() -> None:
    from sluicegate.ledger.errors import DatabaseNotReady

    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    # Tables made by create_all before this revision are kept, rows and all, if the code can use
    # them; every one is checked before anything is created.
    for name in sorted(existing & TABLES.keys()):
        have = {c["name"] for c in inspector.get_columns(name)}
        missing = [c.name for c in TABLES[name]() if c.name not in have]
        if missing:
            raise DatabaseNotReady(
                "database_url",
                f"table {name} exists but has no column {', '.join(missing)}: it was made by an "
                "older development build of sluicegate; move its rows aside and drop it, then "
                "run `sluice db upgrade` again (nothing was changed)",
            )
    for name, columns in TABLES.items():
        if name not in existing:
            op.create_table(name, *columns())


def downgrade() -> None:
    """Nothing to undo: the tables stay, with their rows (see the module's docstring)."""
