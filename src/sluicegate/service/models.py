"""Pydantic models of the HTTP API: request bodies and responses, with OpenAPI examples.

Decisions and screening results keep the exact JSON of the CLI (contract §2, §3); their models
name the contract fields and allow the extensions the engines add (``assumptions``, ...).
"""

from __future__ import annotations

import datetime as dt
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
    kind: Literal["simulation", "decisions", "telemetry"]
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
    seq: int = Field(description="position in the audit chain")
    time: str
    key_name: str
    role: str
    method: str
    path: str
    status: int
    request_id: str | None = None
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 17,
                    "request_id": "6f1c0e2b9a8d4c7e8f0a1b2c3d4e5f60",
                    "time": "2026-01-20T10:00:00.000000Z",
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


# ---------------------------------------------------------------------------- ledger and audit
RESERVATION_EXAMPLE: dict[str, Any] = {
    **DECISION_EXAMPLE,
    "regime": {"id": "us-2025-01-13-ai-diffusion", "status": "what-if"},
    "tier": 2,
    "authorization": "LPP",
    "quota": {
        "pool": "lpp:acme-in:2025",
        "limit": 26900000,
        "used_before": 0,
        "this": 15832000,
        "remaining_after": 11068000,
        "drawn": True,
    },
    "reservation": {"id": "rsv-0123456789abcdef0123", "state": "held"},
}


class ReserveBatch(BaseModel):
    """Transactions to reserve together (all or nothing), with an optional idempotency key."""

    transactions: list[dict[str, Any]] = Field(min_length=1)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="a retry with the same key returns the first answer and holds nothing more "
        "(the Idempotency-Key header does the same)",
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"transactions": [TRANSACTION_EXAMPLE], "idempotency_key": "order-42"}]
        },
    )


class ErrorWithDecisions(BaseModel):
    """A refused reservation (409: a pool cannot hold it) or an invalid batch (422): the error,
    and the decisions as they came out (each invalid record carries its own ``error``)."""

    error: ErrorDetail
    decisions: list[Decision] = []
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "field": "quota",
                        "message": "order-42: pool country-allocation:IN:2025-2027 ...",
                    },
                    "decisions": [RESERVATION_EXAMPLE],
                }
            ]
        }
    )


class PoolBalance(BaseModel):
    pool: str
    kind: str
    consignee: str | None = None
    country: str | None = None
    period: str | None = None
    limit: float | None = None
    limit_as_of: str | None = None
    used: float
    remaining: float | None = None
    held: float = 0.0
    confirmed: float = 0.0
    attrition: float | None = None
    installed_base: float | None = None
    counter: bool | None = None
    report_due: bool | None = None
    model_config = ConfigDict(extra="allow")


class Balance(BaseModel):
    as_of: str = Field(description="when the balance was read (UTC)")
    pools: list[PoolBalance]
    uveu_location: dict[str, Any] | None = None
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-01-20T10:00:00.000000Z",
                    "pools": [
                        {
                            "pool": "lpp:acme-in:2025",
                            "kind": "lpp",
                            "consignee": "acme-in",
                            "country": "IN",
                            "period": "2025",
                            "limit": 26900000.0,
                            "limit_as_of": "2025-06-01",
                            "used": 15832000.0,
                            "remaining": 11068000.0,
                            "held": 15832000.0,
                            "confirmed": 0.0,
                        }
                    ],
                }
            ]
        },
    )


class LedgerEvent(BaseModel):
    seq: int
    recorded_at: str
    kind: str
    actor: str
    reservation_id: str | None = None
    consignee: str | None = None
    regime_id: str | None = None
    draws: list[dict[str, Any]] = []
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "seq": 12,
                    "recorded_at": "2026-01-20T10:00:00.000000Z",
                    "kind": "reserve",
                    "actor": "api-key:acme-exports (exporter)",
                    "reservation_id": "rsv-0123456789abcdef0123",
                    "consignee": "acme-in",
                    "regime_id": "us-2025-01-13-ai-diffusion",
                    "draws": [
                        {"pool": "lpp:acme-in:2025", "amount": 15832000.0, "limit": 26900000.0}
                    ],
                    "transaction_id": "order-42",
                    "date": "2025-06-01",
                    "destination": "IN",
                    "authorization": "LPP",
                }
            ]
        },
    )


class Transition(BaseModel):
    reservation: dict[str, Any]
    transaction_id: str | None = None
    consignee: str | None = None
    draws: list[dict[str, Any]] = []
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reservation": {"id": "rsv-0123456789abcdef0123", "state": "released"},
                    "transaction_id": "order-42",
                    "consignee": "acme-in",
                    "draws": [
                        {"pool": "lpp:acme-in:2025", "amount": 15832000.0, "limit": 26900000.0}
                    ],
                }
            ]
        }
    )


class AttritionRequest(BaseModel):
    """NVEU installed base lost (15 CFR 748.15(a)(2)(iii)(B)): give ``pool``, or ``consignee``
    and ``country``."""

    pool: str | None = Field(default=None, max_length=512, description="nveu:CONSIGNEE:CC")
    consignee: str | None = Field(default=None, min_length=1, max_length=512)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    tpp: float = Field(gt=0, allow_inf_nan=False, description="TPP lost (total)")
    reason: str = Field(
        min_length=1, max_length=64, description="loss, damage, failure, relocation or resale"
    )
    date: dt.date | None = Field(default=None, description="default today")
    note: str | None = Field(default=None, max_length=2000)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"consignee": "acme-in", "country": "IN", "tpp": 1583200, "reason": "failure"}
            ]
        },
    )


class AttritionEvent(BaseModel):
    attrition_id: str
    pool: str
    amount: float
    reason: str
    date: str
    note: str | None = None
    installed_base_after: float
    frees_allocation: bool
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "attrition_id": "att-0123456789abcdef0123",
                    "pool": "nveu:acme-in:IN",
                    "amount": 1583200.0,
                    "reason": "failure",
                    "date": "2026-01-20",
                    "note": None,
                    "installed_base_after": 14248800.0,
                    "frees_allocation": False,
                }
            ]
        },
    )


class AuditReport(BaseModel):
    intact: bool
    records: int
    head: dict[str, Any]
    first_recorded_at: str | None = None
    last_recorded_at: str | None = None
    retention_years: float
    past_retention: int
    problems: list[dict[str, Any]]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "intact": True,
                    "records": 42,
                    "head": {"seq": 42, "hash": "9f2c..."},
                    "first_recorded_at": "2026-01-20T10:00:00.000000Z",
                    "last_recorded_at": "2026-01-21T09:00:00.000000Z",
                    "retention_years": 5.0,
                    "past_retention": 0,
                    "problems": [],
                }
            ]
        }
    )


# ---------------------------------------------------------------------------- parties
class OwnershipEdge(BaseModel):
    """One ownership link to consider beside the lists (as a row of ``--ownership`` CSV)."""

    owner: str = Field(min_length=1, max_length=500, description="party id or listed name")
    owned: str = Field(min_length=1, max_length=500, description="party id or listed name")
    percent: float = Field(ge=0, le=100, allow_inf_nan=False)
    owner_headquarters: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    owned_headquarters: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    model_config = ConfigDict(extra="forbid")


class PartyResolveRequest(BaseModel):
    parties: list[str] = Field(min_length=1, max_length=50)
    ownership: list[OwnershipEdge] = Field(default_factory=list, max_length=200)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parties": ["Acme Singapore Pte Ltd"],
                    "ownership": [
                        {
                            "owner": "Huawei Technologies Co., Ltd.",
                            "owned": "Acme Singapore Pte Ltd",
                            "percent": 60,
                            "owned_headquarters": "SG",
                        }
                    ],
                }
            ]
        },
    )


class PartyResults(BaseModel):
    """One result per party asked for, in order: a resolution, or ``{"id", "error"}``."""

    results: list[dict[str, Any]]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "party_id": "bis-entity-list:cn-huawei-technologies-co-ltd",
                            "name": "Huawei Technologies Co., Ltd.",
                            "listed_on": ["bis-entity-list"],
                            "headquarters": "CN",
                            "ultimate_parent": "bis-entity-list:cn-huawei-technologies-co-ltd",
                            "chain": [],
                            "treated_as_listed": False,
                        },
                        {"id": "nobody", "error": {"field": "party", "message": "..."}},
                    ]
                }
            ]
        }
    )


# ---------------------------------------------------------------------------- cloud
CUSTOMER_EXAMPLE: dict[str, Any] = {
    "account": "acct-climber",
    "name": "Climber AI FZ-LLC",
    "country": "AE",
    "headquarters": "AE",
    "address": "1 Example Street, AE",
    "payment_source": "corporate bank account",
    "emails": ["ops@acct-climber.example"],
    "ips": ["192.0.2.10"],
    "planned_training_ops": 1.2e26,
    "beneficial_owners": [{"id": "bo-climb", "name": "Sam Dune", "country": "AE", "percent": 100}],
}
KYC_RESULT_EXAMPLE: dict[str, Any] = {
    "account": "acct-climber",
    "outcome": "report",
    "reasons": ["IaaS for training a 4E091-class model (1.2e+26 operations) for an entity ..."],
    "citations": ["Supplement No. 3 to part 732, Red Flag 28"],
    "headquarters_tier": 2,
    "regime": {"id": "us-2025-01-13-ai-diffusion", "status": "not-enforced", "as_of": "2025-06-01"},
    "screening": [],
    "trace": [
        {
            "rule": "red-flag-28",
            "held": True,
            "outcome": "report",
            "detail": "...",
            "citation": "Supplement No. 3 to part 732, Red Flag 28",
        }
    ],
    "notes": [],
}


class KycRequest(BaseModel):
    """Customer records (as ``sluice cloud kyc`` reads them) and the date of the check."""

    customers: list[dict[str, Any]] = Field(min_length=1, max_length=200)
    as_of: dt.date | None = Field(default=None, description="date of the check (default today)")
    skip_screening: bool = Field(
        default=False, description="no restricted-party screening (at least enhanced DD)"
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"customers": [CUSTOMER_EXAMPLE], "as_of": "2025-06-01"}]},
    )


class KycResults(BaseModel):
    """One result per customer, in order: the outcome with reasons, citations and the trace, or
    ``{"account", "error"}`` for an invalid record (not kept)."""

    results: list[dict[str, Any]]
    model_config = ConfigDict(json_schema_extra={"examples": [{"results": [KYC_RESULT_EXAMPLE]}]})


class CloudCustomer(BaseModel):
    account: str
    name: str
    country: str
    outcome: str
    checked_at: str
    checked_by: str
    result: dict[str, Any]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account": "acct-climber",
                    "name": "Climber AI FZ-LLC",
                    "country": "AE",
                    "outcome": "report",
                    "checked_at": "2026-01-20T10:00:00Z",
                    "checked_by": "api-key:alice (compliance)",
                    "result": KYC_RESULT_EXAMPLE,
                }
            ]
        }
    )


ALERT_EXAMPLE: dict[str, Any] = {
    "kind": "threshold-crossed",
    "threshold_id": "4e091-weights",
    "threshold_ops": 1e26,
    "operations": 1.01e26,
    "accounts": ["acct-frontier"],
    "owner": "bo-frontier",
    "jobs": ["frontier-1", "frontier-1-chat"],
    "evidence": {"operations_low": 5.0e25, "operations_high": 1.6e26},
}


class TelemetryResult(BaseModel):
    """What one upload did: counts, the alerts over all telemetry so far, rejected rows."""

    summary: dict[str, Any]
    alerts: list[dict[str, Any]]
    rejects: list[dict[str, Any]] = Field(description="the first 1000 rejected rows")
    rejects_total: int
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "summary": {
                        "rows_read": 412,
                        "rows_accepted": 408,
                        "rows_rejected": 4,
                        "rows_duplicate": 0,
                        "jobs": 9,
                        "accounts": 8,
                        "alerts": 6,
                        "batch_id": 1,
                    },
                    "alerts": [ALERT_EXAMPLE],
                    "rejects": [{"file": "upload.csv", "row": 410, "reason": "seconds: -60 < 0"}],
                    "rejects_total": 4,
                }
            ]
        }
    )


class Alerts(BaseModel):
    alerts: list[dict[str, Any]]
    accounts: int = Field(description="accounts with telemetry in the monitor's state")
    jobs: int = Field(description="jobs with telemetry in the monitor's state")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"alerts": [ALERT_EXAMPLE], "accounts": 8, "jobs": 9}]}
    )
