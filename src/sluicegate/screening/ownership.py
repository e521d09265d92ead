"""Who a party really is: its ultimate parent, where both are headquartered, and whether the
OFAC 50% rule makes it a blocked person although it is not listed by name.

The party graph has the listed entities (``store``) as nodes, their parent links from the lists
(e.g. DoD 1260H "Parent Name"; OFAC "Owned or Controlled By" remarks), and ownership edges the
user loaded (``sluice lists load ownership.csv`` with columns owner, owned, percent and,
optionally, owner_headquarters and owned_headquarters). Edges name parties by id or by name; a
name is resolved to a listed entity when its normalised form equals one of the entity's names.
The ultimate parent follows majority owners (> 50%) and list-declared parents. The 50% rule
aggregates, over direct and indirect owners, the shares held by persons on lists whose
``ownership_rule`` is true in ``data/lists.yaml`` (OFAC SDN and non-SDN lists), and by entities
that are themselves blocked under the rule; 50% or more means treated as listed.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from pydantic import BaseModel, Field

from sluicegate.screening.models import Entity, list_info
from sluicegate.screening.normalize import analyse
from sluicegate.screening.store import ListSet, active_set, active_version

OWNERSHIP_THRESHOLD = 50.0


class PartyNotFound(LookupError):
    pass


class ChainLink(BaseModel):
    id: str
    name: str
    headquarters: str | None
    percent: float | None = Field(
        None, description="share held by the next link (None: declared parent)"
    )
    source: str | None = None


class OwnerShare(BaseModel):
    id: str
    name: str
    percent: float
    status: str  # "listed on ofac-sdn" / "treated as listed (50% rule)"
    path: list[str] = Field(default_factory=list)


class PartyResolution(BaseModel):
    """Everything the rules engine and a compliance officer need about one party."""

    party_id: str
    name: str
    listed_on: list[str]
    headquarters: str | None
    headquarters_basis: str
    ultimate_parent: str | None
    ultimate_parent_name: str | None
    ultimate_parent_headquarters: str | None
    chain: list[ChainLink]
    treated_as_listed: bool
    aggregate_listed_ownership: float
    listed_owners: list[OwnerShare]
    ownership_rule_citation: str | None
    notes: list[str]


class _Node:
    __slots__ = ("entity", "headquarters", "id", "name", "owners", "parents")

    def __init__(self, node_id: str, name: str) -> None:
        self.id = node_id
        self.name = name
        self.entity: Entity | None = None
        self.headquarters: str | None = None
        # (owner id, percent or None for a declared parent, source)
        self.owners: list[tuple[str, float | None, str]] = []
        self.parents: list[str] = []


class PartyGraph:
    def __init__(self, list_set: ListSet) -> None:
        self.nodes: dict[str, _Node] = {}
        self._by_name: dict[tuple[str, ...], list[str]] = {}
        for entity in list_set.entities:
            node = self._node(entity.id, entity.name)
            node.entity = entity
            for name in [entity.name, *(a.name for a in entity.aliases)]:
                key = tuple(sorted(analyse(name).tokens))
                if key:
                    ids = self._by_name.setdefault(key, [])
                    if entity.id not in ids:
                        ids.append(entity.id)
        # the same party on several lists: prefer the entry that names a parent
        for ids in self._by_name.values():
            ids.sort(key=lambda i: (not self.nodes[i].entity.parents, i))  # type: ignore[union-attr]
        for entity in list_set.entities:
            for parent in entity.parents:
                parent_id = parent.entity_id or self.lookup(parent.name) or f"name:{parent.name}"
                if parent_id not in self.nodes:
                    self._node(parent_id, parent.name)
                self.nodes[entity.id].owners.append((parent_id, parent.percent, parent.source))
        for edge in list_set.ownership:
            owner = self.lookup(edge["owner"]) or edge["owner"]
            owned = self.lookup(edge["owned"]) or edge["owned"]
            owner_node = self.nodes.get(owner) or self._node(owner, edge["owner"])
            owned_node = self.nodes.get(owned) or self._node(owned, edge["owned"])
            if edge.get("owner_headquarters") and not owner_node.headquarters:
                owner_node.headquarters = str(edge["owner_headquarters"]).upper()
            if edge.get("owned_headquarters") and not owned_node.headquarters:
                owned_node.headquarters = str(edge["owned_headquarters"]).upper()
            owned_node.owners = [o for o in owned_node.owners if o[0] != owner]
            owned_node.owners.append(
                (owner, float(edge["percent"]), f"ownership file {edge.get('source', '')}".strip())
            )
        self._treated, self._shares = self._fifty_percent_rule()

    def _node(self, node_id: str, name: str) -> _Node:
        node = _Node(node_id, name)
        self.nodes[node_id] = node
        return node

    def lookup(self, reference: str) -> str | None:
        """Node id for an id or a name; None when neither is known."""
        if reference in self.nodes:
            return reference
        key = tuple(sorted(analyse(reference).tokens))
        ids = self._by_name.get(key) if key else None
        return ids[0] if ids else None

    def same_party(self, node_id: str) -> list[str]:
        """Ids of the entries on other lists that carry exactly this party's primary name."""
        node = self.nodes[node_id]
        key = tuple(sorted(analyse(node.name).tokens))
        return self._by_name.get(key, [node_id]) if node.entity else [node_id]

    # ------------------------------------------------------------------ headquarters

    def headquarters(self, node_id: str) -> tuple[str | None, str]:
        node = self.nodes[node_id]
        if node.headquarters:
            return node.headquarters, "ownership file"
        entity = node.entity
        if entity is None:
            return (
                None,
                "unknown (party not on a list; give owned_headquarters in the ownership file)",
            )
        countries = list(entity.countries)
        if not countries:
            countries = [a.country for a in entity.addresses if a.country and len(a.country) == 2]
        if not countries:
            for other in self.same_party(node_id):
                sibling = self.nodes[other].entity
                if sibling is not None and sibling.countries:
                    countries = list(sibling.countries)
                    entity = sibling
                    break
        if countries:
            basis = f"listed address/country on {entity.list}"
            if len(set(countries)) > 1:
                basis += f" (first of {sorted(set(countries))})"
            return countries[0], basis
        default = list_info(entity.list).default_headquarters
        if default:
            return default, f"assumed from the list ({list_info(entity.list).title})"
        return None, "unknown (the list gives no country)"

    # ------------------------------------------------------------------ ownership

    def _listed_under_rule(self, node_id: str) -> list[str]:
        entity = self.nodes[node_id].entity
        if entity is not None and list_info(entity.list).ownership_rule:
            return [entity.list]
        return []

    def _fifty_percent_rule(self) -> tuple[set[str], dict[str, list[tuple[str, float]]]]:
        blocked = {n for n in self.nodes if self._listed_under_rule(n)}
        treated: set[str] = set()
        shares: dict[str, list[tuple[str, float]]] = {}
        changed = True
        while changed:
            changed = False
            for node in self.nodes.values():
                if node.id in blocked or node.id in treated:
                    continue
                held = [
                    (owner, pct)
                    for owner, pct, _src in node.owners
                    if pct is not None and (owner in blocked or owner in treated)
                ]
                if held and sum(p for _o, p in held) >= OWNERSHIP_THRESHOLD:
                    treated.add(node.id)
                    shares[node.id] = held
                    changed = True
                elif held:
                    shares[node.id] = held
        return treated, shares

    def ultimate_chain(self, node_id: str) -> list[ChainLink]:
        chain: list[ChainLink] = []
        seen: set[str] = set()
        current = node_id
        percent: float | None = None
        source: str | None = None
        while current not in seen:
            seen.add(current)
            node = self.nodes[current]
            hq, _basis = self.headquarters(current)
            chain.append(
                ChainLink(
                    id=current, name=node.name, headquarters=hq, percent=percent, source=source
                )
            )
            controlling = [
                (owner, pct, src)
                for owner, pct, src in node.owners
                if pct is None or pct > OWNERSHIP_THRESHOLD
            ]
            if not controlling:
                break
            controlling.sort(key=lambda o: -(o[1] if o[1] is not None else 100.0))
            current, percent, source = controlling[0]
        return chain

    def resolve(self, reference: str) -> PartyResolution:
        node_id = self.lookup(reference)
        if node_id is None:
            raise PartyNotFound(
                f"party {reference!r}: not a listed entity id, a listed name, or a party in a "
                "loaded ownership file"
            )
        node = self.nodes[node_id]
        notes: list[str] = []
        hq, basis = self.headquarters(node_id)
        chain = self.ultimate_chain(node_id)
        top = chain[-1]
        if len(chain) > 1 and chain[-1].id in {c.id for c in chain[:-1]}:
            notes.append("ownership cycle: stopped where the chain repeats")
        if top.id.startswith("name:"):
            notes.append(f"ultimate parent {top.name!r} is named by the list but not listed itself")
        also = self.same_party(node_id)
        listed_on = sorted({e.list for i in also if (e := self.nodes[i].entity) is not None})
        if len(also) > 1:
            notes.append(f"same name listed as: {', '.join(also)}")
        treated = node_id in self._treated
        owners: list[OwnerShare] = []
        for owner, pct in self._shares.get(node_id, []):
            owner_lists = self._listed_under_rule(owner)
            status = (
                f"listed on {', '.join(owner_lists)}"
                if owner_lists
                else "treated as listed (50% rule)"
            )
            owners.append(
                OwnerShare(
                    id=owner,
                    name=self.nodes[owner].name,
                    percent=pct,
                    status=status,
                    path=self._blocked_path(owner),
                )
            )
        aggregate = sum(o.percent for o in owners)
        citation = None
        if owners:
            first_list = next(
                (lst for o in owners for lst in self._listed_under_rule(o.id)), "ofac-sdn"
            )
            citation = list_info(first_list).ownership_rule_citation
        return PartyResolution(
            party_id=node_id,
            name=node.name,
            listed_on=listed_on,
            headquarters=hq,
            headquarters_basis=basis,
            ultimate_parent=top.id if len(chain) > 1 else node_id,
            ultimate_parent_name=top.name,
            ultimate_parent_headquarters=top.headquarters,
            chain=chain,
            treated_as_listed=treated,
            aggregate_listed_ownership=aggregate,
            listed_owners=owners,
            ownership_rule_citation=citation,
            notes=notes,
        )

    def _blocked_path(self, node_id: str, depth: int = 0) -> list[str]:
        """How an owner came to be blocked: its own listing, or the owners that made it so."""
        lists = self._listed_under_rule(node_id)
        if lists or depth > 10:
            return [f"{node_id} ({', '.join(lists) or '...'})"]
        held = self._shares.get(node_id, [])
        out = [
            f"{node_id} (treated as listed: {sum(p for _o, p in held):g}% held by blocked persons)"
        ]
        for owner, pct in held:
            out.extend(f"  {pct:g}% <- {step}" for step in self._blocked_path(owner, depth + 1))
        return out


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _graph_for(version: str) -> PartyGraph:
    return PartyGraph(active_set())


def get_graph() -> PartyGraph:
    with _LOCK:
        return _graph_for(active_version())


def resolve(reference: str, graph: PartyGraph | None = None) -> PartyResolution:
    return (graph or get_graph()).resolve(reference)


def describe(resolution: PartyResolution) -> dict[str, Any]:
    return resolution.model_dump()
