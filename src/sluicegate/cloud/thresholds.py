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
from pydantic import BaseModel, ConfigDict, Field

from sluicegate.regimes.model import Regime

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
    from_regime: str | None = None  # value and operator read from this regime's parameter
    parameter: str | None = None
    own_cite: str | None = None  # the entry's citation before "(value from ...)" is added

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
    model_config = ConfigDict(arbitrary_types_allowed=True)

    training: list[TrainingThreshold]
    clusters: list[ClusterThreshold]
    estimate: Estimate
    monitor: MonitorSettings
    kyc: KycSettings
    # a reform standing in for the regime the checks read (``with_reform``); None: as shipped
    reform: Regime | None = Field(default=None, exclude=True)

    def regime(self) -> Regime:
        """The regime the KYC checks read: the reform if one is applied, else ``kyc.regime``."""
        from sluicegate.regimes import get_regime

        if self.reform is not None and self.reform.reform_of == self.kyc.regime:
            return self.reform
        return get_regime(self.kyc.regime)

    def reform_record(self) -> dict[str, str] | None:
        """What to record with a run made under a reform: its id, base and content hash."""
        if self.reform is None:
            return None
        return {
            "id": self.reform.id,
            "reform_of": str(self.reform.reform_of),
            "reform_hash": str(self.reform.reform_hash),
        }


def _resolve_regime_threshold(
    entry: dict[str, Any], regime: Regime | None = None
) -> dict[str, Any]:
    """Fill value/operator/text of a threshold that lives in a regime (e.g. ECCN 4E091), from
    ``regime`` if given (a reform of ``from_regime``), else from ``from_regime`` itself."""
    from sluicegate.regimes import get_regime

    source = regime if regime is not None else get_regime(entry["from_regime"])
    meta = source.param_meta(entry["parameter"])
    out = dict(entry)
    out["own_cite"] = entry.get("cite")
    out["value"] = float(meta.value)
    out["operator"] = meta.operator or ">="
    out["text"] = meta.text or ""
    out["unconfirmed"] = meta.unconfirmed
    where = f"regime {entry['from_regime']}" if regime is None else f"reform {regime.id}"
    out["cite"] = f"{entry.get('cite', meta.cite)} (value from {where})"
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


class ReformNotApplicable(ValueError):
    """The reform cannot be read by the cloud checks (unknown, unreadable, or of another regime)."""


def with_reform(
    reform: str | Path | Regime | None, config: CloudConfig | None = None
) -> CloudConfig:
    """The configuration under a reform (a YAML file, a shipped reform's name, or a loaded
    reformed regime), as ``sluice decide --reform`` reads it.

    The reform stands in for its base regime wherever the cloud checks read that regime: the
    thresholds taken from it (``from_regime``, e.g. ECCN 4E091's training-operations threshold,
    so the monitor's alerts move) and the KYC checks' tiers and red flags (``kyc.regime``). The
    training-compute reporting thresholds of ``thresholds.yaml`` are not regime parameters, so a
    reform does not change them. A reform of a regime the cloud checks do not read is refused."""
    config = config or load_config()
    if reform is None:
        return config
    from sluicegate.regimes import RegimeDataError, UnknownRegimeError, load_reform

    if isinstance(reform, Regime):
        regime = reform
    else:
        try:
            regime = load_reform(reform)
        except (RegimeDataError, UnknownRegimeError) as exc:
            raise ReformNotApplicable(str(exc)) from exc
    base = regime.reform_of or regime.id
    read = {config.kyc.regime} | {t.from_regime for t in config.training if t.from_regime}
    if base not in read:
        raise ReformNotApplicable(
            f"{regime.id} is a reform of {base}, but the cloud checks read "
            f"{', '.join(sorted(r for r in read if r))}"
        )
    training = []
    for t in config.training:
        if t.from_regime == base and t.parameter:
            entry = t.model_dump(exclude={"value", "operator", "text", "unconfirmed", "cite"})
            if t.own_cite:
                entry["cite"] = t.own_cite
            t = TrainingThreshold.model_validate(_resolve_regime_threshold(entry, regime))
        training.append(t)
    return config.model_copy(update={"training": training, "reform": regime})
