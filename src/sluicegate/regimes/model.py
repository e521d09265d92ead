"""Schema of the law-as-data files: regimes, their provisions and parameters, and reforms.

A regime file names itself and its dates, then holds provisions; a provision quotes the words it
encodes and holds parameters, each with its citation. A regime may ``extends`` an earlier one and
patch it; the loader (``loader.py``) merges the chain and validates the result against these
models, so an error names the file chain and the key. Reforms (``reform.py``) are patches too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LegalStatus = Literal["in-force", "effective-not-yet-required", "not-enforced", "superseded"]
Operator = Literal[">=", ">", "<=", "<"]


class Parameter(BaseModel):
    """One threshold, list, quota or date, with the words of the law it comes from."""

    model_config = ConfigDict(extra="forbid")

    value: Any = None
    series: str | None = Field(None, description="name of a dated series file instead of a value")
    operator: Operator | None = None
    unit: str | None = None
    cite: str
    text: str | None = None
    unconfirmed: str | None = Field(
        None, description="why the value is a best-supported default rather than settled law"
    )
    last_checked: dt.date | None = None


class Provision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    cite: str
    text: str
    source: str | None = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)


class Regime(BaseModel):
    """A resolved regime vintage (after ``extends`` and any reform patch)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    short_title: str
    citation: str
    fr_doc: str | None = None
    published: dt.date
    effective: dt.date
    compliance: dt.date
    end: dt.date | None = None
    binding: bool = True
    status: dict[dt.date, LegalStatus]
    notes: str = ""
    provisions: dict[str, Provision]
    # set by the loader
    extends: str | None = None
    source_files: list[str] = Field(default_factory=list)
    content_hash: str = ""
    reform_of: str | None = None
    reform_hash: str | None = None

    @field_validator("status")
    @classmethod
    def _status_not_empty(cls, value: dict[dt.date, str]) -> dict[dt.date, str]:
        if not value:
            raise ValueError("at least one dated status is required")
        return value

    def legal_status_on(self, date: dt.date) -> str | None:
        """The dated enforcement status on ``date`` (None before the first entry)."""
        current = None
        for start in sorted(self.status):
            if start <= date:
                current = self.status[start]
        return current

    def has(self, provision: str) -> bool:
        return provision in self.provisions

    def param(self, dotted: str) -> Any:
        provision, name = dotted.split(".", 1)
        return self.provisions[provision].parameters[name].value

    def param_meta(self, dotted: str) -> Parameter:
        provision, name = dotted.split(".", 1)
        return self.provisions[provision].parameters[name]

    def unconfirmed(self) -> list[tuple[str, str]]:
        """Every parameter standing in for an UNCONFIRMED point: (provision.param, why)."""
        rows = []
        for pid, prov in self.provisions.items():
            for name, par in prov.parameters.items():
                if par.unconfirmed:
                    rows.append((f"{pid}.{name}", par.unconfirmed))
        return rows


class ListPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    add: list[Any] = Field(default_factory=list)
    remove: list[Any] = Field(default_factory=list)


class ReformFile(BaseModel):
    """A what-if: a base regime plus parameter, list and provision overrides (never code)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    title: str
    description: str = ""
    base: str
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="'provision.parameter': new value"
    )
    lists: dict[str, ListPatch] = Field(
        default_factory=dict, description="'provision.parameter': {add: [...], remove: [...]}"
    )
    disable_provisions: list[str] = Field(default_factory=list)
    enable_provisions: dict[str, Provision] = Field(
        default_factory=dict, description="provisions to add, in full, with their citations"
    )
