"""UVEU geographic allocation check (supplement no. 10 to part 748, paragraph 6): at least 75% of
a company's installed compute in Tier 1, at most 7% in any one Tier 2 country, at least 50% in
the United States for a US-headquartered company. ``core`` runs it over the recorded deployments
(held or confirmed UVEU reservations) each time a UVEU deployment is reserved.

Thresholds are read from the regime file's parameters when it has them, else from the ledger
``settings.yaml`` (with its citations). Tiers are the ones the rules engine put on each decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sluicegate.ledger import regimeinfo
from sluicegate.ledger.settings import load_settings

THRESHOLDS = ("tier1_min_share", "tier2_country_max_share", "us_min_share_if_us_headquartered")


def thresholds(regime_id: str | None) -> dict[str, dict[str, Any]]:
    """Each threshold with its value and where it came from (regime parameter or settings)."""
    settings = load_settings().uveu
    out: dict[str, dict[str, Any]] = {}
    for name in THRESHOLDS:
        entry = settings[name]
        value = regimeinfo.parameter(regime_id, entry.get("regime_parameter", ""))
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = {"value": float(value), "source": f"regime {regime_id}"}
        else:
            out[name] = {
                "value": float(entry["value"]),
                "source": f"ledger settings ({settings['cite']})",
            }
    return out


def location_check(
    deployments: Iterable[tuple[str, int | None, float]],
    *,
    headquarters: str | None,
    regime_id: str | None,
) -> dict[str, Any]:
    """Shares of installed TPP by tier and country, and each threshold broken.

    ``deployments`` are (country, tier, tpp) triples. An unknown tier counts as not Tier 1."""
    limits = thresholds(regime_id)
    total = 0.0
    tier1 = 0.0
    by_country: dict[str, float] = {}
    tier2: dict[str, float] = {}
    for country, tier, tpp in deployments:
        total += tpp
        by_country[country] = by_country.get(country, 0.0) + tpp
        if tier == 1:
            tier1 += tpp
        elif tier == 2:
            tier2[country] = tier2.get(country, 0.0) + tpp
    result: dict[str, Any] = {
        "installed_tpp": total,
        "tier1_share": tier1 / total if total else None,
        "tier2_country_shares": {cc: v / total for cc, v in sorted(tier2.items())} if total else {},
        "us_share": by_country.get("US", 0.0) / total if total else None,
        "thresholds": limits,
        "violations": [],
    }
    if not total:
        return result
    violations: list[dict[str, Any]] = result["violations"]
    need = limits["tier1_min_share"]["value"]
    if result["tier1_share"] < need:
        violations.append(
            {"rule": "tier1_min_share", "share": result["tier1_share"], "threshold": need}
        )
    cap = limits["tier2_country_max_share"]["value"]
    for cc, share in result["tier2_country_shares"].items():
        if share > cap:
            violations.append(
                {"rule": "tier2_country_max_share", "country": cc, "share": share, "threshold": cap}
            )
    if headquarters == "US":
        need_us = limits["us_min_share_if_us_headquartered"]["value"]
        if result["us_share"] < need_us:
            violations.append(
                {
                    "rule": "us_min_share_if_us_headquartered",
                    "share": result["us_share"],
                    "threshold": need_us,
                }
            )
    return result
