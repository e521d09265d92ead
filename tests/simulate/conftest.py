"""Fixtures for the simulator tests.

The simulator's hardware channel asks the real rules engine (``sluicegate.rules.decide_frame``).
These fixtures wrap it to record each call, so that tests can check the coupling (one synthetic
table per group of months, the regime asked for) while the decisions stay the engine's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sluicegate import rules
from sluicegate.simulate import run as run_module

CALLS: list[dict[str, Any]] = []
REAL_DECIDE_FRAME = rules.decide_frame


def recording_decide_frame(
    df: Any, *, regime: Any = None, reform: Any = None, **kwargs: Any
) -> Any:
    CALLS.append({"rows": df.height, "regime": regime, "reform": reform})
    return REAL_DECIDE_FRAME(df, regime=regime, reform=reform, **kwargs)


@pytest.fixture(autouse=True, scope="module")
def patched_rules() -> Iterator[None]:
    """Record engine calls per module and undo after it."""
    mp = pytest.MonkeyPatch()
    mp.setattr(rules, "decide_frame", recording_decide_frame, raising=False)
    run_module._POLICY_CACHE.clear()
    yield
    mp.undo()
    run_module._POLICY_CACHE.clear()


@pytest.fixture
def rule_calls() -> list[dict[str, Any]]:
    CALLS.clear()
    return CALLS


@pytest.fixture(scope="module")
def baseline_run(patched_rules: None) -> Any:
    """The baseline at calibration size (shared by several test modules)."""
    return run_module.run_scenario("baseline", draws=200)
