"""`sluice decide --screen`: screening fills the decision, a block requires a licence, and a
consignee naming a party takes its headquarters from the party graph (issue 4, item 5)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sluicegate.cli import app

runner = CliRunner()


def decide(records: list[dict], *args: str) -> list[dict]:
    result = runner.invoke(
        app, ["decide", "-", "--no-trace", *args], input="\n".join(json.dumps(r) for r in records)
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_listed_consignee_is_blocked_with_the_lists_policy_and_citation() -> None:
    record = {
        "id": "hw",
        "date": "2025-06-01",
        "destination": "BR",
        "item": {"chip": "nvidia-l4"},
        "quantity": 5,
        "consignee": {
            "name": "Huawei Technologies Co., Ltd.",
            "country": "BR",
            "headquarters": "BR",
        },
    }
    (plain,) = decide([record])
    assert plain["screening"] is None and plain["authorization"] == "NLR"
    (screened,) = decide([record], "--screen")
    assert screened["screening"]["decision"] == "block"
    assert any(m["list"] == "bis-entity-list" for m in screened["screening"]["matches"])
    assert screened["authorization"] == "LICENSE" and screened["license_required"] is True
    assert screened["review_policy"] == "presumption-of-denial"
    assert any("744.11" in c for c in screened["citations"])


def test_clear_consignee_keeps_the_rules_decision() -> None:
    record = {
        "id": "ok",
        "date": "2025-06-01",
        "destination": "IN",
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": 5,
        "consignee": {"name": "Bharat Cloud Pvt Ltd"},
    }
    (screened,) = decide([record], "--screen")
    assert screened["screening"] == {"matches": [], "decision": "clear"}
    assert screened["authorization"] == "NLR"


def test_party_headquarters_come_from_the_graph() -> None:
    record = {
        "id": "sub",
        "date": "2025-06-01",
        "destination": "SG",
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": 5,
        "consignee": {"party": "dod-1260h:avic-jonhon-optronic-technology-co-ltd", "country": "SG"},
    }
    (screened,) = decide([record], "--screen")
    # headquartered in China through the graph: 744.23(a)(3) licence, presumption of denial
    assert screened["screening"]["party"]["ultimate_parent_headquarters"] == "CN"
    assert screened["authorization"] == "LICENSE"
    assert screened["review_policy"] == "presumption-of-denial"
    assert "15 CFR 744.23(a)(3)" in screened["citations"]


def test_unnamed_consignee_is_not_screened_and_says_so() -> None:
    record = {
        "id": "anon",
        "date": "2025-06-01",
        "destination": "IN",
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": 5,
    }
    (screened,) = decide([record], "--screen")
    assert screened["screening"] is None
    assert any("not screened" in a for a in screened["assumptions"])
