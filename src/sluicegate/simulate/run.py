"""Run a scenario end to end: parameters, rules-engine policy, levers, model, calibration.

``run_scenario`` is the one obvious function the CLI, the comparison, the sweeps and the tests
call. It samples parameters (same seed → same draws for every scenario: common random numbers),
asks ``policy.policy_table`` for hardware access, resolves the scenario's interventions, runs
``model.simulate`` and returns a ``ScenarioRun``; ``sluicegate.simulate.outputs`` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    policy = policy_table(scen, months, actors, decide_frame=decide_frame)
    levers = resolve_levers(scen, months, actors)
    output = simulate(sampled, policy, levers, actors, s, chunk=chunk)
    return ScenarioRun(scen, n, s, output, policy, levers, specs)
