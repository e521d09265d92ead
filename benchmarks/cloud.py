"""Cloud monitor benchmark: aggregate N telemetry rows from Parquet with DuckDB, Dask and pandas.

Generates N synthetic telemetry rows (default 100,000,000) as Parquet in chunks of bounded
memory, then aggregates them (validation, operations estimate, per account/job/day totals and
hourly cluster capacity) with each engine in its own subprocess so that each peak memory figure
is that engine's alone:

- DuckDB (the default engine; memory_limit 3 GB, 2 threads) over all N rows;
- Dask on a LocalCluster (2 workers, 1 thread each, in-process) over the same N rows, unless
  ``--dask-rows`` limits it;
- a plain pandas implementation (the baseline) on a sample that fits in memory (``--pandas-rows``).

It checks that DuckDB and Dask give identical tables, and that pandas gives the same tables
as DuckDB on the sample, then prints rows/s, peak memory and the ratio to the pandas baseline.
Targets (2 cores): >= 5,000,000 rows/s with DuckDB, peak <= 4 GiB.

The rows are written in time order by default (``--layout time``), as telemetry exports are;
``--also-shuffled`` adds a DuckDB run on the same rows in random order (see docs/cloud.md,
"Performance", for why the order matters and what the figures include).

    python benchmarks/cloud.py --rows 20000000
"""

from __future__ import annotations

import argparse
import itertools
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


def generate(
    path: Path,
    rows: int,
    *,
    chunk: int,
    accounts: int,
    jobs: int,
    seed: int,
    layout: str = "time",
    row_group: int = 1_000_000,
) -> float:
    """Write ``rows`` telemetry rows to ``path`` in chunks; returns seconds taken.

    Each job runs for 2 to 30 days within 150 days and emits rows at the same rate while it
    runs. ``layout="time"`` (the default) writes the rows in time order, as telemetry exports
    are appended (billing and usage exports, DCGM or scheduler logs, one file per period):
    each chunk covers the next slice of time, with as many rows as the jobs running then
    emit. ``layout="shuffled"`` spreads every chunk over the whole period (the order the
    benchmark used before 0.2; a worst case for hash aggregation, kept for comparison).
    Both write Snappy-compressed Parquet with dictionary-encoded text columns and row groups
    of ``row_group`` rows (pyarrow's and Spark's usual shape)."""
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
    job_end = job_start + job_span

    def shuffled_chunk(n: int) -> tuple[np.ndarray, np.ndarray]:
        job = rng.integers(0, jobs, n)
        # each job runs for a few days to a month: samples fall inside its span
        return job, job_start[job] + rng.integers(0, job_span[job])

    slices: list[tuple[int, int, int]] = []  # (slice start, slice end, rows) in time order
    if layout == "time":
        n_slices = max(1, -(-rows // chunk))
        edges = np.linspace(0, int(job_end.max()), n_slices + 1).astype(np.int64)
        overlap = np.clip(
            np.minimum(job_end[None, :], edges[1:, None])
            - np.maximum(job_start[None, :], edges[:-1, None]),
            0,
            None,
        ).astype(np.float64)  # job-seconds running in each slice
        share = overlap.sum(axis=1) / overlap.sum() * rows
        counts = np.floor(share).astype(np.int64)
        counts[np.argsort(share - counts)[::-1][: rows - int(counts.sum())]] += 1
        slices = [
            (int(a), int(b), int(c)) for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
        ]
    elif layout != "shuffled":
        raise ValueError(f"layout: {layout!r} is not one of time, shuffled")

    def time_chunk(a: int, b: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.maximum(job_start, a), np.minimum(job_end, b)
        weight = np.clip(hi - lo, 0, None).astype(np.float64)
        job = rng.choice(jobs, size=n, p=weight / weight.sum())
        ts = lo[job] + (rng.random(n) * (hi[job] - lo[job])).astype(np.int64)
        order = np.argsort(ts, kind="stable")
        return job[order], ts[order]

    pending: list[pa.Table] = []  # rows not yet written: row groups are all row_group long

    def flush(writer: pq.ParquetWriter, final: bool = False) -> None:
        table = pa.concat_tables(pending) if pending else None
        pending.clear()
        if table is None:
            return
        full = table.num_rows if final else table.num_rows - table.num_rows % row_group
        if full:
            writer.write_table(table.slice(0, full), row_group_size=row_group)
        if full < table.num_rows:
            pending.append(table.slice(full))

    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        done = 0
        pieces = iter(slices)
        while done < rows:
            if layout == "time":
                a, b, n = next(pieces)
                if n == 0:
                    continue
                job64, seconds_in = time_chunk(a, b, n)
            else:
                n = min(chunk, rows - done)
                job64, seconds_in = shuffled_chunk(n)
            job = job64.astype(np.int32)
            ts = START_US + seconds_in * 1_000_000
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
            pending.append(table)
            if sum(t.num_rows for t in pending) >= row_group:
                flush(writer)
            done += n
        flush(writer, final=True)
    return time.perf_counter() - started


def layout_of(path: Path) -> dict[str, Any]:
    """How a Parquet file is laid out: row groups, compression, encodings, order."""
    meta = pq.ParquetFile(path).metadata
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    columns = {}
    for j in range(meta.num_columns):
        col = groups[0].column(j)
        columns[col.path_in_schema] = {
            "compression": col.compression,
            "encodings": list(col.encodings),
        }
    ts = [g.column(0).statistics for g in groups]
    ordered = all(
        a is not None and b is not None and a.max <= b.min for a, b in itertools.pairwise(ts)
    )
    sizes = sorted(g.num_rows for g in groups)
    return {
        "rows": meta.num_rows,
        "row_groups": meta.num_row_groups,
        "rows_per_group": sizes[len(sizes) // 2] if sizes else 0,  # the median
        "smallest_group": sizes[0] if sizes else 0,
        "bytes": path.stat().st_size,
        "row_groups_in_time_order": ordered,
        "columns": columns,
        "created_by": meta.created_by,
    }


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
    parser.add_argument(
        "--layout",
        choices=["time", "shuffled"],
        default="time",
        help="row order of the generated files (default time: as exports are appended)",
    )
    parser.add_argument(
        "--also-shuffled",
        action="store_true",
        help="also run DuckDB on a shuffled copy of the N rows (the worst case, for comparison)",
    )
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
    files = [(full, args.rows, 1, args.layout), (sample, args.pandas_rows, 2, args.layout)]
    files.append((dask_file, dask_rows, 3, args.layout))
    shuffled = workdir / f"telemetry-{args.rows}-shuffled.parquet"
    if args.also_shuffled:
        files.append((shuffled, args.rows, 1, "shuffled"))
    for path, n, seed, layout in files:
        if not path.exists():
            gen[path.name] = generate(path, n, seed=seed, layout=layout, **opts)
            print(f"generated {n:,} rows ({layout} order) in {gen[path.name]:.1f} s -> {path} "
                  f"({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)  # fmt: skip
    layout = layout_of(full)
    print(f"layout: {layout['row_groups']} row groups of {layout['rows_per_group']:,} rows, "
          f"row groups in time order: {layout['row_groups_in_time_order']}, "
          f"{layout['columns']['account']['compression']}, text columns "
          f"{'/'.join(layout['columns']['account']['encodings'])}", flush=True)  # fmt: skip
    out = str(workdir / "result")
    duck = _child(["--child", "duckdb", str(full), out + "-duckdb"], args.timeout)
    duck_shuffled = None
    if args.also_shuffled:
        duck_shuffled = _child(
            ["--child", "duckdb", str(shuffled), out + "-shuffled"], args.timeout
        )
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
    rows_table = [
        ("duckdb", duck),
        ("dask (LocalCluster)", dask),
        ("duckdb on sample", duck_sample),
        ("pandas (baseline)", pandas),
    ]
    if duck_shuffled is not None:
        rows_table.insert(1, ("duckdb, shuffled rows", duck_shuffled))
    for label, fig in rows_table:
        print(
            f"{label:<22}{fig['rows']:>14,}{fig['seconds']:>10.2f}{fig['rows_per_s']:>14,.0f}"
            f"{fig['peak_rss_mib']:>10,.0f}{fig['rows_per_s'] / baseline:>10.2f}"
        )
    print()
    import dask as dask_module
    import duckdb

    versions = {"duckdb": duckdb.__version__, "dask": dask_module.__version__}
    print(f"DuckDB {versions['duckdb']}, Dask {versions['dask']}, {os.cpu_count()} CPUs")
    if int(duckdb.__version__.split(".")[0]) < 2:
        print("(DuckDB 2.x aggregates in about half the CPU time: `make install` installs it)")
    print(f"DuckDB and Dask identical: {same}")
    print(f"pandas tables equal DuckDB's on the sample: {pandas_same}")
    target = duck["rows_per_s"] >= 5_000_000 and duck["peak_rss_mib"] <= 4096
    print(f"DuckDB target (>= 5,000,000 rows/s, <= 4 GiB): {'met' if target else 'NOT met'}")
    print("rows/s = input rows / wall time of the aggregation call (reading, checks, rejects,")
    print("operations estimate, both tables, canonical sort); peak = the engine process's peak RSS")
    path = save(
        "cloud",
        {
            "rows": args.rows,
            "layout": args.layout,
            "parquet": layout,
            "generation_seconds": gen,
            "duckdb": duck,
            "duckdb_shuffled": duck_shuffled,
            "dask": dask,
            "duckdb_sample": duck_sample,
            "pandas": pandas,
            "duckdb_dask_identical": same,
            "pandas_equals_duckdb_on_sample": pandas_same,
            "ratio_duckdb_to_pandas": duck["rows_per_s"] / baseline,
            "ratio_dask_to_pandas": dask["rows_per_s"] / baseline,
            "cpus": os.cpu_count(),
            "versions": versions,
        },
    )
    print(f"figures: {path}")
    if not args.keep and args.dir is None:
        for f in workdir.iterdir():
            f.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
