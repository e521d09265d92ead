"""The CLI: `sluice simulate SCENARIO` (contract §3) and its sub-commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sluicegate.cli import app

runner = CliRunner()


def test_contract_form_sluice_simulate_scenario(tmp_path: Path) -> None:
    out = tmp_path / "baseline"
    result = runner.invoke(
        app, ["simulate", "baseline", "--draws", "4", "--seed", "5", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "baseline" and summary["draws"] == 4 and summary["seed"] == 5
    assert (out / "report.html").exists() and (out / "quantiles.parquet").exists()


def test_scenario_file_and_run_subcommand(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(
        "name: mine\nbase: baseline\ndraws: 3\ninterventions:\n"
        "  - {name: visa, channel: talent, actors: [CN], start: 2026-01-01, strength: 0.5}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["simulate", "run", str(scenario), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["draws"] == 3


def test_invalid_scenario_exits_2_with_reason(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("overrides: {nope: 1}\n", encoding="utf-8")
    result = runner.invoke(app, ["simulate", str(scenario), "--draws", "2"])
    assert result.exit_code == 2
    assert "nope" in result.output and "unknown parameter" in result.output


def test_compare_and_sensitivity_commands(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "compare", "baseline", "tighter-h20-2024", "--draws", "4",
                                 "--target", "CN", "--out", str(tmp_path / "c")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c" / "frontier.parquet").exists() and (
        tmp_path / "c" / "compare.html"
    ).exists()
    result = runner.invoke(app, ["simulate", "sensitivity", "baseline", "--samples", "4",
                                 "--parameter", "open_weight_lag_months", "--parameter", "mfu",
                                 "--out", str(tmp_path / "s")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s" / "sobol.json").read_text())["factors"] == [
        "mfu",
        "open_weight_lag_months",
    ]


def test_list_shows_the_library() -> None:
    result = runner.invoke(app, ["simulate", "list"])
    assert result.exit_code == 0 and "diffusion-enforced-2025-05" in result.output


def test_sweep_command_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    result = runner.invoke(
        app,
        ["simulate", "sweep", "baseline", "tighter-h20-2024", "--draws", "3", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["scenario"] for r in rows] == ["baseline", "tighter-h20-2024"]
