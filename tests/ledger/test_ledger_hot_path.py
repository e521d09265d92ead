"""The reserve path's own transaction handling (``database.run_transaction(hot=True)``): raw DBAPI
connections handed back to the pool as they were found, PostgreSQL group commit with its
durability barrier, a failed barrier never retried, and schema revision 0002 (the decision
stored once, in the audit record) upgraded and downgraded without losing a decision."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ledger_helpers import REGIME, txn
from sqlalchemy import inspect, text

from sluicegate.ledger import Ledger, database
from sluicegate.ledger.audit import canonical_json
from sluicegate.ledger.errors import DatabaseNotReady, InvalidRecords, LedgerInputError


def _pooled_state(ledger: Ledger) -> list[Any]:
    """The state of every connection the ledger's pool holds."""
    states = []
    raws = []
    pool = ledger.engine.pool
    for _ in range(pool.checkedin()):
        raw = ledger.engine.raw_connection()
        raws.append(raw)
        driver: Any = raw.driver_connection
        if ledger.engine.dialect.name == "postgresql":
            states.append((driver.autocommit, int(driver.pgconn.transaction_status)))
        else:
            states.append((driver.isolation_level, driver.in_transaction))
    for raw in raws:
        raw.close()
    return states


def test_pooled_connections_come_back_as_they_were(ledger: Ledger, backend: str) -> None:
    ledger.reserve([txn("ok", 2)], regime=REGIME, idempotency_key="k")
    with pytest.raises(InvalidRecords):
        ledger.reserve([txn("bad", 0)], regime=REGIME)
    with pytest.raises(LedgerInputError):
        ledger.reserve([txn("other", 3)], regime=REGIME, idempotency_key="k")
    clean = (False, 0) if backend == "postgresql" else (None, False)
    assert _pooled_state(ledger) and all(s == clean for s in _pooled_state(ledger))
    # The other operations (SQLAlchemy transactions on the same pool) stay atomic.
    rid = ledger.history()[-1]["reservation_id"]
    ledger.release(rid)
    with pytest.raises(LedgerInputError):
        ledger.release(rid)
    assert ledger.verify_audit().intact
    assert len(ledger.history()) == 2


def test_a_failing_audit_append_leaves_nothing_written(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reserve path does not wait for the audit append's answer (on PostgreSQL it reaches
    the server in one flush with the COMMIT): an append the server refuses still aborts the whole
    reservation — no pool drawn, no reservation, no record — and the error reaches the caller."""
    from sqlalchemy.exc import DBAPIError

    from sluicegate.ledger import sql

    ledger.reserve([txn("kept", 1)], regime=REGIME)
    before = ledger.balance()["pools"]
    dialect = ledger.engine.dialect.name
    name = "audit_append_pg" if dialect == "postgresql" else "audit_insert"
    broken = dict(sql._RENDERED[dialect])
    broken[name] = (
        "SELECT 1 / 0" if dialect == "postgresql" else "INSERT INTO no_such_table VALUES (1)"
    )
    monkeypatch.setitem(sql._RENDERED, dialect, broken)
    with pytest.raises(DBAPIError):
        ledger.reserve([txn("lost", 1)], regime=REGIME)
    monkeypatch.undo()
    assert ledger.balance()["pools"] == before
    assert [h["transaction_id"] for h in ledger.history()] == ["kept"]
    assert ledger.verify_audit().intact
    ledger.reserve([txn("after", 1)], regime=REGIME)  # the pooled connection is healthy
    assert [h["transaction_id"] for h in ledger.history()] == ["kept", "after"]


def test_durability_barrier_takes_a_transaction_id_and_writes_wal(db_url: str) -> None:
    """PostgreSQL flushes the WAL at commit only for a transaction that has an id *and* wrote
    WAL; ``pg_current_xact_id()`` alone would give no flush (the barrier would be void)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL group commit")
    engine = database.make_engine(db_url)
    try:
        with engine.connect() as connection:
            before = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()").scalar()
            connection.exec_driver_sql(database.DURABILITY_BARRIER)
            xid = connection.exec_driver_sql("SELECT pg_current_xact_id_if_assigned()").scalar()
            grew = connection.exec_driver_sql(
                "SELECT pg_current_wal_insert_lsn() > %(before)s::pg_lsn", {"before": before}
            ).scalar()
            setting = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            connection.rollback()
        assert xid is not None and grew is True
        assert setting != "off"  # the barrier commits under the server's own setting
    finally:
        engine.dispose()


def test_group_commit_setting(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL group commit")
    with Ledger(db_url, actor="t") as ledger:
        ledger.reserve([txn("g", 1)], regime=REGIME)
        assert ledger._group_commit is True
    monkeypatch.setenv("SLUICE_POSTGRES_COMMIT", "sync")
    with Ledger(db_url, actor="t") as ledger:
        ledger.reserve([txn("s", 1)], regime=REGIME)
        assert ledger._group_commit is False
        assert ledger.verify_audit().intact and len(ledger.history()) == 2
    monkeypatch.setenv("SLUICE_POSTGRES_COMMIT", "sometimes")
    with pytest.raises(DatabaseNotReady, match="SLUICE_POSTGRES_COMMIT"):
        Ledger(db_url)


def test_a_failed_barrier_is_reported_and_never_retried(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reservation is committed before the barrier runs: if the barrier fails the caller
    is told so, and the reservation is not made a second time by the retry loop."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL group commit")
    with Ledger(db_url, actor="t") as ledger:
        ledger.reserve([txn("first", 1)], regime=REGIME)
        monkeypatch.setattr(database, "DURABILITY_BARRIER", "SELECT 1 / 0")
        with pytest.raises(database.CommitUnconfirmed, match="was committed"):
            ledger.reserve([txn("second", 1)], regime=REGIME)
        monkeypatch.undo()
        history = ledger.history()
        assert [h["transaction_id"] for h in history] == ["first", "second"]
        assert ledger.verify_audit().intact
        ledger.reserve([txn("third", 1)], regime=REGIME)  # the pool is healthy afterwards
        assert len(ledger.history()) == 3


def test_revision_0002_keeps_every_decision_and_compresses_events(db_url: str) -> None:
    """Downgrading to 0001 rebuilds ``ledger_reservations.decision_json`` from the audit
    records; upgrading again drops it (and, on PostgreSQL, compresses audit events with lz4);
    the chain verifies throughout."""
    from alembic import command

    with Ledger(db_url, actor="t") as ledger:
        decisions = ledger.reserve([txn(f"o-{i}", 1 + i) for i in range(3)], regime=REGIME)
        decisions += ledger.reserve([txn("uveu", 5, authorizations=["UVEU"], headquarters="US")])
        engine = ledger.engine
        with engine.begin() as connection:
            command.downgrade(database._alembic_config(connection), "0001_ledger_initial")
        with engine.connect() as connection:
            rows = dict(
                connection.execute(text("SELECT id, decision_json FROM ledger_reservations")).all()
            )
        for decision in decisions:
            stored = json.loads(rows[decision["reservation"]["id"]])
            assert stored == decision
            assert rows[decision["reservation"]["id"]] == canonical_json(decision)
        database.upgrade(engine)
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("ledger_reservations")}
        assert "decision_json" not in columns
        if db_url.startswith("postgresql"):
            with engine.connect() as connection:
                compression = connection.exec_driver_sql(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = 'audit_log'::regclass AND attname = 'event'"
                ).scalar()
            assert compression == "l"  # lz4 (this server is built with it)
        assert ledger.verify_audit().intact
        ledger.reserve([txn("after", 1)], regime=REGIME)
        assert ledger.verify_audit().intact


def test_a_batch_is_decided_once_unless_a_pool_moves(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL learns a multi-record call's pools from an unlocked probe, then locks them in
    key order. When every locked pool holds what the probe read, the probe's decisions stand (the
    engine runs once); when another writer drew on one in between, the engine decides again
    under the locks, and the committed decisions show the balance they were taken on."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the probe of a multi-record call is PostgreSQL's (SQLite locks it all)")
    from sluicegate import rules
    from sluicegate.ledger import book as book_module

    engine_calls: list[int] = []
    traced: list[bool] = []
    decide = rules.decide_records

    def counting(records: Any, **kwargs: Any) -> Any:
        engine_calls.append(len(records))
        traced.append(bool(kwargs.get("trace", True)))
        return decide(records, **kwargs)

    monkeypatch.setattr(rules, "decide_records", counting)
    with Ledger(db_url, actor="t") as ledger, Ledger(db_url, actor="other") as other:
        ledger.reserve([txn("first", 2)], regime=REGIME)
        engine_calls.clear()
        quiet = ledger.reserve([txn("a", 3), txn("b", 4, consignee="beta-in")], regime=REGIME)
        assert engine_calls == [2]  # the probe's decisions were kept
        assert quiet[0]["quota"]["used_before"] == 2 * 15832.0

        # Another writer draws on acme-in's pool after the probe has read it.
        probe_used = book_module.ProbeQuotaBook.used
        moved: list[str] = []

        def probe_then_move(self: Any, pool: str) -> float:
            value = probe_used(self, pool)
            if pool.startswith("lpp:acme-in") and not moved:
                moved.append(pool)
                other.reserve([txn("between", 10)], regime=REGIME)
            return value

        monkeypatch.setattr(book_module.ProbeQuotaBook, "used", probe_then_move)
        engine_calls.clear()
        busy = ledger.reserve([txn("c", 1), txn("d", 1, consignee="beta-in")], regime=REGIME)
        # The probe (2 records), the other writer's reservation (1), then the same two records
        # decided again under the locks.
        assert moved and engine_calls == [2, 1, 2]
        # "c" was decided on acme-in's balance after "between": 2 + 3 + 10 H100.
        assert busy[0]["quota"]["used_before"] == 15 * 15832.0
        assert busy[1]["quota"]["used_before"] == 4 * 15832.0
        assert ledger.verify_audit().intact
        pools = {p["pool"]: p for p in ledger.balance()["pools"]}
        assert pools["lpp:acme-in:2025"]["used"] == 16 * 15832.0

        # After probes that mostly could not be kept, the probe skips the trace (it would be
        # rendered twice); the decisions still carry it, and a quiet spell brings it back.
        monkeypatch.setattr(book_module.ProbeQuotaBook, "used", probe_used)
        ledger._probe_kept = 0.1
        engine_calls.clear()
        traced.clear()
        cheap = ledger.reserve([txn("e", 1), txn("f", 1, consignee="beta-in")], regime=REGIME)
        assert engine_calls == [2, 2] and traced == [False, True]
        assert all(decision["trace"] for decision in cheap)
        for i in range(8):
            ledger.reserve([txn(f"g{i}", 1), txn(f"h{i}", 1, consignee="beta-in")], regime=REGIME)
        engine_calls.clear()
        ledger.reserve([txn("i", 1), txn("j", 1, consignee="beta-in")], regime=REGIME)
        assert engine_calls == [2]
        assert ledger.verify_audit().intact
