"""``--reform`` on the cloud verbs: a reform of the regime the checks read moves their outcome,
and its content hash goes with the run (KYC output, alerts, the batch in the state database)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sluicegate.cli import app
from sluicegate.cloud import (
    check_customer,
    load_config,
    load_customers,
    parse_customer,
    run_monitor,
)
from sluicegate.cloud.state import MonitorState
from sluicegate.cloud.thresholds import ReformNotApplicable, with_reform
from sluicegate.regimes import load_reform

AS_OF = dt.date(2025, 3, 1)
runner = CliRunner()


def _customer(country: str, planned: float) -> Any:
    return parse_customer(
        {
            "account": f"acct-{country.lower()}",
            "name": "Example Model Lab",
            "country": country,
            "headquarters": country,
            "address": "1 Example Street",
            "payment_source": "corporate account",
            "emails": ["ops@example.test"],
            "phones": ["+1 555 0100"],
            "ips": ["192.0.2.1"],
            "beneficial_owners": [
                {"id": "bo-1", "name": "Avery Quill", "country": country, "percent": 80}
            ],
            "planned_training_ops": planned,
        }
    )


def _held(result: dict[str, Any], rule: str) -> bool:
    return next(r["held"] for r in result["trace"] if r["rule"] == rule)


def test_the_4e091_reform_moves_the_threshold_everywhere_it_is_read() -> None:
    base = load_config()
    reformed = with_reform("weights-threshold-1e25")
    weights = {t.id: t for t in reformed.training}["model-weights-4e091"]
    assert {t.id: t for t in base.training}["model-weights-4e091"].value == 1e26
    assert (weights.value, weights.operator) == (1e25, ">")
    assert "value from reform reform-weights-threshold-1e25-" in weights.cite
    # the thresholds of thresholds.yaml are not regime parameters: unchanged
    assert [t for t in reformed.training if t.id != weights.id] == [
        t for t in base.training if t.id != weights.id
    ]
    record = reformed.reform_record()
    assert record is not None and record["reform_of"] == "us-2025-01-13-ai-diffusion"
    assert record["reform_hash"] == load_reform("weights-threshold-1e25").reform_hash
    assert base.reform_record() is None  # the shipped configuration is left alone


def test_kyc_red_flag_28_follows_the_reformed_threshold(fake_screen: Any) -> None:
    customer = _customer("AE", 5e25)  # Tier 2; between 10^25 and 10^26 operations
    before = check_customer(customer, as_of=AS_OF)
    after = check_customer(customer, as_of=AS_OF, config=with_reform("weights-threshold-1e25"))
    assert (before["outcome"], _held(before, "red-flag-28")) == ("approve", False)
    assert (after["outcome"], _held(after, "red-flag-28")) == ("report", True)
    assert "reform_hash" not in before["regime"]
    assert after["regime"]["reform_of"] == "us-2025-01-13-ai-diffusion"
    assert after["regime"]["reform_hash"] == load_reform("weights-threshold-1e25").reform_hash


def test_kyc_tiers_follow_a_reform_of_the_tier_lists(fake_screen: Any) -> None:
    customer = _customer("IN", 2e26)
    before = check_customer(customer, as_of=AS_OF)
    after = check_customer(customer, as_of=AS_OF, config=with_reform("india-tier1-lpp-halved"))
    assert (before["headquarters_tier"], _held(before, "red-flag-28")) == (2, True)
    assert (after["headquarters_tier"], _held(after, "red-flag-28")) == (1, False)


def test_monitor_alerts_follow_the_reform_and_the_batch_records_it(
    sample: dict[str, Path], tmp_path: Path
) -> None:
    customers, bad = load_customers(str(sample["customers"]))
    assert not bad
    url = f"sqlite:///{tmp_path / 'state.db'}"
    before = run_monitor([str(sample["telemetry"])], customers=customers, stateless=True)
    after = run_monitor(
        [str(sample["telemetry"])],
        customers=customers,
        state_url=url,
        config=with_reform("weights-threshold-1e25"),
    )

    def weights(alerts: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (a["kind"], tuple(a["jobs"]))
            for a in alerts
            if a["threshold_id"] == "model-weights-4e091"
        ]

    # climber-base (7.2e25, outside Tier 1) was projected to cross 10^26; it has crossed 10^25
    assert weights(before.alerts) == [("projected-crossing", ("climber-base",))]
    assert ("threshold-crossed", ("climber-base",)) in weights(after.alerts)
    assert all(a["threshold_ops"] == 1e25 for a in after.alerts if "4e091" in a["threshold_id"])
    digest = load_reform("weights-threshold-1e25").reform_hash
    assert all(a["evidence"]["reform"]["reform_hash"] == digest for a in after.alerts)
    assert all("reform" not in a["evidence"] for a in before.alerts)
    assert after.summary["reform"]["reform_hash"] == digest
    assert after.batch_id is not None
    assert MonitorState(url).batch_reform(after.batch_id) == after.summary["reform"]


def test_a_reform_of_another_regime_is_refused() -> None:
    with pytest.raises(ReformNotApplicable, match="cloud checks read us-2025-01-13"):
        with_reform("h20-class-controlled")
    with pytest.raises(ReformNotApplicable, match="reform file not found"):
        with_reform("no-such-reform")


def test_cli_verbs_take_reform(sample: dict[str, Path], tmp_path: Path, fake_screen: Any) -> None:
    customers = tmp_path / "c.jsonl"
    customers.write_text(
        json.dumps(
            {
                "account": "acct-ae",
                "name": "Example Model Lab",
                "country": "AE",
                "headquarters": "AE",
                "address": "1 Example Street",
                "payment_source": "corporate account",
                "emails": ["ops@example.test"],
                "phones": ["+971 4 000 0000"],
                "ips": ["192.0.2.1"],
                "beneficial_owners": [{"id": "o", "name": "O", "country": "AE", "percent": 80}],
                "planned_training_ops": 5e25,
            }
        )
        + "\n"
    )
    kyc = ["cloud", "kyc", str(customers), "--as-of", "2025-03-01"]
    plain = json.loads(runner.invoke(app, kyc).stdout)
    reformed = runner.invoke(app, [*kyc, "--reform", "weights-threshold-1e25"])
    assert reformed.exit_code == 0, reformed.output
    out = json.loads(reformed.stdout)
    assert (plain["outcome"], out["outcome"]) == ("approve", "report")
    assert out["regime"]["reform_hash"] == load_reform("weights-threshold-1e25").reform_hash

    monitor = ["cloud", "monitor", str(sample["telemetry"]), "--stateless"]
    monitor += ["--customers", str(sample["customers"]), "--rejects", str(tmp_path / "r.jsonl")]
    result = runner.invoke(app, [*monitor, "--reform", "weights-threshold-1e25"])
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(a["kind"] == "threshold-crossed" and a["threshold_ops"] == 1e25 for a in alerts), (
        result.output
    )
    assert "under reform reform-weights-threshold-1e25-" in result.stderr

    bad = runner.invoke(app, [*monitor, "--reform", "h20-class-controlled"])
    assert bad.exit_code == 2
    assert "--reform: " in bad.stderr and "us-2025-05-13-non-enforcement" in bad.stderr
