"""Policy comparison on common random numbers, Sobol sensitivity, Dask sweeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sluicegate.simulate.compare import compare, write_comparison
from sluicegate.simulate.scenario import load_scenario
from sluicegate.simulate.sensitivity import sensitivity
from sluicegate.simulate.sweep import grid, sweep


def test_comparing_a_scenario_with_itself_buys_nothing() -> None:
    result = compare(["baseline", "baseline"], draws=6, targets=("CN",))
    row = result["frontier"][0]
    assert row["delay_months_2030_p10"] == row["delay_months_2030_p90"] == 0.0
    assert row["cost_usd_p50"] == 0.0


def test_frontier_rows_and_report(tmp_path: Path) -> None:
    result = compare(
        ["baseline", "no-controls-since-2022", "diffusion-enforced-2025-05"],
        draws=10,
        targets=("CN", "IN"),
    )
    rows = {(r["policy"], r["actor"]): r for r in result["frontier"]}
    free = rows[("no-controls-since-2022", "CN")]
    assert free["delay_months_2030_p50"] <= 0  # removing controls cannot add delay for China
    assert free["cost_usd_p50"] < 0  # and US firms forgo less revenue
    assert free["compute_change_2030_p50"] > 0
    diffusion = rows[("diffusion-enforced-2025-05", "IN")]
    assert diffusion["compute_change_2030_p50"] <= 0  # Tier 2 loses compute under the caps
    assert diffusion["control_start"] == "2025-05-15"
    decay = result["decay"]["diffusion-enforced-2025-05"]["CN"]
    assert len(decay["p50"]) == 168
    paths = write_comparison(result, tmp_path)
    assert "Policy frontier" in paths["report"].read_text()


def test_sobol_indices_point_at_the_right_parameter() -> None:
    result = sensitivity(
        "baseline", base_samples=16, parameters=["open_weight_lag_months", "mfu", "smuggling_share"]
    )
    india = result["outputs"]["IN lag_months 2030"]["parameters"]
    assert max(india, key=lambda name: india[name]["ST"]) == "open_weight_lag_months"
    assert result["model_runs"] == 16 * (3 + 2)


def test_dask_local_cluster_gives_the_local_results() -> None:
    distributed = pytest.importorskip("distributed")
    base = load_scenario("baseline")
    scenarios = [
        *grid(base, ("cloud", "kyc-training"), ["CN"], ["2026-01-01"], [0.5, 1.0]),
        "tighter-h20-2024",
    ]
    local = sweep(scenarios, draws=6, seed=11)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        assert len(client.scheduler_info()["workers"]) == 2
        remote = sweep(scenarios, draws=6, seed=11, scheduler=client)
    assert remote == local
    assert [r["scenario"] for r in remote][-1] == "tighter-h20-2024"
    assert np.isfinite(remote[0]["CN lag_months 2030"]["p50"])


def test_compare_rejects_a_horizon_outside_the_run() -> None:
    with pytest.raises(ValueError, match="horizon"):
        compare(["baseline", "baseline"], draws=2, targets=("CN",), horizon_year=2040)
