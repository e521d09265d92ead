"""The law as data: regime vintages, country groups, the accelerator catalogue, reforms.

Public API: :func:`regimes`, :func:`get_regime`, :func:`resolve_regime` (id or reform file),
:func:`load_reform`, :func:`binding_regime_on` ("as of" selection), :func:`diff_regimes`,
:func:`country_groups`, :func:`tier_of`, :func:`catalogue`, :func:`countries`.
"""

from __future__ import annotations

import datetime as dt

from sluicegate.regimes.catalogue import H100_TPP, catalogue, catalogue_attribution, suggest_chip
from sluicegate.regimes.countries import canonical_set, countries, country_groups, group_table
from sluicegate.regimes.errors import RegimeDataError, UnknownRegimeError
from sluicegate.regimes.loader import (
    binding_intervals,
    binding_regime_on,
    diff_regimes,
    first_binding_date,
    get_regime,
    load_reform,
    regime_ids,
    regimes,
    resolve_regime,
    status_for,
)
from sluicegate.regimes.model import Regime


def tier_of(
    code: str, date: dt.date, regime: Regime | str = "us-2025-01-13-ai-diffusion"
) -> int | None:
    """The AI Diffusion tier of a destination on a date (None if the regime defines no tiers)."""
    reg = get_regime(regime) if isinstance(regime, str) else regime
    if not reg.has("diffusion_tiers"):
        return None
    code = code.upper()
    if code in canonical_set(reg.param("diffusion_tiers.tier1_destinations")):
        return 1
    groups = country_groups(date)
    tier3 = set(canonical_set(reg.param("diffusion_tiers.tier3_extra_destinations")))
    for group in reg.param("diffusion_tiers.tier3_groups"):
        tier3 |= groups[group]
    return 3 if code in tier3 else 2


def regime_summaries(today: dt.date | None = None) -> list[dict[str, object]]:
    """One row per regime vintage: its dates, status today and whether it binds today (the CLI's
    `regimes list` and the API's `GET /v1/regimes`)."""
    today = today or dt.date.today()
    current = binding_regime_on(today)
    return [
        {
            "id": r.id,
            "title": r.short_title,
            "citation": r.citation,
            "published": str(r.published),
            "effective": str(r.effective),
            "compliance": str(r.compliance),
            "end": str(r.end) if r.end else None,
            "binding": r.binding,
            "status_today": r.legal_status_on(today),
            "in_force_today": current is not None and current.id == r.id,
            "content_hash": r.content_hash[:16],
        }
        for r in regimes().values()
    ]


__all__ = [
    "H100_TPP",
    "Regime",
    "RegimeDataError",
    "UnknownRegimeError",
    "binding_intervals",
    "binding_regime_on",
    "catalogue",
    "catalogue_attribution",
    "countries",
    "country_groups",
    "diff_regimes",
    "first_binding_date",
    "get_regime",
    "group_table",
    "load_reform",
    "regime_ids",
    "regime_summaries",
    "regimes",
    "resolve_regime",
    "status_for",
    "suggest_chip",
    "tier_of",
]
