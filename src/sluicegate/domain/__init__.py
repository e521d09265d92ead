"""Typed values shared by all capabilities (the JSON contract)."""

from sluicegate.domain.models import (
    CATEGORIES,
    END_USES,
    KINDS,
    Consignee,
    Decision,
    ErrorDetail,
    ErrorRecord,
    Item,
    QuotaDraw,
    RegimeRef,
    TraceStep,
    Transaction,
)

__all__ = [
    "CATEGORIES",
    "END_USES",
    "KINDS",
    "Consignee",
    "Decision",
    "ErrorDetail",
    "ErrorRecord",
    "Item",
    "QuotaDraw",
    "RegimeRef",
    "TraceStep",
    "Transaction",
]
