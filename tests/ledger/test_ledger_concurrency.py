"""Real processes against one database, on SQLite and PostgreSQL:

* 32 processes reserve at once against a nearly full LPP pool: the pool never holds more than its
  limit, exactly the room left is granted, every request gets a definite answer, and the audit
  chain stays linear;
* a process reserving in a stream is SIGKILLed mid-stream: after restart every acknowledged
  reservation is there, nothing is half-applied, the chain verifies, and a retry of the
  in-flight request with its idempotency key counts once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

from ledger_helpers import H100_TPP, LPP_LIMIT, REGIME, lpp_pool, pool_entry, txn
from sqlalchemy import func, select

from sluicegate.ledger import Ledger
from sluicegate.ledger.schema import audit_log, draws, pools, requests, reservations

PROCESSES = 32
PER_PROCESS = 2
CONTEXT = multiprocessing.get_context("fork")  # children inherit the (stand-in) engine patch


def _reserver(url: str, index: int, start: Any, pipe: Any) -> None:
    try:
        with Ledger(url, actor=f"worker-{index}") as ledger:
            start.wait(30)
            answers = []
            for k in range(PER_PROCESS):
                [decision] = ledger.reserve([txn(f"w{index}-{k}", 1)], regime=REGIME)
                answers.append(
                    (decision["authorization"], decision["reservation"]["id"], decision["quota"])
                )
        pipe.send(("ok", answers))
    except BaseException as exc:
        pipe.send(("error", repr(exc)))


def test_32_processes_never_overshoot_a_nearly_full_pool(ledger: Ledger) -> None:
    ledger.reserve([txn("fill", 1689)], regime=REGIME)
    room = LPP_LIMIT - 1689 * H100_TPP
    expected_grants = int(room // H100_TPP)  # 10
    start = CONTEXT.Event()
    workers = []
    for index in range(PROCESSES):
        parent, child = CONTEXT.Pipe(duplex=False)
        process = CONTEXT.Process(target=_reserver, args=(ledger.url, index, start, child))
        process.start()
        workers.append((process, parent))
    time.sleep(0.5)
    start.set()
    answers = []
    for process, parent in workers:
        assert parent.poll(120), "a worker gave no answer"
        status, payload = parent.recv()
        assert status == "ok", payload
        answers.extend(payload)
        process.join(30)
    assert len(answers) == PROCESSES * PER_PROCESS  # every request got a definite answer
    granted = [a for a in answers if a[0] == "LPP"]
    assert len(granted) == expected_grants
    assert all(a[0] for a in answers)
    entry = pool_entry(ledger.balance(), lpp_pool())
    assert entry["used"] == (1689 + expected_grants) * H100_TPP <= LPP_LIMIT
    # The engine saw each grant on top of all earlier ones: used_before values are distinct.
    befores = sorted(a[2]["used_before"] for a in granted)
    assert len(set(befores)) == expected_grants
    report = ledger.verify_audit()
    assert report.intact, report.problems
    assert report.records == 1 + PROCESSES * PER_PROCESS


def _streamer(url: str, pipe: Any) -> None:
    with Ledger(url, actor="streamer") as ledger:
        k = 0
        while True:
            [decision] = ledger.reserve(
                [txn(f"s-{k}", 1, consignee=f"c{k % 4}")], regime=REGIME, idempotency_key=f"s-{k}"
            )
            pipe.send((k, decision["reservation"]["id"]))
            k += 1


def test_sigkill_mid_stream_loses_nothing_acknowledged(ledger: Ledger) -> None:
    parent, child = CONTEXT.Pipe(duplex=False)
    process = CONTEXT.Process(target=_streamer, args=(ledger.url, child))
    process.start()
    child.close()
    acknowledged: dict[int, str] = {}
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        if parent.poll(1):
            k, rid = parent.recv()
            acknowledged[k] = rid
    os.kill(process.pid, signal.SIGKILL)  # most likely inside a transaction
    process.join(10)
    while parent.poll(0.2):
        try:
            k, rid = parent.recv()
        except (EOFError, OSError):
            break
        acknowledged[k] = rid
    assert len(acknowledged) >= 40

    with Ledger(ledger.url, actor="after-restart") as restarted:
        with restarted.engine.connect() as connection:
            rows = {
                r.id: r for r in connection.execute(select(reservations.c.id, reservations.c.state))
            }
            n_draws = connection.execute(select(func.count()).select_from(draws)).scalar_one()
            n_requests = connection.execute(select(func.count()).select_from(requests)).scalar_one()
            n_events = connection.execute(
                select(func.count()).select_from(audit_log).where(audit_log.c.kind == "reserve")
            ).scalar_one()
            used = connection.execute(select(func.sum(pools.c.used))).scalar_one()
            drawn = connection.execute(select(func.sum(draws.c.amount))).scalar_one()
        for rid in acknowledged.values():
            assert rid in rows and rows[rid].state == "held"
        # Nothing half-applied: every committed reservation has its draw, its request record
        # and its audit record, and the pools hold exactly the sum of the draws.
        assert len(rows) == n_draws == n_requests == n_events
        assert len(rows) in (len(acknowledged), len(acknowledged) + 1)
        assert used == drawn == len(rows) * H100_TPP
        report = restarted.verify_audit()
        assert report.intact, report.problems
        # Retrying the request in flight at the kill counts it once, whether or not it committed.
        in_flight = max(acknowledged) + 1
        retry = txn(f"s-{in_flight}", 1, consignee=f"c{in_flight % 4}")
        first = restarted.reserve([retry], regime=REGIME, idempotency_key=f"s-{in_flight}")
        again = restarted.reserve([retry], regime=REGIME, idempotency_key=f"s-{in_flight}")
        assert first == again
        assert len(restarted.history(kind="reserve")) == max(len(rows), in_flight + 1)
        assert restarted.verify_audit().intact


def _same_key(url: str, start: Any, pipe: Any) -> None:
    try:
        with Ledger(url, actor="retrier") as ledger:
            start.wait(30)
            [decision] = ledger.reserve([txn("dup", 7)], regime=REGIME, idempotency_key="dup-1")
        pipe.send(("ok", decision))
    except BaseException as exc:
        pipe.send(("error", repr(exc)))


def test_concurrent_retries_with_one_idempotency_key_count_once(ledger: Ledger) -> None:
    start = CONTEXT.Event()
    workers = []
    for _ in range(8):
        parent, child = CONTEXT.Pipe(duplex=False)
        process = CONTEXT.Process(target=_same_key, args=(ledger.url, start, child))
        process.start()
        workers.append((process, parent))
    time.sleep(0.3)
    start.set()
    answers = []
    for process, parent in workers:
        assert parent.poll(60)
        status, payload = parent.recv()
        assert status == "ok", payload
        answers.append(payload)
        process.join(10)
    assert all(answer == answers[0] for answer in answers)
    assert pool_entry(ledger.balance(), lpp_pool())["used"] == 7 * H100_TPP
    assert len(ledger.history(kind="reserve")) == 1


def _writer(url: str, stop: Any) -> None:
    with Ledger(url, actor="writer") as ledger:
        k = 0
        while not stop.is_set():
            ledger.reserve([txn(f"v-{k}", 1, consignee=f"v{k % 3}")], regime=REGIME)
            k += 1


def test_verify_sees_one_consistent_snapshot_while_others_write(ledger: Ledger) -> None:
    ledger.reserve([txn("first", 1)], regime=REGIME)
    stop = CONTEXT.Event()
    writers = [CONTEXT.Process(target=_writer, args=(ledger.url, stop)) for _ in range(2)]
    for process in writers:
        process.start()
    try:
        # Wait until the writers are writing (on a loaded machine forking and warming up can
        # take longer than any fixed sleep), so that every verify below races real writes.
        deadline = time.monotonic() + 60
        while ledger.verify_audit().records <= 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(5):
            report = ledger.verify_audit()
            assert report.intact, report.problems
            balance = ledger.balance()
            assert all(p["used"] <= p["limit"] for p in balance["pools"] if p["limit"])
    finally:
        stop.set()
        for process in writers:
            process.join(30)
    assert ledger.verify_audit().records > 5


def test_a_ledger_object_inherited_by_forked_children_still_never_overshoots(
    ledger: Ledger,
) -> None:
    ledger.reserve([txn("fill", 1694)], regime=REGIME)  # room for 5 more H100
    ledger.balance()  # the parent has used its connections before forking

    def child(pipe: Any) -> None:
        try:
            [decision] = ledger.reserve([txn("kid", 1)], regime=REGIME)
            pipe.send(decision["authorization"])
        except BaseException as exc:
            pipe.send(repr(exc))

    pipes = []
    for _ in range(12):
        parent, child_end = CONTEXT.Pipe(duplex=False)
        CONTEXT.Process(target=child, args=(child_end,)).start()
        pipes.append(parent)
    answers = [p.recv() if p.poll(60) else "no answer" for p in pipes]
    assert answers.count("LPP") == 5, answers
    assert pool_entry(ledger.balance(), lpp_pool())["used"] <= LPP_LIMIT
    assert ledger.verify_audit().intact
