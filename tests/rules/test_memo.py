"""The one-record memo (``sluicegate.rules.memo``) gives exactly the batch path's decisions.

Three checks: its one-row pool arithmetic against ``engine.run_pool``; generated transactions
with generated balances (around every limit, to the last bit) against the batch path; and every
law case, decided one transaction at a time with carried balances, through both paths. Plus the
ways a remembered evaluation must be refused (a different regime or reform, reloaded data, an id
the contract rejects, anything that is not plain JSON).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluicegate.rules import InMemoryQuotaBook, decide_records
from sluicegate.rules import decide as decide_module
from sluicegate.rules import memo as memo_module
from sluicegate.rules.engine import Pool, Rule, run_pool
from sluicegate.rules.memo import MEMO, one_row_pool, record_key
from sluicegate.rules.table import read_records

DIFF = "us-2025-01-13-ai-diffusion"
LAW_DIR = Path(__file__).resolve().parents[1] / "law"


# ------------------------------------------------------------------ helpers


def _decide(
    record: dict[str, Any], book: dict[str, float], memo: str, **kwargs: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decision and draws of one record with SLUICE_RULES_MEMO set to ``memo``."""
    draws: list[dict[str, Any]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_RULES_MEMO", memo)
        out = decide_records([record], quota=InMemoryQuotaBook(book), draws=draws, **kwargs)
    return out, draws


def batch_path(
    record: dict[str, Any], book: dict[str, float], **kwargs: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decision by the vectorised engine (the memo switched off)."""
    return _decide(record, book, "0", **kwargs)


def memo_path(
    record: dict[str, Any], book: dict[str, float], **kwargs: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decision through the memo (remembered evaluations reused)."""
    return _decide(record, book, "1", **kwargs)


def pool_steps(
    record: dict[str, Any], book: dict[str, float] | None = None, **kwargs: Any
) -> list[tuple[str, float, float]]:
    """(pool, amount, limit) of every quota rule that reaches the record with these balances."""
    from sluicegate.rules.decide import _evaluate, choose_regime

    explicit = choose_regime(kwargs.get("regime"), kwargs.get("reform"))
    source, ids, errors = read_records([record])
    result = _evaluate(source, ids, errors, explicit, InMemoryQuotaBook(book or {}), None)
    out = []
    for _, ev in result.parts:
        for trace in ev.pools:
            if trace.rows.size:
                out.append((trace.name(0), float(trace.amount[0]), float(trace.limit[0])))
    return out


def reachable_steps(record: dict[str, Any], **kwargs: Any) -> list[tuple[str, float, float]]:
    """The quota rules the record can reach: on empty pools, and when the pools it reaches are
    full (an exception that no longer fits leads to a licence and its review pool)."""
    found: dict[str, tuple[str, float, float]] = {}
    book: dict[str, float] = {}
    while True:
        new = [step for step in pool_steps(record, book, **kwargs) if step[0] not in found]
        if not new:
            return list(found.values())
        for step in new:
            found[step[0]] = step
            book[step[0]] = 1e30


def near(limit: float, amount: float, choice: int, fraction: float) -> float:
    """A balance at an interesting distance from the limit."""
    exact = limit - amount
    candidates = [
        0.0,
        exact,  # fits to the last unit
        math.nextafter(exact, math.inf),  # one bit over
        math.nextafter(exact, -math.inf),
        limit - amount / 2,  # straddles the limit
        limit,  # full
        math.nextafter(limit, -math.inf),
        limit + amount,
        fraction * 1.2 * limit,
    ]
    return max(0.0, candidates[choice % len(candidates)])


# ------------------------------------------------------------------ the arithmetic


@settings(max_examples=400, deadline=None)
@given(
    base=st.floats(0, 1e12, allow_nan=False),
    amount=st.floats(0, 1e10, allow_nan=False),
    limit=st.floats(0, 1e12, allow_nan=False),
    capped=st.booleans(),
    offset=st.sampled_from([None, -1, 0, 1]),
)
def test_one_row_pool_is_run_pool_for_one_row(
    base: float, amount: float, limit: float, capped: bool, offset: int | None
) -> None:
    if offset is not None:  # balances on and around the exact fit
        base = max(0.0, limit - amount)
        if offset:
            base = math.nextafter(base, math.inf if offset > 0 else -math.inf)
    pool = Pool(
        "p",
        lambda c: (np.zeros(1, np.int64), lambda k: "p:x"),
        lambda c: np.array([limit]),
        lambda c: np.array([amount]),
        capped=capped,
    )
    rule = Rule("r", "*", "exception", lambda c: np.ones(1, bool), "cite", "text", pool=pool)
    trace = run_pool(rule, None, np.array([0]), InMemoryQuotaBook({"p:x": base}), {})  # type: ignore[arg-type]
    fits, used_before = one_row_pool(base, amount, limit, capped)
    assert fits == bool(trace.fits[0])
    assert used_before == float(trace.used_before[0])
    assert math.copysign(1.0, used_before) == math.copysign(1.0, float(trace.used_before[0]))


# ------------------------------------------------------------------ generated transactions

DESTINATIONS = ["IN", "AE", "SA", "SG", "MY", "IL", "BR", "US", "GB", "JP", "CN", "HK", "MO", "RU"]
CHIPS = ["nvidia-h100-sxm", "nvidia-b200", "nvidia-h20", "nvidia-a800", "nvidia-l40s"]


@st.composite
def transactions(draw: Any) -> dict[str, Any]:
    """Any transaction; three in four in the diffusion framework's years, where the quotas are."""
    if draw(st.integers(0, 3)):
        date = draw(st.dates(dt.date(2025, 1, 15), dt.date(2026, 12, 31)))
    else:
        date = draw(st.dates(dt.date(2022, 10, 7), dt.date(2027, 6, 30)))
    kind = draw(st.sampled_from(["export"] * 4 + ["reexport", "transfer", "deemed-export"]))
    category = draw(st.sampled_from(["chip"] * 5 + ["ic", "computer", "model-weights"]))
    if category == "chip":
        item: dict[str, Any] = {"chip": draw(st.sampled_from(CHIPS))}
    elif category == "model-weights":
        item = {
            "category": "model-weights",
            "training_ops": draw(st.sampled_from([1e24, 1e25, 1e26, 3e26])),
            "published": draw(st.booleans()),
        }
    else:
        item = {
            "category": category,
            "tpp": draw(st.integers(0, 40000)),
            "performance_density": draw(st.floats(0, 30)),
            "datacenter": draw(st.booleans()),
        }
        if category == "computer":
            item["chips_per_unit"] = draw(st.integers(1, 8))
    consignee: dict[str, Any] = {}
    who = draw(st.sampled_from(["id", "id", "id", "name", "none"]))
    if who == "id":
        consignee["id"] = draw(st.sampled_from(["c1", "c2"]))
    elif who == "name":
        consignee["name"] = "Acme"
    for field in ("headquarters", "ultimate_parent_headquarters", "country"):
        if not draw(st.integers(0, 3)):
            consignee[field] = draw(st.sampled_from(["US", "IN", "CN", "AE", "GB"]))
    authorizations = draw(st.sampled_from([[], [], ["NVEU"], ["UVEU"], ["NVEU", "UVEU"]]))
    if authorizations:
        consignee["authorizations"] = authorizations
    record: dict[str, Any] = {
        "id": draw(st.sampled_from(["t1", 7, None])),
        "date": date.isoformat(),
        "kind": kind,
        "destination": draw(st.sampled_from(DESTINATIONS[:7] * 2 + DESTINATIONS)),
        "item": item,
        "quantity": draw(st.integers(1, 3000)),
        "consignee": consignee,
    }
    if draw(st.booleans()):
        record["end_use"] = draw(st.sampled_from(["datacenter", "development", "other"]))
    if draw(st.booleans()):
        record["via_distributor"] = draw(st.booleans())
    return record


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    record=transactions(),
    regime=st.sampled_from([DIFF, DIFF, None, "us-2026-01-15-china-review", "us-2023-11-17"]),
    trace=st.booleans(),
    fill=st.lists(st.tuples(st.integers(0, 8), st.floats(0, 1)), min_size=4, max_size=4),
    ask=st.lists(st.tuples(st.integers(0, 8), st.floats(0, 1)), min_size=4, max_size=4),
)
def test_memo_equals_batch_path_for_any_balances(
    record: dict[str, Any],
    regime: str | None,
    trace: bool,
    fill: list[tuple[int, float]],
    ask: list[tuple[int, float]],
) -> None:
    kwargs = {"regime": regime, "trace": trace}
    steps = reachable_steps(record, regime=regime)
    # Remember the evaluation under one set of balances, then ask under another.
    first = {
        name: near(limit, amount, *fill[i % 4]) for i, (name, amount, limit) in enumerate(steps)
    }
    second = {
        name: near(limit, amount, *ask[i % 4]) for i, (name, amount, limit) in enumerate(steps)
    }
    for book in (first, second, first):
        assert memo_path(record, book, **kwargs) == batch_path(record, book, **kwargs)


QUOTA_RULE_CASES = {
    "lpp": {"destination": "IN", "item": {"chip": "nvidia-h100-sxm"}, "quantity": 40},
    "nveu": {
        "destination": "IN",
        "item": {"chip": "nvidia-b200"},
        "quantity": 40,
        "consignee": {"id": "c-nveu", "authorizations": ["NVEU"]},
    },
    "country-allocation (straddle)": {
        "destination": "AE",
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": 40,
        "via_distributor": True,
    },
    "aia-reporting (trigger)": {
        "destination": "JP",
        "item": {"chip": "nvidia-b200"},
        "quantity": 5000,
        "consignee": {"id": "c-aia", "headquarters": "JP"},
    },
    "lpp (computers)": {
        "destination": "SA",
        "item": {
            "category": "computer",
            "tpp": 15832,
            "performance_density": 19.4,
            "datacenter": True,
            "chips_per_unit": 8,
        },
        "quantity": 25,
    },
}


@pytest.mark.parametrize("name", list(QUOTA_RULE_CASES))
def test_every_pair_of_balances_on_each_quota_rule(name: str) -> None:
    """Remember under one balance, ask under another, for every pair of interesting balances of
    every pool the transaction can reach (the pools reached later get the same choice shifted)."""
    record = {"id": "q", "date": "2025-06-01", "consignee": {"id": f"c-{name[:4]}"}}
    record.update(QUOTA_RULE_CASES[name])
    steps = reachable_steps(record, regime=DIFF)
    assert steps, f"{name}: reaches no quota rule"
    hits = 0
    for fill in range(9):
        for ask in range(9):
            first = {
                p: near(limit, amount, fill + k, 0.4) for k, (p, amount, limit) in enumerate(steps)
            }
            second = {
                p: near(limit, amount, ask + k, 0.7) for k, (p, amount, limit) in enumerate(steps)
            }
            MEMO.clear()
            for trace in (True, False):
                assert memo_path(record, first, regime=DIFF, trace=trace) == batch_path(
                    record, first, regime=DIFF, trace=trace
                )
                assert memo_path(record, second, regime=DIFF, trace=trace) == batch_path(
                    record, second, regime=DIFF, trace=trace
                )
            hits += MEMO.hits
    assert hits > 0


def test_hits_happen_and_return_fresh_copies() -> None:
    MEMO.clear()
    record = {
        "id": "a",
        "date": "2025-06-01",
        "destination": "IN",
        "item": {"chip": "nvidia-h100-sxm"},
        "consignee": {"id": "memo-test"},
    }
    first, _ = memo_path(record, {}, regime=DIFF)
    second, draws = memo_path(dict(record, id="b"), {"lpp:memo-test:2025": 1000.0}, regime=DIFF)
    assert MEMO.hits == 1
    assert (
        second == batch_path(dict(record, id="b"), {"lpp:memo-test:2025": 1000.0}, regime=DIFF)[0]
    )
    assert second[0]["id"] == "b" and draws[0]["id"] == "b"
    assert second[0]["quota"]["used_before"] == 1000
    # The caller owns what it gets: changing it changes no later answer.
    second[0]["obligations"].append({"kind": "scribble"})
    second[0]["trace"][0]["note"] = "scribble"
    third, _ = memo_path(record, {}, regime=DIFF)
    assert third == first


# ------------------------------------------------------------------ what must not be reused


def test_key_tells_apart_what_the_engine_could_treat_differently() -> None:
    base = {"id": "x", "date": "2025-06-01", "destination": "IN", "quantity": 2}
    assert record_key(base) == record_key(dict(base, id="other"))
    assert record_key(base) != record_key(dict(base, quantity=2.0))
    assert record_key(dict(base, quantity=0.0)) != record_key(dict(base, quantity=-0.0))
    assert record_key(dict(base, quantity=True)) != record_key(dict(base, quantity=1))
    assert record_key(dict(base, item={"chip": "a"})) != record_key(dict(base, item={"chip": "b"}))
    assert record_key(dict(base, date=dt.date(2025, 6, 1))) is None  # not plain JSON
    assert record_key(dict(base, item=("a",))) is None
    assert record_key(dict(base, id=1.5)) is None  # left to the contract's validation
    assert record_key(dict(base, id=True)) is None
    assert record_key(["not", "a", "dict"]) is None


def test_regime_reform_and_reloaded_data_are_part_of_the_key() -> None:
    MEMO.clear()
    record = {
        "id": "t",
        "date": "2025-06-01",
        "destination": "IN",
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": 10,
        "consignee": {"id": "memo-regime"},
    }
    for kwargs in (
        {"regime": DIFF},
        {"regime": "us-2023-11-17"},
        {"reform": "india-tier1-lpp-halved"},
        {"reform": "g2g-doubled-allocations"},
        {},
    ):
        for _ in range(2):
            assert memo_path(record, {}, **kwargs) == batch_path(record, {}, **kwargs)
    assert MEMO.hits == 5
    # Rebuilt data (the loaders' caches cleared) forgets everything remembered.
    from sluicegate.regimes import loader

    loader.regimes.cache_clear()
    try:
        hits = MEMO.hits
        assert memo_path(record, {}, regime=DIFF) == batch_path(record, {}, regime=DIFF)
        assert MEMO.hits == hits
    finally:
        loader.regimes.cache_clear()
        MEMO.clear()


def test_a_rule_replaced_in_place_forgets_everything() -> None:
    MEMO.clear()
    record = {
        "id": "t",
        "date": "2025-06-01",
        "destination": "IN",
        "item": {"chip": "nvidia-h100-sxm"},
        "consignee": {"id": "memo-rules"},
    }
    memo_path(record, {}, regime=DIFF)
    memo_path(record, {}, regime=DIFF)
    assert MEMO.hits == 1
    rules = decide_module.RULES
    original = rules[0]
    rules[0] = Rule(**original.__dict__)  # equal, but another object
    try:
        memo_path(record, {}, regime=DIFF)
        assert MEMO.hits == 1
    finally:
        rules[0] = original
        MEMO.clear()


def test_switched_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_RULES_MEMO", "0")
    assert not memo_module.enabled()


# ------------------------------------------------------------------ the law cases


def _law_cases() -> list[Any]:
    params = []
    for path in sorted(LAW_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data.get("cases") or []:
            params.append(pytest.param(case, id=f"{path.stem}::{case.get('id', '?')}"))
    return params


def _plain(value: Any) -> Any:
    """As `sluice decide -` reads it: JSON (YAML dates become strings)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


@pytest.mark.parametrize("case", _law_cases())
def test_law_cases_one_at_a_time_through_both_paths(case: dict[str, Any]) -> None:
    """Each law case's transactions decided one per call in date order, balances carried from
    call to call, through the batch path and through the memo (twice: remembering, then reusing
    with the balances of the second pass) — the same decisions and draws every time."""
    records = [_plain(t) for t in case.get("transactions") or []]
    kwargs: dict[str, Any] = {}
    if case.get("regime"):
        kwargs["regime"] = case["regime"]
    if case.get("reform"):
        kwargs["reform"] = str((LAW_DIR / case["reform"]).resolve())
    order = sorted(range(len(records)), key=lambda i: str(records[i].get("date")))

    def run(path: Any, start: dict[str, float]) -> list[Any]:
        book = dict(start)
        out = []
        for i in order:
            try:
                decisions, draws = path(records[i], book, **kwargs)
            except Exception as exc:  # a case about a bad call: both paths must fail alike
                out.append(("raised", type(exc).__name__, str(exc)))
                continue
            for draw in draws:
                book[draw["pool"]] = book.get(draw["pool"], 0.0) + draw["amount"]
            out.append((decisions, draws))
        return out

    reference = run(batch_path, {})
    assert run(memo_path, {}) == reference
    assert run(memo_path, {}) == reference
    # And from balances already near the limits the case touches (other paths of the engine).
    start = {}
    for record in records:
        try:
            steps = pool_steps(record, **kwargs)
        except Exception:
            continue
        for k, (name, amount, limit) in enumerate(steps):
            start.setdefault(name, near(limit, amount, k + len(start), 0.5))
    assert run(memo_path, start) == run(batch_path, start)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
