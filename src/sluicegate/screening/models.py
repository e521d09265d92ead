"""The normalised restricted-party entity and what a listing means.

Every loader in ``sluicegate.screening.loaders`` turns its source format (OFAC legacy CSV,
BIS tab-separated DPL, the Entity List CSV, trade.gov CSL, OpenSanctions CSVs) into
:class:`Entity` records; the store (``store``) persists them as JSON Lines, the matcher
(``matcher``) indexes their names, and the ownership graph (``ownership``) follows their
parent links. What a hit on each list means under the EAR/OFAC (effect, review policy,
citation) is law as data in ``data/lists.yaml``, read through :func:`list_info`.
"""

from __future__ import annotations

import builtins
import functools
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

EntityType = Literal["organization", "person", "vessel", "aircraft", "unknown"]
ScreeningDecision = Literal["clear", "review", "block"]
DECISION_ORDER: dict[str, int] = {"clear": 0, "review": 1, "block": 2}


class Alias(BaseModel):
    """Another name the list gives the entity; ``kind`` keeps the list's own label."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = "aka"  # aka, fka, nka, weak-aka, previous-name, clean-name


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    city: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2 when known, else as written


class Identifier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    value: str
    country: str | None = None


class ParentLink(BaseModel):
    """An ownership or control link named by the list (e.g. 1260H 'Parent Name')."""

    model_config = ConfigDict(extra="forbid")

    name: str
    entity_id: str | None = None
    percent: float | None = Field(None, ge=0, le=100)
    source: str = "list"


class Entity(BaseModel):
    """One listed party, whatever list it came from."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable id: '{list}:{source key}'")
    list: str = Field(description="list code, a key of data/lists.yaml (e.g. ofac-sdn)")
    source: str = Field(description="file (and format) the record was read from")
    program: builtins.list[str] = Field(default_factory=builtins.list)
    name: str
    aliases: builtins.list[Alias] = Field(default_factory=builtins.list)
    type: EntityType = "unknown"
    addresses: builtins.list[Address] = Field(default_factory=builtins.list)
    countries: builtins.list[str] = Field(default_factory=builtins.list)
    identifiers: builtins.list[Identifier] = Field(default_factory=builtins.list)
    start_date: str | None = None
    end_date: str | None = None
    snapshot: str | None = Field(None, description="date of the list snapshot (YYYY-MM-DD)")
    parents: builtins.list[ParentLink] = Field(default_factory=builtins.list)
    federal_register: builtins.list[str] = Field(default_factory=builtins.list)
    license_requirement: str | None = None
    license_review_policy: str | None = Field(
        None, description="policy stated by the entry itself (Entity List), verbatim"
    )
    remarks: str | None = None


class ListInfo(BaseModel):
    """One entry of data/lists.yaml: what a hit on the list means."""

    model_config = ConfigDict(extra="forbid")

    code: str
    title: str
    publisher: str
    effect: str
    decision_cap: ScreeningDecision
    review_policy: str
    citation: str
    ownership_rule: bool = False
    ownership_rule_citation: str | None = None
    stale_after_days: int = 30
    default_headquarters: str | None = None
    last_checked: str | None = None


@functools.cache
def _lists_yaml() -> dict[str, Any]:
    text = resources.files("sluicegate.screening").joinpath("data/lists.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@functools.cache
def list_catalogue() -> dict[str, ListInfo]:
    """Every known list code with its legal effect (from data/lists.yaml)."""
    out: dict[str, ListInfo] = {}
    for code, entry in _lists_yaml()["lists"].items():
        values = {k: (str(v) if k == "last_checked" else v) for k, v in entry.items()}
        out[code] = ListInfo(code=code, **values)
    return out


def list_info(code: str) -> ListInfo:
    """What a hit on list ``code`` means; unknown codes get a conservative 'review' entry."""
    known = list_catalogue()
    if code in known:
        return known[code]
    return ListInfo(
        code=code,
        title=code,
        publisher="unknown",
        effect="listed on a list sluicegate has no legal mapping for; review manually",
        decision_cap="review",
        review_policy="case-by-case",
        citation="none recorded",
    )


def review_policy_for(entity: Entity) -> str:
    """The review policy a block hit on ``entity`` imposes: the entry's own policy when it
    states one that maps onto the contract vocabulary, else the list's default."""
    stated = (entity.license_review_policy or "").lower()
    if "policy of denial" in stated:
        return "policy-of-denial"
    if "presumption of denial" in stated:
        return "presumption-of-denial"
    if "case-by-case" in stated or "case by case" in stated:
        return "case-by-case"
    if "presumption of approval" in stated:
        return "presumption-of-approval"
    return list_info(entity.list).review_policy
