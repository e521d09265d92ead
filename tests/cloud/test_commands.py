"""The ``sluice cloud`` verbs (contract §3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from sluicegate.cli import app

runner = CliRunner()


def test_kyc_one_line_per_customer_and_exit_2_on_a_bad_record(
    sample: dict[str, Path], tmp_path: Path, fake_screen: Any
) -> None:
    source = tmp_path / "c.jsonl"
    lines = sample["customers"].read_text().splitlines()
    source.write_text(
        "\n".join([*lines, '{"account": "bad", "name": "x", "country": "ZZ"}']) + "\n"
    )
    result = runner.invoke(app, ["cloud", "kyc", str(source), "--as-of", "2025-03-01"])
    assert result.exit_code == 2, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines) + 1
    assert out[-1] == {
        "account": "bad",
        "error": {"field": "country", "message": "'ZZ' is not an ISO 3166-1 alpha-2 code"},
    }
    by_account = {o["account"]: o for o in out[:-1]}
    assert by_account["acct-frontier"]["outcome"] == "approve"
    assert by_account["acct-climber"]["outcome"] == "report"
    assert {"account", "outcome", "reasons", "citations"} <= set(by_account["acct-s1"])


def test_kyc_csv_input(tmp_path: Path, fake_screen: Any) -> None:
    source = tmp_path / "c.csv"
    source.write_text(
        "account,name,country,headquarters,address,payment_source,emails,phones,ips,beneficial_owners\n"
        'a1,Example,US,US,1 Main St,card,a@x.test,+1,192.0.2.1,"[{""id"": ""o"", ""name"": ""O"", ""country"": ""US"", ""percent"": 100}]"\n'
    )
    result = runner.invoke(app, ["cloud", "kyc", str(source), "--as-of", "2025-03-01"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "approve"


def test_monitor_prints_alerts_and_writes_rejects(sample: dict[str, Path], tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(
        app,
        [
            "cloud",
            "monitor",
            str(sample["telemetry"]),
            "--customers",
            str(sample["customers"]),
            "--rejects",
            str(rejects),
            "--state-db",
            f"sqlite:///{tmp_path / 'state.db'}",
        ],
    )
    assert result.exit_code == 2, result.output  # some rows were rejected
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert {a["kind"] for a in alerts} == {
        "threshold-crossed",
        "projected-crossing",
        "structuring",
        "cluster-capacity",
    }
    for a in alerts:
        assert {
            "kind",
            "threshold_ops",
            "operations",
            "accounts",
            "owner",
            "jobs",
            "evidence",
        } <= set(a)
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [b["reason"].split(":")[0] for b in bad] == [
        "seconds",
        "accelerator",
        "account",
        "timestamp",
    ]
    assert "4 rejected" in result.stderr


def test_monitor_unreadable_file_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cloud", "monitor", str(tmp_path / "nope.parquet"), "--stateless"])
    assert result.exit_code == 2
    assert "nothing was recorded" in result.stderr


def test_monitor_state_db_that_cannot_be_used_exit_2(
    sample: dict[str, Path], tmp_path: Path
) -> None:
    """A --state-db that is not a URL, or names a driver that is not installed, is refused with
    the option named and nothing written (no traceback)."""
    for url in ("not a url", "mysql+nosuchdriver://u@h/db"):
        result = runner.invoke(
            app, ["cloud", "monitor", str(sample["telemetry"]), "--state-db", url]
        )
        assert result.exit_code == 2, result.output
        assert "state_db: cannot use" in result.stderr
        assert "nothing was recorded" in result.stderr
        assert result.stdout == ""
