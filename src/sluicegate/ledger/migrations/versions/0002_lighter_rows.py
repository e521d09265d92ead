"""Lighter rows for every reservation: the decision stored once, and (PostgreSQL) the audit
event compressed with lz4.

``ledger_reservations.decision_json`` held a second copy of the decision (with its trace, about
9 kB) that the audit record of the reservation (``audit_log.event``, kind ``reserve``) already
holds — and there under the hash chain. Nothing read the copy; writing it doubled the bytes of
every reservation. Downgrading restores the column from the audit records.

On PostgreSQL (14 or newer, built with lz4) ``audit_log.event`` is compressed with lz4 instead
of pglz: about half the server CPU of storing a reservation's event, for a third more bytes.
The stored text, and so every hash, is unchanged; existing rows keep their compression.

Revision ID: 0002_lighter_rows
Revises: 0001_ledger_initial
Create Date: 2027-01-04
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002_lighter_rows"
down_revision = "0001_ledger_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        import sqlite3

        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} cannot drop a column; 3.35 or newer is needed"
            )
    # ALTER TABLE ... DROP COLUMN in place (SQLite >= 3.35): copying the table would trip over
    # the foreign keys that point at it.
    with op.batch_alter_table("ledger_reservations", recreate="never") as batch:
        batch.drop_column("decision_json")
    if bind.dialect.name == "postgresql" and _lz4(bind):
        op.execute("ALTER TABLE audit_log ALTER COLUMN event SET COMPRESSION lz4")


def _lz4(bind: sa.engine.Connection) -> bool:
    """Can this server compress with lz4 (PostgreSQL 14+, built --with-lz4)?"""
    values = bind.execute(
        sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return "lz4" in (values or [])


def downgrade() -> None:
    from sluicegate.ledger.audit import canonical_json

    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _lz4(bind):
        op.execute("ALTER TABLE audit_log ALTER COLUMN event SET COMPRESSION DEFAULT")
    with op.batch_alter_table("ledger_reservations", recreate="never") as batch:
        batch.add_column(sa.Column("decision_json", sa.Text, nullable=False, server_default="{}"))
    rows = bind.execute(
        sa.text("SELECT reservation_id, event FROM audit_log WHERE kind = 'reserve'")
    ).all()
    for reservation_id, event in rows:
        decision = json.loads(event).get("decision")
        bind.execute(
            sa.text("UPDATE ledger_reservations SET decision_json = :d WHERE id = :id"),
            {"d": canonical_json(decision), "id": reservation_id},
        )
