"""Rules-engine coupling: one synthetic table per call, decided by sluicegate.rules.decide_frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from sluicegate.rules import decide_frame as real_decide_frame
from sluicegate.simulate.actors import load_actors
from sluicegate.simulate.policy import (
    ACCESS_CODES,
    H100_TPP,
    RulesEngineError,
    access_share,
    month_dates,
    policy_table,
)
from sluicegate.simulate.scenario import load_scenario


@pytest.fixture(scope="module")
def actors() -> Any:
    return load_actors(["US", "GB", "IN", "AE", "CN", "MO", "RU"])


def test_policy_calls_the_rules_engine_with_one_row_per_month_actor_class_buyer(
    actors: Any, rule_calls: list[dict[str, Any]]
) -> None:
    scenario = load_scenario("baseline")
    months = month_dates(scenario)[:48]
    policy = policy_table(scenario, months, actors)
    assert policy.engine == "sluicegate.rules"
    controlled_months = int(np.sum(months >= np.datetime64("2022-10", "M")))
    assert sum(c["rows"] for c in rule_calls) == controlled_months * actors.size * 4 * 3
    assert all(c["regime"] is None for c in rule_calls)  # as it happened: by date
    cn = actors.index("CN")
    m_2022_06 = list(months).index(np.datetime64("2022-06", "M"))
    m_2024_06 = list(months).index(np.datetime64("2024-06", "M"))
    assert (policy.codes[m_2022_06] == 0).all()  # before the first rule nothing is controlled
    assert policy.codes[m_2024_06, cn, 0, 1] == ACCESS_CODES["presumption-of-denial"]
    assert policy.codes[m_2024_06, cn, 2, 1] == ACCESS_CODES["allowed"]  # H20
    assert policy.codes[m_2024_06, actors.index("GB")].max() == 0
    assert policy.regime_ids[m_2024_06] == "us-2023-11-17"


def test_diffusion_scenario_asks_for_the_diffusion_regime_and_reads_quota_caps(
    actors: Any, rule_calls: list[dict[str, Any]]
) -> None:
    scenario = load_scenario("diffusion-enforced-2025-05")
    months = month_dates(scenario)[:60]
    policy = policy_table(scenario, months, actors)
    regimes = {c["regime"] for c in rule_calls}
    assert "us-2025-01-13-ai-diffusion" in regimes and None in regimes
    m = list(months).index(np.datetime64("2025-06", "M"))
    india = actors.index("IN")
    assert policy.regime_ids[m] == "us-2025-01-13-ai-diffusion"
    assert policy.codes[m, india, 0, 0] == 0  # LPP-sized buyer
    assert policy.codes[m, india, 0, 1] == ACCESS_CODES["presumption-of-approval"]
    assert policy.codes[m, india, 0, 2] == 0  # UVEU
    pool = policy.quota_pool[m, india]
    assert pool >= 0
    # calibration #18: 790,000,000 TPP = 49,901 H100e (BIS rounds the H100 to 15,831 TPP)
    assert policy.quota_caps_h100e[pool] == pytest.approx(790_000_000 / H100_TPP)
    assert policy.quota_caps_h100e[pool] == pytest.approx(49_901, rel=1e-3)


def test_no_controls_makes_no_engine_call(actors: Any, rule_calls: list[dict[str, Any]]) -> None:
    scenario = load_scenario("no-controls-since-2022")
    policy = policy_table(scenario, month_dates(scenario)[:30], actors)
    assert rule_calls == []
    assert (policy.codes == 0).all()


def test_engine_error_rows_are_not_swallowed(actors: Any) -> None:
    def broken(df: pl.DataFrame, **kwargs: Any) -> pl.DataFrame:
        out = real_decide_frame(df, **kwargs)
        return out.with_columns(
            pl.lit("item.chip").alias("error_field"), pl.lit("unknown chip").alias("error_message")
        )

    scenario = load_scenario("baseline")
    with pytest.raises(RulesEngineError, match="unknown chip"):
        policy_table(scenario, month_dates(scenario)[10:12], actors, decide_frame=broken)


def test_engine_must_return_one_row_per_input(actors: Any) -> None:
    def short(df: pl.DataFrame, **kwargs: Any) -> pl.DataFrame:
        return real_decide_frame(df, **kwargs).head(3)

    scenario = load_scenario("baseline")
    with pytest.raises(RulesEngineError, match="rows for"):
        policy_table(scenario, month_dates(scenario)[10:12], actors, decide_frame=short)


def test_access_share_maps_review_policies() -> None:
    codes = np.array([[[0, 1, 2]], [[3, 4, 0]]], dtype=np.int8)  # (A=2, C=1, K=3)
    approvals = np.array([[1.0, 0.9, 0.5, 0.05, 0.0]])
    weights = np.array([[0.2, 0.5, 0.3]])
    exempt, licensed = access_share(codes, approvals, weights)
    assert exempt[0, 0, 0] == pytest.approx(0.2)
    assert licensed[0, 0, 0] == pytest.approx(0.5 * 0.9 + 0.3 * 0.5)
    assert exempt[0, 1, 0] == pytest.approx(0.3)
    assert licensed[0, 1, 0] == pytest.approx(0.2 * 0.05)
