"""Cloud: know-your-customer checks for IaaS customers and a training-compute monitor.

Public API: :func:`check_customer` (KYC outcome with trace and citations), :func:`load_customers`,
:func:`run_monitor` (telemetry batch -> alerts, state in the project database),
:func:`aggregate` (the DuckDB / Dask aggregation alone), :func:`compute_alerts`,
:func:`load_config` (thresholds as data), :func:`with_reform` (the same under a reform, as
``--reform`` reads it). The CLI verbs ``sluice cloud kyc`` and
``sluice cloud monitor`` live in ``commands.py``. Depends on ``regimes`` (tiers, catalogue,
the 4E091 threshold) and ``screening`` (restricted parties, called only by ``kyc._screen_party``).
"""

from __future__ import annotations

from sluicegate.cloud.alerts import AccountInfo, Owner, compute_alerts
from sluicegate.cloud.customers import Customer, CustomerError, load_customers, parse_customer
from sluicegate.cloud.ingest import Aggregates, Reject, TelemetryError, aggregate
from sluicegate.cloud.kyc import ScreeningUnavailable, check_customer
from sluicegate.cloud.monitor import MonitorResult, account_info, run_monitor
from sluicegate.cloud.thresholds import CloudConfig, ReformNotApplicable, load_config, with_reform

__all__ = [
    "AccountInfo",
    "Aggregates",
    "CloudConfig",
    "Customer",
    "CustomerError",
    "MonitorResult",
    "Owner",
    "ReformNotApplicable",
    "Reject",
    "ScreeningUnavailable",
    "TelemetryError",
    "account_info",
    "aggregate",
    "check_customer",
    "compute_alerts",
    "load_config",
    "load_customers",
    "parse_customer",
    "run_monitor",
    "with_reform",
]
