"""Monitor: alerts on the demonstration set, batches add up, idempotent, bad input harmless."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluicegate.cloud import load_customers, run_monitor
from sluicegate.cloud.ingest import TelemetryError
from sluicegate.cloud.state import MonitorState


def _kinds(alerts: list[dict[str, Any]]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a["kind"], a["threshold_id"], tuple(a["jobs"])) for a in alerts]


@pytest.fixture(scope="module")
def customers(sample: dict[str, Path]) -> list[Any]:
    good, bad = load_customers(str(sample["customers"]))
    assert not bad
    return good


def test_sample_shows_every_alert_kind(sample: dict[str, Path], customers: list[Any]) -> None:
    result = run_monitor([str(sample["telemetry"])], customers=customers, stateless=True)
    kinds = _kinds(result.alerts)
    assert ("threshold-crossed", "training-general", ("frontier-1",)) in kinds
    assert ("threshold-crossed", "training-bio", ("protein-lm",)) in kinds
    assert ("projected-crossing", "training-general", ("climber-base",)) in kinds
    # the climber is headquartered outside Tier 1, so the 4E091 threshold (Red Flag 28) applies
    assert ("projected-crossing", "model-weights-4e091", ("climber-base",)) in kinds
    structuring = [a for a in result.alerts if a["kind"] == "structuring"]
    assert len(structuring) == 1
    assert structuring[0]["owner"] == "bo-9"
    assert structuring[0]["accounts"] == ["acct-s1", "acct-s2", "acct-s3", "acct-s4"]
    assert all(v < 1e26 for v in structuring[0]["evidence"]["account_operations"].values())
    cluster = [a for a in result.alerts if a["kind"] == "cluster-capacity"]
    assert [a["accounts"] for a in cluster] == [["acct-cluster"]]
    assert cluster[0]["evidence"]["definitions"]["cluster-nprm"] == "met"
    # the fine-tune adds to its base model but is not reported twice
    assert not any("frontier-1-chat" in a["jobs"] for a in result.alerts)
    assert len(result.rejects) == 4


def test_fine_tune_lineage_crosses_when_base_does_not(tmp_path: Path) -> None:
    header = "timestamp,account,job,accelerator,count,seconds,parent_job"
    base = "2025-01-01T00:00:00Z,a,base,nvidia-h100-sxm,30000,{s},"
    tune = "2025-03-01T00:00:00Z,a,tune,nvidia-h100-sxm,30000,{s},base"
    seconds = 5_000_000  # 30,000 x 5e6 s x 989.4e12 x 0.4 = 5.9e25 each, 1.2e26 together
    path = tmp_path / "t.csv"
    path.write_text(f"{header}\n{base.format(s=seconds)}\n{tune.format(s=seconds)}\n")
    alerts = run_monitor([str(path)], stateless=True, projection_days=0).alerts
    crossed = [a for a in alerts if a["kind"] == "threshold-crossed"]
    assert [a["jobs"] for a in crossed] == [["base", "tune"]]


def test_no_structuring_when_one_account_crosses_alone(tmp_path: Path) -> None:
    header = "timestamp,account,job,accelerator,count,seconds"
    rows = [
        "2025-01-01T00:00:00Z,a1,big,nvidia-h100-sxm,30000,9000000",
        "2025-01-01T00:00:00Z,a2,small,nvidia-h100-sxm,1000,90000",
    ]
    path = tmp_path / "t.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    owner = {"id": "o", "name": "O", "country": "US", "percent": 100}
    custs = [
        {"account": a, "name": a, "country": "US", "beneficial_owners": [owner]}
        for a in ("a1", "a2")
    ]
    from sluicegate.cloud import parse_customer

    alerts = run_monitor(
        [str(path)], customers=[parse_customer(c) for c in custs], stateless=True
    ).alerts
    assert [a["kind"] for a in alerts if a["kind"] == "structuring"] == []
    assert any(a["kind"] == "threshold-crossed" for a in alerts)


def test_projection_horizon_is_configurable(sample: dict[str, Path]) -> None:
    short = run_monitor([str(sample["telemetry"])], stateless=True, projection_days=5).alerts
    projected = [a for a in short if a["kind"] == "projected-crossing"]
    # still reported because the upper estimate crosses, but with days beyond the horizon
    assert projected and all(a["evidence"]["days_to_crossing"] > 5 for a in projected)
    assert all(a["evidence"]["upper_estimate_crosses"] for a in projected)


def _split(sample: dict[str, Path], tmp_path: Path) -> tuple[str, str]:
    rows = pl.read_csv(sample["telemetry"], infer_schema=False)
    first, second = tmp_path / "part1.csv", tmp_path / "part2.csv"
    rows.slice(0, 150).write_csv(first)
    rows.slice(150).write_csv(second)
    return str(first), str(second)


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_two_batches_give_the_same_alerts_as_one(
    sample: dict[str, Path],
    customers: list[Any],
    tmp_path: Path,
    engine: str,
    request: pytest.FixtureRequest,
) -> None:
    client = request.getfixturevalue("dask_client") if engine == "dask" else None
    once = run_monitor(
        [str(sample["telemetry"])],
        customers=customers,
        state_url=f"sqlite:///{tmp_path / 'once.db'}",
        engine=engine,  # type: ignore[arg-type]
        client=client,
    )
    first, second = _split(sample, tmp_path)
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    run_monitor([first], customers=customers, state_url=url, engine=engine, client=client)  # type: ignore[arg-type]
    twice = run_monitor([second], customers=customers, state_url=url, engine=engine, client=client)  # type: ignore[arg-type]
    assert twice.alerts == once.alerts
    assert MonitorState(url).days().equals(MonitorState(f"sqlite:///{tmp_path / 'once.db'}").days())


def test_a_batch_sent_twice_counts_once(sample: dict[str, Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = run_monitor([str(sample["telemetry"])], state_url=url)
    again = run_monitor([str(sample["telemetry"])], state_url=url)
    assert again.alerts == first.alerts
    assert again.rows_accepted == 0
    assert again.rows_duplicate == first.rows_accepted
    assert all(
        r.reason.startswith("duplicate: already processed")
        for r in again.rejects
        if r.reason.startswith("duplicate")
    )


def test_a_bad_file_leaves_the_state_untouched(sample: dict[str, Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    run_monitor([str(sample["telemetry"])], state_url=url)
    before = MonitorState(url).days()
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    extra = tmp_path / "more.csv"
    shutil.copy(sample["telemetry"], extra)
    with pytest.raises(TelemetryError):
        run_monitor([str(extra), str(broken)], state_url=url)
    assert MonitorState(url).days().equals(before)


def test_a_failure_while_committing_rolls_back(
    sample: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first, second = _split(sample, tmp_path)
    run_monitor([first], state_url=url)
    before_days = MonitorState(url).days()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(MonitorState, "_merge", staticmethod(boom))
    with pytest.raises(RuntimeError):
        run_monitor([second], state_url=url)
    monkeypatch.undo()
    assert MonitorState(url).days().equals(before_days)
    # and the batch can be processed again afterwards, nothing counted as seen
    result = run_monitor([second], state_url=url)
    assert result.rows_duplicate == 0


def test_state_on_postgresql(sample: dict[str, Path], tmp_path: Path, postgres_url: str) -> None:
    """Two batches on a PostgreSQL state database give the alerts of one stateless run; the
    database gets its schema (Alembic, to head) on first use, in a schema of its own here."""
    once = run_monitor([str(sample["telemetry"])], stateless=True)
    first, second = _split(sample, tmp_path)
    run_monitor([first], state_url=postgres_url)
    twice = run_monitor([second], state_url=postgres_url)
    assert twice.alerts == once.alerts


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=1, max_value=336))
def test_any_split_of_the_telemetry_merges_to_the_same_totals(
    sample: dict[str, Path], tmp_path: Path, cut: int
) -> None:
    from sluicegate.cloud.ingest import aggregate, merge_capacity, merge_days

    rows = pl.read_csv(sample["telemetry"], infer_schema=False)
    first, second = tmp_path / f"a{cut}.csv", tmp_path / f"b{cut}.csv"
    rows.slice(0, cut).write_csv(first)
    rows.slice(cut).write_csv(second)
    whole = aggregate([str(sample["telemetry"])])
    parts = [aggregate([str(first)]), aggregate([str(second)])]
    assert merge_days([p.days for p in parts]).equals(whole.days)
    assert merge_capacity([p.capacity for p in parts]).equals(whole.capacity)
    assert sum(p.rows_read for p in parts) == whole.rows_read
