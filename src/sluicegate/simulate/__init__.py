"""Five-channel AI diffusion simulator: where to slow it, for whom, for how long, at what cost.

Public API (the CLI in ``commands.py`` and the service call only these): ``load_scenario``,
``shipped_scenarios``, ``run_scenario``, ``summarise``, ``write_outputs``, ``compare``,
``sensitivity``, ``sweep``, ``policy_table``. Method and limitations: docs/simulator.md.
"""

from sluicegate.simulate.compare import compare, write_comparison
from sluicegate.simulate.outputs import summarise, write_outputs
from sluicegate.simulate.policy import policy_table
from sluicegate.simulate.run import run_scenario
from sluicegate.simulate.scenario import Scenario, ScenarioError, load_scenario, shipped_scenarios
from sluicegate.simulate.sensitivity import sensitivity
from sluicegate.simulate.sweep import sweep

__all__ = [
    "Scenario",
    "ScenarioError",
    "compare",
    "load_scenario",
    "policy_table",
    "run_scenario",
    "sensitivity",
    "shipped_scenarios",
    "summarise",
    "sweep",
    "write_comparison",
    "write_outputs",
]
