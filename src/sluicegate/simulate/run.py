"""Run a scenario end to end: parameters, rules-engine policy, levers, model, calibration.

``run_scenario`` is the one obvious function the CLI, the comparison, the sweeps and the tests
call. It samples parameters (same seed → same draws for every scenario: common random numbers),
asks ``policy.policy_table`` for hardware access, resolves the scenario's interventions, runs
``model.simulate`` and returns a ``ScenarioRun``; ``sluicegate.simulate.outputs`` writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sluicegate.simulate.actors import ActorSet, load_actors
from sluicegate.simulate.model import Levers, SimulationOutput, resolve_levers, simulate
from sluicegate.simulate.parameters import apply_overrides, load_parameter_specs, sample_parameters
from sluicegate.simulate.policy import PolicyArrays, month_dates, policy_table
from sluicegate.simulate.scenario import Scenario, load_scenario


@dataclass
class ScenarioRun:
    """Everything one run produced."""

    scenario: Scenario
    draws: int
    seed: int
    output: SimulationOutput
    policy: PolicyArrays
    levers: Levers
    specs: dict[str, dict[str, Any]]


def prepare(
    scenario: Scenario | str, draws: int | None = None, seed: int | None = None
) -> tuple[Scenario, int, int, ActorSet, dict[str, dict[str, Any]]]:
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    n = int(draws if draws is not None else scen.draws)
    s = int(seed if seed is not None else scen.seed)
    actors = load_actors(scen.actors)
    specs = apply_overrides(load_parameter_specs(), scen.overrides, where=f"{scen.name}: overrides")
    return scen, n, s, actors, specs


def run_scenario(
    scenario: Scenario | str,
    *,
    draws: int | None = None,
    seed: int | None = None,
    params: dict[str, Any] | None = None,
    decide_frame: Any = None,
    chunk: int = 250,
) -> ScenarioRun:
    """Run one scenario; ``params`` replaces sampled parameters (used by Sobol analysis)."""
    scen, n, s, actors, specs = prepare(scenario, draws, seed)
    sampled = params if params is not None else sample_parameters(specs, n, s)
    n = len(next(iter(sampled.values())))
    months = month_dates(scen)
    policy = cached_policy(scen, months, actors, decide_frame)
    levers = resolve_levers(scen, months, actors)
    output = simulate(sampled, policy, levers, actors, s, chunk=chunk)
    return ScenarioRun(scen, n, s, output, policy, levers, specs)


_POLICY_CACHE: dict[tuple[Any, ...], PolicyArrays] = {}


def cached_policy(
    scenario: Scenario, months: np.ndarray, actors: ActorSet, decide_frame: Any = None
) -> PolicyArrays:
    """policy_table, memoised on what it depends on (regime interventions, months, actors).

    Sweeps over parameters or non-regime levers reuse one rules-engine evaluation per process.
    """
    from sluicegate import rules

    engine = decide_frame or getattr(rules, "decide_frame", None)
    regimes = tuple(
        (i.start, i.end, i.regime, i.reform)
        for i in scenario.interventions
        if i.channel == "hardware" and i.lever == "regime"
    )
    key = (regimes, str(months[0]), str(months[-1]), actors.codes, id(engine))
    if key not in _POLICY_CACHE:
        if len(_POLICY_CACHE) > 32:
            _POLICY_CACHE.clear()
        _POLICY_CACHE[key] = policy_table(scenario, months, actors, decide_frame=decide_frame)
    return _POLICY_CACHE[key]


def run_reduced(
    scenario: Scenario | str,
    reducer: Callable[[SimulationOutput], dict[str, np.ndarray]],
    *,
    draws: int | None = None,
    seed: int | None = None,
    params: dict[str, Any] | None = None,
    chunk: int = 250,
    shared_noise: bool = False,
) -> dict[str, np.ndarray]:
    """Run in chunks of draws and keep only what ``reducer`` extracts (bounded memory)."""
    scen, n, s, actors, specs = prepare(scenario, draws, seed)
    sampled = params if params is not None else sample_parameters(specs, n, s)
    n = len(next(iter(sampled.values())))
    months = month_dates(scen)
    policy = cached_policy(scen, months, actors)
    levers = resolve_levers(scen, months, actors)
    parts: list[dict[str, np.ndarray]] = []
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        out = simulate(
            sampled,
            policy,
            levers,
            actors,
            s,
            chunk=chunk,
            draw_slice=(lo, hi),
            shared_noise=shared_noise,
        )
        parts.append(reducer(out))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
