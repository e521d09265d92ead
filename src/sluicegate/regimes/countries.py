"""The country registry (ISO 3166-1) and the EAR Country Groups as of any date.

Group membership comes from ``data/country_groups.yaml`` (dated members with citations). Hong Kong
is not a separate EAR destination since 2020-12-23, so every group test treats ``HK`` as ``CN``;
Macau (``MO``) stays its own destination (D:1, D:3, D:4 — not D:5). For the vectorised evaluator
the groups compile to a table ``[epoch, country, group] -> bool`` where an epoch is an interval
between two membership changes.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from sluicegate.regimes.errors import RegimeDataError

DATA = resources.files("sluicegate.regimes") / "data"

# EAR treats Hong Kong as China in every country-group test (85 FR 83765).
EQUIVALENT_FOR_GROUPS = {"HK": "CN"}


def _read_yaml(name: str) -> Any:
    path = DATA / name
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegimeDataError(name, "", f"not valid YAML: {exc}") from exc


@dataclass(frozen=True)
class CountryRegistry:
    codes: tuple[str, ...]
    names: dict[str, str]
    index: dict[str, int]

    def is_code(self, code: str) -> bool:
        return code in self.index

    def suggest(self, text: str) -> str:
        """A 'did you mean' hint for an unknown code or a country name given instead of a code."""
        upper = text.strip().upper()
        by_name = {name.upper(): code for code, name in self.names.items()}
        if upper in by_name:
            return f"did you mean {by_name[upper]} ({self.names[by_name[upper]]})?"
        names = difflib.get_close_matches(upper, list(by_name), n=2, cutoff=0.75)
        if names:
            return (
                "did you mean "
                + " or ".join(f"{by_name[n]} ({self.names[by_name[n]]})" for n in names)
                + "?"
            )
        codes = difflib.get_close_matches(upper, list(self.codes), n=3, cutoff=0.5)
        if codes:
            return "did you mean " + " or ".join(f"{c} ({self.names[c]})" for c in codes) + "?"
        return "use an ISO 3166-1 alpha-2 code such as US, IN, CN, MO"


@cache
def countries() -> CountryRegistry:
    raw = _read_yaml("countries.yaml")
    rows = raw.get("countries") or {}
    codes = tuple(sorted(rows))
    return CountryRegistry(
        codes=codes,
        names={code: rows[code]["name"] for code in codes},
        index={code: i for i, code in enumerate(codes)},
    )


@dataclass(frozen=True)
class GroupTable:
    """Membership of every country in every group, per epoch between changes."""

    groups: tuple[str, ...]
    change_dates: (
        np.ndarray
    )  # datetime64[D], sorted; epoch k covers [change_dates[k-1], change_dates[k])
    table: np.ndarray  # bool [epochs, countries, groups]
    citations: dict[str, str]

    def epoch_of(self, dates: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.change_dates, dates.astype("datetime64[D]"), side="right")

    def group_index(self, group: str) -> int:
        try:
            return self.groups.index(group)
        except ValueError as exc:
            raise KeyError(
                f"unknown country group {group!r}; known: {', '.join(self.groups)}"
            ) from exc

    def members(self, group: str, date: dt.date) -> set[str]:
        reg = countries()
        epoch = int(self.epoch_of(np.array([np.datetime64(date, "D")]))[0])
        column = self.table[epoch, :, self.group_index(group)]
        return {reg.codes[i] for i in np.flatnonzero(column)}


def _as_date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise RegimeDataError(
            "country_groups.yaml", where, f"{value!r} is not a YYYY-MM-DD date"
        ) from exc


@cache
def group_table() -> GroupTable:
    raw = _read_yaml("country_groups.yaml")
    reg = countries()
    groups_raw = raw.get("groups")
    if not isinstance(groups_raw, dict) or not groups_raw:
        raise RegimeDataError("country_groups.yaml", "groups", "missing or empty")
    names = tuple(groups_raw)
    spans: list[tuple[int, int, dt.date | None, dt.date | None]] = []
    change_set: set[dt.date] = set()
    citations: dict[str, str] = {}
    for gi, group in enumerate(names):
        body = groups_raw[group]
        citations[group] = body.get("title", group)
        for k, member in enumerate(body.get("members") or []):
            where = f"groups.{group}.members[{k}]"
            code = member.get("code")
            if not reg.is_code(code):
                raise RegimeDataError(
                    "country_groups.yaml", where, f"{code!r} is not an ISO 3166-1 code"
                )
            start = _as_date(member.get("from"), where + ".from")
            end = _as_date(member.get("until"), where + ".until")
            for d in (start, end):
                if d is not None:
                    change_set.add(d)
            spans.append((reg.index[code], gi, start, end))
    change_dates = np.array(sorted(change_set), dtype="datetime64[D]")
    epochs = len(change_dates) + 1
    table = np.zeros((epochs, len(reg.codes), len(names)), dtype=bool)
    # epoch e starts at change_dates[e-1] (or -inf for e == 0)
    starts = [None, *[d.astype(object) for d in change_dates]]
    for ci, gi, start, end in spans:
        for e in range(epochs):
            epoch_start = starts[e]
            after_start = start is None or (epoch_start is not None and epoch_start >= start)
            before_end = end is None or epoch_start is None or epoch_start < end
            if start is not None and epoch_start is None:
                after_start = False
            if after_start and before_end:
                table[e, ci, gi] = True
    for alias, target in EQUIVALENT_FOR_GROUPS.items():
        table[:, reg.index[alias], :] = table[:, reg.index[target], :]
    return GroupTable(groups=names, change_dates=change_dates, table=table, citations=citations)


def country_groups(date: dt.date) -> dict[str, set[str]]:
    """Every group's members on ``date`` (HK reported with CN, as the EAR treats it)."""
    table = group_table()
    return {group: table.members(group, date) for group in table.groups}


def canonical_set(codes: list[str] | set[str]) -> set[str]:
    """A set of destinations as the EAR reads it: naming CN also names HK."""
    out = set(codes)
    for alias, target in EQUIVALENT_FOR_GROUPS.items():
        if target in out:
            out.add(alias)
    return out
