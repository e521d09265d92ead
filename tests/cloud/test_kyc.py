"""KYC: identification, screening of customer and owners, headquarters tier, red flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sluicegate.cloud import ScreeningUnavailable, check_customer, parse_customer
from sluicegate.cloud import kyc as kyc_module

AS_OF = dt.date(2025, 3, 1)


def _customer(**overrides: Any) -> Any:
    record: dict[str, Any] = {
        "account": "acct-1",
        "name": "Example Labs Inc",
        "country": "US",
        "headquarters": "US",
        "address": "1 Main Street, Springfield",
        "payment_source": "corporate account",
        "emails": ["ops@example.test"],
        "phones": ["+1 555 0100"],
        "ips": ["192.0.2.1"],
        "beneficial_owners": [
            {"id": "bo-1", "name": "Avery Quill", "country": "US", "percent": 80}
        ],
    }
    record.update(overrides)
    return parse_customer(record)


def _rules(result: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in result["trace"] if r["held"]]


def test_complete_tier1_customer_is_approved(fake_screen: Any) -> None:
    result = check_customer(_customer(), as_of=AS_OF)
    assert result["outcome"] == "approve"
    assert result["citations"] == []
    assert result["headquarters_tier"] == 1
    # the customer and every beneficial owner are screened
    assert [c[0] for c in fake_screen.calls] == ["Example Labs Inc", "Avery Quill"]


def test_blocked_beneficial_owner_refuses(fake_screen: Any) -> None:
    owners = [{"id": "bo-x", "name": "Blocked Holdings", "country": "US", "percent": 30}]
    result = check_customer(_customer(beneficial_owners=owners), as_of=AS_OF)
    assert result["outcome"] == "refuse"
    assert "screening-block:beneficial owner bo-x" in _rules(result)
    assert "15 CFR 744 supp. 4 (Entity List)" in result["citations"]
    assert result["screening"][1]["matches"][0]["entity_id"] == "E-1"


def test_possible_match_needs_enhanced_due_diligence(fake_screen: Any) -> None:
    result = check_customer(_customer(name="Similar Name Labs"), as_of=AS_OF)
    assert result["outcome"] == "enhanced-due-diligence"


def test_missing_identification_needs_enhanced_due_diligence(fake_screen: Any) -> None:
    result = check_customer(_customer(ips=[], address=None), as_of=AS_OF)
    assert result["outcome"] == "enhanced-due-diligence"
    assert "address" in result["reasons"][0] and "ips" in result["reasons"][0]
    assert any("89 FR 5698" in c for c in result["citations"])


def test_d5_headquartered_customer_cannot_get_large_scale_training(fake_screen: Any) -> None:
    result = check_customer(
        _customer(country="SG", headquarters="CN", planned_training_ops=2e26), as_of=AS_OF
    )
    assert result["outcome"] == "refuse"
    assert result["headquarters_tier"] == 3
    assert "d5-headquarters-large-training" in _rules(result)
    assert any("740.27(b)(2)(iii)" in c for c in result["citations"])


def test_macau_ultimate_parent_counts_as_headquarters(fake_screen: Any) -> None:
    small = check_customer(_customer(ultimate_parent_headquarters="MO"), as_of=AS_OF)
    assert small["outcome"] == "enhanced-due-diligence"
    assert "d5-headquarters" in _rules(small)
    large = check_customer(
        _customer(ultimate_parent_headquarters="MO", planned_training_ops=1e26), as_of=AS_OF
    )
    assert large["outcome"] == "refuse"


def test_majority_owner_in_d5_is_treated_as_ultimate_parent(fake_screen: Any) -> None:
    owners = [{"id": "bo-cn", "name": "Parent Co", "country": "CN", "percent": 70}]
    result = check_customer(
        _customer(beneficial_owners=owners, planned_training_ops=3e26), as_of=AS_OF
    )
    assert result["outcome"] == "refuse"
    minority = [{"id": "bo-cn", "name": "Parent Co", "country": "CN", "percent": 30}]
    result = check_customer(_customer(beneficial_owners=minority), as_of=AS_OF)
    assert result["outcome"] == "enhanced-due-diligence"
    assert "d5-minority-owner" in _rules(result)


def test_red_flag_28_for_tier2_entity_training_a_4e091_model(fake_screen: Any) -> None:
    result = check_customer(
        _customer(country="IN", headquarters="IN", planned_training_ops=1.5e26), as_of=AS_OF
    )
    assert result["outcome"] == "report"
    assert "red-flag-28" in _rules(result)
    assert any("Red Flag 28" in c for c in result["citations"])
    # below the 4E091 threshold: nothing to report
    small = check_customer(
        _customer(country="IN", headquarters="IN", planned_training_ops=1e24), as_of=AS_OF
    )
    assert small["outcome"] == "approve"


def test_foreign_bio_training_over_1e23_is_reported(fake_screen: Any) -> None:
    result = check_customer(
        _customer(
            country="DE", headquarters="DE", planned_training_ops=2e23, training_domain="bio"
        ),
        as_of=AS_OF,
    )
    assert result["outcome"] == "report"
    assert "foreign-large-training-report" in _rules(result)


def test_regime_status_is_stated(fake_screen: Any) -> None:
    later = check_customer(_customer(), as_of=dt.date(2025, 6, 1))
    assert later["regime"]["status"] == "not-enforced"
    assert any("risk policy" in n for n in later["notes"])


def test_screening_absent_is_a_clear_error_unless_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import sluicegate.screening as screening

    monkeypatch.delattr(screening, "screen", raising=False)
    with pytest.raises(ScreeningUnavailable, match="skip-screening"):
        kyc_module._screen_party("Someone")
    result = check_customer(_customer(), as_of=AS_OF, skip_screening=True)
    assert result["outcome"] == "enhanced-due-diligence"


def test_bad_records_name_the_field() -> None:
    from sluicegate.cloud import CustomerError

    with pytest.raises(CustomerError) as err:
        parse_customer({"account": "a", "name": "n", "country": "XX"})
    assert err.value.field == "country"
    with pytest.raises(CustomerError) as err:
        parse_customer(
            {"account": "a", "name": "n", "country": "US", "beneficial_owners": [{"id": "x"}]}
        )
    assert err.value.field.startswith("beneficial_owners.0")


def test_real_screening_refuses_a_listed_customer() -> None:
    import sluicegate.screening as screening

    if not hasattr(screening, "screen"):
        pytest.skip("sluicegate.screening.screen is not in this build")
    result = check_customer(
        _customer(name="Huawei Technologies Co., Ltd.", country="CN", headquarters="CN"),
        as_of=AS_OF,
    )
    assert result["outcome"] == "refuse"
    assert result["screening"][0]["decision"] == "block"
    assert any("744" in c for c in result["citations"])
