"""Benchmark of the rules engine (issue: rules engine; ARCHITECTURE performance table).

Generates N mixed transactions (chips, destinations, consignees, dates from 2022-10 to 2027-06
across every regime; quotas active under the AI Diffusion what-if) and measures, in one process:

* the batch engine behind ``sluice decide-batch`` (``decide_frame``): decisions/s, peak memory;
* the baseline: the same public API called once per transaction (``decide_records([txn])``), timed
  on a sample and reported per transaction;
* one explained decision (trace included), in process: p50 / p99 latency;
* ``decide-batch`` end to end on a Parquet file (read, decide, write).

Usage: python benchmarks/rules.py [--rows 1000000] [--baseline-sample 3000]
Targets (2 cores): >= 1,000,000 decisions/s batch, >= 50x the per-transaction loop, p99 <= 2 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import peak_rss_mib, percentile, save, timed
from sluicegate.rules import decide_frame, decide_records

DIFFUSION = "us-2025-01-13-ai-diffusion"
CHIPS = [
    "nvidia-h100-sxm",
    "nvidia-h20",
    "nvidia-a100",
    "nvidia-a800",
    "nvidia-rtx-4090",
    "nvidia-b200",
    "amd-mi300x",
    "nvidia-l4",
    "nvidia-h200",
    "amd-mi325x",
    "intel-gaudi-3",
    "nvidia-l40s",
]
DESTINATIONS = [
    "IN",
    "CN",
    "DE",
    "AE",
    "SG",
    "JP",
    "MY",
    "SA",
    "BR",
    "VN",
    "US",
    "GB",
    "RU",
    "MO",
    "IL",
    "TW",
    "HK",
    "MX",
    "PL",
    "CH",
    "ID",
    "TR",
    "KR",
    "FR",
    "NI",
    "KH",
]


def generate(rows: int, seed: int = 20261126) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-10-07")
    span = int((np.datetime64("2027-06-30") - start).astype(int))
    dest = np.array(DESTINATIONS)[rng.integers(0, len(DESTINATIONS), rows)]
    hq = np.where(
        rng.random(rows) < 0.8,
        dest,
        np.array(DESTINATIONS)[rng.integers(0, len(DESTINATIONS), rows)],
    )
    parent = np.where(
        rng.random(rows) < 0.9, hq, np.array(["US", "CN", "JP"])[rng.integers(0, 3, rows)]
    )
    auth = np.array(["", "", "", "", "", "", "", "", "NVEU", "UVEU"])[rng.integers(0, 10, rows)]
    return pl.DataFrame(
        {
            "id": [f"o{i}" for i in range(rows)],
            "date": (start + rng.integers(0, span, rows)).astype(str),
            "destination": dest,
            "chip": np.array(CHIPS)[rng.integers(0, len(CHIPS), rows)],
            "quantity": rng.integers(1, 2000, rows),
            "consignee_id": np.char.add("c", rng.integers(0, 50_000, rows).astype(str)),
            "consignee_headquarters": hq,
            "consignee_ultimate_parent_headquarters": parent,
            "consignee_authorizations": auth,
            "end_use": np.array(["datacenter", "other", "development", "training"])[
                rng.integers(0, 4, rows)
            ],
        }
    )


def as_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "date": row["date"],
        "destination": row["destination"],
        "item": {"chip": row["chip"]},
        "quantity": row["quantity"],
        "end_use": row["end_use"],
        "consignee": {
            "id": row["consignee_id"],
            "headquarters": row["consignee_headquarters"],
            "ultimate_parent_headquarters": row["consignee_ultimate_parent_headquarters"],
            "authorizations": [a for a in [row["consignee_authorizations"]] if a],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-sample", type=int, default=3000)
    parser.add_argument("--latency-samples", type=int, default=3000)
    args = parser.parse_args()

    frame, gen_s = timed(generate, args.rows)
    print(f"generated {args.rows:,} transactions in {gen_s:.2f} s")
    decide_frame(frame.head(1000), regime=DIFFUSION)  # warm caches (regime files, catalogue)

    figures: dict[str, Any] = {"rows": args.rows}
    for label, regime in (("as_of_date", None), ("diffusion_what_if_with_quotas", DIFFUSION)):
        best = float("inf")
        for _ in range(2):
            out, seconds = timed(decide_frame, frame, regime=regime)
            best = min(best, seconds)
        counts = dict(out.group_by("authorization").len().iter_rows())
        rate = args.rows / best
        figures[label] = {
            "seconds": round(best, 3),
            "decisions_per_s": round(rate),
            "authorizations": counts,
            "quota_rows": int(out["quota_pool"].is_not_null().sum()),
        }
        print(f"batch engine [{label}]: {best:.2f} s -> {rate:,.0f} decisions/s; {counts}")

    sample = [as_record(r) for r in frame.head(args.baseline_sample).iter_rows(named=True)]
    start = time.perf_counter()
    for record in sample:
        decide_records([record], regime=DIFFUSION, trace=False)
    per_txn = (time.perf_counter() - start) / len(sample)
    loop_rate = 1 / per_txn
    batch_rate = figures["diffusion_what_if_with_quotas"]["decisions_per_s"]
    figures["baseline_per_transaction_loop"] = {
        "sample": len(sample),
        "decisions_per_s": round(loop_rate),
        "ratio_batch_over_loop": round(batch_rate / loop_rate, 1),
    }
    print(
        f"baseline (same API once per transaction, {len(sample):,} sampled): {loop_rate:,.0f} "
        f"decisions/s -> batch is {batch_rate / loop_rate:,.1f}x"
    )

    latencies = []
    for record in sample[: args.latency_samples]:
        t = time.perf_counter()
        decide_records([record], trace=True)
        latencies.append((time.perf_counter() - t) * 1000)
    figures["explained_decision_ms"] = {
        "p50": round(percentile(latencies, 50), 3),
        "p99": round(percentile(latencies, 99), 3),
        "samples": len(latencies),
    }
    print(
        f"one explained decision in process: p50 {percentile(latencies, 50):.2f} ms, "
        f"p99 {percentile(latencies, 99):.2f} ms"
    )

    from sluicegate.cli import _batch_command

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "orders.parquet", Path(tmp) / "decisions.parquet"
        frame.write_parquet(src)
        code, seconds = timed(_batch_command, src, dst, DIFFUSION, None, False)
        figures["decide_batch_end_to_end"] = {
            "seconds": round(seconds, 3),
            "exit_code": code,
            "rows_per_s": round(args.rows / seconds),
        }
        print(
            f"decide-batch end to end (Parquet in/out): {seconds:.2f} s -> {args.rows / seconds:,.0f} rows/s"
        )
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)
    print(f"peak memory (RSS): {figures['peak_rss_mib']:,.0f} MiB")
    print(f"results: {save('rules', figures)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
