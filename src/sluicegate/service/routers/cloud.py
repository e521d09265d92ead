"""Cloud (IaaS) over HTTP: KYC of customers, telemetry uploads into the training-compute
monitor, and the alerts over everything seen so far.

``POST /v1/cloud/kyc`` checks customer records as ``sluice cloud kyc`` does and keeps each
account's latest record and outcome (``service_cloud_customers``): the monitor takes beneficial
owners and headquarters from them. ``POST /v1/cloud/telemetry`` folds one file (CSV, JSON Lines
or Parquet; multipart or raw body) into the monitor's state in the project database, as
``sluice cloud monitor`` does, so batches add up and a row sent twice counts once; uploads over
``SLUICE_TELEMETRY_JOB_BYTES`` (or with ``background=true``) run as a job with progress and
cancel. ``GET /v1/cloud/alerts`` recomputes the alerts over the stored state.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import UploadFile

from sluicegate.service.audit import actor_of
from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.jobs import JOB_ID, run_telemetry
from sluicegate.service.models import (
    CUSTOMER_EXAMPLE,
    Alerts,
    CloudCustomer,
    Job,
    KycRequest,
    KycResults,
    TelemetryResult,
)
from sluicegate.service.routers.common import AUTH, errors
from sluicegate.service.store import Principal

router = APIRouter(prefix="/v1/cloud", tags=["cloud"])

FORMATS = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}
MEDIA = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
ALERT_KINDS = "^(threshold-crossed|projected-crossing|structuring|cluster-capacity)$"


# ---------------------------------------------------------------------------- KYC
@router.post("/kyc", response_model=KycResults, responses=errors(*AUTH, 413, 422))
def kyc(
    request: Request,
    body: Annotated[
        KycRequest | list[dict[str, Any]],
        Body(
            description="customer records (contract §3, `sluice cloud kyc`), as a JSON array "
            'or {"customers": [...], "as_of"?, "skip_screening"?}',
            openapi_examples={
                "list": {"summary": "a JSON array of customers", "value": [CUSTOMER_EXAMPLE]},
                "dated": {
                    "summary": "with the date of the check",
                    "value": {"customers": [CUSTOMER_EXAMPLE], "as_of": "2025-06-01"},
                },
            },
        ),
    ],
    principal: Principal = Depends(allow("cloud")),
) -> Any:
    """Check IaaS customers — identification, screening of the customer and its beneficial
    owners, headquarters tier, Red Flag 28 — one result per record in order, with reasons,
    citations and the full trace. Valid records are kept (the latest per account) for the
    monitor and the Cloud page; an invalid one answers ``{"account", "error"}``."""
    from sluicegate.cloud import CustomerError, ScreeningUnavailable, check_customer, parse_customer

    if isinstance(body, list):
        if not body:
            raise ApiError(422, "give at least one customer record", "customers")
        if len(body) > 200:
            raise ApiError(
                422,
                "at most 200 customers per call (`sluice cloud kyc` takes any number)",
                "customers",
            )
        records, as_of, skip = body, None, False
    else:
        records, as_of, skip = body.customers, body.as_of, body.skip_screening
    results: list[dict[str, Any]] = []
    kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for raw in records:
        try:
            customer = parse_customer(raw)
        except CustomerError as exc:
            results.append(exc.to_json())
            continue
        try:
            result = check_customer(customer, as_of=as_of, skip_screening=skip)
        except ScreeningUnavailable as exc:
            raise ApiError(500, str(exc)) from None
        results.append(result)
        kept.append((customer.model_dump(mode="json", exclude_none=True), result))
    if kept:
        request.app.state.store.save_kyc(kept, actor_of(principal))
    request.state.audit_extra = {
        "accounts": [r["account"] for _, r in kept],
        "outcomes": {r["account"]: r["outcome"] for _, r in kept},
    }
    return {"results": results}


@router.get("/customers", response_model=list[CloudCustomer], responses=errors(*AUTH))
def customers(request: Request, _p: Principal = Depends(allow("cloud-read"))) -> Any:
    """Each account's latest KYC check (outcome, reasons, citations, trace, who and when)."""
    return request.app.state.store.kyc_records()


# ---------------------------------------------------------------------------- telemetry
async def _upload(request: Request, fmt: str | None) -> tuple[bytes, str, str]:
    """The uploaded bytes, their format and a file name, from multipart or a raw body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    name = "upload"
    if media == "multipart/form-data":
        try:
            form = await request.form()
        except Exception as exc:
            raise ApiError(422, f"not a readable multipart body: {exc}", "file") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "send the telemetry as the multipart field 'file'", "file")
        data = await upload.read()
        name = Path(upload.filename or "upload").name or "upload"
        if fmt is None:
            lower = name.lower()
            for candidate, ext in (("parquet", ".pq"), *((k, v) for k, v in FORMATS.items())):
                if lower.endswith(ext) or (candidate == "jsonl" and lower.endswith(".ndjson")):
                    fmt = candidate
                    break
    else:
        data = await request.body()
        fmt = fmt or MEDIA.get(media)
    if fmt is None:
        raise ApiError(
            422,
            "say the format: format=csv|jsonl|parquet, a file name ending .csv, .jsonl or "
            ".parquet, or Content-Type text/csv, application/x-ndjson or "
            "application/vnd.apache.parquet",
            "format",
        )
    if not data:
        raise ApiError(422, "the upload is empty", "file")
    return data, fmt, name


def _stored_customers(request: Request) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = request.app.state.store.customer_records()
    return records


@router.post(
    "/telemetry",
    response_model=TelemetryResult,
    responses={
        **errors(*AUTH, 409, 413, 422),
        202: {"model": Job, "description": "a background job"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "telemetry rows (contract §3 `sluice cloud monitor`): a multipart "
            "field `file`, or the file as the body",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "timestamp,account,job,accelerator,count,seconds\n"
                    "2025-01-01T00:00:00Z,acct-1,run-1,nvidia-h100-sxm,1024,86400\n",
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
async def telemetry(
    request: Request,
    fmt: Annotated[
        str | None,
        Query(alias="format", pattern="^(csv|jsonl|parquet)$", description="default: guessed"),
    ] = None,
    background: Annotated[
        bool, Query(description="run as a job even when the upload is small")
    ] = False,
    projection_days: Annotated[
        int | None, Query(ge=1, le=3650, description="alert on crossings projected within N days")
    ] = None,
    window_days: Annotated[
        int | None, Query(ge=1, le=3650, description="rolling window for structuring (days)")
    ] = None,
    principal: Principal = Depends(allow("cloud")),
) -> Any:
    """Fold a telemetry file into the monitor's state and answer the alerts over all telemetry
    so far, the counts and the rejected rows (each with its row number and reason). Uploads over
    the configured size, with ``background=true``, or arriving while another batch is being
    folded in answer 202 and a job (``GET /v1/cloud/telemetry/jobs/{job}``)."""
    data, fmt, name = await _upload(request, fmt)
    settings = request.app.state.settings
    jobs = request.app.state.jobs
    uploads = settings.jobs_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    path = uploads / f"{secrets.token_hex(8)}{FORMATS[fmt]}"
    path.write_bytes(data)
    customers = _stored_customers(request)
    params = {
        "file": name,
        "format": fmt,
        "bytes": len(data),
        "projection_days": projection_days,
        "window_days": window_days,
    }
    request.state.audit_extra = {"upload": params}

    def as_job() -> JSONResponse:
        if jobs.running("telemetry") >= settings.max_running_telemetry:
            path.unlink(missing_ok=True)
            raise ApiError(
                409,
                f"{settings.max_running_telemetry} telemetry uploads are being folded in "
                "already; send this one again when one has finished (nothing was recorded)",
                "file",
                headers={"Retry-After": "10"},
            )
        job = jobs.start_telemetry(principal.name, path, customers, settings.database_url, params)
        request.state.audit_extra["job"] = job.id
        return JSONResponse(job.describe(), status_code=202)

    if background or len(data) > settings.telemetry_job_bytes:
        return as_job()
    from sluicegate.cloud import TelemetryError

    try:
        result = await run_in_threadpool(
            lambda: run_telemetry(
                path,
                customers,
                settings.database_url,
                jobs.telemetry_lock,
                projection_days,
                window_days,
                wait=False,
            )
        )
    except TelemetryError as exc:
        path.unlink(missing_ok=True)
        # the first line, without the server's paths
        message = (str(exc).splitlines() or ["unreadable"])[0]
        message = message.replace(str(path), name).replace(str(path.parent), "")
        raise ApiError(422, f"{message} (nothing was recorded)", "file") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if result is None:  # another batch is being folded in: this one waits its turn as a job
        return as_job()
    path.unlink(missing_ok=True)
    result["summary"]["file"] = name
    for reject in result["rejects"]:
        reject["file"] = name
    return result


def _job(request: Request, job_id: str) -> Any:
    job = request.app.state.jobs.get(job_id, "telemetry") if JOB_ID.match(job_id) else None
    if job is None:
        raise ApiError(404, f"no telemetry job {job_id!r}", "job")
    return job


@router.get("/telemetry/jobs/{job_id}", response_model=Job, responses=errors(*AUTH, 404))
def telemetry_job(
    request: Request, job_id: str, _p: Principal = Depends(allow("cloud"))
) -> dict[str, Any]:
    """State and progress of a telemetry upload."""
    described: dict[str, Any] = _job(request, job_id).describe()
    return described


@router.get(
    "/telemetry/jobs/{job_id}/result",
    response_model=TelemetryResult,
    responses=errors(*AUTH, 404, 409),
)
def telemetry_result(request: Request, job_id: str, _p: Principal = Depends(allow("cloud"))) -> Any:
    """What a finished upload did (409 while it runs, or when it failed or was cancelled)."""
    job = _job(request, job_id)
    state = job.describe()["state"]
    if state != "done":
        raise ApiError(409, f"job is {state}, not done", "job")
    return FileResponse(job.directory / "result.json", media_type="application/json")


@router.delete("/telemetry/jobs/{job_id}", response_model=Job, responses=errors(*AUTH, 404))
def cancel_telemetry(
    request: Request, job_id: str, _p: Principal = Depends(allow("cloud"))
) -> dict[str, Any]:
    """Cancel an upload: its process is terminated; the batch is committed in one transaction
    at the end of the run, so a batch cancelled before then leaves the state as it was."""
    job = _job(request, job_id)
    request.app.state.jobs.cancel(job)
    described: dict[str, Any] = job.describe()
    return described


# ---------------------------------------------------------------------------- alerts
@router.get("/alerts", response_model=Alerts, responses=errors(*AUTH, 422))
def alerts(
    request: Request,
    kind: Annotated[str | None, Query(pattern=ALERT_KINDS)] = None,
    account: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    projection_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    window_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    _p: Principal = Depends(allow("cloud-read")),
) -> Any:
    """The alerts over all telemetry in the monitor's state (every upload so far), with their
    evidence: runs over a training threshold, runs projected to cross it, one owner's runs
    spread over several accounts, clusters over the capacity threshold."""
    from sluicegate.cloud import account_info, compute_alerts, parse_customer
    from sluicegate.cloud.state import MonitorState

    state = MonitorState(request.app.state.settings.database_url)
    try:
        days, capacity = state.days(), state.capacity()
    finally:
        state.engine.dispose()
    customers = [parse_customer(r) for r in _stored_customers(request)]
    found = compute_alerts(
        days,
        capacity,
        account_info(customers),
        projection_days=projection_days,
        window_days=window_days,
    )
    if kind is not None:
        found = [a for a in found if a["kind"] == kind]
    if account is not None:
        found = [a for a in found if account in a.get("accounts", [])]
    return {
        "alerts": found,
        "accounts": days["account"].n_unique() if days.height else 0,
        "jobs": days.select(["account", "job"]).unique().height if days.height else 0,
    }
