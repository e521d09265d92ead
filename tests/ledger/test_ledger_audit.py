"""The audit chain: intact after ordinary work; a record modified, deleted, inserted or reordered
directly in the database (or cut from the end, or a balance edited) is detected and located.
Export by date range as JSON Lines and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from ledger_helpers import REGIME, txn
from sqlalchemy import create_engine, select, text

from sluicegate.ledger import Ledger
from sluicegate.ledger.audit import record_hash
from sluicegate.ledger.schema import audit_log


@pytest.fixture
def worked(ledger: Ledger) -> Ledger:
    """A ledger with five audit records."""
    a, b, _c = ledger.reserve([txn("a", 10), txn("b", 20), txn("c", 30)], regime=REGIME)
    ledger.confirm(a["reservation"]["id"])
    ledger.release(b["reservation"]["id"])
    assert ledger.verify_audit().records == 5
    return ledger


def _sql(ledger: Ledger, *statements: str) -> None:
    engine = create_engine(ledger.url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def _problems(ledger: Ledger) -> list[dict[str, Any]]:
    report = ledger.verify_audit()
    assert not report.intact
    return report.problems


def test_intact_chain_verifies(worked: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    report = worked.verify_audit()
    assert report.intact and report.head_seq == 5 and report.retention_years == 5
    assert report.past_retention == 0
    monkeypatch.setenv("SLUICE_AUDIT_RETENTION_YEARS", "0")
    assert worked.verify_audit().past_retention == 5  # reported, never deleted
    assert worked.verify_audit().records == 5


def test_modified_record_is_detected(worked: Ledger) -> None:
    _sql(worked, "UPDATE audit_log SET event = replace(event, '\"b\"', '\"z\"') WHERE seq = 2")
    problems = _problems(worked)
    assert problems[0]["seq"] == 2 and "modified" in problems[0]["problem"]


def test_modified_actor_is_detected(worked: Ledger) -> None:
    _sql(worked, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 4")
    assert _problems(worked)[0]["seq"] == 4


def test_deleted_record_is_detected(worked: Ledger) -> None:
    _sql(worked, "DELETE FROM audit_log WHERE seq = 3")
    problems = _problems(worked)
    assert problems[0]["seq"] == 4 and "missing" in problems[0]["problem"]


def test_truncated_tail_is_detected(worked: Ledger) -> None:
    _sql(worked, "DELETE FROM audit_log WHERE seq = 5")
    problems = _problems(worked)
    assert any("cut from the end" in p["problem"] for p in problems)


def test_inserted_record_is_detected(worked: Ledger) -> None:
    # Make room at seq 2 and insert a forged record whose own hash is computed correctly.
    engine = create_engine(worked.url)
    with engine.begin() as connection:
        first = dict(
            connection.execute(select(audit_log).where(audit_log.c.seq == 1)).one()._mapping
        )
        connection.execute(text("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 2"))
        connection.execute(text("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000"))
        forged = dict(first, seq=2, actor="mallory", prev_hash=first["hash"])
        forged["hash"] = record_hash(forged["prev_hash"], forged)
        connection.execute(audit_log.insert().values(**forged))
    engine.dispose()
    problems = _problems(worked)
    assert problems[0]["seq"] == 3 and "prev_hash" in problems[0]["problem"]


def test_reordered_records_are_detected(worked: Ledger) -> None:
    _sql(
        worked,
        "UPDATE audit_log SET seq = -2 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = -2",
    )
    problems = _problems(worked)
    assert problems[0]["seq"] == 2 and "prev_hash" in problems[0]["problem"]


def test_balance_edited_outside_the_ledger_is_detected(worked: Ledger) -> None:
    _sql(worked, "UPDATE ledger_pools SET used = 0")
    problems = _problems(worked)
    assert problems[0]["pool"].startswith("lpp:") and "outside sluicegate" in problems[0]["problem"]


def test_export_jsonl_and_csv_by_date(worked: Ledger) -> None:
    today = dt.datetime.now(dt.UTC).date()
    out = io.StringIO()
    assert worked.export_audit(out, start=today, end=today, fmt="jsonl") == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0]["event"]["transaction"]["id"] == "a"
    assert all(len(line["hash"]) == 64 for line in lines)
    out = io.StringIO()
    assert worked.export_audit(out, fmt="csv") == 5
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["kind"] for row in rows] == ["reserve", "reserve", "reserve", "confirm", "release"]
    tomorrow = today + dt.timedelta(days=1)
    assert worked.export_audit(io.StringIO(), start=tomorrow) == 0
    assert worked.export_audit(io.StringIO(), end=today - dt.timedelta(days=1)) == 0


def test_decisions_without_quota_are_chained_too(ledger: Ledger) -> None:
    record = txn("look", 3)
    decision = {"id": "look", "regime": {"id": REGIME, "status": "what-if"}, "quota": None}
    assert ledger.log_decisions([record], [decision]) == 1
    [entry] = ledger.history(kind="decision")
    assert entry["consignee"] == "acme-in" and entry["draws"] == []
    report = ledger.verify_audit()
    assert report.intact and report.records == 1
