"""The tamper-evident audit log: a SHA-256 hash chain over every decision and ledger event.

Each record carries a gap-free sequence number, the time, the actor, the event as canonical JSON,
the regime id and content hash, the reform hash and the software version; its hash covers all of
those and the previous record's hash. Appends happen inside the caller's locked transaction
after locking the single ``audit_head`` row, so concurrent writers produce one linear chain.
``verify`` recomputes the chain and reports the first record that is modified, missing,
inserted or out of order; it also replays the ledger events and compares them with the pools
table. ``core`` appends; ``commands`` exposes ``sluice audit verify|export``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from sluicegate import __version__
from sluicegate.ledger import sql
from sluicegate.ledger.schema import GENESIS_HASH, audit_head, audit_log, pools

EXPORT_FIELDS = [
    "seq",
    "recorded_at",
    "kind",
    "actor",
    "reservation_id",
    "consignee",
    "event",
    "regime_id",
    "regime_hash",
    "reform_hash",
    "software_version",
    "prev_hash",
    "hash",
]


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot put {type(value).__name__} into the audit log")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text, no NaN.

    The definition is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)`` (anyone can recompute it from an export). Plain values
    — only dicts with string keys, lists, strings, booleans, None, integers within 64 bits and
    floats written without an exponent (zero, or 1e-4 <= |x| < 1e16) — are rendered by orjson,
    about ten times faster, whose output for exactly those values is the same text
    (``tests/ledger/test_canonical_json.py`` checks it); everything else takes ``json.dumps``."""
    if _orjson is not None:
        try:
            if _plain(value):
                return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS).decode("utf-8")
        except (RecursionError, TypeError, ValueError):
            pass  # deep, cyclic or unusual: the reference encoder decides (and raises)
    return reference_json(value)


def reference_json(value: Any) -> str:
    """``canonical_json`` by the standard library encoder: the definition."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _orjson = None

_INT_MIN, _INT_MAX = -(2**63), 2**64


def _plain(value: Any) -> bool:
    """True when ``value`` holds only the plain types on which orjson and ``json.dumps`` agree
    (exact types: subclasses, tuples, numpy scalars and the like are not plain)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            t = type(item)
            if t is str or t is bool or item is None:
                continue
            if not _plain(item):
                return False
        return True
    if kind is list:
        for item in value:
            t = type(item)
            if t is str or t is bool or item is None:
                continue
            if not _plain(item):
                return False
        return True
    if kind is int:
        return _INT_MIN <= value < _INT_MAX
    if kind is float:
        return value == 0.0 or 1e-4 <= abs(value) < 1e16
    return False


HASHED_FIELDS = [
    "seq",
    "recorded_at",
    "kind",
    "actor",
    "reservation_id",
    "consignee",
    "regime_id",
    "regime_hash",
    "reform_hash",
    "software_version",
]


def record_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """SHA-256 over the previous hash, the canonical JSON of the record's fields and the event's
    canonical JSON text exactly as stored (so any edit of the stored event breaks the hash)."""
    envelope = canonical_json({k: record.get(k) for k in HASHED_FIELDS})
    event = record["event"]
    if not isinstance(event, str):
        event = canonical_json(event)
    payload = prev_hash + "\n" + envelope + "\n" + event
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class AuditEntry:
    """One event to append (the chain fields are filled by ``append``)."""

    kind: str
    event: dict[str, Any] | str  # an object, or its canonical JSON text
    actor: str
    reservation_id: str | None = None
    consignee: str | None = None
    regime_id: str | None = None
    regime_hash: str | None = None
    reform_hash: str | None = None


def append(
    connection: Connection,
    entries: list[AuditEntry],
    recorded_at: str | None = None,
    *,
    need_seq: bool = True,
) -> int:
    """Append entries to the chain inside the caller's transaction; returns the new head seq
    (-1 with ``need_seq=False`` on PostgreSQL: the append is then not waited for, so in pipeline
    mode it travels with the COMMIT and the head lock is held for no client round trip).

    Locks the head row (PostgreSQL ``FOR UPDATE``; on SQLite the transaction already holds the
    write lock), so the sequence stays gap-free and the chain linear under concurrent writers.
    Call it last in a transaction to keep the lock short."""
    if not entries:
        return -1
    if connection.dialect.name == "postgresql":
        return _append_postgresql(connection, entries, recorded_at or now_iso(), need_seq)
    head = sql.run(connection, "head_lock").fetchone()
    seq, prev = int(head[0]), str(head[1])
    stamp = recorded_at or now_iso()
    rows = []
    for entry in entries:
        seq += 1
        record = {"seq": seq, **_fields(entry, stamp)}
        record["prev_hash"] = prev
        record["hash"] = prev = record_hash(prev, record)
        rows.append(record)
    sql.run(connection, "audit_insert", rows if len(rows) > 1 else rows[0])
    sql.run(connection, "head_move", {"seq": seq, "hash": prev})
    return seq


def _fields(entry: AuditEntry, stamp: str) -> dict[str, Any]:
    """A record's stored fields but ``seq``, ``prev_hash`` and ``hash`` (both backends)."""
    return {
        "recorded_at": stamp,
        "kind": entry.kind,
        "actor": entry.actor,
        "reservation_id": entry.reservation_id,
        "consignee": entry.consignee,
        "event": entry.event if isinstance(entry.event, str) else canonical_json(entry.event),
        "regime_id": entry.regime_id,
        "regime_hash": entry.regime_hash,
        "reform_hash": entry.reform_hash,
        "software_version": __version__,
    }


def envelope_parts(record: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of a record's hashed fields, split around the value of ``seq``:
    ``prefix + str(seq) + suffix`` equals ``canonical_json({k: record[k] for k in
    HASHED_FIELDS})``. Lets PostgreSQL compute the hash once it has taken the next seq."""
    before = {k: record.get(k) for k in HASHED_FIELDS if k < "seq"}
    after = {k: record.get(k) for k in HASHED_FIELDS if k > "seq"}
    prefix = canonical_json(before)[:-1] + ',"seq":'
    suffix = "," + canonical_json(after)[1:]
    return prefix, suffix


def _append_postgresql(
    connection: Connection, entries: list[AuditEntry], stamp: str, need_seq: bool = True
) -> int:
    """One round trip per record: lock the head, compute the same SHA-256 as ``record_hash``
    in SQL, insert the record and move the head. The head lock is held until commit, so this
    is the serial part of every write; it is kept to a single statement."""
    seq = -1
    for entry in entries:
        record = _fields(entry, stamp)
        record["prefix"], record["suffix"] = envelope_parts(record)
        cursor = sql.run(connection, "audit_append_pg", record)
        if need_seq:
            seq = int(cursor.fetchone()[0])
    return seq


@dataclass
class VerifyReport:
    """What ``verify`` found. ``problems`` lists each break with the sequence number."""

    records: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    first_recorded_at: str | None = None
    last_recorded_at: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    retention_years: float = 5.0
    past_retention: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "first_recorded_at": self.first_recorded_at,
            "last_recorded_at": self.last_recorded_at,
            "retention_years": self.retention_years,
            "past_retention": self.past_retention,
            "problems": self.problems,
        }


def _rows(connection: Connection, batch: int = 5000) -> Iterator[dict[str, Any]]:
    last = None
    while True:
        query = select(audit_log).order_by(audit_log.c.seq).limit(batch)
        if last is not None:
            query = query.where(audit_log.c.seq > last)
        chunk = [dict(row._mapping) for row in connection.execute(query)]
        if not chunk:
            return
        yield from chunk
        last = chunk[-1]["seq"]


def verify(connection: Connection, *, retention_years: float = 5.0) -> VerifyReport:
    """Recompute the chain from genesis; compare its end with the head row and replay the ledger
    events against the pools table."""
    report = VerifyReport(retention_years=retention_years)
    # Records older than this have passed the retention period (15 CFR 762.6); counted, never
    # deleted here.
    cutoff = (
        (dt.datetime.now(dt.UTC) - dt.timedelta(days=365.25 * retention_years))
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )
    expected_seq, prev = 1, GENESIS_HASH
    replay: dict[str, float] = {}
    replay_attrition: dict[str, float] = {}
    held: dict[str, list[tuple[str, float]]] = {}
    for row in _rows(connection):
        report.records += 1
        seq = int(row["seq"])
        if report.first_recorded_at is None:
            report.first_recorded_at = row["recorded_at"]
        report.last_recorded_at = row["recorded_at"]
        if row["recorded_at"] < cutoff:
            report.past_retention += 1
        if seq != expected_seq:
            what = "missing" if seq > expected_seq else "duplicated"
            report.problems.append(
                {
                    "seq": seq,
                    "problem": f"sequence jumps from {expected_seq - 1} to {seq}: "
                    f"record(s) {what} before seq {seq}",
                }
            )
        if row["prev_hash"] != prev:
            report.problems.append(
                {
                    "seq": seq,
                    "problem": "prev_hash does not match the hash of the record before it "
                    "(a record was deleted, inserted or reordered here)",
                }
            )
        try:
            recomputed = record_hash(row["prev_hash"], row)
        except (ValueError, TypeError) as exc:
            recomputed = f"unreadable event: {exc}"
        if recomputed != row["hash"]:
            report.problems.append(
                {"seq": seq, "problem": "hash does not match the record's content (modified)"}
            )
        _replay(row, replay, replay_attrition, held)
        prev = row["hash"]
        expected_seq = seq + 1
        if len(report.problems) > 50:
            break
    head = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one_or_none()
    report.head_seq = expected_seq - 1
    report.head_hash = prev
    if head is None:
        report.problems.append({"seq": None, "problem": "the audit head row is missing"})
    elif (int(head.seq), head.hash) != (expected_seq - 1, prev):
        report.problems.append(
            {
                "seq": int(head.seq),
                "problem": f"chain ends at seq {expected_seq - 1} but the head says seq "
                f"{int(head.seq)}: records were cut from the end or the head was altered",
            }
        )
    if not report.problems:
        _compare_pools(connection, replay, replay_attrition, report)
    return report


def _replay(
    row: dict[str, Any],
    used: dict[str, float],
    lost: dict[str, float],
    held: dict[str, list[tuple[str, float]]],
) -> None:
    try:
        event = json.loads(row["event"])
    except ValueError:
        return
    kind = row["kind"]
    if kind == "reserve":
        pairs = [(d["pool"], float(d["amount"])) for d in event.get("draws", [])]
        held[row["reservation_id"]] = pairs
        for pool, amount in pairs:
            used[pool] = used.get(pool, 0.0) + amount
    elif kind == "release":
        for pool, amount in held.pop(row["reservation_id"], []):
            used[pool] = used.get(pool, 0.0) - amount
    elif kind == "attrition":
        lost[event["pool"]] = lost.get(event["pool"], 0.0) + float(event["amount"])


def _compare_pools(
    connection: Connection,
    used: dict[str, float],
    lost: dict[str, float],
    report: VerifyReport,
) -> None:
    for row in connection.execute(select(pools.c.key, pools.c.used, pools.c.attrition)):
        for label, stored, replayed in (
            ("used", float(row.used), used.get(row.key, 0.0)),
            ("attrition", float(row.attrition), lost.get(row.key, 0.0)),
        ):
            if abs(stored - replayed) > 1e-6 * max(1.0, abs(replayed)):
                report.problems.append(
                    {
                        "seq": None,
                        "pool": row.key,
                        "problem": f"pool {label} is {stored:g} but the audit log adds up to "
                        f"{replayed:g}: the ledger tables were changed outside sluicegate",
                    }
                )


def export_rows(
    connection: Connection, *, start: dt.date | None = None, end: dt.date | None = None
) -> Iterator[dict[str, Any]]:
    """Audit records whose ``recorded_at`` date lies in [start, end] (both inclusive)."""
    for row in _rows(connection):
        day = dt.date.fromisoformat(row["recorded_at"][:10])
        if start is not None and day < start:
            continue
        if end is not None and day > end:
            continue
        yield row


def write_export(rows: Iterator[dict[str, Any]], fmt: str, out: io.TextIOBase | Any) -> int:
    """Write rows as JSON Lines (event as an object) or CSV (event as canonical JSON text)."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            record = {k: row[k] for k in EXPORT_FIELDS}
            record["event"] = json.loads(row["event"])
            out.write(canonical_json(record) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in EXPORT_FIELDS})
            count += 1
    else:
        raise ValueError(f"format: {fmt!r} is not one of jsonl, csv")
    return count
