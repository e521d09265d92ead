"""Demo content for ``sluice serve --demo`` (``make run``): every page has something to show.

``seed_demo(settings)`` fills the server's database, idempotently — a second run changes
nothing the first one made (reservations carry idempotency keys, a confirmation or release is
made only while the reservation is still held, KYC keeps the latest check per account, and the
monitor counts a telemetry row it has seen once):

- the ledger: the bundled order book (``sluicegate/examples/orders.jsonl``) reserved under the
  AI Diffusion Framework (the regime with quota pools, a what-if), orders a pool cannot hold left
  out as the API would refuse them; two shipped (confirmed) and one cancelled (released);
- cloud: the invented customers of ``sluicegate.cloud.sample`` checked (KYC as of 2025-03-01)
  and their telemetry folded into the monitor, so that every alert kind appears.

Everything is recorded in the audit chain with the actor ``demo``.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from sluicegate.service.settings import Settings

DEMO_REGIME = "us-2025-01-13-ai-diffusion"
DEMO_ACTOR = "demo (sluice serve --demo)"
CONFIRM = ("ord-001", "ord-003")
RELEASE = ("ord-005",)
KYC_DATE = "2025-03-01"


def _orders() -> list[dict[str, Any]]:
    from sluicegate.rules.table import parse_json_lines

    text = (resources.files("sluicegate") / "examples" / "orders.jsonl").read_text("utf-8")
    records: list[dict[str, Any]] = parse_json_lines(text.splitlines())
    return records


def seed_ledger(url: str) -> dict[str, int]:
    """Reserve the demo order book; confirm and release a few. Returns counts.

    The last step is a release by the demo actor: once the ledger holds one, the demo is there
    and nothing is done. A run cut short is completed by the next one (reservations it made are
    replayed through their idempotency keys)."""
    from sluicegate.ledger import Ledger
    from sluicegate.rules import decide_records

    with Ledger(url, create=True, actor=DEMO_ACTOR) as ledger:
        events = ledger.history()
        mine = [e for e in events if e["actor"] == DEMO_ACTOR]
        if any(e["kind"] == "release" for e in mine):
            return {"reservations": 0, "left_out": 0, "already_seeded": 1}
        before = {e["transaction_id"] for e in mine if e["kind"] == "reserve"}
        ids: dict[str, str] = {}
        refused = 0
        for order in _orders():
            if order["id"] not in before:
                preview = decide_records(
                    [order], regime=DEMO_REGIME, quota=ledger.quota_book(), trace=False
                )[0]
                if "error" in preview or (preview.get("quota") or {}).get("drawn") is False:
                    refused += 1  # the API would refuse it (409): nothing held
                    continue
            decision = ledger.reserve(
                [order], regime=DEMO_REGIME, idempotency_key=f"demo:{order['id']}"
            )[0]
            ids[order["id"]] = decision["reservation"]["id"]
        for verb, orders in (("confirm", CONFIRM), ("release", RELEASE)):
            for order_id in orders:
                reservation = ids.get(order_id)
                if reservation is None:
                    continue
                if ledger.history(reservation=reservation)[-1]["kind"] == "reserve":
                    getattr(ledger, verb)(reservation)
    return {"reservations": len(ids), "left_out": refused, "already_seeded": 0}


def seed_cloud(settings: Settings) -> dict[str, int]:
    """KYC of the sample customers (kept for the monitor) and their telemetry folded in."""
    import datetime as dt

    from sluicegate.cloud import check_customer, parse_customer
    from sluicegate.cloud.sample import write_sample
    from sluicegate.service.jobs import run_telemetry
    from sluicegate.service.store import Store

    store = Store(settings.database_url)
    checked = []
    with tempfile.TemporaryDirectory(prefix="sluice-demo-") as tmp:
        files = write_sample(tmp)
        from sluicegate.cloud import load_customers

        customers, _bad = load_customers(str(files["customers"]))
        for customer in customers:
            result = check_customer(customer, as_of=dt.date.fromisoformat(KYC_DATE))
            checked.append((customer.model_dump(mode="json", exclude_none=True), result))
        store.save_kyc(checked, DEMO_ACTOR)
        body = run_telemetry(
            Path(files["telemetry"]),
            [parse_customer(r).model_dump(mode="json", exclude_none=True) for r, _ in checked],
            settings.database_url,
            settings.jobs_dir / "telemetry.lock",
            None,
            None,
        )
    store.engine.dispose()
    assert body is not None
    return {
        "customers": len(checked),
        "telemetry_rows_new": int(body["summary"]["rows_accepted"]),
        "alerts": len(body["alerts"]),
    }


def seed_demo(settings: Settings) -> dict[str, Any]:
    """Fill the database of ``settings`` with the demo content (idempotent)."""
    return {"ledger": seed_ledger(settings.database_url), "cloud": seed_cloud(settings)}
