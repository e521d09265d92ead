"""Hand-written SQL for the ledger's hot path (reserve and the audit append), run through
SQLAlchemy's ``exec_driver_sql`` to skip statement construction and compilation on every call.

Statements are written once with ``:name`` parameters (the sqlite3 style) and converted to
``%(name)s`` for psycopg. Row locks (``FOR UPDATE``) are added on PostgreSQL only: on SQLite the
transaction already holds the database write lock (``BEGIN IMMEDIATE``). The tables are those of
``schema``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_STATEMENTS: dict[str, str] = {
    "pool_lock": "SELECT used, attrition, kind FROM ledger_pools WHERE key = :key{lock}",
    "pool_peek": "SELECT used, attrition, kind FROM ledger_pools WHERE key = :key",
    "pool_create": (
        "INSERT INTO ledger_pools (key, kind, consignee, country, period, used, attrition, "
        "updated_at) VALUES (:key, :kind, :consignee, :country, :period, 0, 0, :now) "
        "ON CONFLICT (key) DO NOTHING"
    ),
    "pool_draw": (
        "UPDATE ledger_pools SET used = used + :amount, "
        "limit_tpp = COALESCE(:limit_tpp, limit_tpp), limit_as_of = :as_of, "
        "country = COALESCE(country, :country), updated_at = :now WHERE key = :key"
    ),
    "request_get": (
        "SELECT request_hash, response FROM ledger_requests WHERE idempotency_key = :key"
    ),
    "request_claim": (
        "INSERT INTO ledger_requests (idempotency_key, request_hash, response, created_at) "
        "VALUES (:key, :hash, '[]', :now)"
    ),
    "request_answer": (
        "UPDATE ledger_requests SET response = :response WHERE idempotency_key = :key"
    ),
    "reservation_insert": (
        "INSERT INTO ledger_reservations (id, idempotency_key, transaction_id, consignee, "
        'destination, date, regime_id, "authorization", state, tpp_total, transaction_json, '
        "actor, created_at, updated_at) VALUES (:id, :idempotency_key, "
        ":transaction_id, :consignee, :destination, :date, :regime_id, :authorization, :state, "
        ":tpp_total, :transaction_json, :actor, :created_at, :updated_at)"
    ),
    "draw_insert": (
        'INSERT INTO ledger_draws (reservation_id, "position", pool, amount, limit_tpp) '
        "VALUES (:reservation_id, :position, :pool, :amount, :limit_tpp)"
    ),
    "deployment_insert": (
        "INSERT INTO ledger_uveu_deployments (reservation_id, company, headquarters, country, "
        "tier, tpp) VALUES (:reservation_id, :company, :headquarters, :country, :tier, :tpp)"
    ),
    "deployments_of": (
        "SELECT d.country, d.tier, d.tpp FROM ledger_uveu_deployments d "
        "JOIN ledger_reservations r ON r.id = d.reservation_id "
        "WHERE d.company = :company AND r.state <> 'released'"
    ),
    "head_lock": "SELECT seq, hash FROM audit_head WHERE id = 1{lock}",
    "head_move": "UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1",
    "audit_insert": (
        "INSERT INTO audit_log (seq, recorded_at, kind, actor, reservation_id, consignee, event, "
        "regime_id, regime_hash, reform_hash, software_version, prev_hash, hash) VALUES (:seq, "
        ":recorded_at, :kind, :actor, :reservation_id, :consignee, :event, :regime_id, "
        ":regime_hash, :reform_hash, :software_version, :prev_hash, :hash)"
    ),
    # PostgreSQL only: the whole append in one statement (see audit._append_postgresql).
    "audit_append_pg": (
        "WITH head AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE), "
        "rec AS (SELECT head.seq + 1 AS seq, head.hash AS prev_hash, "
        "encode(sha256(convert_to(head.hash || E'\\n' || :prefix || (head.seq + 1)::text "
        "|| :suffix || E'\\n' || :event, 'UTF8')), 'hex') AS hash FROM head), "
        "ins AS (INSERT INTO audit_log (seq, recorded_at, kind, actor, reservation_id, "
        "consignee, event, regime_id, regime_hash, reform_hash, software_version, prev_hash, "
        "hash) SELECT rec.seq, :recorded_at, :kind, :actor, :reservation_id, :consignee, "
        ":event, :regime_id, :regime_hash, :reform_hash, :software_version, rec.prev_hash, "
        "rec.hash FROM rec RETURNING seq, hash) "
        "UPDATE audit_head SET seq = ins.seq, hash = ins.hash FROM ins WHERE audit_head.id = 1 "
        "RETURNING audit_head.seq"
    ),
}

_NAMED = re.compile(r"(?<!:):([a-z_]+)")


def _render(dialect: str) -> dict[str, str]:
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    out = {}
    for name, statement in _STATEMENTS.items():
        statement = statement.replace("{lock}", lock)
        if dialect == "postgresql":
            statement = _NAMED.sub(r"%(\1)s", statement)
        out[name] = statement
    return out


_RENDERED = {dialect: _render(dialect) for dialect in ("sqlite", "postgresql")}


def run(connection: Connection, name: str, params: Any = None) -> Any:
    """Execute the named statement on the connection's DBAPI cursor, inside the transaction
    SQLAlchemy has begun, with a dict (or a list of dicts: executemany). Returns the cursor
    (``fetchone()`` / ``fetchall()``). Skipping SQLAlchemy's result machinery on this path
    roughly halves the per-statement cost."""
    statement = _RENDERED[connection.dialect.name][name]
    # A HotConnection (database.run_transaction(hot=True)) lends one cursor for the whole
    # transaction (a psycopg cursor costs ~20 us to make); callers read a result at once.
    cursor = getattr(connection, "hot_cursor", None) or connection.connection.cursor()
    dbapi = connection.dialect.loaded_dbapi
    try:
        if isinstance(params, list):
            cursor.executemany(statement, params)
        else:
            cursor.execute(statement, params if params is not None else {})
    except dbapi.Error as exc:
        # Same exception classes as the rest of SQLAlchemy (IntegrityError, OperationalError).
        raise DBAPIError.instance(statement, params, exc, dbapi.Error) from exc
    return cursor
