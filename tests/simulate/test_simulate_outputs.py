"""summary.json (contract §6), Parquet tables and the offline HTML report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sluicegate.simulate.outputs import summarise, write_outputs
from sluicegate.simulate.run import run_scenario


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], dict[str, Any]]:
    run = run_scenario("diffusion-enforced-2025-05", draws=8, seed=3)
    paths = write_outputs(run, tmp_path_factory.mktemp("out"))
    return paths, json.loads(paths["summary"].read_text())


def test_summary_follows_contract(written: tuple[dict[str, Path], dict[str, Any]]) -> None:
    _, summary = written
    for key in ("scenario", "draws", "seed", "actors", "global", "interventions", "calibration"):
        assert key in summary
    assert summary["scenario"] == "diffusion-enforced-2025-05" and summary["draws"] == 8
    assert summary["seed"] == 3
    assert "ROW" not in summary["actors"] and len(summary["actors"]) >= 40
    for code in ("US", "CN", "IN", "MO"):
        for metric in ("lag_months", "compute_h100e", "compute_share", "largest_run_ops"):
            series = summary["actors"][code][metric]
            assert list(series) == [str(y) for y in range(2022, 2036)]
            for cell in series.values():
                assert cell["p10"] <= cell["p50"] <= cell["p90"]
    for metric in ("compute_h100e", "frontier_ops"):
        assert set(summary["global"][metric]) == {str(y) for y in range(2022, 2036)}
    assert 0 <= summary["actors"]["CN"]["compute_share"]["2025"]["p50"] <= 1
    assert any(i["name"] == "diffusion-rule-enforced" for i in summary["interventions"])
    assert {r["id"] for r in summary["calibration"]} >= {"1", "5a", "13a", "21"}
    assert summary["credits"] and "Epoch AI" in summary["credits"][0]
    attribution = summary["attribution"]["CN"]["2030"]
    assert set(attribution) == {"hardware", "cloud", "weights"}
    assert sum(attribution.values()) == pytest.approx(1.0)
    assert summary["costs"]["forgone_revenue_cumulative_usd"]["2035"]["p50"] >= 0


def test_tables_are_tidy_parquet(written: tuple[dict[str, Path], dict[str, Any]]) -> None:
    paths, _ = written
    quantiles = pl.read_parquet(paths["quantiles"])
    assert {"scenario", "actor", "month", "metric", "p10", "p50", "p90"} <= set(quantiles.columns)
    assert quantiles.filter(pl.col("metric") == "lag_months").height == 44 * 168
    draws = pl.read_parquet(paths["draws"])
    assert draws.height == 8 * 44 * 14
    assert {"draw", "actor", "year", "lag_months", "compute_h100e"} <= set(draws.columns)
    for name in ("calibration", "backtest", "costs", "attribution"):
        assert pl.read_parquet(paths[name]).height > 0


def test_report_is_self_contained(written: tuple[dict[str, Path], dict[str, Any]]) -> None:
    paths, _ = written
    text = paths["report"].read_text()
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js inlined, nothing fetched
    assert not re.search(r"<link[^>]+href=['\"]http", text)
    assert "Plotly.newPlot" in text
    for heading in (
        "Months behind the frontier",
        "Channel attribution",
        "Costs",
        "Calibration",
        "Credits",
    ):
        assert heading in text
    assert "Data: Epoch AI" in text


def test_summary_without_calibration_is_smaller() -> None:
    run = run_scenario("baseline", draws=3, seed=1)
    assert summarise(run, with_calibration=False)["calibration"] == []
