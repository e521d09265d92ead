"""Ledger benchmark: reservations per second with 1 and 16 concurrent client processes on SQLite
and PostgreSQL, against a same-run baseline of plain single-row UPDATE transactions through the
same driver and engine settings (the ceiling), and a zero-overshoot check at the end.

Each client reserves single transactions (1 H100 each) for consignees drawn at random from 64,
eight of whose LPP pools start nearly full, so reservations race for the last room. Uses the real
rules engine when ``sluicegate.rules.decide_records`` exists, else the test stand-in. Bounded:
every phase runs for ``--seconds`` (default 3) and stops by itself.

    python benchmarks/ledger.py [--seconds 3] [--clients 1,16] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from sluicegate.ledger import Ledger
from sluicegate.ledger.database import make_engine
from sluicegate.ledger.schema import draws, pools, reservations

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "SLUICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REGIME = "us-2025-01-13-ai-diffusion"
CONSIGNEES = 64
NEARLY_FULL = 8
CONTEXT = multiprocessing.get_context("fork")
TARGETS = {"sqlite": 1000.0, "postgresql": 2000.0}


def engine_in_use() -> str:
    from sluicegate import rules

    if hasattr(rules, "decide_records") and os.environ.get("SLUICE_LEDGER_STAND_IN") != "1":
        return "real rules engine"
    spec = importlib.util.spec_from_file_location(
        "ledger_stand_in", ROOT / "tests" / "ledger" / "ledger_stand_in.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rules.decide_records = module.decide_records  # type: ignore[attr-defined]
    return "test stand-in engine (sluicegate.rules.decide_records not installed)"


def transaction(k: int, consignee: int) -> dict[str, Any]:
    return {
        "id": f"b-{k}",
        "date": "2025-06-01",
        "destination": "IN",
        "item": {"chip": "nvidia-h100-sxm"},
        "quantity": 1,
        "consignee": {"id": f"bench-{consignee}", "country": "IN"},
        "end_use": "datacenter",
    }


def _baseline_client(url: str, seed: int, start: Any, until: Any, pipe: Any) -> None:
    engine = make_engine(url)
    rng = random.Random(seed)
    statement = text("UPDATE bench_counter SET n = n + 1 WHERE id = :id")
    with engine.connect() as warm:
        warm.rollback()
    start.wait()
    deadline = until.value
    count = 0
    while time.time() < deadline:
        with engine.begin() as connection:
            connection.execute(statement, {"id": rng.randrange(CONSIGNEES)})
        count += 1
    pipe.send((count, time.time()))
    engine.dispose()


BATCH = 1


def _reserve_client(url: str, seed: int, start: Any, until: Any, pipe: Any) -> None:
    rng = random.Random(seed)
    with Ledger(url, actor=f"bench-{seed}") as ledger:
        start.wait()
        deadline = until.value
        count = 0
        while time.time() < deadline:
            batch = [transaction(count + i, rng.randrange(CONSIGNEES)) for i in range(BATCH)]
            ledger.reserve(batch, regime=REGIME)
            count += BATCH
    pipe.send((count, time.time()))


def run_clients(target: Any, url: str, clients: int, seconds: float) -> float:
    start = CONTEXT.Event()
    until = CONTEXT.Value("d", 0.0)
    procs = []
    for seed in range(clients):
        parent, child = CONTEXT.Pipe(duplex=False)
        proc = CONTEXT.Process(target=target, args=(url, seed, start, until, child))
        proc.start()
        procs.append((proc, parent))
    time.sleep(0.3 + 0.05 * clients)  # let every client connect first
    began = time.time()
    until.value = began + seconds
    start.set()
    total, finished = 0, began
    for proc, parent in procs:
        if not parent.poll(seconds + 120):
            raise RuntimeError("a benchmark client did not finish")
        count, end = parent.recv()
        total += count
        finished = max(finished, end)
        proc.join(10)
    return total / (finished - began)


def prepare(url: str) -> None:
    with Ledger(url, actor="bench-setup") as ledger:
        # Eight pools start 5 H100 short of the 26.9M TPP LPP limit (1,699 H100 per year).
        ledger.reserve(
            [dict(transaction(-1 - c, c), quantity=1694) for c in range(NEARLY_FULL)],
            regime=REGIME,
        )
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, n BIGINT)"))
        connection.execute(
            text("INSERT INTO bench_counter (id, n) VALUES (:id, 0)"),
            [{"id": i} for i in range(CONSIGNEES)],
        )
    engine.dispose()


def overshoot_check(url: str) -> tuple[int, int, bool]:
    """(pools over their limit, reservations, audit chain intact)."""
    with Ledger(url, create=False) as ledger:
        with ledger.engine.connect() as connection:
            over = connection.execute(
                select(func.count())
                .select_from(pools)
                .where(pools.c.kind != "aia-reporting", pools.c.used > pools.c.limit_tpp + 1e-6)
            ).scalar_one()
            mismatched = 0
            held = dict(
                connection.execute(
                    select(draws.c.pool, func.sum(draws.c.amount))
                    .join(reservations, reservations.c.id == draws.c.reservation_id)
                    .where(reservations.c.state != "released")
                    .group_by(draws.c.pool)
                ).all()
            )
            for key, used in connection.execute(select(pools.c.key, pools.c.used)):
                if abs(float(used) - float(held.get(key, 0.0))) > 1e-6:
                    mismatched += 1
            n = connection.execute(select(func.count()).select_from(reservations)).scalar_one()
        started = time.perf_counter()
        report = ledger.verify_audit()
        took = time.perf_counter() - started
        print(f"    audit verify: {report.records} records in {took:.2f}s, intact={report.intact}")
    return int(over) + mismatched, int(n), report.intact


def backend_url(backend: str, workdir: Path) -> tuple[str, Any]:
    if backend.startswith("sqlite"):
        # sqlite-full / sqlite-normal: PRAGMA synchronous for this run (ledger and baseline).
        mode = backend.partition("-")[2].upper()
        if mode:
            os.environ["SLUICE_SQLITE_SYNCHRONOUS"] = mode
        else:
            os.environ.pop("SLUICE_SQLITE_SYNCHRONOUS", None)
        return f"sqlite:///{workdir / (backend + '.db')}", None
    import psycopg

    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = f"sg_ledger_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument(
        "--backends",
        default="sqlite,sqlite-full,postgresql",
        help="sqlite (settings default, synchronous=NORMAL), sqlite-full, postgresql",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=10,
        help="also measure 16 clients reserving this many transactions per call (0: skip)",
    )
    args = parser.parse_args()
    global BATCH
    clients = [int(c) for c in args.clients.split(",")]
    print(
        f"ledger benchmark — {engine_in_use()}; {args.seconds:g}s per phase, {os.cpu_count()} CPUs"
    )
    failures = 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            try:
                url, cleanup = backend_url(backend, Path(tmp))
            except Exception as exc:
                print(f"{backend}: skipped ({exc})")
                continue
            try:
                prepare(url)
                print(f"{backend}:")
                for n in clients:
                    base = run_clients(_baseline_client, url, n, args.seconds)
                    rate = run_clients(_reserve_client, url, n, args.seconds)
                    target = TARGETS[backend.partition("-")[0]]
                    ok = rate >= target
                    print(
                        f"  {n:>2} client(s): {rate:8.0f} reservations/s | baseline "
                        f"{base:8.0f} single-row updates/s | ratio {rate / base:5.2f} | "
                        f"target {target:.0f}/s {'met' if ok else 'NOT met'}"
                    )
                    rows.append((backend, n, rate, base))
                if args.batch > 1:
                    BATCH = args.batch
                    rate = run_clients(_reserve_client, url, max(clients), args.seconds)
                    BATCH = 1
                    print(
                        f"  {max(clients):>2} client(s), {args.batch} transactions per reserve "
                        f"call: {rate:8.0f} reservations/s | ratio to baseline {rate / base:5.2f}"
                    )
                over, total, intact = overshoot_check(url)
                print(
                    f"    {total} reservations, overshoot/mismatched pools: {over}, chain intact: {intact}"
                )
                failures += over + (0 if intact else 1)
            finally:
                if cleanup:
                    cleanup()
    print("summary (backend, clients, reservations/s, baseline/s, ratio):")
    for backend, n, rate, base in rows:
        print(f"  {backend},{n},{rate:.0f},{base:.0f},{rate / base:.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
