"""Fixtures for the simulator tests.

The rules engine (sluicegate.rules.decide_frame) is written on another branch; these tests
monkeypatch it with the simulator's stand-in so that the coupling (one synthetic table, decided
by ``sluicegate.rules.decide_frame``) is exercised exactly as it will be with the real engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sluicegate import rules
from sluicegate.simulate import run as run_module
from sluicegate.simulate.standin_rules import decide_frame_standin

CALLS: list[dict[str, Any]] = []


def fake_decide_frame(df: Any, *, regime: Any = None, reform: Any = None, **kwargs: Any) -> Any:
    CALLS.append({"rows": df.height, "regime": regime, "reform": reform})
    return decide_frame_standin(df, regime=regime, reform=reform)


@pytest.fixture(autouse=True, scope="module")
def patched_rules() -> Iterator[None]:
    """Patch per module and undo after it, so other capabilities' tests see the real engine."""
    mp = pytest.MonkeyPatch()
    mp.setattr(rules, "decide_frame", fake_decide_frame, raising=False)
    run_module._POLICY_CACHE.clear()
    yield
    mp.undo()
    run_module._POLICY_CACHE.clear()


@pytest.fixture(scope="module")
def baseline_run(patched_rules: None) -> Any:
    """The baseline at calibration size (shared by several test modules)."""
    return run_module.run_scenario("baseline", draws=200)
