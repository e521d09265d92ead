"""Customer records of an infrastructure-as-a-service provider, as the January 2024 proposed rule
(89 FR 5698) asks a customer identification program to hold them.

A record has the account, the customer's name and country, headquarters and ultimate-parent
headquarters, address, means and source of payment, emails, telephone numbers, IP addresses and
beneficial owners (``[{"id", "name", "country", "percent"}]``), plus what the customer says it
will use the service for (``planned_training_ops``, ``training_domain``). Read from JSON Lines or
CSV (list fields as JSON text or ``;``-separated). ``kyc.py`` checks records; ``monitor.py`` uses
the beneficial owners to see one owner's runs across accounts.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class BeneficialOwner(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    country: str | None = None
    percent: float | None = Field(None, ge=0, le=100)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return _country_code(value)


def _country_code(value: str | None) -> str | None:
    from sluicegate.regimes import countries

    if value is None or not str(value).strip():
        return None
    code = str(value).strip().upper()
    if code not in countries().index:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code")
    return code


class Customer(BaseModel):
    """One IaaS customer (account holder)."""

    model_config = ConfigDict(extra="ignore")

    account: str = Field(min_length=1)
    name: str = Field(min_length=1)
    country: str
    headquarters: str | None = None
    ultimate_parent_headquarters: str | None = None
    address: str | None = None
    payment_source: str | None = None
    payment_means: str | None = None
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    ips: list[str] = Field(default_factory=list)
    beneficial_owners: list[BeneficialOwner] = Field(default_factory=list)
    planned_training_ops: float | None = Field(None, ge=0)
    training_domain: str | None = None
    as_of: dt.date | None = None

    @field_validator("country")
    @classmethod
    def _required_country(cls, value: str) -> str:
        code = _country_code(value)
        if code is None:
            raise ValueError("missing")
        return code

    @field_validator("headquarters", "ultimate_parent_headquarters")
    @classmethod
    def _optional_country(cls, value: str | None) -> str | None:
        return _country_code(value)

    @field_validator("emails", "phones", "ips", mode="before")
    @classmethod
    def _listish(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [v.strip() for v in text.split(";") if v.strip()]
        return value

    @field_validator("beneficial_owners", mode="before")
    @classmethod
    def _owners(cls, value: Any) -> Any:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return json.loads(value)
        return value


class CustomerError(ValueError):
    def __init__(self, account: str | None, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.account, self.field, self.message = account, field, message

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "error": {"field": self.field, "message": self.message}}


def parse_customer(raw: dict[str, Any]) -> Customer:
    """A customer record, or :class:`CustomerError` naming the first bad field."""
    cleaned = {k: (None if v == "" else v) for k, v in raw.items()}
    try:
        return Customer.model_validate(cleaned)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "record"
        message = str(err["msg"]).removeprefix("Value error, ")
        account = raw.get("account") if isinstance(raw.get("account"), str) else None
        raise CustomerError(account, field, message) from None
    except json.JSONDecodeError as exc:  # a list field given as broken JSON text
        raise CustomerError(raw.get("account"), "record", f"not valid JSON: {exc.msg}") from None


def read_customer_records(source: str) -> Iterator[dict[str, Any] | CustomerError]:
    """Raw customer dicts from JSON Lines or CSV (``-`` is standard input, JSON Lines)."""
    if source != "-" and source.lower().endswith(".csv"):
        with Path(source).open(encoding="utf-8", newline="") as csv_handle:
            for row in csv.DictReader(csv_handle):
                yield {k.strip().lower(): v for k, v in row.items() if k}
        return
    handle: TextIO = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")
    try:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield CustomerError(None, f"line {line_no}", f"not valid JSON: {exc.msg}")
                continue
            if not isinstance(obj, dict):
                yield CustomerError(None, f"line {line_no}", "not a JSON object")
                continue
            yield obj
    finally:
        if handle is not sys.stdin:
            handle.close()


def load_customers(source: str) -> tuple[list[Customer], list[CustomerError]]:
    good: list[Customer] = []
    bad: list[CustomerError] = []
    for raw in read_customer_records(source):
        if isinstance(raw, CustomerError):
            bad.append(raw)
            continue
        try:
            good.append(parse_customer(raw))
        except CustomerError as exc:
            bad.append(exc)
    return good, bad
