"""Invariants of the law as encoded (hypothesis): stricter inputs never relax the outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluicegate.rules import decide_records
from sluicegate.rules.declared import RULES

DIFF = "us-2025-01-13-ai-diffusion"
SEVERITY_AUTH = {
    "NLR": 0,
    "AIA": 1,
    "ACA": 1,
    "ACM": 1,
    "LPP": 1,
    "UVEU": 1,
    "NVEU": 1,
    "HBM": 1,
    "NAC": 2,
}
SEVERITY_POLICY = {
    "presumption-of-approval": 3,
    "case-by-case": 4,
    "presumption-of-denial": 5,
    "policy-of-denial": 5,
}


def severity(decision: dict[str, Any]) -> int:
    assert "error" not in decision, decision
    if decision["authorization"] == "LICENSE":
        return SEVERITY_POLICY[decision["review_policy"]]
    return SEVERITY_AUTH[decision["authorization"]]


DESTINATIONS = [
    "US",
    "JP",
    "DE",
    "TW",
    "IN",
    "AE",
    "SA",
    "SG",
    "MY",
    "VN",
    "IL",
    "CN",
    "HK",
    "MO",
    "RU",
    "IR",
    "NI",
    "KH",
    "CY",
    "BR",
]
dates = st.dates(dt.date(2022, 10, 7), dt.date(2027, 6, 30))
regime_choice = st.sampled_from([None, DIFF])


@st.composite
def explicit_item(draw: Any) -> dict[str, Any]:
    return {
        "tpp": draw(st.integers(0, 40000)),
        "performance_density": draw(st.floats(0, 30)),
        "datacenter": draw(st.booleans()),
        "interconnect_gbs": draw(st.sampled_from([0, 400, 600, 900])),
        "memory_bandwidth_gbs": draw(st.sampled_from([1000, 4800, 6000, 8000])),
    }


def txn(
    date: dt.date, dest: str, item: dict[str, Any], qty: int, hq: str | None = None, **kw: Any
) -> dict[str, Any]:
    consignee = {"id": "c1"}
    if hq:
        consignee["headquarters"] = hq
    return {
        "id": "t",
        "date": date.isoformat(),
        "destination": dest,
        "item": item,
        "quantity": qty,
        "consignee": consignee,
        **kw,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    date=dates,
    dest=st.sampled_from(DESTINATIONS),
    item=explicit_item(),
    bump_tpp=st.integers(0, 20000),
    bump_pd=st.floats(0, 20),
    qty=st.integers(1, 3000),
    regime=regime_choice,
    hq=st.sampled_from([None, "US", "CN", "IN"]),
)
def test_raising_tpp_or_density_never_relaxes(
    date: dt.date,
    dest: str,
    item: dict[str, Any],
    bump_tpp: int,
    bump_pd: float,
    qty: int,
    regime: str | None,
    hq: str | None,
) -> None:
    stronger = {
        **item,
        "tpp": item["tpp"] + bump_tpp,
        "performance_density": item["performance_density"] + bump_pd,
    }
    a, b = decide_records(
        [txn(date, dest, item, qty, hq), txn(date, dest, stronger, qty, hq)],
        regime=regime,
        trace=False,
    )
    # separate calls so that quota drawn by the first cannot affect the second
    b = decide_records([txn(date, dest, stronger, qty, hq)], regime=regime, trace=False)[0]
    assert severity(b) >= severity(a), (a, b)


TIER1, TIER2, TIER3 = (
    ["JP", "DE", "GB", "TW"],
    ["IN", "AE", "SG", "BR", "IL"],
    ["CN", "RU", "MO", "IR"],
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    date=st.dates(dt.date(2025, 1, 13), dt.date(2027, 6, 30)),
    chip=st.sampled_from(
        [
            "nvidia-h100-sxm",
            "nvidia-rtx-4090",
            "nvidia-h20",
            "nvidia-l4",
            "amd-mi325x",
            "nvidia-b200",
        ]
    ),
    t1=st.sampled_from(TIER1),
    t2=st.sampled_from(TIER2),
    t3=st.sampled_from(TIER3),
    qty=st.integers(1, 60000),
    hq=st.sampled_from([None, "US", "CN", "IN", "JP"]),
)
def test_moving_destination_down_the_tiers_never_relaxes(
    date: dt.date, chip: str, t1: str, t2: str, t3: str, qty: int, hq: str | None
) -> None:
    results = [
        decide_records([txn(date, d, {"chip": chip}, qty, hq)], regime=DIFF, trace=False)[0]
        for d in (t1, t2, t3)
    ]
    assert [r["tier"] for r in results] == [1, 2, 3]
    levels = [severity(r) for r in results]
    assert levels == sorted(levels), list(zip((t1, t2, t3), results, strict=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            dates,
            st.sampled_from(["nvidia-h100-sxm", "nvidia-a800", "nvidia-rtx-4090", "nvidia-h200"]),
            st.integers(1, 5000),
            st.sampled_from([None, "CN", "US", "IN"]),
        ),
        min_size=1,
        max_size=8,
    ),
    regime=regime_choice,
)
def test_batch_is_concatenation_of_singles_without_shared_quota(
    rows: list[tuple[dt.date, str, int, str | None]], regime: str | None
) -> None:
    records = []
    for k, (date, chip, qty, hq) in enumerate(rows):
        dest = DESTINATIONS[k % len(DESTINATIONS)]  # distinct destinations and consignees
        rec = txn(date, dest, {"chip": chip}, qty, hq)
        rec["id"] = f"r{k}"
        rec["consignee"]["id"] = f"c{k}"
        records.append(rec)
    batch = decide_records(records, regime=regime, trace=True)
    singles = [decide_records([r], regime=regime, trace=True)[0] for r in records]
    assert batch == singles


def test_no_citation_contains_the_batch_separator() -> None:
    assert all(";" not in rule.cite for rule in RULES)
