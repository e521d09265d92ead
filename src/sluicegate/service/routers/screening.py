"""Screening over HTTP: names against the restricted-party lists, and parties' ownership."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import ScreenBatch, ScreenQuery, ScreenResult, ScreenResults
from sluicegate.service.routers.common import AUTH, errors, example
from sluicegate.service.store import Principal

router = APIRouter(prefix="/v1", tags=["screening"])


@router.post(
    "/screen",
    response_model=ScreenResult | ScreenResults,
    responses={
        **errors(*AUTH, 413, 422),
        **example({"id": "q1", "decision": "clear", "matches": []}),
    },
)
def post_screen(
    body: Annotated[
        ScreenQuery | ScreenBatch,
        Body(
            openapi_examples={
                "one": {"value": {"id": "q1", "name": "Huawei Technologies", "country": "CN"}},
                "batch": {"value": {"queries": [{"id": "q1", "name": "Huawei"}]}},
            }
        ),
    ],
    _p: Principal = Depends(allow("screen")),
) -> Any:
    """Screen one query (its result) or ``{"queries": [...]}`` (``{"results": [...]}``); every
    match says why it matched, what a hit means and the citation."""
    from sluicegate.screening import screen_many

    if isinstance(body, ScreenBatch):
        queries = [
            q.model_dump(exclude_none=True) | {"id": q.id or str(i)}
            for i, q in enumerate(body.queries, 1)
        ]
        return JSONResponse({"results": screen_many(queries)})
    query = body.model_dump(exclude_none=True) | {"id": body.id or "query"}
    result = screen_many([query])[0]
    if "error" in result:
        raise ApiError(422, result["error"]["message"], result["error"]["field"])
    return JSONResponse(result)


@router.get(
    "/parties/{party_id}",
    response_model=dict[str, Any],
    responses={
        **errors(*AUTH, 404),
        **example(
            {
                "party_id": "bis-entity-list:cn-huawei-technologies-co-ltd",
                "name": "Huawei Technologies Co., Ltd.",
                "listed_on": ["bis-entity-list"],
                "headquarters": "CN",
                "headquarters_basis": "listed address/country on bis-entity-list",
                "ultimate_parent": None,
                "ultimate_parent_name": None,
                "ultimate_parent_headquarters": "CN",
                "chain": [],
                "treated_as_listed": False,
                "aggregate_listed_ownership": 0.0,
                "listed_owners": [],
                "ownership_rule_citation": None,
                "notes": [],
            }
        ),
    },
)
def get_party(party_id: str, principal: Principal = Depends(allow("parties"))) -> dict[str, Any]:
    """A party's headquarters, ultimate parent, ownership chain and whether the OFAC 50% rule
    treats it as listed. Exporters see only the consignees their key names."""
    from sluicegate.screening import PartyNotFound, resolve_party

    if principal.role == "exporter" and party_id not in principal.consignees:
        raise ApiError(403, "exporters see only their own consignees", "party_id")
    try:
        resolution = resolve_party(party_id)
    except PartyNotFound:
        raise ApiError(404, f"no party {party_id!r} in the party graph", "party_id") from None
    body: dict[str, Any] = resolution.model_dump(mode="json")
    return body
