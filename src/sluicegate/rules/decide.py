"""One decision path for every caller: JSON records, flat tables, one transaction or ten million.

``decide_records`` (JSON) and ``decide_frame`` (CSV/Parquet tables) both prepare the same columns
(``table.prepare``), select the regime per row ("as of" its date, or the one asked for), evaluate
each regime's declared rules over its rows in date order, and assemble outputs from that single
evaluation — so the fast batch output and the explained decision cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sluicegate.regimes.loader import (
    binding_intervals,
    first_binding_date,
    get_regime,
    load_reform,
    regimes,
    status_for,
)
from sluicegate.regimes.model import Regime
from sluicegate.rules import memo
from sluicegate.rules.declared import RULES
from sluicegate.rules.engine import Evaluation, InMemoryQuotaBook, QuotaBook, evaluate
from sluicegate.rules.table import Batch, prepare, read_frame, read_records


class DecisionRequestError(ValueError):
    """The call itself is wrong (unknown regime, unreadable reform): nothing can be decided."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def choose_regime(regime: str | None, reform: str | Path | None) -> Regime | None:
    from sluicegate.regimes.errors import RegimeDataError, UnknownRegimeError

    if regime and reform:
        raise DecisionRequestError(
            "regime", "give either --regime or --reform (a reform names its base)"
        )
    try:
        if reform:
            return load_reform(reform)
        if regime:
            return get_regime(regime)
    except UnknownRegimeError as exc:
        raise DecisionRequestError("regime", exc.message) from exc
    except RegimeDataError as exc:
        raise DecisionRequestError("reform", str(exc)) from exc
    return None


class Run:
    """The evaluations of one call, keyed back to input rows."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.parts: list[tuple[np.ndarray, Evaluation]] = []  # (input row indices, evaluation)


def run(batch: Batch, explicit: Regime | None, book: QuotaBook) -> Run:
    out = Run(batch)
    n = batch.n
    dates = batch.columns["date"]
    valid_rows = np.flatnonzero(batch.valid)
    if explicit is not None:
        groups = [(explicit, valid_rows)]
    else:
        intervals = binding_intervals()
        starts = np.array([np.datetime64(s, "D") for s, _, _ in intervals])
        which = np.searchsorted(starts, dates[valid_rows], side="right") - 1
        groups = []
        for k, (_, _, rid) in enumerate(intervals):
            rows = valid_rows[which == k]
            if rows.size:
                groups.append((regimes()[rid], rows))
    state: dict[str, float] = {}
    for regime, rows in groups:
        # rules are evaluated in any row order; quota pools take rows in date order (``rank``)
        if rows.size == n:
            order, sub = np.arange(n), batch
        else:
            order = rows
            sub = batch.take(rows)
        rank = np.empty(sub.n, dtype=np.int64)
        rank[_date_order(sub.columns["date"])] = np.arange(sub.n)
        evaluation = evaluate(
            regime,
            RULES,
            sub.columns,
            sub.n,
            sub.valid,
            sub.id_of,
            book,
            state,
            batch.consignees,
            rank,
        )
        out.parts.append((order, evaluation))
    return out


def _date_order(dates: np.ndarray) -> np.ndarray:
    """Stable order by date (ties keep input order); free when input is already sorted."""
    days = dates.astype(np.int64)
    if days.size < 2 or bool(np.all(days[1:] >= days[:-1])):
        return np.arange(days.size)
    return np.argsort(days, kind="stable")


def _evaluate(
    source: Any,
    ids: Any,
    errors: dict[int, tuple[str, str]],
    explicit: Regime | None,
    quota: QuotaBook | None,
    draws: list[dict[str, Any]] | None,
) -> Run:
    """The one path behind every entry point: check, select regimes, evaluate, report draws."""
    batch = prepare(
        source, errors, explicit_regime=explicit is not None, first_date=first_binding_date()
    )
    batch.ids = ids
    batch.id_of = ids.__getitem__
    result = run(batch, explicit, quota or InMemoryQuotaBook())
    if draws is not None:
        draws.extend(collect_draws(result))
    return result


def decide_records(
    records: Any,
    *,
    regime: str | None = None,
    reform: str | Path | None = None,
    quota: QuotaBook | None = None,
    trace: bool = True,
    draws: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Decide contract §1 transactions; one contract §2 decision or error record per input."""
    from sluicegate.rules.explain import decisions_as_records

    explicit = choose_regime(regime, reform)
    records = list(records)
    key = None
    if len(records) == 1 and memo.enabled():
        # One transaction (the ledger's and the service's usual call): reuse a remembered
        # evaluation when the balances steer the engine down the same path (see ``memo``).
        key = memo.MEMO.key(records[0], explicit, trace, RULES)
        if key is not None:
            hit = memo.MEMO.lookup(key, records[0], quota or InMemoryQuotaBook())
            if hit is not None:
                decision, drawn = hit
                if draws is not None:
                    draws.extend(drawn)
                return [decision]
    source, ids, errors = read_records(records)
    if key is None:
        result = _evaluate(source, ids, errors, explicit, quota, draws)
        return decisions_as_records(result, explicit, trace=trace)
    drawn = []
    result = _evaluate(source, ids, errors, explicit, quota, drawn)
    out = decisions_as_records(result, explicit, trace=trace)
    memo.MEMO.store(key, result, out, drawn)
    if draws is not None:
        draws.extend(drawn)
    return out


def decide_stream(
    records: Any,
    *,
    regime: str | None = None,
    reform: str | Path | None = None,
    quota: QuotaBook | None = None,
    trace: bool = True,
    chunk_size: int = 20_000,
) -> Any:
    """Decide an iterable of records lazily, yielding one output per record in input order.

    Quotas must accumulate in date order across the whole call. While the input arrives in date
    order (as order books usually do) it is decided chunk by chunk with the pools carried over, so
    memory stays bounded by ``chunk_size``; as soon as a record is dated before one already read,
    the rest of the input is held and decided together, so the result is exactly what one call
    over everything would give.
    """
    from sluicegate.rules.engine import InMemoryQuotaBook as Book

    choose_regime(regime, reform)  # fail fast on a bad --regime/--reform
    carried = Book()
    base = quota

    class _Layered:
        def used(self, pool: str) -> float:
            prior = base.used(pool) if base is not None else 0.0
            return prior + carried.used(pool)

    layered = _Layered()
    buffer: list[Any] = []
    latest: str | None = None
    in_order = True

    def flush() -> list[dict[str, Any]]:
        draws: list[dict[str, Any]] = []
        out = decide_records(
            buffer, regime=regime, reform=reform, quota=layered, trace=trace, draws=draws
        )
        for draw in draws:
            carried.add(draw["pool"], draw["amount"])
        buffer.clear()
        return out

    for record in records:
        day = record.get("date") if isinstance(record, dict) else None
        if isinstance(day, str):
            if latest is not None and day < latest:
                in_order = False
            latest = day if latest is None or day > latest else latest
        buffer.append(record)
        if in_order and len(buffer) >= chunk_size:
            yield from flush()
    if buffer:
        yield from flush()


def decide_frame(
    df: pl.DataFrame,
    *,
    regime: str | None = None,
    reform: str | Path | None = None,
    quota: QuotaBook | None = None,
    trace: bool = False,
    draws: list[dict[str, Any]] | None = None,
) -> pl.DataFrame:
    """Decide a flat table (CSV/Parquet layout); one output row per input row, same order."""
    from sluicegate.rules.explain import decisions_as_frame

    explicit = choose_regime(regime, reform)
    source, ids, errors = read_frame(df)
    result = _evaluate(source, ids, errors, explicit, quota, draws)
    return decisions_as_frame(result, explicit, trace=trace)


def collect_draws(result: Run) -> list[dict[str, Any]]:
    """Every quota draw of the call: {"index", "id", "pool", "amount", "limit"} in date order."""
    out = []
    for order, ev in result.parts:
        for trace in ev.pools:
            for k in np.flatnonzero(trace.drawn):
                row = int(order[trace.rows[k]])
                out.append(
                    {
                        "index": row,
                        "id": result.batch.id_of(row),
                        "pool": trace.name(int(k)),
                        "amount": float(trace.amount[k]),
                        "limit": float(trace.limit[k]),
                        "rule": trace.rule,
                    }
                )
    return out


def status_column(result: Run, explicit: Regime | None) -> np.ndarray:
    """Contract status per row: in-force for the default selection, else by date (vectorised)."""
    statuses = np.full(result.batch.n, None, dtype=object)
    dates = result.batch.columns["date"]
    for order, ev in result.parts:
        if explicit is None:
            statuses[order] = "in-force"
            continue
        uniq, inverse = np.unique(dates[order], return_inverse=True)
        labels = np.array([status_for(ev.regime, d.astype(dt.date)) for d in uniq], dtype=object)
        statuses[order] = labels[inverse.ravel()]
    return statuses
