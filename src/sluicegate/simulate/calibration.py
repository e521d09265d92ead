"""Calibration checks and the 2022–2025 backtest against Epoch AI data.

Targets live in ``data/calibration.yaml`` (value, band, date, source, reliability); this module
only measures the model quantity each ``check`` id names, on a ``SimulationOutput``, and reports
the p10/p50/p90 with whether the median is inside the band. ``backtest`` compares compute by
country and largest runs by country with the Epoch AI tables derived in ``data/epoch_inputs.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from sluicegate.simulate.actors import epoch_inputs
from sluicegate.simulate.model import SimulationOutput


@cache
def calibration_targets() -> list[dict[str, Any]]:
    """The targets of data/calibration.yaml (numbers coerced)."""
    text = (
        resources.files("sluicegate.simulate")
        .joinpath("data", "calibration.yaml")
        .read_text("utf-8")
    )
    targets = yaml.safe_load(text)["targets"]
    for target in targets:
        if "band" in target:
            target["band"] = [float(x) for x in target["band"]]
    return list(targets)


def _m(out: SimulationOutput, month: str) -> int:
    return int(np.nonzero(out.months == np.datetime64(month, "M"))[0][0])


def _months(out: SimulationOutput, start: str, end: str) -> np.ndarray:
    lo, hi = np.datetime64(start, "M"), np.datetime64(end, "M")
    return np.nonzero((out.months >= lo) & (out.months <= hi))[0]


def _a(out: SimulationOutput, code: str) -> int:
    return out.actors.index(code)


def _growth(series: np.ndarray, i0: int, i1: int) -> np.ndarray:
    return (series[:, i1] / series[:, i0]) ** (12.0 / (i1 - i0))


def _frontier_growth(out: SimulationOutput) -> np.ndarray:
    return _growth(
        out.global_arrays["frontier_ops"].astype(float), _m(out, "2022-01"), _m(out, "2025-01")
    )


def _lead_cluster(out: SimulationOutput) -> np.ndarray:
    return out.arrays["largest_cluster_h100e"].astype(float).max(axis=1)


def _china_runs(out: SimulationOutput) -> np.ndarray:
    return out.arrays["largest_run_ops"][:, _a(out, "CN"), :].astype(float)


def _gap_months(out: SimulationOutput) -> np.ndarray:
    m = _m(out, "2025-01")
    frontier = out.global_arrays["frontier_ops"][:, m].astype(float)
    china = _china_runs(out)[:, m]
    return 12.0 * np.log(frontier / china) / np.log(_frontier_growth(out))


def _h20_forgone(out: SimulationOutput) -> np.ndarray:
    cn = _a(out, "CN")
    before = _months(out, "2025-01", "2025-03")
    window = _months(out, "2025-05", "2025-07")
    monthly = out.arrays["compliant_units"][:, cn, before].astype(float).mean(axis=1)
    during = out.arrays["compliant_units"][:, cn, window].astype(float).sum(axis=1)
    price = out.params["compliant_price_usd_per_unit"]
    # months of the letters (mid-April to end of July ≈ 3.5) at the pre-letter monthly pace
    return np.maximum(monthly * 3.5 - during, 0.0) * price


def _additions(out: SimulationOutput, mask: np.ndarray) -> np.ndarray:
    stock = out.arrays["compute_h100e"].astype(float)[:, mask, :].sum(axis=1)
    dep = out.params["depreciation_per_year"]
    return stock[:, _m(out, "2025-12")] - stock[:, _m(out, "2024-12")] * (1 - dep)


def _ratio_additions(out: SimulationOutput) -> np.ndarray:
    tier1 = out.actors.diffusion_tier == 1
    china = np.array([c == "CN" for c in out.actors.codes])
    return _additions(out, tier1) / np.maximum(_additions(out, china), 1.0)


def _tier2_lag(out: SimulationOutput) -> np.ndarray:
    tier2 = np.nonzero(out.actors.diffusion_tier == 2)[0]
    return np.median(out.arrays["lag_months"][:, tier2, _m(out, "2024-11")].astype(float), axis=1)


CHECKS: dict[str, Callable[[SimulationOutput], np.ndarray]] = {
    "frontier_run_growth_2022_2025": _frontier_growth,
    "price_performance_doubling_years": lambda o: (
        np.log(2) / -np.log(1 - o.params["hardware_price_decline_per_year"])
    ),
    "global_stock_2025_02": lambda o: o.global_arrays["compute_h100e"][:, _m(o, "2025-02")],
    "global_stock_growth_2022_2025": lambda o: _growth(
        o.global_arrays["compute_h100e"].astype(float), _m(o, "2022-01"), _m(o, "2025-01")
    ),
    "leading_cluster_2025_03": lambda o: _lead_cluster(o)[:, _m(o, "2025-03")],
    "leading_cluster_growth_2022_2025": lambda o: _growth(
        _lead_cluster(o), _m(o, "2022-01"), _m(o, "2025-01")
    ),
    "tier2_median_lag_2024_11": _tier2_lag,
    "china_run_growth_2022_2025": lambda o: _growth(
        _china_runs(o), _m(o, "2022-01"), _m(o, "2025-01")
    ),
    "china_compute_gap_months_2025_01": _gap_months,
    "china_smuggled_units_2024": lambda o: o.arrays["smuggled_units"][
        :, _a(o, "CN"), _months(o, "2024-01", "2024-12")
    ].sum(axis=1),
    "china_smuggled_share_2024": lambda o: (
        o.arrays["stock_smuggled"][:, _a(o, "CN"), _m(o, "2024-12")]
        / o.arrays["compute_h100e"][:, _a(o, "CN"), _m(o, "2024-12")]
    ),
    "china_domestic_units_2025": lambda o: o.arrays["domestic_units"][
        :, _a(o, "CN"), _months(o, "2025-01", "2025-12")
    ].sum(axis=1),
    "china_h20_units_2024": lambda o: o.arrays["compliant_units"][
        :, _a(o, "CN"), _months(o, "2024-01", "2024-12")
    ].sum(axis=1),
    "h20_letter_forgone_revenue": _h20_forgone,
    "china_largest_run_2024_12": lambda o: _china_runs(o)[:, _m(o, "2024-12")],
    "talent_china_diaspora": lambda o: np.full(
        o.draws, float(o.actors.diaspora_in_us[_a(o, "CN")])
    ),
    "tier1_to_china_additions_2025": _ratio_additions,
}


def calibrate(out: SimulationOutput) -> list[dict[str, Any]]:
    """One record per target: p10/p50/p90 of the model quantity and whether p50 is in band."""
    records = []
    for target in calibration_targets():
        record = {k: target.get(k) for k in ("id", "quantity", "value", "band", "unit", "date")}
        record.update(
            source=target["source"], reliability=target["reliability"], status=target["status"]
        )
        check = target.get("check")
        if check is None:
            record.update(p10=None, p50=None, p90=None, inside=None, reason=target.get("reason"))
            records.append(record)
            continue
        if check.startswith("param:"):
            values = np.asarray(out.params[check.removeprefix("param:")], dtype=float)
        else:
            values = np.asarray(CHECKS[check](out), dtype=float)
        p10, p50, p90 = (float(x) for x in np.nanpercentile(values, [10, 50, 90]))
        low, high = target["band"]
        record.update(
            p10=p10, p50=p50, p90=p90, inside=bool(low <= p50 <= high), reason=target.get("reason")
        )
        records.append(record)
    return records


def backtest(out: SimulationOutput) -> list[dict[str, Any]]:
    """Model vs Epoch AI, 2022–2025: compute share by country and largest runs by country.

    Epoch tracks clusters, not the whole stock, so shares are compared, not levels; Epoch's
    largest published model is a lower bound on the largest feasible run.
    """
    data = epoch_inputs()
    rows: list[dict[str, Any]] = []
    share = out.arrays["compute_share"]
    runs = out.arrays["largest_run_ops"]
    for year in ("2022", "2023", "2024", "2025"):
        if np.datetime64(f"{year}-12", "M") > out.months[-1]:
            continue
        m = _m(out, f"{year}-12")
        clusters = data["cluster_h100e"][year]
        tracked = sum(v for k, v in clusters.items() if not k.startswith("_"))
        models = data["largest_model_ops"][year]
        for code in out.actors.countries:
            a = _a(out, code)
            epoch_share = clusters.get(code, 0.0) / tracked if tracked else None
            p10, p50, p90 = (float(x) for x in np.percentile(share[:, a, m], [10, 50, 90]))
            r10, r50, r90 = (float(x) for x in np.percentile(runs[:, a, m], [10, 50, 90]))
            rows.append(
                {
                    "year": int(year), "actor": code,
                    "epoch_cluster_share": epoch_share, "model_share_p10": p10,
                    "model_share_p50": p50, "model_share_p90": p90,
                    "epoch_largest_model_ops": models.get(code),
                    "model_largest_run_p10": r10, "model_largest_run_p50": r50,
                    "model_largest_run_p90": r90,
                }
            )  # fmt: skip
    return rows
