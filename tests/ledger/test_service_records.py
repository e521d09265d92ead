"""``Ledger.append_records`` / ``latest_records`` (the HTTP service's ``decision`` and ``api-call``
records): chained like every record, ignored by the pool replay, and no way to forge a ledger
event through them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from sluicegate.ledger import LedgerInputError
from sluicegate.ledger.audit import AuditEntry

TXN = {
    "id": "o-1",
    "date": "2025-06-01",
    "destination": "IN",
    "item": {"chip": "nvidia-h100-sxm"},
    "quantity": 100,
    "consignee": {"id": "acme-in"},
}


def test_service_records_are_chained_and_replay_ignores_them(ledger: Any, db_url: str) -> None:
    held = ledger.reserve([TXN], regime="us-2025-01-13-ai-diffusion")[0]
    call = AuditEntry(
        kind="api-call",
        actor="api-key:ops (compliance)",
        consignee="acme-in",
        event={"method": "POST", "path": "/v1/ledger/reservations", "status": 201},
    )
    decision = AuditEntry(kind="decision", actor="api-key:ops (compliance)", event={"x": 1})
    head = ledger.append_records([call, decision])
    assert head == 3
    assert ledger.append_records([]) == -1
    report = ledger.verify_audit()
    assert report.intact and report.records == 3
    newest = ledger.latest_records(["api-call", "decision"], limit=1)
    assert [(r["seq"], r["kind"], r["event"]) for r in newest] == [(3, "decision", {"x": 1})]
    assert [r["seq"] for r in ledger.latest_records(["api-call"], consignees=["acme-in"])] == [2]
    assert ledger.latest_records(["api-call"], consignees=["other"]) == []
    mine = ledger.latest_records(["reserve"], reservation=held["reservation"]["id"])
    assert [r["kind"] for r in mine] == ["reserve"]
    with pytest.raises(LedgerInputError) as refused:
        ledger.append_records([AuditEntry(kind="reserve", actor="x", event={"draws": []})])
    assert refused.value.field == "kind"
    assert ledger.verify_audit().records == 3  # nothing written
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"))
    engine.dispose()
    broken = ledger.verify_audit()
    assert not broken.intact and broken.problems[0]["seq"] == 2
