"""The simulator's actors: countries (plus one rest-of-world bucket) and their static inputs.

Reads ``data/actors.yaml`` (tiers, talent shares, Epoch name spellings) and
``data/epoch_inputs.yaml`` (Epoch AI cluster data derived by ``sluicegate.simulate.epoch``) and
returns an ``ActorSet`` of aligned numpy arrays that ``sluicegate.simulate.model`` steps through
time. The rest-of-world bucket (``ROW``) is simulated so that global totals add up, but it is not
reported as a country in ``summary.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

ROW = "ROW"


def _data(name: str) -> Any:
    text = resources.files("sluicegate.simulate").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


@cache
def actor_records() -> dict[str, dict[str, Any]]:
    """Actor code -> record from data/actors.yaml (insertion order kept)."""
    return dict(_data("actors.yaml")["actors"])


def _epoch_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code, record in actor_records().items():
        for name in record.get("epoch_names", []):
            names[name] = code
    return names


EPOCH_COUNTRY_NAMES: dict[str, str] = _epoch_names()


@cache
def epoch_inputs() -> dict[str, Any]:
    """The derived Epoch AI tables (see sluicegate.simulate.epoch)."""
    return dict(_data("epoch_inputs.yaml"))


@dataclass(frozen=True)
class ActorSet:
    """Aligned per-actor arrays; the last entry is the rest-of-world bucket."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    diffusion_tier: np.ndarray  # int, 0 for ROW
    talent_work: np.ndarray
    diaspora_in_us: np.ndarray
    domestic_chips: np.ndarray  # bool
    demand_weight: np.ndarray  # prior share of new accelerator demand, sums to 1
    policy_destination: tuple[str, ...]  # destination code used in the rules table

    @property
    def size(self) -> int:
        return len(self.codes)

    def index(self, code: str) -> int:
        return self.codes.index(code)

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(c for c in self.codes if c != ROW)


def demand_weights(codes: list[str], floor_h100e: float = 300.0) -> np.ndarray:
    """Share of 2022-2025 accelerator additions by country from Epoch's tracked clusters.

    Tracked additions (H100e in clusters first operational 2022..2025) plus a small floor so that
    countries with no tracked cluster still buy; clusters with no country go to the rest of the
    world. Epoch tracks roughly half of the installed stock, so these are shares, not levels.
    """
    clusters = epoch_inputs()["cluster_h100e"]
    end, start = clusters["2025"], clusters["2021"]
    weights = []
    tracked = 0.0
    for code in codes:
        if code == ROW:
            weights.append(0.0)
            continue
        added = float(end.get(code, 0.0)) - float(start.get(code, 0.0))
        tracked += max(added, 0.0)
        weights.append(max(added, 0.0) + floor_h100e)
    total_end = float(end["_tracked_total"]) - float(start["_tracked_total"])
    if ROW in codes:
        weights[codes.index(ROW)] = max(total_end - tracked, floor_h100e)
    arr = np.asarray(weights, dtype=float)
    return arr / arr.sum()


def load_actors(include: list[str] | None = None) -> ActorSet:
    """All actors of data/actors.yaml (or the listed subset), followed by ROW."""
    records = actor_records()
    codes = [c for c in records if include is None or c in include]
    unknown = sorted(set(include or []) - set(records))
    if unknown:
        raise ValueError(f"actors: unknown actor code(s) {unknown}; known: {sorted(records)}")
    rest = _data("actors.yaml")["rest_of_world"]
    all_codes = [*codes, ROW]
    return ActorSet(
        codes=tuple(all_codes),
        names=(*[records[c]["name"] for c in codes], "Rest of world"),
        diffusion_tier=np.array([records[c]["diffusion_tier"] for c in codes] + [2]),
        talent_work=np.array(
            [records[c]["talent_work"] for c in codes] + [rest["talent_work"]], dtype=float
        ),
        diaspora_in_us=np.array(
            [records[c].get("diaspora_in_us", 0.0) for c in codes] + [0.0], dtype=float
        ),
        domestic_chips=np.array(
            [bool(records[c].get("domestic_chips", False)) for c in codes] + [False]
        ),
        demand_weight=demand_weights(all_codes),
        policy_destination=(*codes, rest["policy_proxy"]),
    )
