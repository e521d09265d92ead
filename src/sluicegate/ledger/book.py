"""Quota pools as the rules engine sees them: the ``QuotaBook`` the ledger hands to
``sluicegate.rules.decide_records`` inside one locked database transaction, and the parsing of
pool keys into kind, consignee, country and period for ``balance``.

Pool keys are the engine's stable strings (``lpp:{consignee}:{year}``,
``country-allocation:{CC}:2025-2027``, ``nveu:{consignee}:{CC}``, ``aia-reporting:{consignee}``);
kinds a reform adds are kept whole. Limits are never set here: they arrive with the draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from sluicegate.ledger import sql


@dataclass(frozen=True)
class PoolKey:
    key: str
    kind: str
    consignee: str | None = None
    country: str | None = None
    period: str | None = None


def parse_pool(key: str) -> PoolKey:
    """Split an engine pool key into its parts (unknown kinds keep only ``kind``)."""
    kind, _, rest = key.partition(":")
    if kind == "lpp" and ":" in rest:
        consignee, _, year = rest.rpartition(":")
        return PoolKey(key, kind, consignee=consignee, period=year)
    if kind == "nveu" and ":" in rest:
        consignee, _, country = rest.rpartition(":")
        return PoolKey(key, kind, consignee=consignee, country=country)
    if kind == "aia-reporting" and rest:
        return PoolKey(key, kind, consignee=rest)
    if kind == "country-allocation" and ":" in rest:
        country, _, period = rest.partition(":")
        return PoolKey(key, kind, country=country, period=period)
    return PoolKey(key, kind or key)


def shown_balance(row: Any, attrition_frees: bool) -> float:
    """What the engine is shown for a pool row ``(used, attrition, kind)``: ``used``, less NVEU
    attrition where the settings say attrition frees allocation. The locked and the probe books
    must agree on it exactly (``core.Ledger._reserve_in`` compares them)."""
    used, lost, kind = float(row[0]), float(row[1]), row[2]
    return used - lost if (attrition_frees and kind == "nveu") else used


class LockedQuotaBook:
    """``QuotaBook`` over the pools table, valid for one transaction.

    ``used(pool)`` locks the pool row (creating it at zero first if it is new) and returns what
    is held in it, so no other transaction can draw on the pool until this one commits or rolls
    back. On SQLite the whole database is already locked by ``BEGIN IMMEDIATE``."""

    def __init__(self, connection: Connection, *, now: str, attrition_frees: bool) -> None:
        self._connection = connection
        self._now = now
        self._attrition_frees = attrition_frees
        self.seen: dict[str, float] = {}

    def used(self, pool: str) -> float:
        if pool in self.seen:
            return self.seen[pool]
        if not isinstance(pool, str) or not pool:
            raise ValueError(f"pool: {pool!r} is not a pool key")
        row = self._lock(pool)
        if row is None:
            parts = parse_pool(pool)
            sql.run(
                self._connection,
                "pool_create",
                {
                    "key": pool,
                    "kind": parts.kind,
                    "consignee": parts.consignee,
                    "country": parts.country,
                    "period": parts.period,
                    "now": self._now,
                },
            )
            row = self._lock(pool)
            assert row is not None
        value = shown_balance(row, self._attrition_frees)
        self.seen[pool] = value
        return value

    def _lock(self, pool: str) -> Any:
        return sql.run(self._connection, "pool_lock", {"key": pool}).fetchone()


class ProbeQuotaBook:
    """Committed balances read without locks, for a multi-record call on PostgreSQL: the engine
    decides once against it to learn which pools the call touches, so that the locked book can
    take their row locks in key order (two batches locking the same pools in different orders
    would deadlock). ``values`` keeps what the engine was shown for every pool it asked about —
    the same figure ``LockedQuotaBook`` gives (NVEU attrition applied the same way) — so that,
    once the pools are locked, the ledger can tell whether the decisions taken on it still hold
    (``core.Ledger._reserve_in``)."""

    def __init__(self, connection: Connection, *, attrition_frees: bool) -> None:
        self._connection = connection
        self._attrition_frees = attrition_frees
        self.values: dict[str, float] = {}

    def used(self, pool: str) -> float:
        if pool in self.values:
            return self.values[pool]
        if not isinstance(pool, str) or not pool:
            raise ValueError(f"pool: {pool!r} is not a pool key")
        row = sql.run(self._connection, "pool_peek", {"key": pool}).fetchone()
        value = 0.0 if row is None else shown_balance(row, self._attrition_frees)
        self.values[pool] = value
        return value


class SnapshotQuotaBook:
    """Read-only ``QuotaBook`` of committed balances, for ``sluice decide --ledger``: decisions
    read real balances without holding anything."""

    def __init__(self, balances: dict[str, float]) -> None:
        self._balances = balances

    def used(self, pool: str) -> float:
        return self._balances.get(pool, 0.0)
