"""Cloud monitor benchmark, incremental runs: two batches through ``run_monitor`` with state.

Generates telemetry with ``benchmarks/cloud.py``'s ``generate`` (time order, Parquet) and cuts
it into two batches of N rows each:

- batch 1: rows ``[0, N)``;
- batch 2: N rows, of which ``--overlap`` (a fraction of N, default 10%) repeat the tail of
  batch 1 (a re-delivered export: "already processed in an earlier batch"), ``--repeat``
  (default 1%) repeat rows of batch 2 itself ("same record as an earlier row of this batch"),
  and the rest are new.

Both batches run through ``run_monitor`` (DuckDB engine) against one state database (a fresh
SQLite file unless ``--state-url`` is given), in a child process. For each batch it reports
rows/s (input rows / wall time of the ``run_monitor`` call) and the time split (wall and CPU
seconds; CPU time is the steadier figure on a shared machine): aggregation
(DuckDB, less the seen-row look-up), seen-row look-up (``MonitorState.seen``), commit
(``MonitorState.commit``: the batch line, the merges of the totals, the new fingerprints), reading
the totals back (``days``/``capacity``) and the alerts. Then it checks the result: the state's
totals must equal a stateless aggregation of the distinct rows, the alerts of batch 2 must equal
the stateless alerts over them, and the duplicate counts must be the ones built in.

    python benchmarks/cloud_state.py --rows 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cloud import generate
from common import peak_rss_mib, save


def make_batches(workdir: Path, rows: int, overlap: int, repeat: int, seed: int) -> dict[str, Any]:
    """Write batch1, batch2 and the distinct rows of both (the reference) as Parquet."""
    fresh = rows - overlap - repeat  # new rows in batch 2
    total = rows + fresh
    source = workdir / f"source-{total}-{seed}.parquet"
    if not source.exists():
        generate(source, total, chunk=max(100_000, total // 20), accounts=500, jobs=20_000,
                 seed=seed)  # fmt: skip
    table = pq.read_table(source)
    batch1 = table.slice(0, rows)
    new = table.slice(rows, fresh)
    # the repeats are spread over the new rows (every k-th), after their first copy
    step = max(1, fresh // max(1, repeat))
    repeats = new.take(pa.array([(i * step) % fresh for i in range(repeat)], pa.int64()))
    batch2 = pa.concat_tables([table.slice(rows - overlap, overlap), new, repeats])
    paths = {
        "batch1": workdir / f"batch1-{rows}.parquet",
        "batch2": workdir / f"batch2-{rows}.parquet",
        "reference": workdir / f"distinct-{rows}.parquet",
    }
    pq.write_table(batch1, paths["batch1"], row_group_size=1_000_000)
    pq.write_table(batch2, paths["batch2"], row_group_size=1_000_000)
    pq.write_table(table, paths["reference"], row_group_size=1_000_000)
    return {k: str(v) for k, v in paths.items()}


def _digest_alerts(alerts: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(alerts, sort_keys=True, default=str).encode()).hexdigest()


def run_child(paths: dict[str, str], state_url: str, out: str) -> None:
    """Child process: both batches through run_monitor with state, timed phase by phase."""
    from sluicegate.cloud import monitor
    from sluicegate.cloud.ingest import peak_table
    from sluicegate.cloud.state import MonitorState

    peak_table()  # load the catalogue and thresholds before timing (a fixed start-up cost)
    clock: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of the process (all threads): steadier when shared

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                clock[name] = clock.get(name, 0.0) + time.perf_counter() - started
                cpu[name] = cpu.get(name, 0.0) + time.process_time() - cpu_started

        return wrapper

    MonitorState.seen = timed("seen", MonitorState.seen)  # type: ignore[method-assign]
    MonitorState.commit = timed("commit", MonitorState.commit)  # type: ignore[method-assign]
    MonitorState.days = timed("read_totals", MonitorState.days)  # type: ignore[method-assign]
    MonitorState.capacity = timed("read_totals", MonitorState.capacity)  # type: ignore[method-assign]
    monitor.aggregate = timed("aggregate", monitor.aggregate)  # type: ignore[attr-defined]
    monitor.compute_alerts = timed("alerts", monitor.compute_alerts)  # type: ignore[attr-defined]
    import sluicegate.cloud.state as state_module

    state_module.MonitorState = timed("open_state", MonitorState)  # type: ignore[misc]

    figures: dict[str, Any] = {}
    for name in ("batch1", "batch2"):
        clock.clear()
        cpu.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = monitor.run_monitor([paths[name]], state_url=state_url)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        split, cpu_split = dict(clock), dict(cpu)
        for part, total in ((split, seconds), (cpu_split, cpu_seconds)):
            part["aggregate"] = part.get("aggregate", 0.0) - part.get("seen", 0.0)
            part["other"] = total - sum(part.values())
        figures[name] = {
            "rows": result.rows_read,
            "accepted": result.rows_accepted,
            "duplicates": result.rows_duplicate,
            "duplicates_earlier_batch": sum(
                r.reason.startswith("duplicate: already") for r in result.rejects
            ),
            "rejects": len(result.rejects),
            "seconds": seconds,
            "rows_per_s": result.rows_read / seconds,
            "split": split,
            "cpu_seconds": cpu_seconds,
            "cpu_split": cpu_split,
            "alerts": len(result.alerts),
            "alerts_sha256": _digest_alerts(result.alerts),
            "rejects_sha256": _digest_alerts([r.to_json() for r in result.rejects]),
        }
    state = state_module.MonitorState(state_url)
    days, capacity = state.days(), state.capacity()
    figures["peak_rss_mib"] = peak_rss_mib()
    figures["state_days_sha256"] = hashlib.sha256(days.write_csv().encode()).hexdigest()
    figures["state_capacity_sha256"] = hashlib.sha256(capacity.write_csv().encode()).hexdigest()
    # the reference: all distinct rows at once (duplicates within one batch are still dropped,
    # in case the generator repeated a row by chance)
    from sluicegate.cloud.alerts import compute_alerts
    from sluicegate.cloud.ingest import aggregate_duckdb

    whole = aggregate_duckdb([paths["reference"]], seen=lambda fps: set())
    alerts = compute_alerts(whole.days, whole.capacity, {})
    figures["distinct_rows"] = whole.rows_accepted
    figures["identical_to_stateless"] = bool(
        days.equals(whole.days)
        and capacity.equals(whole.capacity)
        and _digest_alerts(alerts) == figures["batch2"]["alerts_sha256"]
    )
    Path(out).write_text(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per batch")
    parser.add_argument("--overlap", type=float, default=0.10, help="of N, repeating batch 1")
    parser.add_argument("--repeat", type=float, default=0.01, help="of N, repeating batch 2")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--child", nargs=3, metavar=("PATHS_JSON", "STATE_URL", "OUT"))
    args = parser.parse_args()
    if args.child:
        paths_json, state_url, out = args.child
        run_child(json.loads(paths_json), state_url, out)
        return

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="sluice-cloud-state-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    overlap, repeat = int(args.rows * args.overlap), int(args.rows * args.repeat)
    paths = make_batches(workdir, args.rows, overlap, repeat, args.seed)
    db = workdir / f"state-{os.getpid()}.db"
    state_url = args.state_url or f"sqlite:///{db}"
    out = workdir / "result.json"
    subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(paths), state_url, str(out)],
        check=True,
        timeout=args.timeout,
    )
    figures = json.loads(out.read_text())
    phases = ["aggregate", "seen", "commit", "read_totals", "alerts", "other"]
    print(f"state: {'SQLite' if args.state_url is None else state_url}; "
          f"batch 2 repeats {overlap:,} rows of batch 1 and {repeat:,} of its own")  # fmt: skip
    print(f"{'batch':<8}{'rows':>12}{'dups':>10}{'seconds':>9}{'rows/s':>12}"
          + "".join(f"{p:>12}" for p in phases))  # fmt: skip
    for name in ("batch1", "batch2"):
        fig = figures[name]
        print(f"{name:<8}{fig['rows']:>12,}{fig['duplicates']:>10,}{fig['seconds']:>9.2f}"
              f"{fig['rows_per_s']:>12,.0f}"
              + "".join(f"{fig['split'].get(p, 0.0):>12.2f}" for p in phases))  # fmt: skip
        print(f"{'  cpu s':<30}{fig['cpu_seconds']:>9.2f}{'':>12}"
              + "".join(f"{fig['cpu_split'].get(p, 0.0):>12.2f}" for p in phases))  # fmt: skip
    # every row read is accepted once or reported as a duplicate (the generator may repeat a
    # row by chance, so the built-in repeats are a lower bound)
    b1, b2 = figures["batch1"], figures["batch2"]
    expected = (
        b1["duplicates"] + b2["duplicates"] == b1["rows"] + b2["rows"] - figures["distinct_rows"]
        and b2["duplicates_earlier_batch"] >= overlap
        and b2["duplicates"] >= overlap + repeat
    )
    print(f"duplicates as built in: {expected}")
    print(f"state equals a stateless run over the distinct rows: "
          f"{figures['identical_to_stateless']}")  # fmt: skip
    print(f"peak memory: {figures['peak_rss_mib']:,.0f} MiB")
    path = save(
        "cloud_state",
        {
            "rows_per_batch": args.rows,
            "overlap": overlap,
            "repeat": repeat,
            "state": "sqlite" if args.state_url is None else "url",
            **figures,
            "duplicates_as_built": expected,
            "cpus": os.cpu_count(),
        },
    )
    print(f"figures: {path}")
    if db.exists():
        db.unlink()
    if not args.keep and args.dir is None:
        for f in workdir.iterdir():
            f.unlink()
        workdir.rmdir()
    if not (expected and figures["identical_to_stateless"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
