"""Alerts from the monitor's totals: crossings, projected crossings, structuring, cluster capacity.

Input is the exact integer state built by ``ingest.py`` (per account/job/day and per
account/hour), so the same alerts come out whatever the engine and however the telemetry was
split into batches. Thresholds come from ``thresholds.py`` (law as data). "Now" is the latest
telemetry timestamp, never the wall clock, so a run is reproducible. ``monitor.py`` calls
:func:`compute_alerts`; the CLI prints them (contract §3 ``sluice cloud monitor``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sluicegate.cloud.ingest import DAY_US
from sluicegate.cloud.thresholds import CloudConfig, TrainingThreshold, load_config

KIND_ORDER = {
    "threshold-crossed": 0,
    "projected-crossing": 1,
    "structuring": 2,
    "cluster-capacity": 3,
}


@dataclass
class Owner:
    id: str
    name: str | None = None
    country: str | None = None
    percent: float | None = None


@dataclass
class AccountInfo:
    """What the monitor knows about an account from the customer records."""

    account: str
    owners: list[Owner] = field(default_factory=list)
    outside_tier1: bool | None = None  # headquarters or ultimate parent outside Tier 1


def _iso(us: int) -> str:
    return (
        dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


@dataclass
class _Job:
    job: str
    accounts: list[str]
    parent: str | None
    ops_low: int
    ops_mid: int
    ops_high: int
    bio_ops: int
    accelerator_seconds: int
    first_us: int
    last_end_us: int
    recent_ops: int


def _jobs(days: pl.DataFrame, window_start_day: int) -> dict[str, _Job]:
    grouped = (
        days.group_by("job")
        .agg(
            pl.col("account").unique().sort().alias("accounts"),
            pl.col("parent_job").max(),
            pl.col("ops_low").sum(),
            pl.col("ops_mid").sum(),
            pl.col("ops_high").sum(),
            pl.col("bio_ops_mid").sum(),
            pl.col("accelerator_seconds").sum(),
            pl.col("first_us").min(),
            pl.col("last_end_us").max(),
            pl.col("ops_mid").filter(pl.col("day") >= window_start_day).sum().alias("recent"),
        )
        .sort("job")
    )
    return {
        r["job"]: _Job(
            job=r["job"],
            accounts=list(r["accounts"]),
            parent=r["parent_job"],
            ops_low=int(r["ops_low"]),
            ops_mid=int(r["ops_mid"]),
            ops_high=int(r["ops_high"]),
            bio_ops=int(r["bio_ops_mid"]),
            accelerator_seconds=int(r["accelerator_seconds"]),
            first_us=int(r["first_us"]),
            last_end_us=int(r["last_end_us"]),
            recent_ops=int(r["recent"] or 0),
        )
        for r in grouped.iter_rows(named=True)
    }


def _chain(job: str, jobs: dict[str, _Job]) -> tuple[list[str], list[str]]:
    """The lineage of ``job``, base model first, and notes (missing parent, cycle)."""
    chain, notes, seen = [job], [], {job}
    current = jobs[job].parent
    while current is not None:
        if current in seen:
            notes.append(f"parent_job cycle at {current!r}; lineage cut there")
            break
        if current not in jobs:
            notes.append(f"parent job {current!r} not in the telemetry; its operations are unknown")
            break
        chain.append(current)
        seen.add(current)
        current = jobs[current].parent
    return list(reversed(chain)), notes


def _owners_of(accounts: list[str], info: dict[str, AccountInfo], min_percent: float) -> list[str]:
    out: set[str] = set()
    for a in accounts:
        for o in info.get(a, AccountInfo(a)).owners:
            if o.percent is None or o.percent >= min_percent:
                out.add(o.id)
    return sorted(out)


def _applies(th: TrainingThreshold, accounts: list[str], info: dict[str, AccountInfo]) -> bool:
    if th.applies_to == "outside-tier1":
        return any(info.get(a, AccountInfo(a)).outside_tier1 for a in accounts)
    return True


def compute_alerts(
    days: pl.DataFrame,
    capacity: pl.DataFrame,
    accounts: dict[str, AccountInfo] | None = None,
    *,
    config: CloudConfig | None = None,
    projection_days: int | None = None,
    window_days: int | None = None,
) -> list[dict[str, Any]]:
    """Every alert, in a stable order (kind, threshold, owner, accounts, jobs)."""
    config = config or load_config()
    info = accounts or {}
    mon = config.monitor
    horizon = projection_days if projection_days is not None else mon.projection_days
    window = window_days if window_days is not None else mon.window_days
    alerts: list[dict[str, Any]] = []
    if days.height:
        as_of_us = int(days["last_end_us"].max())  # type: ignore[arg-type]
        as_of_day = as_of_us // DAY_US
        rate_start_day = as_of_day - mon.rate_window_days + 1
        jobs = _jobs(days, rate_start_day)
        alerts += _training_alerts(jobs, info, config, as_of_us, rate_start_day, horizon)
        alerts += _structuring(days, jobs, info, config, window)
    alerts += _capacity_alerts(capacity, days, info, config)
    alerts.sort(
        key=lambda a: (
            KIND_ORDER[a["kind"]],
            a.get("threshold_id", ""),
            a["owner"] or "",
            a["accounts"],
            a["jobs"],
        )
    )
    return alerts


def _training_alerts(
    jobs: dict[str, _Job],
    info: dict[str, AccountInfo],
    config: CloudConfig,
    as_of_us: int,
    rate_start_day: int,
    horizon: int,
) -> list[dict[str, Any]]:
    unit = config.estimate.operations_unit
    out: list[dict[str, Any]] = []
    lineages = {j: _chain(j, jobs) for j in jobs}
    totals: dict[str, dict[str, int]] = {}
    for j, (chain, _) in lineages.items():
        totals[j] = {
            k: sum(getattr(jobs[c], k) for c in chain)
            for k in ("ops_low", "ops_mid", "ops_high", "bio_ops", "recent_ops")
        }
    window_start_us = rate_start_day * DAY_US
    for th in config.training:
        for j, (chain, notes) in lineages.items():
            t = totals[j]
            accounts = sorted({a for c in chain for a in jobs[c].accounts})
            if not _applies(th, accounts, info):
                continue
            bio_share = t["bio_ops"] / t["ops_mid"] if t["ops_mid"] else 0.0
            if th.applies_to == "bio" and bio_share <= th.primarily_share:
                continue
            mid, low, high = (t[k] * unit for k in ("ops_mid", "ops_low", "ops_high"))
            parent = jobs[j].parent
            parent_crossed = (
                parent in totals and len(chain) > 1 and th.crossed(totals[parent]["ops_mid"] * unit)
            )
            owners = _owners_of(accounts, info, config.monitor.beneficial_owner_min_percent)
            span_s = max(1.0, (as_of_us - max(window_start_us, jobs[chain[0]].first_us)) / 1e6)
            rate = t["recent_ops"] * unit / span_s
            evidence: dict[str, Any] = {
                "threshold": th.title,
                "operator": th.operator,
                "operations_low": low,
                "operations_high": high,
                "lineage": chain,
                "job_operations": {c: jobs[c].ops_mid * unit for c in chain},
                "accelerator_hours": sum(jobs[c].accelerator_seconds for c in chain) / 3600,
                "first_seen": _iso(min(jobs[c].first_us for c in chain)),
                "last_seen": _iso(max(jobs[c].last_end_us for c in chain)),
                "rate_ops_per_s": rate,
                "bio_share": round(bio_share, 6),
                "owners": owners,
                "citation": th.cite,
            }
            if th.unconfirmed:
                evidence["unconfirmed"] = th.unconfirmed
            if notes:
                evidence["notes"] = notes
            base = {
                "threshold_id": th.id,
                "threshold_ops": th.value,
                "operations": mid,
                "accounts": accounts,
                "owner": owners[0] if len(owners) == 1 else None,
                "jobs": chain,
            }
            if th.crossed(mid):
                if parent_crossed:
                    continue  # reported at the first job of the lineage that crossed
                evidence["lower_estimate_crosses"] = th.crossed(low)
                out.append({"kind": "threshold-crossed", **base, "evidence": evidence})
                continue
            if t["recent_ops"] <= 0 and not th.crossed(high):
                continue
            days_left = (th.value - mid) / rate / 86400 if rate > 0 else None
            upper = th.crossed(high)
            if (days_left is not None and days_left <= horizon) or upper:
                if t["recent_ops"] <= 0 and any(
                    jobs[k].parent == j for k in jobs
                ):  # a finished base model: its active fine-tunes carry the projection
                    continue
                evidence["days_to_crossing"] = None if days_left is None else round(days_left, 3)
                evidence["projection_days"] = horizon
                evidence["upper_estimate_crosses"] = upper
                out.append({"kind": "projected-crossing", **base, "evidence": evidence})
    return out


def _structuring(
    days: pl.DataFrame,
    jobs: dict[str, _Job],
    info: dict[str, AccountInfo],
    config: CloudConfig,
    window: int,
) -> list[dict[str, Any]]:
    """One owner's runs across accounts that together cross a threshold none crosses alone."""
    unit = config.estimate.operations_unit
    min_pct = config.monitor.beneficial_owner_min_percent
    owner_accounts: dict[str, list[str]] = {}
    for account, acc in info.items():
        for o in acc.owners:
            if o.percent is None or o.percent >= min_pct:
                owner_accounts.setdefault(o.id, []).append(account)
    out: list[dict[str, Any]] = []
    for owner, accounts in sorted(owner_accounts.items()):
        if len(accounts) < 2:
            continue
        mine = days.filter(pl.col("account").is_in(accounts))
        if mine.height == 0:
            continue
        for th in config.training:
            if th.applies_to == "outside-tier1":
                continue  # same figure as the general threshold; Red Flag 28 is for KYC
            column = "bio_ops_mid" if th.applies_to == "bio" else "ops_mid"
            per_day = (
                mine.group_by(["account", "day"])
                .agg(pl.col(column).sum().alias("ops"), pl.col("ops_mid").sum().alias("all"))
                .sort(["day", "account"])
            )
            for end_day in per_day["day"].unique().sort().to_list():
                start_day = end_day - window + 1
                in_window = per_day.filter(pl.col("day").is_between(start_day, end_day))
                by_account = in_window.group_by("account").agg(pl.col("ops").sum()).sort("account")
                ops = {r["account"]: int(r["ops"]) for r in by_account.iter_rows(named=True)}
                total = sum(ops.values())
                active = [a for a, v in ops.items() if v > 0]
                all_ops = int(in_window["all"].sum())
                if th.applies_to == "bio" and (
                    not all_ops or total / all_ops <= th.primarily_share
                ):
                    continue
                if len(active) < 2 or not th.crossed(total * unit):
                    continue
                if any(th.crossed(v * unit) for v in ops.values()):
                    break  # one account crosses alone: not structuring (a crossing alert covers it)
                window_jobs = (
                    mine.filter(pl.col("day").is_between(start_day, end_day))["job"]
                    .unique()
                    .sort()
                    .to_list()
                )
                if any(
                    th.crossed(
                        sum(
                            jobs[c].ops_mid if column == "ops_mid" else jobs[c].bio_ops
                            for c in _chain(j, jobs)[0]
                        )
                        * unit
                    )
                    for j in window_jobs
                ):
                    break  # a single lineage crosses: reported as threshold-crossed
                out.append(
                    {
                        "kind": "structuring",
                        "threshold_id": th.id,
                        "threshold_ops": th.value,
                        "operations": total * unit,
                        "accounts": sorted(active),
                        "owner": owner,
                        "jobs": window_jobs,
                        "evidence": {
                            "threshold": th.title,
                            "operator": th.operator,
                            "window_days": window,
                            "window_start": _iso(start_day * DAY_US),
                            "window_end": _iso((end_day + 1) * DAY_US),
                            "account_operations": {a: v * unit for a, v in ops.items() if v > 0},
                            "largest_account_share": round(max(ops.values()) / total, 6),
                            "rate_ops_per_s": total * unit / (window * 86400),
                            "citation": th.cite,
                            "beneficial_owner_rule": config.monitor.beneficial_owner_cite,
                        },
                    }
                )
                break  # the earliest window that shows it
    return out


def _over(column: str, value: float, operator: str, unit: float) -> pl.Expr:
    scaled = pl.col(column).cast(pl.Float64) * unit
    return scaled > value if operator == ">" else scaled >= value


def _capacity_alerts(
    capacity: pl.DataFrame,
    days: pl.DataFrame,
    info: dict[str, AccountInfo],
    config: CloudConfig,
) -> list[dict[str, Any]]:
    if capacity.height == 0:
        return []
    cap_unit = config.estimate.capacity_unit
    bucket_us = config.estimate.capacity_bucket_seconds * 1_000_000
    out: list[dict[str, Any]] = []
    min_pct = config.monitor.beneficial_owner_min_percent

    def jobs_during(accounts: list[str], hours: list[int]) -> list[str]:
        if days.height == 0 or not hours:
            return []
        lo, hi = min(hours) * bucket_us, (max(hours) + 1) * bucket_us
        hit = days.filter(
            pl.col("account").is_in(accounts)
            & (pl.col("first_us") < hi)
            & (pl.col("last_end_us") > lo)
        )
        return sorted(hit["job"].unique().to_list())

    def networking(th: Any, gbps: float | None) -> dict[str, str]:
        result = {}
        for cid, need, op in [
            (th.id, th.networking_gbps, th.networking_operator),
            *[(a.id, a.networking_gbps, a.networking_operator) for a in th.alternatives],
        ]:
            if gbps is None:
                result[cid] = "networking unknown"
            else:
                ok = gbps > need if op == ">" else gbps >= need
                result[cid] = "met" if ok else "networking below the definition"
        return result

    for th in config.clusters:
        for account in sorted(capacity["account"].unique().to_list()):
            rows = capacity.filter(pl.col("account") == account).sort("hour")
            over = rows.filter(_over("capacity_units", th.value, th.operator, cap_unit))
            if over.height == 0:
                continue
            peak_row = over.sort(["capacity_units", "hour"], descending=[True, False]).row(
                0, named=True
            )
            gbps = over["network_gbps"].max()
            owners = _owners_of([account], info, min_pct)
            hours = over["hour"].to_list()
            out.append(
                {
                    "kind": "cluster-capacity",
                    "threshold_id": th.id,
                    "threshold_ops": th.value,
                    "operations": peak_row["capacity_units"] * cap_unit,
                    "accounts": [account],
                    "owner": owners[0] if len(owners) == 1 else None,
                    "jobs": jobs_during([account], hours),
                    "evidence": {
                        "unit": "operations per second (dense peak, hourly average)",
                        "first_hour": _iso(hours[0] * bucket_us),
                        "peak_hour": _iso(peak_row["hour"] * bucket_us),
                        "hours_over": len(hours),
                        "accelerators_at_peak": peak_row["accelerator_seconds"]
                        / config.estimate.capacity_bucket_seconds,
                        "networking_gbps": gbps,
                        "definitions": networking(th, gbps),  # type: ignore[arg-type]
                        "owners": owners,
                        "citation": th.cite,
                    },
                }
            )
        # one owner's accounts that together hold a cluster none holds alone
        owner_accounts: dict[str, list[str]] = {}
        for account, acc in info.items():
            for o in acc.owners:
                if o.percent is None or o.percent >= min_pct:
                    owner_accounts.setdefault(o.id, []).append(account)
        for owner, accounts in sorted(owner_accounts.items()):
            mine = capacity.filter(pl.col("account").is_in(accounts))
            if mine.height == 0 or mine["account"].n_unique() < 2:
                continue
            if any(th.crossed(int(u) * cap_unit) for u in mine["capacity_units"]):
                continue
            hourly = (
                mine.group_by("hour")
                .agg(
                    pl.col("capacity_units").sum(),
                    pl.col("account").unique().sort().alias("accounts"),
                    pl.col("network_gbps").max(),
                )
                .sort("hour")
            )
            over = hourly.filter(_over("capacity_units", th.value, th.operator, cap_unit))
            if over.height == 0:
                continue
            first = over.row(0, named=True)
            out.append(
                {
                    "kind": "structuring",
                    "threshold_id": th.id,
                    "threshold_ops": th.value,
                    "operations": first["capacity_units"] * cap_unit,
                    "accounts": list(first["accounts"]),
                    "owner": owner,
                    "jobs": jobs_during(list(first["accounts"]), [first["hour"]]),
                    "evidence": {
                        "unit": "operations per second (dense peak, hourly average)",
                        "first_hour": _iso(first["hour"] * bucket_us),
                        "hours_over": over.height,
                        "networking_gbps": first["network_gbps"],
                        "citation": th.cite,
                    },
                }
            )
    return out
