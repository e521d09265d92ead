"""The service's records in the ledger's tamper-evident audit chain.

Two kinds of record, appended through ``Ledger.append_records`` (the hash chain covers them;
the pool replay of ``sluice audit verify`` ignores them, since they change no pool):

- ``api-call``: every call that can change state, made with a key — actor ``api-key:NAME
  (ROLE)``, and in the event the method, path, status, request id, key name, key id and role
  (plus what the route adds, such as the reservation ids it touched).
- ``decision``: every decision the service gives (``POST /v1/decisions`` and its CSV and job
  forms), as ``sluice decide --ledger`` records them: ``{"transaction", "decision"}`` plus the
  request id.

Ledger operations themselves (reserve, confirm, release, attrition) are recorded by the ledger
in the same transaction as the change, with the same actor string.

Appends go through one writer thread per process that commits whatever has queued up in one
transaction (group commit): a request waits until its records are committed, so an answer is
never given for a call the chain does not hold, yet concurrent requests share one write.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sluicegate.ledger import Ledger
from sluicegate.ledger.audit import AuditEntry, canonical_json
from sluicegate.ledger.core import consignee_key, regime_hash
from sluicegate.ledger.regimeinfo import reform_hash
from sluicegate.service.store import Principal

log = logging.getLogger("sluicegate.service")
MAX_BATCH = 2000  # records per transaction of the writer


def actor_of(principal: Principal | None) -> str:
    """The actor string of a key in the audit chain (its name and role)."""
    if principal is None:
        return "api-key:- (unauthenticated)"
    return f"api-key:{principal.name} ({principal.role})"


def call_entry(
    principal: Principal | None,
    method: str,
    path: str,
    status: int,
    request_id: str,
    extra: dict[str, Any] | None = None,
) -> AuditEntry:
    event: dict[str, Any] = {
        "method": method,
        "path": path[:2000],
        "status": status,
        "request_id": request_id,
        "key_name": principal.name if principal else None,
        "key_id": principal.key_id if principal else None,
        "role": principal.role if principal else None,
    }
    if extra:
        event.update(extra)
    consignee = None
    if extra and isinstance(extra.get("consignees"), list) and len(extra["consignees"]) == 1:
        consignee = str(extra["consignees"][0])
    return AuditEntry(kind="api-call", actor=actor_of(principal), consignee=consignee, event=event)


def decision_entries(
    principal: Principal | None,
    records: Sequence[Any],
    decisions: Sequence[dict[str, Any]],
    request_id: str,
    reform: str | Path | None = None,
    texts: Sequence[str] | None = None,
) -> list[AuditEntry]:
    """``decision`` records for the valid decisions (an invalid record decided nothing).
    ``texts``, when given, are the decisions' canonical JSON already rendered (the answer's
    body): the event is assembled from them instead of encoding each decision again."""
    reform_digest = reform_hash(reform) if reform is not None else None
    actor = actor_of(principal)
    rid = canonical_json(request_id)
    out = []
    for i, (record, decision) in enumerate(zip(records, decisions, strict=True)):
        if "error" in decision:
            continue
        regime_id = (decision.get("regime") or {}).get("id")
        event: dict[str, Any] | str
        if texts is not None:
            # canonical JSON of {"decision", "request_id", "transaction"}: keys in sorted order
            event = (
                '{"decision":'
                + texts[i]
                + ',"request_id":'
                + rid
                + ',"transaction":'
                + canonical_json(record)
                + "}"
            )
        else:
            event = {"transaction": record, "decision": decision, "request_id": request_id}
        out.append(
            AuditEntry(
                kind="decision",
                actor=actor,
                consignee=consignee_key(record) if isinstance(record, dict) else None,
                regime_id=regime_id,
                regime_hash=regime_hash(regime_id),
                reform_hash=reform_digest,
                event=event,
            )
        )
    return out


def _settle(future: concurrent.futures.Future[int], outcome: int | BaseException) -> None:
    """Resolve a waiter's future; one whose request was cancelled (the client went away) is
    skipped — its records are written all the same."""
    try:
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except concurrent.futures.InvalidStateError:
        pass


class AuditRecorder:
    """Group-committing writer of service records into the audit chain (one per process)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._pending: list[tuple[list[AuditEntry], concurrent.futures.Future[int]]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False
        self._closed = False

    def submit(self, entries: list[AuditEntry]) -> concurrent.futures.Future[int]:
        """Queue records; the future holds the new head seq once they are committed."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        if not entries:
            future.set_result(-1)
            return future
        with self._cond:
            self._closed = False  # a recorder closed at shutdown starts again when used
            self._pending.append((entries, future))
            if not self._running:
                self._running = True
                self._thread = threading.Thread(
                    target=self._run, name="sluice-audit-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return future

    def record(self, entries: list[AuditEntry]) -> int:
        """Append and wait (from a worker thread)."""
        return self.submit(entries).result()

    async def arecord(self, entries: list[AuditEntry]) -> int:
        """Append and wait (from the event loop, without blocking it)."""
        if not entries:
            return -1
        return await asyncio.wrap_future(self.submit(entries))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    self._running = False
                    return
                batch: list[tuple[list[AuditEntry], concurrent.futures.Future[int]]] = []
                size = 0
                while self._pending and (not batch or size + len(self._pending[0][0]) <= MAX_BATCH):
                    item = self._pending.pop(0)
                    batch.append(item)
                    size += len(item[0])
            try:
                head = self.ledger.append_records([e for entries, _ in batch for e in entries])
            except Exception as exc:  # every waiting request learns it failed
                log.exception("could not append to the audit chain")
                for _, future in batch:
                    _settle(future, exc)
                continue
            for _, future in batch:
                _settle(future, head)

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
