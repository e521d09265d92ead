"""`sluice decide --ledger`: decisions read the balances the ledger holds and are audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sluicegate.cli import app

runner = CliRunner()
DIFF = "us-2025-01-13-ai-diffusion"


def order(oid: str, date: str, qty: int) -> str:
    return json.dumps(
        {
            "id": oid,
            "date": date,
            "destination": "IN",
            "item": {"chip": "nvidia-h100-sxm"},
            "quantity": qty,
            "consignee": {"id": "acme"},
        }
    )


def test_decide_reads_ledger_balances_and_appends_to_the_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    missing = runner.invoke(
        app, ["decide", "-", "--regime", DIFF, "--ledger"], input=order("q0", "2025-07-01", 10)
    )
    assert missing.exit_code == 2 and "db upgrade" in missing.stderr
    reserved = runner.invoke(
        app,
        ["ledger", "reserve", "-", "--regime", DIFF, "--no-trace"],
        input=order("r1", "2025-06-01", 1500),
    )
    assert reserved.exit_code == 0, reserved.output
    assert json.loads(reserved.stdout)["authorization"] == "LPP"
    without = runner.invoke(
        app, ["decide", "-", "--regime", DIFF, "--no-trace"], input=order("q1", "2025-07-01", 500)
    )
    assert json.loads(without.stdout)["authorization"] == "LPP"  # no ledger: an empty book
    with_ledger = runner.invoke(
        app,
        ["decide", "-", "--regime", DIFF, "--no-trace", "--ledger"],
        input=order("q1", "2025-07-01", 500),
    )
    assert with_ledger.exit_code == 0, with_ledger.output
    decision = json.loads(with_ledger.stdout)
    assert decision["authorization"] == "LICENSE"  # 1,500 + 500 H100 > 26.9M TPP
    verify = runner.invoke(app, ["audit", "verify"])
    assert verify.exit_code == 0
    assert json.loads(verify.stdout)["records"] == 2  # the reservation and the logged decision
