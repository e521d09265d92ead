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

from sluicegate.regimes.countries import canonical_set, countries, group_table
from sluicegate.regimes.model import Regime
from sluicegate.rules.vocab import AUTH_CODE, CLASS_CODE, REVIEW_CODE

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": op.ge,
    ">": op.gt,
    "<=": op.le,
    "<": op.lt,
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
    straddle_param: str | None = (
        None  # parameter giving the outcome when a draw would cross the limit
    )


PHASES = ("test", "classify", "require", "exception", "defeat", "review", "obligation")


class Ctx:
    """Columns of one batch under one regime, with helpers that read the law as data."""

    def __init__(
        self,
        regime: Regime,
        columns: dict[str, np.ndarray],
        n: int,
        consignees: list[str] | None = None,
    ) -> None:
        self.regime = regime
        self.cols = columns
        self.n = n
        self.consignees = consignees or []
        self.tests: dict[str, np.ndarray] = {}
        self.classification = np.zeros(n, dtype=np.int8)  # vocab.CLASSIFICATIONS codes
        self.license = np.zeros(n, dtype=bool)
        self.authorization = np.zeros(n, dtype=np.int8)  # vocab.AUTHORIZATIONS codes
        self.review_policy = np.zeros(n, dtype=np.int8)  # vocab.REVIEW_POLICIES codes
        self._groups = group_table()
        self._epoch = self._groups.epoch_of(columns["date"]) if n else np.zeros(0, dtype=np.int64)
        self._cache: dict[Any, np.ndarray] = {}
        self._params: dict[str, Any] = {}

    # values -----------------------------------------------------------
    def col(self, name: str) -> np.ndarray:
        return self.cols[name]

    def p(self, dotted: str) -> Any:
        """A parameter of the regime (``provision.parameter``)."""
        try:
            return self._params[dotted]
        except KeyError:
            value = self._params[dotted] = self.regime.param(dotted)
            return value

    def has(self, provision: str) -> bool:
        return self.regime.has(provision)

    def cmp(self, column: str, dotted: str) -> np.ndarray:
        """Compare a column with a parameter using the parameter's declared operator."""
        meta = self.regime.param_meta(dotted)
        fn = OPERATORS[meta.operator or ">="]
        values = self.cols[column]
        with np.errstate(invalid="ignore"):
            out = fn(values, self.p(dotted))
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

    def in_groups(
        self,
        column: str,
        groups: list[str] | tuple[str, ...] = (),
        extra: list[str] | tuple[str, ...] = (),
    ) -> np.ndarray:
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

    def headquartered_in(
        self, groups: list[str] | tuple[str, ...] = (), extra: list[str] | tuple[str, ...] = ()
    ) -> np.ndarray:
        """'headquartered in, or whose ultimate parent company is headquartered in'"""
        return self.in_groups("hq", groups, extra) | self.in_groups("uphq", groups, extra)

    def wholly_headquartered_in(
        self, groups: list[str] | tuple[str, ...] = (), extra: list[str] | tuple[str, ...] = ()
    ) -> np.ndarray:
        """Neither the entity nor its ultimate parent is headquartered outside the set."""
        return self.in_groups("hq", groups, extra) & self.in_groups("uphq", groups, extra)

    def country_is(self, column: str, code: str) -> np.ndarray:
        """The country in ``column`` is ``code`` (as the EAR reads it: CN includes HK)."""
        return self.in_groups(column, (), (code,))

    # item, transaction ------------------------------------------------
    def _member(self, values: np.ndarray, codes: list[int], size: int) -> np.ndarray:
        key = ("member", id(values), tuple(codes))
        if key not in self._cache:
            table = np.zeros(size, dtype=bool)
            table[codes] = True
            self._cache[key] = table[values]
        return self._cache[key]

    def cls_in(self, classes: list[str]) -> np.ndarray:
        return self._member(self.classification, [CLASS_CODE[c] for c in classes], len(CLASS_CODE))

    def auth_in(self, authorizations: list[str]) -> np.ndarray:
        return self._member(
            self.authorization, [AUTH_CODE[a] for a in authorizations], len(AUTH_CODE)
        )

    def review_in(self, policies: list[str]) -> np.ndarray:
        return self._member(
            self.review_policy, [REVIEW_CODE[p] for p in policies], len(REVIEW_CODE)
        )

    def kind_in(self, kinds: list[str]) -> np.ndarray:
        from sluicegate.rules.table import KIND_CODE

        return self._member(self.cols["kind"], [KIND_CODE[k] for k in kinds], len(KIND_CODE))

    def category_is(self, *categories: str) -> np.ndarray:
        from sluicegate.rules.table import CATEGORY_CODE

        return self._member(
            self.cols["category"], [CATEGORY_CODE[k] for k in categories], len(CATEGORY_CODE)
        )

    def end_use_in(self, uses: list[str]) -> np.ndarray:
        from sluicegate.rules.table import END_USE_CODE

        return self._member(
            self.cols["end_use"], [END_USE_CODE[u] for u in uses], len(END_USE_CODE)
        )

    def test(self, name: str) -> np.ndarray:
        return self.tests[name]

    def consignee_codes(self) -> tuple[np.ndarray, list[str]]:
        """Integer code of each row's consignee, and the code -> consignee name list."""
        return self.cols["consignee"], self.consignees


@dataclass
class PoolTrace:
    """Per-row outcome of one pool rule, for the decision's quota field and the trace."""

    rule: str
    rows: np.ndarray  # row indices considered
    pool_names: list[str]  # distinct pools touched
    inverse: np.ndarray  # pool of each considered row (index into pool_names)
    base: np.ndarray  # balance of each distinct pool before this rule ran
    limit: np.ndarray
    used_before: np.ndarray
    amount: np.ndarray
    fits: np.ndarray
    drawn: np.ndarray

    def name(self, k: int) -> str:
        return self.pool_names[int(self.inverse[k])]


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
    authorizing_rule: np.ndarray  # index into ``rules`` of the exception relied on, -1 none
    review_rule: np.ndarray  # index into ``rules`` of the review rule chosen, -1 none
    classify_rule: np.ndarray  # index into ``rules`` of the classification rule chosen, -1 none
    ctx: Ctx
    pools: list[PoolTrace] = field(default_factory=list)
    quota_rule: np.ndarray | None = None  # which PoolTrace index fills the quota field, per row
    tier: np.ndarray | None = None


def _resolve_priority(
    phase: str,
    rules: list[Rule],
    holds: dict[str, np.ndarray],
    n: int,
    vocabulary: dict[str, int],
    id_of: Callable[[int], Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Highest-priority holding rule per row (codes), and which rule; conflicts among equals
    with different outcomes raise :class:`RuleConflictError`."""
    value = np.full(n, vocabulary.get("not-controlled", vocabulary.get("", 0)), dtype=np.int8)
    chosen = np.full(n, -1, dtype=np.int16)  # index into ``rules``
    best = np.full(n, -np.inf)
    conflict = np.zeros(n, dtype=bool)
    conflict_pair: dict[int, tuple[str, str]] = {}
    for index, rule in enumerate(rules):
        h = holds[rule.id]
        code = vocabulary[rule.value]
        same = h & (best == rule.priority) & (value != code)
        if same.any():
            for r in np.flatnonzero(same & ~conflict):
                conflict_pair[int(r)] = (rules[int(chosen[r])].id, rule.id)
            conflict |= same
        up = h & (rule.priority > best)
        conflict &= ~up
        value[up] = code
        chosen[up] = index
        best[up] = rule.priority
    if conflict.any():
        rows = np.flatnonzero(conflict)
        first, second = conflict_pair[int(rows[0])]
        raise RuleConflictError(phase, first, second, [id_of(int(i)) for i in rows])
    return value, chosen


def _to_active(chosen: np.ndarray, rules: list[Rule], position: dict[int, int]) -> np.ndarray:
    """Map indices into a phase's rules to indices into all active rules (-1 stays -1)."""
    lookup = np.array([position[id(r)] for r in rules] + [-1], dtype=np.int16)
    return lookup[np.where(chosen < 0, len(rules), chosen)]


_COMPILED: dict[
    tuple[str, tuple[int, ...]], tuple[list[Rule], dict[str, list[Rule]], dict[int, int]]
] = {}


def _compile(
    regime: Regime, rules: list[Rule]
) -> tuple[list[Rule], dict[str, list[Rule]], dict[int, int]]:
    """The rules a regime has (its provisions), by phase, with positions; computed once per regime."""
    key = (regime.content_hash, tuple(id(r) for r in rules))
    if key not in _COMPILED:
        active = [
            replace(r, value=regime.param(r.value_param)) if r.value_param else r
            for r in rules
            if r.provision == "*" or regime.has(r.provision)
        ]
        by_phase = {phase: [r for r in active if r.kind == phase] for phase in PHASES}
        position = {id(r): i for i, r in enumerate(active)}
        _COMPILED[key] = (active, by_phase, position)
    return _COMPILED[key]


def run_pool(
    rule: Rule, ctx: Ctx, rows: np.ndarray, book: QuotaBook, state: dict[str, float]
) -> PoolTrace:
    """Greedy first-come allocation in row order (rows are already in date order)."""
    assert rule.pool is not None
    pool = rule.pool
    if rows.size == 0:
        empty = np.zeros(0)
        return PoolTrace(
            rule.id,
            rows,
            [],
            np.zeros(0, np.int64),
            empty,
            empty,
            empty,
            empty,
            np.zeros(0, bool),
            np.zeros(0, bool),
        )
    all_codes, name_of = pool.key(ctx)
    codes = all_codes[rows]
    limits = np.asarray(pool.limit(ctx), dtype=np.float64)[rows]
    amounts = np.asarray(pool.amount(ctx), dtype=np.float64)[rows]
    uniq, inverse = np.unique(codes, return_inverse=True)
    inverse = inverse.ravel()
    names_u = [name_of(int(c)) for c in uniq]
    base = np.array(
        [state[nm] if nm in state else book.used(nm) for nm in names_u], dtype=np.float64
    )
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
        # Pools that fill up: first come, first served, row by row within each pool. All such
        # pools advance together, one position per round, so the work is vectorised over pools.
        bounds = np.r_[starts, g.size]
        bad = np.zeros(len(starts), dtype=bool)
        bad[g[~fits_sorted]] = True
        in_bad = bad[g]
        position = np.arange(g.size) - bounds[g]
        used = base.astype(np.float64).copy()
        rows_bad = np.flatnonzero(in_bad)
        by_round = rows_bad[np.argsort(position[rows_bad], kind="stable")]
        round_of = position[by_round]
        cuts = np.r_[0, np.flatnonzero(np.diff(round_of)) + 1, by_round.size]
        for k in range(len(cuts) - 1):
            idx = by_round[cuts[k] : cuts[k + 1]]  # at most one row per pool in a round
            grp = g[idx]
            before = used[grp]
            ok = before + a[idx] <= lim[idx]
            used_sorted[idx] = before
            fits_sorted[idx] = ok
            used[grp[ok]] = before[ok] + a[idx][ok]
    fits = np.empty_like(fits_sorted)
    used_before = np.empty_like(used_sorted)
    fits[order] = fits_sorted
    used_before[order] = used_sorted
    return PoolTrace(
        rule.id, rows, names_u, inverse, base, limits, used_before, amounts, fits, fits.copy()
    )


def commit_pool(trace: PoolTrace, state: dict[str, float], book: QuotaBook) -> None:
    """Carry the pools' new balances forward to later rules and regimes of the same call."""
    if not trace.rows.size:
        return
    sums = np.bincount(
        trace.inverse,
        weights=np.where(trace.drawn, trace.amount, 0.0),
        minlength=len(trace.pool_names),
    )
    for u, name in enumerate(trace.pool_names):
        state[name] = float(trace.base[u] + sums[u])


def evaluate(
    regime: Regime,
    rules: list[Rule],
    columns: dict[str, np.ndarray],
    n: int,
    valid: np.ndarray,
    ids: Any,
    book: QuotaBook,
    state: dict[str, float],
    consignees: list[str] | None = None,
    rank: np.ndarray | None = None,
) -> Evaluation:
    """Evaluate the rules of ``regime`` over rows that are in date order.

    ``ids(row)`` (or a list) names rows in conflict errors."""
    active, by_phase, position = _compile(regime, rules)
    ctx = Ctx(regime, columns, n, consignees)
    date_order = np.arange(n) if rank is None else np.argsort(rank)

    def in_date_order(mask: np.ndarray) -> np.ndarray:
        """Indices of the rows where ``mask`` holds, in date order (one pass, no sort)."""
        return date_order[mask[date_order]]

    id_of = ids if callable(ids) else (lambda r: ids[r])
    truth: dict[str, np.ndarray] = {}

    for rule in by_phase["test"]:
        value = np.asarray(rule.when(ctx), dtype=bool) & valid
        ctx.tests[rule.defines or rule.id] = value
        truth[rule.id] = value

    for rule in by_phase["classify"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid
    classification, classify_rule = _resolve_priority(
        "classification", by_phase["classify"], truth, n, CLASS_CODE, id_of
    )
    ctx.classification = classification
    classify_rule = _to_active(classify_rule, by_phase["classify"], position)

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
        eligible[rule.id] = (
            truth[rule.id] & license_needed & ~defeated.get(rule.id, np.zeros(n, bool))
        )

    authorization = np.where(license_needed, AUTH_CODE["LICENSE"], AUTH_CODE["NLR"]).astype(np.int8)
    authorizing_rule = np.full(n, -1, dtype=np.int16)  # index into active rules
    assigned = np.zeros(n, dtype=bool)
    pools: list[PoolTrace] = []
    quota_rule = np.full(n, -1, dtype=np.int64)
    levels = sorted({r.priority for r in by_phase["exception"]}, reverse=True)
    for level in levels:
        level_rules = [r for r in by_phase["exception"] if r.priority == level]
        for i, first in enumerate(level_rules):
            for second in level_rules[i + 1 :]:
                if first.value == second.value:
                    continue
                both = eligible[first.id] & eligible[second.id] & ~assigned
                if both.any():
                    raise RuleConflictError(
                        "exceptions", first.id, second.id, [id_of(k) for k in np.flatnonzero(both)]
                    )
        for rule in level_rules:
            rows = np.flatnonzero(eligible[rule.id] & ~assigned)
            if rule.pool is not None:
                rows = in_date_order(eligible[rule.id] & ~assigned)
                trace = run_pool(rule, ctx, rows, book, state)
                commit_pool(trace, state, book)
                pools.append(trace)
                take = rows[trace.fits]
                quota_rule[take] = len(pools) - 1
            else:
                take = rows
            authorization[take] = AUTH_CODE[rule.value]
            authorizing_rule[take] = position[id(rule)]
            assigned[take] = True
    ctx.authorization = authorization

    needs_review = authorization == AUTH_CODE["LICENSE"]
    for rule in by_phase["review"]:
        truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & needs_review
    review, review_rule = _resolve_priority(
        "review policy", by_phase["review"], truth, n, REVIEW_CODE, id_of
    )
    review_rule = _to_active(review_rule, by_phase["review"], position)
    for rule in by_phase["review"]:
        if rule.pool is None:
            continue
        rows = in_date_order(review_rule == position[id(rule)])
        trace = run_pool(rule, ctx, rows, book, state)
        straddle = rule.straddle_param and ctx.p(rule.straddle_param)
        if straddle == rule.value and rows.size:
            crossing = ~trace.fits & (trace.used_before < trace.limit)
            trace.drawn = trace.fits | crossing
        commit_pool(trace, state, book)
        pools.append(trace)
        review[rows] = np.where(
            trace.drawn, REVIEW_CODE[rule.value], REVIEW_CODE[rule.exceed_value]
        )
        quota_rule[rows] = len(pools) - 1
    ctx.review_policy = review

    for rule in by_phase["obligation"]:
        if rule.pool is not None:
            rows = in_date_order(np.asarray(rule.when(ctx), dtype=bool) & valid)
            trace = run_pool(rule, ctx, rows, book, state)
            commit_pool(trace, state, book)
            pools.append(trace)
            crossed = (trace.used_before < trace.limit) & (
                trace.used_before + trace.amount >= trace.limit
            )
            holds = np.zeros(n, dtype=bool)
            holds[rows[crossed]] = True
            truth[rule.id] = holds
        else:
            truth[rule.id] = np.asarray(rule.when(ctx), dtype=bool) & valid

    tier = None
    if regime.has("diffusion_tiers"):
        tier = np.where(_tier_of(ctx, "dest", 1), 1, np.where(_tier_of(ctx, "dest", 3), 3, 2))
    return Evaluation(
        regime=regime,
        rules=active,
        truth=truth,
        classification=classification,
        license=license_needed,
        authorization=authorization,
        review_policy=review,
        authorizing_rule=authorizing_rule,
        review_rule=review_rule,
        classify_rule=classify_rule,
        ctx=ctx,
        pools=pools,
        quota_rule=quota_rule,
        tier=tier,
    )


def _tier_of(ctx: Ctx, column: str, tier: int) -> np.ndarray:
    if tier == 1:
        return ctx.in_groups(column, (), ctx.p("diffusion_tiers.tier1_destinations"))
    return ctx.in_groups(
        column,
        ctx.p("diffusion_tiers.tier3_groups"),
        ctx.p("diffusion_tiers.tier3_extra_destinations"),
    )
