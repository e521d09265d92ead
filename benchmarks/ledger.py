"""Ledger benchmark: reservations per second with 1 and 16 concurrent client processes on SQLite
and PostgreSQL, against a same-run baseline of plain single-row UPDATE transactions through the
same driver and engine settings (the ceiling), and a zero-overshoot check at the end.

Each client reserves single transactions (1 H100 each) for consignees drawn at random from 64,
eight of whose LPP pools start nearly full, so reservations race for the last room. Uses the real
rules engine when ``sluicegate.rules.decide_records`` exists, else the test stand-in. Bounded:
every phase runs for ``--seconds`` (default 3) and stops by itself.

The clock starts once every client process has connected and, for the reservation phases, has
decided each of the 64 transactions once against the committed balances (reads only), as a
long-running client would have: the rules engine remembers one-record evaluations
(``sluicegate.rules.memo``). Two more phases show what that is worth and what batching gives: 16
clients whose every transaction is new to the engine (a consignee name never seen before: same
pools, same decisions, no reuse), and 16 clients reserving ``--batch`` transactions per call.
Each phase also reports CPU milliseconds per operation of the client processes and of their
PostgreSQL server processes (read from /proc). Figures go to ``bench-results/ledger.json``.

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

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def _client_url(url: str, seed: int) -> str:
    """The URL a client connects with: on PostgreSQL tagged with an application name, so that
    the client can find its server processes and measure their CPU time."""
    if url.startswith("sqlite"):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name=sluice-bench-{os.getpid()}-{seed}"


class CpuMeter:
    """CPU seconds of this client process and of its PostgreSQL server processes (read from
    /proc: the server runs on this machine in the benchmark set-up), over the timed window."""

    def __init__(self, url: str) -> None:
        self.pids: list[int] = []
        if not url.startswith("sqlite"):
            import psycopg

            name = url.rpartition("application_name=")[2]
            plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(plain, autocommit=True) as connection:
                rows = connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
                ).fetchall()
            self.pids = [int(r[0]) for r in rows]
        self.start = self._read()

    def _read(self) -> tuple[float, float]:
        server = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    fields = handle.read().rpartition(")")[2].split()
                server += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                pass
        return time.process_time(), server

    def reset(self) -> None:
        self.start = self._read()

    def used(self) -> tuple[float, float]:
        now = self._read()
        return now[0] - self.start[0], now[1] - self.start[1]


def _baseline_client(url: str, seed: int, ready: Any, start: Any, until: Any, pipe: Any) -> None:
    url = _client_url(url, seed)
    engine = make_engine(url)
    rng = random.Random(seed)
    statement = text("UPDATE bench_counter SET n = n + 1 WHERE id = :id")
    with engine.connect() as warm:
        warm.rollback()
    meter = CpuMeter(url)
    ready.release()
    start.wait()
    meter.reset()
    deadline = until.value
    count = 0
    while time.time() < deadline:
        with engine.begin() as connection:
            connection.execute(statement, {"id": rng.randrange(CONSIGNEES)})
        count += 1
    pipe.send((count, time.time(), *meter.used()))
    engine.dispose()


BATCH = 1
DISTINCT = False


def warm_up(ledger: Ledger) -> None:
    """Before the clock starts: a client process decides each of the transactions it will send
    once, against the committed balances (reads only, nothing held), as a long-running client
    would have done already. The rules engine then remembers their evaluations
    (``sluicegate.rules.memo``); a reservation whose balances take another path than these is
    still decided in full inside the timed phase."""
    from sluicegate import rules

    if not hasattr(rules, "decide_records"):
        return
    book = ledger.quota_book()
    for consignee in range(CONSIGNEES):
        rules.decide_records([transaction(-1, consignee)], regime=REGIME, quota=book)


def _reserve_client(url: str, seed: int, ready: Any, start: Any, until: Any, pipe: Any) -> None:
    rng = random.Random(seed)
    url = _client_url(url, seed)
    with Ledger(url, actor=f"bench-{seed}") as ledger:
        warm_up(ledger)
        meter = CpuMeter(url)
        ready.release()
        start.wait()
        meter.reset()
        deadline = until.value
        count = 0
        while time.time() < deadline:
            batch = [transaction(count + i, rng.randrange(CONSIGNEES)) for i in range(BATCH)]
            if DISTINCT:
                # The same shipments, each with a consignee name never used before: the pools
                # (keyed by consignee id) and the decisions are those of the main phase, but the
                # engine has seen none of these transactions and decides each in full.
                for i, record in enumerate(batch):
                    record["consignee"]["name"] = f"distinct-{seed}-{count + i}"
            ledger.reserve(batch, regime=REGIME)
            count += BATCH
        used = meter.used()
    pipe.send((count, time.time(), *used))


class Phase:
    """What the clients of one timed phase did."""

    def __init__(self, results: list[tuple[int, float, float, float]], began: float) -> None:
        self.count = sum(r[0] for r in results)
        finished = max([began, *(r[1] for r in results)])
        self.rate = self.count / (finished - began)
        self.client_cpu_ms = 1e3 * sum(r[2] for r in results) / max(1, self.count)
        self.server_cpu_ms = 1e3 * sum(r[3] for r in results) / max(1, self.count)


def run_clients(target: Any, url: str, clients: int, seconds: float) -> Phase:
    start = CONTEXT.Event()
    ready = CONTEXT.Semaphore(0)
    until = CONTEXT.Value("d", 0.0)
    procs = []
    for seed in range(clients):
        parent, child = CONTEXT.Pipe(duplex=False)
        proc = CONTEXT.Process(target=target, args=(url, seed, ready, start, until, child))
        proc.start()
        procs.append((proc, parent))
    for _ in range(clients):  # every client connected (and warmed up) before the clock starts
        if not ready.acquire(timeout=300):
            raise RuntimeError("a benchmark client did not get ready")
    time.sleep(0.1)
    began = time.time()
    until.value = began + seconds
    start.set()
    results = []
    for proc, parent in procs:
        if not parent.poll(seconds + 120):
            raise RuntimeError("a benchmark client did not finish")
        results.append(parent.recv())
        proc.join(10)
    return Phase(results, began)


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
    parser.add_argument(
        "--distinct",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure 16 clients whose every transaction is one the engine has not seen",
    )
    args = parser.parse_args()
    global BATCH, DISTINCT
    clients = [int(c) for c in args.clients.split(",")]
    print(
        f"ledger benchmark — {engine_in_use()}; {args.seconds:g}s per phase, {os.cpu_count()} CPUs"
    )
    print("  (CPU: milliseconds per operation, client process / its PostgreSQL server process)")
    failures = 0
    rows = []
    figures: dict[str, Any] = {"seconds": args.seconds, "phases": []}
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
                target = TARGETS[backend.partition("-")[0]]
                base = None
                for n in clients:
                    base = run_clients(_baseline_client, url, n, args.seconds)
                    phase = run_clients(_reserve_client, url, n, args.seconds)
                    ok = phase.rate >= target
                    print(
                        f"  {n:>2} client(s): {phase.rate:8.0f} reservations/s | baseline "
                        f"{base.rate:8.0f} single-row updates/s | ratio {phase.rate / base.rate:5.2f}"
                        f" | target {target:.0f}/s {'met' if ok else 'NOT met'}"
                        f" | CPU {phase.client_cpu_ms:.2f}/{phase.server_cpu_ms:.2f} "
                        f"(baseline {base.client_cpu_ms:.2f}/{base.server_cpu_ms:.2f})"
                    )
                    rows.append((backend, n, phase.rate, base.rate))
                    figures["phases"].append(_figures(backend, n, "single", phase, base))
                assert base is not None
                extra = []
                if args.distinct:
                    extra.append(("every transaction new to the engine", 1, True))
                if args.batch > 1:
                    extra.append((f"{args.batch} transactions per reserve call", args.batch, False))
                for label, batch, distinct in extra:
                    BATCH, DISTINCT = batch, distinct  # read by the forked clients
                    phase = run_clients(_reserve_client, url, max(clients), args.seconds)
                    print(
                        f"  {max(clients):>2} client(s), {label}: {phase.rate:8.0f} "
                        f"reservations/s | ratio to baseline {phase.rate / base.rate:5.2f}"
                        f" | CPU {phase.client_cpu_ms:.2f}/{phase.server_cpu_ms:.2f}"
                    )
                    figures["phases"].append(_figures(backend, max(clients), label, phase, base))
                BATCH, DISTINCT = 1, False
                over, total, intact = overshoot_check(url)
                print(
                    f"    {total} reservations, overshoot/mismatched pools: {over}, "
                    f"chain intact: {intact}"
                )
                failures += over + (0 if intact else 1)
            finally:
                if cleanup:
                    cleanup()
    print("summary (backend, clients, reservations/s, baseline/s, ratio):")
    for backend, n, rate, base_rate in rows:
        print(f"  {backend},{n},{rate:.0f},{base_rate:.0f},{rate / base_rate:.2f}")
    from common import save

    print(f"figures: {save('ledger', figures)}")
    return 1 if failures else 0


def _figures(backend: str, clients: int, label: str, phase: Phase, base: Phase) -> dict[str, Any]:
    return {
        "backend": backend,
        "clients": clients,
        "phase": label,
        "reservations_per_s": round(phase.rate, 1),
        "baseline_updates_per_s": round(base.rate, 1),
        "ratio": round(phase.rate / base.rate, 3),
        "client_cpu_ms": round(phase.client_cpu_ms, 3),
        "server_cpu_ms": round(phase.server_cpu_ms, 3),
        "baseline_client_cpu_ms": round(base.client_cpu_ms, 3),
        "baseline_server_cpu_ms": round(base.server_cpu_ms, 3),
    }


if __name__ == "__main__":
    sys.exit(main())
