"""Party graph: ultimate parent, headquarters, and the OFAC 50% rule with its chain."""

from __future__ import annotations

import pytest

from sluicegate.screening.ownership import PartyGraph, PartyNotFound
from sluicegate.screening.store import ListSet, bundle_path, read_set


@pytest.fixture(scope="module")
def bundle() -> ListSet:
    return read_set(bundle_path())


def _graph(bundle: ListSet, edges: list[dict]) -> PartyGraph:
    return PartyGraph(ListSet(bundle.entities, bundle.lists, edges, "test"))


def test_ultimate_parent_from_the_1260h_list(bundle: ListSet) -> None:
    graph = _graph(bundle, [])
    result = graph.resolve("AVIC Jonhon Optronic Technology Co., Ltd.")
    assert result.ultimate_parent_name.startswith("Aviation Industry Corporation of China")
    assert result.ultimate_parent_headquarters == "CN"
    assert next(link.name for link in result.chain).startswith("AVIC")
    assert "dod-1260h" in result.listed_on


def test_fifty_percent_rule_aggregates_direct_and_indirect(bundle: ListSet) -> None:
    edges = [
        {"owner": "ofac-sdn:306", "owned": "holdco", "percent": 60, "owned_headquarters": "PA"},
        {"owner": "ofac-sdn:306", "owned": "acme-sg", "percent": 30, "owned_headquarters": "SG"},
        {"owner": "holdco", "owned": "acme-sg", "percent": 25},
        {"owner": "someone-clean", "owned": "acme-sg", "percent": 45},
    ]
    graph = _graph(bundle, edges)
    holdco = graph.resolve("holdco")
    assert holdco.treated_as_listed and holdco.aggregate_listed_ownership == 60
    assert holdco.ultimate_parent == "ofac-sdn:306"
    acme = graph.resolve("acme-sg")
    assert acme.treated_as_listed
    assert acme.aggregate_listed_ownership == 55
    statuses = {o.id: o.status for o in acme.listed_owners}
    assert statuses["holdco"].startswith("treated as listed")
    assert statuses["ofac-sdn:306"] == "listed on ofac-sdn"
    assert acme.headquarters == "SG"
    assert acme.ownership_rule_citation and "OFAC" in acme.ownership_rule_citation
    # no majority owner: acme is its own ultimate parent
    assert acme.ultimate_parent == "acme-sg"


def test_below_fifty_percent_is_not_treated_as_listed(bundle: ListSet) -> None:
    graph = _graph(bundle, [{"owner": "ofac-sdn:306", "owned": "minor", "percent": 49.9}])
    result = graph.resolve("minor")
    assert not result.treated_as_listed and result.aggregate_listed_ownership == pytest.approx(49.9)


def test_entity_list_ownership_does_not_trigger_the_ofac_rule(bundle: ListSet) -> None:
    el = next(e for e in bundle.entities if e.list == "bis-entity-list")
    graph = _graph(
        bundle, [{"owner": el.id, "owned": "sub", "percent": 100, "owned_headquarters": "SG"}]
    )
    result = graph.resolve("sub")
    assert not result.treated_as_listed
    assert result.ultimate_parent == el.id  # ... but it is the ultimate parent
    assert result.ultimate_parent_headquarters == el.countries[0]


def test_cycles_terminate(bundle: ListSet) -> None:
    graph = _graph(
        bundle,
        [{"owner": "a", "owned": "b", "percent": 60}, {"owner": "b", "owned": "a", "percent": 60}],
    )
    result = graph.resolve("a")
    assert len(result.chain) == 2


def test_unknown_party(bundle: ListSet) -> None:
    with pytest.raises(PartyNotFound):
        _graph(bundle, []).resolve("nobody-at-all")
