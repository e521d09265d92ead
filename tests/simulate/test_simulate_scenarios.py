"""Scenario files: the shipped library loads; invalid files name file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.simulate.scenario import ScenarioError, load_scenario, shipped_scenarios

SHIPPED = {
    "baseline", "diffusion-enforced-2025-05", "no-controls-since-2022", "tighter-h20-2024",
    "looser-2026-china-lane", "escalating-countermeasures",
}  # fmt: skip


def test_library_is_shipped_and_loads() -> None:
    assert SHIPPED <= set(shipped_scenarios())
    for name in SHIPPED:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.description


def test_base_chain_inherits_and_removes() -> None:
    tighter = load_scenario("tighter-h20-2024")
    names = [i.name for i in tighter.interventions]
    assert "h20-is-informed-letters" not in names
    assert "h20-class-blocked-2024" in names
    assert "china-guidance-against-h20" in names  # inherited from baseline
    diffusion = load_scenario("diffusion-enforced-2025-05")
    regime = [i for i in diffusion.interventions if i.lever == "regime"]
    assert regime[0].regime == "us-2025-01-13-ai-diffusion"


BAD = [
    ("interventions:\n  - {name: x, channel: hardwire, start: 2024-01-01, strength: 1}\n",
     "interventions[0].channel", "hardwire"),
    ("interventions:\n  - {name: x, channel: cloud, lever: visa, start: 2024-01-01, strength: 1}\n",
     "interventions[0]", "lever 'visa' is not valid for channel 'cloud'"),
    ("interventions:\n  - {name: x, channel: talent, start: 2024-01-01}\n",
     "interventions[0]", "needs a strength"),
    ("interventions:\n  - {name: x, channel: talent, start: 2024-01-01, strength: 2}\n",
     "interventions[0].strength", "less than or equal to 1"),
    ("interventions:\n  - {name: x, channel: hardware, lever: regime, start: 2024-01-01}\n",
     "interventions[0]", "exactly one of regime or reform"),
    ("interventions:\n  - {name: x, channel: talent, start: 2024-01-01, end: 2023-01-01, strength: 1}\n",
     "interventions[0]", "end must be after start"),
    ("overrides: {not_a_parameter: 3}\n", "overrides.not_a_parameter", "unknown parameter"),
    ("overrides: {mfu: {kind: uniform, low: 0.5, high: 0.1}}\n", "overrides.mfu", "low must not exceed high"),
    ("draws: -5\n", "draws", "greater than or equal to 1"),
    ("colour: blue\n", "colour", "Extra inputs are not permitted"),
    ("base: no-such-scenario\n", "base", "not a file and not a shipped scenario"),
    ("interventions: [\n", "", "not valid YAML"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "reason"), BAD)
def test_invalid_scenarios_name_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert reason in message


def test_unknown_actor_is_reported_with_intervention(tmp_path: Path) -> None:
    from sluicegate.simulate.run import run_scenario

    path = tmp_path / "actors.yaml"
    path.write_text(
        "base: baseline\ninterventions:\n  - {name: bad-actor, channel: talent, actors: [XX],"
        " start: 2024-01-01, strength: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as info:
        run_scenario(path, draws=2)
    message = str(info.value)
    assert str(path) in message and "bad-actor" in message and "'XX'" in message


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario("does/not/exist.yaml")


def test_domain_picks_chip_classes_and_cloud_lever(tmp_path: Path) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(
        "base: baseline\ninterventions:\n"
        "  - {name: t, channel: hardware, lever: access, domain: frontier-training, actors: [CN],"
        " start: 2026-01-01, strength: 1}\n"
        "  - {name: i, channel: hardware, lever: access, domain: inference, actors: [CN],"
        " start: 2026-01-01, strength: 1}\n"
        "  - {name: a, channel: cloud, domain: inference, actors: [CN], start: 2026-01-01,"
        " strength: 0.5}\n",
        encoding="utf-8",
    )
    items = {i.name: i for i in load_scenario(path).interventions}
    assert items["t"].target_chip_classes() == ["frontier", "previous"]
    assert items["i"].target_chip_classes() == ["compliant", "consumer"]
    assert items["a"].lever == "api"
    assert items["h20-is-informed-letters"].target_chip_classes() == ["compliant"]
