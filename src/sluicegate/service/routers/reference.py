"""Reference data: regimes (list, show, diff), tiers as of a date, chips, scenarios."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Query

from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import RegimeSummary, TierMap
from sluicegate.service.routers.common import AUTH, errors, example

router = APIRouter(prefix="/v1", tags=["reference"])

REGIME_EXAMPLE = {
    "id": "us-2023-11-17",
    "title": "Implementation of Additional Export Controls: Certain Advanced Computing Items",
    "citation": "88 FR 73458",
    "published": "2023-10-25",
    "effective": "2023-11-17",
    "compliance": "2023-11-17",
    "end": "2024-12-01",
    "binding": True,
    "provisions": {"eccn_3a090": {"title": "ECCN 3A090", "cite": "88 FR 73458", "parameters": {}}},
}
DIFF_EXAMPLE = {
    "from": "us-2023-11-17",
    "to": "us-2024-12-02",
    "dates": {"effective": {"from": "2023-11-17", "to": "2024-12-02"}},
}
CHIP_EXAMPLE = {
    "id": "nvidia-h100-sxm",
    "name": "NVIDIA H100 SXM",
    "manufacturer": "NVIDIA",
    "tpp": 15832,
    "die_area_mm2": 814,
    "performance_density": 19.45,
    "datacenter": True,
    "memory_bandwidth_gbs": 3350,
    "interconnect_gbs": 900,
    "classification_today": "3A090.a",
}
reader = Depends(allow("reference"))


def _regime(ref: str) -> Any:
    from sluicegate.regimes import regimes
    from sluicegate.regimes.loader import load_reform, shipped_reforms

    if ref in regimes():
        return regimes()[ref]
    if ref in shipped_reforms():
        return load_reform(ref)
    raise ApiError(404, f"no regime or shipped reform {ref!r}", "id")


@router.get("/regimes", response_model=list[RegimeSummary], responses=errors(*AUTH))
def list_regimes(_p: Any = reader) -> list[dict[str, Any]]:
    """Every regime vintage with its dates and which one binds today."""
    from sluicegate.regimes import regime_summaries

    return regime_summaries()


@router.get(
    "/reforms",
    response_model=list[str],
    responses={**errors(*AUTH), **example(["g2g-doubled-allocations", "h20-class-controlled"])},
)
def list_reforms(_p: Any = reader) -> list[str]:
    """Names of the shipped reforms (usable as ``?reform=NAME``)."""
    from sluicegate.regimes.loader import shipped_reforms

    return shipped_reforms()


@router.get(
    "/regimes/{regime_id}",
    response_model=dict[str, Any],
    responses={**errors(*AUTH, 404), **example(REGIME_EXAMPLE)},
)
def show_regime(regime_id: str, _p: Any = reader) -> dict[str, Any]:
    """One regime or shipped reform in full: dates, status, provisions, cited parameters."""
    body: dict[str, Any] = _regime(regime_id).model_dump(mode="json")
    return body


@router.get(
    "/regimes/{a}/diff/{b}",
    response_model=dict[str, Any],
    responses={**errors(*AUTH, 404), **example(DIFF_EXAMPLE)},
)
def diff(a: str, b: str, _p: Any = reader) -> dict[str, Any]:
    """What changed from regime A to regime B: dates, provisions, parameters."""
    import json

    from sluicegate.regimes import diff_regimes

    result: dict[str, Any] = json.loads(
        json.dumps(diff_regimes(_regime(a), _regime(b)), default=str)
    )
    return result


@lru_cache(maxsize=1)
def alpha3() -> dict[str, tuple[str, str]]:
    """ISO alpha-2 -> (alpha-3, name) from the shipped countries.yaml."""
    text = (resources.files("sluicegate") / "regimes" / "data" / "countries.yaml").read_text(
        encoding="utf-8"
    )
    rows = yaml.safe_load(text)["countries"]
    return {code: (row["alpha_3"], row["name"]) for code, row in rows.items()}


@lru_cache(maxsize=64)
def _tier_map(day: dt.date, regime: str, chip: str) -> dict[str, Any]:
    from sluicegate.regimes import get_regime, tier_of
    from sluicegate.rules import decide_records

    reg = get_regime(regime)
    codes = sorted(alpha3())
    decisions = decide_records(
        [
            {"id": cc, "date": day.isoformat(), "destination": cc, "item": {"chip": chip}}
            for cc in codes
        ],
        regime=regime,
        trace=False,
    )
    has_tiers = reg.has("diffusion_tiers")
    rows = []
    for cc, decision in zip(codes, decisions, strict=True):
        rows.append(
            {
                "code": cc,
                "alpha_3": alpha3()[cc][0],
                "name": alpha3()[cc][1],
                "tier": tier_of(cc, day, reg) if has_tiers else None,
                "authorization": decision.get("authorization"),
                "review_policy": decision.get("review_policy"),
            }
        )
    return {
        "date": day.isoformat(),
        "regime": regime,
        "has_tiers": has_tiers,
        "chip": chip,
        "countries": rows,
    }


@router.get("/tiers", response_model=TierMap, responses=errors(*AUTH, 422))
def tiers(
    date: Annotated[dt.date, Query(description="as of this date (YYYY-MM-DD)")],
    regime: Annotated[
        str | None, Query(description="regime id (default: the one binding on the date)")
    ] = None,
    chip: Annotated[str, Query(description="catalogue chip for the licence map")] = (
        "nvidia-h100-sxm"
    ),
    _p: Any = reader,
) -> dict[str, Any]:
    """Every country's tier (where the regime has tiers) and the authorization one unit of
    ``chip`` would need there, as of ``date`` under ``regime`` — the overview map's data."""
    from sluicegate.regimes import binding_regime_on, catalogue, regime_ids

    if regime is None:
        bound = binding_regime_on(date)
        if bound is None:
            raise ApiError(422, f"no regime binds on {date}; choose one", "regime")
        regime = bound.id
    if regime not in regime_ids():
        raise ApiError(422, f"unknown regime {regime!r}", "regime")
    if chip not in catalogue():
        raise ApiError(422, f"{chip!r} is not in the catalogue", "chip")
    return _tier_map(date, regime, chip)


CHIP_FIELDS = (
    "id",
    "name",
    "manufacturer",
    "tpp",
    "die_area_mm2",
    "performance_density",
    "datacenter",
    "memory_bandwidth_gbs",
    "interconnect_gbs",
)


@router.get(
    "/chips",
    response_model=list[dict[str, Any]],
    responses={**errors(*AUTH), **example([CHIP_EXAMPLE])},
)
def list_chips(_p: Any = reader) -> list[dict[str, Any]]:
    """Every accelerator: TPP, performance density, datacenter flag, classification today."""
    from sluicegate.regimes import catalogue
    from sluicegate.rules.chips import chip_classifications_on

    classes = chip_classifications_on(dt.date.today())
    return [
        {**{k: c.get(k) for k in CHIP_FIELDS}, "classification_today": classes[c["id"]]}
        for c in catalogue().values()
    ]


@router.get(
    "/chips/{chip_id}",
    response_model=dict[str, Any],
    responses={**errors(*AUTH, 404), **example(CHIP_EXAMPLE)},
)
def show_chip(chip_id: str, _p: Any = reader) -> dict[str, Any]:
    """One accelerator with every figure, its source and its classification under each regime."""
    import json

    from sluicegate.regimes import catalogue, catalogue_attribution, suggest_chip
    from sluicegate.rules.chips import classification_by_regime

    chips = catalogue()
    if chip_id.lower() not in chips:
        close = suggest_chip(chip_id.lower())
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ApiError(404, f"{chip_id!r} is not in the catalogue{hint}", "id")
    chip = dict(chips[chip_id.lower()])
    chip["classification_by_regime"] = classification_by_regime(chip_id.lower())
    chip["attribution"] = catalogue_attribution()
    result: dict[str, Any] = json.loads(json.dumps(chip, default=str))
    return result


@router.get(
    "/scenarios",
    response_model=list[str],
    responses={**errors(*AUTH), **example(["baseline", "diffusion-enforced-2025-05"])},
)
def list_scenarios(_p: Any = reader) -> list[str]:
    """The shipped simulation scenarios."""
    from sluicegate.simulate import shipped_scenarios

    return shipped_scenarios()
