"""Scenario files: a base scenario, draws, seed, parameter overrides and interventions.

A scenario is YAML (see ``scenarios/*.yaml`` for the shipped library and docs/simulator.md for
the format). ``load_scenario`` accepts a shipped name (``baseline``) or a path, resolves ``base``
chains, validates everything with pydantic and raises ``ScenarioError`` whose message names the
file, the key and the reason. The model (``sluicegate.simulate.model``) consumes the resolved
``Scenario``; the rules-engine coupling (``sluicegate.simulate.policy``) reads its regime segments.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sluicegate.simulate.parameters import ParameterError, apply_overrides, load_parameter_specs

Channel = Literal["hardware", "weights", "cloud", "talent", "algorithms", "counter-pressure"]
Domain = Literal["all", "frontier-training", "inference", "biological"]

LEVERS: dict[str, tuple[str, ...]] = {
    "hardware": ("regime", "access", "tool-controls"),
    "weights": ("security", "deployment", "open-release"),
    "cloud": ("kyc-training", "api"),
    "talent": ("visa",),
    "algorithms": ("publication",),
    "counter-pressure": ("minerals",),
}
CHIP_CLASSES = ("frontier", "previous", "compliant", "consumer")


class ScenarioError(ValueError):
    """Invalid scenario: the message names the file, the key and the reason."""


class Intervention(BaseModel):
    """One policy lever applied to some actors for some time."""

    model_config = ConfigDict(extra="forbid")

    name: str
    channel: Channel
    lever: str | None = None
    domain: Domain = "all"
    actors: list[str] = Field(default_factory=lambda: ["all"])
    start: dt.date
    end: dt.date | None = None
    strength: float | None = Field(default=None, ge=0.0, le=1.0)
    regime: str | None = None
    reform: str | None = None
    chip_classes: list[str] | None = None
    note: str | None = None
    source: str | None = None

    @field_validator("chip_classes")
    @classmethod
    def _classes(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if item not in CHIP_CLASSES:
                raise ValueError(f"{item!r} is not a chip class; use one of {list(CHIP_CLASSES)}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Intervention:
        levers = LEVERS[self.channel]
        if self.lever is None:
            # the domain picks the natural lever: API access is how inference is reached
            inference_cloud = self.channel == "cloud" and self.domain == "inference"
            self.lever = "api" if inference_cloud else levers[0]
        if self.lever not in levers:
            raise ValueError(
                f"lever {self.lever!r} is not valid for channel {self.channel!r}; use one of {list(levers)}"
            )
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.lever == "regime":
            if (self.regime is None) == (self.reform is None):
                raise ValueError(
                    "a hardware 'regime' intervention needs exactly one of regime or reform"
                )
        elif self.strength is None:
            raise ValueError(f"lever {self.lever!r} needs a strength between 0 and 1")
        return self

    def target_chip_classes(self) -> list[str]:
        """Chip classes a hardware 'access' lever restricts: explicit, else by domain.

        frontier-training → frontier and previous-generation datacenter chips; inference →
        China-compliant (H20-class) and consumer chips; all / biological → every class.
        """
        if self.chip_classes is not None:
            return list(self.chip_classes)
        if self.domain == "frontier-training":
            return ["frontier", "previous"]
        if self.domain == "inference":
            return ["compliant", "consumer"]
        return list(CHIP_CLASSES)

    def active(self, month: dt.date) -> bool:
        return self.start <= month and (self.end is None or month < self.end)


class Scenario(BaseModel):
    """A resolved scenario (base chain applied)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    base: str | None = None
    draws: int = Field(default=200, ge=1, le=1_000_000)
    seed: int = 20250513
    start: dt.date = dt.date(2022, 1, 1)
    end: dt.date = dt.date(2035, 12, 1)
    actors: list[str] | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    counter_measures: bool = True
    interventions: list[Intervention] = Field(default_factory=list)
    remove_interventions: list[str] = Field(default_factory=list)
    source_file: str | None = None

    @model_validator(mode="after")
    def _horizon(self) -> Scenario:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        names = [i.name for i in self.interventions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"intervention names must be unique; repeated: {dupes}")
        return self


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in sluicegate/simulate/scenarios/."""
    folder = resources.files("sluicegate.simulate").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read(name_or_path: str | Path) -> tuple[str, dict[str, Any]]:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ScenarioError(f"{path}: file not found")
        label, text = str(path), path.read_text("utf-8")
    else:
        folder = resources.files("sluicegate.simulate").joinpath("scenarios")
        item = folder.joinpath(f"{name_or_path}.yaml")
        if not item.is_file():
            raise ScenarioError(
                f"{name_or_path}: not a file and not a shipped scenario; shipped: {shipped_scenarios()}"
            )
        label, text = f"{name_or_path}.yaml", item.read_text("utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{label}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: top level must be a mapping")
    return label, data


def _format_error(label: str, exc: ValidationError, data: dict[str, Any]) -> ScenarioError:
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        key = ""
        for item in loc:
            key += f"[{item}]" if isinstance(item, int) else (f".{item}" if key else str(item))
        if loc[:1] == ["interventions"] and len(loc) > 1 and isinstance(loc[1], int):
            try:
                key += f" (intervention {data['interventions'][loc[1]].get('name')!r})"
            except (KeyError, IndexError, AttributeError, TypeError):
                pass
        reason = err["msg"].removeprefix("Value error, ")
        given = err.get("input")
        if isinstance(given, str | int | float) and not isinstance(given, bool):
            reason += f" (got {given!r})"
        parts.append(f"{label}: {key or '(top level)'}: {reason}")
    return ScenarioError("\n".join(parts))


def load_scenario(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> Scenario:
    """Load, resolve the base chain, validate; raise ScenarioError naming file, key and reason."""
    label, data = _read(name_or_path)
    if label in _seen:
        raise ScenarioError(f"{label}: base: circular base chain {[*_seen, label]}")
    data.setdefault("name", Path(label).stem)
    base_name = data.get("base")
    merged: dict[str, Any] = dict(data)
    if base_name:
        if not isinstance(base_name, str):
            raise ScenarioError(f"{label}: base: must be a scenario name or path")
        try:
            base = load_scenario(
                base_name
                if not (Path(label).parent / str(base_name)).exists()
                else Path(label).parent / base_name,
                (*_seen, label),
            )
        except ScenarioError as exc:
            raise ScenarioError(f"{label}: base: {exc}") from exc
        removed = set(data.get("remove_interventions") or [])
        unknown = removed - {i.name for i in base.interventions}
        if unknown:
            raise ScenarioError(
                f"{label}: remove_interventions: {sorted(unknown)} not in base {base.name!r}"
            )
        inherited = [
            i.model_dump(mode="json", exclude_none=True)
            for i in base.interventions
            if i.name not in removed
        ]
        merged = {
            **base.model_dump(
                mode="json", exclude={"interventions", "source_file", "remove_interventions"}
            ),
            **{k: v for k, v in data.items() if k not in ("interventions", "overrides")},
            "overrides": {**base.overrides, **(data.get("overrides") or {})},
            "interventions": inherited + list(data.get("interventions") or []),
        }
    merged["source_file"] = label
    try:
        scenario = Scenario.model_validate(merged)
    except ValidationError as exc:
        raise _format_error(label, exc, merged) from exc
    try:
        apply_overrides(load_parameter_specs(), scenario.overrides, where=f"{label}: overrides")
    except ParameterError as exc:
        msg = str(exc)
        raise ScenarioError(msg if msg.startswith(label) else f"{label}: {msg}") from exc
    return scenario
