"""Monitor state: duplicates within and across batches, the first occurrence kept, totals merged
in the database exactly as ``merge_days``/``merge_capacity`` merge frames, on SQLite and
PostgreSQL (a schema per test on 127.0.0.1:5432; skipped when unreachable unless
SLUICE_REQUIRE_SERVICES=1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from sluicegate.cloud import state as state_module
from sluicegate.cloud.ingest import (
    CAPACITY_SCHEMA,
    DAYS_SCHEMA,
    Aggregates,
    aggregate,
    canonical_capacity,
    canonical_days,
    merge_capacity,
    merge_days,
)
from sluicegate.cloud.monitor import run_monitor
from sluicegate.cloud.state import MonitorState

HEADER = "timestamp,account,job,accelerator,count,seconds,utilization,parent_job,domain,precision"
EARLIER = "duplicate: already processed in an earlier batch"
HERE = "duplicate: same record as an earlier row of this batch"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))  # a schema of its own


def _state(url: str) -> Iterator[MonitorState]:
    state = MonitorState(url)
    try:
        yield state
    finally:
        state.engine.dispose()


def _csv(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return str(path)


def _row(hour: int, job: str = "j", utilization: str = "0.5", count: int = 1000) -> str:
    return f"2025-03-01T{hour:02d}:00:00Z,a,{job},nvidia-h100-sxm,{count},3600,{utilization},,,"


def test_duplicates_within_and_across_batches(state_url: str, tmp_path: Path) -> None:
    r1, r2, r3, r4, r5 = (_row(h) for h in range(1, 6))
    # batch 1: two files; r1 repeats in the first file, r2 in the second
    a = _csv(tmp_path / "a.csv", [r1, r2, r1, r3])
    b = _csv(tmp_path / "b.csv", [r2, r4])
    first = run_monitor([a, b], state_url=state_url)
    assert (first.rows_read, first.rows_accepted, first.rows_duplicate) == (6, 4, 2)
    assert [(Path(r.file).name, r.row, r.reason) for r in first.rejects] == [
        ("a.csv", 4, HERE),  # line 4 repeats line 2 (the header is line 1)
        ("b.csv", 2, HERE),  # repeats a.csv line 3: the earlier file comes first
    ]
    # batch 2: r1 and r4 were processed in batch 1, r5 comes twice
    c = _csv(tmp_path / "c.csv", [r5, r1, r5, r4])
    second = run_monitor([c], state_url=state_url)
    assert (second.rows_read, second.rows_accepted, second.rows_duplicate) == (4, 1, 3)
    assert [(r.row, r.reason) for r in second.rejects] == [(3, EARLIER), (4, HERE), (5, EARLIER)]
    # the totals are those of the five distinct rows
    distinct = aggregate([_csv(tmp_path / "d.csv", [r1, r2, r3, r4, r5])])
    for state in _state(state_url):
        assert state.days().equals(distinct.days)
        assert state.capacity().equals(distinct.capacity)
        with state.engine.connect() as conn:
            stored = conn.execute(select(state_module.seen_rows)).all()
        assert len(stored) == 5
        assert sorted(r.batch_id for r in stored) == [1, 1, 1, 1, 2]
    # a third delivery of everything adds nothing
    third = run_monitor([a, b, c], state_url=state_url)
    assert third.rows_accepted == 0 and third.rows_duplicate == 10
    assert {r.reason for r in third.rejects} == {EARLIER}


@pytest.mark.parametrize("order", ["finer-first", "coarser-first"])
def test_the_first_occurrence_is_the_one_counted(tmp_path: Path, order: str) -> None:
    # the fingerprint rounds utilisation to a millionth: these two rows are one record, but
    # their operations differ, so the totals show which one was kept
    finer, coarser = _row(1, utilization="0.5000001"), _row(1, utilization="0.5")
    lines = [finer, coarser] if order == "finer-first" else [coarser, finer]
    both = _csv(tmp_path / "both.csv", lines)
    kept = aggregate([both], seen=lambda fps: set())
    alone = aggregate([_csv(tmp_path / "first.csv", lines[:1])])
    other = aggregate([_csv(tmp_path / "second.csv", lines[1:])])
    assert not alone.days.equals(other.days)  # the test can tell the two rows apart
    assert kept.days.equals(alone.days)
    assert kept.capacity.equals(alone.capacity)
    assert [(r.row, r.reason) for r in kept.rejects] == [(3, HERE)]
    # across files: the earlier file's row wins, whatever the rows' order within the files
    one, two = _csv(tmp_path / "one.csv", lines[1:]), _csv(tmp_path / "two.csv", lines[:1])
    across = aggregate([one, two], seen=lambda fps: set())
    assert across.days.equals(other.days)
    assert [(Path(r.file).name, r.row) for r in across.rejects] == [("two.csv", 2)]


def _days(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return canonical_days(pl.DataFrame(rows, schema=DAYS_SCHEMA, orient="row"))


def _capacity(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return canonical_capacity(pl.DataFrame(rows, schema=CAPACITY_SCHEMA, orient="row"))


def test_the_database_merges_totals_as_merge_days_does(state_url: str) -> None:
    """Sums, the earliest start, the latest end, the largest parent job and network figure with
    nulls ignored and text compared byte by byte (``é`` sorts after ``z``), whatever the
    database's collation."""
    first = Aggregates(
        days=_days(
            [
                ("a", "j", 1, 2, 10, 20, 30, 0, 7, 100, 200, None),
                ("a", "k", 1, 1, 1, 1, 1, 1, 1, 50, 60, "z-base"),
                ("a", "m", 2, 1, 1, 1, 1, 1, 1, 50, 60, "base"),
                ("b", "j", 1, 1, 5, 5, 5, 5, 5, 10, 20, "p"),
            ]
        ),
        capacity=_capacity([("a", 1, 10, 100, None), ("a", 2, 5, 50, 3.5), ("b", 1, 1, 1, 2.0)]),
        new_fingerprints=["0" * 32, "1" * 32],
    )
    second = Aggregates(
        days=_days(
            [
                ("a", "j", 1, 3, 1, 2, 3, 4, 5, 90, 150, "parent"),
                ("a", "k", 1, 1, 1, 1, 1, 1, 1, 40, 70, "é-base"),
                ("a", "m", 2, 1, 1, 1, 1, 1, 1, 55, 65, None),
                ("c", "x", 9, 1, 2, 3, 4, 5, 6, 7, 8, None),
            ]
        ),
        capacity=_capacity(
            [("a", 1, 1, 2, 4.25), ("a", 2, 1, 1, None), ("b", 1, 1, 1, 1.5), ("c", 3, 9, 9, None)]
        ),
        new_fingerprints=["2" * 32],
    )
    for state in _state(state_url):
        if state.engine.dialect.name == "postgresql":
            # a linguistic collation on the column, under which 'é' sorts before 'z'
            with state.engine.begin() as conn:
                icu = conn.exec_driver_sql(
                    "SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'"
                ).first()
                if icu is not None:
                    conn.exec_driver_sql(
                        "ALTER TABLE cloud_job_days ALTER COLUMN parent_job "
                        'TYPE VARCHAR(200) COLLATE "und-x-icu"'
                    )
        state.commit(first, ["first"])
        state.commit(second, ["second"])
        assert state.days().equals(merge_days([first.days, second.days]))
        assert state.capacity().equals(merge_capacity([first.capacity, second.capacity]))
        assert state.days().filter(pl.col("job") == "k")["parent_job"].to_list() == ["é-base"]
        assert state.seen(["0" * 32, "2" * 32, "3" * 32]) == {"0" * 32, "2" * 32}


def test_seen_looks_up_in_chunks(state_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "SQLITE_CHUNK", 7)
    stored = [f"{i:032x}" for i in range(0, 60, 2)]
    for state in _state(state_url):
        state.commit(
            Aggregates(days=_days([]), capacity=_capacity([]), new_fingerprints=stored), ["f"]
        )
        asked = [f"{i:032x}" for i in range(60)]
        assert state.seen(asked) == set(stored)
        assert state.seen([]) == set()


def test_an_unsupported_backend_is_refused_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = state_module.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setattr(engine.dialect, "name", "mysql")
    monkeypatch.setattr(state_module, "create_engine", lambda url, **kw: engine)
    with pytest.raises(ValueError, match="unsupported backend 'mysql'"):
        MonitorState("mysql://u@h/db")
    assert not (tmp_path / "x.db").exists()  # no table was created
