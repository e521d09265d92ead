"""The evaluator's mechanics: Catala-style conflicts, quota pools in date order, one path for all."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from sluicegate.regimes import get_regime
from sluicegate.rules import InMemoryQuotaBook, RuleConflictError, decide_frame, decide_records
from sluicegate.rules.engine import Ctx, Pool, Rule, evaluate, run_pool
from sluicegate.rules.vocab import AUTHORIZATIONS

DIFF = "us-2025-01-13-ai-diffusion"


def h100(date: str, dest: str, qty: int, who: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", f"{who}-{date}-{qty}"),
        "date": date,
        "destination": dest,
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": qty,
        "consignee": {"id": who, **extra.pop("consignee", {})},
        **extra,
    }


def _cols(n: int, **kw: Any) -> dict[str, np.ndarray]:
    base = {
        "date": np.array(["2025-06-01"] * n, dtype="datetime64[D]"),
        "dest": np.zeros(n, dtype=np.int32),
    }
    base.update(kw)
    return base


def test_two_applicable_exceptions_without_priority_is_an_error() -> None:
    regime = get_regime(DIFF)
    rules = [
        Rule("req", "lpp", "require", lambda c: np.ones(c.n, bool), "cite", "t"),
        Rule("ex-a", "lpp", "exception", lambda c: np.ones(c.n, bool), "cite", "t", value="LPP"),
        Rule("ex-b", "lpp", "exception", lambda c: c.col("x") > 0, "cite", "t", value="ACM"),
    ]
    cols = _cols(2, x=np.array([0, 1]))
    with pytest.raises(RuleConflictError) as info:
        evaluate(regime, rules, cols, 2, np.ones(2, bool), ["r0", "r1"], InMemoryQuotaBook(), {})
    assert info.value.row_ids == ["r1"]  # only the row where both hold
    assert {info.value.first, info.value.second} == {"ex-a", "ex-b"}
    # declaring a priority resolves it; same outcome needs no priority
    rules[2] = Rule(
        "ex-b", "lpp", "exception", lambda c: c.col("x") > 0, "cite", "t", value="ACM", priority=5
    )
    ev = evaluate(regime, rules, cols, 2, np.ones(2, bool), ["r0", "r1"], InMemoryQuotaBook(), {})
    assert [AUTHORIZATIONS[a] for a in ev.authorization] == ["LPP", "ACM"]


def test_defeat_removes_an_exception() -> None:
    regime = get_regime(DIFF)
    rules = [
        Rule("req", "lpp", "require", lambda c: np.ones(c.n, bool), "cite", "t"),
        Rule("ex", "lpp", "exception", lambda c: np.ones(c.n, bool), "cite", "t", value="LPP"),
        Rule("unless", "lpp", "defeat", lambda c: c.col("x") > 0, "cite", "t", defeats=("ex",)),
    ]
    ev = evaluate(
        regime,
        rules,
        _cols(2, x=np.array([0, 1])),
        2,
        np.ones(2, bool),
        [0, 1],
        InMemoryQuotaBook(),
        {},
    )
    assert [AUTHORIZATIONS[a] for a in ev.authorization] == ["LPP", "LICENSE"]


def test_a_rule_whose_provision_is_absent_is_absent() -> None:
    regime = get_regime("us-2023-11-17")  # no LPP provision
    rules = [Rule("req", "lpp", "require", lambda c: np.ones(c.n, bool), "cite", "t")]
    ev = evaluate(regime, rules, _cols(1), 1, np.ones(1, bool), [0], InMemoryQuotaBook(), {})
    assert not ev.license.any() and ev.rules == []


def test_pool_greedy_in_row_order_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    keys = rng.integers(0, 30, n)
    amounts = rng.integers(1, 50, n).astype(float)
    limit = 400.0
    regime = get_regime(DIFF)
    rule = Rule(
        "p",
        "lpp",
        "exception",
        lambda c: np.ones(c.n, bool),
        "c",
        "t",
        value="LPP",
        pool=Pool(
            "t",
            lambda c: (keys, lambda k: f"t:{k}"),
            lambda c: np.full(c.n, limit),
            lambda c: amounts,
        ),
    )
    ctx = Ctx(regime, _cols(n), n)
    trace = run_pool(rule, ctx, np.arange(n), InMemoryQuotaBook({"t:3": 390.0}), {})
    used: dict[int, float] = {3: 390.0}
    expected = []
    for k, a in zip(keys, amounts, strict=True):
        u = used.get(int(k), 0.0)
        fits = u + a <= limit
        expected.append(fits)
        if fits:
            used[int(k)] = u + a
    assert trace.fits.tolist() == expected


def test_lpp_accumulates_in_date_order_not_input_order() -> None:
    # the later-dated order comes first in the input; the earlier one gets the quota
    later = h100("2025-09-01", "IN", 1000, "acme", id="late")
    earlier = h100("2025-06-01", "IN", 1000, "acme", id="early")
    out = decide_records([later, earlier], regime=DIFF, trace=False)
    assert [d["id"] for d in out] == ["late", "early"]  # output keeps input order
    assert out[1]["authorization"] == "LPP" and out[1]["quota"]["used_before"] == 0
    assert out[0]["authorization"] == "LICENSE"  # 2,000 H100 > 26.9M TPP
    assert out[0]["quota"]["pool"] == "country-allocation:IN:2025-2027"


def test_quota_book_supplies_prior_balances_and_draws_are_reported() -> None:
    book = InMemoryQuotaBook({"lpp:acme:2025": 26_000_000})
    draws: list[dict[str, Any]] = []
    out = decide_records(
        [h100("2025-06-01", "IN", 100, "acme")], regime=DIFF, quota=book, draws=draws, trace=False
    )
    assert out[0]["authorization"] == "LICENSE"  # 26.0M + 1.58M > 26.9M
    assert [d["pool"] for d in draws] == ["country-allocation:IN:2025-2027"]
    assert draws[0]["amount"] == 1_583_200


def test_batch_equals_concatenated_singles_when_no_quota_is_shared() -> None:
    records = [
        h100("2025-06-01", "IN", 10, "a"),
        h100("2025-06-01", "CN", 10, "b"),
        h100("2024-01-01", "AE", 10, "c"),
        {
            "id": "w",
            "date": "2025-07-01",
            "destination": "IN",
            "item": {"category": "model-weights", "training_ops": 2e26},
        },
    ]
    for regime in (None, DIFF):
        batch = decide_records(records, regime=regime, trace=False)
        singles = [decide_records([r], regime=regime, trace=False)[0] for r in records]
        assert batch == singles


def test_frame_and_records_paths_agree() -> None:
    records = [
        h100("2025-06-01", "IN", 1699, "acme"),
        h100("2025-06-02", "IN", 1, "acme"),
        h100("2025-06-03", "CN", 5, "dragon", consignee={"headquarters": "CN"}),
    ]
    frame = pl.DataFrame(
        [
            {
                "id": r["id"],
                "date": r["date"],
                "destination": r["destination"],
                "chip": "nvidia-h100-sxm",
                "quantity": r["quantity"],
                "consignee_id": r["consignee"]["id"],
                "consignee_headquarters": r["consignee"].get("headquarters"),
            }
            for r in records
        ]
    )
    a = decide_records(records, regime=DIFF, trace=False)
    b = decide_frame(frame, regime=DIFF).to_dicts()
    for x, y in zip(a, b, strict=True):
        assert x["authorization"] == y["authorization"]
        assert x["review_policy"] == y["review_policy"]
        assert (x["quota"] or {}).get("pool") == y["quota_pool"]
        assert set(x["citations"]) == set(y["citations"].split("; "))


@pytest.mark.parametrize("shuffle", [False, True])
def test_streaming_in_chunks_equals_one_call(shuffle: bool) -> None:
    from sluicegate.rules import decide_stream

    rng = np.random.default_rng(3)
    days = sorted(rng.integers(0, 400, 60).tolist())
    records = [
        h100(
            str(np.datetime64("2025-01-13") + int(d)),
            "IN",
            int(rng.integers(200, 900)),
            f"c{int(rng.integers(0, 3))}",
            id=f"r{k}",
        )
        for k, d in enumerate(days)
    ]
    if shuffle:
        order = rng.permutation(len(records))
        records = [records[i] for i in order]
    whole = decide_records(records, regime=DIFF, trace=False)
    streamed = list(decide_stream(iter(records), regime=DIFF, trace=False, chunk_size=7))
    assert streamed == whole
    assert any(d["quota"] and d["quota"]["pool"].startswith("country-allocation") for d in whole)
