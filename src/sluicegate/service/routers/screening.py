"""Screening over HTTP: names against the restricted-party lists, and parties' ownership."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse

from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import (
    OwnershipEdge,
    PartyResolveRequest,
    PartyResults,
    ScreenBatch,
    ScreenQuery,
    ScreenResult,
    ScreenResults,
)
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


@functools.lru_cache(maxsize=8)
def _graph_with(version: str, edges: tuple[tuple[tuple[str, Any], ...], ...]) -> Any:
    """The party graph of the active lists plus ownership links (built once per distinct set:
    building one takes seconds)."""
    from sluicegate.screening.loaders import LoadedList
    from sluicegate.screening.ownership import PartyGraph
    from sluicegate.screening.store import active_set, merge

    del version  # part of the cache key: a new list version builds a new graph
    extra = LoadedList(
        "request", "ownership-json", [], None, ownership=[dict(edge) for edge in edges]
    )
    return PartyGraph(merge(active_set(), [extra], "active + request ownership"))


def _resolve_all(
    principal: Principal, references: list[str], ownership: list[OwnershipEdge] | None = None
) -> dict[str, Any]:
    """One result per reference, in order (a resolution or ``{"id", "error"}``), over the
    active lists plus ``ownership`` links (as ``sluice parties resolve --ownership``)."""
    from sluicegate.screening.ownership import PartyNotFound, get_graph
    from sluicegate.screening.store import active_version

    graph = get_graph()
    if ownership:
        edges = []
        for e in ownership:
            edge = e.model_dump(exclude_none=True)
            for key in ("owner_headquarters", "owned_headquarters"):
                if key in edge:
                    edge[key] = edge[key].upper()
            edges.append(tuple(sorted(edge.items())))
        graph = _graph_with(active_version(), tuple(edges))
    results: list[dict[str, Any]] = []
    for reference in references:
        try:
            resolution = graph.resolve(reference)
        except PartyNotFound as exc:
            results.append({"id": reference, "error": {"field": "party", "message": str(exc)}})
            continue
        if principal.role == "exporter" and not (
            {reference, resolution.party_id} & principal.consignees
        ):
            raise ApiError(
                403, f"exporters see only their own consignees, not {reference!r}", "party"
            )
        results.append(resolution.model_dump(mode="json"))
    return {"results": results}


@router.get(
    "/parties/resolve",
    response_model=PartyResults,
    responses=errors(*AUTH, 422),
)
def resolve_parties(
    party: Annotated[
        list[str],
        Query(
            min_length=1,
            max_length=50,
            description="party ids (e.g. ofac-sdn:306) or listed names; repeat for several",
        ),
    ],
    principal: Principal = Depends(allow("parties")),
) -> dict[str, Any]:
    """Headquarters, ultimate parent and its headquarters, the ownership chain and the OFAC 50%
    rule for each party (as ``sluice parties resolve``); a party not found gives
    ``{"id", "error"}`` in its place. Exporters see only the consignees their key names."""
    if any(not p.strip() or len(p) > 500 for p in party):
        raise ApiError(422, "each party is 1 to 500 characters", "party")
    return _resolve_all(principal, [p.strip() for p in party])


@router.post(
    "/parties/resolve",
    response_model=PartyResults,
    responses=errors(*AUTH, 413, 422),
)
def resolve_parties_with_ownership(
    body: PartyResolveRequest, principal: Principal = Depends(allow("parties"))
) -> dict[str, Any]:
    """As ``GET /v1/parties/resolve``, with ownership links the lists do not hold (the rows of
    ``sluice parties resolve --ownership``): they count towards the ultimate parent and the 50%
    rule for this request only; nothing is stored."""
    references = [p.strip() for p in body.parties]
    if any(not p or len(p) > 500 for p in references):
        raise ApiError(422, "each party is 1 to 500 characters", "parties")
    for i, edge in enumerate(body.ownership):
        if edge.owner.strip() == edge.owned.strip():
            raise ApiError(422, f"{edge.owner!r} cannot own itself", f"ownership.{i}.owner")
    return _resolve_all(principal, references, body.ownership)


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
