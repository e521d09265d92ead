"""Compare policies on common random numbers: delay bought, cost, delay per dollar, decay.

Every scenario runs with the same seed and draws, so parameter draws and random events are
shared (``parameters.sample_parameters`` gives each parameter its own stream) and differences are
paired per draw. Against a reference scenario (the first given, usually ``baseline``) this
reports, per target actor, months of lag added (p10/p50/p90 of the paired difference), the
change in revenue forgone by US chip and cloud firms, months of delay per $10B, and how the delay
decays after the control starts — the policy frontier table and plot.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sluicegate.report import Report, band_figure, scatter_figure, table_html
from sluicegate.simulate.model import SimulationOutput
from sluicegate.simulate.run import run_reduced
from sluicegate.simulate.scenario import Scenario, load_scenario

DEFAULT_TARGETS = ("CN", "RU", "IN", "AE", "SA")


def _reducer(targets: tuple[str, ...]) -> Any:
    def reduce(out: SimulationOutput) -> dict[str, np.ndarray]:
        idx = [out.actors.index(c) for c in targets]
        cost = out.arrays["forgone_chip_usd"].astype(np.float64).sum(axis=1) + out.arrays[
            "forgone_cloud_usd"
        ].astype(np.float64).sum(axis=1)
        return {
            "lag": out.arrays["lag_months"][:, idx, :].astype(np.float64),
            "compute": out.arrays["compute_h100e"][:, idx, :].astype(np.float64),
            "cost": np.cumsum(cost, axis=1),
            "mineral": np.cumsum(
                out.arrays["mineral_loss_usd"].astype(np.float64).sum(axis=1), axis=1
            ),
        }

    return reduce


def _start_of_difference(reference: Scenario, policy: Scenario) -> dt.date | None:
    ref = {i.model_dump_json() for i in reference.interventions}
    starts = [i.start for i in policy.interventions if i.model_dump_json() not in ref]
    removed = [
        i.start
        for i in reference.interventions
        if i.name not in {p.name for p in policy.interventions}
    ]
    dates = starts + removed
    return min(dates) if dates else None


def compare(
    scenarios: Sequence[str | Scenario],
    *,
    draws: int = 100,
    seed: int = 20250513,
    targets: tuple[str, ...] = DEFAULT_TARGETS,
    horizon_year: int = 2030,
) -> dict[str, Any]:
    """Run each scenario on common random numbers and compare it with the first."""
    loaded = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    if len(loaded) < 2:
        raise ValueError("scenarios: give at least two scenarios (the first is the reference)")
    spans = {(s.start, s.end, tuple(s.actors or ())) for s in loaded}
    if len(spans) > 1:
        raise ValueError("scenarios: compared scenarios must share start, end and actors")
    results = [run_reduced(s, _reducer(targets), draws=draws, seed=seed) for s in loaded]
    from sluicegate.simulate.policy import month_dates

    months = month_dates(loaded[0])
    month_text = [str(m) for m in months]
    hits = np.nonzero(months == np.datetime64(f"{horizon_year}-12", "M"))[0]
    if len(hits) == 0 or horizon_year - 4 < int(str(months[0])[:4]):
        raise ValueError(
            f"horizon: {horizon_year} must be a year whose December is simulated and at least "
            f"four years after {months[0]} (the simulated range is {months[0]} to {months[-1]})"
        )
    end = int(hits[0])
    window = (months >= np.datetime64(f"{horizon_year - 4}-01", "M")) & (months <= months[end])
    ref = results[0]
    rows: list[dict[str, Any]] = []
    decay: dict[str, Any] = {}
    for scen, res in zip(loaded[1:], results[1:], strict=True):
        start = _start_of_difference(loaded[0], scen)
        cost = res["cost"][:, end] - ref["cost"][:, end]
        cost_q = np.percentile(cost, [10, 50, 90])
        for t, code in enumerate(targets):
            delay = res["lag"][:, t, :] - ref["lag"][:, t, :]  # (D, M) paired differences
            mean_delay = delay[:, window].mean(axis=1)
            q_end = np.percentile(delay[:, end], [10, 50, 90])
            q_mean = np.percentile(mean_delay, [10, 50, 90])
            per_10b = float(q_mean[1] / (cost_q[1] / 1e10)) if abs(cost_q[1]) > 1e6 else None
            compute_change = (
                res["compute"][:, t, end] / np.maximum(ref["compute"][:, t, end], 1.0) - 1
            )
            c_q = np.percentile(compute_change, [10, 50, 90])
            curve = np.percentile(delay, [10, 50, 90], axis=0)
            half_life = _half_life(curve[1], months, start)
            rows.append({
                "policy": scen.name, "actor": code,
                "control_start": str(start) if start else None,
                f"delay_months_{horizon_year}_p10": float(q_end[0]),
                f"delay_months_{horizon_year}_p50": float(q_end[1]),
                f"delay_months_{horizon_year}_p90": float(q_end[2]),
                f"mean_delay_{horizon_year - 4}_{horizon_year}_p10": float(q_mean[0]),
                f"mean_delay_{horizon_year - 4}_{horizon_year}_p50": float(q_mean[1]),
                f"mean_delay_{horizon_year - 4}_{horizon_year}_p90": float(q_mean[2]),
                f"compute_change_{horizon_year}_p10": float(c_q[0]),
                f"compute_change_{horizon_year}_p50": float(c_q[1]),
                f"compute_change_{horizon_year}_p90": float(c_q[2]),
                "cost_usd_p10": float(cost_q[0]), "cost_usd_p50": float(cost_q[1]),
                "cost_usd_p90": float(cost_q[2]),
                "delay_months_per_10b_usd": per_10b,
                "peak_delay_months_p50": float(np.max(curve[1])),
                "delay_half_life_years": half_life,
            })  # fmt: skip
            decay.setdefault(scen.name, {})[code] = {
                "months": month_text, "p10": curve[0].tolist(), "p50": curve[1].tolist(),
                "p90": curve[2].tolist(),
            }  # fmt: skip
    return {
        "reference": loaded[0].name,
        "policies": [s.name for s in loaded[1:]],
        "draws": draws,
        "seed": seed,
        "targets": list(targets),
        "horizon_year": horizon_year,
        "method": "common random numbers: same seed and draws for every scenario; differences are paired per draw",
        "frontier": rows,
        "decay": decay,
    }


def _half_life(curve: np.ndarray, months: np.ndarray, start: dt.date | None) -> float | None:
    """Years from the delay's peak until it falls to half of it (None if it never does)."""
    if start is None:
        return None
    peak = int(np.argmax(curve))
    if curve[peak] <= 0.25:
        return None
    after = np.nonzero(curve[peak:] <= curve[peak] / 2)[0]
    if len(after) == 0:
        return None
    return float(after[0] / 12.0)


def write_comparison(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """compare.json, frontier.parquet and compare.html in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "compare.json",
        "frontier": out_dir / "frontier.parquet",
        "report": out_dir / "compare.html",
    }
    paths["json"].write_text(json.dumps(result, indent=1), encoding="utf-8")
    pl.DataFrame(result["frontier"], infer_schema_length=None).write_parquet(paths["frontier"])
    h = result["horizon_year"]
    report = Report(f"sluicegate policy comparison against {result['reference']}")
    report.paragraph(
        result["method"] + f"; {result['draws']} draws, seed {result['seed']}.", note=True
    )
    report.heading("Policy frontier")
    for code in result["targets"]:
        points = [
            {"label": r["policy"], "cost": r["cost_usd_p50"] / 1e9, "delay": r[f"mean_delay_{h - 4}_{h}_p50"]}
            for r in result["frontier"] if r["actor"] == code
        ]  # fmt: skip
        report.figure(scatter_figure(
            f"{code}: months of delay bought vs revenue forgone (to {h})", points, "cost", "delay",
            "label", "change in forgone US revenue, USD billion", f"mean delay {h - 4}–{h}, months",
        ))  # fmt: skip
    report.raw(table_html(result["frontier"]))
    report.heading("How the delay decays after a control starts")
    for code in result["targets"][:2]:
        series = {
            name: (v[code]["p10"], v[code]["p50"], v[code]["p90"])
            for name, v in result["decay"].items()
        }
        months = next(iter(result["decay"].values()))[code]["months"]
        report.figure(
            band_figure(
                f"{code}: months of lag added vs {result['reference']}", months, series, "months"
            )
        )
    report.paragraph(
        "Data: Epoch AI, 'Data on GPU Clusters' and 'Data on AI Models', published online at epoch.ai (CC BY 4.0)."
    )
    paths["report"].write_text(report.html(), encoding="utf-8")
    return paths
