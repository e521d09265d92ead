"""Errors the ledger raises. Each names the field at fault and says what would be right; the CLI
maps ``LedgerInputError`` and ``DatabaseNotReady`` to exit 2 and ``AuditChainBroken`` to 3."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base class of ledger errors."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_record(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class LedgerInputError(LedgerError, ValueError):
    """Bad input (unknown reservation, pool or consignee, non-positive amount, ...). Nothing was
    written."""


class DatabaseNotReady(LedgerError):
    """The database is missing, unreachable, or not at the schema revision this code expects."""


class InvalidRecords(LedgerError, ValueError):
    """The rules engine rejected one or more records of a reserve call; nothing was written.
    ``results`` holds one output line per input record."""

    def __init__(self, results: list[dict]) -> None:
        bad = [r for r in results if "error" in r]
        first = bad[0]["error"] if bad else {"field": "records", "message": "invalid"}
        super().__init__(str(first.get("field")), str(first.get("message")))
        self.results = results

    def lines(self, records: list[Any], field: str, note: str) -> list[dict[str, Any]]:
        """One output line per input record, in order: the engine's error where a record is
        invalid, and for each valid record an error on ``field`` saying it was not reserved either
        (``note``, formatted with ``record``: the 1-based number of the first invalid record)."""
        bad = next((i for i, r in enumerate(self.results) if "error" in r), 0)
        out = []
        for record, result in zip(records, self.results, strict=True):
            if "error" not in result:
                given = record if isinstance(record, dict) else {}
                result = {
                    "id": given.get("id"),
                    "error": {"field": field, "message": note.format(record=bad + 1)},
                }
            out.append(result)
        return out
