"""Derive the simulator's Epoch AI inputs and backtest targets from the Epoch CSV files.

The simulator never reads third-party files at run time: this module turns Epoch AI's GPU-cluster
and notable-model tables (CC BY 4.0, shipped beside the project in ``../shared/data/epoch-ai``)
into ``data/epoch_inputs.yaml`` inside the package (``build_epoch_inputs``), and the backtest
(``sluicegate.simulate.calibration.backtest``) compares a run with the same derived tables.
Data: Epoch AI, 'Data on GPU Clusters' and 'Data on AI Models', published online at epoch.ai.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import yaml

from sluicegate.simulate.actors import EPOCH_COUNTRY_NAMES

ATTRIBUTION = (
    "Data: Epoch AI, 'Data on GPU Clusters' and 'Data on AI Models', published online at "
    "epoch.ai (CC BY 4.0)."
)
YEARS = (2021, 2022, 2023, 2024, 2025)


def _country_code(name: str | None) -> str | None:
    if name is None:
        return None
    first = name.split(",")[0].strip()
    return EPOCH_COUNTRY_NAMES.get(first)


def cluster_table(epoch_dir: Path) -> pl.DataFrame:
    """Existing/decommissioned clusters with ISO code, first operational date and H100e."""
    frame = pl.read_csv(epoch_dir / "gpu_clusters.csv", infer_schema_length=0)
    frame = frame.filter(pl.col("Status") != "Planned").select(
        pl.col("Country").map_elements(_country_code, return_dtype=pl.String).alias("country"),
        pl.col("H100 equivalents").cast(pl.Float64, strict=False).fill_null(0.0).alias("h100e"),
        pl.col("First Operational Date")
        .str.strptime(pl.Date, "%m/%d/%Y", strict=False)
        .alias("first_operational"),
    )
    return frame.filter(pl.col("first_operational").is_not_null())


def model_table(epoch_dir: Path) -> pl.DataFrame:
    """Notable models with ISO code of the (first) developer country and training compute."""
    frame = pl.read_csv(epoch_dir / "notable_ai_models.csv", infer_schema_length=0)
    return frame.select(
        pl.col("Country (of organization)")
        .map_elements(_country_code, return_dtype=pl.String)
        .alias("country"),
        pl.col("Training compute (FLOP)").cast(pl.Float64, strict=False).alias("training_ops"),
        pl.col("Publication date").str.slice(0, 4).cast(pl.Int32, strict=False).alias("year"),
    ).filter(pl.col("training_ops").is_not_null() & pl.col("year").is_not_null())


def derive(epoch_dir: Path) -> dict[str, Any]:
    """Per country and year: tracked cluster H100e (cumulative), largest cluster, largest model."""
    clusters = cluster_table(epoch_dir)
    models = model_table(epoch_dir)
    out: dict[str, Any] = {
        "attribution": ATTRIBUTION,
        "cluster_h100e": {},
        "largest_cluster_h100e": {},
    }
    out["largest_model_ops"] = {}
    for year in YEARS:
        upto = clusters.filter(pl.col("first_operational").dt.year() <= year)
        grouped = upto.group_by("country").agg(
            pl.col("h100e").sum().alias("total"), pl.col("h100e").max().alias("largest")
        )
        total_tracked = float(upto["h100e"].sum())
        out["cluster_h100e"][str(year)] = {"_tracked_total": round(total_tracked, 1)}
        out["largest_cluster_h100e"][str(year)] = {}
        for cc, total, largest in grouped.iter_rows():
            if cc is None:
                continue
            out["cluster_h100e"][str(year)][cc] = round(float(total), 1)
            out["largest_cluster_h100e"][str(year)][cc] = round(float(largest or 0.0), 1)
        best = (
            models.filter(pl.col("year") <= year)
            .group_by("country")
            .agg(pl.col("training_ops").max())
        )
        out["largest_model_ops"][str(year)] = {
            cc: float(ops) for cc, ops in best.iter_rows() if cc is not None
        }
    return out


def build_epoch_inputs(epoch_dir: Path, target: Path) -> None:
    """Write the derived tables as YAML (run when the Epoch snapshot changes)."""
    data = derive(epoch_dir)
    header = (
        "# Derived from Epoch AI's GPU-cluster and notable-model tables by\n"
        "# sluicegate.simulate.epoch.build_epoch_inputs; do not edit by hand.\n"
        f"# {ATTRIBUTION}\n"
    )
    target.write_text(header + yaml.safe_dump(data, sort_keys=True), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    build_epoch_inputs(Path(sys.argv[1]), Path(sys.argv[2]))
