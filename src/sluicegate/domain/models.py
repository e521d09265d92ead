"""Typed values shared by every capability: the transaction and decision of the contract.

These pydantic models are the JSON contract of ``../shared/spec/contract.md`` §1–2. They
check *shape* (types, ranges, vocabularies); facts that need the law as data — is this a
country, is this chip in the catalogue, is there a regime on this date — are checked by
``sluicegate.rules`` against the regime files, so that the JSON path and the batch path
report the same errors. Fields beyond the contract are extensions (the contract allows
adding fields, never renaming them); each says what it is for.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TransactionKind = Literal["export", "reexport", "transfer", "deemed-export", "deemed-reexport"]
EndUse = Literal[
    "datacenter", "development", "production", "storage", "training", "inference", "other"
]
ItemCategory = Literal["ic", "computer", "hbm", "model-weights"]
Authorization = Literal["NLR", "LICENSE", "AIA", "ACM", "LPP", "NAC", "ACA", "HBM", "UVEU", "NVEU"]
ReviewPolicy = Literal[
    "presumption-of-approval", "presumption-of-denial", "policy-of-denial", "case-by-case"
]
RegimeStatus = Literal[
    "in-force", "effective-not-yet-required", "not-enforced", "superseded", "what-if"
]

KINDS: tuple[str, ...] = TransactionKind.__args__  # type: ignore[attr-defined]
END_USES: tuple[str, ...] = EndUse.__args__  # type: ignore[attr-defined]
CATEGORIES: tuple[str, ...] = ItemCategory.__args__  # type: ignore[attr-defined]
VEU_AUTHORIZATIONS = ("UVEU", "NVEU")

CountryCode = Annotated[str, Field(min_length=1, max_length=64)]
NonNegative = Annotated[float, Field(ge=0)]


def _upper_code(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().upper()
    return value


class Item(BaseModel):
    """What is exported: a catalogue chip, explicit parameters, or both (parameters win)."""

    model_config = ConfigDict(extra="forbid")

    chip: str | None = Field(None, description="accelerator catalogue id, e.g. nvidia-h100-sxm")
    category: ItemCategory | None = Field(
        None, description="ic (default), computer, hbm, model-weights"
    )
    tpp: NonNegative | None = Field(None, description="total processing performance per unit")
    die_area_mm2: Annotated[float, Field(gt=0)] | None = None
    performance_density: NonNegative | None = None
    datacenter: bool | None = Field(None, description="designed or marketed for datacenters")
    interconnect_gbs: NonNegative | None = Field(
        None, description="aggregate bidirectional I/O, GB/s"
    )
    memory_bandwidth_gbs: NonNegative | None = Field(None, description="DRAM/HBM bandwidth, GB/s")
    hbm_bandwidth_density: NonNegative | None = Field(None, description="GB/s per mm² (3A090.c)")
    training_ops: NonNegative | None = Field(None, description="operations used to train (4E091)")
    published: bool | None = Field(None, description="weights published (open weights)")
    # extensions
    chips_per_unit: Annotated[int, Field(ge=1)] | None = Field(
        None, description="extension: accelerators per computer when category is 'computer'"
    )
    approved_designer: bool | None = Field(
        None,
        description="extension: IC designed by an approved or authorized IC designer "
        "(Note 1 to 3A090.a; AIA condition from 90 FR 5298). Assumed true when missing.",
    )
    most_capable_published_ops: NonNegative | None = Field(
        None,
        description="extension: operations needed to train a model as capable as the most "
        "capable published model (Note 2 to 4E091); overrides the dated regime parameter",
    )

    @field_validator("chip", mode="before")
    @classmethod
    def _chip_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something_given(self) -> Item:
        if self.chip is None and self.category is None and self.tpp is None:
            if self.training_ops is None and self.hbm_bandwidth_density is None:
                raise ValueError(
                    "give either 'chip' (a catalogue id) or explicit parameters such as 'tpp'"
                )
        return self


class Consignee(BaseModel):
    """The ultimate consignee. Missing country = destination, headquarters = country,
    ultimate_parent_headquarters = headquarters (contract §1)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=256)
    name: str | None = Field(None, max_length=1024)
    country: CountryCode | None = None
    headquarters: CountryCode | None = None
    ultimate_parent_headquarters: CountryCode | None = None
    government_end_user: bool = False
    authorizations: list[Literal["UVEU", "NVEU"]] = Field(default_factory=list)
    # extensions
    private_sector: bool | None = Field(
        None,
        description="extension: 'private sector end user' of 740.28(d) (ACM); "
        "defaults to not government_end_user",
    )
    party: str | None = Field(
        None,
        max_length=256,
        description="extension: a party id in the ownership graph (sluice parties resolve); with "
        "`sluice decide --screen` the consignee's headquarters and ultimate parent's headquarters "
        "come from the graph when not given",
    )
    storage_meets_supp10: bool = Field(
        False,
        description="extension: model weights stored in a facility meeting paragraphs 14, 15 and 18 "
        "of supplement no. 10 to part 748 (AIA for 4E091, 740.27(a)(3)(ii))",
    )

    _upper = field_validator(
        "country", "headquarters", "ultimate_parent_headquarters", mode="before"
    )(_upper_code)

    @field_validator("authorizations", mode="before")
    @classmethod
    def _auth_upper(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, list):
            return [v.strip().upper() if isinstance(v, str) else v for v in value]
        return value


class Transaction(BaseModel):
    """One export, reexport or in-country transfer to decide (contract §1)."""

    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    date: dt.date
    kind: TransactionKind = "export"
    origin: CountryCode = "US"
    destination: CountryCode
    item: Item
    quantity: Annotated[int, Field(ge=1, le=10**12)] = 1
    consignee: Consignee = Field(default_factory=Consignee)
    end_use: EndUse = "other"
    # extensions
    via_distributor: bool = Field(
        False,
        description="extension: shipped through a distributor rather than directly to the ultimate "
        "consignee (License Exception LPP is then unavailable, 740.29(a))",
    )

    _upper = field_validator("origin", "destination", mode="before")(_upper_code)

    @field_validator("date", mode="before")
    @classmethod
    def _strict_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form") from exc
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, int | float):
            raise ValueError("date must be a string in YYYY-MM-DD form")
        return value


class QuotaDraw(BaseModel):
    pool: str
    limit: float
    used_before: float
    this: float
    remaining_after: float


class TraceStep(BaseModel):
    rule: str
    holds: bool
    cite: str
    note: str = ""


class RegimeRef(BaseModel):
    id: str
    status: RegimeStatus


class Decision(BaseModel):
    """The answer for one transaction (contract §2)."""

    id: str | int | None
    regime: RegimeRef
    tier: int | None
    classification: str
    controlled: bool
    license_required: bool
    authorization: Authorization
    review_policy: ReviewPolicy | None
    tpp_per_unit: float | None
    tpp_total: float | None
    h100_equivalents: float | None
    obligations: list[dict[str, Any]]
    quota: QuotaDraw | None
    screening: dict[str, Any] | None = None
    citations: list[str]
    trace: list[TraceStep]


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorRecord(BaseModel):
    id: str | int | None
    error: ErrorDetail
