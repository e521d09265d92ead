"""The quota ledger: reserve, confirm, release, attrition, balance and history over a SQL database,
each write a single locked transaction that also appends to the audit chain.

``reserve`` is where the ledger meets the rules engine: inside one transaction it hands
``sluicegate.rules.decide_records`` a ``LockedQuotaBook`` (pool rows locked as the engine reads
them), persists the decisions and every draw the engine reports (pool, amount, limit), checks
UVEU location ratios, appends the audit records, and commits. Limits come only from the draws.
``commands`` (the CLI) and the service call this module through ``sluicegate.ledger``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import math
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from sluicegate.ledger import audit, regimeinfo, sql
from sluicegate.ledger.book import (
    LockedQuotaBook,
    ProbeQuotaBook,
    SnapshotQuotaBook,
    parse_pool,
)
from sluicegate.ledger.database import (
    WriterQueue,
    check_ready,
    database_url,
    describe,
    group_commit_available,
    make_engine,
    read_connection,
    run_transaction,
    sqlite_path,
)
from sluicegate.ledger.errors import DatabaseNotReady, InvalidRecords, LedgerInputError
from sluicegate.ledger.schema import (
    attrition,
    deployments,
    draws,
    pools,
    reservations,
)
from sluicegate.ledger.settings import load_settings
from sluicegate.ledger.uveu import location_check

STATES = ("held", "confirmed", "released")


def default_actor() -> str:
    """Who is acting: ``SLUICE_ACTOR``, else user@host."""
    env = os.environ.get("SLUICE_ACTOR")
    if env:
        return env
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def consignee_key(record: dict[str, Any]) -> str:
    """The engine's consignee key: id, else name, else ``unidentified@{destination}``."""
    consignee = record.get("consignee") or {}
    if isinstance(consignee, dict):
        for field in ("id", "name"):
            value = consignee.get(field)
            if value not in (None, ""):
                return str(value)
    return f"unidentified@{str(record.get('destination') or '').upper()}"


def _headquarters(record: dict[str, Any]) -> str | None:
    consignee = record.get("consignee") or {}
    value = None
    if isinstance(consignee, dict):
        value = consignee.get("headquarters") or consignee.get("country")
    value = value or record.get("destination")
    return str(value).upper() if value else None


def regime_hash(regime_id: str | None) -> str | None:
    """Content hash of a regime (or loaded reform), when the regimes package can load it."""
    return regimeinfo.content_hash(regime_id)


def _holds_uveu(record: dict[str, Any]) -> bool:
    consignee = record.get("consignee") or {}
    held = consignee.get("authorizations") if isinstance(consignee, dict) else None
    if isinstance(held, str):
        held = held.replace(";", ",").split(",")
    return any(str(a).strip().upper() == "UVEU" for a in (held or []))


def _positive_amount(value: Any, field: str) -> float:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise LedgerInputError(field, f"{value!r} is not a number") from None
    if not math.isfinite(amount) or amount <= 0:
        raise LedgerInputError(field, f"{value!r} must be a positive number of TPP")
    return amount


class _Replay(Exception):
    def __init__(self, response: list[dict[str, Any]]) -> None:
        self.response = response


class Ledger:
    """A connection to the ledger database.

    ``create=True`` (writers) creates the schema in an empty database; ``create=False`` (readers)
    refuses a missing database instead of creating an empty file."""

    def __init__(
        self, url: str | None = None, *, create: bool = True, actor: str | None = None
    ) -> None:
        self.url = database_url(url)
        self.settings = load_settings()
        self.actor = actor or default_actor()
        path = sqlite_path(self.url)
        if path is not None and not create and not path.exists():
            raise DatabaseNotReady(
                "database_url",
                f"no ledger database at {path}; `sluice db upgrade` creates one "
                "(or set SLUICE_DATABASE_URL)",
            )
        if path is not None and not path.parent.exists():
            raise DatabaseNotReady("database_url", f"directory {path.parent} does not exist")
        self.engine = make_engine(self.url)
        self._queue = WriterQueue(self.url)
        self._pid = os.getpid()
        try:
            check_ready(self.engine, self.url, create=create)
        except Exception:
            self.engine.dispose()
            raise
        self._group_commit: bool | None = None  # decided at the first write
        # Moving share of multi-record reserve calls on PostgreSQL whose pools nobody drew on
        # between the unlocked probe and the locks (see _reserve_in).
        self._probe_kept = 1.0

    def close(self) -> None:
        self.engine.dispose()
        self._queue.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _after_fork(self) -> None:
        if self._pid != os.getpid():
            # Used in a forked child: never reuse the parent's pooled connections.
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    def _read(self) -> Any:
        self._after_fork()
        return read_connection(self.engine)

    def _transaction(self, work: Any, *, hot: bool = False) -> Any:
        self._after_fork()
        if self._group_commit is None:
            # PostgreSQL group commit (database._hot_postgresql), unless set to "sync" or the
            # role may not run its durability barrier.
            self._group_commit = (
                self.engine.dialect.name == "postgresql"
                and self.settings.postgresql_commit == "group"
                and group_commit_available(self.engine)
            )
        return run_transaction(
            self.engine,
            work,
            self.settings.transaction_retries,
            self._queue,
            hot=hot,
            group_commit=self._group_commit,
        )

    # ------------------------------------------------------------------ reserve
    def reserve(
        self,
        records: Sequence[dict[str, Any]],
        *,
        regime: str | None = None,
        reform: str | Path | None = None,
        idempotency_key: str | None = None,
        actor: str | None = None,
        trace: bool = True,
    ) -> list[dict[str, Any]]:
        """Decide ``records`` with the rules engine and hold what they draw, atomically.

        Returns one decision per record, in input order, each with an extension field
        ``reservation`` ``{"id", "state"}``. Quotas accumulate across the records in date order,
        as in ``decide``. If any record is invalid nothing is written and ``InvalidRecords``
        carries the output lines. A retried call with the same ``idempotency_key`` returns the
        original decisions and holds nothing more."""
        records = list(records)
        if not records:
            raise LedgerInputError("records", "no transaction given")
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise LedgerInputError(f"records[{i}]", "a transaction must be a JSON object")
        if idempotency_key is not None and not str(idempotency_key).strip():
            raise LedgerInputError("idempotency_key", "must not be empty")
        # A reform is a file or the name of a shipped reform; the engine reports a bad one.
        reform_hash = regimeinfo.reform_hash(reform) if reform is not None else None
        request_hash = None
        if idempotency_key is not None:
            request_hash = hashlib.sha256(
                audit.canonical_json(
                    {
                        "records": records,
                        "regime": regime,
                        "reform_hash": reform_hash,
                        "trace": trace,
                    }
                ).encode()
            ).hexdigest()
        who = actor or self.actor

        def work(connection: Connection) -> list[dict[str, Any]]:
            return self._reserve_in(
                connection,
                records,
                regime,
                reform,
                reform_hash,
                idempotency_key,
                request_hash,
                who,
                trace,
            )

        for _ in range(3):
            try:
                # Every statement of the reserve path is raw SQL read with fetch*(), so it runs
                # on the DBAPI connection, pipelined on PostgreSQL (see database.run_transaction).
                return self._transaction(work, hot=True)
            except _Replay as replay:
                return replay.response
            except IntegrityError:
                # Same idempotency key inserted by a concurrent caller that has now committed:
                # run again to find and replay its answer.
                if idempotency_key is None:
                    raise
        raise LedgerInputError("idempotency_key", "could not settle a concurrent retry")

    def _reserve_in(
        self,
        connection: Connection,
        records: list[dict[str, Any]],
        regime: str | None,
        reform: str | Path | None,
        reform_hash: str | None,
        idempotency_key: str | None,
        request_hash: str | None,
        actor: str,
        trace: bool = True,
    ) -> list[dict[str, Any]]:
        now = audit.now_iso()
        if idempotency_key is not None:
            stored = sql.run(connection, "request_get", {"key": idempotency_key}).fetchone()
            if stored is not None:
                if stored[0] != request_hash:
                    raise LedgerInputError(
                        "idempotency_key",
                        f"{idempotency_key!r} was already used for a different request",
                    )
                raise _Replay(json.loads(stored[1]))
            # Claim the key first: a concurrent retry blocks here until we commit.
            sql.run(
                connection,
                "request_claim",
                {"key": idempotency_key, "hash": request_hash, "now": now},
            )

        book = LockedQuotaBook(
            connection, now=now, attrition_frees=self.settings.nveu_attrition_frees_allocation
        )
        decided = None
        if len(records) > 1 and connection.dialect.name == "postgresql":
            # Learn the pools first and lock them in key order (no deadlock between batches).
            probe = ProbeQuotaBook(
                connection, attrition_frees=self.settings.nveu_attrition_frees_allocation
            )
            # The probe's decisions can stand only if they carry the trace asked for; rendering
            # it costs about as much again, which is wasted when another writer moves a pool
            # before the locks are taken. So the probe renders it while most recent probes
            # could be kept (cost model in docs/ledger.md).
            probe_trace = trace and self._probe_kept >= 0.5
            probe_drawn: list[dict[str, Any]] = []
            probe_results = _decide_records(
                records,
                regime=regime,
                reform=reform,
                quota=probe,
                draws=probe_drawn,
                trace=probe_trace,
            )
            for pool in sorted(probe.values):
                book.used(pool)
            unmoved = all(book.used(pool) == value for pool, value in probe.values.items())
            self._probe_kept = 0.8 * self._probe_kept + (0.2 if unmoved else 0.0)
            if unmoved and probe_trace == trace:
                # Every pool, now locked, holds what the engine was shown: it would decide the
                # same again, so its decisions stand. Otherwise it decides under the locks.
                decided = (probe_results, probe_drawn)
        if decided is None:
            drawn: list[dict[str, Any]] = []
            # ---- THE CALL INTO THE RULES ENGINE (inside the locked transaction) ----
            results = _decide_records(
                records, regime=regime, reform=reform, quota=book, draws=drawn, trace=trace
            )
        else:
            results, drawn = decided
        if len(results) != len(records):
            raise RuntimeError(
                f"rules engine returned {len(results)} results for {len(records)} records"
            )
        if any("error" in result for result in results):
            raise InvalidRecords(results)

        ids = [f"rsv-{uuid.uuid4().hex[:20]}" for _ in records]
        by_index: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(records))}
        for draw in drawn:
            index = int(draw["index"])
            if index not in by_index:
                raise RuntimeError(f"rules engine drew for record {index}, not in this call")
            amount = float(draw["amount"])
            if not math.isfinite(amount) or amount < 0:
                raise RuntimeError(f"rules engine drew {amount!r} from {draw['pool']}")
            limit = draw.get("limit")
            by_index[index].append(
                {
                    "pool": str(draw["pool"]),
                    "amount": amount,
                    "limit": None if limit is None else float(limit),
                }
            )

        counters = self.settings.counter_pool_kinds
        running: dict[str, float] = {}
        reservation_rows: list[dict[str, Any]] = []
        draw_rows: list[dict[str, Any]] = []
        for i, (record, decision) in enumerate(zip(records, results, strict=True)):
            date = str(record.get("date"))[:10]
            destination = str(record.get("destination") or "").upper() or None
            for position, draw in enumerate(by_index[i]):
                pool = draw["pool"]
                if pool not in running:
                    running[pool] = book.used(pool)  # locks it if the engine did not ask
                running[pool] += draw["amount"]
                limit = draw["limit"]
                if limit is not None and running[pool] > limit + 1e-6:
                    if parse_pool(pool).kind not in counters:
                        # Defence in depth: the engine decides, but the ledger never commits
                        # an overshoot, whatever the engine said.
                        raise RuntimeError(
                            f"refusing to commit: pool {pool} would hold {running[pool]:g} "
                            f"over its limit {limit:g}"
                        )
                sql.run(
                    connection,
                    "pool_draw",
                    {
                        "key": pool,
                        "amount": draw["amount"],
                        "limit_tpp": limit,
                        "as_of": date,
                        "country": destination,
                        "now": now,
                    },
                )
                draw_rows.append(
                    {
                        "reservation_id": ids[i],
                        "position": position,
                        "pool": pool,
                        "amount": draw["amount"],
                        "limit_tpp": limit,
                    }
                )
            decision["reservation"] = {"id": ids[i], "state": "held"}
            tpp_total = decision.get("tpp_total")
            reservation_rows.append(
                {
                    "id": ids[i],
                    "idempotency_key": idempotency_key,
                    "transaction_id": None if record.get("id") is None else str(record["id"]),
                    "consignee": consignee_key(record),
                    "destination": destination,
                    "date": date,
                    "regime_id": (decision.get("regime") or {}).get("id"),
                    "authorization": decision.get("authorization"),
                    "state": "held",
                    "tpp_total": None if tpp_total is None else float(tpp_total),
                    "transaction_json": audit.canonical_json(record),
                    "actor": actor,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        sql.run(
            connection,
            "reservation_insert",
            reservation_rows if len(reservation_rows) > 1 else reservation_rows[0],
        )
        if draw_rows:
            sql.run(connection, "draw_insert", draw_rows if len(draw_rows) > 1 else draw_rows[0])

        entries = []
        for i, (record, decision) in enumerate(zip(records, results, strict=True)):
            row = reservation_rows[i]
            if _holds_uveu(record) and float(decision.get("tpp_total") or 0.0) > 0:
                # A UVEU holder's installed compute is everything it deploys, including what
                # goes to the US or Tier 1 under NLR or AIA, not only what rides on the UVEU.
                self._uveu_deployment(connection, ids[i], record, decision)
            # The event is canonical JSON of {decision, draws, idempotency_key, reservation_id,
            # transaction}, assembled from the texts already rendered (keys in sorted order).
            # It is the one stored copy of the decision (schema revision 0002).
            event = (
                '{"decision":'
                + audit.canonical_json(decision)
                + ',"draws":'
                + audit.canonical_json(by_index[i])
                + ',"idempotency_key":'
                + audit.canonical_json(idempotency_key)
                + ',"reservation_id":'
                + audit.canonical_json(ids[i])
                + ',"transaction":'
                + row["transaction_json"]
                + "}"
            )
            entries.append(
                audit.AuditEntry(
                    kind="reserve",
                    actor=actor,
                    reservation_id=ids[i],
                    consignee=row["consignee"],
                    regime_id=row["regime_id"],
                    regime_hash=regime_hash(row["regime_id"]),
                    reform_hash=reform_hash,
                    event=event,
                )
            )
        if idempotency_key is not None:
            sql.run(
                connection,
                "request_answer",
                {"key": idempotency_key, "response": audit.canonical_json(results)},
            )
        # Not waited for: on PostgreSQL the append (which takes the head lock) goes to the server
        # in one pipeline flush with the COMMIT (database._hot_postgresql).
        audit.append(connection, entries, recorded_at=now, need_seq=False)
        return results

    def log_decisions(
        self,
        records: Sequence[dict[str, Any]],
        decisions: Sequence[dict[str, Any]],
        *,
        reform: str | Path | None = None,
        actor: str | None = None,
    ) -> int:
        """Append decisions that hold no quota (``sluice decide --ledger``, the service) to the
        audit chain as ``decision`` records; returns the new head sequence number."""
        if len(records) != len(decisions):
            raise LedgerInputError(
                "decisions", f"{len(decisions)} decisions for {len(records)} records"
            )
        reform_hash = regimeinfo.reform_hash(reform) if reform is not None else None
        who = actor or self.actor
        entries = []
        for record, decision in zip(records, decisions, strict=True):
            regime_id = (decision.get("regime") or {}).get("id")
            entries.append(
                audit.AuditEntry(
                    kind="decision",
                    actor=who,
                    consignee=consignee_key(record) if isinstance(record, dict) else None,
                    regime_id=regime_id,
                    regime_hash=regime_hash(regime_id),
                    reform_hash=reform_hash,
                    event={"transaction": record, "decision": decision},
                )
            )

        def work(connection: Connection) -> int:
            seq = audit.append(connection, entries)
            if seq < 0:  # nothing to append: the current head
                seq = int(sql.run(connection, "head_lock").fetchone()[0])
            return seq

        return int(self._transaction(work, hot=True))

    def _uveu_deployment(
        self,
        connection: Connection,
        reservation_id: str,
        record: dict[str, Any],
        decision: dict[str, Any],
    ) -> None:
        company = consignee_key(record)
        headquarters = _headquarters(record)
        tier = decision.get("tier")
        sql.run(
            connection,
            "deployment_insert",
            {
                "reservation_id": reservation_id,
                "company": company,
                "headquarters": headquarters,
                "country": str(record.get("destination") or "").upper(),
                "tier": int(tier) if tier is not None else None,
                "tpp": float(decision.get("tpp_total") or 0.0),
            },
        )
        result = self._location(connection, company, headquarters, decision)
        decision["uveu_location"] = result
        if result["violations"]:
            if self.settings.uveu.get("on_breach") == "refuse":
                raise LedgerInputError(
                    "consignee",
                    f"UVEU location ratios of {company} would be broken: "
                    + "; ".join(v["rule"] for v in result["violations"]),
                )
            obligations = decision.setdefault("obligations", [])
            obligations.append(
                {
                    "kind": "uveu-location-ratio",
                    "why": "UVEU geographic allocation not met after this deployment",
                    "violations": result["violations"],
                    "cite": self.settings.uveu["cite"],
                }
            )

    def _location(
        self,
        connection: Connection,
        company: str,
        headquarters: str | None,
        decision: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        rows = sql.run(connection, "deployments_of", {"company": company}).fetchall()
        regime_id = ((decision or {}).get("regime") or {}).get("id")
        result = location_check(
            ((r[0], r[1], float(r[2])) for r in rows),
            headquarters=headquarters,
            regime_id=regime_id,
        )
        result["company"] = company
        return result

    # ------------------------------------------------------------------ confirm / release
    def confirm(self, reservation_id: str, *, actor: str | None = None) -> dict[str, Any]:
        """Mark a held reservation as shipped (its quota stays held for good)."""
        return self._transition(reservation_id, "confirmed", actor or self.actor)

    def release(self, reservation_id: str, *, actor: str | None = None) -> dict[str, Any]:
        """Cancel a held reservation: its draws return to their pools."""
        return self._transition(reservation_id, "released", actor or self.actor)

    def _transition(self, reservation_id: str, target: str, actor: str) -> Any:
        if not reservation_id or not str(reservation_id).strip():
            raise LedgerInputError("reservation", "give a reservation id (rsv-...)")

        def work(connection: Connection) -> dict[str, Any]:
            now = audit.now_iso()
            query = select(reservations).where(reservations.c.id == reservation_id)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).one_or_none()
            if row is None:
                raise LedgerInputError("reservation", f"no reservation {reservation_id!r}")
            if row.state != "held":
                raise LedgerInputError(
                    "reservation",
                    f"{reservation_id} is already {row.state} (since {row.updated_at}); "
                    f"only a held reservation can be {target}",
                )
            held = [
                {"pool": d.pool, "amount": float(d.amount), "limit": d.limit_tpp}
                for d in connection.execute(
                    select(draws)
                    .where(draws.c.reservation_id == reservation_id)
                    .order_by(draws.c.position)
                )
            ]
            if target == "released" and held:
                keys = sorted({d["pool"] for d in held})
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        select(pools.c.key)
                        .where(pools.c.key.in_(keys))
                        .order_by(pools.c.key)
                        .with_for_update()
                    ).all()
                for d in held:
                    connection.execute(
                        update(pools)
                        .where(pools.c.key == d["pool"])
                        .values(used=pools.c.used - d["amount"], updated_at=now)
                    )
            connection.execute(
                update(reservations)
                .where(reservations.c.id == reservation_id)
                .values(state=target, updated_at=now, actor=actor)
            )
            kind = "confirm" if target == "confirmed" else "release"
            audit.append(
                connection,
                [
                    audit.AuditEntry(
                        kind=kind,
                        actor=actor,
                        reservation_id=reservation_id,
                        consignee=row.consignee,
                        regime_id=row.regime_id,
                        regime_hash=regime_hash(row.regime_id),
                        event={"reservation_id": reservation_id, "state": target, "draws": held},
                    )
                ],
                recorded_at=now,
            )
            return {
                "reservation": {"id": reservation_id, "state": target},
                "transaction_id": row.transaction_id,
                "consignee": row.consignee,
                "draws": held,
            }

        return self._transaction(work)

    # ------------------------------------------------------------------ attrition
    def attrition(
        self,
        *,
        pool: str | None = None,
        consignee: str | None = None,
        country: str | None = None,
        tpp: Any,
        reason: str,
        date: str | dt.date | None = None,
        note: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Record NVEU installed base lost (loss, damage, failure, relocation, resale).

        Per ``settings.yaml`` (748.15(a)(2)(iii)(B)) the lost TPP leaves the installed base but,
        by default, is not handed back to the allocation."""
        amount = _positive_amount(tpp, "tpp")
        if reason not in self.settings.attrition_reasons:
            raise LedgerInputError(
                "reason",
                f"{reason!r} is not one of {', '.join(self.settings.attrition_reasons)}",
            )
        if pool is None:
            if not consignee or not country:
                raise LedgerInputError(
                    "pool", "give --pool nveu:CONSIGNEE:CC, or --consignee and --country"
                )
            pool = f"nveu:{consignee}:{country.upper()}"
        when = _parse_date(date, "date") if date is not None else dt.date.today()
        who = actor or self.actor

        def work(connection: Connection) -> dict[str, Any]:
            now = audit.now_iso()
            query = select(pools).where(pools.c.key == pool)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).one_or_none()
            if row is None:
                raise LedgerInputError("pool", f"unknown pool {pool!r}")
            if row.kind != "nveu":
                raise LedgerInputError(
                    "pool",
                    f"{pool} is a {row.kind} pool; attrition applies to NVEU installed base "
                    "(15 CFR 748.15(a)(2)(iii)(B))",
                )
            installed = float(row.used) - float(row.attrition)
            if amount > installed + 1e-6:
                raise LedgerInputError(
                    "tpp", f"{amount:g} exceeds the installed base {installed:g} of {pool}"
                )
            event_id = f"att-{uuid.uuid4().hex[:20]}"
            connection.execute(
                update(pools)
                .where(pools.c.key == pool)
                .values(attrition=pools.c.attrition + amount, updated_at=now)
            )
            connection.execute(
                attrition.insert().values(
                    id=event_id,
                    pool=pool,
                    amount=amount,
                    reason=reason,
                    date=when.isoformat(),
                    note=note,
                    actor=who,
                    created_at=now,
                )
            )
            event = {
                "attrition_id": event_id,
                "pool": pool,
                "amount": amount,
                "reason": reason,
                "date": when.isoformat(),
                "note": note,
                "installed_base_after": installed - amount,
                "frees_allocation": self.settings.nveu_attrition_frees_allocation,
            }
            audit.append(
                connection,
                [
                    audit.AuditEntry(
                        kind="attrition", actor=who, consignee=row.consignee, event=event
                    )
                ],
                recorded_at=now,
            )
            return event

        return self._transaction(work)

    # ------------------------------------------------------------------ reading
    def balance(
        self,
        *,
        consignee: str | None = None,
        country: str | None = None,
        pool: str | None = None,
    ) -> dict[str, Any]:
        """Each pool's limit, used, remaining (and held / confirmed / attrition detail)."""
        query = select(pools).order_by(pools.c.key)
        if pool is not None:
            query = query.where(pools.c.key == pool)
        if consignee is not None:
            query = query.where(pools.c.consignee == consignee)
        if country is not None:
            query = query.where(pools.c.country == country.upper())
        counters = self.settings.counter_pool_kinds
        frees = self.settings.nveu_attrition_frees_allocation
        with self._read() as connection:
            rows = connection.execute(query).all()
            split: dict[tuple[str, str], float] = {}
            for r in connection.execute(
                select(draws.c.pool, reservations.c.state, func.sum(draws.c.amount))
                .join(reservations, reservations.c.id == draws.c.reservation_id)
                .group_by(draws.c.pool, reservations.c.state)
            ):
                split[(r[0], r[1])] = float(r[2] or 0.0)
            location = None
            if consignee is not None:
                hq = connection.execute(
                    select(deployments.c.headquarters).where(deployments.c.company == consignee)
                ).first()
                if hq is not None:
                    location = self._location(connection, consignee, hq[0])
            connection.rollback()
        if pool is not None and not rows:
            raise LedgerInputError("pool", f"unknown pool {pool!r}")
        if consignee is not None and not rows and location is None:
            raise LedgerInputError("consignee", f"no pool holds anything for {consignee!r}")
        out = []
        for row in rows:
            used = float(row.used)
            lost = float(row.attrition)
            counted = used - lost if (frees and row.kind == "nveu") else used
            limit = None if row.limit_tpp is None else float(row.limit_tpp)
            entry: dict[str, Any] = {
                "pool": row.key,
                "kind": row.kind,
                "consignee": row.consignee,
                "country": row.country,
                "period": row.period,
                "limit": limit,
                "limit_as_of": row.limit_as_of,
                "used": counted,
                "remaining": None if limit is None else limit - counted,
                "held": split.get((row.key, "held"), 0.0),
                "confirmed": split.get((row.key, "confirmed"), 0.0),
            }
            if row.kind == "nveu":
                entry["attrition"] = lost
                entry["installed_base"] = used - lost
            if row.kind in counters:
                entry["counter"] = True
                entry["report_due"] = limit is not None and counted >= limit
            out.append(entry)
        result: dict[str, Any] = {"as_of": audit.now_iso(), "pools": out}
        if location is not None:
            result["uveu_location"] = location
        return result

    def quota_book(self) -> SnapshotQuotaBook:
        """Committed balances as a read-only ``QuotaBook`` (for ``sluice decide --ledger``)."""
        frees = self.settings.nveu_attrition_frees_allocation
        with self._read() as connection:
            rows = connection.execute(
                select(pools.c.key, pools.c.kind, pools.c.used, pools.c.attrition)
            ).all()
            connection.rollback()
        return SnapshotQuotaBook(
            {
                r.key: float(r.used) - (float(r.attrition) if frees and r.kind == "nveu" else 0.0)
                for r in rows
            }
        )

    def history(
        self,
        *,
        consignee: str | None = None,
        pool: str | None = None,
        reservation: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Ledger events, oldest first, summarised (the full records are in ``audit export``)."""
        out: list[dict[str, Any]] = []
        with self._read() as connection:
            for row in audit.export_rows(connection):
                if consignee is not None and row["consignee"] != consignee:
                    continue
                if reservation is not None and row["reservation_id"] != reservation:
                    continue
                if kind is not None and row["kind"] != kind:
                    continue
                summary = summarise_event(row, json.loads(row["event"]))
                if pool is not None and all(d.get("pool") != pool for d in summary["draws"]):
                    continue
                out.append(summary)
            connection.rollback()
        if limit is not None:
            out = out[-limit:]
        return out

    def verify_audit(self) -> audit.VerifyReport:
        """Recompute the audit chain (see ``audit.verify``)."""
        with self._read() as connection:
            report = audit.verify(connection, retention_years=self.settings.retention_years)
            connection.rollback()
        return report

    def export_audit(
        self,
        out: TextIO,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        fmt: str = "jsonl",
    ) -> int:
        """Write audit records recorded between ``start`` and ``end`` (inclusive)."""
        if fmt not in ("jsonl", "csv"):
            raise LedgerInputError("format", f"{fmt!r} is not one of jsonl, csv")
        if start is not None and end is not None and end < start:
            raise LedgerInputError("to", f"{end} is before --from {start}")
        with self._read() as connection:
            count = audit.write_export(
                audit.export_rows(connection, start=start, end=end), fmt, out
            )
            connection.rollback()
        return count

    def describe(self) -> str:
        return describe(self.url)

    # ================================================================== service records
    # Added for the HTTP service (issue 7), kept apart at the end of the class so that merges
    # with work on the methods above stay easy. Records of these kinds change no pool: the
    # replay in ``audit.verify`` ignores them, and the hash chain covers them like any other.
    SERVICE_KINDS = ("decision", "api-call")

    def append_records(self, entries: Sequence[audit.AuditEntry]) -> int:
        """Append ``decision`` and ``api-call`` records (the service's decisions and the calls
        that change state, with the key's identity) in one transaction; returns the new head
        sequence number (-1 when ``entries`` is empty)."""
        entries = list(entries)
        for entry in entries:
            if entry.kind not in self.SERVICE_KINDS:
                raise LedgerInputError(
                    "kind",
                    f"{entry.kind!r} is not one of {', '.join(self.SERVICE_KINDS)}; ledger events "
                    "are appended by reserve, confirm, release and attrition only",
                )
        if not entries:
            return -1

        def work(connection: Connection) -> int:
            return audit.append(connection, entries)

        return int(self._transaction(work))

    def latest_records(
        self,
        kinds: Sequence[str],
        *,
        limit: int = 100,
        consignees: Sequence[str] | None = None,
        reservation: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest audit records of the given kinds (newest first), each with its event
        parsed; optionally only those of ``consignees`` or of one reservation. Walks the chain
        back from its head and stops after ``limit`` matches (``history`` reads all of it)."""
        from sluicegate.ledger.schema import audit_log

        query = (
            select(audit_log)
            .where(audit_log.c.kind.in_(list(kinds)))
            .order_by(audit_log.c.seq.desc())
            .limit(max(1, int(limit)))
        )
        if consignees is not None:
            query = query.where(audit_log.c.consignee.in_(list(consignees)))
        if reservation is not None:
            query = query.where(audit_log.c.reservation_id == reservation)
        with self._read() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
            connection.rollback()
        for row in rows:
            row["event"] = json.loads(row["event"])
        return rows


def summarise_event(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A ledger event (an audit row and its parsed event) as ``Ledger.history`` lists it; the
    service's history route uses it too."""
    draws = event.get("draws") or (
        [{"pool": event["pool"], "amount": event["amount"]}] if "pool" in event else []
    )
    summary: dict[str, Any] = {
        "seq": row["seq"],
        "recorded_at": row["recorded_at"],
        "kind": row["kind"],
        "actor": row["actor"],
        "reservation_id": row["reservation_id"],
        "consignee": row["consignee"],
        "regime_id": row["regime_id"],
        "draws": draws,
    }
    if row["kind"] == "reserve":
        transaction = event.get("transaction") or {}
        decision = event.get("decision") or {}
        summary["transaction_id"] = transaction.get("id")
        summary["date"] = transaction.get("date")
        summary["destination"] = transaction.get("destination")
        summary["authorization"] = decision.get("authorization")
    elif row["kind"] == "attrition":
        summary["reason"] = event.get("reason")
        summary["date"] = event.get("date")
    return summary


def _parse_date(value: str | dt.date, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise LedgerInputError(field, f"{value!r} is not a date in YYYY-MM-DD form") from None


def _decide_records(records: Iterable[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    """Look the engine up at call time (so a stand-in can be patched in by tests)."""
    from sluicegate import rules

    decide = getattr(rules, "decide_records", None)
    if decide is None:
        raise RuntimeError(
            "the rules engine (sluicegate.rules.decide_records) is not available in this install"
        )
    return list(decide(list(records), **kwargs))
