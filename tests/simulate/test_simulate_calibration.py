"""The baseline lands inside every calibration band; backtest 2022–2025 against Epoch AI."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sluicegate.simulate.calibration import backtest, calibrate, calibration_targets

TARGETS = calibration_targets()


def test_targets_are_data_with_provenance() -> None:
    ids = {t["id"] for t in TARGETS}
    for expected in ("1", "2", "3", "4", "5a", "5b", "7a", "7b", "8", "10a", "10b", "13a", "13b",
                     "14", "15", "16", "17", "18", "19", "20", "21", "23"):  # fmt: skip
        assert expected in ids
    for target in TARGETS:
        for key in ("quantity", "value", "date", "source", "reliability", "status"):
            assert target.get(key), (target["id"], key)
        if target["status"] in ("context", "rules-input"):
            assert target.get("reason"), target["id"]
        else:
            assert len(target["band"]) == 2 and target["band"][0] <= target["band"][1]


@pytest.fixture(scope="module")
def records(baseline_run: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in calibrate(baseline_run.output)}


@pytest.mark.parametrize("target_id", [t["id"] for t in TARGETS if "check" in t])
def test_baseline_inside_band(records: dict[str, dict[str, Any]], target_id: str) -> None:
    record = records[target_id]
    low, high = record["band"]
    assert low <= record["p50"] <= high, (
        f"#{target_id} {record['quantity']}: p50 {record['p50']:.4g} outside [{low}, {high}]"
    )
    assert record["inside"] is True


def test_backtest_compute_shares_and_largest_runs(baseline_run: Any) -> None:
    rows = backtest(baseline_run.output)
    by = {(r["actor"], r["year"]): r for r in rows}
    for code in ("US", "CN"):
        for year in (2023, 2024, 2025):
            row = by[(code, year)]
            ratio = row["model_share_p50"] / row["epoch_cluster_share"]
            assert 0.6 <= ratio <= 1.6, (code, year, ratio)
            # Epoch's largest published model is a lower bound on the largest feasible run
            assert row["model_largest_run_p90"] >= row["epoch_largest_model_ops"] / 3, (code, year)
            assert row["model_largest_run_p50"] <= row["epoch_largest_model_ops"] * 100, (
                code,
                year,
            )
    # the ranking of countries by tracked compute is broadly reproduced in 2025
    epoch = np.array([r["epoch_cluster_share"] for r in rows if r["year"] == 2025])
    model = np.array([r["model_share_p50"] for r in rows if r["year"] == 2025])
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    assert np.corrcoef(rank(epoch), rank(model))[0, 1] > 0.6
