"""Decisions over HTTP: one transaction or a batch (same JSON as ``sluice decide``), a CSV
upload (same table as ``sluice decide-batch``), and big batches as background jobs."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response

from sluicegate.ledger.audit import canonical_json
from sluicegate.service.audit import decision_entries
from sluicegate.service.auth import ROLE_MATRIX, allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import (
    DECISION_EXAMPLE,
    RESERVATION_EXAMPLE,
    TRANSACTION_EXAMPLE,
    Decision,
    DecisionBatch,
    Job,
    TransactionBatch,
)
from sluicegate.service.routers.common import AUTH, check_reform, check_regime, errors
from sluicegate.service.routers.ledger import conflict_responses, reserve_records
from sluicegate.service.store import Principal

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])
INLINE = 4  # batches up to this size are decided on the event loop

RegimeQ = Annotated[
    str | None,
    Query(description="decide under this regime id instead of the one binding on each date"),
]
ReformQ = Annotated[
    str | None, Query(description="decide under a shipped reform (a what-if), by name")
]
ScreenQ = Annotated[bool, Query(description="screen consignees against the restricted-party lists")]
TraceQ = Annotated[bool, Query(description="include the rule trace")]
LedgerQ = Annotated[
    str | None,
    Query(
        pattern="^reserve$",
        description="reserve: hold the quota each decision draws in the ledger (as POST "
        "/v1/ledger/reservations; all or nothing, 409 when a pool cannot hold it)",
    ),
]

BODY_EXAMPLES = {
    "one": {"summary": "one transaction", "value": TRANSACTION_EXAMPLE},
    "batch": {"summary": "a batch", "value": {"transactions": [TRANSACTION_EXAMPLE]}},
}


def decide(
    records: list[Any],
    regime: str | None,
    reform: str | None,
    screen: bool,
    trace: bool = True,
    cancelled: Callable[[], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Decide records exactly as ``sluice decide`` does (optionally with screening)."""
    from sluicegate.rules import DecisionRequestError, decide_records, decide_stream

    try:
        if cancelled is None and progress is None:
            if not screen:
                return decide_records(records, regime=regime, reform=reform, trace=trace)
            from sluicegate.screening.decisions import decide_and_screen

            return list(
                decide_and_screen(
                    records,
                    lambda recs: decide_records(
                        list(recs), regime=regime, reform=reform, trace=trace
                    ),
                )
            )
        stream: Any = decide_stream(iter(records), regime=regime, reform=reform, trace=trace)
        if screen:
            from sluicegate.screening.decisions import decide_and_screen

            stream = decide_and_screen(
                iter(records),
                lambda recs: decide_stream(recs, regime=regime, reform=reform, trace=trace),
            )
        out: list[dict[str, Any]] = []
        for decision in stream:
            out.append(decision)
            if len(out) % 100 == 0:
                if progress is not None:
                    progress(len(out))
                if cancelled is not None and cancelled():
                    break
        if progress is not None:
            progress(len(out))
        return out
    except DecisionRequestError as exc:
        raise ApiError(422, exc.message, exc.field) from None


async def log_decisions(
    request: Request,
    principal: Principal,
    records: list[Any],
    decisions: list[dict[str, Any]],
    reform: str | None,
    texts: list[str] | None = None,
) -> None:
    """Record the decisions in the audit chain (group commit) before they are answered."""
    if not request.app.state.settings.audit_decisions:
        return
    entries = decision_entries(
        principal, records, decisions, request.state.request_id, reform, texts
    )
    try:
        await request.app.state.recorder.arecord(entries)
    except Exception:
        raise ApiError(
            500, "the decisions could not be recorded in the audit log; none is given"
        ) from None


def _records(body: dict[str, Any]) -> tuple[list[Any], bool]:
    if "transactions" in body:
        batch = body["transactions"]
        if not isinstance(batch, list) or not batch:
            raise ApiError(422, "give a non-empty list of transactions", "transactions")
        extra = set(body) - {"transactions"}
        if extra:
            raise ApiError(422, "unexpected beside 'transactions'", sorted(extra)[0])
        return batch, True
    return [body], False


@router.post(
    "",
    response_model=Decision | DecisionBatch,
    responses={
        **errors(*AUTH, 413),
        **conflict_responses(),
        201: {
            "description": "with ledger=reserve: the decisions holding their quota, each with "
            "reservation {id, state}",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/Decision"},
                            {"$ref": "#/components/schemas/DecisionBatch"},
                        ]
                    },
                    "example": RESERVATION_EXAMPLE,
                }
            },
        },
        200: {
            "description": "a decision (one transaction) or {decisions: [...]} (a batch)",
            "content": {
                "application/json": {
                    "examples": {
                        "one": {"value": DECISION_EXAMPLE},
                        "batch": {"value": {"decisions": [DECISION_EXAMPLE]}},
                    }
                }
            },
        },
    },
)
async def post_decisions(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            description='one contract §1 transaction, or {"transactions": [...]}',
            openapi_examples=BODY_EXAMPLES,
        ),
    ],
    regime: RegimeQ = None,
    reform: ReformQ = None,
    screen: ScreenQ = False,
    trace: TraceQ = True,
    ledger: LedgerQ = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=256,
            description="with ledger=reserve: a retry with "
            "the same key returns the first answer and holds nothing more",
        ),
    ] = None,
    principal: Principal = Depends(allow("decide")),
) -> Any:
    """Decide one transaction (the decision; an invalid one gives 422 naming the field) or a
    batch (``{"decisions": [...]}``, one per transaction in order; invalid ones carry ``error``).
    Batches over the configured size go to ``POST /v1/decisions/jobs``.

    With ``ledger=reserve`` the decisions hold the quota they draw (see
    ``POST /v1/ledger/reservations``: all or nothing, 201, 409 when a pool cannot hold one).
    Otherwise each decision is recorded in the audit chain as a ``decision`` record with the
    key's identity before it is answered."""
    if ledger == "reserve":
        request.state.record_call = True  # changes state: an api-call record, even if refused
    records, is_batch = _records(body)
    limit = request.app.state.settings.batch_job_threshold
    if len(records) > limit:
        raise ApiError(
            422,
            f"{len(records)} transactions: over {limit}, use POST /v1/decisions/jobs",
            "transactions",
        )
    regime, reform = check_regime(regime), check_reform(reform)
    if ledger == "reserve":
        if screen:
            raise ApiError(422, "screening is not available with ledger=reserve", "screen")
        if principal.role not in ROLE_MATRIX["reserve"]:
            raise ApiError(403, f"role {principal.role!r} may not reserve quota", "ledger")
        reserved = await run_in_threadpool(
            lambda: reserve_records(
                request,
                principal,
                records,
                regime=regime,
                reform=reform,
                idempotency_key=idempotency_key,
                trace=trace,
            )
        )
        return JSONResponse({"decisions": reserved} if is_batch else reserved[0], status_code=201)
    if len(records) <= INLINE and not screen:
        # about a millisecond of work: cheaper on the event loop than a thread hop
        decisions = decide(records, regime, reform, screen, trace)
    else:
        decisions = await run_in_threadpool(decide, records, regime, reform, screen, trace)
    if not is_batch and "error" in decisions[0]:
        raise ApiError(422, decisions[0]["error"]["message"], decisions[0]["error"]["field"])
    # each decision is rendered once, as canonical JSON: the answer and the audit record
    texts = [canonical_json(d) for d in decisions]
    await log_decisions(request, principal, records, decisions, reform, texts)
    text = '{"decisions":[' + ",".join(texts) + "]}" if is_batch else texts[0]
    return Response(text.encode("utf-8"), media_type="application/json")


@router.post(
    "/csv",
    response_model=dict[str, Any],
    responses={
        **errors(*AUTH, 413, 422),
        200: {
            "description": "rows as JSON ({columns, rows}) or, with format=csv, a CSV file",
            "content": {
                "text/csv": {},
                "application/json": {
                    "example": {
                        "columns": ["id", "authorization", "citations"],
                        "rows": [
                            {"id": "a", "authorization": "NLR", "citations": "15 CFR 740.8(a)-(b)"}
                        ],
                    }
                },
            },
        },
    },
)
async def post_csv(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV table (columns as sluice decide-batch)")],
    regime: RegimeQ = None,
    reform: ReformQ = None,
    output: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
    principal: Principal = Depends(allow("decide")),
) -> Any:
    """Decide a CSV table: one row out per row in, with the trace and citations."""
    import polars as pl

    from sluicegate.rules import DecisionRequestError, decide_frame

    data = await file.read()
    regime, reform = check_regime(regime), check_reform(reform)

    def run() -> Any:
        try:
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
        except Exception as exc:
            raise ApiError(422, f"not a readable CSV table: {exc}", "file") from None
        if frame.height == 0:
            raise ApiError(422, "the table has no rows", "file")
        try:
            result = decide_frame(frame, regime=regime, reform=reform, trace=True)
        except DecisionRequestError as exc:
            raise ApiError(422, exc.message, exc.field) from None
        except ValueError as exc:
            raise ApiError(422, str(exc), "file") from None
        if request.app.state.settings.audit_decisions:
            rows = [
                {"error": {"field": r.get("error_field"), "message": r.get("error_message")}}
                if r.get("error_field") or r.get("error_message")
                else r
                for r in result.to_dicts()
            ]
            entries = decision_entries(
                principal, frame.to_dicts(), rows, request.state.request_id, reform
            )
            try:
                request.app.state.recorder.record(entries)
            except Exception:
                raise ApiError(
                    500, "the decisions could not be recorded in the audit log; none is given"
                ) from None
        return result

    result = await run_in_threadpool(run)
    if output == "csv":
        return Response(
            result.write_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="decisions.csv"'},
        )
    return {"columns": result.columns, "rows": result.to_dicts()}


def _job_of(request: Request, job_id: str, principal: Principal) -> Any:
    job = request.app.state.jobs.get(job_id, "decisions")
    if job is None:
        raise ApiError(404, f"no decision job {job_id!r}", "job")
    if principal.role == "exporter" and job.owner != principal.name:
        raise ApiError(404, f"no decision job {job_id!r}", "job")
    return job


@router.post("/jobs", response_model=Job, status_code=202, responses=errors(*AUTH, 413, 422))
def start_job(
    request: Request,
    body: Annotated[TransactionBatch, Body()],
    regime: RegimeQ = None,
    reform: ReformQ = None,
    screen: ScreenQ = False,
    trace: TraceQ = True,
    principal: Principal = Depends(allow("decision-jobs")),
) -> dict[str, Any]:
    """Decide a big batch in the background; poll ``GET /v1/decisions/jobs/{job}``."""
    regime, reform = check_regime(regime), check_reform(reform)
    recorder = request.app.state.recorder
    record = request.app.state.settings.audit_decisions
    request_id = request.state.request_id

    def work(
        recs: list[Any], cancelled: Callable[[], bool], progress: Callable[[int], None]
    ) -> list[dict[str, Any]]:
        decisions = decide(recs, regime, reform, screen, trace, cancelled, progress)
        if record and not cancelled():  # recorded before the result can be fetched
            recorder.record(
                decision_entries(principal, recs[: len(decisions)], decisions, request_id, reform)
            )
        return decisions

    job = request.app.state.jobs.start_decisions(
        principal.name,
        body.transactions,
        work,
        {
            "regime": regime,
            "reform": reform,
            "screen": screen,
            "transactions": len(body.transactions),
        },
    )
    described: dict[str, Any] = job.describe()
    return described


@router.get("/jobs/{job_id}", response_model=Job, responses=errors(*AUTH, 404))
def job_status(
    request: Request, job_id: str, principal: Principal = Depends(allow("decision-jobs"))
) -> dict[str, Any]:
    """State and progress of a decision job."""
    described: dict[str, Any] = _job_of(request, job_id, principal).describe()
    return described


@router.get(
    "/jobs/{job_id}/result", response_model=DecisionBatch, responses=errors(*AUTH, 404, 409)
)
def job_result(
    request: Request, job_id: str, principal: Principal = Depends(allow("decision-jobs"))
) -> Any:
    """The decisions of a finished job (409 while it runs or when it failed or was cancelled)."""
    job = _job_of(request, job_id, principal)
    state = job.describe()["state"]
    if state != "done":
        raise ApiError(409, f"job is {state}, not done", "job")
    return FileResponse(job.directory / "result.json", media_type="application/json")


@router.delete("/jobs/{job_id}", response_model=Job, responses=errors(*AUTH, 404))
def cancel_job(
    request: Request, job_id: str, principal: Principal = Depends(allow("decision-jobs"))
) -> dict[str, Any]:
    """Cancel a decision job (no effect once it has finished)."""
    job = _job_of(request, job_id, principal)
    request.app.state.jobs.cancel(job)
    described: dict[str, Any] = job.describe()
    return described
