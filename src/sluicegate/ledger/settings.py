"""Ledger settings: the packaged ``settings.yaml`` with environment overrides.

The settings hold the few legal figures the ledger applies itself (record retention, UVEU
location ratios as a fallback when the regime file lacks them, how NVEU attrition is read) and
operational knobs of the store. Quota limits never live here: they arrive with each draw from
``sluicegate.rules``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class LedgerSettings:
    """Parsed ``settings.yaml``; ``raw`` keeps the whole document (citations included)."""

    raw: dict[str, Any]

    @property
    def retention_years(self) -> float:
        env = os.environ.get("SLUICE_AUDIT_RETENTION_YEARS")
        if env:
            return float(env)
        return float(self.raw["retention"]["years"])

    @property
    def nveu_attrition_frees_allocation(self) -> bool:
        return bool(self.raw["nveu_attrition"]["frees_allocation"])

    @property
    def attrition_reasons(self) -> list[str]:
        return list(self.raw["nveu_attrition"]["reasons"])

    @property
    def counter_pool_kinds(self) -> set[str]:
        return {entry["kind"] for entry in self.raw.get("counter_pool_kinds", [])}

    @property
    def uveu(self) -> dict[str, Any]:
        return dict(self.raw["uveu_location"])

    @property
    def default_url(self) -> str:
        return str(self.raw["store"]["default_url"])

    @property
    def sqlite_busy_timeout_ms(self) -> int:
        return int(self.raw["store"]["sqlite_busy_timeout_ms"])

    @property
    def sqlite_synchronous(self) -> str:
        value = str(
            os.environ.get("SLUICE_SQLITE_SYNCHRONOUS") or self.raw["store"]["sqlite_synchronous"]
        ).upper()
        if value not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(
                f"SLUICE_SQLITE_SYNCHRONOUS: {value!r} is not one of OFF, NORMAL, FULL, EXTRA"
            )
        return value

    @property
    def postgresql_commit(self) -> str:
        value = str(
            os.environ.get("SLUICE_POSTGRES_COMMIT")
            or self.raw["store"].get("postgresql_commit", "group")
        ).lower()
        if value not in {"group", "sync"}:
            raise ValueError(f"SLUICE_POSTGRES_COMMIT: {value!r} is not one of group, sync")
        return value

    @property
    def transaction_retries(self) -> int:
        return int(self.raw["store"]["transaction_retries"])


@lru_cache(maxsize=1)
def load_settings() -> LedgerSettings:
    """Read the packaged settings file once."""
    text = resources.files("sluicegate.ledger").joinpath("settings.yaml").read_text("utf-8")
    return LedgerSettings(raw=yaml.safe_load(text))
