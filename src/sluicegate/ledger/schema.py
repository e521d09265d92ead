"""Table definitions of the quota ledger and audit log (SQLAlchemy Core).

The Alembic migrations in ``migrations/versions`` create exactly these tables; the ledger code
(``core``, ``audit``, ``book``) reads and writes them through these objects so that SQLite and
PostgreSQL run the same statements. Amounts are TPP held as double precision (integers are exact
up to 2**53, far above any cap).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: One row per quota pool the rules engine has touched. ``used`` is what the engine sees as held
#: (held + confirmed draws); ``attrition`` is NVEU installed base lost (748.15(a)(2)(iii)(B)).
pools = Table(
    "ledger_pools",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("consignee", String(512)),
    Column("country", String(64)),
    Column("period", String(64)),
    Column("limit_tpp", Float(53)),
    Column("limit_as_of", String(10)),
    Column("used", Float(53), nullable=False, default=0.0, server_default="0"),
    Column("attrition", Float(53), nullable=False, default=0.0, server_default="0"),
    Column("updated_at", String(40), nullable=False),
)

#: One row per reserve call carrying an idempotency key: the stored answer is replayed.
requests = Table(
    "ledger_requests",
    metadata,
    Column("idempotency_key", String(256), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

#: One row per reserved transaction (a decision committed to the ledger; the decision with its
#: trace is the ``event`` of the reservation's ``reserve`` audit record).
reservations = Table(
    "ledger_reservations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("idempotency_key", String(256)),
    Column("transaction_id", String(512)),
    Column("consignee", String(512)),
    Column("destination", String(64)),
    Column("date", String(10), nullable=False),
    Column("regime_id", String(128)),
    Column("authorization", String(32)),
    Column("state", String(16), nullable=False),
    Column("tpp_total", Float(53)),
    Column("transaction_json", Text, nullable=False),
    # The decision itself is in the reservation's audit record (audit_log.event), once.
    Column("actor", String(256), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)
Index("ix_ledger_reservations_consignee", reservations.c.consignee)
Index("ix_ledger_reservations_idempotency_key", reservations.c.idempotency_key)

#: Each amount a reservation holds in a pool, with the limit the engine read from the regime.
draws = Table(
    "ledger_draws",
    metadata,
    Column("reservation_id", String(64), ForeignKey("ledger_reservations.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("pool", String(512), ForeignKey("ledger_pools.key"), nullable=False),
    Column("amount", Float(53), nullable=False),
    Column("limit_tpp", Float(53)),
)
Index("ix_ledger_draws_pool", draws.c.pool)

#: NVEU attrition events (loss, damage, failure, relocation, resale).
attrition = Table(
    "ledger_attrition",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pool", String(512), ForeignKey("ledger_pools.key"), nullable=False),
    Column("amount", Float(53), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("date", String(10), nullable=False),
    Column("note", Text),
    Column("actor", String(256), nullable=False),
    Column("created_at", String(40), nullable=False),
)

#: UVEU deployments: installed compute by company and destination, for the location ratios.
deployments = Table(
    "ledger_uveu_deployments",
    metadata,
    Column("reservation_id", String(64), ForeignKey("ledger_reservations.id"), primary_key=True),
    Column("company", String(512), nullable=False),
    Column("headquarters", String(64)),
    Column("country", String(64), nullable=False),
    Column("tier", Integer),
    Column("tpp", Float(53), nullable=False),
)
Index("ix_ledger_uveu_deployments_company", deployments.c.company)

#: The audit chain. ``seq`` has no gaps; ``hash`` = SHA-256 over the previous hash and the
#: canonical JSON of the record (see ``audit.record_hash``).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("reservation_id", String(64)),
    Column("consignee", String(512)),
    Column("event", Text, nullable=False),
    Column("regime_id", String(128)),
    Column("regime_hash", String(64)),
    Column("reform_hash", String(64)),
    Column("software_version", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_recorded_at", audit_log.c.recorded_at)

#: The chain head, one row (id = 1). Appenders lock it, which serialises appends and lets
#: ``verify`` notice records cut from the end of the chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

GENESIS_HASH = "0" * 64
