"""The vectorised evaluator: declared rules over columns, Catala-style exceptions, quota pools.

A rule is data about law plus one column expression: its id, the provision of the regime file it
belongs to (a rule is *absent* when its provision is absent), its kind, its condition, the outcome
it sets, its priority and its citation. Evaluation goes in phases — tests, classification, licence
requirements, exceptions (with exceptions to exceptions), review policy, obligations — and records
every rule's truth value per row: that record is the trace. Where two rules of one phase hold on a
row with different outcomes and no priority between them, evaluation stops with
:class:`RuleConflictError` ("first match wins" is never used).

Quotas: an exception or review rule may carry a :class:`Pool`. Rows are processed in date order
(input order on ties); a row draws on the pool only if it fits (``used + amount <= limit``); pools
that never fill are resolved with one cumulative sum, the others row by row from the first row
that does not fit. Balances held before the call come from a :class:`QuotaBook`.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import polars as pl

from sluicegate.regimes.countries import canonical_set, countries, group_table
from sluicegate.regimes.model import Regime

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": op.ge, ">": op.gt, "<=": op.le, "<": op.lt,
}


class RuleConflictError(RuntimeError):
    """Two rules of one phase hold on a row with different outcomes and no declared priority."""

    def __init__(self, phase: str, first: str, second: str, row_ids: list[Any]) -> None:
        self.phase, self.first, self.second, self.row_ids = phase, first, second, row_ids
        super().__init__(
            f"rule conflict in {phase}: {first!r} and {second!r} both hold with different outcomes "
            f"and no priority between them (rows {row_ids[:5]}); declare a priority"
        )


class QuotaBook(Protocol):
    """What a persistent ledger plugs in: how much of a pool is already held."""

    def used(self, pool: str) -> float: ...


class InMemoryQuotaBook:
    """Balances kept in a dict: the default for a single call, or carried across calls."""

    def __init__(self, initial: dict[str, float] | None = None) -> None:
        self.balances: dict[str, float] = dict(initial or {})

    def used(self, pool: str) -> float:
        return self.balances.get(pool, 0.0)

    def add(self, pool: str, amount: float) -> None:
        self.balances[pool] = self.balances.get(pool, 0.0) + amount


@dataclass(frozen=True)
class Pool:
    """A quota a rule draws on. ``key`` gives integer codes plus a code -> pool-name function."""

    name: str
    key: Callable[[Ctx], tuple[np.ndarray, Callable[[int], str]]]
    limit: Callable[[Ctx], np.ndarray]
    amount: Callable[[Ctx], np.ndarray]
    capped: bool = True


@dataclass(frozen=True)
class Rule:
    id: str
    provision: str
    kind: str  # test | classify | require | exception | defeat | review | obligation
    when: Callable[[Ctx], np.ndarray]
    cite: str
    text: str
    value: Any = None
    defines: str | None = None
    priority: int = 0
    defeats: tuple[str, ...] = ()
    pool: Pool | None = None
    params: tuple[str, ...] = ()
    shows: tuple[str, ...] = ()
    exceed_value: Any = None  # review rules with a pool: outcome when the pool would be exceeded
    value_param: str | None = None  # take the outcome from this regime parameter
    straddle_param: str | None = None  # parameter giving the outcome when a draw would cross the limit


PHASES = ("test", "classify", "require", "exception", "defeat", "review", "obligation")


class Ctx:
    """Columns of one batch under one regime, with helpers that read the law as data."""

    def __init__(self, regime: Regime, columns: dict[str, np.ndarray], n: int) -> None:
        self.regime = regime
        self.cols = columns
        self.n = n
        self.tests: dict[str, np.ndarray] = {}
        self.classification = np.full(n, "not-controlled", dtype=object)
        self.license = np.zeros(n, dtype=bool)
        self.authorization = np.full(n, "NLR", dtype=object)
        self.review_policy = np.full(n, None, dtype=object)
        self._groups = group_table()
        self._epoch = self._groups.epoch_of(columns["date"]) if n else np.zeros(0, dtype=np.int64)
        self._cache: dict[Any, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, list[Any]]] = {}

    # values -----------------------------------------------------------
    def col(self, name: str) -> np.ndarray:
        return self.cols[name]

    def p(self, dotted: str) -> Any:
        return self.regime.param(dotted)

    def has(self, provision: str) -> bool:
        return self.regime.has(provision)

    def cmp(self, column: str, dotted: str) -> np.ndarray:
        """Compare a column with a parameter using the parameter's declared operator."""
        meta = self.regime.param_meta(dotted)
        fn = OPERATORS[meta.operator or ">="]
        values = self.cols[column]
        with np.errstate(invalid="ignore"):
            out = fn(values, meta.value)
        return np.asarray(out, dtype=bool) & ~np.isnan(values)

    # countries --------------------------------------------------------
    def _set_vector(self, codes: tuple[str, ...]) -> np.ndarray:
        key = ("set", codes)
        if key not in self._cache:
            reg = countries()
            vec = np.zeros(len(reg.codes), dtype=bool)
            for code in canonical_set(list(codes)):
                if code in reg.index:
                    vec[reg.index[code]] = True
            self._cache[key] = vec
        return self._cache[key]

    def in_groups(self, column: str, groups: list[str] | tuple[str, ...] = (),
                  extra: list[str] | tuple[str, ...] = ()) -> np.ndarray:
        """Is the country in ``column`` a member of any of ``groups`` (as of each row's date) or of
        the explicit list ``extra``?"""
        key = ("in", column, tuple(groups), tuple(extra))
        if key not in self._cache:
            idx = self.cols[column]
            out = np.zeros(self.n, dtype=bool)
            for group in groups:
                gi = self._groups.group_index(group)
                out |= self._groups.table[self._epoch, idx, gi]
            if extra:
                out |= self._set_vector(tuple(extra))[idx]
            self._cache[key] = out
        return self._cache[key]

    def headquartered_in(self, groups: list[str] | tuple[str, ...] = (),
                         extra: list[str] | tuple[str, ...] = ()) -> np.ndarray:
        """'headquartered in, or whose ultimate parent company is headquartered in'"""
        return self.in_groups("hq", groups, extra) | self.in_groups("uphq", groups, extra)

    def wholly_headquartered_in(self, groups: list[str] | tuple[str, ...] = (),
                                extra: list[str] | tuple[str, ...] = ()) -> np.ndarray:
        """Neither the entity nor its ultimate parent is headquartered outside the set."""
        return self.in_groups("hq", groups, extra) & self.in_groups("uphq", groups, extra)

    def country_is(self, column: str, code: str) -> np.ndarray:
        return self.in_groups(column, (), (code,)) if code != "HK" else self.cols[column] == countries().index["HK"]

    # item, transaction ------------------------------------------------
    def cls_in(self, classes: list[str]) -> np.ndarray:
        return np.isin(self.classification, list(classes))

    def kind_in(self, kinds: list[str]) -> np.ndarray:
        from sluicegate.rules.table import KIND_CODE

        return np.isin(self.cols["kind"], [KIND_CODE[k] for k in kinds])

    def category_is(self, *categories: str) -> np.ndarray:
        from sluicegate.rules.table import CATEGORY_CODE

        return np.isin(self.cols["category"], [CATEGORY_CODE[k] for k in categories])

    def end_use_in(self, uses: list[str]) -> np.ndarray:
        from sluicegate.rules.table import END_USE_CODE

        return np.isin(self.cols["end_use"], [END_USE_CODE[u] for u in uses])

    def test(self, name: str) -> np.ndarray:
        return self.tests[name]

    def codes(self, column: str) -> tuple[np.ndarray, list[Any]]:
        """Integer codes for an object column (factorised once), and the code -> value list."""
        if column not in self._codes:
            series = pl.Series(self.cols[column].astype(str))
            uniques = series.unique(maintain_order=True)
            mapping = {v: i for i, v in enumerate(uniques.to_list())}
            code = series.replace_strict(mapping, return_dtype=pl.Int64).to_numpy()
            self._codes[column] = (code, uniques.to_list())
        return self._codes[column]


@dataclass
class PoolTrace:
    """Per-row outcome of one pool rule, for the decision's quota field and the trace."""

    rule: str
    rows: np.ndarray  # row indices considered
    names: list[str]  # pool name per considered row
    limit: np.ndarray
    used_before: np.ndarray
    amount: np.ndarray
    fits: np.ndarray
    drawn: np.ndarray


@dataclass
class Evaluation:
    """Everything one evaluation produced: outcomes per row plus the truth of every rule."""

    regime: Regime
    rules: list[Rule]
    truth: dict[str, np.ndarray]
    classification: np.ndarray
    license: np.ndarray
    authorization: np.ndarray
    review_policy: np.ndarray
    authorizing_rule: np.ndarray
    review_rule: np.ndarray
    ctx: Ctx
    pools: list[PoolTrace] = field(default_factory=list)
    quota_rule: np.ndarray | None = None  # which PoolTrace index fills the quota field, per row
    tier: np.ndarray | None = None


def _resolve_priority(phase: str, rules: list[Rule], holds: dict[str, np.ndarray], n: int,
                      default: Any, ids: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Highest-priority holding rule per row; conflicts among equals with different values."""
    value = np.full(n, default, dtype=object)
    chosen = np.full(n, None, dtype=object)
    best = np.full(n, -np.inf)
    conflict = np.zeros(n, dtype=bool)
    conflict_pair: dict[int, tuple[str, str]] = {}
    for rule in rules:
        h = holds[rule.id]
        same = h & (best == rule.priority) & (value != rule.value)
        if same.any():
            for r in np.flatnonzero(same & ~conflict):
                conflict_pair[int(r)] = (str(chosen[r]), rule.id)
            conflict |= same
        up = h & (rule.priority > best)
        conflict &= ~up
        value[up] = rule.value
        chosen[up] = rule.id
        best[up] = rule.priority
    if conflict.any():
        rows = np.flatnonzero(conflict)
        first, second = conflict_pair[int(rows[0])]
        raise RuleConflictError(phase, first, second, [ids[i] for i in rows])
    return value, chosen


def run_pool(rule: Rule, ctx: Ctx, rows: np.ndarray, book: QuotaBook,
             state: dict[str, float]) -> PoolTrace:
    """Greedy first-come allocation in row order (rows are already in date order)."""
    assert rule.pool is not None
    pool = rule.pool
    if rows.size == 0:
        empty = np.zeros(0)
        return PoolTrace(rule.id, rows, [], empty, empty, empty, np.zeros(0, bool), np.zeros(0, bool))
    all_codes, name_of = pool.key(ctx)
    codes = all_codes[rows]
    limits = np.asarray(pool.limit(ctx), dtype=np.float64)[rows]
    amounts = np.asarray(pool.amount(ctx), dtype=np.float64)[rows]
    uniq, inverse = np.unique(codes, return_inverse=True)
    names_u = [name_of(int(c)) for c in uniq]
    base = np.array([state[nm] if nm in state else book.used(nm) for nm in names_u], dtype=np.float64)
    order = np.argsort(inverse, kind="stable")
    g = inverse[order]
    a = amounts[order]
    lim = limits[order]
    csum = np.cumsum(a)
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    offsets = np.repeat(csum[starts] - a[starts], np.diff(np.r_[starts, g.size]))
    running = base[g] + (csum - offsets)
    fits_sorted = running <= lim if pool.capped else np.ones(g.size, dtype=bool)
    used_sorted = running - a
    if pool.capped and not fits_sorted.all():
        bad_groups = np.unique(g[~fits_sorted])
        bounds = np.r_[starts, g.size]
        for grp in bad_groups:
            s, e = bounds[grp], bounds[grp + 1]
            used = float(base[grp])
            seg_a, seg_l = a[s:e].tolist(), lim[s:e].tolist()
            seg_fit = [False] * (e - s)
            seg_used = [0.0] * (e - s)
            for k in range(e - s):
                seg_used[k] = used
                if used + seg_a[k] <= seg_l[k]:
                    used += seg_a[k]
                    seg_fit[k] = True
            fits_sorted[s:e] = seg_fit
            used_sorted[s:e] = seg_used
    fits = np.empty_like(fits_sorted)
    used_before = np.empty_like(used_sorted)
    fits[order] = fits_sorted
    used_before[order] = used_sorted
    names = [names_u[i] for i in inverse]
    return PoolTrace(rule.id, rows, names, limits, used_before, amounts, fits, fits.copy())


def commit_pool(trace: PoolTrace, state: dict[str, float], book: QuotaBook) -> None:
    for k in np.flatnonzero(trace.drawn):
        name = trace.names[k]
        if name not in state:
            state[name] = book.used(name)
        state[name] += float(trace.amount[k])


def evaluate(regime: Regime, rules: list[Rule], columns: dict[str, np.ndarray], n: int,
             valid: np.ndarray, ids: list[Any], book: QuotaBook,
             state: dict[str, float]) -> Evaluation:
    """Evaluate the rules of ``regime`` over rows that are in date order."""
    active = [
        replace(r, value=regime.param(r.value_param)) if r.value_param else r
        for r in rules
        if r.provision == "*" or regime.has(r.provision)
    ]
    ctx = Ctx(regime, columns, n)
    truth: dict[str, np.ndarray] = {}
    by_phase = {phase: [r for r in active if r.kind == phase] for phase in PHASES}

    for rule in by_phase["test"]:
        value = np.asarray(rule.when(ctx), dtype=bool) & valid
        ctx.tests[rule.defines or rule.id] = value
        truth[rule.id] = value

    for rule in by_phase["classify"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid
    classification, _ = _resolve_priority("classification", by_phase["classify"], truth, n,
                                          "not-controlled", ids)
    ctx.classification = classification

    license_needed = np.zeros(n, dtype=bool)
    for rule in by_phase["require"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid
        license_needed |= truth[rule.id]
    ctx.license = license_needed

    defeated: dict[str, np.ndarray] = {}
    for rule in by_phase["defeat"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid
        for target in rule.defeats:
            defeated[target] = defeated.get(target, np.zeros(n, dtype=bool)) | truth[rule.id]
    eligible: dict[str, np.ndarray] = {}
    for rule in by_phase["exception"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid
        eligible[rule.id] = truth[rule.id] & license_needed & ~defeated.get(rule.id, np.zeros(n, bool))

    authorization = np.where(license_needed, "LICENSE", "NLR").astype(object)
    authorizing_rule = np.full(n, None, dtype=object)
    assigned = np.zeros(n, dtype=bool)
    pools: list[PoolTrace] = []
    quota_rule = np.full(n, -1, dtype=np.int64)
    levels = sorted({r.priority for r in by_phase["exception"]}, reverse=True)
    for level in levels:
        level_rules = [r for r in by_phase["exception"] if r.priority == level]
        for i, first in enumerate(level_rules):
            for second in level_rules[i + 1:]:
                if first.value == second.value:
                    continue
                both = eligible[first.id] & eligible[second.id] & ~assigned
                if both.any():
                    raise RuleConflictError("exceptions", first.id, second.id,
                                            [ids[k] for k in np.flatnonzero(both)])
        for rule in level_rules:
            rows = np.flatnonzero(eligible[rule.id] & ~assigned)
            if rule.pool is not None:
                trace = run_pool(rule, ctx, rows, book, state)
                commit_pool(trace, state, book)
                pools.append(trace)
                take = rows[trace.fits]
                quota_rule[take] = len(pools) - 1
            else:
                take = rows
            authorization[take] = rule.value
            authorizing_rule[take] = rule.id
            assigned[take] = True
    ctx.authorization = authorization

    needs_review = authorization == "LICENSE"
    for rule in by_phase["review"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & needs_review
    review, review_rule = _resolve_priority("review policy", by_phase["review"], truth, n, None, ids)
    for rule in by_phase["review"]:
        if rule.pool is None:
            continue
        rows = np.flatnonzero(review_rule == rule.id)
        trace = run_pool(rule, ctx, rows, book, state)
        straddle = rule.straddle_param and ctx.p(rule.straddle_param)
        if straddle == rule.value and rows.size:
            crossing = ~trace.fits & (trace.used_before < trace.limit)
            trace.drawn = trace.fits | crossing
        commit_pool(trace, state, book)
        pools.append(trace)
        review[rows] = np.where(trace.drawn, rule.value, rule.exceed_value)
        quota_rule[rows] = len(pools) - 1
    ctx.review_policy = review

    for rule in by_phase["obligation"]:
        if rule.pool is not None:
            rows = np.flatnonzero(np.asarray(rule.when(ctx), dtype=bool) & valid)
            trace = run_pool(rule, ctx, rows, book, state)
            commit_pool(trace, state, book)
            pools.append(trace)
            crossed = (trace.used_before < trace.limit) & (trace.used_before + trace.amount >= trace.limit)
            holds = np.zeros(n, dtype=bool)
            holds[rows[crossed]] = True
            truth[rule.id] = holds
        else:
            truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid

    tier = None
    if regime.has("diffusion_tiers"):
        tier = np.where(_tier_of(ctx, "dest", 1), 1, np.where(_tier_of(ctx, "dest", 3), 3, 2))
    return Evaluation(
        regime=regime, rules=active, truth=truth, classification=classification,
        license=license_needed, authorization=authorization, review_policy=review,
        authorizing_rule=authorizing_rule, review_rule=review_rule, ctx=ctx,
        pools=pools, quota_rule=quota_rule, tier=tier,
    )


def _tier_of(ctx: Ctx, column: str, tier: int) -> np.ndarray:
    if tier == 1:
        return ctx.in_groups(column, (), ctx.p("diffusion_tiers.tier1_destinations"))
    return ctx.in_groups(column, ctx.p("diffusion_tiers.tier3_groups"),
                         ctx.p("diffusion_tiers.tier3_extra_destinations"))
