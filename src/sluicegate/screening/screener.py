"""Screening: a query (name, country?, address?) in, explained matches and a decision out.

:class:`Screener` holds the active entities (``store``) and their name index (``matcher``).
For each entity it keeps the best-scoring name or alias and reports the scores of the others;
country and address are supporting evidence that move the score a little but can never push a
name hit below the review band. The decision is the strongest band reached, capped by what the
list can require (``data/lists.yaml``: a hit on the DoD 1260H list asks for review, never a
block). Query validation lives here too, so the CLI, the API and the rules engine report bad
input the same way: one result per query, an error naming the field when it is invalid.
``screen`` takes one query (the reference path); ``screen_batch`` and ``screen_many`` take many
at once through the batch path (``batch``), with the same results.
"""

from __future__ import annotations

import builtins
import functools
import os
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from rigour._core import compare_address

from sluicegate.screening.batch import BatchIndex, gc_paused
from sluicegate.screening.matcher import NameIndex, Scored
from sluicegate.screening.models import (
    DECISION_ORDER,
    Entity,
    ScreeningDecision,
    list_info,
    review_policy_for,
)
from sluicegate.screening.normalize import MAX_NAME_CHARS, analyse
from sluicegate.screening.store import ListSet, active_set, active_version

MAX_ADDRESS_CHARS = 2000
BATCH_SIZE = 4096  # valid queries screened together by screen_many
SMALL_BATCH = 8  # ... fewer than this go one by one (same results; less fixed cost)
MAX_MATCHES = 10
COUNTRY_AGREES = 0.03
COUNTRY_DISAGREES = -0.05
ADDRESS_AGREES = 0.05


class Bands(BaseModel):
    """Score thresholds. ``block`` >= block; ``review`` >= review; else clear.
    Defaults come from the evaluation in benchmarks/screening.py (docs/screening.md)."""

    model_config = ConfigDict(extra="forbid")

    block: float = Field(0.90, ge=0, le=1)
    review: float = Field(0.75, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.review > self.block:
            raise ValueError("review threshold must not exceed block threshold")
        return self

    def band(self, score: float) -> ScreeningDecision:
        if score >= self.block:
            return "block"
        if score >= self.review:
            return "review"
        return "clear"


def default_bands() -> Bands:
    """Bands from SLUICE_SCREEN_BLOCK / SLUICE_SCREEN_REVIEW when set, else the defaults."""
    return _bands_from(
        os.environ.get("SLUICE_SCREEN_BLOCK"), os.environ.get("SLUICE_SCREEN_REVIEW")
    )


@functools.lru_cache(maxsize=8)
def _bands_from(block: str | None, review: str | None) -> Bands:
    values: dict[str, float] = {}
    if block:
        values["block"] = float(block)
    if review:
        values["review"] = float(review)
    return Bands(**values)


class Match(BaseModel):
    """One listed entity a query matched (contract §3 fields first, then explanation)."""

    list: str
    entity_id: str
    name: str
    matched_name: str
    score: float
    matched_name_kind: str
    band: ScreeningDecision
    decision: ScreeningDecision
    list_title: str
    program: builtins.list[str]
    entity_type: str
    countries: builtins.list[str]
    effect: str
    review_policy: str
    citation: str
    explanation: dict[str, Any]
    alias_scores: builtins.list[dict[str, Any]]


class ScreenResult(BaseModel):
    """The screening of one query."""

    id: Any = None
    decision: ScreeningDecision
    matches: list[Match]

    def to_contract(self) -> dict[str, Any]:
        """Contract §3 line (and the `screening` field of a decision): id, matches, decision."""
        return {
            "id": self.id,
            "matches": [m.model_dump() for m in self.matches],
            "decision": self.decision,
        }


@dataclass(slots=True)
class Judged:
    """One entity's best name after the evidence: what decides whether it is reported."""

    position: int
    name_id: int
    score: float
    rounded: float  # the reported score (4 decimals); bands and order use this
    band: ScreeningDecision
    decision: ScreeningDecision
    adjust: float
    evidence: dict[str, Any]
    floor_rule: str | None


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _check_text(field: str, value: Any, limit: int, required: bool) -> str | None:
    if value is None:
        if required:
            raise QueryError(field, "missing; give the party's name as a string")
        return None
    if not isinstance(value, str):
        raise QueryError(field, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise QueryError(field, f"{len(value)} characters; at most {limit} are accepted")
    bad = sum(
        1
        for ch in value
        if ch == "\ufffd"
        or (unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in "\t\n\r")
    )
    if bad:
        raise QueryError(
            field, f"contains {bad} control, unassigned or replacement characters (binary data?)"
        )
    if required and not value.strip():
        raise QueryError(field, "empty")
    return value


def validate_query(record: Any) -> tuple[Any, str, str | None, str | None]:
    """(id, name, country, address) of a contract §3 query, or QueryError naming the field."""
    if not isinstance(record, dict):
        raise QueryError("record", 'each query must be a JSON object {"id", "name", ...}')
    unknown = set(record) - {"id", "name", "country", "address"}
    if unknown:
        raise QueryError(sorted(unknown)[0], "unknown field; allowed: id, name, country, address")
    if "id" not in record:
        raise QueryError("id", "missing; every query needs an id to pair it with its result")
    qid = record["id"]
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise QueryError("id", "must be a string or an integer")
    name = _check_text("name", record.get("name"), MAX_NAME_CHARS, True)
    assert name is not None
    if not analyse(name).tokens:
        raise QueryError("name", f"{name[:40]!r} has no letters or digits to match on")
    country = record.get("country")
    if country is not None:
        from sluicegate.screening.loaders import country_code

        if not isinstance(country, str) or not country.strip():
            raise QueryError("country", "must be an ISO 3166-1 alpha-2 code such as 'CN'")
        code = country.strip().upper()
        if len(code) != 2 or country_code(code) is None:
            guess = country_code(country)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise QueryError("country", f"{country!r} is not an ISO 3166-1 alpha-2 code{hint}")
        country = code
    address = _check_text("address", record.get("address"), MAX_ADDRESS_CHARS, False)
    return qid, name, country, address


class Screener:
    """Screens names against one list set."""

    def __init__(self, list_set: ListSet) -> None:
        self.list_set = list_set
        self.entities: list[Entity] = list_set.entities
        names: list[tuple[int, str, str]] = []
        for position, entity in enumerate(self.entities):
            names.append((position, entity.name, "primary"))
            for alias in entity.aliases:
                names.append((position, alias.name, alias.kind))
        self.index = NameIndex(names)
        self._addresses: dict[int, list[str]] = {}
        self._batch: BatchIndex | None = None
        self._batch_lock = threading.RLock()

    def _entity_addresses(self, position: int) -> list[str]:
        cached = self._addresses.get(position)
        if cached is None:
            cached = [a.text for a in self.entities[position].addresses if a.text]
            self._addresses[position] = cached
        return cached

    def screen(
        self,
        name: str,
        country: str | None = None,
        address: str | None = None,
        *,
        bands: Bands | None = None,
        query_id: Any = None,
    ) -> ScreenResult:
        bands = bands or default_bands()
        norm = analyse(name)
        query = self.index.prepare(norm)
        found = self.index.search(query)
        by_entity: dict[int, list[tuple[int, Scored]]] = {}
        for name_id, score in found:
            by_entity.setdefault(self.index.names[name_id].entity, []).append((name_id, score))
        reported = self._report(by_entity, country, address, bands)
        matches = [
            Match(**self._match_fields(judged, scored[0][1], scored, norm))
            for judged, scored in reported
        ]
        decision: ScreeningDecision = "clear"
        for match in matches:
            if DECISION_ORDER[match.decision] > DECISION_ORDER[decision]:
                decision = match.decision
        return ScreenResult(id=query_id, decision=decision, matches=matches)

    def _report(
        self,
        by_entity: dict[int, list[tuple[int, Scored]]],
        country: str | None,
        address: str | None,
        bands: Bands,
    ) -> list[tuple[Judged, list[tuple[int, Scored]]]]:
        """The entities to report (at most MAX_MATCHES, best first) with their scored names."""
        judged: list[tuple[Judged, list[tuple[int, Scored]]]] = []
        for position, scored in by_entity.items():
            scored.sort(key=lambda item: -item[1].score)
            best_id, best = scored[0]
            if best.score + ADDRESS_AGREES + COUNTRY_AGREES < bands.review:
                continue  # no evidence could lift it into a band
            verdict = self._judge(position, best_id, best, country, address, bands)
            if verdict.rounded >= bands.review:
                judged.append((verdict, scored))
        judged.sort(
            key=lambda item: (
                -item[0].rounded,
                -DECISION_ORDER[item[0].decision],
                self.entities[item[0].position].id,
            )
        )
        return judged[:MAX_MATCHES]

    def rank(self, name: str, country: str | None = None) -> list[tuple[str, float]]:
        """(entity id, name score) best first, without explanations: the evaluation's path."""
        query = self.index.prepare(analyse(name))
        return self._ranked(self.index.search(query))

    def _ranked(self, found: Sequence[tuple[int, Scored]]) -> list[tuple[str, float]]:
        best: dict[int, float] = {}
        for name_id, score in found:
            position = self.index.names[name_id].entity
            if score.score > best.get(position, 0.0):
                best[position] = score.score
        ranked = sorted(best.items(), key=lambda item: -item[1])
        return [(self.entities[position].id, score) for position, score in ranked]

    def clear_caches(self) -> None:
        """Forget every cached normalisation, near spelling and word comparison, so that the
        next queries run cold (benchmarks; tests comparing the two paths)."""
        analyse.cache_clear()
        self.index._expansions.clear()
        self.index._posting_sets.clear()
        if self._batch is not None:
            self._batch.clear_caches()

    # ------------------------------------------------------------------ many queries at once

    @property
    def batch_index(self) -> BatchIndex:
        """The CSR arrays of the batch path (built on first use, about 0.1 s)."""
        with self._batch_lock:
            if self._batch is None:
                self._batch = BatchIndex(self.index)
            return self._batch

    def _search_batch(self, names: Sequence[str]) -> list[tuple[Any, Sequence[tuple[int, Scored]]]]:
        batch = self.batch_index
        norms = [analyse(name) for name in names]
        with self._batch_lock:
            found = batch.search_many(batch.prepare_many(norms))
        return list(zip(norms, found, strict=True))

    def screen_batch(
        self,
        names: Sequence[str],
        countries: Sequence[str | None] | None = None,
        addresses: Sequence[str | None] | None = None,
        *,
        bands: Bands | None = None,
        ids: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Screen many (valid) names at once: the contract §3 result of each, exactly
        ``screen(name, country, address, bands=bands, query_id=id).to_contract()``, computed
        by the batch path (``batch``); explanations are built only for the matches reported."""
        bands = bands or default_bands()
        with gc_paused():
            return self._screen_batch(names, countries, addresses, bands, ids)

    def _screen_batch(
        self,
        names: Sequence[str],
        countries: Sequence[str | None] | None,
        addresses: Sequence[str | None] | None,
        bands: Bands,
        ids: Sequence[Any] | None,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, (norm, found) in enumerate(self._search_batch(names)):
            by_entity: dict[int, list[tuple[int, Scored]]] = {}
            for name_id, score in found:
                by_entity.setdefault(self.index.names[name_id].entity, []).append((name_id, score))
            country = countries[i] if countries else None
            address = addresses[i] if addresses else None
            matches = [
                self._match_fields(judged, scored[0][1], scored, norm)
                for judged, scored in self._report(by_entity, country, address, bands)
            ]
            decision: ScreeningDecision = "clear"
            for match in matches:
                if DECISION_ORDER[match["decision"]] > DECISION_ORDER[decision]:
                    decision = match["decision"]
            out.append({"id": ids[i] if ids else None, "matches": matches, "decision": decision})
        return out

    def rank_batch(self, names: Sequence[str]) -> list[list[tuple[str, float]]]:
        """``rank`` of every name, by the batch path."""
        with gc_paused():
            return [self._ranked(found) for _norm, found in self._search_batch(names)]

    def _judge(
        self,
        position: int,
        name_id: int,
        best: Scored,
        country: str | None,
        address: str | None,
        bands: Bands,
    ) -> Judged:
        """The final score, band and decision of one entity's best name, with the evidence
        (country, address) that moved it. No explanation yet: that is built only for the
        matches reported (``_match_fields``)."""
        entity = self.entities[position]
        info = list_info(entity.list)
        indexed = self.index.names[name_id]
        evidence: dict[str, Any] = {}
        adjust = 0.0
        if country:
            known = set(entity.countries) | {
                a.country for a in entity.addresses if a.country and len(a.country) == 2
            }
            if known:
                if country in known:
                    adjust += COUNTRY_AGREES
                    evidence["country"] = {
                        "query": country,
                        "listed": sorted(known),
                        "adjustment": COUNTRY_AGREES,
                    }
                else:
                    adjust += COUNTRY_DISAGREES
                    evidence["country"] = {
                        "query": country,
                        "listed": sorted(known),
                        "adjustment": COUNTRY_DISAGREES,
                    }
            else:
                evidence["country"] = {"query": country, "listed": [], "adjustment": 0.0}
        if address:
            listed = self._entity_addresses(position)
            if listed:
                best_address = max(listed, key=lambda a: compare_address(address, a))
                similarity = compare_address(address, best_address)
                bonus = ADDRESS_AGREES * similarity if similarity >= 0.5 else 0.0
                adjust += bonus
                evidence["address"] = {
                    "query": address,
                    "listed": best_address,
                    "similarity": round(similarity, 4),
                    "adjustment": round(bonus, 4),
                }
        score = min(1.0, max(0.0, best.score + adjust))
        floor_rule = None
        if best.score >= bands.review and score < bands.review:
            # evidence may lower a name hit, never hide it
            score = bands.review
            floor_rule = "evidence cannot move a name hit below the review band"
        weak = indexed.kind.startswith("weak")
        band = bands.band(score)
        decision = band
        if DECISION_ORDER[decision] > DECISION_ORDER[info.decision_cap]:
            decision = info.decision_cap
        if weak and decision == "block":
            decision = "review"  # OFAC: weak aliases are for review, not blocking on their own
        return Judged(
            position, name_id, score, round(score, 4), band, decision, adjust, evidence, floor_rule
        )

    def _match_fields(
        self,
        judged: Judged,
        best: Scored,
        scored: list[tuple[int, Scored]],
        norm: Any,
    ) -> dict[str, Any]:
        """A reported match, explained: the fields of :class:`Match`, in its order."""
        entity = self.entities[judged.position]
        info = list_info(entity.list)
        indexed = self.index.names[judged.name_id]
        weak = indexed.kind.startswith("weak")
        explanation = best.explain()
        explanation["query"] = {"tokens": list(norm.tokens), "legal_forms": list(norm.legal_forms)}
        explanation["matched"] = {
            "name": indexed.text,
            "kind": indexed.kind,
            "tokens": list(indexed.tokens),
            "legal_forms": list(indexed.legal_forms),
        }
        explanation["evidence"] = judged.evidence
        explanation["components"]["evidence_adjustment"] = round(judged.adjust, 4)
        explanation["components"]["final_score"] = judged.rounded
        if judged.floor_rule:
            explanation["floor_rule"] = judged.floor_rule
        if judged.decision != judged.band:
            explanation["decision_cap"] = (
                f"{info.title}: a hit can require at most '{info.decision_cap}'"
                if not weak
                else "weak alias: review only"
            )
        alias_scores = [
            {
                "name": self.index.names[other_id].text,
                "kind": self.index.names[other_id].kind,
                "score": round(other.score, 4),
            }
            for other_id, other in scored[1:6]
        ]
        return {
            "list": entity.list,
            "entity_id": entity.id,
            "name": entity.name,
            "matched_name": indexed.text,
            "score": judged.rounded,
            "matched_name_kind": indexed.kind,
            "band": judged.band,
            "decision": judged.decision,
            "list_title": info.title,
            "program": list(entity.program),
            "entity_type": entity.type,
            "countries": list(entity.countries),
            "effect": info.effect,
            "review_policy": review_policy_for(entity),
            "citation": info.citation,
            "explanation": explanation,
            "alias_scores": alias_scores,
        }

    def _match(
        self,
        position: int,
        name_id: int,
        best: Scored,
        scored: list[tuple[int, Scored]],
        norm: Any,
        country: str | None,
        address: str | None,
        bands: Bands,
    ) -> Match:
        judged = self._judge(position, name_id, best, country, address, bands)
        return Match(**self._match_fields(judged, best, scored, norm))

    def screen_record(self, record: Any, *, bands: Bands | None = None) -> dict[str, Any]:
        """One contract §3 query in, exactly one result dict out (or its error)."""
        qid = record.get("id") if isinstance(record, dict) else None
        try:
            qid, name, country, address = validate_query(record)
        except QueryError as exc:
            return {"id": qid, "error": {"field": exc.field, "message": exc.message}}
        return self.screen(name, country, address, bands=bands, query_id=qid).to_contract()

    def screen_many(
        self, records: Iterable[Any], *, bands: Bands | None = None
    ) -> list[dict[str, Any]]:
        """One contract §3 result per record, in order (invalid records get their error);
        the valid ones are screened together by the batch path, BATCH_SIZE at a time."""
        bands = bands or default_bands()
        out: list[dict[str, Any]] = []
        pending: list[tuple[int, Any, str, str | None, str | None]] = []

        def flush() -> None:
            if len(pending) < SMALL_BATCH:  # a few queries: the one-query path is quicker
                for slot, qid, name, country, address in pending:
                    out[slot] = self.screen(
                        name, country, address, bands=bands, query_id=qid
                    ).to_contract()
                pending.clear()
                return
            results = self.screen_batch(
                [p[2] for p in pending],
                [p[3] for p in pending],
                [p[4] for p in pending],
                bands=bands,
                ids=[p[1] for p in pending],
            )
            for (slot, *_rest), result in zip(pending, results, strict=True):
                out[slot] = result
            pending.clear()

        for record in records:
            qid = record.get("id") if isinstance(record, dict) else None
            try:
                qid, name, country, address = validate_query(record)
            except QueryError as exc:
                out.append({"id": qid, "error": {"field": exc.field, "message": exc.message}})
                continue
            out.append({})
            pending.append((len(out) - 1, qid, name, country, address))
            if len(pending) >= BATCH_SIZE:
                flush()
        if pending:
            flush()
        return out


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _screener_for(version: str) -> Screener:
    return Screener(active_set())


def get_screener() -> Screener:
    """The screener over the active lists (the store, else the shipped bundle); cached."""
    with _LOCK:
        return _screener_for(active_version())
