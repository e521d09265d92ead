"""Coupling to the rules engine: which share of each actor's chip demand may be exported, when.

``policy_table`` builds ONE synthetic transaction table — a row per month × destination actor ×
chip class × buyer kind (an LPP-sized buyer, a large buyer, a UVEU data center of a US parent) —
and asks ``sluicegate.rules.decide_frame`` for the regime in force at each month (by date, or the
regime/reform a scenario intervention names). Decisions become integer access codes
(``ACCESS_CODES``) and country-allocation quota caps; ``access_share`` turns codes into expected
shares of demand with per-draw approval probabilities. The model (``sluicegate.simulate.model``)
never reads the law itself: every hardware access decision comes from here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from sluicegate.simulate.actors import ActorSet
from sluicegate.simulate.parameters import model_data
from sluicegate.simulate.scenario import CHIP_CLASSES, Scenario

H100_TPP = 15_832.0
ACCESS_CODES = {
    "allowed": 0,
    "presumption-of-approval": 1,
    "case-by-case": 2,
    "presumption-of-denial": 3,
    "policy-of-denial": 4,
}
APPROVAL_PARAMETERS = (
    "approval_presumption_of_approval",
    "approval_case_by_case",
    "approval_presumption_of_denial",
    "approval_policy_of_denial",
)
BUYER_KINDS = ("small", "large", "uveu")
NO_CONTROLS = "none"


class RulesEngineError(RuntimeError):
    """The rules engine is missing or returned an error for a synthetic row."""


@dataclass
class PolicyArrays:
    """Access codes and quotas per month × actor (× chip class × buyer kind)."""

    months: np.ndarray  # datetime64[M], shape (M,)
    codes: np.ndarray  # int8 (M, A, C, K)
    quota_pool: np.ndarray  # int (M, A): index into quota_caps_h100e, -1 when no pool
    quota_caps_h100e: np.ndarray  # float (P,)
    quota_pool_names: list[str]
    tier: np.ndarray  # int (M, A), 0 when the regime has no tiers
    regime_ids: list[str]  # per month
    chip_ids: np.ndarray  # str (M, C)
    h100e_per_unit: np.ndarray  # float (M, C)
    engine: str = "sluicegate.rules"
    notes: list[str] = field(default_factory=list)


def month_dates(scenario: Scenario) -> np.ndarray:
    """First-of-month dates from scenario.start to scenario.end inclusive."""
    start = np.datetime64(scenario.start.strftime("%Y-%m"), "M")
    end = np.datetime64(scenario.end.strftime("%Y-%m"), "M")
    return np.arange(start, end + 1, dtype="datetime64[M]")


def _as_date(month: np.datetime64) -> dt.date:
    """Each month is decided as of its 15th (the same day the model's levers use)."""
    return dt.date.fromisoformat(str(month) + "-15")


def _chip_at(classes: dict[str, list[dict[str, Any]]], cls: str, day: dt.date) -> dict[str, Any]:
    chosen = classes[cls][0]
    for entry in classes[cls]:
        start = entry["from"]
        start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
        if start <= day:
            chosen = entry
    return chosen


def _regime_for(scenario: Scenario, day: dt.date) -> tuple[str | None, str | None]:
    """(regime, reform) a hardware 'regime' intervention imposes on this date, else by date."""
    chosen: tuple[str | None, str | None] = (None, None)
    latest = dt.date.min
    for item in scenario.interventions:
        if item.channel == "hardware" and item.lever == "regime" and item.active(day):
            if item.start >= latest:
                latest, chosen = item.start, (item.regime, item.reform)
    return chosen


def _decide_frame() -> Any:
    try:
        from sluicegate import rules
    except ImportError as exc:  # pragma: no cover - package always importable
        raise RulesEngineError("sluicegate.rules cannot be imported") from exc
    function = getattr(rules, "decide_frame", None)
    if function is None:
        return None
    return function


def _review_code(authorization: str | None, review: str | None, error: str | None) -> int:
    if authorization is None:
        raise RulesEngineError(f"rules engine returned no authorization ({error})")
    if authorization != "LICENSE":
        return ACCESS_CODES["allowed"]  # NLR or a licence exception / VEU authorization
    if review not in ACCESS_CODES or review == "allowed":
        raise RulesEngineError(f"LICENSE decision with unknown review_policy {review!r}")
    return ACCESS_CODES[review]


def policy_table(
    scenario: Scenario,
    months: np.ndarray,
    actors: ActorSet,
    *,
    months_per_call: int = 3,
    decide_frame: Any = None,
) -> PolicyArrays:
    """Decide the synthetic export table month by month with the rules engine.

    Months before the first regime (data: rules_coupling.first_regime_date) and months under a
    ``regime: none`` intervention are uncontrolled without asking the engine. Calls are grouped
    by (regime, reform) and by ``months_per_call`` months so that in-call quota accumulation never
    reaches a country allocation (each call holds at most a few large orders per country).
    """
    data = model_data()
    classes = data["chip_classes"]
    kinds = data["buyer_kinds"]
    first = data["rules_coupling"]["first_regime_date"]
    first = first if isinstance(first, dt.date) else dt.date.fromisoformat(str(first))
    n_m, n_a, n_c, n_k = len(months), actors.size, len(CHIP_CLASSES), len(BUYER_KINDS)
    codes = np.zeros((n_m, n_a, n_c, n_k), dtype=np.int8)
    quota_pool = np.full((n_m, n_a), -1, dtype=np.int64)
    tier = np.zeros((n_m, n_a), dtype=np.int64)
    chip_ids = np.empty((n_m, n_c), dtype=object)
    h100e = np.zeros((n_m, n_c))
    regime_ids = ["none"] * n_m
    pools: dict[str, float] = {}

    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str | None, str | None, int], list[int]] = {}
    for m, month in enumerate(months):
        day = _as_date(month)
        for c, cls in enumerate(CHIP_CLASSES):
            chip = _chip_at(classes, cls, day)
            chip_ids[m, c] = chip["chip"]
            h100e[m, c] = chip["tpp"] / H100_TPP
        regime, reform = _regime_for(scenario, day)
        if regime == NO_CONTROLS or (regime is None and reform is None and day < first):
            regime_ids[m] = "none"
            continue
        groups.setdefault((regime, reform, m // max(months_per_call, 1)), []).append(m)
        for a, dest in enumerate(actors.policy_destination):
            for c, _cls in enumerate(CHIP_CLASSES):
                for k, kind in enumerate(BUYER_KINDS):
                    spec = kinds[kind]
                    quantity = max(1, math.ceil(spec["units_h100e"] / h100e[m, c]))
                    parent = spec.get("parent", dest)
                    rows.append(
                        {
                            "id": f"{m}|{a}|{c}|{k}",
                            "date": day,
                            "kind": "export",
                            "origin": "US",
                            "destination": dest,
                            "chip": str(chip_ids[m, c]),
                            "quantity": int(quantity),
                            "consignee_id": f"sim-{dest}-{kind}-{month}",
                            "consignee_country": dest,
                            "consignee_headquarters": dest if kind != "uveu" else parent,
                            "consignee_ultimate_parent_headquarters": parent,
                            "consignee_authorizations": spec.get("authorizations", ""),
                            "end_use": "datacenter",
                        }
                    )
    notes: list[str] = []
    engine = "sluicegate.rules" if rows else "none (no month under a US regime)"
    if rows:
        table = pl.DataFrame(rows)
        function = decide_frame or _decide_frame()
        if function is None:
            raise RulesEngineError("sluicegate.rules.decide_frame is not available")
        month_of_row = np.array([int(r["id"].split("|")[0]) for r in rows])
        for (regime, reform, _chunk), month_list in groups.items():
            mask = np.isin(month_of_row, month_list)
            part = table.filter(pl.Series(mask))
            decided = function(part, regime=regime, reform=reform)
            if decided.height != part.height:
                raise RulesEngineError(
                    f"rules engine returned {decided.height} rows for {part.height} inputs"
                )
            _absorb(decided, codes, quota_pool, tier, regime_ids, pools)
    caps = np.array(list(pools.values()), dtype=float)
    return PolicyArrays(
        months=months,
        codes=codes,
        quota_pool=quota_pool,
        quota_caps_h100e=caps,
        quota_pool_names=list(pools),
        tier=tier,
        regime_ids=regime_ids,
        chip_ids=chip_ids,
        h100e_per_unit=h100e,
        engine=engine,
        notes=notes,
    )


def _absorb(
    decided: pl.DataFrame,
    codes: np.ndarray,
    quota_pool: np.ndarray,
    tier: np.ndarray,
    regime_ids: list[str],
    pools: dict[str, float],
) -> None:
    columns = ["id", "authorization", "review_policy", "quota_pool", "quota_limit", "tier"]
    columns += ["regime_id", "error_field", "error_message"]
    for row in decided.select(columns).iter_rows(named=True):
        m, a, c, k = (int(x) for x in row["id"].split("|"))
        if row["error_field"] is not None or row["error_message"] is not None:
            raise RulesEngineError(
                f"rules engine rejected synthetic row {row['id']}: "
                f"{row['error_field']}: {row['error_message']}"
            )
        code = _review_code(row["authorization"], row["review_policy"], row["error_message"])
        codes[m, a, c, k] = code
        regime_ids[m] = str(row["regime_id"])
        if row["tier"] is not None:
            tier[m, a] = int(row["tier"])
        pool = row["quota_pool"]
        if code != 0 and pool and str(pool).startswith("country-allocation:"):
            limit = row["quota_limit"]
            if limit is not None:
                pools.setdefault(str(pool), float(limit) / H100_TPP)
                quota_pool[m, a] = list(pools).index(str(pool))


def approval_matrix(params: dict[str, np.ndarray]) -> np.ndarray:
    """Per-draw probability that a request with each access code is granted: (D, 5)."""
    draws = len(next(iter(params.values())))
    out = np.ones((draws, len(ACCESS_CODES)))
    for j, name in enumerate(APPROVAL_PARAMETERS, start=1):
        out[:, j] = params[name]
    return out


def access_share(
    codes_month: np.ndarray, approvals: np.ndarray, buyer_weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected share of demand exported, split into (exempt, licensed), each (D, A, C).

    codes_month: (A, C, K) codes for one month; approvals: (D, 5); buyer_weights: (D, K).
    Exempt flows (NLR, exceptions, VEUs) are never capped; licensed flows may hit a quota.
    """
    granted = approvals[:, codes_month]  # (D, A, C, K)
    weights = buyer_weights[:, None, None, :]
    exempt = np.where(codes_month == 0, 1.0, 0.0)[None, ...] * weights
    licensed = np.where(codes_month != 0, granted, 0.0) * weights
    return exempt.sum(axis=3), licensed.sum(axis=3)
