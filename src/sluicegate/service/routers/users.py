"""API keys (admin) and the record of state-changing calls (auditor, admin), read from the
audit chain's ``api-call`` records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from sluicegate.service.auth import allow
from sluicegate.service.errors import ApiError
from sluicegate.service.models import Event, User, UserCreate, UserCreated
from sluicegate.service.routers.common import AUTH, errors
from sluicegate.service.store import Principal, UserError

router = APIRouter(prefix="/v1", tags=["users"])


@router.get("/users", response_model=list[User], responses=errors(*AUTH))
def list_users(request: Request, _p: Principal = Depends(allow("users"))) -> Any:
    """Every key's name, role and state (never the key)."""
    return request.app.state.store.list_users()


@router.post(
    "/users", response_model=UserCreated, status_code=201, responses=errors(*AUTH, 409, 422)
)
def add_user(
    request: Request, body: UserCreate, _p: Principal = Depends(allow("users"))
) -> dict[str, Any]:
    """Create a key; the response is the only time it is shown."""
    try:
        key = request.app.state.store.add_user(body.name, body.role, body.consignees)
    except UserError as exc:
        raise ApiError(409 if "exists" in exc.message else 422, exc.message, exc.field) from None
    return {"name": body.name.strip(), "role": body.role, "key": key}


@router.delete("/users/{name}", status_code=204, responses=errors(*AUTH, 404))
def revoke_user(request: Request, name: str, _p: Principal = Depends(allow("users"))) -> None:
    """Revoke a key (it stops working at once)."""
    if not request.app.state.store.revoke(name):
        raise ApiError(404, f"no key named {name!r}", "name")


@router.get("/events", response_model=list[Event], responses=errors(*AUTH))
def list_events(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _p: Principal = Depends(allow("events")),
) -> Any:
    """The latest state-changing calls, newest first, from the audit chain's ``api-call``
    records: time, key name, role, method, path, status, request id and chain position."""
    rows = request.app.state.ledger.latest_records(["api-call"], limit=limit)
    return [
        {
            "seq": row["seq"],
            "time": row["recorded_at"],
            "key_name": row["event"].get("key_name") or "-",
            "role": row["event"].get("role") or "-",
            "method": row["event"].get("method", ""),
            "path": row["event"].get("path", ""),
            "status": int(row["event"].get("status", 0)),
            "request_id": row["event"].get("request_id"),
        }
        for row in rows
    ]
