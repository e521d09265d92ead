"""A tiny stand-in for ``sluicegate.rules.decide_records`` used only when the real rules engine is
not installed (or SLUICE_LEDGER_STAND_IN=1). It follows the engine's QuotaBook protocol
(``quota.used(pool)`` for every pool it touches, draws reported through ``draws=``), so the ledger
tests exercise the real database logic. Its figures are test fixtures, not law: the regime files
carry the real ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

H100_TPP = 15832.0
LPP_LIMIT = 26_900_000.0  # stands for the regime's lpp_annual_tpp_per_consignee
NVEU_LIMIT = 633_000_000.0  # stands for the regime's 2025 Q1 NVEU allocation
TIER1 = {"US", "GB", "DE", "FR", "JP", "NL", "CA", "AU", "IE", "SE"}
TIER3 = {"CN", "MO", "RU", "IR", "KP"}


def _error(record: Any, field: str, message: str) -> dict[str, Any]:
    rid = record.get("id") if isinstance(record, dict) else None
    return {"id": rid, "error": {"field": field, "message": message}}


def decide_records(
    records: Any,
    *,
    regime: str | None = None,
    reform: Any = None,
    quota: Any = None,
    trace: bool = True,
    draws: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    records = list(records)
    results: list[dict[str, Any] | None] = [None] * len(records)
    valid: list[tuple[str, int]] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            results[i] = _error(record, "record", "not a JSON object")
            continue
        try:
            dt.date.fromisoformat(str(record.get("date")))
        except ValueError:
            results[i] = _error(record, "date", f"{record.get('date')!r} is not a date")
            continue
        if not record.get("destination"):
            results[i] = _error(record, "destination", "required")
            continue
        quantity = record.get("quantity", 1)
        if not isinstance(quantity, int) or quantity < 1:
            results[i] = _error(record, "quantity", f"{quantity!r} must be an integer >= 1")
            continue
        valid.append((str(record["date"]), i))
    pending: dict[str, float] = {}
    for _, i in sorted(valid):
        record = records[i]
        consignee = record.get("consignee") or {}
        key = (
            consignee.get("id") or consignee.get("name") or f"unidentified@{record['destination']}"
        )
        destination = str(record["destination"]).upper()
        tier = 1 if destination in TIER1 else 3 if destination in TIER3 else 2
        tpp = record.get("quantity", 1) * H100_TPP
        authorizations = consignee.get("authorizations") or []
        decision: dict[str, Any] = {
            "id": record.get("id"),
            "regime": {"id": regime or "stand-in", "status": "what-if"},
            "tier": tier,
            "classification": "3A090.a",
            "controlled": True,
            "license_required": False,
            "authorization": "LPP",
            "review_policy": None,
            "tpp_per_unit": H100_TPP,
            "tpp_total": tpp,
            "h100_equivalents": tpp / H100_TPP,
            "obligations": [],
            "quota": None,
            "citations": ["stand-in"],
            "trace": [{"rule": "stand-in", "holds": True, "cite": "test", "note": ""}]
            if trace
            else [],
        }
        if "UVEU" in authorizations:
            decision["authorization"] = "UVEU"
            results[i] = decision
            continue
        if "NVEU" in authorizations:
            pool, limit, auth = f"nveu:{key}:{destination}", NVEU_LIMIT, "NVEU"
        else:
            pool, limit, auth = f"lpp:{key}:{str(record['date'])[:4]}", LPP_LIMIT, "LPP"
        before = quota.used(pool) + pending.get(pool, 0.0) if quota is not None else 0.0
        if before + tpp <= limit:
            pending[pool] = pending.get(pool, 0.0) + tpp
            decision["authorization"] = auth
            decision["quota"] = {
                "pool": pool,
                "limit": limit,
                "used_before": before,
                "this": tpp,
                "remaining_after": limit - before - tpp,
            }
            if draws is not None:
                draws.append({"index": i, "pool": pool, "amount": tpp, "limit": limit})
        else:
            decision["authorization"] = "LICENSE"
            decision["license_required"] = True
            decision["review_policy"] = "presumption-of-approval"
        results[i] = decision
    return [r for r in results if r is not None]
