"""Screening inside decisions: ``sluice decide --screen``.

Before deciding, a consignee that names a ``party`` takes its headquarters and its ultimate
parent's headquarters from the party graph (where the record does not give them). After deciding,
the consignee's name is screened against the active lists and the result fills the decision's
``screening`` field (contract §2). A ``block`` — a match in the block band on a list that can
block, or a party the OFAC 50% rule treats as listed — turns the decision into ``LICENSE`` with the
review policy the list requires (policy of denial for the Denied Persons List and the SDN list,
presumption of denial for the Entity List unless the entry says otherwise), with the citation and a
trace step. The rules engine knows nothing of screening; this module composes the two.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from sluicegate.screening import PartyNotFound, QueryError, resolve_party, screen

STRICTNESS = {
    "policy-of-denial": 3,
    "presumption-of-denial": 2,
    "case-by-case": 1,
    "presumption-of-approval": 0,
}


def enrich_with_parties(records: Iterable[Any]) -> Iterator[Any]:
    """Fill consignee headquarters from the party graph for records that name a ``party``."""
    for record in records:
        consignee = record.get("consignee") if isinstance(record, dict) else None
        party = consignee.get("party") if isinstance(consignee, dict) else None
        if not isinstance(party, str) or not party:
            yield record
            continue
        try:
            resolution = resolve_party(party)
        except PartyNotFound:
            yield record  # the decision says so (see screen_decision); nothing is invented
            continue
        record = copy.deepcopy(record)
        cons = record["consignee"]
        if resolution.headquarters and not cons.get("headquarters"):
            cons["headquarters"] = resolution.headquarters
        if resolution.ultimate_parent_headquarters and not cons.get("ultimate_parent_headquarters"):
            cons["ultimate_parent_headquarters"] = resolution.ultimate_parent_headquarters
        yield record


def screen_decision(record: Any, decision: dict[str, Any]) -> dict[str, Any]:
    """Fill ``screening`` for one decided record; a block changes the decision as the list says."""
    if "error" in decision or not isinstance(record, dict):
        return decision
    consignee = record.get("consignee") or {}
    name = consignee.get("name")
    country = consignee.get("country") or record.get("destination")
    party = consignee.get("party")
    notes: list[str] = []
    resolution = None
    if isinstance(party, str) and party:
        try:
            resolution = resolve_party(party)
        except PartyNotFound:
            notes.append(
                f"consignee.party {party!r} is not in the party graph; headquarters as given"
            )
        name = name or (resolution.name if resolution else None)
    if not name:
        decision.setdefault("assumptions", []).append(
            "no consignee.name (or party): the consignee was not screened"
        )
        return decision
    try:
        result = screen(
            name,
            country if isinstance(country, str) else None,
            consignee.get("address") if isinstance(consignee.get("address"), str) else None,
        )
    except QueryError as exc:
        decision.setdefault("assumptions", []).append(
            f"consignee.{'name' if exc.field == 'name' else exc.field}: {exc.message}; not screened"
        )
        return decision
    screening = result.to_contract()
    screening.pop("id", None)
    blocking = [m for m in result.matches if m.decision == "block"]
    if resolution is not None:
        screening["party"] = {
            "party_id": resolution.party_id,
            "headquarters": resolution.headquarters,
            "ultimate_parent": resolution.ultimate_parent,
            "ultimate_parent_headquarters": resolution.ultimate_parent_headquarters,
            "treated_as_listed": resolution.treated_as_listed,
            "aggregate_listed_ownership": resolution.aggregate_listed_ownership,
            "citation": resolution.ownership_rule_citation,
        }
        if resolution.treated_as_listed and screening["decision"] != "block":
            screening["decision"] = "block"
    if notes:
        screening["notes"] = notes
    decision["screening"] = screening
    if screening["decision"] != "block":
        return decision
    if blocking:
        worst = max(blocking, key=lambda m: STRICTNESS.get(m.review_policy, 0))
        policy, cite = worst.review_policy, worst.citation
        why = f"{worst.list} match {worst.matched_name!r} (score {worst.score:.2f}): {worst.effect}"
    else:  # OFAC 50% rule
        policy = "policy-of-denial"
        cite = (resolution.ownership_rule_citation if resolution else None) or "31 CFR 501.801"
        why = "owned 50% or more in aggregate by listed persons (OFAC 50% rule)"
    if policy not in STRICTNESS:
        policy = "presumption-of-denial"
    decision["license_required"] = True
    decision["authorization"] = "LICENSE"
    current = decision.get("review_policy")
    if current is None or STRICTNESS.get(policy, 0) >= STRICTNESS.get(current, 0):
        decision["review_policy"] = policy
    decision["citations"] = list(dict.fromkeys([*decision.get("citations", []), cite]))
    decision.setdefault("trace", []).append(
        {
            "rule": "screening.block",
            "holds": True,
            "cite": cite,
            "note": why,
            "kind": "screening",
            "provision": "restricted-party lists",
        }
    )
    return decision


def decide_and_screen(records: Iterable[Any], decide: Any) -> Iterator[dict[str, Any]]:
    """Run ``decide`` (a function from records to decisions in input order) over records enriched
    from the party graph, and screen each decided record."""
    pending: deque[Any] = deque()

    def feed() -> Iterator[Any]:
        for record in enrich_with_parties(records):
            pending.append(record)
            yield record

    for decision in decide(feed()):
        yield screen_decision(pending.popleft(), decision)
