"""Ledger and audit log: pools, reservations, draws, attrition, UVEU deployments, audit chain.

Revision ID: 0001_ledger_initial
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger_initial"
down_revision = None
branch_labels = None
depends_on = None

TPP = sa.Float(53)


def upgrade() -> None:
    op.create_table(
        "ledger_pools",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("consignee", sa.String(512)),
        sa.Column("country", sa.String(64)),
        sa.Column("period", sa.String(64)),
        sa.Column("limit_tpp", TPP),
        sa.Column("limit_as_of", sa.String(10)),
        sa.Column("used", TPP, nullable=False, server_default="0"),
        sa.Column("attrition", TPP, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ledger_requests",
        sa.Column("idempotency_key", sa.String(256), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ledger_reservations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(256)),
        sa.Column("transaction_id", sa.String(512)),
        sa.Column("consignee", sa.String(512)),
        sa.Column("destination", sa.String(64)),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("regime_id", sa.String(128)),
        sa.Column("authorization", sa.String(32)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tpp_total", TPP),
        sa.Column("transaction_json", sa.Text, nullable=False),
        sa.Column("decision_json", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_ledger_reservations_consignee", "ledger_reservations", ["consignee"])
    op.create_index(
        "ix_ledger_reservations_idempotency_key", "ledger_reservations", ["idempotency_key"]
    )
    op.create_table(
        "ledger_draws",
        sa.Column(
            "reservation_id",
            sa.String(64),
            sa.ForeignKey("ledger_reservations.id"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("pool", sa.String(512), sa.ForeignKey("ledger_pools.key"), nullable=False),
        sa.Column("amount", TPP, nullable=False),
        sa.Column("limit_tpp", TPP),
    )
    op.create_index("ix_ledger_draws_pool", "ledger_draws", ["pool"])
    op.create_table(
        "ledger_attrition",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pool", sa.String(512), sa.ForeignKey("ledger_pools.key"), nullable=False),
        sa.Column("amount", TPP, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ledger_uveu_deployments",
        sa.Column(
            "reservation_id",
            sa.String(64),
            sa.ForeignKey("ledger_reservations.id"),
            primary_key=True,
        ),
        sa.Column("company", sa.String(512), nullable=False),
        sa.Column("headquarters", sa.String(64)),
        sa.Column("country", sa.String(64), nullable=False),
        sa.Column("tier", sa.Integer),
        sa.Column("tpp", TPP, nullable=False),
    )
    op.create_index("ix_ledger_uveu_deployments_company", "ledger_uveu_deployments", ["company"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reservation_id", sa.String(64)),
        sa.Column("consignee", sa.String(512)),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("regime_id", sa.String(128)),
        sa.Column("regime_hash", sa.String(64)),
        sa.Column("reform_hash", sa.String(64)),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_recorded_at", "audit_log", ["recorded_at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_log",
        "ledger_uveu_deployments",
        "ledger_attrition",
        "ledger_draws",
        "ledger_reservations",
        "ledger_requests",
        "ledger_pools",
    ):
        op.drop_table(table)
