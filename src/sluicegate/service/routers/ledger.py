"""The quota ledger and its audit chain over HTTP: reserve (also ``POST /v1/decisions?ledger=
reserve``), confirm, release, attrition, balance and history; verify and export the chain.

Everything goes through the public methods of ``sluicegate.ledger.Ledger`` (one per app, on the
server's database); the actor of every ledger event is the calling key (``api-key:NAME (ROLE)``).
An exporter's key names the consignees it acts for (``sluice users add --consignee``): it may
reserve only for them and sees only their pools and events.

A reservation a pool cannot hold (the decision's ``quota.drawn`` is false: the order would need
a licence the quota was meant to spare) is refused with 409 and holds nothing. The refusal is
first looked for on the committed balances, before anything is written; when a concurrent
reservation took the room in between, the reservation is released again at once (both events
stay in the audit chain) and the answer is the same 409.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.concurrency import iterate_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from sluicegate.ledger.core import summarise_event
from sluicegate.ledger.errors import InvalidRecords
from sluicegate.service.audit import actor_of
from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import (
    RESERVATION_EXAMPLE,
    TRANSACTION_EXAMPLE,
    AttritionEvent,
    AttritionRequest,
    AuditReport,
    Balance,
    Decision,
    DecisionBatch,
    ErrorWithDecisions,
    LedgerEvent,
    ReserveBatch,
    Transition,
)
from sluicegate.service.routers.common import AUTH, check_reform, check_regime, errors
from sluicegate.service.store import Principal

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
audit_router = APIRouter(prefix="/v1/audit", tags=["audit"])

LEDGER_KINDS = ("reserve", "confirm", "release", "attrition")
RESERVATION_ID = r"^[A-Za-z0-9._:-]{1,64}$"

RegimeQ = Annotated[
    str | None,
    Query(description="decide under this regime id instead of the one binding on each date"),
]
ReformQ = Annotated[
    str | None, Query(description="decide under a shipped reform (a what-if), by name")
]
TraceQ = Annotated[bool, Query(description="include the rule trace (answer and audit record)")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=256,
        description="a retry with the same key returns the first answer and holds nothing more",
    ),
]
ReservationId = Annotated[
    str, Path(pattern=RESERVATION_ID, description="the reservation id (rsv-...)")
]


def conflict_responses() -> dict[int | str, dict[str, Any]]:
    return {
        409: {"model": ErrorWithDecisions, "description": "a pool cannot hold the reservation"},
        422: {
            "model": ErrorWithDecisions,
            "description": "invalid input (the field is named; a batch gives every decision)",
        },
    }


# ---------------------------------------------------------------------------- reserve
def _own_consignees(principal: Principal, records: list[Any]) -> None:
    """An exporter reserves only for the consignees its key names."""
    from sluicegate.ledger import consignee_key

    if principal.role != "exporter":
        return
    for i, record in enumerate(records, 1):
        if not isinstance(record, dict):
            continue  # the ledger names the record that is not an object
        key = consignee_key(record)
        if key not in principal.consignees:
            raise ApiError(
                403,
                f"record {i}: consignee {key!r} is not one this key acts for "
                f"({', '.join(sorted(principal.consignees)) or 'none'}); give consignee.id",
                "consignee",
            )


def _refused(decisions: list[dict[str, Any]], records: list[Any]) -> str | None:
    """Why a pool cannot hold these decisions (None when every pool they draw on holds them)."""
    for i, decision in enumerate(decisions):
        quota = decision.get("quota")
        if isinstance(quota, dict) and quota.get("drawn") is False:
            record = records[i] if isinstance(records[i], dict) else {}
            name = record.get("id") if record.get("id") is not None else f"record {i + 1}"
            return (
                f"{name}: pool {quota.get('pool')} holds {quota.get('used_before'):,} of its "
                f"{quota.get('limit'):,} TPP and cannot take {quota.get('this'):,} more; the "
                f"order needs a licence ({decision.get('review_policy') or 'no review policy'}). "
                "Nothing is held."
            )
    return None


def _invalid(exc: InvalidRecords, records: list[Any]) -> ApiError:
    out = exc.lines(
        records,
        "transactions",
        "not reserved: record {record} is invalid and a reservation is all or nothing; "
        "nothing was written",
    )
    return ApiError(422, exc.message, exc.field, extra={"decisions": out})


def reserve_records(
    request: Request,
    principal: Principal,
    records: list[Any],
    *,
    regime: str | None,
    reform: str | None,
    idempotency_key: str | None,
    trace: bool,
) -> list[dict[str, Any]]:
    """Reserve ``records`` (all or nothing) with the caller as actor; ApiError on refusal."""
    from sluicegate.ledger import DatabaseNotReady, LedgerInputError, consignee_key
    from sluicegate.rules import DecisionRequestError, decide_records

    ledger = request.app.state.ledger
    _own_consignees(principal, records)
    actor = actor_of(principal)
    if len(records) > request.app.state.settings.batch_job_threshold:
        raise ApiError(
            422,
            f"{len(records)} transactions: at most "
            f"{request.app.state.settings.batch_job_threshold} per reservation call",
            "transactions",
        )
    try:
        if idempotency_key is None and all(isinstance(r, dict) for r in records):
            # what the committed balances say, before anything is written
            preview = decide_records(
                records, regime=regime, reform=reform, quota=ledger.quota_book(), trace=False
            )
            if any("error" in r for r in preview):
                raise _invalid(InvalidRecords(preview), records)
            why = _refused(preview, records)
            if why:
                raise ApiError(409, why, "quota", extra={"decisions": preview})
        decisions: list[dict[str, Any]] = ledger.reserve(
            records,
            regime=regime,
            reform=reform,
            idempotency_key=idempotency_key,
            actor=actor,
            trace=trace,
        )
    except InvalidRecords as exc:
        raise _invalid(exc, records) from None
    except LedgerInputError as exc:
        status = 409 if exc.field == "idempotency_key" else 422
        raise ApiError(status, exc.message, exc.field) from None
    except DatabaseNotReady as exc:
        raise ApiError(500, f"the ledger database is not ready: {exc.message}") from None
    except DecisionRequestError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    why = _refused(decisions, records)
    ids = [d["reservation"]["id"] for d in decisions if d.get("reservation")]
    request.state.audit_extra = {
        "reservations": ids,
        "consignees": sorted({consignee_key(r) for r in records if isinstance(r, dict)}),
    }
    if why:
        for reservation_id in ids:
            try:
                ledger.release(reservation_id, actor=actor)
            except LedgerInputError:
                pass  # a replayed answer: released when it was first refused
        for decision in decisions:
            if decision.get("reservation"):
                decision["reservation"]["state"] = "released"
        raise ApiError(
            409,
            why + " (a concurrent reservation took the room; released again)",
            "quota",
            extra={"decisions": decisions},
        )
    return decisions


def _records(body: Any) -> tuple[list[Any], bool, str | None]:
    if isinstance(body, ReserveBatch):
        return list(body.transactions), True, body.idempotency_key
    return [body], False, None


@router.post(
    "/reservations",
    status_code=201,
    response_model=Decision | DecisionBatch,
    responses={
        **errors(*AUTH, 413),
        **conflict_responses(),
        201: {
            "description": "the decision holding its quota (one transaction) or "
            "{decisions: [...]}; each carries reservation {id, state}",
            "content": {
                "application/json": {
                    "examples": {
                        "one": {"value": RESERVATION_EXAMPLE},
                        "batch": {"value": {"decisions": [RESERVATION_EXAMPLE]}},
                    }
                }
            },
        },
    },
)
def post_reservation(
    request: Request,
    body: Annotated[
        ReserveBatch | dict[str, Any],
        Body(
            description='one contract §1 transaction, or {"transactions": [...], '
            '"idempotency_key"?}',
            openapi_examples={
                "one": {"summary": "one transaction", "value": TRANSACTION_EXAMPLE},
                "batch": {
                    "summary": "a batch, all or nothing",
                    "value": {"transactions": [TRANSACTION_EXAMPLE], "idempotency_key": "o-42"},
                },
            },
        ),
    ],
    regime: RegimeQ = None,
    reform: ReformQ = None,
    trace: TraceQ = True,
    idempotency_key: IdempotencyKey = None,
    principal: Principal = Depends(allow("reserve")),
) -> Any:
    """Decide transactions and hold the quota they draw, atomically (all or none), as
    ``sluice ledger reserve``: each decision's ``quota`` is filled from the real balances and it
    carries ``reservation`` ``{id, state}``. 409 when a pool cannot hold one (nothing held) or
    the idempotency key was used for another request; 403 when an exporter's key does not act
    for the consignee."""
    if isinstance(body, dict) and "transactions" in body:
        raise ApiError(422, "a batch takes only 'transactions' and 'idempotency_key'", "body")
    records, is_batch, body_key = _records(body)
    if body_key and idempotency_key and body_key != idempotency_key:
        raise ApiError(
            422,
            "the Idempotency-Key header and the body's idempotency_key differ",
            "idempotency_key",
        )
    regime, reform = check_regime(regime), check_reform(reform)
    decisions = reserve_records(
        request,
        principal,
        records,
        regime=regime,
        reform=reform,
        idempotency_key=idempotency_key or body_key,
        trace=trace,
    )
    return JSONResponse({"decisions": decisions} if is_batch else decisions[0], status_code=201)


def _transition(request: Request, principal: Principal, verb: str, reservation_id: str) -> Any:
    from sluicegate.ledger import LedgerInputError

    try:
        result = getattr(request.app.state.ledger, verb)(reservation_id, actor=actor_of(principal))
    except LedgerInputError as exc:
        status = 404 if exc.message.startswith("no reservation") else 409
        raise ApiError(status, exc.message, exc.field) from None
    request.state.audit_extra = {
        "reservations": [reservation_id],
        "consignees": [result["consignee"]] if result.get("consignee") else [],
    }
    return result


@router.post(
    "/reservations/{reservation_id}/confirm",
    response_model=Transition,
    responses=errors(*AUTH, 404, 409, 422),
)
def confirm(
    request: Request,
    reservation_id: ReservationId,
    principal: Principal = Depends(allow("ledger-manage")),
) -> Any:
    """Mark a held reservation as shipped: its quota stays held for good (409 when it is not
    held any more)."""
    return _transition(request, principal, "confirm", reservation_id)


@router.post(
    "/reservations/{reservation_id}/release",
    response_model=Transition,
    responses=errors(*AUTH, 404, 409, 422),
)
def release(
    request: Request,
    reservation_id: ReservationId,
    principal: Principal = Depends(allow("ledger-manage")),
) -> Any:
    """Cancel a held reservation: its draws return to their pools (409 when it is not held any
    more)."""
    return _transition(request, principal, "release", reservation_id)


@router.post(
    "/attrition",
    status_code=201,
    response_model=AttritionEvent,
    responses=errors(*AUTH, 404, 413, 422),
)
def attrition(
    request: Request,
    body: AttritionRequest,
    principal: Principal = Depends(allow("ledger-manage")),
) -> Any:
    """Record NVEU installed base lost (loss, damage, failure, relocation, resale)."""
    from sluicegate.ledger import LedgerInputError

    try:
        event = request.app.state.ledger.attrition(
            pool=body.pool,
            consignee=body.consignee,
            country=body.country,
            tpp=body.tpp,
            reason=body.reason,
            date=body.date,
            note=body.note,
            actor=actor_of(principal),
        )
    except LedgerInputError as exc:
        status = 404 if exc.message.startswith("unknown pool") else 422
        raise ApiError(status, exc.message, exc.field) from None
    request.state.audit_extra = {"pools": [event["pool"]]}
    return JSONResponse(event, status_code=201)


# ---------------------------------------------------------------------------- reading
def _in_period(period: str | None, day: dt.date) -> bool:
    """Whether a pool's period ("2025", "2025-2027") covers ``day``; pools without one do."""
    if not period:
        return True
    first, _, last = period.partition("-")
    try:
        start, end = int(first), int(last or first)
    except ValueError:
        return True
    return start <= day.year <= end


def _scope(principal: Principal, consignee: str | None) -> set[str] | None:
    """The consignees a caller may see (None: all)."""
    if principal.role != "exporter":
        return None
    if consignee is not None and consignee not in principal.consignees:
        raise ApiError(403, f"this key does not act for consignee {consignee!r}", "consignee")
    return set(principal.consignees)


@router.get("/balance", response_model=Balance, responses=errors(*AUTH, 404, 422))
def balance(
    request: Request,
    consignee: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    kind: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9-]{1,64}$",
            description="pool kind: lpp, country-allocation, nveu, aia-reporting, ...",
        ),
    ] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    pool: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    as_of: Annotated[
        dt.date | None,
        Query(description="only pools whose period covers this date (pools without one stay)"),
    ] = None,
    principal: Principal = Depends(allow("ledger-read")),
) -> Any:
    """Each pool's limit, used and remaining (and held / confirmed / attrition) — as
    ``sluice ledger balance``. Exporters see only their consignees' pools."""
    from sluicegate.ledger import LedgerInputError

    scope = _scope(principal, consignee)
    try:
        result: dict[str, Any] = request.app.state.ledger.balance(
            consignee=consignee, country=country, pool=pool
        )
    except LedgerInputError as exc:
        raise ApiError(404, exc.message, exc.field) from None
    pools = result["pools"]
    if kind is not None:
        pools = [p for p in pools if p["kind"] == kind]
    if as_of is not None:
        pools = [p for p in pools if _in_period(p.get("period"), as_of)]
    if scope is not None:
        pools = [p for p in pools if p.get("consignee") in scope]
        if pool is not None and not pools:
            raise ApiError(403, f"this key does not act for the consignee of {pool!r}", "pool")
    result["pools"] = pools
    return result


@router.get("/history", response_model=list[LedgerEvent], responses=errors(*AUTH, 422))
def history(
    request: Request,
    consignee: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    pool: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    reservation: Annotated[str | None, Query(pattern=RESERVATION_ID)] = None,
    kind: Annotated[str | None, Query(pattern=r"^(reserve|confirm|release|attrition)$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="only the last N events")] = 100,
    principal: Principal = Depends(allow("ledger-read")),
) -> Any:
    """Ledger events (reserve, confirm, release, attrition), oldest first, the last ``limit`` —
    as ``sluice ledger history``. Exporters see only their consignees' events."""
    scope = _scope(principal, consignee)
    ledger = request.app.state.ledger
    if pool is not None:  # draws are inside the events: the whole chain is read
        events = ledger.history(consignee=consignee, pool=pool, reservation=reservation, kind=kind)
        events = [e for e in events if e["kind"] in LEDGER_KINDS]
        if scope is not None:
            events = [e for e in events if e.get("consignee") in scope]
        return events[-limit:]
    # newest first from the head of the chain (decision and api-call records are skipped in
    # SQL), then oldest first as `sluice ledger history` prints them
    consignees = [consignee] if consignee is not None else (sorted(scope) if scope else None)
    if scope is not None and not scope:
        return []
    rows = ledger.latest_records(
        [kind] if kind else LEDGER_KINDS,
        limit=limit,
        consignees=consignees,
        reservation=reservation,
    )
    return [summarise_event(row, row["event"]) for row in reversed(rows)]


# ---------------------------------------------------------------------------- audit
@audit_router.get("/verify", response_model=AuditReport, responses=errors(*AUTH))
def verify(request: Request, _p: Principal = Depends(allow("audit"))) -> Any:
    """Recompute the audit chain from its first record (as ``sluice audit verify``): ``intact``
    is false, and ``problems`` says where, when a record was modified, removed, inserted or
    reordered, or the pools disagree with the events."""
    return request.app.state.ledger.verify_audit().as_dict()


class _Pipe:
    """A text sink for ``Ledger.export_audit`` that hands chunks to a reader thread."""

    CHUNK = 64 * 1024

    def __init__(self) -> None:
        self.queue: queue.Queue[str | BaseException | None] = queue.Queue(maxsize=16)
        self.buffer: list[str] = []
        self.size = 0
        self.stopped = threading.Event()

    def write(self, text: str) -> int:
        if self.stopped.is_set():
            raise BrokenPipeError("the client went away")
        self.buffer.append(text)
        self.size += len(text)
        if self.size >= self.CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self.buffer:
            self._put("".join(self.buffer))
            self.buffer, self.size = [], 0

    def _put(self, item: str | BaseException | None) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def chunks(self) -> Iterator[str]:
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stopped.set()


@audit_router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        **errors(*AUTH, 422),
        200: {
            "description": "audit records recorded between from and to (inclusive): JSON Lines "
            "(event as an object) or CSV (event as canonical JSON text)",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
    },
)
def export(
    request: Request,
    start: Annotated[dt.date | None, Query(alias="from", description="first day (UTC)")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="last day (UTC)")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(jsonl|csv)$")] = "jsonl",
    _p: Principal = Depends(allow("audit")),
) -> StreamingResponse:
    """Stream the audit records for recordkeeping (15 CFR 762), as ``sluice audit export``."""
    if start is not None and end is not None and end < start:
        raise ApiError(422, f"{end} is before from {start}", "to")
    ledger = request.app.state.ledger
    pipe = _Pipe()

    def produce() -> None:
        try:
            ledger.export_audit(pipe, start=start, end=end, fmt=fmt)
            pipe.flush()
            pipe._put(None)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # surfaces in the stream (the answer is cut short)
            pipe._put(exc)

    threading.Thread(target=produce, name="audit-export", daemon=True).start()

    async def body() -> AsyncIterator[bytes]:
        async for chunk in iterate_in_threadpool(pipe.chunks()):
            yield chunk.encode("utf-8")

    name = f"audit-{start or 'start'}-{end or 'end'}.{fmt}"
    return StreamingResponse(
        body(),
        media_type="application/x-ndjson" if fmt == "jsonl" else "text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
