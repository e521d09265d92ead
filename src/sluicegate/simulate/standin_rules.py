"""A coarse stand-in for ``sluicegate.rules.decide_frame``, used only while the engine is absent.

The simulator's hardware channel must come from the rules engine. Until that package is merged,
``policy_table`` falls back to this stand-in and says so in every output (``rules_engine`` in
summary.json), and the tests monkeypatch ``sluicegate.rules.decide_frame`` with it. It encodes a
summary of regulation.md (§1–§3) for the synthetic rows the simulator sends — datacenter chips by
catalogue id, three buyer kinds — and nothing else; it is not a compliance tool.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

TPP = {
    "nvidia-a100": 4992, "nvidia-a800": 4992, "nvidia-h100-sxm": 15832, "nvidia-h800": 15832,
    "nvidia-h20": 2368, "nvidia-h200": 15832, "nvidia-b200": 36000, "nvidia-rtx-4090": 5286,
}  # fmt: skip
# 2022 rule: the A800/H800 escaped the interconnect prong (regulation.md §6, §7).
CONTROLLED_2022 = {"nvidia-a100", "nvidia-h100-sxm", "nvidia-h200", "nvidia-b200"}
DATACENTER = set(TPP) - {"nvidia-rtx-4090"}
LOW_BANDWIDTH = {"nvidia-h200", "nvidia-h100-sxm", "nvidia-a100", "nvidia-a800", "nvidia-h800"}
D5_MACAU = {"CN", "HK", "MO", "RU", "IR", "BY", "VE", "KP", "SY", "CU", "MM", "AF", "IQ", "LB"}
D1_D4_NOT_A5_A6 = {"SA", "AE", "VN", "KZ", "PK", "EG", "JO", "OM", "QA", "KW", "BH"}
TIER1 = {"US", "AU", "BE", "CA", "DK", "FI", "FR", "DE", "IE", "IT", "JP", "NL", "NZ", "NO",
         "KR", "ES", "SE", "TW", "GB"}  # fmt: skip
REGIMES = [
    (dt.date(2022, 10, 7), "us-2022-10-07"),
    (dt.date(2023, 11, 17), "us-2023-11-17"),
    (dt.date(2024, 12, 2), "us-2024-12-02"),
    (dt.date(2025, 5, 13), "us-2025-05-13-non-enforcement"),
    (dt.date(2026, 1, 15), "us-2026-01-15-china-review"),
]
LPP_TPP = 26_900_000
ALLOCATION_TPP = 790_000_000


def _by_date(day: dt.date) -> str | None:
    chosen = None
    for start, regime in REGIMES:
        if start <= day:
            chosen = regime
    return chosen


def _decide(row: dict[str, Any], regime: str | None) -> dict[str, Any]:
    day = row["date"] if isinstance(row["date"], dt.date) else dt.date.fromisoformat(row["date"])
    regime_id = regime or _by_date(day)
    out: dict[str, Any] = {
        "id": row["id"], "regime_id": regime_id, "regime_status": "what-if" if regime else "in-force",
        "tier": None, "classification": "not-controlled", "controlled": False,
        "license_required": False, "authorization": "NLR", "review_policy": None,
        "tpp_per_unit": None, "tpp_total": None, "h100_equivalents": None, "quota_pool": None,
        "quota_limit": None, "quota_used_before": None, "quota_this": None,
        "quota_remaining_after": None, "obligations": "[]", "citations": "",
        "error_field": None, "error_message": None,
    }  # fmt: skip
    chip, dest = row["chip"], row["destination"]
    if chip not in TPP:
        out.update(
            authorization=None, error_field="item.chip", error_message=f"unknown chip {chip}"
        )
        return out
    if regime_id is None:
        out.update(authorization=None, error_field="date", error_message="no regime in force")
        return out
    tpp = TPP[chip]
    total = tpp * int(row["quantity"])
    out.update(tpp_per_unit=tpp, tpp_total=total, h100_equivalents=total / 15832)
    if regime_id == "us-2022-10-07":
        controlled = chip in CONTROLLED_2022
    else:
        controlled = tpp >= 4800
    if not controlled:
        return out
    out.update(controlled=True, classification="3A090.a")
    consumer = chip not in DATACENTER

    def license_(policy: str) -> None:
        out.update(authorization="LICENSE", license_required=True, review_policy=policy)

    if regime_id == "us-2025-01-13-ai-diffusion":
        tier = 1 if dest in TIER1 else 3 if dest in D5_MACAU else 2
        out["tier"] = tier
        if consumer and tier != 3:
            return out
        if tier == 1:
            out["authorization"] = "AIA"
        elif tier == 3:
            license_("presumption-of-denial")
        elif "UVEU" in str(row.get("consignee_authorizations") or ""):
            out["authorization"] = "UVEU"
        elif total <= LPP_TPP:
            out["authorization"] = "LPP"
        else:
            license_("presumption-of-approval")
            out.update(
                quota_pool=f"country-allocation:{dest}:2025-2027", quota_limit=ALLOCATION_TPP
            )
        return out
    if dest in D5_MACAU:
        if dest in {"RU", "BY", "IR", "KP", "SY", "CU", "VE"}:
            license_("policy-of-denial")
        elif regime_id == "us-2026-01-15-china-review" and tpp < 21_000 and chip in LOW_BANDWIDTH:
            license_("case-by-case")
        else:
            license_("presumption-of-denial")
        return out
    if regime_id != "us-2022-10-07" and dest in D1_D4_NOT_A5_A6 and not consumer:
        license_("presumption-of-approval")
    return out


def decide_frame_standin(
    df: pl.DataFrame, *, regime: str | None = None, reform: Any = None, **_: Any
) -> pl.DataFrame:
    """Same columns as the engine's decide_frame, one output row per input row, in order."""
    if reform is not None:
        raise ValueError("the stand-in rules do not apply reforms; merge sluicegate.rules")
    decided = [_decide(row, regime) for row in df.iter_rows(named=True)]
    schema = {
        "id": pl.String, "regime_id": pl.String, "regime_status": pl.String, "tier": pl.Int64,
        "classification": pl.String, "controlled": pl.Boolean, "license_required": pl.Boolean,
        "authorization": pl.String, "review_policy": pl.String, "tpp_per_unit": pl.Float64,
        "tpp_total": pl.Float64, "h100_equivalents": pl.Float64, "quota_pool": pl.String,
        "quota_limit": pl.Float64, "quota_used_before": pl.Float64, "quota_this": pl.Float64,
        "quota_remaining_after": pl.Float64, "obligations": pl.String, "citations": pl.String,
        "error_field": pl.String, "error_message": pl.String,
    }  # fmt: skip
    return pl.DataFrame(decided, schema=schema, orient="row")
