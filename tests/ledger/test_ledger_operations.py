"""Reserve, confirm, release, attrition, balance, history and idempotency, on SQLite and
PostgreSQL (the ``backend`` fixture runs every test on both)."""

from __future__ import annotations

import pytest
from ledger_helpers import H100_TPP, LPP_LIMIT, REGIME, lpp_pool, pool_entry, txn

from sluicegate.ledger import InvalidRecords, Ledger, LedgerInputError
from sluicegate.ledger.book import parse_pool


def test_reserve_holds_quota_and_reports_it(ledger: Ledger) -> None:
    [decision] = ledger.reserve([txn("o-1", 100)], regime=REGIME)
    assert decision["authorization"] == "LPP"
    assert decision["reservation"]["state"] == "held"
    quota = decision["quota"]
    assert quota["pool"] == lpp_pool()
    assert quota["used_before"] == 0
    assert quota["this"] == 100 * H100_TPP
    entry = pool_entry(ledger.balance(), lpp_pool())
    assert entry["limit"] == LPP_LIMIT
    assert entry["used"] == 100 * H100_TPP
    assert entry["remaining"] == LPP_LIMIT - 100 * H100_TPP
    assert entry["held"] == 100 * H100_TPP and entry["confirmed"] == 0
    # A second call reads the committed balance.
    [second] = ledger.reserve([txn("o-2", 50)], regime=REGIME)
    assert second["quota"]["used_before"] == 100 * H100_TPP


def test_quotas_accumulate_within_one_call_in_date_order(ledger: Ledger) -> None:
    late, early = txn("late", 1000, date="2025-09-01"), txn("early", 1000, date="2025-02-01")
    results = ledger.reserve([late, early], regime=REGIME)
    assert [r["id"] for r in results] == ["late", "early"]
    assert results[1]["authorization"] == "LPP"  # earlier date draws first
    assert results[1]["quota"]["used_before"] == 0
    assert results[0]["authorization"] != "LPP"  # 2000 H100 > 1,699 per year
    entry = pool_entry(ledger.balance(), lpp_pool())
    assert entry["used"] == 1000 * H100_TPP <= LPP_LIMIT


def test_release_returns_quota_and_confirm_keeps_it(ledger: Ledger) -> None:
    first, second = ledger.reserve([txn("a", 100), txn("b", 200)], regime=REGIME)
    ledger.release(first["reservation"]["id"])
    ledger.confirm(second["reservation"]["id"])
    entry = pool_entry(ledger.balance(), lpp_pool())
    assert entry["used"] == 200 * H100_TPP
    assert entry["confirmed"] == 200 * H100_TPP and entry["held"] == 0
    with pytest.raises(LedgerInputError, match="already released"):
        ledger.release(first["reservation"]["id"])
    with pytest.raises(LedgerInputError, match="already confirmed"):
        ledger.release(second["reservation"]["id"])
    with pytest.raises(LedgerInputError, match="no reservation"):
        ledger.release("rsv-does-not-exist")
    with pytest.raises(LedgerInputError, match="no reservation"):
        ledger.confirm("rsv-does-not-exist")
    kinds = [event["kind"] for event in ledger.history()]
    assert kinds == ["reserve", "reserve", "release", "confirm"]
    assert ledger.verify_audit().intact


def test_idempotent_retry_returns_the_original_and_counts_once(ledger: Ledger) -> None:
    first = ledger.reserve([txn("o-1", 100)], regime=REGIME, idempotency_key="order-1")
    again = ledger.reserve([txn("o-1", 100)], regime=REGIME, idempotency_key="order-1")
    assert again == first
    assert pool_entry(ledger.balance(), lpp_pool())["used"] == 100 * H100_TPP
    assert len(ledger.history(kind="reserve")) == 1
    with pytest.raises(LedgerInputError, match="different request"):
        ledger.reserve([txn("o-1", 101)], regime=REGIME, idempotency_key="order-1")
    assert pool_entry(ledger.balance(), lpp_pool())["used"] == 100 * H100_TPP


def test_invalid_record_writes_nothing(ledger: Ledger) -> None:
    ledger.reserve([txn("ok", 10)], regime=REGIME)
    head = ledger.verify_audit().head_seq
    bad = txn("bad", 10)
    bad["quantity"] = 0
    with pytest.raises(InvalidRecords) as caught:
        ledger.reserve([txn("fine", 10), bad], regime=REGIME)
    assert "error" in caught.value.results[1]
    assert caught.value.results[1]["error"]["field"].startswith("quantity")
    assert pool_entry(ledger.balance(), lpp_pool())["used"] == 10 * H100_TPP
    assert ledger.verify_audit().head_seq == head


def test_balance_filters_and_unknowns(ledger: Ledger) -> None:
    ledger.reserve(
        [txn("a", 10), txn("b", 10, consignee="beta-sg", destination="SG")], regime=REGIME
    )
    assert [p["pool"] for p in ledger.balance(consignee="beta-sg")["pools"]] == [
        lpp_pool("beta-sg")
    ]
    assert {p["pool"] for p in ledger.balance(country="IN")["pools"]} >= {lpp_pool()}
    assert lpp_pool("beta-sg") not in {p["pool"] for p in ledger.balance(country="IN")["pools"]}
    with pytest.raises(LedgerInputError, match="unknown pool"):
        ledger.balance(pool="lpp:nobody:2025")
    with pytest.raises(LedgerInputError, match="no pool"):
        ledger.balance(consignee="nobody")


def test_parse_pool_keys() -> None:
    assert parse_pool("lpp:acme:in:2025").consignee == "acme:in"
    assert parse_pool("country-allocation:IN:2025-2027").country == "IN"
    assert parse_pool("country-allocation:IN:2025-2027").period == "2025-2027"
    assert parse_pool("nveu:acme-in:AE").country == "AE"
    assert parse_pool("aia-reporting:acme").consignee == "acme"
    assert parse_pool("reform-pool:x").kind == "reform-pool"


def test_nveu_attrition_reduces_installed_base_not_the_cap(ledger: Ledger) -> None:
    record = txn("n-1", 1000, consignee="cloudco", destination="AE", authorizations=["NVEU"])
    [decision] = ledger.reserve([record], regime=REGIME)
    pool = decision["quota"]["pool"]
    assert pool == "nveu:cloudco:AE"
    event = ledger.attrition(
        consignee="cloudco", country="AE", tpp=100 * H100_TPP, reason="failure"
    )
    assert event["installed_base_after"] == 900 * H100_TPP
    entry = pool_entry(ledger.balance(), pool)
    assert entry["installed_base"] == 900 * H100_TPP
    assert entry["used"] == 1000 * H100_TPP  # the allocation drawn is not handed back
    for bad_amount in (0, -5, "x"):
        with pytest.raises(LedgerInputError, match="tpp"):
            ledger.attrition(pool=pool, tpp=bad_amount, reason="loss")
    with pytest.raises(LedgerInputError, match="exceeds the installed base"):
        ledger.attrition(pool=pool, tpp=1e12, reason="loss")
    with pytest.raises(LedgerInputError, match="reason"):
        ledger.attrition(pool=pool, tpp=1, reason="boredom")
    with pytest.raises(LedgerInputError, match="unknown pool"):
        ledger.attrition(pool="nveu:nobody:AE", tpp=1, reason="loss")
    ledger.reserve([txn("l-1", 1, consignee="lppco")], regime=REGIME)
    with pytest.raises(LedgerInputError, match="NVEU"):
        ledger.attrition(pool="lpp:lppco:2025", tpp=1, reason="loss")
    report = ledger.verify_audit()
    assert report.intact, report.problems


def test_uveu_location_ratios_checked_on_every_deployment(ledger: Ledger) -> None:
    def uveu(tid: str, quantity: int, destination: str) -> dict:
        return txn(
            tid,
            quantity,
            consignee="hyperscaler",
            destination=destination,
            authorizations=["UVEU"],
            headquarters="US",
        )

    [first] = ledger.reserve([uveu("u-1", 900, "US")], regime=REGIME)
    assert first["uveu_location"]["violations"] == []
    [second] = ledger.reserve(
        [uveu("u-2", 100, "IN")], regime=REGIME
    )  # IN = 10% > 7% of one Tier 2 country
    rules = {v["rule"] for v in second["uveu_location"]["violations"]}
    assert rules == {"tier2_country_max_share"}
    assert any(o["kind"] == "uveu-location-ratio" for o in second["obligations"])
    [third] = ledger.reserve([uveu("u-3", 1000, "GB")], regime=REGIME)  # US share falls below 50%
    rules = {v["rule"] for v in third["uveu_location"]["violations"]}
    assert "us_min_share_if_us_headquartered" in rules
    ledger.release(second["reservation"]["id"])
    location = ledger.balance(consignee="hyperscaler")["uveu_location"]
    assert location["company"] == "hyperscaler"
    assert "IN" not in location["tier2_country_shares"]  # released deployments do not count


def test_reads_need_an_existing_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sluicegate.ledger import DatabaseNotReady

    path = tmp_path / "absent.db"
    with pytest.raises(DatabaseNotReady, match="no ledger database"):
        Ledger(f"sqlite:///{path}", create=False)
    assert not path.exists()
