"""Quota ledger and tamper-evident audit log (issue 3).

Public API for the CLI and the service: ``Ledger`` (reserve / confirm / release / attrition /
balance / history / verify_audit / export_audit / quota_book), ``upgrade_database`` and the
errors. The ledger sits on ``sluicegate.rules``: ``Ledger.reserve`` calls
``sluicegate.rules.decide_records`` with a locked ``QuotaBook`` inside one database transaction.
See docs/ledger.md.
"""

from __future__ import annotations

from sluicegate.ledger.audit import VerifyReport, canonical_json
from sluicegate.ledger.book import LockedQuotaBook, SnapshotQuotaBook, parse_pool
from sluicegate.ledger.core import Ledger, consignee_key, default_actor
from sluicegate.ledger.database import database_url, head_revision
from sluicegate.ledger.errors import (
    DatabaseNotReady,
    InvalidRecords,
    LedgerError,
    LedgerInputError,
)
from sluicegate.ledger.settings import load_settings


def upgrade_database(url: str | None = None) -> dict[str, str | None]:
    """Create or migrate the project database's schema — the ledger's tables and those of the
    service and the cloud monitor (``sluice db upgrade``)."""
    from sluicegate.ledger.database import (
        check_ready,
        current_revision,
        describe,
        make_engine,
        sqlite_path,
        upgrade,
    )

    resolved = database_url(url)
    path = sqlite_path(resolved)
    if path is not None and not path.parent.exists():
        raise DatabaseNotReady("database_url", f"directory {path.parent} does not exist")
    engine = make_engine(resolved)
    try:
        try:
            before = current_revision(engine)
        except Exception as exc:
            raise DatabaseNotReady(
                "database_url", f"cannot open {describe(resolved)}: {exc}"
            ) from exc
        try:
            check_ready(engine, resolved, create=True)
        except DatabaseNotReady as exc:
            if "run `sluice db upgrade`" not in exc.message or before is None:
                raise
            upgrade(engine)
        return {"database": describe(resolved), "from": before, "to": head_revision()}
    finally:
        engine.dispose()


__all__ = [
    "DatabaseNotReady",
    "InvalidRecords",
    "Ledger",
    "LedgerError",
    "LedgerInputError",
    "LockedQuotaBook",
    "SnapshotQuotaBook",
    "VerifyReport",
    "canonical_json",
    "consignee_key",
    "database_url",
    "default_actor",
    "head_revision",
    "load_settings",
    "parse_pool",
    "upgrade_database",
]
