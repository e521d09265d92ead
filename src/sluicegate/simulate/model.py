"""The five-channel diffusion model: monthly, Monte Carlo, vectorised over draws and actors.

``simulate`` steps a state of shape (draws, actors) through months: accelerator supply and
demand, flows decided by the rules engine (``policy.PolicyArrays``) and what blocked demand does
instead (smuggling, compliant chips, consumer chips, rented cloud, nothing), domestic chip
production, depreciation, talent stocks and visa flows, counter-measures. A vectorised pass then
derives each actor's largest feasible run, algorithmic efficiency, the best model reachable
through each channel (own hardware, cloud and APIs, weights), capability and months of lag behind
the frontier. Equations and sources: docs/simulator.md; parameters: data/parameters.yaml.
``simulate_draw_by_draw`` runs the same model one draw at a time (the benchmark's baseline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sluicegate.simulate.actors import ROW, ActorSet
from sluicegate.simulate.parameters import draw_distribution, model_data
from sluicegate.simulate.policy import BUYER_KINDS, PolicyArrays, access_share, approval_matrix
from sluicegate.simulate.scenario import CHIP_CLASSES, Scenario, ScenarioError

CHANNELS = ("hardware", "cloud", "weights")
SECONDS_PER_DAY = 86_400.0
HOURS_PER_MONTH = 730.0
FRONTIER, PREVIOUS, COMPLIANT, CONSUMER = range(4)


@dataclass
class Levers:
    """Scenario interventions (and provider policies) resolved to per-month × actor arrays."""

    hw_access: np.ndarray  # (M, A, C) multiplier on permitted shares
    tool_growth: np.ndarray  # (M, A) multiplier on domestic capacity log-growth
    leak: np.ndarray  # (M, A) multiplier on leak hazard
    deploy_block: np.ndarray  # (M, A) share of closed-weight deployment blocked
    open_extra_lag: np.ndarray  # (M, A) months
    kyc: np.ndarray  # (M, A) strength of training-run KYC limits
    api: np.ndarray  # (M, A) API access share
    visa: np.ndarray  # (M, A) visa restriction strength on the actor's diaspora
    publication_extra_lag: np.ndarray  # (M, A) months
    minerals: np.ndarray  # (M, A) scenario counter-pressure purchase loss
    measure_active: np.ndarray  # (J, M, A) data counter-measures in force
    measure_impacts: list[dict[str, Any]] = field(default_factory=list)


def _mid(month: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(month) + "-15")


def resolve_actors(
    selectors: list[str], actors: ActorSet, where: str, missing_ok: bool = False
) -> np.ndarray:
    """Boolean mask over actors for selectors: all, all-but-CC, tier:N, hq:CC, or codes.

    ``missing_ok`` lets model data (provider policies, counter-measures) name actors that a
    scenario with an actor subset does not simulate; scenario interventions stay strict.
    """
    mask = np.zeros(actors.size, dtype=bool)
    for sel in selectors:
        if sel == "all":
            mask[:] = True
        elif sel.startswith("all-but-"):
            keep = np.ones(actors.size, dtype=bool)
            for code in sel.removeprefix("all-but-").split("-"):
                if code not in actors.codes and missing_ok:
                    continue
                if code not in actors.codes:
                    raise ScenarioError(f"{where}: actors: unknown actor {code!r} in {sel!r}")
                keep[actors.index(code)] = False
            mask |= keep
        elif sel.startswith("tier:"):
            tier = sel.removeprefix("tier:")
            if tier not in ("1", "2", "3"):
                raise ScenarioError(f"{where}: actors: {sel!r}: tier must be 1, 2 or 3")
            mask |= actors.diffusion_tier == int(tier)
        else:
            code = sel.removeprefix("hq:")
            if code not in actors.codes and missing_ok:
                continue
            if code not in actors.codes:
                raise ScenarioError(
                    f"{where}: actors: unknown actor {sel!r}; use a code of "
                    f"{list(actors.codes)}, 'all', 'all-but-CC', 'tier:N' or 'hq:CC'"
                )
            mask[actors.index(code)] = True
    return mask


def resolve_levers(scenario: Scenario, months: np.ndarray, actors: ActorSet) -> Levers:
    """Turn interventions, provider policies and counter-measures into arrays."""
    n_m, n_a, n_c = len(months), actors.size, len(CHIP_CLASSES)
    ones = np.ones((n_m, n_a))
    lev = Levers(
        hw_access=np.ones((n_m, n_a, n_c)),
        tool_growth=ones.copy(),
        leak=ones.copy(),
        deploy_block=np.zeros((n_m, n_a)),
        open_extra_lag=np.zeros((n_m, n_a)),
        kyc=np.zeros((n_m, n_a)),
        api=ones.copy(),
        visa=np.zeros((n_m, n_a)),
        publication_extra_lag=np.zeros((n_m, n_a)),
        minerals=np.zeros((n_m, n_a)),
        measure_active=np.zeros((0, n_m, n_a)),
    )
    label = scenario.source_file or scenario.name
    data = model_data()
    items: list[Any] = list(scenario.interventions)
    for policy in data.get("provider_policies", []):
        items.append(
            {**policy, "start": policy["start"], "end": policy.get("end"), "lever": policy["lever"]}
        )
    days = [_mid(m) for m in months]
    for i, item in enumerate(items):
        if isinstance(item, dict):
            name, channel, lever = item["name"], item["channel"], item["lever"]
            start = dt.date.fromisoformat(str(item["start"]))
            end = dt.date.fromisoformat(str(item["end"])) if item.get("end") else None
            selectors, strength, classes = item["actors"], float(item["strength"]), None
            where = f"parameters.yaml: provider_policies[{name}]"
            missing_ok = True
        else:
            name, channel, lever = item.name, item.channel, item.lever
            start, end, selectors = item.start, item.end, item.actors
            strength, classes = (item.strength or 0.0), item.target_chip_classes()
            where = f"{label}: interventions[{i}] ({name!r})"
            missing_ok = False
        mask = resolve_actors(selectors, actors, where, missing_ok)
        active = np.array([start <= d and (end is None or d < end) for d in days])
        cell = active[:, None] & mask[None, :]
        keep = 1.0 - strength
        if channel == "hardware" and lever == "access":
            for c, cls in enumerate(CHIP_CLASSES):
                if classes is None or cls in classes:
                    lev.hw_access[:, :, c] = np.where(
                        cell, lev.hw_access[:, :, c] * keep, lev.hw_access[:, :, c]
                    )
        elif channel == "hardware" and lever == "tool-controls":
            lev.tool_growth = np.where(cell, lev.tool_growth * keep, lev.tool_growth)
        elif channel == "weights" and lever == "security":
            lev.leak = np.where(cell, lev.leak * keep, lev.leak)
        elif channel == "weights" and lever == "deployment":
            lev.deploy_block = np.where(
                cell, np.maximum(lev.deploy_block, strength), lev.deploy_block
            )
        elif channel == "weights" and lever == "open-release":
            lev.open_extra_lag = np.where(
                cell, lev.open_extra_lag + 24.0 * strength, lev.open_extra_lag
            )
        elif channel == "cloud" and lever == "kyc-training":
            lev.kyc = np.where(cell, np.maximum(lev.kyc, strength), lev.kyc)
        elif channel == "cloud" and lever == "api":
            lev.api = np.where(cell, lev.api * keep, lev.api)
        elif channel == "talent":
            lev.visa = np.where(cell, np.maximum(lev.visa, strength), lev.visa)
        elif channel == "algorithms":
            lev.publication_extra_lag = np.where(
                cell, lev.publication_extra_lag + 12.0 * strength, lev.publication_extra_lag
            )
        elif channel == "counter-pressure":
            lev.minerals = np.where(cell, lev.minerals + strength, lev.minerals)
    if scenario.counter_measures:
        measures = data.get("counter_measures", [])
        active_all = []
        for j, measure in enumerate(measures):
            start = dt.date.fromisoformat(str(measure["start"]))
            end = dt.date.fromisoformat(str(measure["end"])) if measure.get("end") else None
            mask = resolve_actors(
                measure["actors"], actors, f"parameters.yaml: counter_measures[{j}]"
            )
            active = np.array([start <= d and (end is None or d < end) for d in days])
            active_all.append(active[:, None] & mask[None, :])
            lev.measure_impacts.append(measure["impact"])
        if active_all:
            lev.measure_active = np.stack(active_all).astype(float)
    return lev


@dataclass
class SimulationOutput:
    """Per draw × actor × month results (float32) plus per-scenario aggregates."""

    months: np.ndarray
    actors: ActorSet
    arrays: dict[str, np.ndarray]  # name -> (D, A, M)
    global_arrays: dict[str, np.ndarray]  # name -> (D, M)
    params: dict[str, np.ndarray]

    @property
    def draws(self) -> int:
        return int(next(iter(self.global_arrays.values())).shape[0])


def _year_fraction(months: np.ndarray, anchor: str) -> np.ndarray:
    return (months - np.datetime64(anchor, "M")).astype(float) / 12.0


def _stochastic_inputs(
    params: dict[str, np.ndarray],
    actors: ActorSet,
    n_months: int,
    seed: int,
    levers: Levers,
    shared_noise: bool = False,
) -> dict[str, np.ndarray]:
    """Per-draw random inputs other than parameters, each on its own stream (CRN-safe).

    With ``shared_noise`` every draw gets draw 0's random numbers (for Sobol analysis).
    """
    draws = len(params["mfu"])
    n_noise = 1 if shared_noise else draws
    rng = np.random.default_rng([seed, 2])
    noise = np.exp(
        rng.standard_normal((n_noise, actors.size)) * np.log(params["demand_noise_gsd"])[:, None]
    )
    weights = actors.demand_weight[None, :] * noise
    cn = actors.codes.index("CN") if "CN" in actors.codes else None
    if cn is not None:
        others = weights.sum(axis=1) - weights[:, cn]
        weights = weights / others[:, None] * (1 - params["china_demand_share"])[:, None]
        weights[:, cn] = params["china_demand_share"]
    weights = weights / weights.sum(axis=1, keepdims=True)
    rng = np.random.default_rng([seed, 3])
    # (the China share is a parameter, so weights vary per draw even with shared noise)
    talent_noise = np.exp(
        rng.standard_normal((n_noise, actors.size)) * np.log(params["talent_noise_gsd"])[:, None]
    )
    talent = actors.talent_work[None, :] * talent_noise
    talent = talent / talent.sum(axis=1, keepdims=True)
    rng = np.random.default_rng([seed, 4])
    agreement = rng.random(n_noise) < params["g2g_agreement_probability"]
    rng = np.random.default_rng([seed, 5])
    impacts = np.zeros((draws, len(levers.measure_impacts)))
    for j, dist in enumerate(levers.measure_impacts):
        impacts[:, j] = (
            draw_distribution(dist, n_noise, np.random.default_rng([seed, 6, j]))[0]
            if shared_noise
            else draw_distribution(dist, draws, np.random.default_rng([seed, 6, j]))
        )
    return {
        "demand_weight": weights,
        "talent": talent,
        "agreement": agreement,
        "impacts": impacts,
    }


def simulate(
    params: dict[str, np.ndarray],
    policy: PolicyArrays,
    levers: Levers,
    actors: ActorSet,
    seed: int,
    *,
    chunk: int = 250,
    draw_slice: tuple[int, int] | None = None,
    shared_noise: bool = False,
) -> SimulationOutput:
    """Run all draws (or ``draw_slice``), in chunks of ``chunk`` draws to bound memory.

    Random inputs are drawn for all draws first, so any chunking gives the same numbers.
    """
    draws = len(params["mfu"])
    inputs = _stochastic_inputs(params, actors, len(policy.months), seed, levers, shared_noise)
    leak_uniforms = _leak_uniforms(
        seed, 1 if shared_noise else draws, actors.size, len(policy.months)
    )
    if shared_noise:  # every draw sees the same random events: outputs are functions of parameters
        leak_uniforms = np.broadcast_to(leak_uniforms, (draws, *leak_uniforms.shape[1:]))
    first, last = draw_slice or (0, draws)
    parts: list[SimulationOutput] = []
    for lo in range(first, last, chunk):
        hi = min(last, lo + chunk)
        sub = {k: v[lo:hi] for k, v in params.items()}
        sub_inputs = {k: (v[lo:hi] if v.shape[0] == draws else v) for k, v in inputs.items()}
        parts.append(_simulate_chunk(sub, sub_inputs, leak_uniforms[lo:hi], policy, levers, actors))
    if len(parts) == 1:
        return parts[0]
    return SimulationOutput(
        months=policy.months,
        actors=actors,
        arrays={k: np.concatenate([p.arrays[k] for p in parts]) for k in parts[0].arrays},
        global_arrays={
            k: np.concatenate([p.global_arrays[k] for p in parts]) for k in parts[0].global_arrays
        },
        params={k: v[first:last] for k, v in params.items()},
    )


def simulate_draw_by_draw(
    params: dict[str, np.ndarray],
    policy: PolicyArrays,
    levers: Levers,
    actors: ActorSet,
    seed: int,
    draws: list[int] | None = None,
) -> list[SimulationOutput]:
    """The same model stepped one draw at a time in a Python loop (benchmark baseline)."""
    total = len(params["mfu"])
    inputs = _stochastic_inputs(params, actors, len(policy.months), seed, levers)
    leak_uniforms = _leak_uniforms(seed, total, actors.size, len(policy.months))
    out = []
    for d in draws if draws is not None else range(total):
        sub = {k: v[d : d + 1] for k, v in params.items()}
        sub_inputs = {k: (v[d : d + 1] if v.shape[0] == total else v) for k, v in inputs.items()}
        out.append(
            _simulate_chunk(sub, sub_inputs, leak_uniforms[d : d + 1], policy, levers, actors)
        )
    return out


def _leak_uniforms(seed: int, draws: int, n_a: int, n_m: int) -> np.ndarray:
    return np.random.default_rng([seed, 7]).random((draws, n_a, n_m), dtype=np.float32)


def _shift_log_by_draw(logx: np.ndarray, lag: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """log x(t - lag) for a lag that varies by draw only: (D, M) -> (D, 1, M)."""
    n_m = logx.shape[-1]
    target = np.arange(n_m, dtype=float)[None, :] - lag[:, None]
    lo = np.clip(np.floor(target), 0, n_m - 1).astype(np.int64)
    hi = np.clip(lo + 1, 0, n_m - 1)
    frac = np.clip(target - lo, 0.0, 1.0)
    low, high = np.take_along_axis(logx, lo, axis=1), np.take_along_axis(logx, hi, axis=1)
    value = low + frac * (high - low)
    value = np.where(target < 0, logx[:, :1] + target * slope[:, None], value)
    return value[:, None, :]


def _shift_log(logx: np.ndarray, lag: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """log x(t - lag) along the last axis by linear interpolation; extrapolate before t=0.

    logx: (D, M) nondecreasing; lag: broadcastable to (D, A, M) months; slope: (D,) per month.
    """
    n_m = logx.shape[-1]
    t = np.arange(n_m, dtype=float)
    target = t[None, None, :] - lag
    lo = np.clip(np.floor(target), 0, n_m - 1).astype(np.int64)
    hi = np.clip(lo + 1, 0, n_m - 1)
    frac = np.clip(target - lo, 0.0, 1.0)
    gathered_lo = np.take_along_axis(logx[:, None, :].repeat(lo.shape[1], 1), lo, axis=2)
    gathered_hi = np.take_along_axis(logx[:, None, :].repeat(lo.shape[1], 1), hi, axis=2)
    value = gathered_lo + frac * (gathered_hi - gathered_lo)
    before = target < 0
    return np.where(before, logx[:, None, :1] + target * slope[:, None, None], value)


def _simulate_chunk(
    p: dict[str, np.ndarray],
    inputs: dict[str, np.ndarray],
    leak_u: np.ndarray,
    policy: PolicyArrays,
    lev: Levers,
    actors: ActorSet,
) -> SimulationOutput:
    months = policy.months
    n_d, n_a, n_m = len(p["mfu"]), actors.size, len(months)
    years_2022 = _year_fraction(months, "2022-01")
    years_2025 = _year_fraction(months, "2025-01")
    years_mid_2025 = _year_fraction(months, "2025-07")
    years_2024 = _year_fraction(months, "2024-06")

    # --- supply path (D, M): monthly log-growth decays after 2025 with a half-life
    g_month = np.log(p["supply_growth_per_year"])[:, None] / 12.0
    decay = np.where(
        years_2025 > 0,
        0.5 ** (np.maximum(years_2025, 0) / p["supply_growth_halflife_years"][:, None]),
        1.0,
    )
    log_supply_growth = np.cumsum(g_month * decay, axis=1) - g_month * decay[:, :1]
    depreciation = p["depreciation_per_year"][:, None] / 12.0
    stock0 = p["stock_2022_01_h100e"][:, None]
    supply0 = stock0 * (np.exp(g_month) - 1.0 + depreciation)
    supply = supply0 * np.exp(log_supply_growth)  # (D, M)
    price = (
        p["price_per_h100e_2024_usd"][:, None]
        * (1 - p["hardware_price_decline_per_year"][:, None]) ** years_2024
    )

    weights = inputs["demand_weight"]
    approvals = approval_matrix(p)
    buyer_w = np.stack(
        [
            p["buyer_share_small"],
            1 - p["buyer_share_small"] - p["buyer_share_uveu"],
            p["buyer_share_uveu"],
        ],
        axis=1,
    )
    assert buyer_w.shape[1] == len(BUYER_KINDS)
    domestic_mask = actors.domestic_chips.astype(float)[None, :]
    row_mask = np.array([c != ROW for c in actors.codes])

    # --- state
    dep = 1.0 - depreciation  # (D, 1)
    k_allowed = stock0 * weights
    k_compliant = np.zeros((n_d, n_a))
    k_inference = np.zeros((n_d, n_a))  # H20-class: bought for inference, poor for training
    k_consumer = np.zeros((n_d, n_a))
    k_smuggled = np.zeros((n_d, n_a))
    k_domestic = np.zeros((n_d, n_a))
    k_cloud_sub = np.zeros((n_d, n_a))
    used = np.zeros((n_d, n_a))
    pool_prev = np.full(n_a, -1)
    talent = inputs["talent"].copy()
    us = actors.codes.index("US") if "US" in actors.codes else int(np.argmax(actors.talent_work))
    diaspora = np.broadcast_to(actors.diaspora_in_us[None, :], (n_d, n_a)).copy()
    cap_multiplier = np.where(inputs["agreement"], 2.0, 1.0)[:, None]
    access_cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    f32 = np.float32
    # written month by month as contiguous (M, D, A) slabs, then viewed as (D, A, M)
    steps = {name: np.zeros((n_m, n_d, n_a), dtype=f32) for name in (
        "compute_h100e", "rented_h100e", "smuggled_h100e", "smuggled_units", "compliant_units",
        "domestic_units", "lost_h100e", "forgone_chip_usd", "mineral_loss_usd", "talent_share",
        "diaspora_share", "stock_smuggled", "stock_domestic", "stock_compliant", "trainable_h100e",
    )}  # fmt: skip
    global_store = {"supply_h100e": supply.astype(f32)}

    dom_growth = np.log(p["domestic_capacity_growth"])[:, None]
    log_dom_capacity = (
        np.log(p["domestic_capacity_2025_units"])[:, None] + dom_growth * years_mid_2025[0]
    )
    dom_unit = p["domestic_h100e_per_unit"][:, None]
    for m in range(n_m):
        codes = policy.codes[m]
        key = codes.tobytes()
        if key not in access_cache:
            access_cache[key] = access_share(codes, approvals, buyer_w)
        exempt, licensed = access_cache[key]
        mult = lev.hw_access[m][None, :, :]
        exempt, licensed = exempt * mult, licensed * mult
        loss = lev.minerals[m][None, :] + (
            inputs["impacts"] @ lev.measure_active[:, m, :] if lev.measure_active.shape[0] else 0.0
        )
        loss = np.clip(loss, 0.0, 0.95)
        demand = supply[:, m : m + 1] * weights  # (D, A) H100e
        mineral_loss = demand * loss
        demand = demand - mineral_loss

        frontier_ok = demand * exempt[:, :, FRONTIER]
        frontier_lic = demand * licensed[:, :, FRONTIER]
        blocked = demand - frontier_ok - frontier_lic
        prev_share = p["previous_substitution"][:, None]
        prev_ok = blocked * prev_share * exempt[:, :, PREVIOUS]
        prev_lic = blocked * prev_share * licensed[:, :, PREVIOUS]
        lic = frontier_lic + prev_lic
        pool = policy.quota_pool[m]
        reset = pool != pool_prev
        used = np.where(reset[None, :], 0.0, used)
        pool_prev = pool
        if (pool >= 0).any():
            caps = np.where(
                pool >= 0,
                policy.quota_caps_h100e[np.maximum(pool, 0)]
                if len(policy.quota_caps_h100e)
                else np.inf,
                np.inf,
            )
            room = np.maximum(caps[None, :] * cap_multiplier - used, 0.0)
            lic_ok = np.minimum(lic, room)
        else:
            lic_ok = lic
        used = used + lic_ok
        bought = frontier_ok + prev_ok + lic_ok
        remaining = np.maximum(demand - bought, 0.0)
        smuggled = remaining * p["smuggling_share"][:, None]
        remaining = remaining - smuggled
        comp_permit = exempt[:, :, COMPLIANT] + licensed[:, :, COMPLIANT]
        comp_spend = remaining * p["compliant_substitution"][:, None] * comp_permit
        comp_unit = policy.h100e_per_unit[m, COMPLIANT]
        if policy.chip_ids[m, COMPLIANT] == "nvidia-h20":
            unit_price = p["compliant_price_usd_per_unit"][:, None]
        else:
            unit_price = price[:, m : m + 1] * comp_unit
        comp_units = comp_spend * price[:, m : m + 1] / unit_price
        remaining = remaining - comp_spend
        cons_spend = (
            remaining
            * p["consumer_substitution"][:, None]
            * (exempt[:, :, CONSUMER] + licensed[:, :, CONSUMER])
        )
        remaining = remaining - cons_spend
        cloud_sub = remaining * p["cloud_substitution"][:, None] * (1 - lev.kyc[m][None, :])
        lost = remaining - cloud_sub
        # Chips a denied buyer does not get are partly sold to other buyers while supply is short.
        unsold = lost
        resold_share = p["blocked_supply_resold"][:, None]
        resold_total = unsold.sum(axis=1, keepdims=True) * resold_share
        allowed_w = frontier_ok + lic_ok
        resold = resold_total * allowed_w / np.maximum(allowed_w.sum(axis=1, keepdims=True), 1e-9)
        frontier_unit = policy.h100e_per_unit[m, FRONTIER]
        log_cap = log_dom_capacity + dom_growth * lev.tool_growth[m][None, :] * (1.0 / 12.0) * m
        dom_units = np.exp(log_cap) / 12.0 * domestic_mask

        k_allowed = k_allowed * dep + bought + resold
        inference_only = policy.chip_ids[m, COMPLIANT] == "nvidia-h20"
        k_compliant = k_compliant * dep + comp_units * comp_unit
        k_inference = k_inference * dep + (comp_units * comp_unit if inference_only else 0.0)
        k_consumer = k_consumer * dep + cons_spend
        k_smuggled = k_smuggled * dep + smuggled
        k_domestic = k_domestic * dep + dom_units * dom_unit
        k_cloud_sub = k_cloud_sub * dep + cloud_sub
        own = k_allowed + k_compliant + k_consumer + k_smuggled + k_domestic
        rented = own * p["cloud_rent_ratio"][:, None] + k_cloud_sub

        # talent: visa restrictions move diaspora researchers out of the US, some go home
        leaving = diaspora * p["visa_outflow_per_year"][:, None] / 12.0 * lev.visa[m][None, :]
        diaspora = diaspora - leaving
        talent[:, us] -= leaving.sum(axis=1)
        talent = talent + leaving * p["visa_return_share"][:, None]

        steps["compute_h100e"][m] = own
        steps["rented_h100e"][m] = rented
        steps["smuggled_h100e"][m] = smuggled
        steps["smuggled_units"][m] = smuggled / frontier_unit
        steps["compliant_units"][m] = comp_units
        steps["domestic_units"][m] = dom_units
        steps["lost_h100e"][m] = lost
        steps["forgone_chip_usd"][m] = unsold * (1 - resold_share) * price[:, m : m + 1]
        steps["mineral_loss_usd"][m] = mineral_loss * price[:, m : m + 1]
        steps["talent_share"][m] = talent
        steps["diaspora_share"][m] = diaspora
        steps["stock_smuggled"][m] = k_smuggled
        steps["stock_domestic"][m] = k_domestic
        steps["stock_compliant"][m] = k_compliant
        # one training run cannot mix accelerator families: the largest run uses the larger of
        # the NVIDIA-family stock (however obtained) and the domestic (Ascend-class) stock
        # and H20-class chips (low TPP, high memory bandwidth) serve inference, not training
        steps["trainable_h100e"][m] = np.maximum(own - k_domestic - k_inference, k_domestic)

    store = {name: np.moveaxis(arr, 0, 2) for name, arr in steps.items()}
    return _derive(
        p, inputs, leak_u, policy, lev, actors, store, global_store, row_mask, us, years_2022, price
    )


def _derive(
    p: dict[str, np.ndarray],
    inputs: dict[str, np.ndarray],
    leak_u: np.ndarray,
    policy: PolicyArrays,
    lev: Levers,
    actors: ActorSet,
    store: dict[str, np.ndarray],
    global_store: dict[str, np.ndarray],
    row_mask: np.ndarray,
    us: int,
    years: np.ndarray,
    price: np.ndarray,
) -> SimulationOutput:
    """Largest runs, efficiency, channels, capability and lag (vectorised over D, A, M)."""
    n_d, n_a, n_m = store["compute_h100e"].shape
    own = store["compute_h100e"].astype(np.float64)
    rented = store["rented_h100e"].astype(np.float64)
    col = (slice(None), None, None)
    lead = own.max(axis=1)  # (D, M)
    share = (
        p["cluster_share_2022"][col]
        * p["cluster_concentration_growth"][col] ** years[None, None, :]
    )
    share = share * (lead[:, None, :] / np.maximum(own, 1.0)) ** p["cluster_size_elasticity"][col]
    share = np.minimum(share, 0.5)
    seconds = (
        p["run_days_2022"][col]
        * SECONDS_PER_DAY
        * p["run_intensity_growth"][col] ** years[None, None, :]
    )
    ops_rate = p["ops_per_h100e_second"][col] * p["mfu"][col]
    trainable = store["trainable_h100e"].astype(np.float64)
    run_own = share * trainable * ops_rate * seconds
    run_rent = share * rented * ops_rate * seconds
    kyc = lev.kyc.T[None, :, :]
    threshold = p["kyc_threshold_ops"][col]
    run_rent_eff = (1 - kyc) * run_rent + kyc * np.minimum(run_rent, threshold)
    run = run_own + run_rent_eff
    cloud_forgone = (run_rent - run_rent_eff) / np.maximum(run_rent, 1.0) * rented
    cloud_price = p["cloud_price_per_h100e_hour_2024"][:, None] * (
        1 - p["hardware_price_decline_per_year"][:, None]
    ) ** (years[None, :] - 2.42)
    cloud_forgone_usd = cloud_forgone * HOURS_PER_MONTH * cloud_price[:, None, :]

    # algorithmic efficiency reaching each actor after publication and absorption lags
    talent = store["talent_share"].astype(np.float64)
    leader = talent.max(axis=1, keepdims=True)
    ratio = np.clip(talent / leader, 0.0, 1.0)
    is_leader = ratio >= 0.999
    alg_lag = (
        p["publication_lag_months"][col]
        + lev.publication_extra_lag.T[None, :, :]
        + p["absorption_lag_months"][col] * (1 - np.sqrt(ratio))
        - p["diaspora_lag_reduction_months"][col] * np.minimum(store["diaspora_share"] / 0.18, 1.0)
    )
    alg_lag = np.where(is_leader, 0.0, np.maximum(alg_lag, 1.0))
    log_halving = np.log(2.0) / p["algorithmic_halving_months"][col]
    t = np.arange(n_m, dtype=float)[None, None, :]
    log_eff = (t - alg_lag) * log_halving  # natural log of efficiency vs 2022-01 frontier
    log_own = np.log(np.maximum(run_own, 1.0)) + log_eff
    log_trained = np.log(np.maximum(run, 1.0)) + log_eff
    log_frontier = np.maximum.accumulate(log_trained.max(axis=1), axis=1)  # (D, M)
    slope = np.maximum(
        (log_frontier[:, min(12, n_m - 1)] - log_frontier[:, 0]) / max(min(12, n_m - 1), 1), 1e-3
    )

    api = lev.api.T[None, :, :]
    log_api = _shift_log_by_draw(log_frontier, p["api_lag_months"], slope)
    log_distilled = np.minimum(
        log_api, log_trained + np.log(p["distillation_multiplier"][col]) * api
    )
    log_distilled = np.where(api > 0.01, np.maximum(log_trained, log_distilled), log_trained)
    if lev.open_extra_lag.any():
        log_open = _shift_log(
            log_frontier, p["open_weight_lag_months"][col] + lev.open_extra_lag.T[None, :, :], slope
        )
    else:
        log_open = _shift_log_by_draw(log_frontier, p["open_weight_lag_months"], slope)
    hazard_year = (
        np.where(actors.diffusion_tier == 3, 1.0, 0.0)[None, :, None]
        * p["leak_hazard_targeted_per_year"][col]
    )
    hazard_year = (
        hazard_year
        + np.where(actors.diffusion_tier == 3, 0.0, 1.0)[None, :, None]
        * p["leak_hazard_other_per_year"][col]
    )
    hazard = hazard_year / 12.0 * lev.leak.T[None, :, :]
    events = leak_u < hazard
    log_leak = np.maximum.accumulate(np.where(events, log_frontier[:, None, :], -np.inf), axis=2)
    deploy_access = (1 - lev.deploy_block.T[None, :, :]) * (api > 0.5)
    log_deploy = np.where(
        deploy_access > 0.5,
        _shift_log_by_draw(log_frontier, p["deploy_lag_months"], slope),
        -np.inf,
    )
    log_weights = np.maximum(log_open, log_leak)
    log_capability = np.maximum(log_distilled, log_weights)
    log_cloud_best = np.maximum(np.where(api > 0.01, log_api, -np.inf), log_distilled)

    # lag: months until the frontier reached this capability (extrapolated before 2022-01)
    lag = np.empty((n_d, n_a, n_m))
    for d in range(n_d):
        xp = log_frontier[d]
        pos = np.interp(log_capability[d], xp, t[0, 0], left=np.nan, right=np.nan)
        below = log_capability[d] < xp[0]
        pos = np.where(below, (log_capability[d] - xp[0]) / slope[d], pos)
        pos = np.where(log_capability[d] >= xp[-1], n_m - 1, pos)
        lag[d] = np.maximum(t[0] - pos, 0.0)

    binding = np.where(log_weights >= log_distilled, 2, np.where(run_rent_eff > run_own, 1, 0))
    distillation_months = (log_distilled - log_trained) / slope[:, None, None]
    ln10 = np.log(10.0)
    f32 = np.float32
    arrays = {
        "compute_h100e": store["compute_h100e"],
        "compute_share": (own / own.sum(axis=1, keepdims=True)).astype(f32),
        "rented_h100e": store["rented_h100e"],
        # inference capacity: every chip counts, H20-class included (not a capability measure)
        "inference_h100e": (own + rented).astype(f32),
        "largest_run_ops": run.astype(f32),
        "largest_cluster_h100e": (share * trainable).astype(f32),
        "log10_effective_compute": (log_trained / ln10).astype(f32),
        "log10_capability": (log_capability / ln10).astype(f32),
        "log10_best_hardware": (log_own / ln10).astype(f32),
        "log10_best_cloud": (log_cloud_best / ln10).astype(f32),
        "log10_best_weights": (np.maximum(log_weights, log_deploy) / ln10).astype(f32),
        "lag_months": lag.astype(f32),
        "algorithmic_lag_months": alg_lag.astype(f32),
        "binding_channel": binding.astype(np.int8),
        "distillation_months": distillation_months.astype(f32),
        "forgone_cloud_usd": cloud_forgone_usd.astype(f32),
    }
    for name in ("smuggled_h100e", "smuggled_units", "compliant_units", "domestic_units", "lost_h100e",
                 "forgone_chip_usd", "mineral_loss_usd", "talent_share", "stock_smuggled",
                 "stock_domestic", "stock_compliant"):  # fmt: skip
        arrays[name] = store[name]
    global_arrays = {
        "compute_h100e": own.sum(axis=1).astype(f32),
        "frontier_ops": run.max(axis=1).astype(f32),
        "log10_frontier_effective": (log_frontier / ln10).astype(f32),
        "supply_h100e": global_store["supply_h100e"],
        "price_per_h100e_usd": np.broadcast_to(price, (n_d, n_m)).astype(f32),
    }
    del row_mask, us, inputs
    return SimulationOutput(policy.months, actors, arrays, global_arrays, p)
