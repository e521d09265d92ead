"""Restricted-party screening and headquarters resolution: the public API.

``screen`` checks one name against the active US restricted-party lists (the lists loaded with
``sluice lists load``, else the bundle shipped in the package) and explains every match;
``screen_many`` does the same for contract §3 query records, one result per record;
``resolve_party`` finds a party's headquarters, ultimate parent and whether the OFAC 50% rule
treats it as listed. Each match says what a hit means (``effect``), the licence review policy a
block imposes (``review_policy``) and the ``citation``; the rules engine uses these to fill the
decision's ``screening`` field. Modules: ``loaders`` (list formats), ``store`` (the active set),
``normalize`` and ``matcher`` (names), ``screener`` (matches and decisions), ``ownership``
(party graph), ``evaluation`` (labelled set and metrics), ``commands`` (the CLI).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sluicegate.screening.loaders import ListLoadError, read_list
from sluicegate.screening.models import Entity, ListInfo, list_catalogue, list_info
from sluicegate.screening.ownership import PartyNotFound, PartyResolution, get_graph
from sluicegate.screening.screener import (
    Bands,
    Match,
    QueryError,
    ScreenResult,
    default_bands,
    get_screener,
    validate_query,
)

__all__ = [
    "Bands",
    "Entity",
    "ListInfo",
    "ListLoadError",
    "Match",
    "PartyNotFound",
    "PartyResolution",
    "QueryError",
    "ScreenResult",
    "default_bands",
    "list_catalogue",
    "list_info",
    "read_list",
    "resolve_party",
    "screen",
    "screen_many",
]


def screen(
    name: str,
    country: str | None = None,
    address: str | None = None,
    *,
    bands: Bands | None = None,
) -> ScreenResult:
    """Screen one party name. Raises QueryError (with ``.field``) on invalid input.

    ``result.decision`` is "clear", "review" or "block"; each of ``result.matches`` carries
    ``list``, ``entity_id``, ``name``, ``matched_name``, ``score``, ``effect``,
    ``review_policy`` (what a block imposes: policy-of-denial, presumption-of-denial, ...),
    ``citation`` and an ``explanation``. ``result.to_contract()`` gives the JSON form.
    """
    _qid, name, country, address = validate_query(
        {"id": "query", "name": name, "country": country, "address": address}
    )
    return get_screener().screen(name, country, address, bands=bands)


def screen_many(queries: Iterable[Any], *, bands: Bands | None = None) -> list[dict[str, Any]]:
    """Contract §3: one result dict per query record, in order; invalid records give
    ``{"id", "error": {"field", "message"}}`` in their place."""
    return get_screener().screen_many(queries, bands=bands)


def resolve_party(party_id: str) -> PartyResolution:
    """Headquarters, ultimate parent (and its headquarters), the ownership chain, and whether
    the OFAC 50% rule treats the party as listed. ``party_id`` is a listed entity id (e.g.
    ``ofac-sdn:306``), a party id from a loaded ownership file, or a listed name.
    Raises PartyNotFound when it is none of these."""
    return get_graph().resolve(party_id)
