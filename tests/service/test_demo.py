"""``sluice serve --demo`` content, on SQLite and PostgreSQL: every page gets something to show,
and a second run adds nothing (no doubled reservations, telemetry counted once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.service.conftest import database_url

from sluicegate.ledger import Ledger
from sluicegate.service.demo import CONFIRM, RELEASE, seed_demo
from sluicegate.service.settings import Settings
from sluicegate.service.store import Store


def _snapshot(url: str) -> dict[str, Any]:
    with Ledger(url, create=False) as ledger:
        pools = {
            p["pool"]: (p["used"], p["held"], p["confirmed"]) for p in ledger.balance()["pools"]
        }
        kinds = [e["kind"] for e in ledger.history()]
        intact = ledger.verify_audit().intact
    customers = [(c["account"], c["outcome"]) for c in Store(url).kyc_records()]
    return {"pools": pools, "kinds": kinds, "intact": intact, "customers": customers}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_is_seeded_once(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = database_url(request, backend, tmp_path)
    settings = Settings(database_url=url, jobs_dir=tmp_path / "jobs")
    first = seed_demo(settings)
    assert first["ledger"]["reservations"] == 16 and not first["ledger"]["already_seeded"]
    assert first["cloud"] == {"customers": 8, "telemetry_rows_new": 337, "alerts": 6}
    after_one = _snapshot(url)
    assert after_one["intact"]
    assert after_one["kinds"].count("reserve") == 16
    assert after_one["kinds"].count("confirm") == len(CONFIRM)
    assert after_one["kinds"].count("release") == len(RELEASE)
    assert any(used > 0 for used, _, _ in after_one["pools"].values())
    assert len(after_one["customers"]) == 8
    second = seed_demo(settings)
    assert second["ledger"]["already_seeded"] == 1
    assert second["cloud"]["telemetry_rows_new"] == 0
    assert _snapshot(url) == after_one
