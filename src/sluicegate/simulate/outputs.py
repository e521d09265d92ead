"""Write a scenario run: summary.json (contract §6), tidy Parquet tables, the HTML report.

``summarise`` turns a ``run.ScenarioRun`` into the summary dictionary — actors → metric → year →
{p10, p50, p90} at the end of each year, global series, costs, channel attribution,
interventions and calibration. ``write_outputs`` writes it with the tables and the offline
report built with ``sluicegate.report``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sluicegate.report import Report, band_figure, bar_figure, table_html
from sluicegate.simulate.actors import ROW, epoch_inputs
from sluicegate.simulate.calibration import backtest, calibrate
from sluicegate.simulate.model import CHANNELS
from sluicegate.simulate.run import ScenarioRun

ACTOR_METRICS = {
    "lag_months": "lag_months",
    "compute_h100e": "compute_h100e",
    "compute_share": "compute_share",
    "largest_run_ops": "largest_run_ops",
    "log10_effective_compute": "log10_effective_compute",
    "log10_capability": "log10_capability",
    "algorithmic_lag_months": "algorithmic_lag_months",
    "log10_best_model_hardware": "log10_best_hardware",
    "log10_best_model_cloud": "log10_best_cloud",
    "log10_best_model_weights": "log10_best_weights",
    "talent_share": "talent_share",
    "inference_h100e": "inference_h100e",
    "distillation_months": "distillation_months",
}
FLOW_METRICS = ("smuggled_h100e", "compliant_units", "domestic_units", "lost_h100e")
REPORT_ACTORS = ("CN", "RU", "IR", "IN", "AE", "SA", "SG", "MY", "BR", "GB", "DE", "JP")


def _q(values: np.ndarray, axis: int = 0) -> np.ndarray:
    return np.percentile(values.astype(np.float64), [10, 50, 90], axis=axis)


def _cell(p: np.ndarray) -> dict[str, float]:
    return {"p10": float(p[0]), "p50": float(p[1]), "p90": float(p[2])}


def year_ends(months: np.ndarray) -> dict[str, int]:
    """Year -> index of its December (or the last month of a truncated final year)."""
    out: dict[str, int] = {}
    for i, month in enumerate(months):
        out[str(month)[:4]] = i
    return out


def summarise(run: ScenarioRun, *, with_calibration: bool = True) -> dict[str, Any]:
    """The summary.json dictionary (contract §6, extended)."""
    out = run.output
    ends = year_ends(out.months)
    idx = np.array(list(ends.values()))
    years = list(ends)
    actors: dict[str, Any] = {}
    quantiles = {name: _q(out.arrays[src][:, :, idx]) for name, src in ACTOR_METRICS.items()}
    flows = {}
    year_of_month = np.array([str(m)[:4] for m in out.months])
    for name in (*FLOW_METRICS, "forgone_chip_usd", "forgone_cloud_usd", "mineral_loss_usd"):
        annual = np.stack(
            [
                out.arrays[name][:, :, year_of_month == y].astype(np.float64).sum(axis=2)
                for y in years
            ],
            axis=2,
        )
        flows[name] = annual  # (D, A, Y)
    for a, code in enumerate(out.actors.codes):
        if code == ROW:
            continue
        record: dict[str, Any] = {}
        for name, q in quantiles.items():
            record[name] = {y: _cell(q[:, a, j]) for j, y in enumerate(years)}
        for name in FLOW_METRICS:
            q = _q(flows[name][:, a, :])
            record[f"{name}_per_year"] = {y: _cell(q[:, j]) for j, y in enumerate(years)}
        actors[code] = record
    glob: dict[str, Any] = {}
    for name in ("compute_h100e", "frontier_ops", "log10_frontier_effective", "supply_h100e"):
        q = _q(out.global_arrays[name][:, idx])
        glob[name] = {y: _cell(q[:, j]) for j, y in enumerate(years)}
    costs: dict[str, Any] = {}
    total = np.zeros((out.draws, len(years)))
    for key, name in (("forgone_chip_revenue_usd", "forgone_chip_usd"),
                      ("forgone_cloud_revenue_usd", "forgone_cloud_usd"),
                      ("counter_pressure_loss_usd", "mineral_loss_usd")):  # fmt: skip
        per_year = flows[name].sum(axis=1)
        q = _q(per_year)
        costs[key] = {y: _cell(q[:, j]) for j, y in enumerate(years)}
        if key != "counter_pressure_loss_usd":
            total += per_year
    q = _q(np.cumsum(total, axis=1))
    costs["forgone_revenue_cumulative_usd"] = {y: _cell(q[:, j]) for j, y in enumerate(years)}
    glob["forgone_revenue_usd"] = costs["forgone_revenue_cumulative_usd"]
    attribution: dict[str, Any] = {}
    binding = out.arrays["binding_channel"][:, :, idx]
    for a, code in enumerate(out.actors.codes):
        if code == ROW:
            continue
        attribution[code] = {
            y: {ch: float((binding[:, a, j] == c).mean()) for c, ch in enumerate(CHANNELS)}
            for j, y in enumerate(years)
        }
    summary: dict[str, Any] = {
        "scenario": run.scenario.name,
        "description": run.scenario.description,
        "draws": run.draws,
        "seed": run.seed,
        "start": str(out.months[0]),
        "end": str(out.months[-1]),
        "rules_engine": run.policy.engine,
        "regimes": _regime_segments(run),
        "actors": actors,
        "global": glob,
        "costs": costs,
        "attribution": attribution,
        "attribution_note": (
            "share of draws in which each channel supplies the actor's best model at year end: "
            "hardware = trained on its own chips; cloud = rented compute or API distillation; "
            "weights = open or leaked weights. API distillation improves an actor's own model; its "
            "gain is the distillation_months metric. Talent and algorithms act through the "
            "algorithmic_lag_months metric."
        ),
        "interventions": [
            i.model_dump(mode="json", exclude_none=True) for i in run.scenario.interventions
        ],
        "calibration": calibrate(out) if with_calibration else [],
        "backtest": backtest(out) if with_calibration else [],
        "notes": run.policy.notes,
        "credits": [epoch_inputs()["attribution"]],
    }
    return summary


def _regime_segments(run: ScenarioRun) -> list[dict[str, str]]:
    segments: list[dict[str, str]] = []
    for month, regime in zip(run.output.months, run.policy.regime_ids, strict=True):
        if not segments or segments[-1]["regime"] != regime:
            segments.append({"from": str(month), "regime": regime})
    return segments


def tidy_quantiles(run: ScenarioRun) -> pl.DataFrame:
    """One row per actor × month × metric with p10/p50/p90."""
    out = run.output
    frames = []
    months = [str(m) for m in out.months]
    for name, src in ACTOR_METRICS.items():
        q = _q(out.arrays[src])  # (3, A, M)
        for a, code in enumerate(out.actors.codes):
            frames.append(pl.DataFrame({
                "scenario": run.scenario.name, "actor": code, "month": months, "metric": name,
                "p10": q[0, a], "p50": q[1, a], "p90": q[2, a],
            }))  # fmt: skip
    return pl.concat(frames)


def tidy_draws(run: ScenarioRun) -> pl.DataFrame:
    """One row per draw × actor × year-end month with the contract metrics."""
    out = run.output
    ends = year_ends(out.months)
    idx = np.array(list(ends.values()))
    d, a, y = np.meshgrid(
        np.arange(out.draws), np.arange(out.actors.size), np.arange(len(idx)), indexing="ij"
    )
    data: dict[str, Any] = {
        "scenario": run.scenario.name,
        "draw": d.ravel(),
        "actor": np.array(out.actors.codes)[a.ravel()],
        "year": np.array(list(ends), dtype=object)[y.ravel()].astype(str),
    }
    for name in (
        "lag_months",
        "compute_h100e",
        "compute_share",
        "largest_run_ops",
        "log10_capability",
    ):
        data[name] = out.arrays[name][:, :, idx].astype(np.float64).ravel()
    return pl.DataFrame(data)


def write_outputs(
    run: ScenarioRun, out_dir: Path, summary: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write summary.json, Parquet tables and report.html into out_dir; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summary or summarise(run)
    paths = {"summary": out_dir / "summary.json"}
    paths["summary"].write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    tables = {
        "quantiles": tidy_quantiles(run),
        "draws": tidy_draws(run),
        "calibration": pl.DataFrame([{**c, "band": json.dumps(c.get("band"))} for c in summary["calibration"]], infer_schema_length=None) if summary["calibration"] else pl.DataFrame(),
        "backtest": pl.DataFrame(summary["backtest"], infer_schema_length=None) if summary["backtest"] else pl.DataFrame(),
        "costs": pl.DataFrame([
            {"metric": k, "year": y, **v} for k, series in summary["costs"].items() for y, v in series.items()
        ]),
        "attribution": pl.DataFrame([
            {"actor": cc, "year": y, "channel": ch, "share": s}
            for cc, years in summary["attribution"].items() for y, chans in years.items() for ch, s in chans.items()
        ]),
    }  # fmt: skip
    for name, frame in tables.items():
        path = out_dir / f"{name}.parquet"
        frame.write_parquet(path)
        paths[name] = path
    paths["report"] = out_dir / "report.html"
    paths["report"].write_text(render_report(run, summary), encoding="utf-8")
    return paths


def render_report(run: ScenarioRun, summary: dict[str, Any]) -> str:
    """The offline HTML report of one scenario run."""
    out = run.output
    report = Report(f"sluicegate simulation — {run.scenario.name}")
    report.paragraph(run.scenario.description)
    report.paragraph(
        f"{run.draws} Monte Carlo draws, seed {run.seed}, {summary['start']} to {summary['end']}; "
        f"hardware access from: {run.policy.engine}. Bands are p10–p90 across draws.",
        note=True,
    )
    months = [str(m) for m in out.months]
    lag_series = {}
    for code in REPORT_ACTORS:
        if code in out.actors.codes:
            q = _q(out.arrays["lag_months"][:, out.actors.index(code), :])
            lag_series[code] = (q[0], q[1], q[2])
    report.heading("Months behind the frontier, by actor")
    report.figure(band_figure("Capability lag (months)", months, lag_series, "months"))
    report.paragraph(
        "Capability is the best model an actor can train or hold the weights of (own and rented "
        "compute × algorithmic efficiency, improved by API distillation; open or leaked weights). "
        "Lag is how many months earlier the frontier reached that capability.",
        note=True,
    )
    report.heading("Installed compute and the frontier")
    glob = {"World stock (H100e)": _q(out.global_arrays["compute_h100e"])}
    for code in ("US", "CN"):
        glob[f"{code} stock (H100e)"] = _q(
            out.arrays["compute_h100e"][:, out.actors.index(code), :]
        )
    report.figure(band_figure("Installed compute (H100-equivalents)", months,
                              {k: (v[0], v[1], v[2]) for k, v in glob.items()}, "H100e", log_y=True))  # fmt: skip
    report.heading("Channel attribution")
    years = [
        y for y in ("2025", "2030", "2035") if y in next(iter(summary["attribution"].values()))
    ]
    codes = [c for c in REPORT_ACTORS if c in summary["attribution"]]
    for year in years:
        shares: dict[str, tuple[list[float], None, None]] = {
            ch: ([summary["attribution"][c][year][ch] for c in codes], None, None)
            for ch in CHANNELS
        }
        report.figure(bar_figure(f"Which channel supplies the best model, {year}", codes, shares,
                                 "share of draws", stacked=True))  # fmt: skip
    report.paragraph(summary["attribution_note"], note=True)
    report.heading("Costs")
    cost_years = list(summary["costs"]["forgone_chip_revenue_usd"])
    groups: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for key in (
        "forgone_chip_revenue_usd",
        "forgone_cloud_revenue_usd",
        "counter_pressure_loss_usd",
    ):
        series = summary["costs"][key]
        groups[key] = ([series[y]["p50"] / 1e9 for y in cost_years], [series[y]["p10"] / 1e9 for y in cost_years],
                       [series[y]["p90"] / 1e9 for y in cost_years])  # fmt: skip
    report.figure(bar_figure("Revenue forgone by US chip and cloud firms, and counter-pressure losses",
                             cost_years, groups, "USD billion per year"))  # fmt: skip
    report.paragraph(
        "Forgone chip revenue counts chips denied to a buyer that no other buyer took; cloud "
        "revenue counts rentals refused by training-run KYC limits; counter-pressure losses are "
        "purchases lost to China's critical-mineral measures.",
        note=True,
    )
    report.heading("Calibration")
    report.raw(table_html(summary["calibration"], ["id", "quantity", "value", "band", "unit", "p10", "p50", "p90", "inside", "status", "reliability", "source", "reason"]))  # fmt: skip
    if summary["backtest"]:
        report.heading("Backtest against Epoch AI, 2022–2025")
        rows = [
            r
            for r in summary["backtest"]
            if r["actor"] in ("US", "CN", "DE", "JP", "GB", "FR", "SA", "IN")
        ]
        report.raw(table_html(rows))
    report.heading("Interventions")
    report.raw(table_html(summary["interventions"]) if summary["interventions"] else "<p>none</p>")
    report.heading("Credits")
    for credit in summary["credits"]:
        report.paragraph(credit)
    for note in summary["notes"]:
        report.paragraph(note, note=True)
    return report.html()
