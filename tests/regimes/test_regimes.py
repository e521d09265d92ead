"""Regimes as data: loading, validation errors naming file and key, as-of selection, reforms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sluicegate.regimes import (
    binding_regime_on,
    country_groups,
    diff_regimes,
    get_regime,
    load_reform,
    regimes,
    status_for,
    tier_of,
)
from sluicegate.regimes.errors import RegimeDataError, UnknownRegimeError

CONTRACT_IDS = [
    "us-2022-10-07",
    "us-2023-11-17",
    "us-2024-12-02",
    "us-2025-01-13-ai-diffusion",
    "us-2025-05-13-non-enforcement",
    "us-2026-01-15-china-review",
]


def test_the_six_contract_regimes_exist_with_hashes() -> None:
    assert list(regimes()) == CONTRACT_IDS
    for regime in regimes().values():
        assert len(regime.content_hash) == 64
        assert regime.status, regime.id


def test_every_parameter_has_a_citation_and_unconfirmed_are_listed() -> None:
    diffusion = get_regime("us-2025-01-13-ai-diffusion")
    for pid, prov in diffusion.provisions.items():
        assert prov.cite and prov.text, pid
        for name, par in prov.parameters.items():
            assert par.cite, f"{pid}.{name}"
    unconfirmed = dict(diffusion.unconfirmed())
    assert "classification_4e091.training_ops_threshold" in unconfirmed
    assert "country_allocation.straddle_policy" in unconfirmed


def test_date_grid_every_day_selects_exactly_one_binding_regime() -> None:
    day = dt.date(2022, 10, 7)
    seen = []
    while day <= dt.date(2027, 12, 31):
        regime = binding_regime_on(day)  # raises on overlap
        assert regime is not None, day
        assert regime.binding
        if not seen or seen[-1] != regime.id:
            seen.append(regime.id)
        day += dt.timedelta(days=1)
    assert seen == [
        "us-2022-10-07",
        "us-2023-11-17",
        "us-2024-12-02",
        "us-2025-05-13-non-enforcement",
        "us-2026-01-15-china-review",
    ]
    assert binding_regime_on(dt.date(2022, 10, 6)) is None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2022-10-07", "us-2022-10-07"),
        ("2023-11-16", "us-2022-10-07"),
        ("2023-11-17", "us-2023-11-17"),
        ("2024-12-01", "us-2023-11-17"),
        ("2024-12-02", "us-2024-12-02"),
        ("2025-03-01", "us-2024-12-02"),  # diffusion effective but compliance not reached
        ("2025-05-12", "us-2024-12-02"),
        ("2025-05-13", "us-2025-05-13-non-enforcement"),
        ("2026-01-14", "us-2025-05-13-non-enforcement"),
        ("2026-01-15", "us-2026-01-15-china-review"),
    ],
)
def test_as_of_selection_on_both_sides_of_each_date(day: str, expected: str) -> None:
    regime = binding_regime_on(dt.date.fromisoformat(day))
    assert regime is not None and regime.id == expected


def test_statuses() -> None:
    diffusion = get_regime("us-2025-01-13-ai-diffusion")
    assert status_for(diffusion, dt.date(2025, 6, 1)) == "what-if"
    assert diffusion.legal_status_on(dt.date(2025, 3, 1)) == "effective-not-yet-required"
    assert diffusion.legal_status_on(dt.date(2025, 6, 1)) == "not-enforced"
    assert status_for(get_regime("us-2022-10-07"), dt.date(2025, 1, 1)) == "superseded"
    assert status_for(get_regime("us-2024-12-02"), dt.date(2025, 1, 1)) == "in-force"


def test_country_groups_changes_by_date() -> None:
    before, after = country_groups(dt.date(2024, 3, 14)), country_groups(dt.date(2024, 3, 15))
    assert "NI" not in before["D:5"] and "NI" in after["D:5"]
    assert "CY" in country_groups(dt.date(2024, 5, 29))["D:5"]
    assert "CY" not in country_groups(dt.date(2024, 5, 30))["D:5"]
    assert "KH" in country_groups(dt.date(2026, 2, 2))["D:5"]
    assert "KH" not in country_groups(dt.date(2026, 2, 3))["D:5"]
    groups = country_groups(dt.date(2025, 1, 15))
    assert "HK" in groups["D:5"] and "MO" not in groups["D:5"] and "MO" in groups["D:1"]
    assert "TW" not in groups["D:1"] | groups["D:4"] | groups["D:5"]


def test_tiers() -> None:
    day = dt.date(2025, 6, 1)
    assert [
        tier_of(c, day) for c in ("US", "JP", "TW", "IN", "AE", "CH", "CN", "HK", "MO", "RU", "NI")
    ] == [
        1,
        1,
        1,
        2,
        2,
        2,
        3,
        3,
        3,
        3,
        3,
    ]
    assert tier_of("IN", day, "us-2023-11-17") is None


def test_reform_patch_hash_and_diff(tmp_path: Path) -> None:
    reform = tmp_path / "r.yaml"
    reform.write_text(
        "id: india-tier1\ntitle: India in Tier 1, LPP halved\nbase: us-2025-01-13-ai-diffusion\n"
        "parameters:\n  lpp.annual_tpp_per_consignee: 13450000\n"
        "lists:\n  diffusion_tiers.tier1_destinations: {add: [IN]}\n"
    )
    regime = load_reform(reform)
    assert (
        regime.id.startswith("reform-india-tier1-")
        and len(regime.id) == len("reform-india-tier1-") + 12
    )
    assert regime.param("lpp.annual_tpp_per_consignee") == 13450000
    assert "IN" in regime.param("diffusion_tiers.tier1_destinations")
    diff = diff_regimes(get_regime("us-2025-01-13-ai-diffusion"), regime)
    changed = {row["parameter"] for row in diff["parameters_changed"]}
    assert changed == {"lpp.annual_tpp_per_consignee", "diffusion_tiers.tier1_destinations"}
    reform.write_text(reform.read_text().replace("13450000", "13450001"))
    assert load_reform(reform).id != regime.id  # the id carries the content hash


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("id: x\ntitle: t\nbase: nope\n", "base"),
        (
            "id: x\ntitle: t\nbase: us-2023-11-17\nparameters:\n  lpp.annual_tpp_per_consignee: 1\n",
            "parameters.lpp.annual_tpp_per_consignee",
        ),
        ("id: x\ntitle: t\nbase: us-2023-11-17\nbogus: 1\n", "bogus"),
        ("id: X Y\ntitle: t\nbase: us-2023-11-17\n", "id"),
        (
            "id: x\ntitle: t\nbase: us-2025-01-13-ai-diffusion\nlists:\n  diffusion_tiers.tier1_destinations: {remove: [ZZ]}\n",
            "lists.diffusion_tiers.tier1_destinations.remove",
        ),
    ],
)
def test_bad_reform_names_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(RegimeDataError) as info:
        load_reform(path)
    assert info.value.file == str(path)
    assert info.value.key == key


def test_unknown_regime_suggests() -> None:
    with pytest.raises(UnknownRegimeError) as info:
        get_regime("us-2023-11-71")
    assert "did you mean" in str(info.value)
