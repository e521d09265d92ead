"""Assemble decisions from an evaluation: contract JSON with trace, or a flat output table.

Both shapes read the same arrays the evaluator produced. The trace lists every rule of the regime
in evaluation order with whether it held, its citation and a note showing the values it read;
``citations`` lists the rules that decided the outcome (every test and requirement that held, the
winning classification, the exception relied on, the review policy chosen, the obligations).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import polars as pl

from sluicegate.regimes.catalogue import H100_TPP
from sluicegate.regimes.countries import countries
from sluicegate.regimes.model import Regime
from sluicegate.rules.decide import Run, status_column
from sluicegate.rules.engine import Evaluation, Rule
from sluicegate.rules.vocab import AUTH_CODE, AUTHORIZATIONS, CLASSIFICATIONS, REVIEW_POLICIES

ASSUMPTIONS = {
    "datacenter_assumed": (
        "classification_3a090_2023",
        "item.datacenter not given and not in the catalogue: assumed designed or "
        "marketed for datacenters (the stricter reading)",
    ),
    "pd_unknown": (
        "classification_3a090_2023",
        "performance density unknown (give item.die_area_mm2 or "
        "item.performance_density): the density tests 3A090.a.2 and .b were evaluated "
        "as not met",
    ),
    "interconnect_unknown": (
        "classification_3a090_2022",
        "interconnect unknown (give item.interconnect_gbs): the 2022 I/O prong "
        "was evaluated as not met",
    ),
    "designer_assumed": (
        "aia",
        "item.approved_designer not given: assumed designed by an approved "
        "or authorized IC designer (AIA condition, 90 FR 5298)",
    ),
    "consignee_unidentified": (
        "lpp",
        "no consignee id or name: quotas counted under 'unidentified@<destination>'",
    ),
    "mem_bw_unknown": (
        "china_review_lane",
        "memory bandwidth unknown (give "
        "item.memory_bandwidth_gbs): the case-by-case lane's DRAM test was "
        "evaluated as not met",
    ),
}

SHOW_LABEL = {
    "pd": "performance_density",
    "mem_bw": "memory_bandwidth_gbs",
    "interconnect": "interconnect_gbs",
    "hbm_density": "hbm_bandwidth_density",
    "loc": "consignee.country",
    "hq": "consignee.headquarters",
    "uphq": "consignee.ultimate_parent_headquarters",
    "dest": "destination",
    "storage_ok": "consignee.storage_meets_supp10",
}
COUNTRY_COLUMNS = {"dest", "loc", "hq", "uphq", "origin"}


def _num(value: float | None) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "unknown"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _show(ev: Evaluation, column: str, row: int) -> str:
    from sluicegate.rules.table import END_USES, KINDS

    value = ev.ctx.cols[column][row]
    if column in COUNTRY_COLUMNS:
        value = countries().codes[int(value)]
    elif column == "kind":
        value = KINDS[int(value)]
    elif column == "end_use":
        value = END_USES[int(value)]
    elif isinstance(value, np.bool_):
        value = bool(value)
    elif isinstance(value, np.floating):
        value = float(value)
    return f"{SHOW_LABEL.get(column, column)}={_fmt(value)}"


def _param_note(regime: Regime, dotted: str) -> str:
    meta = regime.param_meta(dotted)
    name = dotted.split(".", 1)[1]
    if meta.series:
        return f"{name} from dated series {meta.series}"
    value = meta.value
    if isinstance(value, list):
        shown = ", ".join(str(v) if not isinstance(v, dict) else "…" for v in value[:8])
        more = f" (+{len(value) - 8})" if len(value) > 8 else ""
        return f"{name} = [{shown}{more}]"
    return f"{name} {meta.operator or '='} {_fmt(value)}"


class _PoolIndex:
    """Per evaluation: for each pool rule, the position of each row in its PoolTrace."""

    def __init__(self, ev: Evaluation) -> None:
        self.by_rule: dict[str, tuple[int, dict[int, int]]] = {}
        for i, trace in enumerate(ev.pools):
            self.by_rule[trace.rule] = (i, {int(r): k for k, r in enumerate(trace.rows)})


def _rule_id(ev: Evaluation, index: int) -> str | None:
    return None if index < 0 else ev.rules[index].id


def _cited(ev: Evaluation, index: int, rule: Rule, row: int) -> bool:
    if not ev.truth[rule.id][row]:
        return False
    if rule.kind == "classify":
        return int(ev.classify_rule[row]) == index
    if rule.kind == "exception":
        return int(ev.authorizing_rule[row]) == index
    if rule.kind == "review":
        return int(ev.review_rule[row]) == index
    return True


def _note(ev: Evaluation, index: int, rule: Rule, row: int, pools: _PoolIndex) -> str:
    parts = [_show(ev, s, row) for s in rule.shows]
    parts += [_param_note(ev.regime, p) for p in rule.params]
    holds = bool(ev.truth[rule.id][row])
    if rule.pool is not None and rule.id in pools.by_rule:
        i, pos = pools.by_rule[rule.id]
        if row in pos:
            t, k = ev.pools[i], pos[row]
            verdict = "fits" if t.fits[k] else "would exceed the limit"
            if rule.kind == "obligation":
                verdict = "reaches the trigger" if holds else "below the trigger or already reached"
            parts.append(
                f"{t.name(k)}: used {_fmt(float(t.used_before[k]))} + this "
                f"{_fmt(float(t.amount[k]))} vs limit {_fmt(float(t.limit[k]))}: {verdict}"
            )
    if rule.kind == "exception" and holds:
        relied = int(ev.authorizing_rule[row])
        if not ev.license[row]:
            parts.append("not needed: no licence requirement applies")
        elif relied == index:
            parts.append("relied on")
        elif rule.pool is not None and ev.authorization[row] == AUTH_CODE["LICENSE"]:
            parts.append("not available for this shipment")
        else:
            parts.append(
                f"eligible but not relied on: {_rule_id(ev, relied) or 'a defeating rule'} "
                "takes precedence"
            )
    if rule.kind == "review" and holds:
        chosen = int(ev.review_rule[row])
        parts.append(
            f"chosen: {REVIEW_POLICIES[ev.review_policy[row]]}"
            if chosen == index
            else f"overridden by {_rule_id(ev, chosen)}"
        )
    if rule.kind == "classify" and holds and int(ev.classify_rule[row]) != index:
        parts.append(f"overridden: classification is {CLASSIFICATIONS[ev.classification[row]]}")
    return "; ".join(parts)


def _obligation_items(ev: Evaluation, row: int) -> list[dict[str, Any]]:
    items = []
    for rule in ev.rules:
        if rule.kind == "obligation" and ev.truth[rule.id][row]:
            item = rule.value(ev.ctx) if callable(rule.value) else dict(rule.value)
            item.setdefault("cite", rule.cite)
            items.append(item)
    return items


def _quota(ev: Evaluation, row: int) -> dict[str, Any] | None:
    assert ev.quota_rule is not None
    i = int(ev.quota_rule[row])
    if i < 0:
        return None
    t = ev.pools[i]
    k = int(np.flatnonzero(t.rows == row)[0])
    drawn = bool(t.drawn[k])
    used, amount, limit = float(t.used_before[k]), float(t.amount[k]), float(t.limit[k])
    return {
        "pool": t.name(k),
        "limit": _num(limit),
        "used_before": _num(used),
        "this": _num(amount),
        "remaining_after": _num(limit - used - (amount if drawn else 0.0)),
        "drawn": drawn,
    }


def _assumptions(
    ev: Evaluation, batch_assumptions: dict[str, np.ndarray], sub_row: int
) -> list[str]:
    out = []
    for key, (provision, text) in ASSUMPTIONS.items():
        if ev.regime.has(provision) and batch_assumptions[key][sub_row]:
            out.append(text)
    return out


def decisions_as_records(
    result: Run, explicit: Regime | None, *, trace: bool
) -> list[dict[str, Any]]:
    batch = result.batch
    out: list[dict[str, Any] | None] = [None] * batch.n
    statuses = status_column(result, explicit)
    for r, (fieldname, message) in batch.errors.items():
        out[r] = {"id": batch.id_of(r), "error": {"field": fieldname, "message": message}}
    for order, ev in result.parts:
        pools = _PoolIndex(ev)
        sub_assumptions = {k: v[order] for k, v in batch.assumptions.items()}
        for sub_row, row in enumerate(order):
            row = int(row)
            cited = [rule.cite for i, rule in enumerate(ev.rules) if _cited(ev, i, rule, sub_row)]
            tpp_total = _num(float(ev.ctx.cols["tpp_total"][sub_row]))
            auth = AUTHORIZATIONS[ev.authorization[sub_row]]
            day = ev.ctx.cols["date"][sub_row].astype(object)
            decision: dict[str, Any] = {
                "id": batch.id_of(row),
                "regime": {
                    "id": ev.regime.id,
                    "status": statuses[row],
                    "legal_status": ev.regime.legal_status_on(day),
                    "content_hash": ev.regime.content_hash[:16],
                },
                "tier": int(ev.tier[sub_row]) if ev.tier is not None else None,
                "classification": CLASSIFICATIONS[ev.classification[sub_row]],
                "controlled": bool(ev.classification[sub_row] != 0),
                "license_required": auth == "LICENSE",
                "authorization": auth,
                "review_policy": REVIEW_POLICIES[ev.review_policy[sub_row]]
                if auth == "LICENSE"
                else None,
                "tpp_per_unit": _num(float(ev.ctx.cols["tpp_per_unit"][sub_row])),
                "tpp_total": tpp_total,
                "h100_equivalents": None if tpp_total is None else round(tpp_total / H100_TPP, 4),
                "obligations": _obligation_items(ev, sub_row),
                "quota": _quota(ev, sub_row),
                "screening": None,
                "citations": list(dict.fromkeys(cited)),
                "assumptions": _assumptions(ev, sub_assumptions, sub_row),
            }
            if ev.regime.reform_of:
                decision["regime"]["reform_of"] = ev.regime.reform_of
                decision["regime"]["reform_hash"] = ev.regime.reform_hash
            decision["trace"] = (
                [
                    {
                        "rule": rule.id,
                        "holds": bool(ev.truth[rule.id][sub_row]),
                        "cite": rule.cite,
                        "note": _note(ev, i, rule, sub_row, pools),
                        "kind": rule.kind,
                        "provision": rule.provision,
                    }
                    for i, rule in enumerate(ev.rules)
                ]
                if trace
                else []
            )
            out[row] = decision
    return [d for d in out if d is not None]


OUTPUT_COLUMNS = {
    "id": pl.Utf8,
    "regime_id": pl.Utf8,
    "regime_status": pl.Utf8,
    "tier": pl.Int8,
    "classification": pl.Utf8,
    "controlled": pl.Boolean,
    "license_required": pl.Boolean,
    "authorization": pl.Utf8,
    "review_policy": pl.Utf8,
    "tpp_per_unit": pl.Float64,
    "tpp_total": pl.Float64,
    "h100_equivalents": pl.Float64,
    "quota_pool": pl.Utf8,
    "quota_limit": pl.Float64,
    "quota_used_before": pl.Float64,
    "quota_this": pl.Float64,
    "quota_remaining_after": pl.Float64,
    "obligations": pl.Utf8,
    "citations": pl.Utf8,
    "error_field": pl.Utf8,
    "error_message": pl.Utf8,
}


def _names(vocabulary: list[str], codes: np.ndarray, missing: np.ndarray) -> pl.Series:
    """Codes -> strings as a polars column without building Python strings per row."""
    index = _masked(pl.Series(codes, dtype=pl.Int64), missing)
    return pl.Series(vocabulary, dtype=pl.Utf8).gather(index)


def _masked(series: pl.Series, missing: np.ndarray) -> pl.Series:
    """The series with nulls where ``missing`` is true."""
    return series.to_frame("v").select(
        pl.when(pl.Series(missing)).then(None).otherwise(pl.col("v")).alias("v")
    )["v"]


def decisions_as_frame(result: Run, explicit: Regime | None, *, trace: bool) -> pl.DataFrame:
    batch = result.batch
    n = batch.n
    classification = np.zeros(n, dtype=np.int64)
    authorization = np.zeros(n, dtype=np.int64)
    review = np.zeros(n, dtype=np.int64)
    tier = np.full(n, -1, dtype=np.int64)
    regime_code = np.full(n, -1, dtype=np.int64)
    floats = {
        k: np.full(n, np.nan)
        for k in (
            "tpp_per_unit",
            "tpp_total",
            "quota_limit",
            "quota_used_before",
            "quota_this",
            "quota_remaining_after",
        )
    }
    pool_names: list[str] = []
    pool_code = np.full(n, -1, dtype=np.int64)
    citation_texts: list[str] = []
    citation_code = np.full(n, -1, dtype=np.int64)
    obligation_texts: list[str] = []
    obligation_code = np.full(n, -1, dtype=np.int64)
    regime_names: list[str] = []
    for order, ev in result.parts:
        regime_code[order] = len(regime_names)
        regime_names.append(ev.regime.id)
        if ev.tier is not None:
            tier[order] = ev.tier
        classification[order] = ev.classification
        authorization[order] = ev.authorization
        lic = ev.authorization == AUTH_CODE["LICENSE"]
        review[order] = np.where(lic, ev.review_policy, 0)
        floats["tpp_per_unit"][order] = ev.ctx.cols["tpp_per_unit"]
        floats["tpp_total"][order] = ev.ctx.cols["tpp_total"]
        assert ev.quota_rule is not None
        for i, t in enumerate(ev.pools):
            mine = ev.quota_rule[t.rows] == i
            rows = order[t.rows[mine]]
            pool_code[rows] = len(pool_names) + t.inverse[mine]
            pool_names.extend(t.pool_names)
            floats["quota_limit"][rows] = t.limit[mine]
            floats["quota_used_before"][rows] = t.used_before[mine]
            floats["quota_this"][rows] = t.amount[mine]
            floats["quota_remaining_after"][rows] = (
                t.limit[mine] - t.used_before[mine] - np.where(t.drawn[mine], t.amount[mine], 0.0)
            )
        rules = ev.rules
        cited = []
        for j, rule in enumerate(rules):
            if rule.kind == "exception":
                cited.append(ev.authorizing_rule == j)
            elif rule.kind == "review":
                cited.append(ev.review_rule == j)
            elif rule.kind == "classify":
                cited.append(ev.classify_rule == j)
            else:
                cited.append(ev.truth[rule.id])
        codes, texts = _patterns(
            cited,
            len(order),
            lambda pattern, rules=rules: "; ".join(
                dict.fromkeys(r.cite for r, on in zip(rules, pattern, strict=True) if on)
            ),
        )
        citation_code[order] = codes + len(citation_texts)
        citation_texts.extend(texts)
        obligation_rules = [r for r in rules if r.kind == "obligation"]
        held = [ev.truth[r.id] for r in obligation_rules]

        def render(
            pattern: np.ndarray, ev: Evaluation = ev, orules: list[Rule] = obligation_rules
        ) -> str:
            items = []
            for r, on in zip(orules, pattern, strict=True):
                if on:
                    item = r.value(ev.ctx) if callable(r.value) else dict(r.value)
                    item.setdefault("cite", r.cite)
                    items.append(item)
            return json.dumps(items, ensure_ascii=False)

        codes, texts = _patterns(held, len(order), render)
        obligation_code[order] = codes + len(obligation_texts)
        obligation_texts.extend(texts)
    statuses = status_column(result, explicit)
    invalid = ~batch.valid
    error_rows = sorted(batch.errors)
    error_field: list[str | None] = [None] * n
    error_message: list[str | None] = [None] * n
    for r in error_rows:
        error_field[r], error_message[r] = batch.errors[r]
    ids = (
        batch.ids
        if isinstance(batch.ids, pl.Series)
        else pl.Series([None if i is None else str(i) for i in batch.ids], dtype=pl.Utf8)
    )
    frame = pl.DataFrame(
        {
            "id": ids.cast(pl.Utf8),
            "regime_id": _names(regime_names or [""], np.maximum(regime_code, 0), invalid),
            "regime_status": pl.Series(statuses.tolist() if n < 1024 else statuses, dtype=pl.Utf8),
            "tier": _masked(pl.Series(tier, dtype=pl.Int8), tier < 0),
            "classification": _names(CLASSIFICATIONS, classification, invalid),
            "controlled": _masked(pl.Series(classification != 0), invalid),
            "license_required": _masked(pl.Series(authorization == AUTH_CODE["LICENSE"]), invalid),
            "authorization": _names(AUTHORIZATIONS, authorization, invalid),
            "review_policy": _names(REVIEW_POLICIES, review, invalid | (review == 0)),
            "tpp_per_unit": floats["tpp_per_unit"],
            "tpp_total": floats["tpp_total"],
            "h100_equivalents": np.round(floats["tpp_total"] / H100_TPP, 4),
            "quota_pool": _names(pool_names or [""], np.maximum(pool_code, 0), pool_code < 0),
            "quota_limit": floats["quota_limit"],
            "quota_used_before": floats["quota_used_before"],
            "quota_this": floats["quota_this"],
            "quota_remaining_after": floats["quota_remaining_after"],
            "obligations": _names(
                obligation_texts or [""], np.maximum(obligation_code, 0), obligation_code < 0
            ),
            "citations": _names(
                citation_texts or [""], np.maximum(citation_code, 0), citation_code < 0
            ),
            "error_field": pl.Series(error_field, dtype=pl.Utf8),
            "error_message": pl.Series(error_message, dtype=pl.Utf8),
        },
        nan_to_null=True,
    )
    if trace:
        records = decisions_as_records(result, explicit, trace=True)
        frame = frame.with_columns(
            pl.Series("trace", [json.dumps(r.get("trace", [])) for r in records])
        )
    return frame


def _patterns(columns: list[np.ndarray], n: int, render: Any) -> tuple[np.ndarray, list[str]]:
    """Code each row's pattern over boolean columns; render each distinct pattern once."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    if not columns:
        return np.zeros(n, dtype=np.int64), [render(np.zeros(0, dtype=bool))]
    words = []
    for start in range(0, len(columns), 62):
        key = np.zeros(n, dtype=np.int64)
        for bit, col in enumerate(columns[start : start + 62]):
            key |= col.astype(np.int64) << bit
        words.append(key)
    if len(words) == 1:
        _, first, inverse = np.unique(words[0], return_index=True, return_inverse=True)
    else:
        stacked = np.ascontiguousarray(np.stack(words, axis=1))
        view = stacked.view(np.dtype((np.void, stacked.shape[1] * 8))).ravel()
        _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    patterns = [np.array([bool(c[i]) for c in columns]) for i in first]
    return inverse.ravel().astype(np.int64), [render(p) for p in patterns]
