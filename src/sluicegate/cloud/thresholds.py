"""Cloud thresholds and estimation defaults, read from ``cloud/data/thresholds.yaml`` (law as data).

The training-compute thresholds (EO 14110, the September 2024 reporting NPRM), the cluster
threshold, the utilisation range of the operations estimate and the monitor's windows live in that
file with their citations; the ECCN 4E091 threshold is read from the AI Diffusion regime through
``sluicegate.regimes`` so that a reform of the regime moves it here too. ``kyc.py``, ``ingest.py``
and ``alerts.py`` read everything through :func:`load_config`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

DATA = Path(__file__).parent / "data"
Operator = Literal[">", ">="]


class TrainingThreshold(BaseModel):
    """A training-compute threshold: a lineage's operations compared with ``value``."""

    model_config = ConfigDict(extra="ignore")

    id: str
    title: str
    value: float
    operator: Operator
    unit: str = "operations"
    applies_to: Literal["all", "bio", "outside-tier1"]
    primarily_share: float = 0.5
    cite: str
    text: str = ""
    unconfirmed: str | None = None

    def crossed(self, operations: float) -> bool:
        return operations > self.value if self.operator == ">" else operations >= self.value


class ClusterAlternative(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    networking_gbps: float
    networking_operator: Operator = ">"
    cite: str
    text: str = ""


class ClusterThreshold(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    title: str
    value: float
    operator: Operator
    unit: str
    networking_gbps: float
    networking_operator: Operator = ">"
    cite: str
    text: str = ""
    unconfirmed: str | None = None
    alternatives: list[ClusterAlternative] = []

    def crossed(self, ops_per_s: float) -> bool:
        return ops_per_s > self.value if self.operator == ">" else ops_per_s >= self.value


class Utilization(BaseModel):
    default: float
    low: float
    high: float
    cite: str
    unconfirmed: str | None = None


class Estimate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    default_precision: str
    fallback_precisions: list[str]
    utilization: Utilization
    operations_unit: float
    capacity_unit: float
    capacity_bucket_seconds: int
    limits: dict[str, float]


class MonitorSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    window_days: int
    rate_window_days: int
    projection_days: int
    beneficial_owner_min_percent: float
    beneficial_owner_cite: str
    beneficial_owner_unconfirmed: str | None = None


class KycSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    regime: str
    cip_fields: list[str]
    cip_cite: str
    cip_text: str
    cip_unconfirmed: str | None = None
    majority_owner_percent: float
    majority_owner_unconfirmed: str | None = None
    citations: dict[str, str]


class CloudConfig(BaseModel):
    training: list[TrainingThreshold]
    clusters: list[ClusterThreshold]
    estimate: Estimate
    monitor: MonitorSettings
    kyc: KycSettings


def _resolve_regime_threshold(entry: dict[str, Any]) -> dict[str, Any]:
    """Fill value/operator/text of a threshold that lives in a regime (e.g. ECCN 4E091)."""
    from sluicegate.regimes import get_regime

    meta = get_regime(entry["from_regime"]).param_meta(entry["parameter"])
    out = dict(entry)
    out["value"] = float(meta.value)
    out["operator"] = meta.operator or ">="
    out["text"] = meta.text or ""
    out["unconfirmed"] = meta.unconfirmed
    out["cite"] = f"{entry.get('cite', meta.cite)} (value from regime {entry['from_regime']})"
    return out


@cache
def load_config(path: str | None = None) -> CloudConfig:
    """The cloud configuration (thresholds with citations, estimate defaults, monitor windows)."""
    raw = yaml.safe_load(Path(path or DATA / "thresholds.yaml").read_text(encoding="utf-8"))
    training = [
        _resolve_regime_threshold(t) if "from_regime" in t else t
        for t in raw["training_thresholds"]
    ]
    return CloudConfig(
        training=[TrainingThreshold.model_validate(t) for t in training],
        clusters=[ClusterThreshold.model_validate(c) for c in raw["cluster_thresholds"]],
        estimate=Estimate.model_validate(raw["estimate"]),
        monitor=MonitorSettings.model_validate(raw["monitor"]),
        kyc=KycSettings.model_validate(raw["kyc"]),
    )
