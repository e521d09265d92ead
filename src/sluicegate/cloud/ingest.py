"""Telemetry ingest: read usage rows, reject the impossible ones, estimate operations, aggregate.

Two engines compute the same thing: DuckDB (default; streams Parquet/CSV out of core) and Dask
(``dask.dataframe`` on a ``distributed`` cluster, for telemetry that does not fit one machine).
Both produce the same two integer tables, so their results are identical and merge exactly
across batches (``state.py``): ``days`` per (account, job, UTC day) and ``capacity`` per
(account, clock hour). Per-row operations are rounded to whole units of 10^12 (capacity to
10^9 OP/s) before summing, which makes sums independent of order and engine. ``alerts.py`` reads
the tables; ``monitor.py`` wires ingest, state and alerts together.

Row numbers in rejects: CSV and JSON Lines give the file's line number (the CSV header is line 1);
Parquet gives the 1-based record number.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute

from sluicegate.cloud.thresholds import CloudConfig, load_config

Engine = Literal["duckdb", "dask"]
FIELDS = (
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
)
NUMERIC = ("count", "seconds", "utilization", "network_gbps")
NUMERIC_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "FLOAT",
        "DOUBLE",
    }
)
TEXT = ("account", "job", "accelerator", "parent_job", "domain", "precision")
DAY_US = 86_400_000_000
SeenLookup = Callable[[list[str]], set[str]]

DAYS_SCHEMA = {
    "account": pl.Utf8,
    "job": pl.Utf8,
    "day": pl.Int64,
    "rows": pl.Int64,
    "ops_low": pl.Int64,
    "ops_mid": pl.Int64,
    "ops_high": pl.Int64,
    "bio_ops_mid": pl.Int64,
    "accelerator_seconds": pl.Int64,
    "first_us": pl.Int64,
    "last_end_us": pl.Int64,
    "parent_job": pl.Utf8,
}
CAPACITY_SCHEMA = {
    "account": pl.Utf8,
    "hour": pl.Int64,
    "capacity_units": pl.Int64,
    "accelerator_seconds": pl.Int64,
    "network_gbps": pl.Float64,
}
DAY_KEYS = ["account", "job", "day"]
CAPACITY_KEYS = ["account", "hour"]
# How two batches' rows with the same key combine, column by column: integer sums, the
# smallest, the largest (nulls ignored; text compared byte by byte). Exact, so the order of the
# batches does not matter. ``merge_days``/``merge_capacity`` apply it to frames, ``state.py``
# to the stored totals in SQL, ``aggregate_dask`` to its partitions' totals.
DAY_MERGE = {
    "rows": "sum",
    "ops_low": "sum",
    "ops_mid": "sum",
    "ops_high": "sum",
    "bio_ops_mid": "sum",
    "accelerator_seconds": "sum",
    "first_us": "min",
    "last_end_us": "max",
    "parent_job": "max",
}
CAPACITY_MERGE = {"capacity_units": "sum", "accelerator_seconds": "sum", "network_gbps": "max"}


class TelemetryError(ValueError):
    """A telemetry file that cannot be read at all (the batch is refused; state is untouched)."""


@dataclass
class Reject:
    file: str
    row: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "reason": self.reason}


@dataclass
class Aggregates:
    """What one batch adds: per-day job totals, hourly capacity, rejects and counts."""

    days: pl.DataFrame
    capacity: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_duplicate: int = 0
    new_fingerprints: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- shared pieces


def peak_table(config: CloudConfig | None = None) -> pl.DataFrame:
    """(accelerator, precision, peak OP/s) from the catalogue; precision '' is the default one."""
    from sluicegate.regimes import catalogue

    config = config or load_config()
    rows: list[tuple[str, str, float]] = []
    for cid, chip in catalogue().items():
        peaks = {str(k).lower(): float(v) for k, v in (chip.get("peak_ops_per_s") or {}).items()}
        for prec, value in peaks.items():
            rows.append((cid, prec, value))
            rows.append((cid, prec.upper(), value))  # "FP8" as well as "fp8"
        sixteen = [peaks[p] for p in ("bf16", "fp16") if p in peaks]
        default = max(sixteen) if sixteen else None
        if default is None:
            for prec in config.estimate.fallback_precisions:
                if prec in peaks:
                    default = peaks[prec]
                    break
        if default is not None:
            rows.append((cid, "", default))
    return pl.DataFrame(
        rows,
        schema={"accelerator": pl.Utf8, "precision": pl.Utf8, "peak": pl.Float64},
        orient="row",
    )


def known_accelerators() -> list[str]:
    from sluicegate.regimes import catalogue

    return list(catalogue())


def _format_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    raise TelemetryError(f"{path}: unknown telemetry format (use .csv, .parquet or .jsonl)")


def _read_jsonl(path: str, file_idx: int) -> tuple[pa.Table, list[Reject]]:
    """JSON Lines as a table of text columns (the CSV shape); malformed lines become rejects."""
    columns: dict[str, list[str | None]] = {f: [] for f in FIELDS}
    rows: list[int] = []
    rejects: list[Reject] = []
    try:
        handle = Path(path).open(encoding="utf-8")
    except OSError as exc:
        raise TelemetryError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append(Reject(path, line_no, f"not valid JSON: {exc.msg}"))
                continue
            if not isinstance(obj, dict):
                rejects.append(Reject(path, line_no, "not a JSON object"))
                continue
            lowered = {str(k).lower(): v for k, v in obj.items()}
            rows.append(line_no)
            for f in FIELDS:
                value = lowered.get(f)
                if value is None:
                    columns[f].append(None)
                elif isinstance(value, str):
                    columns[f].append(value)
                else:
                    columns[f].append(json.dumps(value))
    table = pa.table(
        {
            "file_idx": pa.array([file_idx] * len(rows), pa.int64()),
            "rn": pa.array(rows, pa.int64()),
            **{f: pa.array(columns[f], pa.string()) for f in FIELDS},
        }
    )
    return table, rejects


def fingerprint_text(
    ts_us: int,
    account: str,
    job: str,
    accelerator: str,
    count: int,
    dur_us: int,
    util_ppm: int | None,
    parent_job: str | None,
    domain: str | None,
    precision: str | None,
    network_milli: int | None,
) -> str:
    """The canonical text a row's fingerprint is the MD5 of (same in both engines)."""
    parts = [
        str(ts_us),
        account,
        job,
        accelerator,
        str(count),
        str(dur_us),
        "" if util_ppm is None else str(util_ppm),
        parent_job or "",
        domain or "",
        precision or "",
        "" if network_milli is None else str(network_milli),
    ]
    return "|".join(parts)


def _line_mapper(reject_lines: Sequence[int]) -> Callable[[int], int]:
    """CSV: data row k (1-based, among rows that parsed) -> line number (header is line 1)."""
    bad = sorted(reject_lines)

    def line_of(k: int) -> int:
        line = k + 1
        for b in bad:
            if b <= line:
                line += 1
            else:
                break
        return line

    return line_of


def _suggest(reason: str) -> str:
    prefix = "accelerator: unknown catalogue id '"
    if reason.startswith(prefix):
        from sluicegate.regimes import suggest_chip

        typed = reason[len(prefix) : -1]
        close = suggest_chip(typed)
        if close:
            return f"{reason} (did you mean {', '.join(close)}?)"
        return f"{reason} (see `sluice chips list`)"
    return reason


# --------------------------------------------------------------------------- DuckDB engine


def _duck_source(
    con: Any, file_idx: int, path: str, fmt: str
) -> tuple[str, list[Reject], Callable[[int], int], int]:
    """SQL for one file's rows (file_idx, rn, raw fields normalised), its parse rejects, a
    function mapping rn to the reported row number, and how many rows the SQL yields."""
    q = path.replace("'", "''")
    rejects: list[Reject] = []
    mapper: Callable[[int], int] = lambda k: k  # noqa: E731
    n_rows = -1
    if fmt == "parquet":
        scan = f"read_parquet('{q}', file_row_number=true)"
        rn_expr = "file_row_number + 1"
    elif fmt == "csv":
        scan = f"read_csv('{q}', all_varchar=true, header=true, store_rejects=true)"
        try:
            n_rows = int(con.execute(f"SELECT count(*) FROM {scan}").fetchall()[0][0])
        except Exception as exc:  # duckdb raises its own error classes
            raise TelemetryError(f"{path}: cannot read as CSV: {exc}") from exc
        try:
            bad = con.execute(
                """SELECT line, min(error_message) FROM reject_errors
                   WHERE scan_id = (SELECT max(scan_id) FROM reject_errors)
                   GROUP BY line ORDER BY line"""
            ).fetchall()
        except Exception:  # no rejects table: every line parsed
            bad = []
        for line, message in bad:
            rejects.append(Reject(path, int(line), f"malformed CSV line: {message}"))
        mapper = _line_mapper([int(line) for line, _ in bad])
        rn_expr = "row_number() OVER ()"
    else:
        table, rejects = _read_jsonl(path, file_idx)
        name = f"jsonl_{file_idx}"
        # a table of the database (not a registered view of this connection), so that the
        # second cursor of ``aggregate_duckdb`` sees it too
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
        scan = name
        rn_expr = "rn"
        n_rows = table.num_rows
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        if n_rows < 0:  # Parquet: the row count is in the file's metadata
            n_rows = int(con.execute(f"SELECT count(*) FROM {scan}").fetchall()[0][0])
    except Exception as exc:
        raise TelemetryError(f"{path}: cannot read as {fmt}: {exc}") from exc
    types = {str(name).lower(): (str(name), str(dtype).upper()) for name, dtype, *_ in described}
    selects = [f"{file_idx}::BIGINT AS file_idx", f"({rn_expr})::BIGINT AS rn"]
    for f in FIELDS:
        if f not in types:
            if f == "timestamp":
                selects += ["TRUE AS ts_missing", "NULL::BIGINT AS ts_us"]
            elif f in NUMERIC:
                selects += [f"TRUE AS {f}_missing", f"NULL::DOUBLE AS {f}_num"]
            else:
                selects.append(f"NULL::VARCHAR AS {f}")
            continue
        col, dtype = types[f]
        ref = '"' + col.replace('"', '""') + '"'
        text = dtype == "VARCHAR"
        raw = f"NULLIF(trim({ref}), '')" if text else ref
        if f == "timestamp":
            if dtype.startswith("TIMESTAMP WITH TIME ZONE") or dtype == "TIMESTAMPTZ":
                ts = ref
            elif dtype.startswith("TIMESTAMP") or dtype == "DATE":
                ts = f"CAST({ref} AS TIMESTAMPTZ)"
            else:
                ts = f"TRY_CAST(CAST({raw} AS VARCHAR) AS TIMESTAMPTZ)"
            selects += [f"({raw}) IS NULL AS ts_missing", f"epoch_us({ts}) AS ts_us"]
        elif f in NUMERIC:
            # a column already numeric converts exactly and cannot fail: a plain CAST keeps
            # its statistics, so DuckDB can skip range checks that the row groups guarantee
            numeric = dtype in NUMERIC_TYPES
            value = f"CAST({ref} AS DOUBLE)" if numeric else f"TRY_CAST({raw} AS DOUBLE)"
            selects += [f"({raw}) IS NULL AS {f}_missing", f"{value} AS {f}_num"]
        else:
            # text is taken literally (no trimming or case folding: it keeps DuckDB's
            # dictionary vectors, which makes grouping fast); '' counts as missing
            value = ref if text else f"CAST({ref} AS VARCHAR)"
            if f in ("parent_job", "precision", "domain"):
                value = f"NULLIF({value}, '')"
            selects.append(f"{value} AS {f}")
    return f"SELECT {', '.join(selects)} FROM {scan}", rejects, mapper, n_rows


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duck_peaks(config: CloudConfig) -> tuple[list[str], str, str]:
    """The dense-peak lookup: DDL to run, SQL of a row's chip code and of its peak.

    Catalogue ids and precision spellings become DuckDB ENUM types, so a row's accelerator and
    precision turn into small integers (cheap: DuckDB casts a Parquet dictionary once per
    distinct value, not per row) that index constant lists of peaks: no join and no per-row
    string work. The default precision's peaks are a list by chip; the explicit precisions'
    a list by (chip, precision), read only for rows that give a precision. An accelerator
    outside the catalogue has no chip code; a precision the catalogue does not list for that
    chip has no peak; both are rejected (``_duck_checks``)."""
    table = peak_table(config)
    chips = known_accelerators()
    precisions = sorted({p for p in table["precision"].to_list() if p}) or ["?"]
    chip_code = {c: i for i, c in enumerate(chips)}
    prec_code = {p: i for i, p in enumerate(precisions)}
    default: list[float | None] = [None] * len(chips)
    given: list[float | None] = [None] * (len(chips) * len(precisions))
    for accelerator, precision, peak in table.iter_rows():
        if precision == "":
            default[chip_code[accelerator]] = peak
        else:
            given[chip_code[accelerator] * len(precisions) + prec_code[precision]] = peak

    def array(values: list[float | None]) -> str:
        items = ", ".join("NULL" if v is None else repr(float(v)) for v in values)
        return f"(CAST([{items}] AS DOUBLE[]))"

    ddl = [
        f"CREATE TYPE sluice_chip AS ENUM ({', '.join(map(_sql_text, chips))})",
        f"CREATE TYPE sluice_precision AS ENUM ({', '.join(map(_sql_text, precisions))})",
    ]
    chip = "CAST(enum_code(TRY_CAST(accelerator AS sluice_chip)) AS INTEGER)"
    prec = "CAST(enum_code(TRY_CAST(precision AS sluice_precision)) AS INTEGER)"
    peak = (
        f"CASE WHEN precision IS NULL THEN {array(default)}[chip + 1] "
        f"ELSE {array(given)}[chip * {len(precisions)} + {prec} + 1] END"
    )
    return ddl, chip, peak


def _duck_checks(config: CloudConfig) -> list[tuple[str, str]]:
    """(condition that makes a row impossible, SQL of the reason), in the order they are tried.

    The same list gives the cheap ``ok`` flag of the aggregation scan (no condition holds) and
    the reasons of the rejects pass (the first condition that holds), so the two cannot
    disagree: a NULL condition counts as not holding in both."""
    lim = config.estimate.limits
    max_count, max_seconds = int(lim["max_count"]), int(lim["max_seconds"])
    return [
        ("account IS NULL OR account = ''", "'account: missing'"),
        ("job IS NULL OR job = ''", "'job: missing'"),
        ("ts_missing", "'timestamp: missing'"),
        ("ts_us IS NULL", "'timestamp: not an ISO 8601 date-time'"),
        ("accelerator IS NULL OR accelerator = ''", "'accelerator: missing'"),
        ("chip IS NULL", "'accelerator: unknown catalogue id ''' || accelerator || ''''"),
        ("count_missing", "'count: missing'"),
        (
            "count_num IS NULL OR isnan(count_num) OR count_num <> floor(count_num)"
            f" OR count_num < 1 OR count_num > {max_count}",
            f"'count: must be a whole number from 1 to {max_count}'",
        ),
        ("seconds_missing", "'seconds: missing'"),
        (
            "seconds_num IS NULL OR isnan(seconds_num) OR isinf(seconds_num)",
            "'seconds: not a number'",
        ),
        ("seconds_num < 0", "'seconds: negative'"),
        (
            f"seconds_num > {max_seconds}",
            f"'seconds: more than {max_seconds} in one row is impossible'",
        ),
        (
            "NOT utilization_missing AND (utilization_num IS NULL OR isnan(utilization_num)"
            " OR utilization_num <= 0 OR utilization_num > 1)",
            "'utilization: must be a number greater than 0 and at most 1'",
        ),
        (
            "NOT network_gbps_missing AND (network_gbps_num IS NULL OR isnan(network_gbps_num)"
            " OR isinf(network_gbps_num) OR network_gbps_num < 0)",
            "'network_gbps: must be a non-negative number'",
        ),
        (
            "peak IS NULL AND precision IS NULL",
            "'precision: the catalogue has no 16-bit or 32-bit dense peak for '''"
            " || accelerator || '''; give the precision'",
        ),
        (
            "peak IS NULL",
            "'precision: no dense peak for ''' || precision || ''' on ''' || accelerator"
            " || ''' in the catalogue'",
        ),
        ("parent_job = job", "'parent_job: a job cannot be its own parent'"),
    ]


def _duck_ok_sql(config: CloudConfig) -> str:
    """True exactly when no check of ``_duck_checks`` holds, written for speed: a conjunction
    of comparisons (DuckDB orders NaN above every number, so range tests also refuse NaN), with
    the implied checks left out (a missing field reads as NULL; an empty accelerator has no
    chip code). ``tests/cloud/test_ingest.py`` checks the equivalence on awkward values."""
    lim = config.estimate.limits
    max_count, max_seconds = int(lim["max_count"]), int(lim["max_seconds"])
    return f"""account <> '' AND job <> '' AND ts_us IS NOT NULL AND chip IS NOT NULL
      AND count_num >= 1 AND count_num <= {max_count} AND count_num = floor(count_num)
      AND seconds_num >= 0 AND seconds_num <= {max_seconds}
      AND (utilization_missing OR (utilization_num > 0 AND utilization_num <= 1))
      AND (network_gbps_missing OR (network_gbps_num >= 0 AND NOT isinf(network_gbps_num)
                                    AND NOT isnan(network_gbps_num)))
      AND peak IS NOT NULL AND (parent_job IS NULL OR parent_job <> job)"""


def _duck_reason_sql(config: CloudConfig) -> str:
    whens = "\n".join(f"WHEN {c} THEN {m}" for c, m in _duck_checks(config))
    return f"CASE\n{whens}\nELSE NULL END"


def _duck_estimates_sql(config: CloudConfig) -> str:
    """Per-row integer estimates of an accepted row (same arithmetic as ``_pandas_checked``)."""
    util = config.estimate.utilization
    unit = repr(config.estimate.operations_unit)
    bucket_us = config.estimate.capacity_bucket_seconds * 1_000_000
    cap_unit = repr(config.estimate.capacity_unit)
    base = "((count_num * seconds_num) * peak)"
    # the utilisation used: the measured one, else the default of each estimate; written as
    # measured-or-0 plus missing x default (exactly the same number) so that the NULL test
    # runs once per row rather than once per estimate
    filled = "coalesce(utilization_num, 0.0)"
    missing = "CAST(utilization_num IS NULL AS DOUBLE)"
    parts = [
        f"CAST(floor({base} * ({filled} + {missing} * {default!r}) / {unit} + 0.5) AS BIGINT)"
        f" AS {name}"
        for name, default in (
            ("ops_low", util.low),
            ("ops_mid", util.default),
            ("ops_high", util.high),
        )
    ]
    capped = f"least(seconds_num * 1e6, {bucket_us})"
    parts += [
        "CAST(floor(count_num * seconds_num + 0.5) AS BIGINT) AS accel_s",
        f"CAST(floor(((count_num * peak) * {capped}) / {bucket_us}.0 / {cap_unit} + 0.5)"
        " AS BIGINT) AS cap_units",
        f"CAST(floor(count_num * {capped} / 1e6 + 0.5) AS BIGINT) AS cap_accel_s",
    ]
    return ", ".join(parts)


def aggregate_duckdb(
    paths: Sequence[str],
    *,
    config: CloudConfig | None = None,
    seen: SeenLookup | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> Aggregates:
    """Aggregate telemetry files with DuckDB (out of core). ``seen`` turns on de-duplication:
    it receives the batch's row fingerprints and returns those already processed earlier.

    Plan (see docs/cloud.md, "Performance"): each aggregation query streams the files once,
    reading only the columns it uses; a row's checks reduce to one boolean (``ok``) computed
    without building any text; rows that fail are only counted (input rows minus accepted
    rows), and only when that count is not zero does a further pass build their reasons. The
    validated table is never materialised."""
    import duckdb

    config = config or load_config()
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if temp_directory:
            con.execute(f"SET temp_directory = '{temp_directory}'")
        # CSV row numbers come from row_number() OVER (), which needs the input order kept;
        # Parquet and JSON Lines carry their own, and dropping the order frees the scheduler
        keep_order = any(_format_of(str(p)) == "csv" for p in paths)
        con.execute(f"SET preserve_insertion_order = {str(keep_order).lower()}")
        peak_ddl, chip_sql, peak_sql = _duck_peaks(config)
        for statement in peak_ddl:
            con.execute(statement)
        sources, rejects, mappers, total_rows = [], [], {}, 0
        for idx, path in enumerate(paths):
            sql, parse_rejects, mapper, n_rows = _duck_source(
                con, idx, str(path), _format_of(str(path))
            )
            sources.append(sql)
            rejects += parse_rejects
            mappers[idx] = mapper
            total_rows += n_rows
        if not sources:
            raise TelemetryError("no telemetry files given")
        union = " UNION ALL ".join(f"({s})" for s in sources)
        con.execute(
            f"""CREATE VIEW normalised AS
            SELECT *, {peak_sql} AS peak
            FROM (SELECT *, {chip_sql} AS chip FROM ({union}))"""
        )
        # ``ok`` is a plain conjunction, so that DuckDB can split it, push parts into the
        # Parquet scan and drop those the row groups' statistics already guarantee; a row is
        # accepted when it is TRUE and rejected when it is FALSE or NULL
        ok = _duck_ok_sql(config)
        con.execute(
            f"""CREATE VIEW rejected AS
            SELECT file_idx, rn, {_duck_reason_sql(config)} AS reason
            FROM normalised WHERE NOT coalesce({ok}, false)"""
        )
        # only rows that pass every check reach the estimates, so they need no guards;
        # ``unchecked`` is the same without the checks, used once a pass has shown that every
        # row of the batch passes them
        estimates = f"""SELECT file_idx, rn, account, job, accelerator, precision, domain,
                   parent_job, ts_us, utilization_num, network_gbps_num,
                   CAST(count_num AS BIGINT) AS count,
                   CAST(floor(seconds_num * 1e6 + 0.5) AS BIGINT) AS dur_us,
                   {_duck_estimates_sql(config)}
            FROM normalised"""
        con.execute(f"CREATE VIEW estimated AS {estimates} WHERE {ok}")
        con.execute(f"CREATE VIEW unchecked AS {estimates}")
        rows_duplicate = 0
        new_fps: list[str] = []
        source = "estimated"
        valid_rows = -1
        if seen is not None:
            rows_duplicate, new_fps, valid_rows, source = _duck_dedupe(
                con, paths, mappers, rejects, seen
            )
        bucket_us = config.estimate.capacity_bucket_seconds * 1_000_000

        def capacity_sql(rows: str) -> str:
            return f"""SELECT account, CAST(floor(ts_us / {bucket_us}.0) AS BIGINT) AS hour,
                   CAST(sum(cap_units) AS BIGINT) AS capacity_units,
                   CAST(sum(cap_accel_s) AS BIGINT) AS accelerator_seconds,
                   max(network_gbps_num) AS network_gbps
            FROM {rows} GROUP BY ALL"""

        # The capacity pass starts at once on a second cursor, without the checks (the
        # cheaper plan), sharing DuckDB's threads with the days pass; its result is kept only
        # if the days pass then shows that every row passed the checks. Otherwise (or if the
        # unchecked arithmetic failed on a bad row) it is run again with the checks. After
        # de-duplication, ``kept`` (which has the checks) is read the same way.
        early: dict[str, Any] = {}
        cursor = worker = None
        if source in ("estimated", "kept"):
            cursor = con.cursor()
            early_source = "unchecked" if source == "estimated" else "kept"

            def capacity_early() -> None:
                try:
                    early["frame"] = canonical_capacity(
                        _duck_frame(cursor, capacity_sql(early_source))
                    )
                except Exception as exc:  # duckdb raises its own error classes
                    early["error"] = exc

            worker = threading.Thread(target=capacity_early, name="sluice-capacity", daemon=True)
            worker.start()
        try:
            days = _duck_frame(
                con,
                f"""SELECT account, job, CAST(floor(ts_us / {DAY_US}.0) AS BIGINT) AS day,
                       CAST(count(*) AS BIGINT) AS rows,
                       CAST(sum(ops_low) AS BIGINT) AS ops_low,
                       CAST(sum(ops_mid) AS BIGINT) AS ops_mid,
                       CAST(sum(ops_high) AS BIGINT) AS ops_high,
                       CAST(coalesce(sum(ops_mid) FILTER (WHERE domain IN ('bio', 'Bio', 'BIO')),
                                     0) AS BIGINT) AS bio_ops_mid,
                       CAST(sum(accel_s) AS BIGINT) AS accelerator_seconds,
                       min(ts_us) AS first_us, max(ts_us + dur_us) AS last_end_us,
                       max(parent_job) AS parent_job
                FROM {source} GROUP BY ALL""",
            )
            days = canonical_days(days)  # while the capacity pass may still be running
        except BaseException:
            if cursor is not None:
                cursor.interrupt()
            raise
        finally:
            if worker is not None:
                worker.join()
            if cursor is not None:
                cursor.close()
        accepted = int(days["rows"].sum()) if days.height else 0
        if valid_rows < 0:
            valid_rows = accepted
        invalid = total_rows - valid_rows
        if "frame" in early and (invalid == 0 or source == "kept"):
            capacity = early["frame"]
        else:
            capacity = canonical_capacity(_duck_frame(con, capacity_sql(source)))
        if invalid:
            listed = _duck_list_rejects(con, paths, mappers, rejects)
            if listed != invalid:  # every input row is accepted or listed, never lost
                raise RuntimeError(
                    f"internal error: {invalid} rows were not accepted but {listed} rejected"
                )
        rows_read = accepted + len(rejects)
    finally:
        con.close()
    rejects = [Reject(r.file, r.row, _suggest(r.reason)) for r in rejects]
    rejects.sort(key=lambda r: (str(r.file), r.row))
    return Aggregates(
        days=days,
        capacity=capacity,
        rejects=rejects,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_duplicate=rows_duplicate,
        new_fingerprints=new_fps,
    )


# a row's place in the batch as one integer, file_idx * 2^40 + rn: the order of (file_idx, rn),
# so that the smallest is the first occurrence (files of up to 2^40 rows, 2^23 files)
ORD_SHIFT = 40
FINGERPRINT_SQL = """md5(concat_ws('|',
    CAST(ts_us AS VARCHAR), account, job, accelerator, CAST(count AS VARCHAR),
    CAST(dur_us AS VARCHAR),
    coalesce(CAST(CAST(floor(utilization_num * 1e6 + 0.5) AS BIGINT) AS VARCHAR), ''),
    coalesce(parent_job, ''), coalesce(domain, ''), coalesce(precision, ''),
    coalesce(CAST(CAST(floor(network_gbps_num * 1e3 + 0.5) AS BIGINT) AS VARCHAR), '')))"""


def _duck_dedupe(
    con: Any,
    paths: Sequence[str],
    mappers: dict[int, Callable[[int], int]],
    rejects: list[Reject],
    seen: SeenLookup,
) -> tuple[int, list[str], int, str]:
    """Drop the rows processed in an earlier batch (``seen``) and the repeats within this batch
    (the first occurrence in (file, row) order is kept), adding a reject for each. Returns the
    number dropped, the batch's new fingerprints (sorted), the number of valid rows, and the
    view to aggregate: ``estimated`` itself when nothing was dropped.

    Only the fingerprints and each row's place are materialised (not the rows): the aggregation
    passes read the files again and skip the few dropped places."""
    con.execute(
        f"""CREATE TEMP TABLE fp AS SELECT {FINGERPRINT_SQL} AS fingerprint,
            (file_idx << {ORD_SHIFT}) + rn AS ord
            FROM estimated"""
    )
    con.execute(
        """CREATE TEMP TABLE fp_first AS SELECT fingerprint, min(ord) AS first_ord,
           count(*) AS n FROM fp GROUP BY fingerprint"""
    )
    valid_rows = int(con.execute("SELECT coalesce(sum(n), 0) FROM fp_first").fetchall()[0][0])
    table = con.sql("SELECT fingerprint FROM fp_first ORDER BY fingerprint").to_arrow_table()
    distinct: list[str] = table.column(0).to_pylist()
    already = seen(distinct)
    repeats = int(con.execute("SELECT count(*) FROM fp_first WHERE n > 1").fetchall()[0][0])
    if not already and not repeats:
        return 0, distinct, valid_rows, "estimated"
    con.register("seen_arrow", pa.table({"fingerprint": pa.array(sorted(already), pa.string())}))
    con.execute("CREATE TEMP TABLE seen_fp AS SELECT fingerprint FROM seen_arrow")
    con.unregister("seen_arrow")
    # the fingerprints with something to drop: seen earlier, or more than one row here
    con.execute(
        """CREATE TEMP TABLE dup_fp AS
           SELECT ff.fingerprint, ff.first_ord, s.fingerprint IS NOT NULL AS earlier
           FROM fp_first ff LEFT JOIN seen_fp s USING (fingerprint)
           WHERE ff.n > 1 OR s.fingerprint IS NOT NULL"""
    )
    # not TEMP: the capacity pass reads ``kept`` on a second cursor
    con.execute(
        """CREATE TABLE dropped AS SELECT f.ord, d.earlier
           FROM fp f JOIN dup_fp d USING (fingerprint)
           WHERE d.earlier OR f.ord <> d.first_ord"""
    )
    mask = (1 << ORD_SHIFT) - 1
    dups = con.execute(
        f"SELECT ord >> {ORD_SHIFT}, ord & {mask}, earlier FROM dropped ORDER BY ord"
    ).fetchall()
    for file_idx, rn, earlier in dups:
        reason = (
            "duplicate: already processed in an earlier batch"
            if earlier
            else "duplicate: same record as an earlier row of this batch"
        )
        rejects.append(Reject(str(paths[file_idx]), mappers[file_idx](int(rn)), reason))
    # the new fingerprints, in the same (sorted) order: those of ``distinct`` not seen earlier
    fresh = con.sql(
        """SELECT s.fingerprint IS NULL FROM fp_first ff LEFT JOIN seen_fp s USING (fingerprint)
           ORDER BY ff.fingerprint"""
    ).to_arrow_table()
    new_fps = list(itertools.compress(distinct, fresh.column(0).to_pylist()))
    con.execute(
        f"""CREATE VIEW kept AS SELECT * FROM estimated
           WHERE (file_idx << {ORD_SHIFT}) + rn NOT IN (SELECT ord FROM dropped)"""
    )
    return len(dups), new_fps, valid_rows, "kept"


def _duck_frame(con: Any, sql: str) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _duck_list_rejects(
    con: Any, paths: Sequence[str], mappers: dict[int, Any], rejects: list[Reject]
) -> int:
    """Add the rows that fail a check, with their reasons; returns how many."""
    bad = con.execute("SELECT file_idx, rn, reason FROM rejected ORDER BY file_idx, rn").fetchall()
    for file_idx, rn, reason in bad:
        row = mappers[file_idx](int(rn))
        if reason is None:  # the fast checks and the reasons disagree: never drop the row
            raise RuntimeError(f"internal error: {paths[file_idx]} row {row} failed no check")
        rejects.append(Reject(str(paths[file_idx]), row, reason))
    return len(bad)


# --------------------------------------------------------------------------- canonical tables


def _sort_by_keys(df: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """``df.sort(keys)``, the same order, faster: polars sorts millions of repeated strings
    slowly (seconds for the capacity table of 20M rows), so each text key is replaced by its
    rank among the distinct values (an Enum's index) and the keys fold into one integer when
    their ranges fit in 62 bits. Falls back to the plain sort when a key has nulls."""
    parts: list[tuple[pl.Expr, int]] = []
    for k in keys:
        col = df.get_column(k)
        if col.null_count():
            return df.sort(keys)
        if col.dtype == pl.Utf8:
            values = col.unique().sort().to_list()
            parts.append(
                (pl.col(k).cast(pl.Enum(values)).to_physical().cast(pl.Int64), len(values))
            )
        else:
            low, high = int(col.min()), int(col.max())  # type: ignore[arg-type]
            parts.append((pl.col(k).cast(pl.Int64) - low, high - low + 1))
    span = 1
    for _, size in parts:
        span *= size
    if span >= 2**62:
        return df.sort(keys)
    key: pl.Expr | None = None
    for expr, size in parts:
        key = expr if key is None else key * size + expr
    assert key is not None
    return df.sort(key)


def canonical_days(df: pl.DataFrame) -> pl.DataFrame:
    if df.height == 0:
        return pl.DataFrame(schema=DAYS_SCHEMA)
    return _sort_by_keys(df.select([pl.col(k).cast(v) for k, v in DAYS_SCHEMA.items()]), DAY_KEYS)


def canonical_capacity(df: pl.DataFrame) -> pl.DataFrame:
    if df.height == 0:
        return pl.DataFrame(schema=CAPACITY_SCHEMA)
    return _sort_by_keys(
        df.select([pl.col(k).cast(v) for k, v in CAPACITY_SCHEMA.items()]), CAPACITY_KEYS
    )


def merge_days(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Combine per-day job totals from several batches (exact: integer sums, min, max)."""
    return _merge(frames, canonical_days, DAYS_SCHEMA, DAY_KEYS, DAY_MERGE)


def merge_capacity(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    return _merge(frames, canonical_capacity, CAPACITY_SCHEMA, CAPACITY_KEYS, CAPACITY_MERGE)


def _merge(
    frames: Sequence[pl.DataFrame],
    canonical: Callable[[pl.DataFrame], pl.DataFrame],
    schema: dict[str, Any],
    keys: list[str],
    rules: dict[str, str],
) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=schema)
    both = pl.concat([canonical(f) for f in frames])
    how = {"sum": pl.Expr.sum, "min": pl.Expr.min, "max": pl.Expr.max}
    merged = both.group_by(keys).agg([how[rule](pl.col(c)) for c, rule in rules.items()])
    return canonical(merged)


# --------------------------------------------------------------------------- Dask engine


def _pandas_text(series: Any, strip: bool = False) -> Any:
    """Text values as the DuckDB path sees them: literal ('' is missing); numbers and dates
    given as text are stripped of spaces."""
    import pandas as pd

    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        s = series.astype("object").where(series.notna(), None)
    else:
        s = series.astype(str).where(series.notna(), None)
    if strip:
        s = s.str.strip(" ")
    s = s.where(s.notna() & (s != ""), None)
    return pd.Series(s, index=series.index, dtype="object")


def _pandas_checked(
    part: Any, peaks: dict[tuple[str, str], float], known: frozenset[str], config: CloudConfig
) -> Any:
    """Validate and estimate one pandas partition exactly as the DuckDB SQL does."""
    import pandas as pd

    lim = config.estimate.limits
    max_count, max_seconds = int(lim["max_count"]), int(lim["max_seconds"])
    n = len(part)
    out = pd.DataFrame(index=part.index)
    out["file_idx"] = part["file_idx"].astype("int64")
    out["rn"] = part["rn"].astype("int64")
    for f in TEXT:
        out[f] = (
            _pandas_text(part[f])
            if f in part
            else pd.Series([None] * n, index=part.index, dtype="object")
        )
    # timestamp
    if "timestamp" in part:
        raw_ts = part["timestamp"]
        if pd.api.types.is_datetime64_any_dtype(raw_ts):
            ts = (
                raw_ts.dt.tz_localize("UTC")
                if raw_ts.dt.tz is None
                else raw_ts.dt.tz_convert("UTC")
            )
            ts_missing = raw_ts.isna().to_numpy()
        else:
            text = _pandas_text(raw_ts, strip=True)
            ts_missing = text.isna().to_numpy()
            ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        ts_ok = ts.notna().to_numpy()
        filled = ts.fillna(pd.Timestamp(0, tz="UTC")).dt.as_unit("us")
        ts_us = np.where(ts_ok, filled.astype("int64").to_numpy(), 0)
    else:
        ts_missing = np.ones(n, bool)
        ts_ok = np.zeros(n, bool)
        ts_us = np.zeros(n, np.int64)
    nums: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f in NUMERIC:
        if f not in part:
            nums[f] = (np.ones(n, bool), np.full(n, np.nan))
            continue
        raw = part[f]
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            values = raw.astype("float64").to_numpy()
            nums[f] = (np.isnan(values), values)
        else:
            text = _pandas_text(raw, strip=True)
            values = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
            nums[f] = (text.isna().to_numpy(), values)
    acc = out["accelerator"]
    prec = out["precision"]
    is_known = acc.isin(known).to_numpy(bool)
    key = acc.fillna("").astype("object") + "|" + prec.fillna("").astype("object")
    peak = key.map({f"{a}|{p}": v for (a, p), v in peaks.items()}).astype("float64").to_numpy()
    cnt_missing, cnt = nums["count"]
    sec_missing, sec = nums["seconds"]
    u_missing, u = nums["utilization"]
    net_missing, net = nums["network_gbps"]
    with np.errstate(invalid="ignore"):
        bad_count = np.isnan(cnt) | (cnt != np.floor(cnt)) | (cnt < 1) | (cnt > max_count)
        bad_util = ~u_missing & (np.isnan(u) | (u <= 0) | (u > 1))
        bad_net = ~net_missing & (np.isnan(net) | np.isinf(net) | (net < 0))
        conditions = [
            out["account"].isna().to_numpy(),
            out["job"].isna().to_numpy(),
            ts_missing,
            ~ts_ok,
            acc.isna().to_numpy(),
            ~is_known,
            cnt_missing,
            bad_count,
            sec_missing,
            np.isnan(sec) | np.isinf(sec),
            sec < 0,
            sec > max_seconds,
            bad_util,
            bad_net,
            np.isnan(peak) & prec.isna().to_numpy(),
            np.isnan(peak),
            (out["parent_job"] == out["job"]).fillna(False).to_numpy(bool),
        ]
    acc_text = acc.fillna("").to_numpy(object)
    prec_text = prec.fillna("").to_numpy(object)
    messages: list[Any] = [
        "account: missing",
        "job: missing",
        "timestamp: missing",
        "timestamp: not an ISO 8601 date-time",
        "accelerator: missing",
        lambda i: f"accelerator: unknown catalogue id '{acc_text[i]}'",
        "count: missing",
        f"count: must be a whole number from 1 to {max_count}",
        "seconds: missing",
        "seconds: not a number",
        "seconds: negative",
        f"seconds: more than {max_seconds} in one row is impossible",
        "utilization: must be a number greater than 0 and at most 1",
        "network_gbps: must be a non-negative number",
        lambda i: (
            f"precision: the catalogue has no 16-bit or 32-bit dense peak for '{acc_text[i]}'; "
            "give the precision"
        ),
        lambda i: (
            f"precision: no dense peak for '{prec_text[i]}' on '{acc_text[i]}' in the catalogue"
        ),
        "parent_job: a job cannot be its own parent",
    ]
    reason = np.full(n, None, dtype=object)
    decided = np.zeros(n, bool)
    for cond, msg in zip(conditions, messages, strict=True):
        take = cond & ~decided
        if take.any():
            if callable(msg):  # messages naming the value: built only for the rows that fail
                where = np.flatnonzero(take)
                reason[where] = np.array([msg(i) for i in where], dtype=object)
            else:
                reason[take] = msg
            decided |= take
    out["reason"] = reason
    util = config.estimate.utilization
    unit = config.estimate.operations_unit
    with np.errstate(invalid="ignore", over="ignore"):
        base = (cnt * sec) * peak
        for name, default in (
            ("ops_low", util.low),
            ("ops_mid", util.default),
            ("ops_high", util.high),
        ):
            value = np.floor(base * np.where(u_missing, default, u) / unit + 0.5)
            out[name] = np.where(decided, 0, np.nan_to_num(value)).astype("int64")
        out["ts_us"] = ts_us.astype("int64")
        out["count"] = np.where(decided, 0, np.nan_to_num(cnt)).astype("int64")
        out["dur_us"] = np.where(decided, 0, np.nan_to_num(np.floor(sec * 1e6 + 0.5))).astype(
            "int64"
        )
        out["accel_s"] = np.where(decided, 0, np.nan_to_num(np.floor(cnt * sec + 0.5))).astype(
            "int64"
        )
    out["peak"] = peak
    out["seconds_num"] = sec
    out["utilization_num"] = np.where(u_missing, np.nan, u)
    out["network_gbps_num"] = np.where(net_missing, np.nan, net)
    return out


def _pandas_fingerprints(part: Any) -> Any:
    import pandas as pd

    fps = []
    for row in part.itertuples(index=False):
        util = (
            None if math.isnan(row.utilization_num) else math.floor(row.utilization_num * 1e6 + 0.5)
        )
        net = (
            None
            if math.isnan(row.network_gbps_num)
            else math.floor(row.network_gbps_num * 1e3 + 0.5)
        )
        text = fingerprint_text(
            int(row.ts_us), row.account, row.job, row.accelerator, int(row.count), int(row.dur_us),
            util, row.parent_job, row.domain, row.precision, net,
        )  # fmt: skip
        fps.append(hashlib.md5(text.encode("utf-8")).hexdigest())
    return pd.Series(fps, index=part.index, dtype="object")


def _empty_pandas(schema: dict[str, Any]) -> Any:
    import pandas as pd

    dtypes = {pl.Utf8: "str", pl.Float64: "float64"}
    return pd.DataFrame({k: pd.Series(dtype=dtypes.get(v, "int64")) for k, v in schema.items()})


def _pandas_days(part: Any) -> Any:
    import pandas as pd

    if len(part) == 0:
        return _empty_pandas(DAYS_SCHEMA)
    frame = pd.DataFrame(
        {
            "account": part["account"],
            "job": part["job"],
            "day": np.floor(part["ts_us"].to_numpy() / float(DAY_US)).astype("int64"),
            "rows": 1,
            "ops_low": part["ops_low"],
            "ops_mid": part["ops_mid"],
            "ops_high": part["ops_high"],
            "bio_ops_mid": np.where(
                part["domain"].isin(["bio", "Bio", "BIO"]), part["ops_mid"], 0
            ).astype("int64"),
            "accelerator_seconds": part["accel_s"],
            "first_us": part["ts_us"],
            "last_end_us": part["ts_us"] + part["dur_us"],
            "parent_job": part["parent_job"].fillna(""),
        }
    )
    for col in ("account", "job", "parent_job"):
        frame[col] = frame[col].astype("str")
    return (
        frame.groupby(DAY_KEYS, sort=False)
        .agg(
            rows=("rows", "sum"),
            ops_low=("ops_low", "sum"),
            ops_mid=("ops_mid", "sum"),
            ops_high=("ops_high", "sum"),
            bio_ops_mid=("bio_ops_mid", "sum"),
            accelerator_seconds=("accelerator_seconds", "sum"),
            first_us=("first_us", "min"),
            last_end_us=("last_end_us", "max"),
            parent_job=("parent_job", "max"),
        )
        .reset_index()
    )


def _pandas_capacity(part: Any, bucket_us: int, cap_unit: float) -> Any:
    """Capacity per (account, hour in which a row starts): the row's accelerators times their
    peak, for the part of the row that fits in one hour (as the DuckDB SQL)."""
    import pandas as pd

    if len(part) == 0:
        return _empty_pandas(CAPACITY_SCHEMA)
    count = part["count"].to_numpy(np.int64).astype("float64")
    peak = part["peak"].to_numpy("float64")
    capped = np.minimum(part["seconds_num"].to_numpy("float64") * 1e6, bucket_us)
    frame = pd.DataFrame(
        {
            "account": part["account"].astype("str"),
            "hour": np.floor(part["ts_us"].to_numpy(np.int64) / float(bucket_us)).astype("int64"),
            "capacity_units": np.floor(
                ((count * peak) * capped) / float(bucket_us) / cap_unit + 0.5
            ).astype("int64"),
            "accelerator_seconds": np.floor(count * capped / 1e6 + 0.5).astype("int64"),
            "network_gbps": part["network_gbps_num"].to_numpy("float64"),
        }
    )
    return (
        frame.groupby(CAPACITY_KEYS, sort=False)
        .agg(
            capacity_units=("capacity_units", "sum"),
            accelerator_seconds=("accelerator_seconds", "sum"),
            network_gbps=("network_gbps", "max"),
        )
        .reset_index()
    )


def _dask_file(path: str, file_idx: int, fmt: str, blocksize: str) -> tuple[Any, list[Reject]]:
    import dask.dataframe as dd
    import pandas as pd

    rejects: list[Reject] = []
    try:
        if fmt == "parquet":
            ddf = dd.read_parquet(path, blocksize=blocksize)  # bounded partitions
            first_row = 1
        elif fmt == "csv":
            ddf = dd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[""], blocksize=blocksize
            )
            first_row = 2
        else:
            table, rejects = _read_jsonl(path, file_idx)
            frame = table.to_pandas()
            return dd.from_pandas(frame, npartitions=max(1, min(8, len(frame) // 100_000 + 1))), (
                rejects
            )
    except (OSError, ValueError) as exc:
        raise TelemetryError(f"{path}: cannot read as {fmt}: {exc}") from exc
    ddf = ddf.rename(columns={c: str(c).lower() for c in ddf.columns})
    lengths = ddf.map_partitions(len).compute().tolist()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)

    def number(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
        k = partition_info["number"] if partition_info else 0
        part = part.copy()
        part["file_idx"] = file_idx
        part["rn"] = np.arange(len(part), dtype=np.int64) + int(starts[k]) + first_row
        return part

    return ddf.map_partitions(number), rejects


def _dask_rejects(bad: Any, paths: Sequence[str], rejects: list[Reject]) -> None:
    for file_idx, rn, reason in bad.sort_values(["file_idx", "rn"]).itertuples(index=False):
        rejects.append(Reject(str(paths[int(file_idx)]), int(rn), str(reason)))


def aggregate_dask(
    paths: Sequence[str],
    *,
    config: CloudConfig | None = None,
    seen: SeenLookup | None = None,
    scheduler: str | None = None,
    client: Any = None,
    blocksize: str = "32MB",
) -> Aggregates:
    """Aggregate telemetry with ``dask.dataframe`` on a distributed cluster: ``client`` if given,
    else a cluster at ``scheduler`` (address), else a small ``LocalCluster`` for this call."""
    import dask
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    config = config or load_config()
    own_cluster = None
    own_client = None
    if client is None:
        if scheduler:
            own_client = client = Client(scheduler)
        else:
            own_cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
            )
            own_client = client = Client(own_cluster)
    try:
        peaks_df = peak_table(config)
        peaks = {
            (a, p): v
            for a, p, v in zip(
                peaks_df["accelerator"], peaks_df["precision"], peaks_df["peak"], strict=True
            )
        }
        known = frozenset(known_accelerators())
        parts, rejects = [], []
        for idx, path in enumerate(paths):
            ddf, parse_rejects = _dask_file(str(path), idx, _format_of(str(path)), blocksize)
            for f in FIELDS:
                if f not in ddf.columns:
                    ddf = ddf.assign(**{f: None})
            parts.append(ddf[["file_idx", "rn", *FIELDS]])
            rejects += parse_rejects
        if not parts:
            raise TelemetryError("no telemetry files given")
        combined = dd.concat(parts) if len(parts) > 1 else parts[0]
        meta = _pandas_checked(combined._meta, peaks, known, config)
        checked = combined.map_partitions(_pandas_checked, peaks, known, config, meta=meta)
        # nothing is persisted: partitions stream through, so memory stays bounded
        bad_dd = checked[~checked["reason"].isna()][["file_idx", "rn", "reason"]]
        valid = checked[checked["reason"].isna()]
        rows_duplicate = 0
        new_fps: list[str] = []
        bad = None
        if seen is not None:
            valid = valid.assign(
                fingerprint=valid.map_partitions(_pandas_fingerprints, meta=("fingerprint", object))
            )
            bad, keys = dask.compute(bad_dd, valid[["fingerprint", "file_idx", "rn"]])
            _dask_rejects(bad, paths, rejects)
            keys = keys.sort_values(["file_idx", "rn"], kind="stable")
            distinct = keys["fingerprint"].drop_duplicates().tolist()
            already = seen(distinct)
            in_seen = keys["fingerprint"].isin(already)
            repeat = keys["fingerprint"].duplicated(keep="first")
            dropped = keys[in_seen | repeat]
            for fp_seen, (_, row) in zip(
                in_seen[in_seen | repeat], dropped.iterrows(), strict=True
            ):
                reason = (
                    "duplicate: already processed in an earlier batch"
                    if fp_seen
                    else "duplicate: same record as an earlier row of this batch"
                )
                rejects.append(Reject(str(paths[int(row["file_idx"])]), int(row["rn"]), reason))
            rows_duplicate = len(dropped)
            new_fps = sorted(set(distinct) - already)
            drop_keys = set(zip(dropped["file_idx"].tolist(), dropped["rn"].tolist(), strict=True))
            if drop_keys:

                def keep(part: pd.DataFrame) -> pd.DataFrame:
                    mask = [
                        (f, r) not in drop_keys
                        for f, r in zip(part["file_idx"], part["rn"], strict=True)
                    ]
                    return part[np.array(mask, dtype=bool)]

                valid = valid.map_partitions(keep, meta=valid._meta)
        day_meta = _empty_pandas(DAYS_SCHEMA)
        day_parts = valid.map_partitions(_pandas_days, meta=day_meta)
        # the partitions' totals combine by the same rules as batches do (DAY_MERGE)
        days_dd = day_parts.groupby(DAY_KEYS).agg(DAY_MERGE).reset_index()
        bucket_us = config.estimate.capacity_bucket_seconds * 1_000_000
        cap_meta = _empty_pandas(CAPACITY_SCHEMA)
        cap_parts = valid.map_partitions(
            _pandas_capacity, bucket_us, config.estimate.capacity_unit, meta=cap_meta
        )
        capacity_dd = cap_parts.groupby(CAPACITY_KEYS).agg(CAPACITY_MERGE).reset_index()
        if bad is None:  # one pass computes the rejects and both tables
            bad, days, capacity = dask.compute(bad_dd, days_dd, capacity_dd)
            _dask_rejects(bad, paths, rejects)
        else:
            days, capacity = dask.compute(days_dd, capacity_dd)
        days["parent_job"] = days["parent_job"].where(days["parent_job"] != "", None)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    days_pl = canonical_days(pl.from_pandas(days)) if len(days) else canonical_days(pl.DataFrame())
    cap_pl = (
        canonical_capacity(pl.from_pandas(capacity))
        if len(capacity)
        else canonical_capacity(pl.DataFrame())
    )
    accepted = int(days_pl["rows"].sum()) if days_pl.height else 0
    rejects = [Reject(r.file, r.row, _suggest(r.reason)) for r in rejects]
    rejects.sort(key=lambda r: (str(r.file), r.row))
    return Aggregates(
        days=days_pl,
        capacity=cap_pl,
        rejects=rejects,
        rows_read=accepted + len(rejects),
        rows_accepted=accepted,
        rows_duplicate=rows_duplicate,
        new_fingerprints=new_fps,
    )


def aggregate(
    paths: Sequence[str],
    *,
    engine: Engine = "duckdb",
    config: CloudConfig | None = None,
    seen: SeenLookup | None = None,
    scheduler: str | None = None,
    client: Any = None,
) -> Aggregates:
    """Aggregate telemetry files with the chosen engine (same result from either)."""
    if engine == "duckdb":
        return aggregate_duckdb(paths, config=config, seen=seen)
    if engine == "dask":
        return aggregate_dask(paths, config=config, seen=seen, scheduler=scheduler, client=client)
    raise ValueError(f"engine: {engine!r} is not one of duckdb, dask")
