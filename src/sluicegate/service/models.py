"""Pydantic models of the HTTP API: request bodies and responses, with OpenAPI examples.

Decisions and screening results keep the exact JSON of the CLI (contract §2, §3); their models
name the contract fields and allow the extensions the engines add (``assumptions``, ...).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRANSACTION_EXAMPLE: dict[str, Any] = {
    "id": "order-42",
    "date": "2025-06-01",
    "destination": "IN",
    "item": {"chip": "nvidia-h100-sxm"},
    "quantity": 1000,
    "consignee": {"id": "acme-in", "name": "Acme Compute Pvt Ltd", "headquarters": "IN"},
}

DECISION_EXAMPLE: dict[str, Any] = {
    "id": "order-42",
    "regime": {"id": "us-2025-05-13-non-enforcement", "status": "in-force"},
    "tier": None,
    "classification": "3A090.a",
    "controlled": True,
    "license_required": False,
    "authorization": "NLR",
    "review_policy": None,
    "tpp_per_unit": 15832,
    "tpp_total": 15832000,
    "h100_equivalents": 1000.0,
    "obligations": [],
    "quota": None,
    "citations": ["15 CFR 742.6(a)(6)(iii)"],
    "trace": [{"rule": "classify.3a090a", "holds": True, "cite": "15 CFR 774", "note": "..."}],
}


class ErrorDetail(BaseModel):
    field: str | None = Field(description="the input field at fault, or null")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"field": "destination", "message": "'XX' is not a country"}}]
        }
    )


class Decision(BaseModel):
    """A contract §2 decision, or, for an invalid record in a batch, ``{"id", "error"}``."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [DECISION_EXAMPLE]})
    id: Any = None
    regime: dict[str, Any] | None = None
    tier: int | None = None
    classification: str | None = None
    controlled: bool | None = None
    license_required: bool | None = None
    authorization: str | None = None
    review_policy: str | None = None
    obligations: list[Any] | None = None
    quota: dict[str, Any] | None = None
    screening: dict[str, Any] | None = None
    citations: list[str] | None = None
    trace: list[dict[str, Any]] | None = None
    error: ErrorDetail | None = None


class DecisionBatch(BaseModel):
    decisions: list[Decision]
    model_config = ConfigDict(json_schema_extra={"examples": [{"decisions": [DECISION_EXAMPLE]}]})


class TransactionBatch(BaseModel):
    """Many transactions for one call (quotas accumulate across them in date order)."""

    transactions: list[dict[str, Any]] = Field(min_length=1)
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"transactions": [TRANSACTION_EXAMPLE]}]}
    )


class Job(BaseModel):
    job: str
    kind: Literal["simulation", "decisions"]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    created: str
    owner: str
    error: str | None = None
    params: dict[str, Any] = {}
    total: int | None = None
    done: int | None = None
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job": "3f9c2a1b7d6e5f40",
                    "kind": "simulation",
                    "state": "running",
                    "progress": 0.15,
                    "created": "2026-01-20T10:00:00+00:00",
                    "owner": "analyst",
                    "error": None,
                    "params": {"scenario": "baseline", "draws": 50, "seed": None},
                }
            ]
        }
    )


class SimulationRequest(BaseModel):
    scenario: str = Field(description="a shipped scenario name (GET /v1/scenarios)")
    draws: int = Field(default=50, ge=1, description="Monte Carlo draws")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"scenario": "diffusion-enforced-2025-05", "draws": 50}]},
    )


class ScreenQuery(BaseModel):
    id: str | None = Field(default=None, max_length=200)
    name: str = Field(min_length=1, max_length=500)
    country: str | None = Field(default=None, max_length=2)
    address: str | None = Field(default=None, max_length=1000)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"id": "q1", "name": "Huawei Technologies", "country": "CN"}]
        },
    )


class ScreenBatch(BaseModel):
    queries: list[ScreenQuery] = Field(min_length=1)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"queries": [{"id": "q1", "name": "Huawei", "country": "CN"}]}]
        },
    )


class ScreenResult(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "q1",
                    "decision": "block",
                    "matches": [
                        {
                            "list": "bis-entity-list",
                            "entity_id": "bis-entity-list:cn-huawei-technologies-co-ltd",
                            "name": "Huawei Technologies Co., Ltd.",
                            "matched_name": "Huawei Technologies Co., Ltd.",
                            "score": 1.0,
                        }
                    ],
                }
            ]
        },
    )
    id: Any = None
    decision: str | None = None
    matches: list[dict[str, Any]] | None = None
    error: ErrorDetail | None = None


class ScreenResults(BaseModel):
    results: list[ScreenResult]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"results": [{"id": "q1", "decision": "clear", "matches": []}]}]
        }
    )


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9 ._@-]+$")
    role: Literal["exporter", "compliance", "auditor", "admin"]
    consignees: list[str] = Field(default_factory=list, max_length=1000)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "acme-exports", "role": "exporter", "consignees": ["acme-in"]}]
        },
    )


class UserCreated(BaseModel):
    name: str
    role: str
    key: str = Field(description="shown once; stored only hashed")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "acme-exports", "role": "exporter", "key": "sg_0123456789abcdef_..."}
            ]
        }
    )


class User(BaseModel):
    name: str
    role: str
    key_id: str
    consignees: list[str]
    created: str
    revoked: bool
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "acme-exports",
                    "role": "exporter",
                    "key_id": "0123456789abcdef",
                    "consignees": ["acme-in"],
                    "created": "2026-01-20T10:00:00Z",
                    "revoked": False,
                }
            ]
        }
    )


class Event(BaseModel):
    time: str
    key_name: str
    role: str
    method: str
    path: str
    status: int
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "time": "2026-01-20T10:00:00Z",
                    "key_name": "analyst",
                    "role": "compliance",
                    "method": "POST",
                    "path": "/v1/simulations",
                    "status": 202,
                }
            ]
        }
    )


class RegimeSummary(BaseModel):
    id: str
    title: str
    citation: str
    published: str
    effective: str
    compliance: str
    end: str | None
    binding: bool
    status_today: str | None
    in_force_today: bool
    content_hash: str
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "us-2023-11-17",
                    "title": "AC/S IFR 2023",
                    "citation": "88 FR 73458",
                    "published": "2023-10-25",
                    "effective": "2023-11-17",
                    "compliance": "2023-11-17",
                    "end": "2024-12-01",
                    "binding": True,
                    "status_today": "superseded",
                    "in_force_today": False,
                    "content_hash": "0123456789abcdef",
                }
            ]
        }
    )


class CountryTier(BaseModel):
    code: str
    alpha_3: str
    name: str
    tier: int | None
    authorization: str | None
    review_policy: str | None


class TierMap(BaseModel):
    date: str
    regime: str
    has_tiers: bool
    chip: str
    countries: list[CountryTier]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2025-06-01",
                    "regime": "us-2025-01-13-ai-diffusion",
                    "has_tiers": True,
                    "chip": "nvidia-h100-sxm",
                    "countries": [
                        {
                            "code": "IN",
                            "alpha_3": "IND",
                            "name": "India",
                            "tier": 2,
                            "authorization": "LPP",
                            "review_policy": None,
                        }
                    ],
                }
            ]
        }
    )


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "version": "0.1.0"}]}
    )
