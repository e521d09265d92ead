"""A small, deterministic demonstration data set for the cloud capability (README tour, tests).

``write_sample(directory)`` writes ``customers.jsonl`` and ``telemetry.csv`` (plus a Parquet copy)
describing a few invented customers whose usage shows every alert kind: a run crossing 10^26
operations with a fine-tune on top, a run projected to cross within 30 days, one beneficial
owner's four accounts that together cross 10^26 (structuring), a biological-sequence run over
10^23, a cluster over 10^20 OP/s, and a few impossible rows that go to the rejects file. All names
are fictitious.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
COLUMNS = [
    "timestamp",
    "account",
    "job",
    "accelerator",
    "count",
    "seconds",
    "utilization",
    "parent_job",
    "domain",
    "precision",
    "network_gbps",
]


def _cip(account: str, name: str, country: str, **extra: Any) -> dict[str, Any]:
    record = {
        "account": account,
        "name": name,
        "country": country,
        "headquarters": country,
        "address": f"1 Example Street, {country}",
        "payment_source": "corporate bank account",
        "payment_means": "wire transfer",
        "emails": [f"ops@{account}.example"],
        "phones": ["+1 555 0100"],
        "ips": ["192.0.2.10"],
        "beneficial_owners": [],
    }
    record.update(extra)
    return record


def sample_customers() -> list[dict[str, Any]]:
    frontier_owner = {"id": "bo-frontier", "name": "Avery Quill", "country": "US", "percent": 80}
    hidden = {"id": "bo-9", "name": "Lin Harbour Holdings", "country": "CN", "percent": 100}
    return [
        _cip(
            "acct-frontier", "Frontier Example Labs Inc", "US", beneficial_owners=[frontier_owner]
        ),
        _cip(
            "acct-climber",
            "Climber AI FZ-LLC",
            "AE",
            planned_training_ops=1.2e26,
            beneficial_owners=[
                {"id": "bo-climb", "name": "Sam Dune", "country": "AE", "percent": 100}
            ],
        ),
        *[
            _cip(f"acct-s{k}", f"Northwind Compute {k} Pte Ltd", "SG", beneficial_owners=[hidden])
            for k in range(1, 5)
        ],
        _cip(
            "acct-bio",
            "Helix Example Bio GmbH",
            "DE",
            training_domain="bio",
            planned_training_ops=3e23,
            beneficial_owners=[
                {"id": "bo-helix", "name": "Ida Helix", "country": "DE", "percent": 51}
            ],
        ),
        _cip("acct-cluster", "Big Iron Example Corp", "US"),
    ]


def _rows(
    account: str,
    job: str,
    chip: str,
    count: int,
    first_day: int,
    days: int,
    **extra: Any,
) -> list[dict[str, Any]]:
    out = []
    for d in range(days):
        ts = START + dt.timedelta(days=first_day + d)
        out.append(
            {
                "timestamp": ts.isoformat().replace("+00:00", "Z"),
                "account": account,
                "job": job,
                "accelerator": chip,
                "count": count,
                "seconds": 86400,
                **extra,
            }
        )
    return out


def sample_telemetry() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # 32,768 H100 for 90 days at the default 0.4 utilisation: about 1.01e26 operations
    rows += _rows("acct-frontier", "frontier-1", "nvidia-h100-sxm", 32768, 0, 90)
    rows += _rows(
        "acct-frontier", "frontier-1-chat", "nvidia-h100-sxm", 1024, 90, 5, parent_job="frontier-1"
    )
    # 30,000 H100 for 70 days so far: 7.2e25, crossing 1e26 in about four weeks at this rate
    rows += _rows("acct-climber", "climber-base", "nvidia-h100-sxm", 30000, 31, 70)
    # one owner, four accounts, 20,000 H100 each for 40 days: 2.7e25 each, 1.1e26 together
    for k in range(1, 5):
        rows += _rows(f"acct-s{k}", f"nw-shard-{k}", "nvidia-h100-sxm", 20000, 45, 40)
    # 2,000 A100 for 10 days on protein sequences: 2.2e23 (over the 1e23 biological threshold)
    rows += _rows("acct-bio", "protein-lm", "nvidia-a100", 2000, 60, 10, domain="bio")
    # 50,000 B200 for 2 days with 400 Gbit/s networking: 1.1e20 OP/s (cluster threshold)
    rows += _rows("acct-cluster", "burst", "nvidia-b200", 50000, 70, 2, network_gbps=400)
    # impossible rows: they go to the rejects file
    bad_ts = START.isoformat().replace("+00:00", "Z")
    rows += [
        {"timestamp": bad_ts, "account": "acct-bio", "job": "oops", "accelerator": "nvidia-a100",
         "count": 8, "seconds": -60},
        {"timestamp": bad_ts, "account": "acct-bio", "job": "oops", "accelerator": "nvidia-h1000",
         "count": 8, "seconds": 60},
        {"timestamp": bad_ts, "account": "", "job": "oops", "accelerator": "nvidia-a100",
         "count": 8, "seconds": 60},
        {"timestamp": "yesterday", "account": "acct-bio", "job": "oops",
         "accelerator": "nvidia-a100", "count": 8, "seconds": 60},
    ]  # fmt: skip
    return rows


def write_sample(directory: str | Path) -> dict[str, Path]:
    """Write the demonstration customers and telemetry; returns the paths written."""
    import polars as pl

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    customers = out / "customers.jsonl"
    with customers.open("w", encoding="utf-8") as handle:
        for record in sample_customers():
            handle.write(json.dumps(record) + "\n")
    rows = sample_telemetry()
    telemetry = out / "telemetry.csv"
    with telemetry.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
    good = [r for r in rows if r["job"] != "oops"]
    parquet = out / "telemetry.parquet"
    pl.DataFrame(
        {
            "timestamp": [dt.datetime.fromisoformat(r["timestamp"]) for r in good],
            "account": [r["account"] for r in good],
            "job": [r["job"] for r in good],
            "accelerator": [r["accelerator"] for r in good],
            "count": [r["count"] for r in good],
            "seconds": [float(r["seconds"]) for r in good],
            "parent_job": [r.get("parent_job") for r in good],
            "domain": [r.get("domain") for r in good],
            "network_gbps": [r.get("network_gbps") for r in good],
        },
        schema_overrides={"network_gbps": pl.Float64, "parent_job": pl.Utf8, "domain": pl.Utf8},
    ).write_parquet(parquet)
    return {"customers": customers, "telemetry": telemetry, "telemetry_parquet": parquet}
