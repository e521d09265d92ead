"""Exact reuse of single-transaction decisions (the ledger's and the service's one-record calls).

Deciding one record through the vectorised engine costs about a millisecond, almost all of it
fixed cost (numpy calls on one-element arrays, the trace text), while a ledger that reserves one
transaction at a time needs far less. Most of a decision does not depend on the quota balances at
all, and what does depends on them in a narrow, known way. So a one-record call remembers its
evaluation under a key made of **every input that can change it**:

* the whole transaction except its ``id`` (exact types and values: ``1`` and ``1.0``, ``0.0``
  and ``-0.0``, a tuple and a list are different keys; anything but JSON-like plain values is
  not remembered at all), and whether the regime was named;
* the regime (its content hash, which covers every provision and parameter, a reform's hash, its
  id and end date) and ``trace``;
* the objects the engine reads its data from (regime registry, country registry and group table,
  chip catalogue, the declared rules): if any of them is rebuilt, everything is forgotten.

The record's ``id`` is checked the way the contract checks it (a string, an integer or absent)
and only written into the copy that is returned.

Quotas are never remembered. A remembered evaluation also keeps the **pool steps** the engine
took: for each quota rule that reached the row, the pool, the amount and the limit (fixed by the
inputs above) and the outcome of every comparison the engine makes with the balance (``used +
this <= limit``, ``used < limit``, ``used + this >= limit``). A later call reads the current
balances from its ``QuotaBook`` in the same order the engine would, recomputes those comparisons,
and reuses the evaluation only if every outcome is the same — in which case the engine would take
exactly the same path. The figures that carry the balance (the decision's ``quota`` field and the
trace notes of the quota rules) are then rendered again by the same functions as the batch path
(``explain._quota`` / ``explain._note``). Any other outcome falls through to the full engine, whose
result is remembered beside the first. ``tests/rules/test_memo.py`` checks the identity with
hypothesis against the batch path on generated transactions and balances, and runs the law cases
through both paths.

``SLUICE_RULES_MEMO=0`` turns it off (every call then takes the batch path).
"""

from __future__ import annotations

import marshal
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from sluicegate.regimes.catalogue import catalogue
from sluicegate.regimes.countries import countries, group_table
from sluicegate.regimes.loader import regimes
from sluicegate.regimes.model import Regime
from sluicegate.rules.engine import Evaluation, PoolTrace, QuotaBook

MAX_ENTRIES = 1024
MAX_PATHS_PER_KEY = 8


def enabled() -> bool:
    return os.environ.get("SLUICE_RULES_MEMO", "1") != "0"


# ------------------------------------------------------------------ keys


class _Unkeyable(Exception):
    pass


_SCALARS = (str, int, bool, type(None))


def _freeze(value: Any) -> Any:
    """A hashable image of a JSON-like value that tells apart every pair of values the engine
    could treat differently (types are exact: no subclasses, no tuples, no numpy scalars)."""
    kind = type(value)
    if kind in _SCALARS:
        return (kind.__name__, value)
    if kind is float:
        return ("float", value.hex() if math.isfinite(value) else repr(value))
    if kind is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                raise _Unkeyable
            items.append((k, _freeze(v)))
        items.sort(key=lambda kv: kv[0])
        return ("dict", tuple(items))
    if kind is list:
        return ("list", tuple(_freeze(v) for v in value))
    raise _Unkeyable


def record_key(record: Any) -> tuple[Any, ...] | None:
    """The record's key without its id, or None when it cannot be remembered."""
    if type(record) is not dict:
        return None
    rid = record.get("id")
    if type(rid) not in (str, int, type(None)):
        return None  # left to the contract's validation on the batch path
    try:
        return tuple(sorted((k, _freeze(v)) for k, v in record.items() if k != "id"))
    except (_Unkeyable, TypeError):
        return None


def regime_key(explicit: Regime | None) -> tuple[Any, ...]:
    if explicit is None:
        return ("by-date",)
    return (
        explicit.id,
        explicit.content_hash,
        explicit.reform_hash,
        explicit.reform_of,
        explicit.end,
        explicit.binding,
    )


def _sources(rules: list[Any]) -> tuple[Any, ...]:
    """What the engine reads besides the call's arguments: the data registries (the loaders
    cache them, so a reload yields new objects) and the list of declared rules."""
    return (regimes(), countries(), group_table(), catalogue(), rules)


# ------------------------------------------------------------------ one-row pool arithmetic


def one_row_pool(base: float, amount: float, limit: float, capped: bool) -> tuple[bool, float]:
    """``engine.run_pool`` for a single row: (fits, used_before), with the same float operations
    (``tests/rules/test_memo.py`` checks it against ``run_pool``)."""
    running = base + amount
    if not capped:
        return True, running - amount
    if running <= limit:
        return True, running - amount
    return False, base


def outcome(used_before: float, amount: float, limit: float, fits: bool) -> tuple[bool, bool, bool]:
    """Every comparison of a balance that steers the engine (the run_pool fit, the straddle test
    of a review pool, the crossing test of an obligation pool)."""
    return (
        bool(fits),
        bool(used_before < limit),
        bool(used_before + amount >= limit),
    )


@dataclass(frozen=True)
class _Step:
    trace_index: int  # index into Evaluation.pools
    name: str
    amount: float
    limit: float
    capped: bool
    drawn: bool
    outcome: tuple[bool, bool, bool]


@dataclass(frozen=True)
class _Path:
    steps: tuple[_Step, ...]
    evaluation: Evaluation
    pool_index: Any  # explain._PoolIndex of the evaluation
    pool_rules: tuple[int, ...]  # indices into evaluation.rules whose notes carry balances
    decision: bytes  # marshalled decision (id None): every use gets its own copy
    draws: tuple[dict[str, Any], ...]


class DecisionMemo:
    """LRU of remembered one-record evaluations (thread-safe)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], list[_Path]] = OrderedDict()
        self._sources: tuple[Any, ...] | None = None
        self._rules_kept: tuple[Any, ...] = ()
        self._rule_ids: list[int] = []
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._sources = None
            self.hits = self.misses = 0

    def key(
        self, record: Any, explicit: Regime | None, trace: bool, rules: list[Any]
    ) -> tuple[Any, ...] | None:
        rkey = record_key(record)
        if rkey is None:
            return None
        sources = _sources(rules)
        rule_ids = list(map(id, rules))  # a rule replaced in place changes these, not the list
        with self._lock:
            current = self._sources
            if (
                current is None
                or any(a is not b for a, b in zip(current, sources, strict=True))
                or rule_ids != self._rule_ids
            ):
                # Data or rules were reloaded: nothing remembered can be trusted any more. The
                # objects compared stay referenced here, so their ids cannot be reused.
                self._entries.clear()
                self._sources = sources
                self._rules_kept = tuple(rules)
                self._rule_ids = rule_ids
        return (regime_key(explicit), bool(trace), rkey)

    # -------------------------------------------------------------- lookup
    def lookup(
        self, key: tuple[Any, ...], record: dict[str, Any], book: QuotaBook
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The decision and draws the engine would give with this book, or None."""
        with self._lock:
            paths = self._entries.get(key)
            if paths is not None:
                self._entries.move_to_end(key)
        if not paths:
            self.misses += 1
            return None
        candidates = list(paths)
        state: dict[str, float] = {}
        seen: list[tuple[float, float]] = []  # (base, used_before) per step
        depth = 0
        while True:
            finished = [p for p in candidates if len(p.steps) == depth]
            if finished:
                self.hits += 1
                return self._render(finished[0], seen, record.get("id"))
            step = candidates[0].steps[depth]
            if step.name in state:
                base = state[step.name]
            else:
                base = float(book.used(step.name))
            fits, used_before = one_row_pool(base, step.amount, step.limit, step.capped)
            result = outcome(used_before, step.amount, step.limit, fits)
            candidates = [p for p in candidates if p.steps[depth].outcome == result]
            if not candidates:
                self.misses += 1
                return None
            chosen = candidates[0].steps[depth]
            # engine.commit_pool: the pool's balance plus the bincount of what was drawn
            state[step.name] = base + (0.0 + step.amount if chosen.drawn else 0.0)
            seen.append((base, used_before))
            depth += 1

    def _render(
        self, path: _Path, seen: list[tuple[float, float]], rid: Any
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from sluicegate.rules.explain import _note, _quota

        ev = path.evaluation
        pools = list(ev.pools)
        for step, (base, used_before) in zip(path.steps, seen, strict=True):
            trace = pools[step.trace_index]
            pools[step.trace_index] = _clone(
                trace,
                base=np.array([base], dtype=np.float64),
                used_before=np.array([used_before], dtype=np.float64),
            )
        patched = _clone(ev, pools=pools)
        decision = marshal.loads(path.decision)
        decision["id"] = rid
        decision["quota"] = _quota(patched, 0)
        if decision["trace"]:
            for i in path.pool_rules:
                decision["trace"][i]["note"] = _note(patched, i, ev.rules[i], 0, path.pool_index)
        draws = []
        for draw in path.draws:
            draw = dict(draw)
            draw["id"] = rid
            draws.append(draw)
        return decision, draws

    # -------------------------------------------------------------- store
    def store(
        self,
        key: tuple[Any, ...],
        result: Any,
        decisions: list[dict[str, Any]],
        draws: list[dict[str, Any]],
    ) -> None:
        """Remember a one-record evaluation (``decide.Run``) and its decision, when it is one."""
        from sluicegate.rules.explain import _PoolIndex

        if len(decisions) != 1 or "error" in decisions[0] or len(result.parts) != 1:
            return
        order, ev = result.parts[0]
        if len(order) != 1 or int(order[0]) != 0:
            return
        steps = []
        for index, trace in enumerate(ev.pools):
            if trace.rows.size == 0:
                continue
            if trace.rows.size != 1 or len(trace.pool_names) != 1:
                return
            pool = ev.rules[_rule_position(ev, trace)].pool
            assert pool is not None
            amount = float(trace.amount[0])
            limit = float(trace.limit[0])
            used_before = float(trace.used_before[0])
            steps.append(
                _Step(
                    trace_index=index,
                    name=trace.pool_names[0],
                    amount=amount,
                    limit=limit,
                    capped=pool.capped,
                    drawn=bool(trace.drawn[0]),
                    outcome=outcome(used_before, amount, limit, bool(trace.fits[0])),
                )
            )
        pool_index = _PoolIndex(ev)
        # The rules whose trace note shows a balance: quota rules that reached the row.
        pool_rules = tuple(
            i
            for i, rule in enumerate(ev.rules)
            if rule.pool is not None
            and rule.id in pool_index.by_rule
            and 0 in pool_index.by_rule[rule.id][1]
        )
        # Keep only what explain._quota and explain._note read for those rules.
        shows = {c for i in pool_rules for c in ev.rules[i].shows}
        slim = _clone(
            ev,
            ctx=SimpleNamespace(cols={c: ev.ctx.cols[c] for c in shows}),
            truth={ev.rules[i].id: ev.truth[ev.rules[i].id] for i in pool_rules},
        )
        try:
            decision = marshal.dumps({**decisions[0], "id": None})
        except ValueError:  # not plain data (cannot be copied faithfully): not remembered
            return
        path = _Path(
            steps=tuple(steps),
            evaluation=slim,
            pool_index=pool_index,
            pool_rules=pool_rules,
            decision=decision,
            draws=tuple(dict(d, id=None) for d in draws),
        )
        with self._lock:
            paths = self._entries.get(key)
            if paths is None:
                paths = self._entries[key] = []
            outcomes = [tuple(s.outcome for s in p.steps) for p in paths]
            if tuple(s.outcome for s in path.steps) not in outcomes:
                paths.append(path)
                del paths[:-MAX_PATHS_PER_KEY]
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _clone(obj: Any, **changes: Any) -> Any:
    """A shallow copy of a dataclass instance with some fields replaced (no __init__ run)."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


def _rule_position(ev: Evaluation, trace: PoolTrace) -> int:
    for i, rule in enumerate(ev.rules):
        if rule.id == trace.rule:
            return i
    raise KeyError(trace.rule)


MEMO = DecisionMemo()
