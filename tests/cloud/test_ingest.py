"""Telemetry ingest: the operations estimate, rejects with reasons, identical engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sluicegate.cloud.ingest import TelemetryError, aggregate, peak_table
from sluicegate.regimes import catalogue

HEADER = "timestamp,account,job,accelerator,count,seconds,utilization,parent_job,domain,precision"


def _csv(tmp_path: Path, lines: list[str], name: str = "t.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return str(path)


def test_operations_estimate_uses_the_16_bit_peak_and_default_utilisation(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,3600,,,,"])
    days = aggregate([path]).days
    peaks = catalogue()["nvidia-h100-sxm"]["peak_ops_per_s"]
    peak16 = max(peaks["bf16"], peaks["fp16"])
    expected = 8 * 3600 * peak16
    row = days.row(0, named=True)
    assert row["ops_mid"] * 1e12 == pytest.approx(expected * 0.4, rel=1e-12)
    assert row["ops_low"] * 1e12 == pytest.approx(expected * 0.3, rel=1e-12)
    assert row["ops_high"] * 1e12 == pytest.approx(expected * 0.6, rel=1e-12)
    assert row["accelerator_seconds"] == 8 * 3600


def test_given_precision_and_utilisation_are_used(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,3600,0.5,,,FP8"])
    row = aggregate([path]).days.row(0, named=True)
    fp8 = catalogue()["nvidia-h100-sxm"]["peak_ops_per_s"]["fp8"]
    assert row["ops_mid"] * 1e12 == pytest.approx(8 * 3600 * fp8 * 0.5, rel=1e-12)
    assert row["ops_low"] == row["ops_mid"] == row["ops_high"]  # measured: no range


def test_every_chip_with_a_peak_has_a_default_precision() -> None:
    peaks = peak_table()
    with_default = set(peaks.filter(pl.col("precision") == "")["accelerator"].to_list())
    for cid, chip in catalogue().items():
        figures = {k.lower() for k in (chip.get("peak_ops_per_s") or {})}
        if figures & {"bf16", "fp16", "tf32", "fp32"}:
            assert cid in with_default


BAD = [
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,-5,,,,", "seconds: negative"),
    ("2025-03-01T00:00:00Z,,j,nvidia-h100-sxm,8,5,,,,", "account: missing"),
    ("2025-03-01T00:00:00Z,a,,nvidia-h100-sxm,8,5,,,,", "job: missing"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h1000,8,5,,,,", "accelerator: unknown catalogue id"),
    ("yesterday,a,j,nvidia-h100-sxm,8,5,,,,", "timestamp: not an ISO 8601"),
    (",a,j,nvidia-h100-sxm,8,5,,,,", "timestamp: missing"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,2.5,5,,,,", "count: must be a whole number"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,0,5,,,,", "count: must be a whole number"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,abc,,,,", "seconds: not a number"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,99999999,,,,", "seconds: more than"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,5,1.5,,,", "utilization: must be"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,5,,,,fp4", "precision: no dense peak"),
    ("2025-03-01T00:00:00Z,a,j,nvidia-h100-sxm,8,5,,j,,", "parent_job: a job cannot be"),
]


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_bad_rows_are_rejected_with_row_and_reason(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    client = request.getfixturevalue("dask_client") if engine == "dask" else None
    good = "2025-03-01T00:00:00Z,a,ok,nvidia-h100-sxm,8,5,,,,"
    path = _csv(tmp_path, [good, *(line for line, _ in BAD)])
    result = aggregate([path], engine=engine, client=client)  # type: ignore[arg-type]
    assert result.rows_accepted == 1
    assert result.rows_read == 1 + len(BAD)
    assert [r.row for r in result.rejects] == list(range(3, 3 + len(BAD)))
    for reject, (_, reason) in zip(result.rejects, BAD, strict=True):
        assert reject.reason.startswith(reason), (reject, reason)
    assert "did you mean" in result.rejects[3].reason


def test_ragged_csv_lines_are_rejected_not_dropped(tmp_path: Path) -> None:
    good = "2025-03-01T00:00:00Z,a,ok,nvidia-h100-sxm,8,5,,,,"
    path = _csv(tmp_path, [good, "2025-03-01T00:00:00Z,a,ok", good.replace("ok", "ok2")])
    result = aggregate([path])
    assert result.rows_accepted == 2
    assert [(r.row, r.reason.split(":")[0]) for r in result.rejects] == [(3, "malformed CSV line")]


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TelemetryError):
        aggregate([str(tmp_path / "missing.parquet")])
    with pytest.raises(TelemetryError, match="unknown telemetry format"):
        aggregate([str(tmp_path / "x.txt")])


def test_json_lines_malformed_lines_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good: dict[str, Any] = {
        "timestamp": "2025-03-01T00:00:00Z",
        "account": "a",
        "job": "j",
        "accelerator": "nvidia-h100-sxm",
        "count": 8,
        "seconds": 3600,
    }
    path.write_text(json.dumps(good) + "\n{broken\n[1]\n", encoding="utf-8")
    result = aggregate([str(path)])
    assert result.rows_accepted == 1
    assert [(r.row, r.reason) for r in result.rejects] == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes"),
        (3, "not a JSON object"),
    ]


def test_csv_parquet_and_jsonl_give_the_same_totals(
    tmp_path: Path, sample: dict[str, Path]
) -> None:
    from_csv = aggregate([str(sample["telemetry"])])
    from_parquet = aggregate([str(sample["telemetry_parquet"])])
    rows = pl.read_csv(sample["telemetry"], infer_schema=False)
    jsonl = tmp_path / "t.jsonl"
    with jsonl.open("w") as handle:
        for r in rows.iter_rows(named=True):
            handle.write(json.dumps({k: v for k, v in r.items() if v not in (None, "")}) + "\n")
    from_jsonl = aggregate([str(jsonl)])
    assert from_csv.days.equals(from_parquet.days)
    assert from_csv.days.equals(from_jsonl.days)
    assert from_csv.capacity.equals(from_parquet.capacity)
    assert len(from_csv.rejects) == len(from_jsonl.rejects) == 4


def test_duckdb_and_dask_give_identical_results(sample: dict[str, Path], dask_client: Any) -> None:
    for files in ([str(sample["telemetry"])], [str(sample["telemetry_parquet"])]):
        duck = aggregate(files, seen=lambda fps: set())
        dask = aggregate(files, engine="dask", client=dask_client, seen=lambda fps: set())
        assert duck.days.equals(dask.days)
        assert duck.capacity.equals(dask.capacity)
        assert duck.rejects == dask.rejects
        assert duck.new_fingerprints == dask.new_fingerprints
        assert (duck.rows_read, duck.rows_accepted) == (dask.rows_read, dask.rows_accepted)


def test_capacity_is_counted_in_the_hour_a_row_starts_for_at_most_an_hour(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        [
            "2025-03-01T00:30:00Z,a,j,nvidia-h100-sxm,100,1800,,,,",
            "2025-03-01T00:00:00Z,a,k,nvidia-h100-sxm,50,1800,,,,",
            "2025-03-01T01:00:00Z,a,j,nvidia-h100-sxm,100,7200,,,,",
        ],
    )
    cap = aggregate([path]).capacity
    # hour 0: 100 chips for half an hour + 50 for half an hour; hour 1: 100 chips (capped)
    assert cap["accelerator_seconds"].to_list() == [100 * 1800 + 50 * 1800, 100 * 3600]
    peak = catalogue()["nvidia-h100-sxm"]["peak_ops_per_s"]["bf16"]
    assert cap["capacity_units"][1] * 1e9 == pytest.approx(100 * peak, rel=1e-9)


AWKWARD = {
    "timestamp": ["2025-03-01T00:00:00Z", "2025-03-01T10:30:00+02:00", "", "yesterday"],
    "account": ["a", "b", ""],
    "job": ["j", "k", ""],
    "accelerator": ["nvidia-h100-sxm", "nvidia-rtx-4090d", "nvidia-h1000", ""],
    "count": ["8", "1", "0", "-3", "2.5", "1e7", "10000001", "nan", "inf", "abc", ""],
    "seconds": ["3600", "0", "-0", "-1", "31622400", "31622401", "nan", "inf", "-inf", "x", ""],
    "utilization": ["", "0.5", "1", "0", "1.0001", "-0.2", "nan", "inf", "x"],
    "parent_job": ["", "j", "k", "base"],
    "domain": ["", "bio"],
    "precision": ["", "fp8", "FP8", "Fp8", "fp4", "bf16"],
    "network_gbps": ["", "400", "0", "-1", "nan", "inf", "x"],
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_checks_accept_exactly_the_rows_without_a_reason(
    tmp_path: Path, dask_client: Any, seed: int
) -> None:
    """DuckDB accepts a row by one conjunction and names reasons by a separate CASE; the
    pandas engine (under Dask) decides each row independently. On awkward values (NaN,
    infinities, negative zero, bounds, spellings of precision) they must agree row by row."""
    import random

    rng = random.Random(seed)
    fields = list(AWKWARD)
    valid = {f: values[0] for f, values in AWKWARD.items()}
    lines = [",".join(fields)]
    for _ in range(400):  # a valid row with up to two fields set to awkward values
        values = dict(valid)
        for f in rng.sample(fields, rng.choice([0, 1, 1, 2])):
            values[f] = rng.choice(AWKWARD[f])
        lines.append(",".join(values[f] for f in fields))
    path = tmp_path / f"awkward-{seed}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    duck = aggregate([str(path)])
    dask = aggregate([str(path)], engine="dask", client=dask_client)
    assert duck.rows_read == dask.rows_read == 400
    assert 0 < duck.rows_accepted < 400
    assert duck.rejects == dask.rejects
    assert duck.days.equals(dask.days)
    assert duck.capacity.equals(dask.capacity)
