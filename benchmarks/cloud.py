"""Cloud monitor benchmark: aggregate N telemetry rows from Parquet with DuckDB, Dask and pandas.

Generates N synthetic telemetry rows (default 100,000,000) as Parquet in chunks of bounded
memory, then aggregates them (validation, operations estimate, per account/job/day totals and
hourly cluster capacity) with each engine in its own subprocess so that each peak memory figure
is that engine's alone:

- DuckDB (the default engine; memory_limit 3 GB, 2 threads) over all N rows;
- Dask on a LocalCluster (2 workers, 1 thread each, in-process) over the same N rows, unless
  ``--dask-rows`` limits it;
- a plain pandas implementation (the baseline) on a sample that fits in memory (``--pandas-rows``).

It checks that DuckDB and Dask give identical tables, and that pandas gives the same per-day
operations as DuckDB on the sample, then prints rows/s, peak memory and the ratio to the pandas
baseline. Targets (2 cores): >= 5,000,000 rows/s with DuckDB, peak <= 4 GiB.

    python benchmarks/cloud.py --rows 20000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import peak_rss_mib, save

CHIPS = ["nvidia-h100-sxm", "nvidia-a100", "nvidia-b200", "amd-mi300x", "google-tpu-v5p"]
START_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z


def generate(path: Path, rows: int, *, chunk: int, accounts: int, jobs: int, seed: int) -> float:
    """Write ``rows`` telemetry rows to ``path`` in chunks; returns seconds taken."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    account_names = pa.array([f"acct-{i:05d}" for i in range(accounts)])
    job_names = pa.array([f"job-{i:06d}" for i in range(jobs)])
    chips = pa.array(CHIPS)
    domains = pa.array(["bio"])
    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("account", pa.dictionary(pa.int32(), pa.string())),
            ("job", pa.dictionary(pa.int32(), pa.string())),
            ("accelerator", pa.dictionary(pa.int32(), pa.string())),
            ("count", pa.int64()),
            ("seconds", pa.float64()),
            ("utilization", pa.float64()),
            ("parent_job", pa.dictionary(pa.int32(), pa.string())),
            ("domain", pa.dictionary(pa.int32(), pa.string())),
        ]
    )
    job_account = rng.integers(0, accounts, jobs)
    job_chip = rng.integers(0, len(CHIPS), jobs)
    job_parent = np.where(rng.random(jobs) < 0.05, rng.integers(0, jobs, jobs), -1)
    job_parent = np.where(job_parent == np.arange(jobs), -1, job_parent)
    job_bio = rng.random(jobs) < 0.02
    job_start = rng.integers(0, 150 * 86_400, jobs)
    job_span = rng.integers(2 * 86_400, 30 * 86_400, jobs)
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        done = 0
        while done < rows:
            n = min(chunk, rows - done)
            job = rng.integers(0, jobs, n).astype(np.int32)
            # each job runs for a few days to a month: samples fall inside its span
            ts = START_US + (job_start[job] + rng.integers(0, job_span[job])) * 1_000_000
            utilization = rng.uniform(0.2, 0.7, n)
            util_mask = rng.random(n) < 0.5
            parent = job_parent[job]
            table = pa.table(
                {
                    "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                    "account": pa.DictionaryArray.from_arrays(
                        pa.array(job_account[job].astype(np.int32)), account_names
                    ),
                    "job": pa.DictionaryArray.from_arrays(pa.array(job), job_names),
                    "accelerator": pa.DictionaryArray.from_arrays(
                        pa.array(job_chip[job].astype(np.int32)), chips
                    ),
                    "count": pa.array(rng.choice([8, 64, 256, 1024, 4096], n)),
                    "seconds": pa.array(rng.choice([60.0, 300.0, 900.0, 3600.0], n)),
                    "utilization": pa.array(utilization, mask=util_mask),
                    "parent_job": pa.DictionaryArray.from_arrays(
                        pa.array(parent.astype(np.int32), mask=parent < 0), job_names
                    ),
                    "domain": pa.DictionaryArray.from_arrays(
                        pa.array(np.zeros(n, np.int32), mask=~job_bio[job]), domains
                    ),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=1_000_000)
            done += n
    return time.perf_counter() - started


def _digest(days: Any, capacity: Any) -> dict[str, Any]:
    return {
        "day_rows": days.height,
        "ops_mid": int(days["ops_mid"].sum()),
        "ops_low": int(days["ops_low"].sum()),
        "ops_high": int(days["ops_high"].sum()),
        "rows": int(days["rows"].sum()),
        "capacity_rows": capacity.height,
        "capacity_units": int(capacity["capacity_units"].sum()),
    }


def run_engine(engine: str, path: str, out: str) -> None:
    """Child process: aggregate with one engine, write figures and the tables."""
    from sluicegate.cloud.ingest import aggregate_dask, aggregate_duckdb, peak_table

    peak_table()  # load the catalogue and thresholds before timing (a fixed start-up cost)
    started = time.perf_counter()
    if engine == "duckdb":
        result = aggregate_duckdb([path], memory_limit="3GB", threads=2)
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=False,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            result = aggregate_dask([path], client=client)
    seconds = time.perf_counter() - started
    result.days.write_parquet(out + ".days.parquet")
    result.capacity.write_parquet(out + ".capacity.parquet")
    figures = {
        "engine": engine,
        "rows": result.rows_read,
        "seconds": seconds,
        "rows_per_s": result.rows_read / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "rejects": len(result.rejects),
        "digest": _digest(result.days, result.capacity),
    }
    Path(out + ".json").write_text(json.dumps(figures))


def run_pandas(path: str, out: str) -> None:
    """Child process: the plain pandas baseline, the same checks, estimate and tables as the
    engines, on the whole sample in memory in one process (no out-of-core, no parallelism)."""
    import pandas as pd
    import polars as pl

    from sluicegate.cloud.ingest import (
        FIELDS,
        _pandas_capacity,
        _pandas_checked,
        _pandas_days,
        canonical_capacity,
        canonical_days,
        known_accelerators,
        peak_table,
    )
    from sluicegate.cloud.thresholds import load_config

    config = load_config()
    table = peak_table(config)
    peaks = dict(
        zip(zip(table["accelerator"], table["precision"], strict=True), table["peak"], strict=True)
    )
    known = frozenset(known_accelerators())
    started = time.perf_counter()
    frame = pd.read_parquet(path)
    for f in FIELDS:
        if f not in frame:
            frame[f] = None
    frame["file_idx"] = 0
    frame["rn"] = np.arange(1, len(frame) + 1)
    checked = _pandas_checked(frame, peaks, known, config)
    valid = checked[checked["reason"].isna()]
    days = _pandas_days(valid)
    days["parent_job"] = days["parent_job"].where(days["parent_job"] != "", None)
    bucket_us = config.estimate.capacity_bucket_seconds * 1_000_000
    capacity = _pandas_capacity(valid, bucket_us, config.estimate.capacity_unit)
    seconds = time.perf_counter() - started
    days_pl = canonical_days(pl.from_pandas(days))
    cap_pl = canonical_capacity(pl.from_pandas(capacity))
    days_pl.write_parquet(out + ".days.parquet")
    cap_pl.write_parquet(out + ".capacity.parquet")
    figures = {
        "engine": "pandas",
        "rows": len(frame),
        "seconds": seconds,
        "rows_per_s": len(frame) / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "rejects": int(checked["reason"].notna().sum()),
        "digest": _digest(days_pl, cap_pl),
    }
    Path(out + ".json").write_text(json.dumps(figures))


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *args]
    subprocess.run(cmd, check=True, timeout=timeout)
    return json.loads(Path(args[-1] + ".json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--dask-rows", type=int, default=None, help="default: same as --rows")
    parser.add_argument("--pandas-rows", type=int, default=5_000_000)
    parser.add_argument("--chunk", type=int, default=2_000_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the Parquet files")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per engine run")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "PARQUET", "OUT"))
    args = parser.parse_args()
    if args.child:
        engine, path, out = args.child
        run_pandas(path, out) if engine == "pandas" else run_engine(engine, path, out)
        return

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="sluice-cloud-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    full = workdir / f"telemetry-{args.rows}.parquet"
    sample = workdir / f"telemetry-{args.pandas_rows}.parquet"
    dask_rows = args.dask_rows or args.rows
    dask_file = full if dask_rows == args.rows else workdir / f"telemetry-{dask_rows}.parquet"
    opts = {"chunk": args.chunk, "accounts": args.accounts, "jobs": args.jobs}
    gen = {}
    for path, n, seed in ((full, args.rows, 1), (sample, args.pandas_rows, 2), (dask_file, dask_rows, 3)):  # fmt: skip
        if not path.exists():
            gen[path.name] = generate(path, n, seed=seed, **opts)
            print(f"generated {n:,} rows in {gen[path.name]:.1f} s -> {path} "
                  f"({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)  # fmt: skip
    out = str(workdir / "result")
    duck = _child(["--child", "duckdb", str(full), out + "-duckdb"], args.timeout)
    dask = _child(["--child", "dask", str(dask_file), out + "-dask"], args.timeout)
    duck_sample = _child(["--child", "duckdb", str(sample), out + "-duckdb-sample"], args.timeout)
    pandas = _child(["--child", "pandas", str(sample), out + "-pandas"], args.timeout)

    import polars as pl

    reference = out + "-duckdb"
    if dask_file != full:  # Dask ran on a smaller file: compare it with DuckDB on that file
        reference = out + "-duckdb-daskfile"
        _child(["--child", "duckdb", str(dask_file), reference], args.timeout)
    same = pl.read_parquet(reference + ".days.parquet").equals(
        pl.read_parquet(out + "-dask.days.parquet")
    ) and pl.read_parquet(reference + ".capacity.parquet").equals(
        pl.read_parquet(out + "-dask.capacity.parquet")
    )
    pandas_same = pl.read_parquet(out + "-pandas.days.parquet").equals(
        pl.read_parquet(out + "-duckdb-sample.days.parquet")
    ) and pl.read_parquet(out + "-pandas.capacity.parquet").equals(
        pl.read_parquet(out + "-duckdb-sample.capacity.parquet")
    )
    baseline = pandas["rows_per_s"]
    print()
    print(
        f"{'engine':<22}{'rows':>14}{'seconds':>10}{'rows/s':>14}{'peak MiB':>10}{'x pandas':>10}"
    )
    for label, fig in (
        ("duckdb", duck),
        ("dask (LocalCluster)", dask),
        ("duckdb on sample", duck_sample),
        ("pandas (baseline)", pandas),
    ):
        print(
            f"{label:<22}{fig['rows']:>14,}{fig['seconds']:>10.2f}{fig['rows_per_s']:>14,.0f}"
            f"{fig['peak_rss_mib']:>10,.0f}{fig['rows_per_s'] / baseline:>10.2f}"
        )
    print()
    print(f"DuckDB and Dask identical: {same}")
    print(f"pandas tables equal DuckDB's on the sample: {pandas_same}")
    target = duck["rows_per_s"] >= 5_000_000 and duck["peak_rss_mib"] <= 4096
    print(f"DuckDB target (>= 5,000,000 rows/s, <= 4 GiB): {'met' if target else 'NOT met'}")
    path = save(
        "cloud",
        {
            "rows": args.rows,
            "generation_seconds": gen,
            "duckdb": duck,
            "dask": dask,
            "duckdb_sample": duck_sample,
            "pandas": pandas,
            "duckdb_dask_identical": same,
            "pandas_equals_duckdb_on_sample": pandas_same,
            "ratio_duckdb_to_pandas": duck["rows_per_s"] / baseline,
            "ratio_dask_to_pandas": dask["rows_per_s"] / baseline,
            "cpus": os.cpu_count(),
        },
    )
    print(f"figures: {path}")
    if not args.keep and args.dir is None:
        for f in workdir.iterdir():
            f.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
