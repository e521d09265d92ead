"""The training-compute monitor: one batch of telemetry in, alerts out, state carried over.

``run_monitor`` aggregates the batch with the chosen engine (``ingest.py``), folds it into the
running totals in the project database (``state.py``) unless told to run stateless, and computes
the alerts over everything seen so far (``alerts.py``), using the beneficial owners and
headquarters from the customer records (``customers.py``, ``kyc.py``). Processing telemetry in
two batches gives the same alerts as at once, and a row delivered twice counts once. A batch
that fails (unreadable file, database error) changes nothing. Under a reform
(``thresholds.with_reform``, ``--reform``) the alerts use the reformed thresholds and tiers and
carry the reform's id and content hash, which is also recorded with the batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sluicegate.cloud.alerts import AccountInfo, Owner, compute_alerts
from sluicegate.cloud.customers import Customer
from sluicegate.cloud.ingest import Aggregates, Engine, Reject, aggregate
from sluicegate.cloud.thresholds import CloudConfig, load_config


@dataclass
class MonitorResult:
    alerts: list[dict[str, Any]]
    rejects: list[Reject]
    rows_read: int
    rows_accepted: int
    rows_duplicate: int
    batch_id: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def account_info(
    customers: Sequence[Customer], config: CloudConfig | None = None
) -> dict[str, AccountInfo]:
    """Owners and headquarters tier per account, from customer records."""
    from sluicegate.cloud.kyc import effective_tier

    config = config or load_config()
    out: dict[str, AccountInfo] = {}
    for c in customers:
        date = c.as_of or dt.datetime.now(dt.UTC).date()
        out[c.account] = AccountInfo(
            account=c.account,
            owners=[
                Owner(id=o.id, name=o.name, country=o.country, percent=o.percent)
                for o in c.beneficial_owners
            ],
            outside_tier1=effective_tier(c, date, config) > 1,
        )
    return out


def run_monitor(
    paths: Sequence[str],
    *,
    customers: Sequence[Customer] = (),
    engine: Engine = "duckdb",
    scheduler: str | None = None,
    client: Any = None,
    state_url: str | None = None,
    stateless: bool = False,
    projection_days: int | None = None,
    window_days: int | None = None,
    config: CloudConfig | None = None,
) -> MonitorResult:
    """Process one batch of telemetry files and return the alerts over all telemetry so far."""
    config = config or load_config()
    state = None
    if not stateless:
        from sluicegate.cloud.state import MonitorState

        state = MonitorState(state_url)
    batch: Aggregates = aggregate(
        [str(p) for p in paths],
        engine=engine,
        config=config,
        seen=state.seen if state is not None else None,
        scheduler=scheduler,
        client=client,
    )
    reform = config.reform_record()
    batch_id = None
    if state is not None:
        batch_id = state.commit(batch, paths, reform=reform)
        days, capacity = state.days(), state.capacity()
    else:
        days, capacity = batch.days, batch.capacity
    alerts = compute_alerts(
        days,
        capacity,
        account_info(customers, config),
        config=config,
        projection_days=projection_days,
        window_days=window_days,
    )
    if reform is not None:  # each alert says which rules it was computed under
        for alert in alerts:
            alert["evidence"]["reform"] = reform
    unit = config.estimate.operations_unit
    summary = {
        "rows_read": batch.rows_read,
        "rows_accepted": batch.rows_accepted,
        "rows_rejected": len(batch.rejects) - batch.rows_duplicate,
        "rows_duplicate": batch.rows_duplicate,
        "jobs": days["job"].n_unique() if days.height else 0,
        "accounts": days["account"].n_unique() if days.height else 0,
        "operations_total": (int(days["ops_mid"].sum()) * unit) if days.height else 0.0,
        "alerts": len(alerts),
        "engine": engine,
        "state": None if state is None else state.url,
        "reform": reform,
    }
    return MonitorResult(
        alerts=alerts,
        rejects=batch.rejects,
        rows_read=batch.rows_read,
        rows_accepted=batch.rows_accepted,
        rows_duplicate=batch.rows_duplicate,
        batch_id=batch_id,
        summary=summary,
    )
